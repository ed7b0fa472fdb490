"""Clone of TFLM hello_world's network: Dense(16, relu) -> Dense(16, relu) -> Dense(1), as an MLPRegressor.

TFLM trains it with Keras' Adam for 500 epochs. On 600 rows scikit-learn's L-BFGS solver
converges to a better fit in a few hundred iterations (scikit-learn's docs recommend it for small
data sets); everything else is scikit-learn's default, and the seed is fixed so that the header
is reproducible. No input scaling: x in [0, 2π] is already small, as in TFLM.
"""

from sklearn.neural_network import MLPRegressor


def train(X, y):
    model = MLPRegressor(hidden_layer_sizes=(16, 16), activation="relu", solver="lbfgs",
                         max_iter=5000, random_state=0)
    return model.fit(X, y)

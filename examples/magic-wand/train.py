"""The magic_wand clone: raw 128 x 3 accelerometer windows -> 84 window features -> a linear SVM, all on the Uno.

Chosen on TensorFlow's validation people only (benchmarks/magic_wand/README.md): the 7 core statistics of each
axis in each quarter of the window (84 features), scaled, and a LinearSVC with strong regularisation (C=0.01).
After the scaler folds into the weights the model is one dot product per class, so the header fuses it with the
feature stage: each feature goes into the 4 class sums as it is computed, and no feature vector sits on the stack.
"""

from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from microml_build.features import CORE_STATS, WindowFeatures


def train(X, y):
    # X: one row per window, 128 samples x 3 axes (milli-g) interleaved: x, y, z of sample 0, then of sample 1, ...
    features = WindowFeatures(length=128, channels=3, stats=list(CORE_STATS), segments=4, channel_names=["x", "y", "z"])
    model = make_pipeline(features, StandardScaler(), LinearSVC(C=0.01, max_iter=20000, random_state=0))
    return model.fit(X, y)

"""RBF support-vector regression of the noisy sine.

C, gamma and epsilon were picked by 5-fold cross-validation on the 600 training rows
(`python tune.py`; not on the evaluation grid): epsilon 0.15, a bit above the noise's 0.1, keeps
only the samples outside the tube as support vectors (84 of 600), and each one costs 8 bytes of
flash and one expf() per prediction.
"""

from sklearn.svm import SVR


def train(X, y):
    return SVR(kernel="rbf", C=3.0, gamma=0.25, epsilon=0.15).fit(X, y)

"""Training for the breast-cancer example: an RBF SVM on the raw features.

MicroML calls train(X, y) with the training split (X: float ndarray, y: the label strings)
and converts whatever fitted estimator comes back.
"""

from sklearn.svm import SVC


def train(X, y):
    return SVC(kernel="rbf", C=1.0, gamma="scale").fit(X, y)

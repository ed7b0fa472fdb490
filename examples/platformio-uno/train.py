"""Trains the iris classifier: MicroML calls train(X, y) with the CSV's feature columns and labels."""

from sklearn.svm import SVC


def train(X, y):
    return SVC(kernel="rbf", C=10.0, gamma="scale").fit(X, y)

"""Training for the breast-cancer example: an RBF SVM on standardised features.

MicroML calls train(X, y) with the training split (X: float ndarray, y: the label strings)
and converts whatever fitted estimator comes back. The StandardScaler is folded into the
support vectors (a per-feature weight in the distance), so the firmware passes the raw
measurements and the scaling costs no RAM.
"""

from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def train(X, y):
    model = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, gamma="scale"))
    return model.fit(X, y)

"""Linear heads: LinearClassifier and LinearRegressor (one weight vector per output), and KernelSvr."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.ir import argmax_near_tie, sign_near_tie


def linear_terms(X: np.ndarray, weights: np.ndarray, intercept: np.ndarray,
                 feature_index: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """X @ weights.T + intercept, as scikit-learn computes it, and the magnitude sum |w_j x_j| + |b| per output.

    `feature_index` (a Pipeline's feature selection, folded) names the column of X each weight column reads.
    """
    if feature_index is not None:
        X = X[:, list(feature_index)]
    values = X @ weights.T + intercept
    scales = np.abs(X) @ np.abs(weights).T + np.abs(intercept)
    return values, scales


@dataclass(frozen=True, eq=False)
class LinearClassifier:
    """One weight vector per decision: decision_k(x) = <weights[k], x> + intercept[k].

    Two classes have one decision (scikit-learn's coef_ has one row): above zero means
    class 1, zero itself class 0 (LinearClassifierMixin.predict tests `scores > 0`).
    More classes have one decision per class and predict the largest; a tie goes to the
    lowest index (numpy's argmax).
    `proba` names the probability formula the C offers as `<name>_predict_proba`:
    "logistic" is LogisticRegression's (sigmoid of the one decision for two classes,
    softmax of the decisions otherwise); "logistic_ovr" is OneVsRestClassifier over
    LogisticRegression's (each decision's sigmoid, divided by their sum); "" means none.
    """

    weights: np.ndarray           # (n_decisions, n_features)
    intercept: np.ndarray         # (n_decisions,)
    proba: str = ""               # "" | "logistic" | "logistic_ovr"
    feature_index: tuple[int, ...] | None = None   # input column of each weight column, from a folded selection

    task = "classifier"

    @property
    def n_outputs(self) -> int:
        return len(self.weights)

    @property
    def n_classes(self) -> int:
        return 2 if self.n_outputs == 1 else self.n_outputs

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return linear_terms(X, self.weights, self.intercept, self.feature_index)

    def predict_index(self, values: np.ndarray) -> np.ndarray:
        if values.shape[1] == 1:
            return (values[:, 0] > 0).astype(int)
        return values.argmax(1)

    def near_tie(self, values: np.ndarray, scales: np.ndarray) -> np.ndarray:
        if values.shape[1] == 1:
            return sign_near_tie(values, scales)
        return argmax_near_tie(values, scales)

    def probabilities(self, values: np.ndarray) -> np.ndarray:
        """Float64 reference of `<name>_predict_proba`: (n_rows, n_classes), from the decision values."""
        if self.proba not in ("logistic", "logistic_ovr"):
            raise ValueError(f"no probabilities for proba={self.proba!r}")
        if values.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-values[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        if self.proba == "logistic_ovr":
            s = 1.0 / (1.0 + np.exp(-values))
            return s / s.sum(1, keepdims=True)
        e = np.exp(values - values.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


@dataclass(frozen=True, eq=False)
class LinearRegressor:
    """One weight vector per output: y_k(x) = <weights[k], x> + intercept[k]."""

    weights: np.ndarray           # (n_outputs, n_features)
    intercept: np.ndarray         # (n_outputs,)
    feature_index: tuple[int, ...] | None = None   # input column of each weight column, from a folded selection

    task = "regressor"

    @property
    def n_outputs(self) -> int:
        return len(self.weights)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return linear_terms(X, self.weights, self.intercept, self.feature_index)

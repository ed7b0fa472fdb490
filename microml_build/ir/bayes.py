"""Naive Bayes heads: GaussianNb (GaussianNB) and DiscreteNb (BernoulliNB, MultinomialNB); predict() is an argmax."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import argmax_near_tie

# Largest magnitude the float32 sums may reach: float32 overflows at 2^128, and 2^8 of headroom covers the
# accumulation of a few hundred terms of that size.
FLOAT32_SAFE = 2.0 ** 120


class _ArgmaxOverClasses:
    """predict() is the class with the largest joint log-likelihood; a tie goes to the lowest index (np.argmax)."""

    task = "classifier"

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    def predict_index(self, values: np.ndarray) -> np.ndarray:
        return np.argmax(values, axis=1)

    def near_tie(self, values: np.ndarray, scales: np.ndarray) -> np.ndarray:
        return argmax_near_tie(values, scales)


@dataclass(frozen=True, eq=False)
class GaussianNb(_ArgmaxOverClasses):
    """Gaussian naive Bayes, scikit-learn's joint log-likelihood per class c:

        jll[c] = log prior[c] - 0.5 * sum_j log(2 pi var[c, j])  -  0.5 * sum_j (x[j] - theta[c, j])^2 / var[c, j]

    The first two terms do not depend on x: the C code stores them summed, as `log_constant`.
    """

    theta: np.ndarray             # (n_classes, n_features) per-class feature means
    var: np.ndarray               # (n_classes, n_features) per-class feature variances, var_smoothing included
    log_prior: np.ndarray         # (n_classes,)

    @property
    def n_classes(self) -> int:
        return len(self.log_prior)

    @property
    def log_constant(self) -> np.ndarray:
        """log prior - 0.5 * sum log(2 pi var), per class, in float64 (rounded to float32 once, in the table)."""
        return self.log_prior - 0.5 * np.log(2.0 * np.pi * self.var).sum(axis=1)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = X[:, None, :] - self.theta[None, :, :]
        values = self.log_constant - 0.5 * (d * d / self.var).sum(axis=2)
        # The C code subtracts a float32 theta, off by up to one rounding of |theta|; that error, doubled by
        # the square, weighs 2 |d| |theta| / var. It dominates when x sits close to a large theta with a tiny
        # variance, so it is part of the magnitude that bounds the rounding.
        ad = np.abs(d)
        scales = np.abs(self.log_constant) + 0.5 * ((ad * ad + 2.0 * ad * np.abs(self.theta)) / self.var).sum(axis=2)
        peak = (np.abs(X)[:, None, :] + np.abs(self.theta)) ** 2
        if scales.max(initial=0.0) > FLOAT32_SAFE or peak.max(initial=0.0) > FLOAT32_SAFE:
            row = int(np.argmax(np.maximum(scales.max(axis=1), peak.max(axis=(1, 2)))))
            raise MicroMLError(
                f"GaussianNB: on row {row} the squared distances (x - theta)^2 / var reach "
                f"{max(scales[row].max(), peak[row].max()):.3g}, beyond what float32 (max 3.4e38) can sum: "
                "the C code would overflow and its class could not be trusted",
                fix="scale the features (e.g. StandardScaler in a Pipeline) or increase var_smoothing, "
                    "which raises the smallest variances")
        return values, scales


@dataclass(frozen=True, eq=False)
class DiscreteNb(_ArgmaxOverClasses):
    """Bernoulli or multinomial naive Bayes: a linear score per class.

        jll[c] = sum_j weights[c, j] * b(x[j]) + offset[c]

    multinomial: weights = feature_log_prob_, offset = class_log_prior_, b(x) = x.
    bernoulli:   weights = log p - log(1 - p) (feature_log_prob_ minus its complement),
                 offset = class_log_prior_ + sum_j log(1 - p), as scikit-learn rearranges it;
                 b(x) = 1 if x > binarize else 0, or b(x) = x when binarize is None.
    """

    kind: str                     # "bernoulli" | "multinomial"
    weights: np.ndarray           # (n_classes, n_features)
    offset: np.ndarray            # (n_classes,)
    binarize: float | None = None  # bernoulli only: the threshold, or None for inputs already 0/1

    @property
    def n_classes(self) -> int:
        return len(self.offset)

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """What multiplies the weights: x, or x binarized as sklearn.preprocessing.binarize (x > threshold)."""
        if self.binarize is None:
            return X
        return (X > self.binarize).astype(np.float64)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        B = self.inputs(X)
        values = B @ self.weights.T + self.offset
        scales = np.abs(B) @ np.abs(self.weights).T + np.abs(self.offset)
        return values, scales

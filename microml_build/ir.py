"""The intermediate representation between scikit-learn and C.

A `Model` is plain data: the feature count, the class labels, optional input
transforms and one inference head. Lowerings (`microml_build.lower`) build it from
fitted estimators; emitters (`microml_build.emit`) turn it into C. Nothing here
imports scikit-learn, so emitters and their tests work on hand-built IR.

Every op also has a float64 NumPy reference (`decisions`), used by verification to
tell true float32 near-ties (which may flip in C) from real mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

Label = Union[int, float, str, bool]


@dataclass(frozen=True, eq=False)
class KernelSvm:
    """One-vs-one kernel SVM (SVC, NuSVC), libsvm's layout.

    Support vectors are grouped by class (`n_support[c]` consecutive rows per class).
    For the pair of classes (i, j), i < j, the decision is
        sum over SVs s of class i: coef[j-1, s] * K(x, s)
      + sum over SVs s of class j: coef[i, s]   * K(x, s)  + intercept[pair]
    and a positive value votes for class i (libsvm's convention). With two classes the
    sign is flipped to scikit-learn's public one: positive means class 1.
    """

    kernel: str                   # "rbf" | "poly" | "sigmoid"
    gamma: float
    coef0: float
    degree: int
    support_vectors: np.ndarray   # (n_sv, n_features)
    coef: np.ndarray              # (n_classes - 1, n_sv)
    intercept: np.ndarray         # (n_pairs,)
    n_support: tuple[int, ...]    # SVs per class

    @property
    def n_classes(self) -> int:
        return len(self.n_support)

    def kernel_values(self, X: np.ndarray) -> np.ndarray:
        sv = self.support_vectors
        if self.kernel == "rbf":
            sq = ((X[:, None, :] - sv[None, :, :]) ** 2).sum(-1)
            return np.exp(-self.gamma * sq)
        dot = X @ sv.T
        if self.kernel == "poly":
            return (self.gamma * dot + self.coef0) ** self.degree
        if self.kernel == "sigmoid":
            return np.tanh(self.gamma * dot + self.coef0)
        raise ValueError(self.kernel)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-pair decision values and the magnitude of the terms summed into each."""
        K = self.kernel_values(X)
        starts = np.concatenate([[0], np.cumsum(self.n_support)])
        values, scales = [], []
        for i, j in pairs(self.n_classes):
            si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
            terms = np.concatenate([K[:, si] * self.coef[j - 1, si], K[:, sj] * self.coef[i, sj]], axis=1)
            p = len(values)
            values.append(terms.sum(1) + self.intercept[p])
            scales.append(np.abs(terms).sum(1) + abs(self.intercept[p]))
        return np.stack(values, 1), np.stack(scales, 1)


@dataclass(frozen=True, eq=False)
class LinearOvo:
    """One weight vector per class pair: the linear-kernel SVM with its support vectors summed away.

    Same vote and sign convention as `KernelSvm`.
    """

    weights: np.ndarray           # (n_pairs, n_features)
    intercept: np.ndarray         # (n_pairs,)
    n_classes: int

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = X @ self.weights.T + self.intercept
        scales = np.abs(X) @ np.abs(self.weights).T + np.abs(self.intercept)
        return values, scales


Head = Union[KernelSvm, LinearOvo]


@dataclass(frozen=True, eq=False)
class Model:
    """What the header computes, independent of scikit-learn and of C."""

    n_features: int
    labels: tuple[Label, ...]           # classes_, in predict()'s index order
    head: Head
    estimator: str                      # short description, e.g. "SVC(kernel='rbf', C=1.0)"
    summary: str                        # e.g. "SVC(rbf) 57 SV x 30 features"
    params: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.labels)


def pairs(n_classes: int) -> list[tuple[int, int]]:
    """Class pairs (i, j), i < j, in libsvm's order."""
    return [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]


def ovo_predict(values: np.ndarray, n_classes: int) -> np.ndarray:
    """libsvm's vote: positive votes for the first class of the pair; ties go to the lowest index.

    Two classes use scikit-learn's public sign instead: zero or positive means class 1.
    """
    if n_classes == 2:
        return (values[:, 0] >= 0).astype(int)  # public sign: libsvm's "dec <= 0 -> class 1"
    votes = np.zeros((len(values), n_classes), dtype=int)
    for p, (i, j) in enumerate(pairs(n_classes)):
        votes[:, i] += values[:, p] > 0
        votes[:, j] += values[:, p] <= 0
    return votes.argmax(1)

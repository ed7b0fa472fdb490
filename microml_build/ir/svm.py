"""SVM heads: KernelSvm (SVC/NuSVC with rbf, poly, sigmoid), LinearOvo (linear kernel, summed), KernelSvr (SVR,
NuSVR); the shared Kernel, and PackedVectors (its support vectors stored as integers, `passes/compress.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from microml_build.ir import pairs, sign_near_tie


class _OneVsOne:
    """predict() from one-vs-one decision values, shared by both SVM heads."""

    task = "classifier"

    @property
    def n_outputs(self) -> int:
        return 1 if self.n_classes == 2 else self.n_classes * (self.n_classes - 1) // 2

    def predict_index(self, values: np.ndarray) -> np.ndarray:
        return ovo_predict(values, self.n_classes)

    def near_tie(self, values: np.ndarray, scales: np.ndarray) -> np.ndarray:
        return sign_near_tie(values, scales)


@dataclass(frozen=True, eq=False)
class PackedVectors:
    """Support vectors stored as int16 or int8 codes with a per-feature affine scale (`passes/compress.py`):

        support_vectors[s, j] = offset[j] + scale[j] * codes[s, j]

    `offset` and `scale` are float32 values, so this decoding is what the C's tables hold, exactly.
    """

    codes: np.ndarray             # (n_sv, n_features) int, |code| <= 32767 (int16_t) or 127 (int8_t)
    offset: np.ndarray            # (n_features,) float64 holding float32 values
    scale: np.ndarray             # (n_features,) float64 holding float32 values, > 0
    ctype: str                    # "int16_t" | "int8_t"

    def decoded(self) -> np.ndarray:
        return self.offset + self.scale * self.codes


@dataclass(frozen=True, eq=False)
class Kernel:
    """A libsvm kernel over a table of support vectors; shared by KernelSvm and the SVR head (ir/linear.py)."""

    kernel: str                   # "rbf" | "poly" | "sigmoid"
    gamma: float
    coef0: float
    degree: int
    support_vectors: np.ndarray   # (n_sv, n_features)
    # Set by folding a Pipeline's preprocessing (lower/preprocessing.py), None otherwise:
    # the input column each support vector column is compared with (a feature selection) ...
    feature_index: tuple[int, ...] | None = field(default=None, kw_only=True)
    # ... and, rbf only, a weight per feature on the squared distance (a scaler's scale squared).
    feature_weights: np.ndarray | None = field(default=None, kw_only=True)
    # Set by the compression pass: `support_vectors` is then `packed.decoded()`, which is what the C computes with.
    packed: PackedVectors | None = field(default=None, kw_only=True)
    # poly and sigmoid, integer C only: a scaler folded into the dot product leaves a constant per support vector,
    # <(x - o) s, v> = <x, s v> - <o, s v> (passes/fold.py, integer mode).
    dot_offset: np.ndarray | None = field(default=None, kw_only=True)

    def kernel_values(self, X: np.ndarray) -> np.ndarray:
        sv = self.support_vectors
        if self.feature_index is not None:
            X = X[:, list(self.feature_index)]
        if self.kernel == "rbf":
            sq = (X[:, None, :] - sv[None, :, :]) ** 2
            if self.feature_weights is not None:
                sq = sq * self.feature_weights
            return np.exp(-self.gamma * sq.sum(-1))
        dot = X @ sv.T
        if self.dot_offset is not None:
            dot = dot + self.dot_offset
        if self.kernel == "poly":
            return (self.gamma * dot + self.coef0) ** self.degree
        if self.kernel == "sigmoid":
            return np.tanh(self.gamma * dot + self.coef0)
        raise ValueError(self.kernel)


@dataclass(frozen=True, eq=False)
class KernelSvm(Kernel, _OneVsOne):
    """One-vs-one kernel SVM in libsvm's layout.

    Support vectors are grouped by class (`n_support[c]` consecutive rows per class).
    For the pair of classes (i, j), i < j, the decision is
        sum over SVs s of class i: coef[j-1, s] * K(x, s)
      + sum over SVs s of class j: coef[i, s]   * K(x, s)  + intercept[pair]
    and a positive value votes for class i (libsvm's convention). With two classes the
    sign is scikit-learn's public one instead: zero or above means class 1.
    """

    coef: np.ndarray              # (n_classes - 1, n_sv)
    intercept: np.ndarray         # (n_pairs,)
    n_support: tuple[int, ...]    # SVs per class

    @property
    def n_classes(self) -> int:
        return len(self.n_support)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
class LinearOvo(_OneVsOne):
    """One weight vector per class pair: the linear-kernel SVM with its support vectors summed away.

    Same vote and sign convention as `KernelSvm`.
    """

    weights: np.ndarray           # (n_pairs, n_features)
    intercept: np.ndarray         # (n_pairs,)
    n_classes: int
    feature_index: tuple[int, ...] | None = None   # input column of each weight column, from a folded selection

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.feature_index is not None:
            X = X[:, list(self.feature_index)]
        values = X @ self.weights.T + self.intercept
        scales = np.abs(X) @ np.abs(self.weights).T + np.abs(self.intercept)
        return values, scales


@dataclass(frozen=True, eq=False)
class KernelSvr(Kernel):
    """Support-vector regression with an rbf, poly or sigmoid kernel (SVR, NuSVR).

    y(x) = sum over support vectors s of coef[s] * K(x, s) + intercept, one output.
    """

    coef: np.ndarray              # (n_sv,) dual coefficients
    intercept: float

    task = "regressor"
    n_outputs = 1

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        terms = self.kernel_values(X) * self.coef
        values = terms.sum(1) + self.intercept
        scales = np.abs(terms).sum(1) + abs(self.intercept)
        return values[:, None], scales[:, None]


def ovo_predict(values: np.ndarray, n_classes: int) -> np.ndarray:
    """libsvm's vote: positive votes for the first class of the pair; ties go to the lowest index.

    Two classes use scikit-learn's public sign instead: zero or above means class 1.
    """
    if n_classes == 2:
        return (values[:, 0] >= 0).astype(int)
    votes = np.zeros((len(values), n_classes), dtype=int)
    for p, (i, j) in enumerate(pairs(n_classes)):
        votes[:, i] += values[:, p] > 0
        votes[:, j] += values[:, p] <= 0
    return votes.argmax(1)

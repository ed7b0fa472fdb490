"""Tree heads: ForestClassifier/ForestRegressor (trees averaged), BoostedClassifier/BoostedRegressor (trees summed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.ir import argmax_near_tie, sign_near_tie


@dataclass(frozen=True, eq=False)
class Trees:
    """Binary decision trees as flat arrays, split nodes and leaves kept apart.

    Tree t owns the split nodes tree_start[t] .. tree_start[t+1]-1, its root first, in
    pre-order, and the leaf rows tree_start[t]+t .. tree_start[t+1]+t (a binary tree has one
    more leaf than split nodes; a tree that is a single leaf is stored as one split node whose
    two children are equal leaves, so every tree has a root split). A split node sends x to
    `left` when x[feature] <= threshold, else to `right`; a child >= 0 is a split node, a child
    c < 0 is the leaf row -1 - c. `threshold` is scikit-learn's float64 value: comparing a
    float32 feature with it is what scikit-learn does, whatever the C stores.

    NaN: scikit-learn's `x <= threshold` is false for NaN, which goes right, unless the model
    accepts missing values (`nan_aware`), where NaN follows `missing_left`.
    """

    feature: np.ndarray        # (n_splits,) int
    threshold: np.ndarray      # (n_splits,) float64, may be +inf (HistGradientBoosting's "split on NaN")
    missing_left: np.ndarray   # (n_splits,) bool
    left: np.ndarray           # (n_splits,) int
    right: np.ndarray          # (n_splits,) int
    tree_start: np.ndarray     # (n_trees + 1,) int
    leaf_value: np.ndarray     # (n_leaves, width) float64: what each leaf contributes
    nan_aware: bool

    @property
    def n_trees(self) -> int:
        return len(self.tree_start) - 1

    @property
    def n_splits(self) -> int:
        return len(self.feature)

    @property
    def n_leaves(self) -> int:
        return len(self.leaf_value)

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """(n_rows, n_trees) leaf row that each row of X reaches in each tree, as scikit-learn walks it."""
        return walk(self, np.asarray(X, dtype=np.float64), np.isnan)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n_rows, n_trees, width) leaf values reached by each row in each tree."""
        return self.leaf_value[self.leaves(X)]


class _ArgmaxOrSign:
    task = "classifier"

    def near_tie(self, values: np.ndarray, scales: np.ndarray) -> np.ndarray:
        return argmax_near_tie(values, scales) if values.shape[1] > 1 else sign_near_tie(values, scales)


@dataclass(frozen=True, eq=False)
class ForestClassifier(_ArgmaxOrSign):
    """DecisionTree/RandomForest/ExtraTrees classifiers: the mean of the trees' class probabilities.

    Each leaf holds its tree's predict_proba row; predict() is the argmax of the mean (the
    first class on ties), exactly as scikit-learn's forests do: they average, they do not vote.
    The decision values are these probabilities (predict_proba), and so are their scales (the
    terms are >= 0). A forest's C predict() sums the probabilities as integers
    (`emit.trees.proba_one`), fine enough that its argmax can only differ from this one where
    `near_tie` says so with these scales.
    """

    trees: Trees               # leaf_value (n_leaves, n_classes)

    @property
    def n_outputs(self) -> int:
        return self.trees.leaf_value.shape[1]

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Summed tree by tree, then divided, in scikit-learn's order. Probabilities are >= 0, so the
        # magnitude of the terms is the value itself.
        total = np.zeros((len(X), self.n_outputs))
        for contribution in np.moveaxis(self.trees.contributions(X), 1, 0):
            total += contribution
        values = total / self.trees.n_trees
        return values, values.copy()

    def predict_index(self, values: np.ndarray) -> np.ndarray:
        return np.argmax(values, axis=1)


@dataclass(frozen=True, eq=False)
class ForestRegressor:
    """DecisionTree/RandomForest/ExtraTrees regressors: the mean of the trees' leaf values, per output."""

    trees: Trees               # leaf_value (n_leaves, n_outputs)
    task = "regressor"

    @property
    def n_outputs(self) -> int:
        return self.trees.leaf_value.shape[1]

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros((len(X), self.n_outputs))
        magnitude = np.zeros((len(X), self.n_outputs))
        for contribution in np.moveaxis(self.trees.contributions(X), 1, 0):
            total += contribution
            magnitude += np.abs(contribution)
        return total / self.trees.n_trees, magnitude / self.trees.n_trees


def _boosted_sum(trees: Trees, init: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """init + the trees' leaf values, tree t adding to output t % K (trees are stored stage by stage)."""
    K = len(init)
    raw = np.zeros((len(X), K)) + init
    magnitude = np.zeros((len(X), K)) + np.abs(init)
    contributions = trees.contributions(X)[:, :, 0]
    for t in range(trees.n_trees):
        raw[:, t % K] += contributions[:, t]
        magnitude[:, t % K] += np.abs(contributions[:, t])
    return raw, magnitude


@dataclass(frozen=True, eq=False)
class BoostedClassifier(_ArgmaxOrSign):
    """GradientBoosting/HistGradientBoosting classifiers: raw scores init + sum of the trees' leaf values.

    One score for two classes (class 1 when it is positive, or also at zero when
    `zero_is_positive`), one per class otherwise (argmax, first class on ties). The decision
    values are the raw scores, scikit-learn's decision_function.
    """

    trees: Trees               # leaf_value (n_leaves, 1): learning rate already applied
    init: np.ndarray           # (K,) raw score before any tree
    zero_is_positive: bool     # GradientBoosting: score >= 0 is class 1; HistGradientBoosting: > 0
    proba_scale: int = 1       # predict_proba = logistic(scale x score) for two classes (2: exponential loss),
                               # softmax of the scores for more

    @property
    def n_outputs(self) -> int:
        return len(self.init)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _boosted_sum(self.trees, self.init, X)

    def predict_index(self, values: np.ndarray) -> np.ndarray:
        if values.shape[1] == 1:
            return (values[:, 0] >= 0 if self.zero_is_positive else values[:, 0] > 0).astype(int)
        return np.argmax(values, axis=1)


@dataclass(frozen=True, eq=False)
class BoostedRegressor:
    """GradientBoosting/HistGradientBoosting regressors: init + sum of the trees, then the inverse link.

    `link` "identity" predicts the raw score, "log" (HistGradientBoosting's poisson and gamma
    losses) predicts exp(raw score).
    """

    trees: Trees               # leaf_value (n_leaves, 1): learning rate already applied
    init: np.ndarray           # (1,)
    link: str                  # "identity" | "log"
    task = "regressor"
    n_outputs = 1

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw, magnitude = _boosted_sum(self.trees, self.init, X)
        if self.link == "log":
            # exp turns an absolute error e in the raw score into a relative error e in the value,
            # plus expf's own few ulps.
            value = np.exp(raw)
            return value, value * (magnitude + 1.0)
        return raw, magnitude


def walk(trees, X: np.ndarray, is_missing) -> np.ndarray:
    """(n_rows, n_trees) leaf row each row of X reaches, for any node table with the fields of `Trees`.

    Split nodes are >= 0, leaves are encoded as -1 - leaf row; `is_missing(values)` marks the values
    that follow each node's missing-value direction (NaN for floats, a sentinel for quantized input).
    """
    node = np.broadcast_to(trees.tree_start[:-1], (len(X), trees.n_trees)).copy()
    while True:
        active = node >= 0
        if not active.any():
            return -1 - node
        r, t = np.nonzero(active)
        at = node[r, t]
        value = X[r, trees.feature[at]]
        go_left = value <= trees.threshold[at]
        if trees.nan_aware:
            go_left = np.where(is_missing(value), trees.missing_left[at], go_left)
        node[r, t] = np.where(go_left, trees.left[at], trees.right[at])


def threshold_float32(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 threshold.

    scikit-learn compares a float32 feature x with a float64 threshold t. For the float32 t32
    that is the largest float32 <= t: x <= t implies x <= t32 (t32 is the largest float32 not
    above t, and x is a float32 not above t), and x <= t32 <= t gives the converse. Rounding to
    nearest instead would send an x lying between t and a t32 above it the wrong way.
    """
    threshold = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore"):
        t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def threshold_bits(threshold: np.ndarray) -> np.ndarray:
    """The bits of each float32 threshold (`threshold_float32`) as the C stores them (int64 in 0 .. 2^32 - 1).

    -0.0 becomes +0.0: they compare equal, and the C's integer rule (`goes_left`) needs the zero
    threshold without its sign bit so that both zeros go left of it.
    """
    t32 = threshold_float32(threshold)
    t32[t32 == 0] = 0.0
    return t32.view(np.uint32).astype(np.int64)


def goes_left(x: np.ndarray, bits: np.ndarray, nan_left: np.ndarray | bool = False) -> np.ndarray:
    """The C's split test in NumPy: float32 x against threshold bits, as integers; NaN goes left where nan_left.

    For x without the sign bit, x's bits as a signed integer <= the threshold's as a signed integer;
    with the sign bit, x's bits as an unsigned integer >= the threshold's. This equals x <= t for
    every non-NaN float32 x and threshold t other than -0.0 (stored as +0.0).
    """
    x_bits = np.atleast_1d(np.asarray(x, dtype=np.float32)).view(np.uint32).astype(np.int64)
    bits = np.asarray(bits, dtype=np.int64)
    signed = np.where(bits >= 2 ** 31, bits - 2 ** 32, bits)
    x_signed = np.where(x_bits >= 2 ** 31, x_bits - 2 ** 32, x_bits)
    left = np.where(x_bits >= 2 ** 31, x_bits >= bits, x_signed <= signed)
    return np.where((x_bits & 0x7FFFFFFF) > 0x7F800000, nan_left, left)

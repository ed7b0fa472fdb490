"""Forms: how the C holds a head when more than one way exists. The planner (`microml_build.plan`) builds them
and picks one; the emitters print the one they are given.

  KernelForm      a float kernel SVM with the exp helper its RBF kernel calls
  TreeForm        float trees as node tables walked by a loop, or written out as code (`Layout`)
  StepForm        trees that all test one feature, as a sorted table of breaks (`Steps`)
  FixedForm       a `Quantized` model, with `FixedTreeForm` for integer trees (tables or code, sum widths)
  TransformPlan   the buffers a Pipeline's unfolded transforms write

Forms carry C integer types (`uint8_t` ...): choosing widths is part of planning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.cnames import BYTES, int_type
from microml_build.ir.trees import threshold_bits

# ---------------------------------------------------------------------------------------------
# Kernel SVMs


@dataclass(frozen=True, eq=False)
class KernelForm:
    """A float KernelSvm or KernelSvr and its kernel's exp: "kernel_exp" (integer steps, gamma folded into one
    constant: about half the cycles), "exp_neg" (float polynomial: about a third of the flash), "" (poly, sigmoid)."""

    head: object
    exp: str


@dataclass(frozen=True)
class LinearForm:
    """A float LinearClassifier, LinearRegressor or LinearOvo (a linear-kernel SVM) written out (`target.optimize:
    speed`): each output one expression whose weights are literals, summed in the order of the table form's loop,
    the intercept last. On AVR the
    compiler loads them as immediates (`ldi`, 1 cycle a byte) where a flash table needs `lpm` (3) and a loop,
    for ~40 B more flash a weight."""

    head: object


# ---------------------------------------------------------------------------------------------
# Float trees


@dataclass(frozen=True, eq=False)
class Layout:
    """The trees as the C holds them: node tables (or code) and the leaf table."""

    tree_start: np.ndarray     # (n_trees + 1,) first split node of each tree, then the total
    feature: np.ndarray        # (n_splits,) 4 x feature + (NaN goes left)
    threshold: np.ndarray      # (n_splits,) bits of the float32 thresholds (`threshold_bits`)
    threshold32: np.ndarray    # (n_splits,) the float32 thresholds (for comments)
    left: np.ndarray           # (n_splits,) child numbered within the tree
    right: np.ndarray
    leaf_value: np.ndarray     # (n_rows, width) float32
    leaf_row: np.ndarray       # (n_leaves,) row of leaf_value for each leaf of the IR
    shared: bool               # leaf rows shared by all trees (else one row per leaf, tree by tree)
    code: bool                 # trees written out as if/else code instead of node tables
    nan_aware: bool
    row_bytes: int             # flash per leaf row that predict() reads
    halves: bool = False       # node tables: thresholds compared in 16-bit halves (faster walk, ~60 B more code)

    @property
    def n_trees(self) -> int:
        return len(self.tree_start) - 1

    @property
    def start_t(self) -> str:
        return int_type(int(self.tree_start[-1]))

    @property
    def feature_t(self) -> str:
        return int_type(int(self.feature.max(initial=0)))

    @property
    def one_feature(self) -> bool:
        """Every split node tests the same feature with the same NaN direction: no feature table."""
        return len(np.unique(self.feature)) == 1

    @property
    def child_t(self) -> str:
        return int_type(int(max(self.left.max(), self.right.max())))

    @property
    def leaf_t(self) -> str:
        return int_type(len(self.leaf_value) - 1)

    @property
    def tree_t(self) -> str:
        return int_type(self.n_trees)

    @property
    def fits(self) -> bool:
        """Node tables need indices that MICROML_READ_U8/U16 can read."""
        return all(t in ("uint8_t", "uint16_t") for t in (self.start_t, self.feature_t, self.child_t))

    @property
    def table_bytes(self) -> int:
        """Bytes of flash tables: the leaf values, plus the node tables unless the trees are code."""
        size = self.leaf_value.size * 4
        if not self.code:
            size += len(self.feature) * (4 + 2 * BYTES[self.child_t])
            size += 0 if self.one_feature else len(self.feature) * BYTES[self.feature_t]
            size += len(self.tree_start) * BYTES[self.start_t] if self.n_trees > 1 else 0
        return size


@dataclass(frozen=True, eq=False)
class TreeForm:
    """A float tree head (Forest*/Boosted*) with its trees laid out.

    A single tree classifier's predict() reads `row_key`, the class of each leaf row; a forest
    classifier with `proba_one` sums `row_key`, its leaves' probabilities as integers at that scale
    (see emit/trees.py INTEGER_DOC); without it, predict() takes the argmax of the float sums.
    """

    head: object
    layout: Layout
    proba_one: int | None = None
    row_key: np.ndarray | None = None      # (n_leaves, k) int per IR leaf, the layout's rows keyed on it


# ---------------------------------------------------------------------------------------------
# Step functions


@dataclass(frozen=True, eq=False)
class ClassSteps:
    """A classifier's predict(): only the breaks where the class changes, and the class between each two.

    Far fewer breaks than the decision values have (those change at every threshold), so
    predict() searches its own small table and reads a class byte.
    """

    breaks: np.ndarray         # (m,) float32, a subset of Steps.breaks
    classes: np.ndarray        # (m + 1,) class index of each interval
    nan_class: int

    @property
    def class_t(self) -> str:
        return int_type(int(max(self.classes.max(), self.nan_class)))


@dataclass(frozen=True, eq=False)
class Steps:
    """A model of one feature as the C holds it: ascending breaks and one row of outputs per interval.

    Row i holds the prediction for breaks[i-1] < x <= breaks[i] (row 0 below the first break,
    row k above the last of the k breaks); NaN takes row `nan_row`, which is row k + 1 when no
    interval predicts what the model predicts for a missing value.
    """

    feature: int
    breaks: np.ndarray         # (k,) float32, ascending, distinct, +inf excluded
    values: np.ndarray         # (k + 1 or k + 2, width) float32: predictions, or a classifier's decision values
    nan_row: int
    n_trees: int
    classes: ClassSteps | None = None   # classifiers: predict()'s own, coarser table

    @property
    def bits(self) -> np.ndarray:
        """The breaks as the C stores them: float32 bits, compared as integers (see emit/trees.py BITS_DOC)."""
        return threshold_bits(self.breaks.astype(np.float64))

    @property
    def index_t(self) -> str:
        return int_type(len(self.values) - 1)

    @property
    def table_bytes(self) -> int:
        size = 4 * len(self.breaks) + 4 * self.values.size
        if self.classes is not None:
            size += 4 * len(self.classes.breaks) + len(self.classes.classes) * BYTES[self.classes.class_t]
        return size


@dataclass(frozen=True, eq=False)
class StepForm:
    """A tree head whose every split tests one feature, held as its step function."""

    head: object
    steps: Steps


# ---------------------------------------------------------------------------------------------
# Fixed point


@dataclass(frozen=True, eq=False)
class Sums:
    """What the leaves of integer trees feed: `n_sums` accumulators, tree t's column c adding to `target(t, c)`."""

    finish: str                # "class" | "sign" | "argmax" | "value"
    n_sums: int
    init: tuple[int, ...]
    table: np.ndarray          # (n_leaves, width) int: what each leaf adds (or its class, "class")
    table_t: str               # its C type
    sum_t: str                 # the sums' C type
    boosted: bool              # tree t adds column 0 to sum t % n_sums (else column c to sum c)
    sign_rule: str = ">"       # "sign": class 1 when sum > 0, or >= 0 (GradientBoostingClassifier)

    def target(self, t: int, c: int) -> int:
        return t % self.n_sums if self.boosted else c


@dataclass(frozen=True, eq=False)
class FixedNodeTables:
    """Integer trees as node tables: children numbered within their tree; one leaf row per leaf, tree by tree."""

    trees: object              # ir.fixed.FixedTrees
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray        # feature (x 2, + 1 where NaN goes left, for NaN-aware trees)
    start_t: str
    child_t: str
    feature_t: str
    tree_t: str
    leaf_t: str

    @property
    def table_bytes(self) -> int:
        return (len(self.trees.tree_start) * BYTES[self.start_t]
                + len(self.feature) * (BYTES[self.feature_t] + 2 + 2 * BYTES[self.child_t]))


@dataclass(frozen=True, eq=False)
class FixedTreeForm:
    """Integer trees as node tables (`nodes`) or written out as code (`nodes` None), with their sums."""

    core: object               # ir.fixed.FixedForestClassifier | FixedTreeSum
    sums: Sums
    nodes: FixedNodeTables | None
    code_bytes: int            # estimated flash of the written-out code (AVR)
    tables_bytes: int          # estimated flash of node tables, leaves and their walker (AVR)


@dataclass(frozen=True, eq=False)
class FixedForm:
    """A `Quantized` model as printed: its core head (or `FixedTreeForm`) and the features worth quantizing."""

    quantized: object          # ir.fixed.Quantized
    core: object               # the core head, or a FixedTreeForm for trees
    used_features: tuple[int, ...] | None   # trees that read only some features quantize only those
    offset_t: str              # C type of the input offsets


# ---------------------------------------------------------------------------------------------
# Transforms


@dataclass(frozen=True, eq=False)
class TransformPlan:
    """A Pipeline's unfolded transforms as `<name>_impl_transform` runs them.

    `stages` holds (transform, source buffer, destination buffer, input width) per transform: elementwise
    ones work in place, the first reads x (through `selection` when a feature selection leads), and a
    projection writes z, or the scratch row t (`scratch` values) when more projections follow.
    """

    transforms: tuple
    selection: tuple[int, ...] | None
    stages: tuple[tuple, ...]
    scratch: int
    width: int                 # values the model proper takes

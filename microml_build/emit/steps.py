"""C for tree models that test a single feature: a sorted table of breaks, the outputs between each two.

Why. When every split node of every tree tests the same feature (a model of one sensor reading,
or TFLM's sine), the whole model (one tree, a forest's mean, a boosted sum) is a step function
of that feature: constant between two consecutive thresholds. The C then need not walk the
trees. It finds the interval holding x by binary search over the distinct thresholds and reads
what the model outputs there, computed once in float64 by the IR (scikit-learn's own sum or
mean) and rounded once to float32; a classifier's class in each interval is the IR's argmax
(or sign rule) of those float64 values, exactly scikit-learn's. Flash is 4 bytes per distinct
threshold plus 4 per output per interval (a classifier's predict() reads one class byte), where
node tables take 6 or more bytes per split node plus 4 per leaf; time is log2(intervals)
integer comparisons instead of one walk per tree. Used whenever it takes less flash
(`flash_estimate`), which for a model of one feature is nearly always.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.emit.c_writer import CWriter, int_type, table
from microml_build.emit.common import emit_predict_alias
from microml_build.emit.trees import (BITS_DOC, BYTES, READ, ROUNDING_DOC, _float_text, _int_table,
                                     emit_boosted_proba, layout, threshold_bits, threshold_float32)
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, Trees

# avr-gcc -Os, ATmega328P: the binary search, the NaN test and the row read (about 90 B on Cortex-M4),
# measured on the TFLM sine clone (the node walk it replaces is WALK_BYTES in emit/trees.py).
SEARCH_BYTES = 170


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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

    @property
    def flash_estimate(self) -> int:
        """Flash of predict(): the search and the tables it reads (for classifiers, only the class table)."""
        if self.classes is None:
            return 4 * len(self.breaks) + 4 * self.values.size + SEARCH_BYTES
        return 4 * len(self.classes.breaks) + len(self.classes.classes) * BYTES[self.classes.class_t] + SEARCH_BYTES


def step_function(head, n_features: int) -> Steps | None:
    """`head` (any tree head) as a step table, or None when its trees test more than one feature.

    The value of each interval is `head.decisions` at one float32 point inside it: the break
    itself (x <= break goes left of it), and for the last interval the next float32 above the
    last break. Every float32 x in an interval takes the same path as that point through every
    tree, because each tree compares x with a float64 threshold t, which splits the float32s
    exactly where the largest float32 <= t (one of the breaks) does.
    """
    trees: Trees = head.trees
    used = _effective_splits(trees)
    features = np.unique(trees.feature[used])
    if len(features) != 1:
        return None
    feature = int(features[0])
    breaks = threshold_float32(trees.threshold[used])
    breaks[breaks == 0] = 0.0                    # -0.0 and +0.0 are the same break
    breaks = np.unique(breaks[breaks < np.inf])   # x <= +inf for every number: that split only separates NaN
    if len(breaks) == 0 or len(breaks) >= 0xFFFF:
        return None
    with np.errstate(over="ignore"):             # above FLT_MAX is +inf
        above = np.nextafter(breaks[-1], np.float32(np.inf))
    points = np.append(breaks, above).astype(np.float64)
    X = np.zeros((len(points) + 1, n_features))
    X[:, feature] = np.append(points, np.nan)
    values64, _ = head.decisions(X)
    values = np.asarray(values64, dtype=np.float32)
    classifier = head.task == "classifier"
    classes = np.asarray(head.predict_index(values64)) if classifier else np.zeros(len(values), dtype=np.int64)
    # What the C holds for a row: its float32 outputs' bits and its class.
    keys = np.c_[values.view(np.uint32), classes]
    # Neighbouring intervals with equal rows are one interval: drop the break between them.
    keep = np.any(keys[1:-1] != keys[:-2], axis=1)
    rows = np.append(True, keep)
    breaks, values, classes, keys = breaks[keep], values[:-1][rows], classes[:-1][rows], np.vstack(
        [keys[:-1][rows], keys[-1:]])
    if len(breaks) == 0:
        return None
    same = np.flatnonzero(np.all(keys[:-1] == keys[-1], axis=1))
    nan_row = int(same[-1]) if len(same) else len(values)
    if not len(same):
        values = np.vstack([values, np.asarray(values64[-1:], dtype=np.float32)])
    class_steps = None
    if classifier:
        change = classes[1:] != classes[:-1]
        class_steps = ClassSteps(breaks=breaks[change], classes=classes[np.append(True, change)],
                                 nan_class=int(keys[-1, -1]))
    return Steps(feature=feature, breaks=breaks, values=values, nan_row=nan_row, n_trees=trees.n_trees,
                 classes=class_steps)


def _effective_splits(trees: Trees) -> np.ndarray:
    """Split nodes that change the prediction: not the placeholder root of a tree that is a single leaf."""
    both_leaves = (trees.left < 0) & (trees.right < 0)
    left_rows = trees.leaf_value[np.maximum(-1 - trees.left, 0)]
    right_rows = trees.leaf_value[np.maximum(-1 - trees.right, 0)]
    return ~(both_leaves & np.all(left_rows == right_rows, axis=1))


def or_step_form(emit_trees_head):
    """The emitter for a tree head: the step form where it applies and takes less flash, else `emit_trees_head`.

    A classifier's node form is counted at one byte per leaf row read, its smallest (a single tree's class).
    """

    def emit(w: CWriter, head, p: str, n_features: int) -> int:
        steps = step_function(head, n_features)
        row_bytes = 1 if head.task == "classifier" else None
        if steps is None or steps.flash_estimate >= layout(head.trees, row_bytes).flash_estimate:
            return emit_trees_head(w, head, p, n_features)
        return emit_steps(w, steps, head, p)

    emit.__name__ = emit_trees_head.__name__
    emit.__doc__ = emit_trees_head.__doc__
    return emit


def _what(head) -> str:
    """What scikit-learn computes in each interval, for the comments."""
    n = head.trees.n_trees
    trees = f"{n} trees" if n > 1 else "the tree"
    if isinstance(head, (BoostedRegressor, BoostedClassifier)):
        total = f"the init score plus the leaf values of {trees}"
        return f"exp of {total} (the loss has a log link)" if getattr(head, "link", "") == "log" else total
    if isinstance(head, ForestClassifier):
        return f"the mean of the class fractions of the leaves of {trees}" if n > 1 else \
            "the class fractions of the leaf x reaches"
    return f"the mean of the leaf values of {trees}" if n > 1 else "the value of the leaf x reaches"


def emit_steps(w: CWriter, steps: Steps, head, p: str) -> int:
    """The tables, `<p>_step(x)` and the regressor or classifier API of `head`; returns the bytes of flash tables."""
    what = _what(head)
    P = p.upper()
    k, width = len(steps.breaks), steps.values.shape[1]
    f = steps.feature
    if steps.nan_row == k:
        rows = f"row {k} above the last break and for NaN"
    elif steps.nan_row == k + 1:
        rows = f"row {k} above the last, row {k + 1} for NaN"
    else:
        rows = f"row {k} above the last; NaN takes row {steps.nan_row}"
    classifier = steps.classes is not None
    w.line(f"#define {P}_N_BREAKS {k}")
    if classifier:
        w.line(f"#define {P}_N_CLASS_BREAKS {len(steps.classes.breaks)}")
    w.line()
    trees = f"all {steps.n_trees} trees" if steps.n_trees > 1 else "the tree"
    w.comment(f"Every split node of {trees} tests x[{f}], so the model is a step function of x[{f}]: constant between "
              f"two consecutive thresholds. {p}_break holds the {k} distinct thresholds, ascending; row i of "
              f"{p}_step_value is the {'decision values' if classifier else 'prediction'} for {p}_break[i - 1] < "
              f"x[{f}] <= {p}_break[i] (row 0 below the first break, {rows}). Each row is {what}, computed in "
              "float64 and rounded once to float32."
              + _class_doc(steps, p))
    w.line()
    w.comment(BITS_DOC)
    _int_table(w, f"{p}_break", steps.bits, "uint32_t", f"The breaks, ascending, as float32 bits. {ROUNDING_DOC}")
    w.line()
    if classifier:
        table(w, f"{p}_step_value", steps.values, "Decision values in each interval, one row per interval:")
    else:
        values = steps.values[:, 0] if width == 1 else steps.values
        table(w, f"{p}_step_value", values, "Prediction in each interval" + (", one row per interval:" if width > 1
                                                                              else ":"))
    w.line()
    index_t = steps.index_t
    w.comment(f"Index of the first of the n breaks (float32 bits, ascending, in flash) that the float with bits "
              f"`bits` is <=, or n: a binary search, {int(np.ceil(np.log2(k + 1)))} integer comparisons at most. "
              "Not for NaN.")
    with w.block(f"static inline {index_t} {p}_search(const uint32_t *breaks, {index_t} n, uint32_t bits)"):
        w.line(f"{index_t} low = 0, high = n;")
        with w.block("while (low < high)"):
            w.line(f"const {index_t} mid = ({index_t})(low + (high - low) / 2);")
            w.line("const uint32_t threshold = MICROML_READ_U32(&breaks[mid]);")
            w.comment(f"x <= threshold as integers, see {p}_break.")
            w.line("const int goes_left = (bits & 0x80000000u) ? bits >= threshold")
            w.line(" " * len("const int goes_left = (bits & 0x80000000u) ") + ": (int32_t)bits <= (int32_t)threshold;")
            with w.block("if (goes_left)"):
                w.line("high = mid;")
            with w.block("else"):
                w.line(f"low = ({index_t})(mid + 1);")
        w.line("return low;")
    w.line()
    w.comment(f"Row of {p}_step_value for x.")
    with w.block(f"static inline {index_t} {p}_step(const float *x)"):
        w.line("uint32_t bits;")
        w.line(f"memcpy(&bits, &x[{f}], sizeof bits);")
        with w.block("if ((bits & 0x7FFFFFFFu) > 0x7F800000u)"):
            w.line(f"return {steps.nan_row};  /* NaN */")
        w.line(f"return {p}_search({p}_break, {P}_N_BREAKS, bits);")
    w.line()
    if classifier:
        _classifier_api(w, steps, head, p, what)
        return steps.table_bytes
    if width == 1:
        w.comment(f"Predicted value for x, as scikit-learn's predict: {what}.")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            w.line(f"return MICROML_READ_FLOAT(&{p}_step_value[{p}_step(x)]);")
        w.line()
        emit_predict_alias(w, p)
        return steps.table_bytes
    out_t = int_type(width)
    w.comment(f"Predicted values for x, as scikit-learn's predict, one per output: {what}.")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        w.line(f"const {index_t} row = {p}_step(x);")
        with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line(f"y[k] = MICROML_READ_FLOAT(&{p}_step_value[row][k]);")
    return steps.table_bytes


def _class_doc(steps: Steps, p: str) -> str:
    if steps.classes is None:
        return ""
    if not len(steps.classes.breaks):
        return " The class is the same in every interval, so predict() searches nothing."
    return (f" predict() needs only the breaks where the class changes: {p}_class_break and {p}_class, the class "
            "decided on the float64 values by scikit-learn's rule.")


def _classifier_api(w: CWriter, steps: Steps, head, p: str, what: str) -> None:
    """decision_function (and predict_proba for forests, whose decision values are probabilities), predict."""
    P = p.upper()
    out_t = int_type(steps.values.shape[1])
    forest = isinstance(head, ForestClassifier)
    if forest:
        w.comment(f"Class probabilities of x, as scikit-learn's predict_proba: {what}.")
        signature, array = f"static inline void {p}_predict_proba(const float *x, float *proba)", "proba"
    else:
        w.comment(f"Raw scores, as scikit-learn's decision_function: {what}.")
        signature, array = f"static inline void {p}_decision_function(const float *x, float *decision)", "decision"
    with w.block(signature):
        w.line(f"const {steps.index_t} row = {p}_step(x);")
        with w.block(f"for ({out_t} c = 0; c < {P}_N_DECISIONS; c++)"):
            w.line(f"{array}[c] = MICROML_READ_FLOAT(&{p}_step_value[row][c]);")
    w.line()
    if forest:
        w.comment("Decision values: the class probabilities (scikit-learn's trees and forests predict from them; "
                  "they have no decision_function).")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            w.line(f"{p}_predict_proba(x, decision);")
        w.line()
    else:
        emit_boosted_proba(w, head, p)
        w.line()
    cs = steps.classes
    f, m = steps.feature, len(cs.breaks)
    if m:
        where = (f" (x[{f}] = " + ", ".join(_float_text(float(b)) for b in cs.breaks) + ")") if m <= 16 else ""
        _int_table(w, f"{p}_class_break", threshold_bits(cs.breaks.astype(np.float64)), "uint32_t",
                   f"The breaks where the class changes{where}, ascending, as float32 bits (a subset of {p}_break):")
        w.line()
    doc = (f"Class index between two of {p}_class_break (below the first, above the last):" if m else
           "Class index of every interval:")
    table(w, f"{p}_class", cs.classes, doc, ctype=cs.class_t)
    w.line()
    w.comment(f"Class index of x: index into {p}_label(). The class of the interval x[{f}] falls in, scikit-learn's "
              f"predict() there; class {cs.nan_class} for NaN.")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line("uint32_t bits;")
        w.line(f"memcpy(&bits, &x[{f}], sizeof bits);")
        with w.block("if ((bits & 0x7FFFFFFFu) > 0x7F800000u)"):
            w.line(f"return {cs.nan_class};  /* NaN */")
        index = f"{p}_search({p}_class_break, {P}_N_CLASS_BREAKS, bits)" if m else "0"
        w.line(f"return {READ[cs.class_t]}(&{p}_class[{index}]);")

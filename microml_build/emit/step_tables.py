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
integer comparisons instead of one walk per tree. The planner picks it whenever it takes less
flash (`plan/trees.py`), which for a model of one feature is nearly always.
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import comment_text, int_type
from microml_build.emit.c_writer import READ, CWriter, table
from microml_build.emit.common import emit_predict_alias
from microml_build.emit.trees import BITS_DOC, _threshold_text, emit_boosted_proba
from microml_build.ir.forms import StepForm, Steps
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, threshold_bits


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


def emit_steps(w: CWriter, form: StepForm, p: str, n_features: int) -> None:
    """The tables, `<p>_impl_step(x)` and the regressor or classifier API of the head."""
    steps, head = form.steps, form.head
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
    w.comment(f"Every split node of {trees} tests {p.input(f)}, so the model is a step function of x[{f}]: constant "
              f"between two consecutive thresholds. {p}_break holds the {k} distinct thresholds, ascending; row i of "
              f"{p}_step_value is the {'decision values' if classifier else 'prediction'} for {p}_break[i - 1] < "
              f"x[{f}] <= {p}_break[i] (row 0 below the first break, {rows}). Each row is {what}, computed in "
              "float64 and rounded once to float32."
              + _class_doc(steps, p))
    w.line()
    breaks = [_threshold_text(float(b)) for b in steps.breaks]
    table(w, f"{p}_break", steps.bits, "The breaks, ascending, as float32 bits (scikit-learn's float64 thresholds "
          f"rounded down to float32, which sends every float x the same way). {BITS_DOC}", "uint32_t", hex_=True,
          packed=True,
          notes=[f"break {i}: x[{f}] <= {b}" for i, b in enumerate(breaks)] if p.annotate else None)
    w.line()
    intervals = _intervals(breaks, steps, f)
    if classifier:
        table(w, f"{p}_step_value", steps.values, "Decision values in each interval, one row per interval:",
              notes=intervals)
    else:
        values = steps.values[:, 0] if width == 1 else steps.values
        table(w, f"{p}_step_value", values, "Prediction in each interval" + (", one row per interval:" if width > 1
                                                                              else ":"),
              notes=intervals if p.annotate or width > 1 else None)
    w.line()
    index_t = steps.index_t
    w.comment(f"Index of the first of the n breaks (float32 bits, ascending, in flash) that the float with bits "
              f"`bits` is <=, or n: a binary search, {int(np.ceil(np.log2(k + 1)))} integer comparisons at most. "
              "Not for NaN.")
    with w.block(f"static inline {index_t} {p.impl}_search(const uint32_t *breaks, {index_t} n, uint32_t bits)"):
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
    with w.block(f"static inline {index_t} {p.impl}_step(const float *x)"):
        w.line("uint32_t bits;")
        w.line(f"memcpy(&bits, &x[{f}], sizeof bits);")
        with w.block("if ((bits & 0x7FFFFFFFu) > 0x7F800000u)"):
            w.line(f"return {steps.nan_row};  /* NaN */")
        w.line(f"return {p.impl}_search({p}_break, {P}_N_BREAKS, bits);")
    w.line()
    if classifier:
        _classifier_api(w, steps, head, p, what)
        return
    if width == 1:
        w.comment(f"Predicted value for x, as scikit-learn's predict: {what}.")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            w.line(f"return MICROML_READ_FLOAT(&{p}_step_value[{p.impl}_step(x)]);")
        w.line()
        emit_predict_alias(w, p)
        return
    out_t = int_type(width)
    w.comment(f"Predicted values for x, as scikit-learn's predict, one per output: {what}.")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        w.line(f"const {index_t} row = {p.impl}_step(x);")
        with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line(f"y[k] = MICROML_READ_FLOAT(&{p}_step_value[row][k]);")


def _intervals(breaks: list[str], steps: Steps, f: int) -> list[str]:
    """What each row of the step table is for: `row 2: -1 < x[1] <= 0`, and the NaN row."""
    k = len(breaks)
    notes = []
    for i in range(len(steps.values)):
        if i == 0:
            where = f"x[{f}] <= {breaks[0]}"
        elif i < k:
            where = f"{breaks[i - 1]} < x[{f}] <= {breaks[i]}"
        elif i == k:
            where = f"x[{f}] > {breaks[k - 1]}"
        else:
            where = ""
        nan = "NaN" if i == steps.nan_row else ""
        notes.append(f"row {i}: " + (" or ".join(part for part in (where, nan) if part)))
    return notes


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
        w.line(f"const {steps.index_t} row = {p.impl}_step(x);")
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
    breaks = [_threshold_text(float(b)) for b in cs.breaks]
    if m:
        table(w, f"{p}_class_break", threshold_bits(cs.breaks.astype(np.float64)), "The breaks where the class "
              f"changes, ascending, as float32 bits (a subset of {p}_break):", "uint32_t", hex_=True, packed=True,
              notes=[f"x[{f}] <= {b}" for b in breaks])
        w.line()
    doc = (f"Class index between two of {p}_class_break (below the first, above the last):" if m else
           "Class index of every interval:")
    bounds = [f"x[{f}] <= {breaks[0]}" if m else f"every x[{f}]"]
    bounds += [f"{low} < x[{f}] <= {high}" for low, high in zip(breaks, breaks[1:])] + ([f"x[{f}] > {breaks[-1]}"]
                                                                                         if m else [])
    table(w, f"{p}_class", cs.classes, doc, ctype=cs.class_t,
          notes=[f"{where}: class {p.label(int(c))}" for where, c in zip(bounds, cs.classes)])
    w.line()
    w.comment(f"Class index of x: index into {p.api}_label(). The class of the interval x[{f}] falls in, scikit-learn's "
              f"predict() there; class {cs.nan_class} for NaN.")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line("uint32_t bits;")
        w.line(f"memcpy(&bits, &x[{f}], sizeof bits);")
        with w.block("if ((bits & 0x7FFFFFFFu) > 0x7F800000u)"):
            w.line(f"return {cs.nan_class};  /* NaN: class {comment_text(p.label(cs.nan_class))} */")
        index = f"{p.impl}_search({p}_class_break, {P}_N_CLASS_BREAKS, bits)" if m else "0"
        w.line(f"return {READ[cs.class_t]}(&{p}_class[{index}]);")

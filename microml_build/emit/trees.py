"""C for the tree heads: node tables in flash walked by one small loop, then the forest mean or the boosted sum.

Form. `<name>_impl_leaf(x, tree)` returns the row of the leaf table that x reaches in a tree; the
rest of the code only sums leaf rows. The trees are normally flat node tables (feature,
threshold, left, right) walked by a loop: RAM is a few locals whatever the model size, and
flash is 6 to 11 bytes per split node. Written-out if/else code costs some 30 to 45 bytes of AVR
code per split node, so it is emitted only when the estimate (`Layout.flash_estimate`) says it
beats the tables plus their loop: a model of about three split nodes or fewer. A model whose
splits all test one feature is not emitted here at all when a step table is smaller
(`emit/step_tables.py`: sorted breaks and one value per interval, found by binary search).

Node encoding. Children are numbered within their tree, so they fit in one byte for trees of
up to 127 split nodes: with n split nodes in the tree, a child c < n is a split node and c >= n
is a leaf. The leaf values are stored one of two ways, whichever takes less flash:
  per tree: every leaf has its own row; tree t's leaves start at row tree_start[t] + t, since a
            binary tree has one more leaf than split nodes (best for boosting, whose leaf values
            are all different);
  shared:   identical rows are stored once and a leaf child c is row c - n (best for forests of
            classifiers, whose leaves are mostly pure: a handful of distinct rows).
The feature code of a split node is 4 x feature, the byte offset of x[feature] (AVR adds it
without a multiply), plus 1 where a NaN goes left; a model that only ever tests one feature, one
way, needs no feature table at all.

Thresholds are stored as float32 bit patterns and compared as integers (`goes_left` is the rule
in Python), so that a split node costs an integer comparison instead of a float one (a soft-float
call on AVR). The comparison is signed for x >= 0 and unsigned, reversed, for x with the sign bit,
rather than one order-preserving key computed from x's bits: on avr-gcc 5.4 the key's negation of
negative values cost 5-9% more cycles on the benchmark's tree and forest. The thresholds are
scikit-learn's float64 thresholds rounded down to float32 (`threshold_float32`), which makes the
float32 comparison take exactly scikit-learn's path.

Leaves of classifiers. A single tree predicts the argmax of its leaf's probabilities, so it stores
each leaf's class (one byte) for predict() next to the probabilities for predict_proba(). A forest
averages its trees' probabilities; predict() sums them as integers (`INTEGER_DOC`), exactly, and their
argmax can differ from scikit-learn's only at a float32 near-tie.
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import comment_text, int_type
from microml_build.emit.c_writer import READ, CWriter, Prefix, float_literal, table
from microml_build.emit.common import (emit_argmax_predict, emit_logistic_proba, emit_predict_alias,
                                      emit_softmax_proba)
from microml_build.ir.forms import Layout, TreeForm
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor

# How the tables encode a split, once per header; docs/c-api.md#reading-a-tree-header explains the rest (why the
# integer comparison equals the float one, NaN, -0.0, the child numbering), as the module docstring does here.
SPLIT_DOC = ("Split node i sends x to {p}_left[i] when x[feature] <= threshold, else to {p}_right[i]; a child c "
             "below n, its tree's count of split nodes, is a split node, c >= n a leaf. Thresholds are float32 "
             "bits compared as integers (no soft float; docs/c-api.md#reading-a-tree-header).")
BITS_DOC = ("Floats compared as integers: x <= t when x's bits, read as an int32, are <= t's (x without the sign "
            "bit), or, read as a uint32, are >= t's (x with it): docs/c-api.md#reading-a-tree-header.")
CODE_MASK = {"uint8_t": "0xFCu", "uint16_t": "0xFFFCu"}


# ---------------------------------------------------------------------------------------------
# Fixed-point sums for a forest's predict()

INTEGER_DOC = ("the class whose leaf probabilities summed over the trees is largest, the first on a tie, as scikit-learn "
               "(it averages, it does not vote). Each leaf holds them as integers round(p x {one}), which add up "
               "exactly in a uint32; the rounding can change the class only at a float32 near-tie "
               "(docs/c-api.md#reading-a-tree-header).")


# ---------------------------------------------------------------------------------------------
# Heads


def emit_forest_classifier(w: CWriter, form: TreeForm, p: str, n_features: int) -> None:
    """Mean of the trees' class probabilities, argmax."""
    P = p.upper()
    head = form.head
    trees = head.trees
    n_trees, K = trees.n_trees, head.n_outputs
    one, row_key = form.proba_one, form.row_key
    lay = _emit_trees(w, form, p, "Class probabilities of each leaf (its tree's predict_proba row)", rows_of_one=True)
    class_t = int_type(K)
    what = "the mean over the trees of the class fractions of the leaf x reaches" if n_trees > 1 else \
        "the class fractions of the leaf x reaches"
    w.comment(f"Class probabilities of x, as scikit-learn's predict_proba: {what}.")
    with w.block(f"static inline void {p}_predict_proba(const float *x, float *proba)"):
        if n_trees == 1:
            w.line(f"const {lay.leaf_t} leaf = {p.impl}_leaf(x, 0);")
            with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                w.line(f"proba[c] = MICROML_READ_FLOAT(&{p}_leaf_value[leaf][c]);")
        else:
            with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                w.line("proba[c] = 0.0f;")
            with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"const {lay.leaf_t} leaf = {p.impl}_leaf(x, tree);")
                with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                    w.line(f"proba[c] += MICROML_READ_FLOAT(&{p}_leaf_value[leaf][c]);")
            w.comment("Summed in tree order, then divided, as scikit-learn does.")
            with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                w.line(f"proba[c] /= (float){P}_N_TREES;")
    w.line()
    w.comment("Decision values: the class probabilities (scikit-learn's trees and forests predict from them; "
              "they have no decision_function).")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        w.line(f"{p}_predict_proba(x, decision);")
    w.line()
    if n_trees == 1:
        classes = _row_classes(form)
        table(w, f"{p}_leaf_class", classes, f"Class of each row of {p}_leaf_value: its most probable class (the "
              "first one on a tie), which is what scikit-learn's tree predicts:", ctype=class_t,
              notes=[f"leaf {r}: class {p.label(c)}" for r, c in enumerate(classes)] if p.annotate else None)
        w.line()
        w.comment(f"Class index of x: index into {p.api}_label(). The most probable class of the leaf x reaches.")
        with w.block(f"static inline int {p}_predict(const float *x)"):
            w.line(f"return {READ[class_t]}(&{p}_leaf_class[{p.impl}_leaf(x, 0)]);")
        return
    if one is None:
        w.comment(f"Class index of x: index into {p.api}_label(). The most probable class (averaged, not voted, as "
                  "scikit-learn does); the first one on a tie, like numpy's argmax.")
        with w.block(f"static inline int {p}_predict(const float *x)"):
            w.line(f"float proba[{P}_N_CLASSES];")
            w.line(f"{class_t} best = 0;")
            w.line(f"{p}_predict_proba(x, proba);")
            _argmax(w, "proba", class_t, f"{P}_N_CLASSES")
        return
    integers = row_key[np.unique(lay.leaf_row, return_index=True)[1]]
    w.line(f"#define {P}_PROBA_ONE {one}ul   /* probability 1.0 in the integer sums: floor((2^32 - 1) / {P}_N_TREES) */")
    w.line()
    if K == 2:
        notes = [f"leaf {r}: p(class {p.label(1)}) = {_threshold_text(v / one)}" for r, v in enumerate(integers[:, 0])]
        table(w, f"{p}_leaf_integer", integers[:, 0], f"Probability of class 1 of each row of {p}_leaf_value, times "
              f"{P}_PROBA_ONE, rounded (class 0's is {P}_PROBA_ONE minus it):", "uint32_t", packed=True,
              notes=notes if p.annotate else None)
    else:
        notes = [f"leaf {r}: " + ", ".join(_threshold_text(v / one) for v in row) for r, row in enumerate(integers)]
        table(w, f"{p}_leaf_integer", integers, f"Class probabilities of each row of {p}_leaf_value, times "
              f"{P}_PROBA_ONE, rounded:", "uint32_t", packed=True, notes=notes)
    w.line()
    w.comment(f"Class index of x: index into {p.api}_label(): {INTEGER_DOC.format(one=P + '_PROBA_ONE')}")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        if K == 2:
            w.line("uint32_t sum = 0;")
            with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum += MICROML_READ_U32(&{p}_leaf_integer[{p.impl}_leaf(x, tree)]);")
            w.comment("Class 0's sum is the total minus class 1's; a tie goes to class 0, as numpy's argmax.")
            w.line(f"return sum > {P}_N_TREES * {P}_PROBA_ONE - sum ? 1 : 0;")
            return
        w.line(f"uint32_t sum[{P}_N_CLASSES];")
        w.line(f"{class_t} best = 0;")
        with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("sum[c] = 0;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"const {lay.leaf_t} leaf = {p.impl}_leaf(x, tree);")
            with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                w.line(f"sum[c] += MICROML_READ_U32(&{p}_leaf_integer[leaf][c]);")
        _argmax(w, "sum", class_t, f"{P}_N_CLASSES")


def emit_forest_regressor(w: CWriter, form: TreeForm, p: str, n_features: int) -> None:
    """Mean of the trees' leaf values."""
    P = p.upper()
    head = form.head
    n_trees = head.trees.n_trees
    lay = _emit_trees(w, form, p, "Value of each leaf" if head.n_outputs == 1 else "Values of each leaf")
    what = "the mean of the trees' leaf values, summed in tree order and then divided" if n_trees > 1 else \
        "the value of the leaf x reaches"
    if head.n_outputs == 1:
        w.comment(f"Predicted value for x, as scikit-learn's predict: {what}.")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            if n_trees == 1:
                w.line(f"return MICROML_READ_FLOAT(&{p}_leaf_value[{p.impl}_leaf(x, 0)]);")
            else:
                w.line("float sum = 0.0f;")
                with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                    w.line(f"sum += MICROML_READ_FLOAT(&{p}_leaf_value[{p.impl}_leaf(x, tree)]);")
                w.line(f"return sum / (float){P}_N_TREES;")
        w.line()
        emit_predict_alias(w, p)
        return
    out_t = int_type(head.n_outputs)
    w.comment(f"Predicted values for x, as scikit-learn's predict, one per output: {what}.")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        if n_trees == 1:
            w.line(f"const {lay.leaf_t} leaf = {p.impl}_leaf(x, 0);")
            with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
                w.line(f"y[k] = MICROML_READ_FLOAT(&{p}_leaf_value[leaf][k]);")
            return
        with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line("y[k] = 0.0f;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"const {lay.leaf_t} leaf = {p.impl}_leaf(x, tree);")
            with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
                w.line(f"y[k] += MICROML_READ_FLOAT(&{p}_leaf_value[leaf][k]);")
        with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line(f"y[k] /= (float){P}_N_TREES;")


def emit_boosted_classifier(w: CWriter, form: TreeForm, p: str, n_features: int) -> None:
    """Init score plus the trees' values, then the sign (two classes) or argmax."""
    P = p.upper()
    head = form.head
    K = head.n_outputs
    lay = _emit_trees(w, form, p, "Value of each leaf, learning rate applied")
    _emit_init(w, head.init, p)
    if K == 1:
        w.comment("Raw score, as scikit-learn's decision_function: the init score plus each tree's leaf value, "
                  "added in tree order.")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            w.line(f"float score = {P}_INIT;")
            with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"score += MICROML_READ_FLOAT(&{p}_leaf_value[{p.impl}_leaf(x, tree)]);")
            w.line("decision[0] = score;")
        w.line()
        if head.zero_is_positive:
            rule = "a score of zero or above is class 1 (GradientBoostingClassifier's rule)"
            test = "score >= 0.0f"
        else:
            rule = "a positive score is class 1, zero is class 0 (HistGradientBoostingClassifier's rule)"
            test = "score > 0.0f"
        w.comment(f"Class index of x (0 or 1): index into {p.api}_label(); {rule}.")
        with w.block(f"static inline int {p}_predict(const float *x)"):
            w.line("float score;")
            w.line(f"{p}_decision_function(x, &score);")
            w.line(f"return {test} ? 1 : 0;")
        w.line()
        emit_boosted_proba(w, head, p)
        return
    class_t = int_type(K)
    w.comment("Raw scores, one per class, as scikit-learn's decision_function: the init score plus each tree's "
              "leaf value, added in tree order. The trees are stored stage by stage, one tree per class in each "
              "stage, so tree t adds to class t % N_CLASSES.")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line(f"decision[c] = MICROML_READ_FLOAT(&{p}_init[c]);")
        w.line(f"{class_t} k = 0;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"decision[k] += MICROML_READ_FLOAT(&{p}_leaf_value[{p.impl}_leaf(x, tree)]);")
            with w.block(f"if (++k == {P}_N_CLASSES)"):
                w.line("k = 0;")
    w.line()
    emit_argmax_predict(w, p, K, "score", "raw score")
    w.line()
    emit_boosted_proba(w, head, p)


def emit_boosted_proba(w: CWriter, head: BoostedClassifier, p: str) -> None:
    """`<p>_predict_proba` from the raw scores, as scikit-learn's loss turns them into probabilities."""
    if head.n_outputs == 1:
        loss = "exponential loss: logistic of twice the score" if head.proba_scale == 2 else "logistic of the score"
        emit_logistic_proba(w, p, f"as scikit-learn's predict_proba ({loss})", scale=head.proba_scale)
    else:
        emit_softmax_proba(w, p, head.n_outputs, "as scikit-learn's predict_proba: the softmax of the raw scores")


def emit_boosted_regressor(w: CWriter, form: TreeForm, p: str, n_features: int) -> None:
    """Init score plus the trees' values, through the inverse link."""
    P = p.upper()
    head = form.head
    lay = _emit_trees(w, form, p, "Value of each leaf, learning rate applied")
    _emit_init(w, head.init, p)
    if head.link == "log":
        w.comment("Predicted value for x, as scikit-learn's predict: exp of the raw score (the loss has a log "
                  "link), the raw score being the init score plus each tree's leaf value, added in tree order.")
    else:
        w.comment("Predicted value for x, as scikit-learn's predict: the init score plus each tree's leaf value, "
                  "added in tree order.")
    with w.block(f"static inline float {p}_predict_value(const float *x)"):
        w.line(f"float score = {P}_INIT;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"score += MICROML_READ_FLOAT(&{p}_leaf_value[{p.impl}_leaf(x, tree)]);")
        w.line("return expf(score);" if head.link == "log" else "return score;")
    w.line()
    emit_predict_alias(w, p)


def _emit_init(w: CWriter, init: np.ndarray, p: Prefix) -> None:
    P = p.upper()
    if len(init) == 1:
        w.line(f"#define {P}_INIT {float_literal(init[0])}   /* the raw score before any tree */")
        w.line()
        return
    table(w, f"{p}_init", init, "Init score of each class (the raw score before any tree):",
          notes=[f"class {p.label(c)}" for c in range(len(init))])
    w.line()


def _argmax(w: CWriter, array: str, index_t: str, count: str) -> None:
    with w.block(f"for ({index_t} c = 1; c < {count}; c++)"):
        with w.block(f"if ({array}[c] > {array}[best])"):
            w.line("best = c;")
    w.line("return best;")


def emit_tree_form(w: CWriter, form: TreeForm, p: str, n_features: int) -> None:
    """The head's emitter, by its kind."""
    TREE_EMITTERS[type(form.head)](w, form, p, n_features)


TREE_EMITTERS = {ForestClassifier: emit_forest_classifier, ForestRegressor: emit_forest_regressor,
                 BoostedClassifier: emit_boosted_classifier, BoostedRegressor: emit_boosted_regressor}


# ---------------------------------------------------------------------------------------------
# The trees


def _emit_trees(w: CWriter, form: TreeForm, p: Prefix, leaf_doc: str, rows_of_one: bool = False) -> Layout:
    """The leaf table, the node tables (or code) and `<p>_impl_leaf(x, tree)`: the leaf row x reaches in a tree.

    A leaf table of width 1 is one value per leaf, unless `rows_of_one` (classifiers index [leaf][class]).
    """
    P = p.upper()
    trees, lay = form.head.trees, form.layout
    w.line(f"#define {P}_N_TREES {trees.n_trees}")
    if not lay.code:
        w.line(f"#define {P}_N_SPLITS {len(lay.feature)}   /* split nodes, all trees */")
    w.line()
    if not lay.code:
        _emit_node_tables(w, form, p)
    rows = ("one row per distinct leaf" if lay.shared else
            "one row per leaf" if trees.n_trees == 1 else "one row per leaf, tree by tree")
    one_value = lay.leaf_value.shape[1] == 1 and not rows_of_one
    values = lay.leaf_value[:, 0] if one_value else lay.leaf_value
    notes = [f"leaf {r}{_leaf_tree(lay, r)}" + (f": class {p.label(c)}" if c is not None else "")
             for r, c in enumerate(_row_classes(form))]
    table(w, f"{p}_leaf_value", values, f"{leaf_doc}, {rows}:",
          notes=notes if p.annotate or not one_value else None)
    w.line()
    if lay.code:
        _emit_code(w, form, p)
    else:
        _emit_walk(w, lay, p)
    w.line()
    return lay


def _row_classes(form: TreeForm) -> list:
    """The class of each leaf row for a single tree's predict() (None for other heads)."""
    lay = form.layout
    if form.row_key is None or lay.n_trees != 1 or not isinstance(form.head, ForestClassifier):
        return [None] * len(lay.leaf_value)
    return [int(c) for c in np.asarray(form.row_key)[np.unique(lay.leaf_row, return_index=True)[1]]]


def _leaf_tree(lay: Layout, row: int) -> str:
    """`, tree 2` for a row of a per-tree leaf table of several trees (tree t's leaves follow those before it)."""
    if lay.shared or lay.n_trees == 1:
        return ""
    first = lay.tree_start[:-1] + np.arange(lay.n_trees)
    return f", tree {int(np.searchsorted(first, row, side='right')) - 1}"


def _threshold_text(value: float) -> str:
    """A float32 threshold as a comment shows it: the shortest decimal that reads back as it."""
    value = float(value) if value != 0 else 0.0
    return float_literal(value)[:-1] if np.isfinite(value) else "-inf" if value < 0 else "inf"


def _leaf_text(form: TreeForm, row: int, p: Prefix) -> str:
    """A leaf child in a note: its row, and what a reader wants of it where it is one thing (a class, a value)."""
    lay = form.layout
    cls = _row_classes(form)[row]
    if cls is not None:
        name = p.classes[cls] if cls < len(p.classes) else str(cls)
        return f"leaf {row} ({name if name != str(cls) else f'class {cls}'})"
    if lay.leaf_value.shape[1] == 1:
        return f"leaf {row} ({_threshold_text(lay.leaf_value[row, 0])})"
    return f"leaf {row}"


def _node_notes(form: TreeForm, p: Prefix) -> list[str]:
    """What each split node encodes, as floats: `tree 1 node 0: x[2] wind <= 9.5, NaN left ? node 1 : leaf 4`."""
    lay = form.layout
    notes = []
    for t in range(lay.n_trees):
        start, end = int(lay.tree_start[t]), int(lay.tree_start[t + 1])
        n = end - start

        def child(c: int) -> str:
            if c < n:
                return f"node {c}"
            return _leaf_text(form, c - n if lay.shared or lay.n_trees == 1 else start + t + c - n, p)

        for i in range(start, end):
            where = f"node {i - start}" if lay.n_trees == 1 else f"tree {t} node {i - start}"
            code = int(lay.feature[i])
            nan = (", NaN left" if code & 1 else ", NaN right") if lay.nan_aware else ""
            notes.append(f"{where}: {p.input(code >> 2)} <= {_threshold_text(lay.threshold32[i])}{nan} ? "
                         f"{child(int(lay.left[i]))} : {child(int(lay.right[i]))}")
    return notes


def _emit_node_tables(w: CWriter, form: TreeForm, p: Prefix) -> None:
    lay = form.layout
    one_tree = lay.n_trees == 1
    P = p.upper()
    if lay.shared:
        leaf_rule = f"leaf c is row c - n of {p}_leaf_value (identical leaves stored once)"
    elif one_tree:
        leaf_rule = f"leaf c is row c - n of {p}_leaf_value"
    else:
        leaf_rule = f"tree t's leaf c is row {p}_tree_start[t] + t + c - n of {p}_leaf_value"
    nan_rule = "" if lay.nan_aware else " A NaN fails every <= and goes right."
    w.comment(f"The trees, as tables walked by {p.impl}_leaf(). " + SPLIT_DOC.format(p=p) + f" Here {leaf_rule}."
              f"{nan_rule}")
    w.line()
    if not one_tree:
        table(w, f"{p}_tree_start", lay.tree_start, "First split node of each tree, then the total:",
              ctype=lay.start_t, notes=[f"tree {t}" for t in range(lay.n_trees)] + [f"{P}_N_SPLITS"])
        w.line()
    if lay.one_feature:
        code = int(lay.feature[0])
        nan = (f", NaN going {'left' if code & 1 else 'right'}") if lay.nan_aware else ""
        w.comment(f"Every split node tests {p.input(code >> 2)}{nan}: no feature table.")
        w.line()
    else:
        nan = " + 1 where NaN goes left" if lay.nan_aware else ""
        table(w, f"{p}_feature", lay.feature, f"Feature of each split node, as 4 x its index in x[] (its byte offset: "
              f"AVR adds it without a multiply){nan}:", ctype=lay.feature_t, packed=True, literal=_feature_code)
        w.line()
    notes = _node_notes(form, p)
    if not lay.halves:
        table(w, f"{p}_threshold", lay.threshold, "Threshold of each split node, as float32 bits (scikit-learn's "
              "float64 threshold rounded down to float32, which sends every float x the same way); each note reads "
              "the node:", "uint32_t", hex_=True, packed=True, notes=notes if p.annotate else None)
        w.line()
        _emit_child_tables(w, lay, p)
        return
    bits = np.asarray(lay.threshold, dtype=np.uint32)
    table(w, f"{p}_threshold_high", (bits >> 16).astype(np.uint16), "Threshold of each split node, as float32 bits "
          "(scikit-learn's float64 threshold rounded down to float32, which sends every float x the same way): the "
          "high 16 bits, sign, exponent and 7 mantissa bits, which decide almost every split; each note reads the "
          "node:", "uint16_t", hex_=True, packed=True, notes=notes if p.annotate else None)
    w.line()
    table(w, f"{p}_threshold_low", (bits & 0xFFFF).astype(np.uint16), "The low 16 bits of each threshold, read only "
          "when x's high 16 bits equal the threshold's:", "uint16_t", hex_=True, packed=True)
    w.line()
    _emit_child_tables(w, lay, p)


def _emit_child_tables(w: CWriter, lay: Layout, p: Prefix) -> None:
    table(w, f"{p}_left", lay.left, "Left child of each split node (x[feature] <= threshold):", ctype=lay.child_t,
          packed=True)
    w.line()
    table(w, f"{p}_right", lay.right, "Right child of each split node:", ctype=lay.child_t, packed=True)
    w.line()


def _feature_code(code: int) -> str:
    """A split node's feature code as the C reads it: `4 * 6 + 1` is x[6], NaN going left (the compiler folds it)."""
    return f"4 * {int(code) >> 2}" + (" + 1" if int(code) & 1 else "")


def _emit_walk(w: CWriter, lay: Layout, p: Prefix) -> None:
    start_t, child_t, feature_t, leaf_t = lay.start_t, lay.child_t, lay.feature_t, lay.leaf_t
    one_tree = lay.n_trees == 1
    n_splits = f"{p.upper()}_N_SPLITS" if one_tree else "n_splits"
    i = "node" if one_tree else "i"
    w.comment(f"Row of {p}_leaf_value for the leaf x reaches in tree `tree`. Every tree has a root split node, so "
              "the loop tests for a leaf after each step.")
    with w.block(f"static inline {leaf_t} {p.impl}_leaf(const float *x, {lay.tree_t} tree)"):
        if one_tree:
            w.line("(void)tree;")
        else:
            w.line(f"const {start_t} start = {READ[start_t]}(&{p}_tree_start[tree]);")
            w.line(f"const {child_t} n_splits = ({child_t})({READ[start_t]}(&{p}_tree_start[tree + 1]) - start);")
        w.line(f"{child_t} node = 0;")
        with w.block("do", tail=f"}} while (node < {n_splits});"):
            if not one_tree:
                w.line(f"const {start_t} i = ({start_t})(start + node);")
            w.line("uint32_t bits;")
            if lay.one_feature:
                code = int(lay.feature[0])
                w.line(f"memcpy(&bits, &x[{code >> 2}], sizeof bits);")
                nan_left = code & 1
            else:
                w.line(f"const {feature_t} code = {READ[feature_t]}(&{p}_feature[{i}]);")
                w.line(f"memcpy(&bits, (const unsigned char *)x + (code & {CODE_MASK[feature_t]}), sizeof bits);"
                       "  /* x[code / 4] */")
                nan_left = "(code & 1)" if lay.nan_aware else 0
            if lay.halves:
                _emit_split_halves(w, nan_left, p, i)
                w.line(f"node = left ? {READ[child_t]}(&{p}_left[{i}]) : {READ[child_t]}(&{p}_right[{i}]);")
            else:
                w.line(f"const uint32_t threshold = MICROML_READ_U32(&{p}_threshold[{i}]);")
                w.comment(f"{BITS_DOC} A NaN passes the first test with the sign bit and fails the second without; "
                          "the NaN tests send it where the model sends missing values.")
                _emit_split(w, nan_left, f"node = {READ[child_t]}(&{p}_left[{i}]);",
                            f"node = {READ[child_t]}(&{p}_right[{i}]);")
        if lay.shared or one_tree:
            w.line(f"return ({leaf_t})(node - {n_splits});")
        else:
            w.line(f"return ({leaf_t})(start + tree + (node - n_splits));")


# A NaN with the sign bit (bits above -infinity's) and one without (above +infinity's); each tests one byte
# first, which only NaN, the infinities and huge values pass.
NEGATIVE_NAN = "(uint8_t)(bits >> 24) == 0xFF && bits > 0xFF800000u"
POSITIVE_NAN = "(uint8_t)(bits >> 24) == 0x7F && bits > 0x7F800000u"


def _nan_tests(nan_left) -> tuple[str | None, str | None]:
    """The C tests for a NaN the comparison sends the wrong way: (with the sign bit, without it), None where the
    node sends that NaN where the comparison does. `nan_left` is a C expression, or 0/1 for every node alike."""
    if nan_left == 0:
        return NEGATIVE_NAN, None
    if nan_left == 1:
        return None, POSITIVE_NAN
    return f"!{nan_left} && {NEGATIVE_NAN}", f"{nan_left} && {POSITIVE_NAN}"


def _emit_split_halves(w: CWriter, nan_left, p: Prefix, i: str) -> None:
    """`left` = 1 when `bits` (x's) <= node `i`'s threshold as floats (see BITS_DOC) or x is NaN and `nan_left`.

    The same comparisons as `_emit_split`, in 16-bit halves: the high halves (sign, exponent, 7 mantissa
    bits) decide unless they are equal, and only then are the low halves read. On AVR this saves two
    flash reads and two compares at most split nodes (the benchmark's forest: 3,311 -> 3,052 cycles).
    `nan_left` is a C expression, or 0/1 when every node sends NaN the same way.
    """
    high, low = f"MICROML_READ_U16(&{p}_threshold_high[{i}])", f"MICROML_READ_U16(&{p}_threshold_low[{i}])"
    w.comment(f"{BITS_DOC} Compared in halves: the high 16 bits decide unless they are equal. A NaN passes the "
              "test with the sign bit and fails the one without; the NaN tests send it where the model sends "
              "missing values.")
    w.line("const uint16_t high = (uint16_t)(bits >> 16);")
    w.line(f"const uint16_t threshold_high = {high};")
    w.line("uint8_t left;")
    negative_nan, positive_nan = _nan_tests(nan_left)
    with w.block("if (high & 0x8000u)"):
        with w.block("if (high != threshold_high)"):
            w.line("left = high > threshold_high;")
        with w.block("else"):
            w.line(f"left = (uint16_t)bits >= {low};")
        if negative_nan is not None:
            with w.block(f"if (left && {negative_nan})"):
                w.line("left = 0;")
    with w.block("else"):
        with w.block("if (high != threshold_high)"):
            w.line("left = (int16_t)high < (int16_t)threshold_high;")
        with w.block("else"):
            w.line(f"left = (uint16_t)bits <= {low};")
        if positive_nan is not None:
            with w.block(f"if (!left && {positive_nan})"):
                w.line("left = 1;")


def _emit_split(w: CWriter, nan_left, go_left: str, go_right: str) -> None:
    """`go_left` when `bits` (x's) <= `threshold` as floats (see BITS_DOC) or x is NaN and `nan_left`, else `go_right`.

    `nan_left` is a C expression, or 0/1 when every node sends NaN the same way. A NaN with the
    sign bit passes the unsigned test and one without fails the signed test, so each branch checks
    for NaN only where the node sends it the other way.
    """
    negative, positive = "bits < threshold", "(int32_t)bits <= (int32_t)threshold"
    negative_nan, positive_nan = _nan_tests(nan_left)
    with w.block("if (bits & 0x80000000u)"):
        _emit_if(w, negative, negative_nan, go_right, go_left)
    with w.block("else"):
        _emit_if(w, positive, positive_nan, go_left, go_right)


def _emit_if(w: CWriter, test: str, nan_test: str | None, then: str, otherwise: str) -> None:
    if nan_test is None:
        head = f"if ({test})"
    else:
        w.line(f"if ({test}")
        head = f"        || ({nan_test}))"
    with w.block(head):
        w.line(then)
    with w.block("else"):
        w.line(otherwise)


def _emit_code(w: CWriter, form: TreeForm, p: Prefix) -> None:
    trees, lay = form.head.trees, form.layout
    nan_rule = ("NaN features go where the fitted model sends missing values." if lay.nan_aware else
                "A NaN feature fails every <= test and goes right.")
    w.comment(f"1 when a feature value goes left at a split node: value <= the threshold whose float32 bits are "
              f"`threshold`, or value is NaN and nan_left. {BITS_DOC}")
    with w.block(f"static inline uint8_t {p.impl}_goes_left(float value, uint32_t threshold, uint8_t nan_left)"):
        w.line("uint32_t bits;")
        w.line("memcpy(&bits, &value, sizeof bits);")
        _emit_split(w, "nan_left", "return 1;", "return 0;")
    w.line()
    w.comment(f"Row of {p}_leaf_value for the leaf x reaches in tree `tree`. The trees are so small that code "
              f"takes less flash than node tables and the loop walking them. {nan_rule} Each split node's "
              "comment reads it as floats; its threshold is scikit-learn's rounded down to float32, which sends "
              "every float x the same way.")
    with w.block(f"static inline {lay.leaf_t} {p.impl}_leaf(const float *x, {lay.tree_t} tree)"):
        if trees.n_trees == 1:
            w.line("(void)tree;")
            _emit_node(w, form, p, int(trees.tree_start[0]))
            return
        # The last tree is the default case, so that every path returns.
        with w.block("switch (tree)"):
            for t in range(trees.n_trees):
                with w.block(f"case {t}:" if t < trees.n_trees - 1 else "default:"):
                    _emit_node(w, form, p, int(trees.tree_start[t]))


def _emit_node(w: CWriter, form: TreeForm, p: Prefix, node: int) -> None:
    """`if (x goes left) { left subtree } right subtree`, each subtree ending in a return."""
    trees, lay = form.head.trees, form.layout
    if node < 0:
        row = int(lay.leaf_row[-1 - node])
        w.line(f"return {row};  /* {comment_text(_leaf_text(form, row, p))} */")
        return
    feature, code = int(trees.feature[node]), int(lay.feature[node])
    nan = (", or NaN" if code & 1 else ", not NaN") if lay.nan_aware else ""
    w.comment(f"{p.input(feature)} <= {_threshold_text(lay.threshold32[node])}{nan}")
    with w.block(f"if ({p.impl}_goes_left(x[{feature}], {_bits_text(int(lay.threshold[node]))}, {code & 1}))"):
        _emit_node(w, form, p, int(trees.left[node]))
    _emit_node(w, form, p, int(trees.right[node]))


def _bits_text(bits: int) -> str:
    return f"0x{bits:08X}u"

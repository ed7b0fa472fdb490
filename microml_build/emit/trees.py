"""C for the tree heads: node tables in flash walked by one small loop, then the forest mean or the boosted sum.

Form. `<name>_leaf(x, tree)` returns the row of the leaf table that x reaches in a tree; the
rest of the code only sums leaf rows. The trees are normally flat node tables (feature,
threshold, left, right) walked by a loop: RAM is a few locals whatever the model size, and
flash is 7 to 10 bytes per split node. Written-out if/else code costs some 46 bytes of AVR code
per split node (a float load, a constant, a soft-float compare call, a branch), so it is
emitted only when the estimate (`Layout.flash_estimate`) says it beats the tables plus their
loop: a model of about three split nodes or fewer.

Node encoding. Children are numbered within their tree, so they fit in one byte for trees of
up to 127 split nodes: with n split nodes in the tree, a child c < n is a split node and c >= n
is a leaf. The leaf values are stored one of two ways, whichever takes less flash:
  per tree: every leaf has its own row; tree t's leaves start at row tree_start[t] + t, since a
            binary tree has one more leaf than split nodes (best for boosting, whose leaf values
            are all different);
  shared:   identical rows are stored once and a leaf child c is row c - n (best for forests of
            classifiers, whose leaves are mostly pure: a handful of distinct rows).
NaN-aware models (scikit-learn accepts NaN as missing) store 2 x feature + (NaN goes left).

Thresholds are scikit-learn's float64 thresholds rounded down to float32 (`threshold_float32`),
which makes the float32 comparison in C take exactly scikit-learn's path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.emit.c_writer import LINE_WIDTH, CWriter, float_literal, int_type, table
from microml_build.errors import MicroMLError
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor, Trees

THRESHOLD_DOC = ("The thresholds are scikit-learn's float64 thresholds rounded down to float32: for every float x, "
                 "x <= the float32 threshold exactly when x <= the float64 one, so x takes scikit-learn's path.")
READ = {"uint8_t": "MICROML_READ_U8", "uint16_t": "MICROML_READ_U16"}
BYTES = {"uint8_t": 1, "uint16_t": 2}


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


# Flash estimates for choosing the form, measured with avr-gcc -Os for the ATmega328P (the tightest
# target; on Cortex-M the two forms differ by a few bytes at the sizes where code can win): the loop
# walking node tables costs about WALK_BYTES of code; written-out code about CODE_SPLIT_BYTES per split
# node (load x[f], load the constant, call the soft-float compare, branch) and CODE_TREE_BYTES per tree
# after the first (its case of the switch on the tree). So code wins up to about three split nodes.
WALK_BYTES = 140
CODE_SPLIT_BYTES = 46
CODE_TREE_BYTES = 40


@dataclass(frozen=True)
class Layout:
    """The trees as the C holds them: node tables (or code) and the leaf table."""

    tree_start: np.ndarray     # (n_trees + 1,) first split node of each tree, then the total
    feature: np.ndarray        # (n_splits,) feature, or 2 x feature + (NaN goes left) when NaN-aware
    threshold: np.ndarray      # (n_splits,) float32
    left: np.ndarray           # (n_splits,) child numbered within the tree
    right: np.ndarray
    leaf_value: np.ndarray     # (n_rows, width) float32
    leaf_row: np.ndarray       # (n_leaves,) row of leaf_value for each leaf of the IR
    shared: bool               # leaf rows shared by all trees (else one row per leaf, tree by tree)
    code: bool                 # trees written out as if/else code instead of node tables
    nan_aware: bool

    @property
    def start_t(self) -> str:
        return int_type(int(self.tree_start[-1]))

    @property
    def feature_t(self) -> str:
        return int_type(int(self.feature.max(initial=0)))

    @property
    def child_t(self) -> str:
        return int_type(int(max(self.left.max(), self.right.max())))

    @property
    def leaf_t(self) -> str:
        return int_type(len(self.leaf_value) - 1)

    @property
    def tree_t(self) -> str:
        return int_type(len(self.tree_start) - 1)

    @property
    def fits(self) -> bool:
        """Node tables need indices that MICROML_READ_U8/U16 can read."""
        return all(t in BYTES for t in (self.start_t, self.feature_t, self.child_t))

    @property
    def table_bytes(self) -> int:
        """Bytes of flash tables: the leaf values, plus the node tables unless the trees are code."""
        size = self.leaf_value.size * 4
        if not self.code:
            size += (len(self.tree_start) * BYTES[self.start_t]
                     + len(self.feature) * (BYTES[self.feature_t] + 4 + 2 * BYTES[self.child_t]))
        return size

    @property
    def flash_estimate(self) -> int:
        if not self.code:
            return self.table_bytes + WALK_BYTES
        n_trees = len(self.tree_start) - 1
        return self.table_bytes + CODE_SPLIT_BYTES * len(self.feature) + CODE_TREE_BYTES * (n_trees - 1)


def layout(trees: Trees) -> Layout:
    """The form that takes the least flash by the estimates above; ties go to node tables, one leaf row per leaf."""
    tables = [_layout(trees, shared, code=False) for shared in (False, True)]
    tables = [candidate for candidate in tables if candidate.fits]
    if not tables:
        raise MicroMLError(f"the trees are too large for 16-bit node tables ({trees.n_splits} split nodes, "
                           f"{trees.n_leaves} leaves)", key="train",
                           fix="limit the model size (max_depth, max_leaf_nodes, n_estimators or max_iter)")
    code = [_layout(trees, shared, code=True) for shared in (False, True)]
    return min(tables + code, key=lambda candidate: candidate.flash_estimate)


def _layout(trees: Trees, shared: bool, code: bool) -> Layout:
    start = trees.tree_start
    values = trees.leaf_value.astype(np.float32)
    tree_of_split = np.repeat(np.arange(trees.n_trees), np.diff(start))
    n_in_tree = np.diff(start)[tree_of_split]
    if shared:
        # Identical float32 rows are identical to the C: keep each once, in order of first use.
        rows: dict[bytes, int] = {}
        row_of_leaf = np.array([rows.setdefault(row.tobytes(), len(rows)) for row in values])
        values = values[np.unique(row_of_leaf, return_index=True)[1]]
        leaf_base = np.zeros(trees.n_splits, dtype=np.int64)
    else:
        row_of_leaf = np.arange(trees.n_leaves)
        leaf_base = (start[:-1] + np.arange(trees.n_trees))[tree_of_split]

    def local(child: np.ndarray) -> np.ndarray:
        split = child - start[tree_of_split]
        leaf = n_in_tree + row_of_leaf[np.maximum(-1 - child, 0)] - leaf_base
        return np.where(child >= 0, split, leaf)

    feature = trees.feature * 2 + trees.missing_left if trees.nan_aware else trees.feature
    return Layout(tree_start=start, feature=np.asarray(feature, dtype=np.int64),
                  threshold=threshold_float32(trees.threshold), left=local(trees.left), right=local(trees.right),
                  leaf_value=values, leaf_row=row_of_leaf, shared=shared, code=code, nan_aware=trees.nan_aware)


def emit_forest_classifier(w: CWriter, head: ForestClassifier, p: str, n_features: int) -> int:
    """Mean of the trees' class probabilities, argmax; returns the bytes of flash tables."""
    P = p.upper()
    lay = _emit_trees(w, head.trees, p, "Class probabilities of each leaf (its tree's predict_proba row)")
    class_t = int_type(head.n_outputs)
    n_trees = head.trees.n_trees
    what = "the mean over the trees of the class fractions of the leaf x reaches" if n_trees > 1 else \
        "the class fractions of the leaf x reaches"
    w.comment(f"Class probabilities of x, as scikit-learn's predict_proba: {what}.")
    with w.block(f"static inline void {p}_predict_proba(const float *x, float *proba)"):
        with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] = 0.0f;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"const {lay.leaf_t} leaf = {p}_leaf(x, tree);")
            with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                w.line(f"proba[c] += MICROML_READ_FLOAT(&{p}_leaf_value[leaf][c]);")
        if n_trees > 1:
            w.comment("Summed in tree order, then divided, as scikit-learn does.")
            with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
                w.line(f"proba[c] /= (float){P}_N_TREES;")
    w.line()
    w.comment("Decision values: the class probabilities (scikit-learn's trees and forests predict from them; "
              "they have no decision_function).")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        w.line(f"{p}_predict_proba(x, decision);")
    w.line()
    kind = "averaged, not voted, as scikit-learn does" if n_trees > 1 else "as scikit-learn's tree does"
    w.comment(f"Class index of x: index into {p}_label(). The most probable class ({kind}); the first one on a "
              "tie, like numpy's argmax.")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line(f"float proba[{P}_N_CLASSES];")
        w.line(f"{class_t} best = 0;")
        w.line(f"{p}_predict_proba(x, proba);")
        _argmax(w, "proba", class_t, f"{P}_N_CLASSES")
    return lay.table_bytes


def emit_forest_regressor(w: CWriter, head: ForestRegressor, p: str, n_features: int) -> int:
    """Mean of the trees' leaf values; returns the bytes of flash tables."""
    P = p.upper()
    n_trees = head.trees.n_trees
    lay = _emit_trees(w, head.trees, p, "Value of each leaf" if head.n_outputs == 1 else "Values of each leaf")
    what = "the mean of the trees' leaf values, summed in tree order and then divided" if n_trees > 1 else \
        "the value of the leaf x reaches"
    if head.n_outputs == 1:
        w.comment(f"Predicted value for x, as scikit-learn's predict: {what}.")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            w.line("float sum = 0.0f;")
            with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum += MICROML_READ_FLOAT(&{p}_leaf_value[{p}_leaf(x, tree)]);")
            w.line(f"return sum / (float){P}_N_TREES;" if n_trees > 1 else "return sum;")
        w.line()
        w.comment(f"Same as {p}_predict_value().")
        with w.block(f"static inline float {p}_predict(const float *x)"):
            w.line(f"return {p}_predict_value(x);")
        return lay.table_bytes
    out_t = int_type(head.n_outputs)
    w.comment(f"Predicted values for x, as scikit-learn's predict, one per output: {what}.")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line("y[k] = 0.0f;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"const {lay.leaf_t} leaf = {p}_leaf(x, tree);")
            with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
                w.line(f"y[k] += MICROML_READ_FLOAT(&{p}_leaf_value[leaf][k]);")
        if n_trees > 1:
            with w.block(f"for ({out_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
                w.line(f"y[k] /= (float){P}_N_TREES;")
    return lay.table_bytes


def emit_boosted_classifier(w: CWriter, head: BoostedClassifier, p: str, n_features: int) -> int:
    """Init score plus the trees' values, then the sign (two classes) or argmax; returns the bytes of flash tables."""
    P = p.upper()
    K = head.n_outputs
    lay = _emit_trees(w, head.trees, p, "Value of each leaf, learning rate applied")
    size = lay.table_bytes + _emit_init(w, head.init, p)
    if K == 1:
        w.comment("Raw score, as scikit-learn's decision_function: the init score plus each tree's leaf value, "
                  "added in tree order.")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            w.line(f"float score = {P}_INIT;")
            with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"score += MICROML_READ_FLOAT(&{p}_leaf_value[{p}_leaf(x, tree)]);")
            w.line("decision[0] = score;")
        w.line()
        if head.zero_is_positive:
            rule = "a score of zero or above is class 1 (GradientBoostingClassifier's rule)"
            test = "score >= 0.0f"
        else:
            rule = "a positive score is class 1, zero is class 0 (HistGradientBoostingClassifier's rule)"
            test = "score > 0.0f"
        w.comment(f"Class index of x (0 or 1): index into {p}_label(); {rule}.")
        with w.block(f"static inline int {p}_predict(const float *x)"):
            w.line("float score;")
            w.line(f"{p}_decision_function(x, &score);")
            w.line(f"return {test} ? 1 : 0;")
        return size
    class_t = int_type(K)
    w.comment("Raw scores, one per class, as scikit-learn's decision_function: the init score plus each tree's "
              "leaf value, added in tree order. The trees are stored stage by stage, one tree per class in each "
              "stage, so tree t adds to class t % N_CLASSES.")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        with w.block(f"for ({class_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line(f"decision[c] = MICROML_READ_FLOAT(&{p}_init[c]);")
        w.line(f"{class_t} k = 0;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"decision[k] += MICROML_READ_FLOAT(&{p}_leaf_value[{p}_leaf(x, tree)]);")
            with w.block(f"if (++k == {P}_N_CLASSES)"):
                w.line("k = 0;")
    w.line()
    w.comment(f"Class index of x: index into {p}_label(). The highest score; the first class on a tie, "
              "like numpy's argmax.")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line(f"float score[{P}_N_CLASSES];")
        w.line(f"{class_t} best = 0;")
        w.line(f"{p}_decision_function(x, score);")
        _argmax(w, "score", class_t, f"{P}_N_CLASSES")
    return size


def emit_boosted_regressor(w: CWriter, head: BoostedRegressor, p: str, n_features: int) -> int:
    """Init score plus the trees' values, through the inverse link; returns the bytes of flash tables."""
    P = p.upper()
    lay = _emit_trees(w, head.trees, p, "Value of each leaf, learning rate applied")
    size = lay.table_bytes + _emit_init(w, head.init, p)
    if head.link == "log":
        w.comment("Predicted value for x, as scikit-learn's predict: exp of the raw score (the loss has a log "
                  "link), the raw score being the init score plus each tree's leaf value, added in tree order.")
    else:
        w.comment("Predicted value for x, as scikit-learn's predict: the init score plus each tree's leaf value, "
                  "added in tree order.")
    with w.block(f"static inline float {p}_predict_value(const float *x)"):
        w.line(f"float score = {P}_INIT;")
        with w.block(f"for ({lay.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
            w.line(f"score += MICROML_READ_FLOAT(&{p}_leaf_value[{p}_leaf(x, tree)]);")
        w.line("return expf(score);" if head.link == "log" else "return score;")
    w.line()
    w.comment(f"Same as {p}_predict_value().")
    with w.block(f"static inline float {p}_predict(const float *x)"):
        w.line(f"return {p}_predict_value(x);")
    return size


def _emit_init(w: CWriter, init: np.ndarray, p: str) -> int:
    P = p.upper()
    if len(init) == 1:
        w.line(f"#define {P}_INIT {float_literal(init[0])}")
        w.line()
        return 0
    table(w, f"{p}_init", init, "Init score of each class (the raw score before any tree):")
    w.line()
    return init.size * 4


def _argmax(w: CWriter, array: str, index_t: str, count: str) -> None:
    with w.block(f"for ({index_t} c = 1; c < {count}; c++)"):
        with w.block(f"if ({array}[c] > {array}[best])"):
            w.line("best = c;")
    w.line("return best;")


def _emit_trees(w: CWriter, trees: Trees, p: str, leaf_doc: str) -> Layout:
    """The leaf table, the node tables (or code) and `<p>_leaf(x, tree)`: the leaf row x reaches in a tree."""
    P = p.upper()
    lay = layout(trees)
    w.line(f"#define {P}_N_TREES {trees.n_trees}")
    w.line()
    if not lay.code:
        _emit_node_tables(w, lay, p)
    rows = "one row per distinct leaf" if lay.shared else "one row per leaf, tree by tree"
    values = lay.leaf_value[:, 0] if lay.leaf_value.shape[1] == 1 else lay.leaf_value
    table(w, f"{p}_leaf_value", values, f"{leaf_doc}, {rows}:")
    w.line()
    if lay.code:
        _emit_code(w, trees, lay, p)
    else:
        _emit_walk(w, lay, p)
    w.line()
    return lay


def _emit_node_tables(w: CWriter, lay: Layout, p: str) -> None:
    leaf_rule = (f"row c - n of {p}_leaf_value (identical leaves are stored once)" if lay.shared else
                 f"row {p}_tree_start[t] + t + (c - n) of {p}_leaf_value (tree t's leaves follow those of the "
                 "trees before it, each tree having one more leaf than split nodes)")
    nan_rule = (f" {p}_feature holds 2 x feature + 1 where a missing value (NaN) goes left, 2 x feature where it "
                "goes right, as the fitted model sends it." if lay.nan_aware else
                " A NaN feature fails every <= test and goes right.")
    w.comment(f"The trees, as tables in flash walked by {p}_leaf(): RAM is a few locals whatever the model size. "
              f"Tree t's split nodes are {p}_tree_start[t] .. {p}_tree_start[t + 1] - 1, its root first. Split "
              f"node i sends x to its left child when x[feature] <= {p}_threshold[i], else to its right child. "
              f"Children are numbered within their tree: with n split nodes in tree t, a child c < n is split node "
              f"{p}_tree_start[t] + c, a child c >= n is a leaf, {leaf_rule}.{nan_rule} {THRESHOLD_DOC}")
    w.line()
    table(w, f"{p}_tree_start", lay.tree_start, "First split node of each tree, then the total:", ctype=lay.start_t)
    w.line()
    feature_doc = ("Feature tested by each split node, times 2, plus 1 where NaN goes left:" if lay.nan_aware
                   else "Feature tested by each split node:")
    table(w, f"{p}_feature", lay.feature, feature_doc, ctype=lay.feature_t)
    w.line()
    _float_table(w, f"{p}_threshold", lay.threshold, "Threshold of each split node:")
    w.line()
    table(w, f"{p}_left", lay.left, "Left child of each split node (x[feature] <= threshold):", ctype=lay.child_t)
    w.line()
    table(w, f"{p}_right", lay.right, "Right child of each split node:", ctype=lay.child_t)
    w.line()


def _emit_walk(w: CWriter, lay: Layout, p: str) -> None:
    start_t, child_t, feature_t, leaf_t = lay.start_t, lay.child_t, lay.feature_t, lay.leaf_t
    w.comment(f"Row of {p}_leaf_value for the leaf x reaches in tree `tree`.")
    with w.block(f"static inline {leaf_t} {p}_leaf(const float *x, {lay.tree_t} tree)"):
        w.line(f"const {start_t} start = {READ[start_t]}(&{p}_tree_start[tree]);")
        w.line(f"const {child_t} n_splits = ({child_t})({READ[start_t]}(&{p}_tree_start[tree + 1]) - start);")
        w.line(f"{child_t} node = 0;")
        with w.block("while (node < n_splits)"):
            w.line(f"const {start_t} i = ({start_t})(start + node);")
            if lay.nan_aware:
                w.line(f"const {feature_t} split = {READ[feature_t]}(&{p}_feature[i]);")
                w.line("const float value = x[split >> 1];")
                w.line(f"const int go_left = value <= MICROML_READ_FLOAT(&{p}_threshold[i]) "
                       "|| ((split & 1) && isnan(value));")
            else:
                w.line(f"const float value = x[{READ[feature_t]}(&{p}_feature[i])];")
                w.line(f"const int go_left = value <= MICROML_READ_FLOAT(&{p}_threshold[i]);")
            w.line(f"node = go_left ? {READ[child_t]}(&{p}_left[i]) : {READ[child_t]}(&{p}_right[i]);")
        if lay.shared:
            w.line(f"return ({leaf_t})(node - n_splits);")
        else:
            w.line(f"return ({leaf_t})(start + tree + (node - n_splits));")


def _emit_code(w: CWriter, trees: Trees, lay: Layout, p: str) -> None:
    nan_rule = ("NaN features go where the fitted model sends missing values." if lay.nan_aware else
                "A NaN feature fails every <= test and goes right.")
    w.comment(f"Row of {p}_leaf_value for the leaf x reaches in tree `tree`. The trees are so small that code "
              f"takes less flash than node tables and the loop walking them. {nan_rule} {THRESHOLD_DOC}")
    with w.block(f"static inline {lay.leaf_t} {p}_leaf(const float *x, {lay.tree_t} tree)"):
        if trees.n_trees == 1:
            w.line("(void)tree;")
            _emit_node(w, trees, lay, int(trees.tree_start[0]))
            return
        # The last tree is the default case, so that every path returns.
        with w.block("switch (tree)"):
            for t in range(trees.n_trees):
                with w.block(f"case {t}:" if t < trees.n_trees - 1 else "default:"):
                    _emit_node(w, trees, lay, int(trees.tree_start[t]))


def _emit_node(w: CWriter, trees: Trees, lay: Layout, node: int) -> None:
    """`if (x goes left) { left subtree } right subtree`, each subtree ending in a return."""
    if node < 0:
        w.line(f"return {int(lay.leaf_row[-1 - node])};")
        return
    x = f"x[{int(trees.feature[node])}]"
    test = f"{x} <= {_float_text(lay.threshold[node])}"
    if trees.nan_aware and trees.missing_left[node]:
        test += f" || isnan({x})"
    with w.block(f"if ({test})"):
        _emit_node(w, trees, lay, int(trees.left[node]))
    _emit_node(w, trees, lay, int(trees.right[node]))


def _float_table(w: CWriter, name: str, values: np.ndarray, doc: str) -> None:
    """Like c_writer.table for floats, but +-inf allowed (HistGradientBoosting splits all numbers from NaN at +inf)."""
    w.comment(f"{doc} {len(values)} float = {len(values) * 4} bytes.")
    with w.block(f"static const float {name}[{len(values)}] MICROML_FLASH =", tail="};"):
        line, width = "", LINE_WIDTH - 4
        for value in values.tolist():
            item = _float_text(value) + ","
            if line and len(line) + 1 + len(item) > width:
                w.line(line)
                line = item
            else:
                line = f"{line} {item}" if line else item
        if line:
            w.line(line)


def _float_text(value: float) -> str:
    return float_literal(value) if np.isfinite(value) else "-INFINITY" if value < 0 else "INFINITY"

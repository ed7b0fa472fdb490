"""C for fixed-point trees, forests and boosting: integer compares, integer sums, as code or as node tables.

Form. Written-out code (`if (xq[7] <= 1234) { ... } else { ... }`, a leaf adds its constants to
the sums or returns its class) compares a register with an immediate: about 9 AVR cycles and
12 bytes of flash per split node. Walking node tables reads each node's feature, threshold and
child from flash (3 cycles a byte) and takes 5-7x the cycles (measured on breast_cancer: a
15-node tree 325 vs 59 cycles, a 10-tree forest 3,164 vs 523) for 1/3 of the flash (6 to 8
bytes a node). Fixed point is chosen for speed, so the code is emitted while its flash
estimate (`CodeEstimate`) stays within `CODE_FACTOR` times the tables' and `CODE_LIMIT`;
bigger models walk node tables (`<name>_leaf`).

Sums. Every leaf value is an integer (quantize.py says how it is scaled); a tree adds its leaf's
values to int16 or int32 sums, the type from the largest sum the trees can reach. Two-class
forests sum p1 - p0 and test the sign; boosting adds tree t to output t % N_CLASSES.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.emit.c_writer import CWriter, int_type
from microml_build.emit.fixed import READ, _int_table, output_scale
from microml_build.errors import MicroMLError
from microml_build.passes.quantize import FixedForestClassifier, FixedModel, FixedTrees, FixedTreeSum

# AVR flash estimates (avr-gcc -Os, fitted to breast_cancer trees, forests of 3 to 30 trees and
# boosting, within 10%): a split node of code (load xq[f], compare with the immediate, branch), a
# leaf's return of its class or its jump past the other branch, a leaf's add of a constant to an
# int16 / int32 sum; the table walker's loop and sums.
CODE_SPLIT_BYTES = 12
CODE_RETURN_BYTES = 6
CODE_JUMP_BYTES = 2
CODE_ADD_BYTES = {"int16_t": 6, "int32_t": 9}
WALK_BYTES = 200
CODE_FACTOR = 3
CODE_LIMIT = 8 * 1024


@dataclass(frozen=True)
class Sums:
    """What the leaves feed: `n_sums` accumulators, tree t's column c adding to sum `target(t, c)`."""

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


def sums_of(fm: FixedModel, p: str) -> Sums:
    head = fm.head
    prec = fm.precision
    if isinstance(head, FixedForestClassifier):
        if head.leaf_class is not None:
            return Sums("class", 0, (), head.leaf_class[:, None], int_type(head.n_classes), "", False)
        if head.n_classes == 2:
            return Sums("sign", 1, (0,), head.leaf_value, prec.weight_type,
                        _sum_type(head.trees.n_trees * prec.weight_max), False)
        return Sums("argmax", head.n_classes, (0,) * head.n_classes, head.leaf_value, prec.prob_type,
                    _sum_type(head.trees.n_trees * prec.prob_max), False)
    assert isinstance(head, FixedTreeSum)
    K = head.n_outputs
    sum_t = _sum_type(head.bound)
    if head.kind == "boosted_classifier":
        finish = "sign" if K == 1 else "argmax"
        return Sums(finish, K, tuple(int(v) for v in head.init), head.leaf_value, prec.weight_type, sum_t, True,
                    ">=" if head.zero_is_positive else ">")
    return Sums("value", K, (0,) * K, head.leaf_value, prec.weight_type, sum_t, head.kind == "boosted_regressor")


def _sum_type(bound: int) -> str:
    return "int16_t" if bound <= 32767 else "int32_t"


@dataclass(frozen=True)
class CodeEstimate:
    code: int                  # written-out code, bytes
    tables: int                # node and leaf tables plus the walker, bytes

    @property
    def use_code(self) -> bool:
        return self.code <= min(CODE_FACTOR * self.tables, CODE_LIMIT)


def estimate(trees: FixedTrees, sums: Sums, tables: int) -> CodeEstimate:
    n_splits = len(trees.feature)
    n_leaves = len(sums.table)
    if sums.finish == "class":
        leaves = n_leaves * CODE_RETURN_BYTES
    else:
        leaves = n_leaves * CODE_JUMP_BYTES + int(np.count_nonzero(sums.table)) * CODE_ADD_BYTES[sums.sum_t]
    return CodeEstimate(n_splits * CODE_SPLIT_BYTES + leaves, tables + WALK_BYTES)


class NodeTables:
    """Node tables with children numbered within their tree; one leaf row per leaf, tree by tree."""

    def __init__(self, trees: FixedTrees):
        start = trees.tree_start
        n = np.diff(start)
        tree_of_split = np.repeat(np.arange(trees.n_trees), n)
        leaf_base = (start[:-1] + np.arange(trees.n_trees))[tree_of_split]

        def local(child):
            return np.where(child >= 0, child - start[tree_of_split], n[tree_of_split] + (-1 - child) - leaf_base)

        self.trees = trees
        self.left, self.right = local(trees.left), local(trees.right)
        self.feature = trees.feature * 2 + trees.missing_left if trees.nan_aware else trees.feature
        self.start_t = int_type(int(start[-1]))
        self.child_t = int_type(int(max(self.left.max(), self.right.max())))
        self.feature_t = int_type(int(self.feature.max(initial=0)))
        self.tree_t = int_type(trees.n_trees)
        self.leaf_t = int_type(int(start[-1]) + trees.n_trees - 1)

    @property
    def table_bytes(self) -> int:
        size = {"uint8_t": 1, "uint16_t": 2, "uint32_t": 4}
        return (len(self.trees.tree_start) * size[self.start_t]
                + len(self.feature) * (size[self.feature_t] + 2 + 2 * size[self.child_t]))


def emit_trees(w: CWriter, fm: FixedModel, p: str) -> int:
    """Tables (or code) and `<p>_predict_fixed` of a fixed-point tree head; returns the bytes of flash tables, plus
    the estimated code when the trees are written out as code (its flash is the model's, for the budget check)."""
    P = p.upper()
    head = fm.head
    trees = head.trees
    sums = sums_of(fm, p)
    nodes = NodeTables(trees)
    leaf_bytes = sums.table.size * {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2}[sums.table_t]
    est = estimate(trees, sums, nodes.table_bytes + leaf_bytes)
    w.line(f"#define {P}_N_TREES {trees.n_trees}")
    w.line()
    size = 0
    if isinstance(head, FixedTreeSum) and head.kind != "boosted_classifier":
        size += output_scale(w, p, head.scale, head.offset)
    nan = (f"A missing value ({P}_Q_MISSING) goes where the fitted model sends NaN." if trees.nan_aware else
           f"A missing value ({P}_Q_MISSING) is below every threshold and goes left.")
    thresholds = ("Thresholds are scikit-learn's in the inputs' integer domain, floor(t * 2^E - O), moved where "
                  "needed (within the gap between the training values around t) so that the training rows take "
                  f"scikit-learn's path: {trees.exact} of {len(trees.feature)} split nodes do so for every "
                  "training row.")
    what = _what(fm, sums)
    if est.use_code:
        w.comment(f"{what} The trees are written out as code: each split node compares xq[feature] with its "
                  f"threshold (an immediate, no table read), left when <=. {nan} {thresholds} Code: about "
                  f"{est.code} bytes of flash; node tables would take about {est.tables} and 5-7x the cycles.")
        _code_function(w, fm, sums, p)
        return size + est.code
    if "uint32_t" in (nodes.start_t, nodes.child_t, nodes.feature_t):
        raise MicroMLError("the trees are too large for 16-bit node tables", key="train",
                           fix="limit the model size (max_depth, max_leaf_nodes, n_estimators or max_iter)")
    size += nodes.table_bytes
    _node_tables(w, nodes, p, f"{nan} {thresholds} (Written-out code would take about {est.code} bytes.)")
    values = sums.table[:, 0] if sums.table.shape[1] == 1 else sums.table
    size += _int_table(w, f"{p}_leaf_{'class' if sums.finish == 'class' else 'value'}", values,
                       _leaf_doc(fm, sums) + " One row per leaf, tree by tree:", sums.table_t, row_name="leaf")
    w.line()
    _table_function(w, fm, sums, nodes, p, what)
    return size


def _what(fm: FixedModel, sums: Sums) -> str:
    head = fm.head
    if sums.finish == "class":
        return "Class index of quantized features xq: the class of the leaf xq reaches (its most probable, as " \
               "scikit-learn's tree predicts)."
    if isinstance(head, FixedForestClassifier) and sums.finish == "sign":
        return ("Class index of quantized features xq: each tree adds (p1 - p0) of its leaf, at 2^15 - 1; class 1 "
                "when the sum is above zero, which is when the trees' mean p1 is above their mean p0, "
                "scikit-learn's argmax (class 0 on a tie).")
    if isinstance(head, FixedForestClassifier):
        return ("Class index of quantized features xq: each tree adds its leaf's class fractions (times "
                f"{fm.precision.prob_max}); the largest sum wins, the first on a tie, as scikit-learn's argmax of "
                "the mean.")
    if head.kind == "boosted_classifier":
        rule = ("zero or above is class 1 (GradientBoostingClassifier)" if head.zero_is_positive else
                "above zero is class 1 (HistGradientBoostingClassifier)")
        return ("Class index of quantized features xq: the init score plus each tree's leaf value, in fixed point, "
                + (f"{rule}." if sums.finish == "sign" else "tree t adding to class t % N_CLASSES; the highest "
                   "score wins, the first on a tie."))
    return "Predicted value(s) of quantized features xq in fixed point: the sum of the trees' leaf values."


def _leaf_doc(fm: FixedModel, sums: Sums) -> str:
    head = fm.head
    if sums.finish == "class":
        return "Class of each leaf: the argmax of its class fractions, the first on a tie."
    if isinstance(head, FixedForestClassifier):
        return ("p1 - p0 of each leaf, times 2^15 - 1 (2^7 - 1 for fixed8), rounded." if sums.finish == "sign" else
                f"Class fractions of each leaf (its tree's predict_proba row) times {fm.precision.prob_max}, rounded.")
    return f"Value of each leaf in fixed point; every sum stays within +-{head.bound}."


def _node_tables(w: CWriter, nodes: NodeTables, p: str, doc: str) -> None:
    trees = nodes.trees
    w.comment(f"The trees, as tables in flash walked by {p}_leaf(): tree t's split nodes are {p}_tree_start[t] .. "
              f"{p}_tree_start[t + 1] - 1, its root first. Split node i sends xq to its left child when "
              f"xq[feature] <= {p}_threshold[i], else to its right child; children are numbered within their tree: "
              f"with n split nodes in tree t, a child c < n is split node {p}_tree_start[t] + c, a child c >= n is "
              f"leaf row {p}_tree_start[t] + t + (c - n). {doc}")
    w.line()
    _int_table(w, f"{p}_tree_start", trees.tree_start, "First split node of each tree, then the total:", nodes.start_t)
    w.line()
    _int_table(w, f"{p}_feature", nodes.feature, "Feature tested by each split node" +
               (", times 2, plus 1 where NaN goes left:" if trees.nan_aware else ":"), nodes.feature_t)
    w.line()
    _int_table(w, f"{p}_threshold", trees.threshold, "Threshold of each split node, in the feature's xq units:",
               "int16_t")
    w.line()
    _int_table(w, f"{p}_left", nodes.left, "Left child of each split node (xq[feature] <= threshold):", nodes.child_t)
    w.line()
    _int_table(w, f"{p}_right", nodes.right, "Right child of each split node:", nodes.child_t)
    w.line()
    start_t, child_t, leaf_t = nodes.start_t, nodes.child_t, nodes.leaf_t
    P = p.upper()
    w.comment("Leaf row that quantized features xq reach in tree `tree`: integer compares only.")
    with w.block(f"static inline {leaf_t} {p}_leaf(const int16_t *xq, {nodes.tree_t} tree)"):
        w.line(f"const {start_t} start = {READ[start_t]}(&{p}_tree_start[tree]);")
        w.line(f"const {child_t} n_splits = ({child_t})({READ[start_t]}(&{p}_tree_start[tree + 1]) - start);")
        w.line(f"{child_t} node = 0;")
        with w.block("while (node < n_splits)"):
            w.line(f"const {start_t} i = ({start_t})(start + node);")
            w.line(f"const int16_t threshold = {READ['int16_t']}(&{p}_threshold[i]);")
            if trees.nan_aware:
                w.line(f"const {nodes.feature_t} split = {READ[nodes.feature_t]}(&{p}_feature[i]);")
                w.line("const int16_t value = xq[split >> 1];")
                w.line(f"const int go_left = value == {P}_Q_MISSING ? (split & 1) : value <= threshold;")
            else:
                w.line(f"const int go_left = xq[{READ[nodes.feature_t]}(&{p}_feature[i])] <= threshold;")
            w.line(f"node = go_left ? {READ[child_t]}(&{p}_left[i]) : {READ[child_t]}(&{p}_right[i]);")
        w.line(f"return ({leaf_t})(start + tree + (node - n_splits));")
    w.line()


def _signature(fm: FixedModel, sums: Sums, p: str) -> str:
    if fm.task == "classifier":
        return f"static inline int {p}_predict_fixed(const int16_t *xq)"
    if sums.n_sums == 1:
        return f"static inline int32_t {p}_predict_fixed(const int16_t *xq)"
    return f"static inline void {p}_predict_fixed(const int16_t *xq, int32_t *yq)"


def _declare_sums(w: CWriter, sums: Sums, p: str) -> None:
    if sums.n_sums == 1:
        w.line(f"{sums.sum_t} sum = {sums.init[0]};")
    else:
        w.line(f"{sums.sum_t} sum[{sums.n_sums}] = {{ {', '.join(str(v) for v in sums.init)} }};")


def _finish(w: CWriter, sums: Sums, p: str) -> None:
    P = p.upper()
    if sums.finish == "sign":
        w.line(f"return sum {sums.sign_rule} 0 ? 1 : 0;")
    elif sums.finish == "argmax":
        c_t = int_type(sums.n_sums)
        w.line(f"{c_t} best = 0;")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block("if (sum[c] > sum[best])"):
                w.line("best = c;")
        w.line("return best;")
    elif sums.n_sums == 1:
        w.line("return sum;")
    else:
        with w.block(f"for ({int_type(sums.n_sums)} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line("yq[k] = sum[k];")


def _table_function(w: CWriter, fm: FixedModel, sums: Sums, nodes: NodeTables, p: str, what: str) -> None:
    P = p.upper()
    name = f"{p}_leaf_{'class' if sums.finish == 'class' else 'value'}"
    w.comment(what)
    with w.block(_signature(fm, sums, p)):
        if sums.finish == "class":
            w.line(f"return {READ[sums.table_t]}(&{name}[{p}_leaf(xq, 0)]);")
            return
        _declare_sums(w, sums, p)
        width = sums.table.shape[1]
        if sums.boosted and sums.n_sums > 1:
            k_t = int_type(sums.n_sums)
            w.line(f"{k_t} k = 0;")
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum[k] += {READ[sums.table_t]}(&{name}[{p}_leaf(xq, tree)]);")
                with w.block(f"if (++k == {sums.n_sums})"):
                    w.line("k = 0;")
        elif width == 1:
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum += {READ[sums.table_t]}(&{name}[{p}_leaf(xq, tree)]);")
        else:
            c_t = int_type(width)
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"const {nodes.leaf_t} leaf = {p}_leaf(xq, tree);")
                with w.block(f"for ({c_t} c = 0; c < {width}; c++)"):
                    w.line(f"sum[c] += {READ[sums.table_t]}(&{name}[leaf][c]);")
        _finish(w, sums, p)


def _code_function(w: CWriter, fm: FixedModel, sums: Sums, p: str) -> None:
    trees = fm.head.trees
    P = p.upper()
    with w.block(_signature(fm, sums, p)):
        if sums.finish == "class":
            _code_node(w, fm, sums, trees, int(trees.tree_start[0]), 0, P)
            return
        _declare_sums(w, sums, p)
        for t in range(trees.n_trees):
            if trees.n_trees > 1:
                w.comment(f"tree {t}")
            _code_node(w, fm, sums, trees, int(trees.tree_start[t]), t, P)
        _finish(w, sums, p)


def _code_node(w: CWriter, fm: FixedModel, sums: Sums, trees: FixedTrees, node: int, t: int, P: str) -> None:
    if node < 0:
        leaf = -1 - node
        if sums.finish == "class":
            w.line(f"return {int(sums.table[leaf, 0])};")
            return
        adds = [(sums.target(t, c), int(v)) for c, v in enumerate(sums.table[leaf]) if v]
        for k, v in adds:
            target = "sum" if sums.n_sums == 1 else f"sum[{k}]"
            w.line(f"{target} += {v};" if v > 0 else f"{target} -= {-v};")
        if not adds:
            w.line("/* adds 0 */")
        return
    f = int(trees.feature[node])
    tq = int(trees.threshold[node])
    if trees.nan_aware and not trees.missing_left[node]:
        # Q_MISSING (-32768) must go right: shift every value up by Q_MAX in unsigned arithmetic, which
        # makes -32768 the largest (65535) and keeps the order of all others.
        test = f"(uint16_t)(xq[{f}] + {P}_Q_MAX) <= {tq + 32767}u"
    else:
        test = f"xq[{f}] <= {tq}"
    with w.block(f"if ({test})"):
        _code_node(w, fm, sums, trees, int(trees.left[node]), t, P)
    with w.block("else"):
        _code_node(w, fm, sums, trees, int(trees.right[node]), t, P)

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

from microml_build.cnames import int_type
from microml_build.emit.c_writer import READ, CWriter, table
from microml_build.emit.common import output_scale
from microml_build.ir.fixed import FixedForestClassifier, FixedTrees, FixedTreeSum, Quantized
from microml_build.ir.forms import FixedNodeTables, FixedTreeForm, Sums


def emit_trees(w: CWriter, q: Quantized, form: FixedTreeForm, p: str) -> None:
    """Tables (or code) and `<p>_predict_fixed` of a fixed-point tree head, as the plan says."""
    P = p.upper()
    head = form.core
    trees = head.trees
    sums, nodes = form.sums, form.nodes
    w.line(f"#define {P}_N_TREES {trees.n_trees}")
    w.line()
    if isinstance(head, FixedTreeSum) and head.kind != "boosted_classifier":
        output_scale(w, p, head.scale, head.offset)
    nan = (f"A missing value ({P}_Q_MISSING) goes where the fitted model sends NaN." if trees.nan_aware else
           f"A missing value ({P}_Q_MISSING) is below every threshold and goes left.")
    thresholds = ("Thresholds are scikit-learn's in the inputs' integer domain, floor(t * 2^E - O), moved where "
                  "needed (within the gap between the training values around t) so that the training rows take "
                  f"scikit-learn's path: {trees.exact} of {len(trees.feature)} split nodes do so for every "
                  "training row.")
    what = _what(q, sums)
    if nodes is None:
        w.comment(f"{what} The trees are written out as code: each split node compares xq[feature] with its "
                  f"threshold (an immediate, no table read), left when <=. {nan} {thresholds} Code: about "
                  f"{form.code_bytes} bytes of flash; node tables would take about {form.tables_bytes} and 5-7x the "
                  "cycles.")
        _code_function(w, q, sums, p)
        return
    _node_tables(w, nodes, p, f"{nan} {thresholds} (Written-out code would take about {form.code_bytes} bytes.)")
    values = sums.table[:, 0] if sums.table.shape[1] == 1 else sums.table
    table(w, f"{p}_leaf_{'class' if sums.finish == 'class' else 'value'}", values,
                       _leaf_doc(q, sums) + " One row per leaf, tree by tree:", sums.table_t, row_name="leaf")
    w.line()
    _table_function(w, q, sums, nodes, p, what)


def _what(q: Quantized, sums: Sums) -> str:
    head = q.core
    if sums.finish == "class":
        return "Class index of quantized features xq: the class of the leaf xq reaches (its most probable, as " \
               "scikit-learn's tree predicts)."
    if isinstance(head, FixedForestClassifier) and sums.finish == "sign":
        return ("Class index of quantized features xq: each tree adds (p1 - p0) of its leaf, at 2^15 - 1; class 1 "
                "when the sum is above zero, which is when the trees' mean p1 is above their mean p0, "
                "scikit-learn's argmax (class 0 on a tie).")
    if isinstance(head, FixedForestClassifier):
        return ("Class index of quantized features xq: each tree adds its leaf's class fractions (times "
                f"{q.precision.prob_max}); the largest sum wins, the first on a tie, as scikit-learn's argmax of "
                "the mean.")
    if head.kind == "boosted_classifier":
        rule = ("zero or above is class 1 (GradientBoostingClassifier)" if head.zero_is_positive else
                "above zero is class 1 (HistGradientBoostingClassifier)")
        return ("Class index of quantized features xq: the init score plus each tree's leaf value, in fixed point, "
                + (f"{rule}." if sums.finish == "sign" else "tree t adding to class t % N_CLASSES; the highest "
                   "score wins, the first on a tie."))
    return "Predicted value(s) of quantized features xq in fixed point: the sum of the trees' leaf values."


def _leaf_doc(q: Quantized, sums: Sums) -> str:
    head = q.core
    if sums.finish == "class":
        return "Class of each leaf: the argmax of its class fractions, the first on a tie."
    if isinstance(head, FixedForestClassifier):
        return ("p1 - p0 of each leaf, times 2^15 - 1 (2^7 - 1 for fixed8), rounded." if sums.finish == "sign" else
                f"Class fractions of each leaf (its tree's predict_proba row) times {q.precision.prob_max}, rounded.")
    return f"Value of each leaf in fixed point; every sum stays within +-{head.bound}."


def _node_tables(w: CWriter, nodes: FixedNodeTables, p: str, doc: str) -> None:
    trees = nodes.trees
    w.comment(f"The trees, as tables in flash walked by {p.impl}_leaf(): tree t's split nodes are {p}_tree_start[t] .. "
              f"{p}_tree_start[t + 1] - 1, its root first. Split node i sends xq to its left child when "
              f"xq[feature] <= {p}_threshold[i], else to its right child; children are numbered within their tree: "
              f"with n split nodes in tree t, a child c < n is split node {p}_tree_start[t] + c, a child c >= n is "
              f"leaf row {p}_tree_start[t] + t + (c - n). {doc}")
    w.line()
    table(w, f"{p}_tree_start", trees.tree_start, "First split node of each tree, then the total:", nodes.start_t)
    w.line()
    table(w, f"{p}_feature", nodes.feature, "Feature tested by each split node" +
               (", times 2, plus 1 where NaN goes left:" if trees.nan_aware else ":"), nodes.feature_t)
    w.line()
    table(w, f"{p}_threshold", trees.threshold, "Threshold of each split node, in the feature's xq units:",
               "int16_t")
    w.line()
    table(w, f"{p}_left", nodes.left, "Left child of each split node (xq[feature] <= threshold):", nodes.child_t)
    w.line()
    table(w, f"{p}_right", nodes.right, "Right child of each split node:", nodes.child_t)
    w.line()
    start_t, child_t, leaf_t = nodes.start_t, nodes.child_t, nodes.leaf_t
    P = p.upper()
    w.comment("Leaf row that quantized features xq reach in tree `tree`: integer compares only.")
    with w.block(f"static inline {leaf_t} {p.impl}_leaf(const int16_t *xq, {nodes.tree_t} tree)"):
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


def _signature(q: Quantized, sums: Sums, p: str) -> str:
    if q.task == "classifier":
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


def _table_function(w: CWriter, q: Quantized, sums: Sums, nodes: FixedNodeTables, p: str, what: str) -> None:
    P = p.upper()
    name = f"{p}_leaf_{'class' if sums.finish == 'class' else 'value'}"
    w.comment(what)
    with w.block(_signature(q, sums, p)):
        if sums.finish == "class":
            w.line(f"return {READ[sums.table_t]}(&{name}[{p.impl}_leaf(xq, 0)]);")
            return
        _declare_sums(w, sums, p)
        width = sums.table.shape[1]
        if sums.boosted and sums.n_sums > 1:
            k_t = int_type(sums.n_sums)
            w.line(f"{k_t} k = 0;")
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum[k] += {READ[sums.table_t]}(&{name}[{p.impl}_leaf(xq, tree)]);")
                with w.block(f"if (++k == {sums.n_sums})"):
                    w.line("k = 0;")
        elif width == 1:
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum += {READ[sums.table_t]}(&{name}[{p.impl}_leaf(xq, tree)]);")
        else:
            c_t = int_type(width)
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"const {nodes.leaf_t} leaf = {p.impl}_leaf(xq, tree);")
                with w.block(f"for ({c_t} c = 0; c < {width}; c++)"):
                    w.line(f"sum[c] += {READ[sums.table_t]}(&{name}[leaf][c]);")
        _finish(w, sums, p)


def _code_function(w: CWriter, q: Quantized, sums: Sums, p: str) -> None:
    trees = q.core.trees
    P = p.upper()
    with w.block(_signature(q, sums, p)):
        if sums.finish == "class":
            _code_node(w, q, sums, trees, int(trees.tree_start[0]), 0, P)
            return
        _declare_sums(w, sums, p)
        for t in range(trees.n_trees):
            if trees.n_trees > 1:
                w.comment(f"tree {t}")
            _code_node(w, q, sums, trees, int(trees.tree_start[t]), t, P)
        _finish(w, sums, p)


def _code_node(w: CWriter, q: Quantized, sums: Sums, trees: FixedTrees, node: int, t: int, P: str) -> None:
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
        _code_node(w, q, sums, trees, int(trees.left[node]), t, P)
    with w.block("else"):
        _code_node(w, q, sums, trees, int(trees.right[node]), t, P)

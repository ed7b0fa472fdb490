"""C for fixed-point trees, forests and boosting: integer compares, integer sums, as code or as node tables.

Form. Written-out code (`if (xq[7] <= 1234) { ... } else { ... }`, a leaf adds its constants to
the sums or returns its class) compares a register with an immediate: about 9 AVR cycles and
12 bytes of flash per split node. Walking node tables reads each node's feature, threshold and
child from flash (3 cycles a byte) and takes 5-7x the cycles (measured on breast_cancer: a
15-node tree 325 vs 59 cycles, a 10-tree forest 3,164 vs 523) for 1/3 of the flash (6 to 8
bytes a node). Fixed point is chosen for speed, so the code is emitted while its flash
estimate (`CodeEstimate`) stays within `CODE_FACTOR` times the tables' and `CODE_LIMIT`;
bigger models walk node tables (`<name>_impl_leaf`).

Sums. Every leaf value is an integer (quantize.py says how it is scaled); a tree adds its leaf's
values to int16 or int32 sums, the type from the largest sum the trees can reach. Two-class
forests sum p1 - p0 and test the sign; boosting adds tree t to output t % N_CLASSES.
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import comment_text, int_type
from microml_build.emit.c_writer import READ, CWriter, Prefix, table
from microml_build.emit.common import output_scale
from microml_build.ir.fixed import FixedForestClassifier, FixedTreeSum, Quantized
from microml_build.ir.forms import FixedNodeTables, FixedTreeForm, Sums


def emit_trees(w: CWriter, q: Quantized, form: FixedTreeForm, p: str) -> None:
    """Tables (or code) and `<p>_predict_fixed` of a fixed-point tree head, as the plan says."""
    P = p.upper()
    head = form.core
    trees = head.trees
    sums, nodes = form.sums, form.nodes
    w.line(f"#define {P}_N_TREES {trees.n_trees}")
    if nodes is not None:
        w.line(f"#define {P}_N_SPLITS {len(trees.feature)}   /* split nodes, all trees */")
    w.line()
    if isinstance(head, FixedTreeSum) and head.kind != "boosted_classifier":
        output_scale(w, p, head.scale, head.offset)
    nan = (f"A missing value ({P}_Q_MISSING) goes where the fitted model sends NaN." if trees.nan_aware else
           f"A missing value ({P}_Q_MISSING) is below every threshold and goes left.")
    thresholds = ("A threshold is scikit-learn's t in the feature's integer units, floor(t * 2^E - O), moved within "
                  "the gap between the training values around t where needed so that the training rows take "
                  f"scikit-learn's path ({trees.exact} of {len(trees.feature)} split nodes do for every training "
                  "row); each split's comment gives it back in x's units.")
    what = _what(q, sums)
    if nodes is None:
        w.comment(f"{what} The trees are written out as code: each split node compares xq[feature] with its "
                  f"threshold (an immediate, no table read), left when <=. {nan} {thresholds} Code: about "
                  f"{form.code_bytes} bytes of flash; node tables would take about {form.tables_bytes} and 5-7x the "
                  "cycles.")
        if trees.nan_aware and not trees.missing_left.all():
            w.comment(f"Where a missing value must go right, the test adds {P}_Q_MAX to both sides in uint16: "
                      f"{P}_Q_MISSING (-32768) becomes 65535, above every threshold, and every other value keeps "
                      "its order.")
        _code_function(w, q, sums, p)
        return
    _node_tables(w, q, nodes, sums, p, f"{nan} {thresholds} (Written-out code would take about {form.code_bytes} "
                                       "bytes.)")
    values = sums.table[:, 0] if sums.table.shape[1] == 1 else sums.table
    table(w, f"{p}_leaf_{'class' if sums.finish == 'class' else 'value'}", values,
          _leaf_doc(q, sums) + " One row per leaf, tree by tree:", sums.table_t,
          notes=[_leaf_note(q, sums, leaf, p) for leaf in range(len(sums.table))]
          if p.annotate or values.ndim > 1 else None)
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


def _leaf_note(q: Quantized, sums: Sums, leaf: int, p: Prefix) -> str:
    """What leaf `leaf` adds (or returns), in the model's own units: `leaf 3, tree 1: +0.25`."""
    trees = q.core.trees
    t = int(np.searchsorted(trees.tree_start[:-1] + np.arange(trees.n_trees), leaf, side="right")) - 1
    where = f"leaf {leaf}" + (f", tree {t}" if trees.n_trees > 1 else "")
    return f"{where}: {_leaf_meaning(q, sums, leaf, t, p)}"


def _leaf_meaning(q: Quantized, sums: Sums, leaf: int, t: int, p: Prefix) -> str:
    """The float a leaf's integers stand for."""
    head, row = q.core, sums.table[leaf]
    if sums.finish == "class":
        return f"class {p.label(int(row[0]))}"
    if isinstance(head, FixedForestClassifier):
        if sums.finish == "sign":
            return f"p1 - p0 = {_g(row[0] / q.precision.weight_max)}"
        return "p = " + ", ".join(_g(v / q.precision.prob_max) for v in row)
    if head.kind == "forest_regressor":
        return ", ".join(_signed(v * head.scale[c] * trees_of(head)) for c, v in enumerate(row))
    k = sums.target(t, 0)
    return _signed(row[0] * head.scale[k]) + (f" to class {p.label(k)}" if sums.n_sums > 1 and sums.finish != "value"
                                               else "")


def trees_of(head) -> int:
    return head.trees.n_trees


def _g(value: float) -> str:
    return f"{float(value):.6g}"


def _signed(value: float) -> str:
    return f"{float(value):+.6g}"


def _split_text(q: Quantized, node: int, p: Prefix) -> str:
    """A split node in x's units: `x[1] humidity < 40.0 (xq[1] <= 3200), NaN right`.

    xq = round(x 2^E) - O <= tq exactly when x 2^E < tq + O + 0.5 (half rounds away from zero; at a negative
    x the boundary itself goes left too): below t = (tq + O + 0.5) 2^-E.
    """
    trees, inputs = q.core.trees, q.inputs
    f, tq = int(trees.feature[node]), int(trees.threshold[node])
    t = (tq + int(inputs.offset[f]) + 0.5) * 2.0 ** -int(inputs.exponent[f])
    nan = (", NaN left" if trees.missing_left[node] else ", NaN right") if trees.nan_aware else ""
    return f"{p.input(f)} < {_g(t)} (xq[{f}] <= {tq}){nan}"


def _node_tables(w: CWriter, q: Quantized, nodes: FixedNodeTables, sums: Sums, p: Prefix, doc: str) -> None:
    trees = nodes.trees
    P = p.upper()
    w.comment(f"The trees, as tables walked by {p.impl}_leaf(). Split node i sends xq to {p}_left[i] when "
              f"xq[feature] <= {p}_threshold[i], else to {p}_right[i]; a child c below n, its tree's count of split "
              f"nodes, is a split node, c >= n leaf row {p}_tree_start[t] + t + c - n (tree t). {doc}")
    w.line()
    table(w, f"{p}_tree_start", trees.tree_start, "First split node of each tree, then the total:", nodes.start_t,
          notes=[f"tree {t}" for t in range(trees.n_trees)] + [f"{P}_N_SPLITS"])
    w.line()
    if trees.nan_aware:
        table(w, f"{p}_feature", nodes.feature, "Feature of each split node, as 2 x its index in xq[] + 1 where NaN "
              "goes left:", nodes.feature_t, packed=True, literal=lambda code: f"2 * {int(code) >> 1}" + (
                  " + 1" if int(code) & 1 else ""))
    else:
        table(w, f"{p}_feature", nodes.feature, "Feature of each split node, its index in xq[]:", nodes.feature_t,
              packed=True)
    w.line()

    def child(t: int, n: int, c: int) -> str:
        return f"node {c}" if c < n else f"leaf {int(trees.tree_start[t]) + t + c - n}"

    notes = []
    for t in range(trees.n_trees):
        start, end = int(trees.tree_start[t]), int(trees.tree_start[t + 1])
        for i in range(start, end):
            notes.append(f"tree {t} node {i - start}: {_split_text(q, i, p)} ? {child(t, end - start, nodes.left[i])}"
                         f" : {child(t, end - start, nodes.right[i])}")
    table(w, f"{p}_threshold", trees.threshold, "Threshold of each split node, in the feature's xq units; each note "
          "reads the node in x's units:", "int16_t", packed=True, notes=notes if p.annotate else None)
    w.line()
    table(w, f"{p}_left", nodes.left, "Left child of each split node (xq[feature] <= threshold):", nodes.child_t,
          packed=True)
    w.line()
    table(w, f"{p}_right", nodes.right, "Right child of each split node:", nodes.child_t, packed=True)
    w.line()
    start_t, child_t, leaf_t = nodes.start_t, nodes.child_t, nodes.leaf_t
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


def _declare_sums(w: CWriter, q: Quantized, sums: Sums, p: Prefix) -> None:
    count = _count(q, p)
    init = ""
    if any(sums.init):
        init = "  /* the init score" + ("s" if sums.n_sums > 1 else "") + ", " + ", ".join(
            _g(v * q.core.scale[k]) for k, v in enumerate(sums.init)) + " */"
    if sums.n_sums == 1:
        w.line(f"{sums.sum_t} sum = {sums.init[0]};{init}")
    else:
        w.line(f"{sums.sum_t} sum[{count}] = {{ {', '.join(str(v) for v in sums.init)} }};{init}")


def _count(q: Quantized, p: Prefix) -> str:
    """The macro counting the sums: a classifier's classes, a regressor's outputs."""
    return f"{p.upper()}_N_CLASSES" if q.task == "classifier" else f"{p.upper()}_N_OUTPUTS"


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
        _declare_sums(w, q, sums, p)
        width = sums.table.shape[1]
        if sums.boosted and sums.n_sums > 1:
            k_t = int_type(sums.n_sums)
            w.line(f"{k_t} k = 0;   /* tree t adds to class t % {P}_N_CLASSES */")
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum[k] += {READ[sums.table_t]}(&{name}[{p.impl}_leaf(xq, tree)]);")
                with w.block(f"if (++k == {_count(q, p)})"):
                    w.line("k = 0;")
        elif width == 1:
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"sum += {READ[sums.table_t]}(&{name}[{p.impl}_leaf(xq, tree)]);")
        else:
            c_t = int_type(width)
            with w.block(f"for ({nodes.tree_t} tree = 0; tree < {P}_N_TREES; tree++)"):
                w.line(f"const {nodes.leaf_t} leaf = {p.impl}_leaf(xq, tree);")
                with w.block(f"for ({c_t} c = 0; c < {_count(q, p)}; c++)"):
                    w.line(f"sum[c] += {READ[sums.table_t]}(&{name}[leaf][c]);")
        _finish(w, sums, p)


def _code_function(w: CWriter, q: Quantized, sums: Sums, p: Prefix) -> None:
    trees = q.core.trees
    with w.block(_signature(q, sums, p)):
        if sums.finish == "class":
            _code_node(w, q, sums, int(trees.tree_start[0]), 0, p)
            return
        _declare_sums(w, q, sums, p)
        for t in range(trees.n_trees):
            if trees.n_trees > 1:
                w.comment(f"tree {t}")
            _code_node(w, q, sums, int(trees.tree_start[t]), t, p)
        _finish(w, sums, p)


def _code_node(w: CWriter, q: Quantized, sums: Sums, node: int, t: int, p: Prefix) -> None:
    trees = q.core.trees
    if node < 0:
        leaf = -1 - node
        meaning = comment_text(_leaf_meaning(q, sums, leaf, t, p))
        if sums.finish == "class":
            w.line(f"return {int(sums.table[leaf, 0])};  /* leaf {leaf}: {meaning} */")
            return
        adds = [(sums.target(t, c), int(v)) for c, v in enumerate(sums.table[leaf]) if v]
        for k, v in adds:
            target = "sum" if sums.n_sums == 1 else f"sum[{k}]"
            w.line((f"{target} += {v};" if v > 0 else f"{target} -= {-v};") + f"  /* leaf {leaf}: {meaning} */")
        if not adds:
            w.line(f"/* leaf {leaf}: adds 0 */")
        return
    f = int(trees.feature[node])
    tq = int(trees.threshold[node])
    if trees.nan_aware and not trees.missing_left[node]:
        # The same threshold as the plain test, shifted in unsigned arithmetic (int has 16 bits on AVR, where
        # xq + Q_MAX in int would overflow): the missing value -32768 becomes the largest, 65535.
        test = f"(uint16_t)((uint16_t)xq[{f}] + {p.upper()}_Q_MAX) <= (uint16_t)({tq}L + {p.upper()}_Q_MAX)"
    else:
        test = f"xq[{f}] <= {tq}"
    w.comment(_split_text(q, node, p))
    with w.block(f"if ({test})"):
        _code_node(w, q, sums, int(trees.left[node]), t, p)
    with w.block("else"):
        _code_node(w, q, sums, int(trees.right[node]), t, p)

"""Planning tree heads: node tables or code, shared or per-tree leaves, a step table for one feature; and for
integer trees, tables or code and the width of the sums. Choices follow AVR flash estimates (the tightest
target); the forms are in `ir/forms.py`, their C in `emit/trees.py`, `emit/step_tables.py`, `emit/fixed_trees.py`.
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import BYTES, int_type
from microml_build.errors import MicroMLError
from microml_build.ir import NEAR_TIE
from microml_build.ir.fixed import FixedForestClassifier, FixedTrees, FixedTreeSum, Precision
from microml_build.ir.forms import (ClassSteps, FixedNodeTables, FixedTreeForm, Layout, StepForm, Steps, Sums,
                                    TreeForm)
from microml_build.ir.trees import ForestClassifier, Trees, threshold_bits, threshold_float32

# Flash estimates for choosing the form, measured with avr-gcc -Os for the ATmega328P (the tightest
# target; on Cortex-M the two forms differ by a few bytes at the sizes where code can win): the loop
# walking node tables costs about WALK_BYTES of code; written-out code about CODE_SPLIT_BYTES per split
# node (load x[f], compare its bits with the threshold's, branch) and CODE_TREE_BYTES per tree after the
# first (its case of the switch on the tree); from CODE_INLINE_SPLITS split nodes on, gcc calls the
# comparison instead of inlining it, which costs CODE_COMPARE_BYTES once (and saves a little per node).
# So code wins up to about three split nodes. Comparing thresholds in halves (several trees) adds about
# HALVES_BYTES to the walk (18 B on the benchmark's 10-tree forest).
WALK_BYTES = 114
HALVES_BYTES = 20
CODE_SPLIT_BYTES = 44
CODE_TREE_BYTES = 8
CODE_INLINE_SPLITS = 4
CODE_COMPARE_BYTES = 40

# avr-gcc -Os, ATmega328P: the binary search, the NaN test and the row read (about 90 B on Cortex-M4),
# measured on the TFLM sine clone (the node walk it replaces is WALK_BYTES).
SEARCH_BYTES = 170

# Integer trees, AVR flash estimates (avr-gcc -Os, fitted to breast_cancer trees, forests of 3 to 30 trees
# and boosting, within 10%): a split node of code (load xq[f], compare with the immediate, branch), a
# leaf's return of its class or its jump past the other branch, a leaf's add of a constant to an
# int16 / int32 sum; the table walker's loop and sums. Code compares a register with an immediate, about
# 9 AVR cycles a node, where walking tables takes 5-7x the cycles (measured on breast_cancer: a 15-node
# tree 325 vs 59 cycles, a 10-tree forest 3,164 vs 523) for 1/3 of the flash; fixed point is chosen for
# speed, so code is chosen while it stays within FIXED_CODE_FACTOR times the tables and FIXED_CODE_LIMIT.
FIXED_CODE_SPLIT_BYTES = 12
FIXED_CODE_RETURN_BYTES = 6
FIXED_CODE_JUMP_BYTES = 2
FIXED_CODE_ADD_BYTES = {"int16_t": 6, "int32_t": 9}
FIXED_WALK_BYTES = 200
FIXED_CODE_FACTOR = 3
FIXED_CODE_LIMIT = 8 * 1024



# ---------------------------------------------------------------------------------------------
# Float trees


def plan_trees(head, n_features: int, prefer: str | None = None, float_sums: bool = False) -> TreeForm | StepForm:
    """The form of a float tree head that takes the least flash, or the one `prefer` names: "steps", "nodes"
    (tables or code, whichever is smaller), "tables" or "code". `float_sums`: a forest classifier's predict()
    sums float probabilities even where integer sums would do (tests reach that path with it).

    A classifier's node form is counted at one byte per leaf row read, its smallest (a single tree's
    class), against the step form.
    """
    steps = step_function(head, n_features) if prefer in (None, "steps") else None
    if prefer == "steps" and steps is None:
        raise ValueError("the trees test more than one feature: no step form")
    if steps is not None and (prefer == "steps" or _steps_flash(steps) < _flash(
            layout(head.trees, 1 if head.task == "classifier" else None))):
        return StepForm(head, steps)
    return _tree_form(head, prefer if prefer in ("tables", "code") else None, float_sums)


def _tree_form(head, prefer: str | None, float_sums: bool) -> TreeForm:
    trees = head.trees
    row_key, row_bytes, one = None, None, None
    if isinstance(head, ForestClassifier):
        K = head.n_outputs
        one = proba_one(trees.n_trees, K) if trees.n_trees > 1 and not float_sums else None
        if trees.n_trees == 1:
            # One tree: predict() is the argmax of the leaf's probabilities, in float64 as scikit-learn takes it.
            row_key, row_bytes = np.argmax(trees.leaf_value, axis=1), 1
        elif one is not None:
            row_key = proba_integers(trees.leaf_value, one)
            row_key = row_key[:, 1:] if K == 2 else row_key
            row_bytes = 4 * row_key.shape[1]
        else:
            row_bytes = 4 * K
    return TreeForm(head, layout(trees, row_bytes, row_key, prefer), one, row_key)


def layout(trees: Trees, row_bytes: int | None = None, row_key: np.ndarray | None = None,
           prefer: str | None = None) -> Layout:
    """The layout that takes the least flash by the estimates above (ties: node tables, one leaf row per leaf);
    `prefer` "tables" or "code" limits the choice to that form.

    `row_bytes` is the flash per leaf row that predict() reads (default: the float row); two leaves
    share a row only if their float32 values and their `row_key` rows (e.g. the class) are equal.
    """
    tables = [_layout(trees, shared, False, row_bytes, row_key) for shared in (False, True)]
    tables = [candidate for candidate in tables if candidate.fits]
    if not tables and prefer != "code":
        raise MicroMLError(f"the trees are too large for 16-bit node tables ({trees.n_splits} split nodes, "
                           f"{trees.n_leaves} leaves)", key="train",
                           fix="limit the model size (max_depth, max_leaf_nodes, n_estimators or max_iter)")
    code = [_layout(trees, shared, True, row_bytes, row_key) for shared in (False, True)]
    candidates = {None: tables + code, "tables": tables, "code": code}[prefer]
    return min(candidates, key=_flash)


def _flash(lay: Layout) -> int:
    """Flash of predict(): the leaf rows it reads plus the node tables and their loop, or the code."""
    size = len(lay.leaf_value) * lay.row_bytes
    n_splits = len(lay.feature)
    if not lay.code:
        return size + lay.table_bytes - lay.leaf_value.size * 4 + WALK_BYTES + (HALVES_BYTES if lay.halves else 0)
    return (size + CODE_SPLIT_BYTES * n_splits + CODE_TREE_BYTES * (lay.n_trees - 1)
            + (CODE_COMPARE_BYTES if n_splits >= CODE_INLINE_SPLITS else 0))


def code_bytes(lay: Layout) -> int:
    """Estimated flash of trees written out as code (no table holds it); 0 for node tables."""
    return _flash(lay) - len(lay.leaf_value) * lay.row_bytes if lay.code else 0


def _layout(trees: Trees, shared: bool, code: bool, row_bytes: int | None = None,
            row_key: np.ndarray | None = None) -> Layout:
    """The tables (or code) of `trees`. The node tables of several trees compare thresholds in 16-bit halves
    (`Layout.halves`): the high halves decide almost every split, which saves two flash reads and two compares a
    node on AVR (a 10-tree forest: 3,311 -> 3,052 cycles) for ~20-60 B of code; a single tree walks too few
    nodes for that, and keeps the one 32-bit compare and the smaller code."""
    start = trees.tree_start
    values = trees.leaf_value.astype(np.float32)
    tree_of_split = np.repeat(np.arange(trees.n_trees), np.diff(start))
    n_in_tree = np.diff(start)[tree_of_split]
    if shared:
        # Identical float32 rows (with identical row keys) are identical to the C: keep each once, in order
        # of first use.
        keys = values if row_key is None else np.c_[values.view(np.uint32),
                                                    np.asarray(row_key).reshape(len(values), -1)]
        rows: dict[bytes, int] = {}
        row_of_leaf = np.array([rows.setdefault(np.ascontiguousarray(row).tobytes(), len(rows)) for row in keys])
        values = values[np.unique(row_of_leaf, return_index=True)[1]]
        leaf_base = np.zeros(trees.n_splits, dtype=np.int64)
    else:
        row_of_leaf = np.arange(trees.n_leaves)
        leaf_base = (start[:-1] + np.arange(trees.n_trees))[tree_of_split]

    def local(child: np.ndarray) -> np.ndarray:
        split = child - start[tree_of_split]
        leaf = n_in_tree + row_of_leaf[np.maximum(-1 - child, 0)] - leaf_base
        return np.where(child >= 0, split, leaf)

    nan_left = trees.missing_left if trees.nan_aware else np.zeros(trees.n_splits, dtype=bool)
    return Layout(tree_start=start, feature=np.asarray(trees.feature * 4 + nan_left, dtype=np.int64),
                  threshold=threshold_bits(trees.threshold), threshold32=threshold_float32(trees.threshold),
                  left=local(trees.left), right=local(trees.right),
                  leaf_value=values, leaf_row=row_of_leaf, shared=shared, code=code, nan_aware=trees.nan_aware,
                  row_bytes=values.shape[1] * 4 if row_bytes is None else row_bytes, halves=trees.n_trees > 1)


def proba_one(n_trees: int, n_classes: int) -> int | None:
    """The integer standing for probability 1 in predict()'s sums, or None when too coarse for the near-tie proof.

    With one = floor((2^32 - 1) / n_trees), n_trees rounded leaf values add up in a uint32. The
    rounding moves each class's mean by at most 1/(2 one), so a class scikit-learn ranks below the
    best can win only if the two mean probabilities lie within 1/one; the verification's near-tie
    tolerance there is NEAR_TIE x (p_best + p_second) >= NEAR_TIE / n_classes (p_best >= 1/n_classes).
    A factor of 2 to spare: one >= 2 n_classes / NEAR_TIE.
    """
    one = (2 ** 32 - 1) // n_trees
    return one if one >= 2 * n_classes / NEAR_TIE else None


def proba_integers(leaf_value: np.ndarray, one: int) -> np.ndarray:
    """round(p x one) for each probability p (as int64), never above one."""
    return np.minimum(np.floor(np.clip(leaf_value, 0.0, 1.0) * one + 0.5), one).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Step functions


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


def _steps_flash(steps: Steps) -> int:
    """Flash of predict(): the search and the tables it reads (for classifiers, only the class table)."""
    if steps.classes is None:
        return 4 * len(steps.breaks) + 4 * steps.values.size + SEARCH_BYTES
    return 4 * len(steps.classes.breaks) + len(steps.classes.classes) * BYTES[steps.classes.class_t] + SEARCH_BYTES


def _effective_splits(trees: Trees) -> np.ndarray:
    """Split nodes that change the prediction: not the placeholder root of a tree that is a single leaf."""
    both_leaves = (trees.left < 0) & (trees.right < 0)
    left_rows = trees.leaf_value[np.maximum(-1 - trees.left, 0)]
    right_rows = trees.leaf_value[np.maximum(-1 - trees.right, 0)]
    return ~(both_leaves & np.all(left_rows == right_rows, axis=1))


# ---------------------------------------------------------------------------------------------
# Integer trees


def plan_fixed_trees(core, precision: Precision, prefer: str | None = None) -> FixedTreeForm:
    """Integer trees as code while its flash stays within reach of the tables' (or as `prefer` says)."""
    trees = core.trees
    sums = sums_of(core, precision)
    nodes = node_tables(trees)
    tables = nodes.table_bytes + sums.table.size * BYTES[sums.table_t] + FIXED_WALK_BYTES
    code = _fixed_code_bytes(trees, sums)
    use_code = code <= min(FIXED_CODE_FACTOR * tables, FIXED_CODE_LIMIT) if prefer is None else prefer == "code"
    if not use_code and "uint32_t" in (nodes.start_t, nodes.child_t, nodes.feature_t):
        raise MicroMLError("the trees are too large for 16-bit node tables", key="train",
                           fix="limit the model size (max_depth, max_leaf_nodes, n_estimators or max_iter)")
    return FixedTreeForm(core, sums, None if use_code else nodes, code, tables)


def sums_of(core, prec: Precision) -> Sums:
    """The accumulators integer trees feed, each of the narrowest type no input can overflow."""
    if isinstance(core, FixedForestClassifier):
        if core.leaf_class is not None:
            return Sums("class", 0, (), core.leaf_class[:, None], int_type(core.n_classes), "", False)
        if core.n_classes == 2:
            return Sums("sign", 1, (0,), core.leaf_value, prec.weight_type,
                        _sum_type(core.trees.n_trees * prec.weight_max), False)
        return Sums("argmax", core.n_classes, (0,) * core.n_classes, core.leaf_value, prec.prob_type,
                    _sum_type(core.trees.n_trees * prec.prob_max), False)
    assert isinstance(core, FixedTreeSum)
    K = core.n_outputs
    sum_t = _sum_type(core.bound)
    if core.kind == "boosted_classifier":
        finish = "sign" if K == 1 else "argmax"
        return Sums(finish, K, tuple(int(v) for v in core.init), core.leaf_value, prec.weight_type, sum_t, True,
                    ">=" if core.zero_is_positive else ">")
    return Sums("value", K, (0,) * K, core.leaf_value, prec.weight_type, sum_t, core.kind == "boosted_regressor")


def _sum_type(bound: int) -> str:
    return "int16_t" if bound <= 32767 else "int32_t"


def _fixed_code_bytes(trees: FixedTrees, sums: Sums) -> int:
    n_splits = len(trees.feature)
    n_leaves = len(sums.table)
    if sums.finish == "class":
        leaves = n_leaves * FIXED_CODE_RETURN_BYTES
    else:
        leaves = (n_leaves * FIXED_CODE_JUMP_BYTES
                  + int(np.count_nonzero(sums.table)) * FIXED_CODE_ADD_BYTES[sums.sum_t])
    return n_splits * FIXED_CODE_SPLIT_BYTES + leaves


def node_tables(trees: FixedTrees) -> FixedNodeTables:
    """Node tables with children numbered within their tree; one leaf row per leaf, tree by tree."""
    start = trees.tree_start
    n = np.diff(start)
    tree_of_split = np.repeat(np.arange(trees.n_trees), n)
    leaf_base = (start[:-1] + np.arange(trees.n_trees))[tree_of_split]

    def local(child):
        return np.where(child >= 0, child - start[tree_of_split], n[tree_of_split] + (-1 - child) - leaf_base)

    left, right = local(trees.left), local(trees.right)
    feature = trees.feature * 2 + trees.missing_left if trees.nan_aware else trees.feature
    return FixedNodeTables(trees, left, right, feature, start_t=int_type(int(start[-1])),
                           child_t=int_type(int(max(left.max(), right.max()))),
                           feature_t=int_type(int(feature.max(initial=0))), tree_t=int_type(trees.n_trees),
                           leaf_t=int_type(int(start[-1]) + trees.n_trees - 1))

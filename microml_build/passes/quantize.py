"""Float IR -> fixed-point IR (`target.precision: fixed16 | fixed8`): integer tables and arithmetic for FPU-less MCUs.

Every scale is a power of two, so every rescaling inside the model is a shift.

Inputs. Feature j enters as the int16 xq_j = round(x_j * 2^E_j) - O_j, rounded half away from
zero and saturated to +-32767; -32768 (`Q_MISSING`) is NaN. E_j is the largest exponent that maps
half the training range of feature j to at most `Q_TRAIN` = 16383 and O_j is the range's centre,
so the training rows use at most +-16383 and values up to twice as far from the centre still fit
(headroom x2); beyond that they saturate. A feature is refused (MicroMLError naming it) when it is
not finite, or when its magnitude is so large against its spread that |x| 2^E_j > 2^29: the steps
would then be finer than float32's own and the intermediate would not fit an int32.

Overflow. Every accumulator is int32. For each one the worst case over every int16 input
(|xq| <= 32768, so any value the integer entry point can be given) is computed here exactly, in
Python integers, and kept within about `ACC_LIMIT` = 2^30 (rounding constants included, always
below 2^31); a model whose scales cannot meet that fails the build instead of emitting code that
could wrap. tests/e2e/test_fixed.py runs extreme inputs under UBSan.

Linear heads (LinearClassifier, LinearRegressor, LinearOvo). w . x + b = sum_j (w_j 2^-E_j) xq_j +
(b + sum_j w_j O_j 2^-E_j): the input scaling folds into the weights. Weights are int16 (fixed16)
or int8 (fixed8) at 2^S, the largest S with |W| <= 32767 (127) and sum_j |W_j| 32768 <= 2^29;
acc = B + sum_j W_j xq_j. Classifiers compare acc with 0 or take the argmax (one S for all
classes), so the intercept may be clamped to the range the sum can reach without changing any
result (and, for an argmax, shifted by a common constant). Regressors have one S per output and
keep the intercept in float: y = acc 2^-S + b'.

Trees. A threshold t becomes tq = floor(t 2^E - O) in the input's integer domain, so xq <= tq
reproduces x <= t except for an x whose quantized value falls in the same step as t. With a and b
the training values around t, tq is then moved into [xq(a), xq(b) - 1] when that is not empty, so
every training row takes scikit-learn's path unless two training values share a step (scikit-learn
1.9 puts some thresholds a float32 step below b, where floor alone would fail); what remains is
counted by the verification, not assumed away. Leaves: a single classification tree stores the
class of each leaf (exact); a two-class forest sums p1 - p0 at 2^15 - 1 (2^7 - 1) and tests the
sign, a multi-class one sums the class fractions at 65535 (255) and takes the argmax (scikit-learn
averages and takes the argmax: the same order up to the fractions' rounding); regressors and
boosting store int16 (int8) leaf values at 2^S (per output for forests), summed in int32.

MLP. Weights int16 (int8) at 2^S_k per layer, int32 accumulators, activations int16 at 2^A_k:
relu and identity shift the accumulator down to the activation scale (A_k from the largest
activation on the training rows, headroom x2, saturating); tanh and logistic shift it to z at
2^12 (2^11) and read a 129-point piecewise-linear table of the function in flash (values at 2^14,
error below 4e-4). A regressor's output layer has one S per output. Two int16 buffers of the
widest hidden layer hold the activations.

Kernel SVMs (SVC, NuSVC, SVR, NuSVR). RBF: kernel inputs u_j = sat(round(xq_j m_j 2^-s_j)), m_j < 2^15
(so xq m + 2^(s-1) < 2^31), put every feature in units A sqrt(w_j) per unit of x_j, w_j a folded scaler's
weight; the support vectors are stored in those units (|v| <= 32767; fixed8: int8 codes of v >> 7). The
squared distance sum_j min(|u_j - v_j|, CAP)^2 is a uint32: |u - v| <= 65534 fits a uint16 and
n CAP^2 <= 2^32 - 1. A is the largest with gamma-reach EXP_REACH (16) at z = EXP_SEGMENTS 2^z_shift <= CAP^2
(a clamped term alone is then out of reach: clamping changes no kernel value) and the training rows within
+-Q_TRAIN; K = exp(-16 z / z_reach) from a 513-point table (uint16 at 2^15, interpolated with 16 bits of the
position), 0 beyond. poly, sigmoid: z = sum_j xq_j W_j + B (W = gamma sv 2^-E at 2^S, B the input centres,
a folded scaler's offset and coef0), S the largest with sum |W| 32768 + |B| <= 2^29; sigmoid reads the MLP's
tanh table at 2^12 (K at 2^14), poly multiplies int16 values, each product (< 2^30) shifted back to the scale
that keeps the training rows' largest |K| within half the int16 range. Decisions: int16 dual coefficients at
2^S and a product shift P, both chosen so that every decision's sum of |round(coef K / 2^P)| + 1 over its
support vectors, for any kernel values, stays within 2^29; intercepts clamped as for linear heads.

The `Fixed*` heads carry `run(xq)`, the exact integer reference of what the C computes, so the
verification proves the C equal to it on every row before it measures the agreement with
scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.fixed import (
    ACC_LIMIT,
    ACT_EXP,
    EXP_REACH,
    EXP_SEGMENTS,
    FEATURE_LIMIT,
    INT32_MAX,
    PRECISIONS,
    Q_MAX,
    Q_MISSING,
    Q_TRAIN,
    SUM_LIMIT,
    TABLE_SEGMENTS,
    X_BOUND,
    Z_EXP,
    FixedForestClassifier,
    FixedLayer,
    FixedLinear,
    FixedMlp,
    FixedTrees,
    FixedTreeSum,
    InputScaling,
    K_EXP,
    FixedDot,
    FixedKernelSvm,
    FixedRbf,
    Precision,
    Quantized,
)
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import ACTIVATIONS, Mlp
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor, Trees
from microml_build.passes.fold import fold

FAMILIES = ("linear models (LogisticRegression, RidgeClassifier, LinearSVC, SGD, Perceptron, LinearRegression, "
            "Ridge, Lasso, ElasticNet, ...), SVC, NuSVC, SVR and NuSVR, decision trees, random forests, "
            "extra trees, (Hist)GradientBoosting and MLPClassifier/MLPRegressor")


def input_scaling(X_train: np.ndarray, feature_names) -> InputScaling:
    """Per-feature power-of-two scales and integer centres from the training rows (as float32)."""
    X = np.asarray(X_train, dtype=np.float32).astype(np.float64)
    exponents, offsets, lows, highs = [], [], [], []
    for j in range(X.shape[1]):
        name = feature_names[j] if j < len(feature_names) else f"x[{j}]"
        column = X[:, j]
        if np.isinf(column).any():
            raise MicroMLError(f"feature '{name}' (x[{j}]) has infinite values in the training data: fixed-point "
                               "inputs need a finite range", key="target.precision",
                               fix="replace the infinities in the dataset, or use target.precision: float")
        column = column[~np.isnan(column)]
        low, high = (float(column.min()), float(column.max())) if len(column) else (0.0, 0.0)
        centre, half = (low + high) / 2, (high - low) / 2
        if half == 0.0:    # a constant feature: steps of about its magnitude / 16383
            half = max(abs(centre), 1.0)
        exponent = math.floor(math.log2(Q_TRAIN / half))
        while half * 2.0 ** exponent > Q_TRAIN:
            exponent -= 1
        if not -120 <= exponent <= 120:
            raise MicroMLError(f"feature '{name}' (x[{j}]) spans {low:.6g} .. {high:.6g}, a range fixed-point "
                               "inputs cannot scale (beyond 2^+-120)", key="target.precision",
                               fix="rescale the feature in the dataset (e.g. to SI units), or use target.precision: float")
        if max(abs(low), abs(high)) * 2.0 ** exponent > FEATURE_LIMIT:
            raise MicroMLError(
                f"feature '{name}' (x[{j}]) spans {low:.9g} .. {high:.9g}: its values are too large for their "
                f"spread ({max(abs(low), abs(high)) / (high - low or 1.0):.3g} times it), so 16-bit steps over its range would "
                "be finer than float32 resolves and the quantizer's int32 intermediate would overflow",
                key="target.precision",
                fix=f"subtract a constant near {centre:.6g} from the feature in the dataset (then it spans "
                    f"{low - centre:.3g} .. {high - centre:.3g}), or use target.precision: float")
        exponents.append(exponent)
        offsets.append(int(math.floor(centre * 2.0 ** exponent + 0.5)))
        lows.append(low)
        highs.append(high)
    return InputScaling(np.array(exponents, dtype=np.int64), np.array(offsets, dtype=np.int64),
                        np.array(lows), np.array(highs))


# ---------------------------------------------------------------------------------------------
# Quantization


def quantize(model: Model, X_train: np.ndarray, precision: str, feature_names=()) -> Model:
    """The pass float IR -> fixed-point IR: `model` with a `Quantized` head, scaled from the training rows.

    MicroMLError (against `target.precision`) when the model has no fixed-point form.
    """
    prec = PRECISIONS[precision]
    head = model.head
    quantizers = {LinearClassifier: _linear_classifier, LinearOvo: _linear_ovo, LinearRegressor: _linear_regressor,
                  ForestClassifier: _forest_classifier, ForestRegressor: _forest_regressor,
                  BoostedClassifier: _boosted, BoostedRegressor: _boosted, Mlp: _mlp, KernelSvm: _kernel_svm,
                  KernelSvr: _kernel_svr}
    quantizer = quantizers.get(type(head))
    if quantizer is None:
        raise MicroMLError(f"{model.family} has no fixed-point form (precision {precision})",
                           key="target.precision", fix=f"use target.precision: float, or one of: {FAMILIES}")
    transforms, head = fold(list(model.transforms), head, float32=False)   # what float32 C had to keep
    if transforms:
        names = ", ".join(type(t).__name__ for t in transforms)
        raise MicroMLError(f"the Pipeline keeps preprocessing steps that do not fold into the model ({names}): "
                           f"precision {precision} needs them folded", key="target.precision",
                           fix="drop the Normalizer or the PCA before kernels and trees (scalers and feature "
                               "selections fold), or use target.precision: float")
    names = tuple(feature_names) or tuple(f"x[{j}]" for j in range(model.n_features))
    inputs = input_scaling(X_train, names)
    core = quantizer(head, inputs, prec, np.asarray(X_train, dtype=np.float64))
    # Steps float32 C had to keep (a scaler before a poly kernel) are folded now: the summary says so.
    summary = model.summary.split("; ")[0] + "; preprocessing folded into the model" if model.transforms else model.summary
    return replace(model, head=Quantized(prec, inputs, core, model.task), transforms=(), lossy=precision,
                   summary=summary)


def _full_weights(head, n_features: int) -> np.ndarray:
    """The head's weights over every input feature (a folded selection's unused columns are 0)."""
    index = getattr(head, "feature_index", None)
    if index is None:
        return np.asarray(head.weights, dtype=np.float64)
    full = np.zeros((len(head.weights), n_features))
    for column, j in enumerate(index):
        full[:, j] += head.weights[:, column]
    return full


def _fold_inputs(weights: np.ndarray, intercept: np.ndarray, inputs: InputScaling) -> tuple[np.ndarray, np.ndarray]:
    """Weights and intercept over xq: w_j 2^-E_j, and b + sum_j w_j O_j 2^-E_j."""
    folded = weights * np.exp2(-inputs.exponent.astype(np.float64))
    return folded, intercept + folded @ inputs.offset.astype(np.float64)


def _weight_exponent(weights: np.ndarray, prec: Precision, limit: int = SUM_LIMIT, bias: np.ndarray | None = None,
                     bias_shift: int = 0) -> int:
    """The largest S with |round(W 2^S)| <= weight_max and, per row, sum |W| X_BOUND (+ |bias 2^(S+shift)|) <= limit."""
    largest = float(np.abs(weights).max(initial=0.0))
    S = math.floor(math.log2(prec.weight_max / largest)) + 1 if largest > 0 else 40
    for S in range(S, -200, -1):
        Wq = np.round(weights * 2.0 ** S)
        if np.abs(Wq).max(initial=0) > prec.weight_max:
            continue
        total = np.abs(Wq).sum(1) * X_BOUND
        if bias is not None:
            total = total + np.abs(np.round(bias * 2.0 ** (S + bias_shift)))
        if total.max(initial=0) <= limit:
            return S
    raise MicroMLError("no fixed-point scale keeps the accumulators within int32 (this is a MicroML bug)",
                       fix="report it with the model's yaml; use target.precision: float meanwhile")


def _ints(values: np.ndarray) -> np.ndarray:
    return np.round(values).astype(np.int64)


def _linear(weights, intercept, inputs, prec, kind: str, n_classes: int = 0) -> FixedLinear:
    W, b = _fold_inputs(weights, intercept, inputs)
    n_out = len(W)
    if kind == "regressor":
        exponents = np.array([_weight_exponent(W[k:k + 1], prec) for k in range(n_out)])
        Wq = np.stack([_ints(W[k] * 2.0 ** exponents[k]) for k in range(n_out)])
        bias = np.zeros(n_out, dtype=np.int64)
        return FixedLinear(kind, Wq, bias, exponents, b.astype(np.float32), n_classes, _bound(Wq, bias))
    if kind == "argmax":
        S = _weight_exponent(W, prec)
        exponents = np.full(n_out, S)
    else:
        exponents = np.array([_weight_exponent(W[k:k + 1], prec) for k in range(n_out)])
    Wq = np.stack([_ints(W[k] * 2.0 ** exponents[k]) for k in range(n_out)])
    reach = np.abs(Wq).sum(1) * X_BOUND            # |sum_j W_j xq_j| never exceeds this
    bias = np.array([int(np.round(b[k] * 2.0 ** exponents[k])) if abs(b[k] * 2.0 ** exponents[k]) < 2 ** 62
                     else int(np.sign(b[k])) * 2 ** 62 for k in range(n_out)], dtype=object)
    bias = _clamp_bias(bias, reach, argmax=kind == "argmax")
    return FixedLinear(kind, Wq, bias, exponents, np.zeros(n_out, dtype=np.float32), n_classes, _bound(Wq, bias))


def _clamp_bias(bias, reach: np.ndarray, argmax: bool) -> np.ndarray:
    """Biases moved into +-(reach + 1) without changing any sign or argmax the accumulators can produce.

    Sign: a bias beyond the reach of the sum decides alone, so reach + 1 decides the same. Argmax: a
    common constant does not change it; after subtracting the largest bias, one lower than -2 reach - 1
    can never win, and neither can it at -2 reach - 1 (ties go to the lower index only among equals).
    """
    bias = [int(v) for v in bias]
    R = int(reach.max(initial=0))
    if not argmax:
        return np.array([max(-R - 1, min(R + 1, v)) for v in bias], dtype=np.int64)
    top = max(bias)
    shifted = [max(v - top, -2 * R - 2) for v in bias]          # in [-2R - 2, 0]
    return np.array([v + R + 1 for v in shifted], dtype=np.int64)  # in [-R - 1, R + 1]


def _bound(Wq: np.ndarray, bias: np.ndarray) -> int:
    bound = int((np.abs(Wq).sum(1) * X_BOUND + np.abs(bias)).max(initial=0))
    _check(bound)
    return bound


def _linear_classifier(head: LinearClassifier, inputs, prec, X_train) -> FixedLinear:
    weights = _full_weights(head, len(inputs.exponent))
    kind = "sign" if head.n_outputs == 1 else "argmax"
    return _linear(weights, np.asarray(head.intercept, dtype=np.float64), inputs, prec, kind, head.n_classes)


def _linear_ovo(head: LinearOvo, inputs, prec, X_train) -> FixedLinear:
    weights = _full_weights(head, len(inputs.exponent))
    return _linear(weights, np.asarray(head.intercept, dtype=np.float64), inputs, prec, "ovo", head.n_classes)


def _linear_regressor(head: LinearRegressor, inputs, prec, X_train) -> FixedLinear:
    weights = _full_weights(head, len(inputs.exponent))
    return _linear(weights, np.asarray(head.intercept, dtype=np.float64), inputs, prec, "regressor")


# Trees


def _fixed_trees(trees: Trees, inputs: InputScaling, X_train: np.ndarray) -> FixedTrees:
    E = inputs.exponent[trees.feature].astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.floor(trees.threshold * np.exp2(E))
    scaled = np.clip(np.nan_to_num(scaled, nan=0.0, posinf=2.0 ** 40, neginf=-2.0 ** 40), -2.0 ** 40, 2.0 ** 40)
    tq = np.clip(scaled.astype(np.int64) - inputs.offset[trees.feature], Q_MISSING, Q_MAX)
    tq = _separate(tq, trees, inputs, np.asarray(X_train, dtype=np.float32))
    fixed = FixedTrees(feature=np.asarray(trees.feature), threshold=tq, missing_left=np.asarray(trees.missing_left),
                       left=np.asarray(trees.left), right=np.asarray(trees.right),
                       tree_start=np.asarray(trees.tree_start), nan_aware=bool(trees.nan_aware))
    # How many split nodes send every training row the way scikit-learn does (documentation only).
    X32 = np.asarray(X_train, dtype=np.float32)
    xq = inputs.quantize(X32)
    values = X32.astype(np.float64)[:, trees.feature]
    with np.errstate(invalid="ignore"):
        same = ((values <= trees.threshold) == (xq[:, trees.feature] <= tq)) | np.isnan(values)
    return replace(fixed, exact=int(same.all(0).sum()))


def _separate(tq: np.ndarray, trees: Trees, inputs: InputScaling, X32: np.ndarray) -> np.ndarray:
    """Move each threshold, within the training values around it, so that the training rows go scikit-learn's way.

    With a the largest training value <= t and b the smallest above it, any tq in [xq(a), xq(b) - 1]
    sends both (and every training row) where scikit-learn does; floor(t 2^E - O) usually is in there,
    but not when t sits a float32 step below b (scikit-learn 1.9 places some thresholds so), or when
    a and b are one step apart. When xq(a) == xq(b) no integer threshold can tell them apart: tq stays.
    """
    tq = tq.copy()
    xq = inputs.quantize(X32)
    X = X32.astype(np.float64)
    for j in np.unique(trees.feature):
        nodes = np.flatnonzero(trees.feature == j)
        values = X[:, j][~np.isnan(X[:, j])]
        if not len(values):
            continue
        order = np.argsort(values, kind="stable")
        values, codes = values[order], xq[~np.isnan(X[:, j]), j][order]
        t = trees.threshold[nodes]
        above = np.searchsorted(values, t, side="right")          # first value > t
        low = np.where(above > 0, codes[np.maximum(above - 1, 0)], Q_MISSING)
        high = np.where(above < len(values), codes[np.minimum(above, len(values) - 1)] - 1, Q_MAX)
        separable = low <= high
        tq[nodes] = np.where(separable, np.clip(tq[nodes], low, high), tq[nodes])
    return tq


def _forest_classifier(head: ForestClassifier, inputs, prec, X_train) -> FixedForestClassifier:
    trees = _fixed_trees(head.trees, inputs, X_train)
    if head.trees.n_trees == 1:
        return FixedForestClassifier(trees, np.argmax(head.trees.leaf_value, axis=1), None, head.n_outputs)
    if head.n_outputs == 2:
        difference = head.trees.leaf_value[:, 1:2] - head.trees.leaf_value[:, 0:1]
        return FixedForestClassifier(trees, None, _ints(difference * prec.weight_max), 2)
    probabilities = _ints(head.trees.leaf_value * prec.prob_max)
    return FixedForestClassifier(trees, None, probabilities, head.n_outputs)


def _leaf_exponent(largest: float, prec: Precision) -> int:
    return math.floor(math.log2(prec.weight_max / largest)) if largest > 0 else 0


def _forest_regressor(head: ForestRegressor, inputs, prec, X_train) -> FixedTreeSum:
    trees = _fixed_trees(head.trees, inputs, X_train)
    leaf = head.trees.leaf_value
    exponents = [_leaf_exponent(float(np.abs(leaf[:, k]).max()), prec) for k in range(leaf.shape[1])]
    Lq = np.stack([_ints(leaf[:, k] * 2.0 ** e) for k, e in enumerate(exponents)], axis=1)
    n = head.trees.n_trees
    scale = np.array([2.0 ** -e / n for e in exponents], dtype=np.float32)
    bound = n * int(np.abs(Lq).max(initial=0))
    _check(bound)
    return FixedTreeSum("forest_regressor", trees, Lq, np.zeros(len(exponents), dtype=np.int64), scale,
                        np.zeros(len(exponents), dtype=np.float32), bound=bound)


def _boosted(head, inputs, prec, X_train) -> FixedTreeSum:
    trees = _fixed_trees(head.trees, inputs, X_train)
    leaf = head.trees.leaf_value[:, 0]
    S = _leaf_exponent(float(np.abs(leaf).max(initial=0.0)), prec)
    Lq = _ints(leaf * 2.0 ** S)[:, None]
    K = len(head.init)
    # reach_k: the most the trees of output k can add, |leaf| summed over those trees.
    reach = np.zeros(K, dtype=np.int64)
    for t in range(head.trees.n_trees):
        rows = _tree_leaves(head.trees, t)
        reach[t % K] += int(np.abs(Lq[rows, 0]).max(initial=0))
    if isinstance(head, BoostedRegressor):
        bound = int(reach.max(initial=0))
        _check(bound)
        return FixedTreeSum("boosted_regressor", trees, Lq, np.zeros(1, dtype=np.int64),
                            np.array([2.0 ** -S], dtype=np.float32), head.init.astype(np.float32),
                            link=head.link, bound=bound)
    init = [int(np.round(v * 2.0 ** S)) if abs(v * 2.0 ** S) < 2 ** 62 else int(np.sign(v)) * 2 ** 62
            for v in head.init]
    init = _clamp_bias(init, reach, argmax=K > 1)
    bound = int((reach + np.abs(init)).max(initial=0))
    _check(bound)
    return FixedTreeSum("boosted_classifier", trees, Lq, init, np.full(K, 2.0 ** -S, dtype=np.float32),
                        np.zeros(K, dtype=np.float32), zero_is_positive=head.zero_is_positive, bound=bound)


def _tree_leaves(trees: Trees, t: int) -> np.ndarray:
    """The leaf rows of tree t."""
    nodes = slice(trees.tree_start[t], trees.tree_start[t + 1])
    children = np.concatenate([trees.left[nodes], trees.right[nodes]])
    return -1 - children[children < 0]


def _check(bound: int) -> None:
    if bound > INT32_MAX:
        raise MicroMLError(f"a fixed-point accumulator could reach {bound}, beyond int32", key="target.precision",
                           fix="use fewer trees or neurons, or target.precision: float")


# MLP


def _mlp(head: Mlp, inputs: InputScaling, prec: Precision, X_train: np.ndarray) -> FixedMlp:
    function, _ = ACTIVATIONS[head.activation]
    a_float = np.asarray(X_train, dtype=np.float64)
    layers = []
    in_exponent = 0                  # the xq domain: the per-feature scales fold into the first weights
    n_layers = len(head.weights)
    for k, (W, b) in enumerate(zip(head.weights, head.biases)):
        z_float = a_float @ W.T + b
        if k == 0:
            W, b = _fold_inputs(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64), inputs)
        S = _weight_exponent(W, prec, limit=ACC_LIMIT, bias=b, bias_shift=in_exponent)
        Wq = _ints(W * 2.0 ** S)
        acc_exponent = S + in_exponent
        bias = _ints(b * 2.0 ** acc_exponent)
        bound = int((np.abs(Wq).sum(1) * X_BOUND + np.abs(bias)).max(initial=0))
        if k == n_layers - 1:
            if head.task == "regressor":
                # Outputs are not compared with each other: each neuron gets its own weight scale.
                rows = [_weight_exponent(W[o:o + 1], prec, limit=ACC_LIMIT, bias=b[o:o + 1], bias_shift=in_exponent)
                        for o in range(len(W))]
                Wq = np.stack([_ints(W[o] * 2.0 ** S_o) for o, S_o in enumerate(rows)])
                row_exponent = np.array(rows) + in_exponent
                bias = np.array([int(np.round(b[o] * 2.0 ** e)) for o, e in enumerate(row_exponent)], dtype=np.int64)
                bound = int((np.abs(Wq).sum(1) * X_BOUND + np.abs(bias)).max(initial=0))
                layers.append(FixedLayer(Wq, bias, 0, int(row_exponent.min()), 0, bound, row_exponent))
            else:
                layers.append(FixedLayer(Wq, bias, 0, acc_exponent, 0, bound))
            break
        a_float = function(z_float)
        if head.activation in Z_EXP:
            out_exponent = ACT_EXP
            shift = acc_exponent - Z_EXP[head.activation]
        else:
            largest = float(np.abs(a_float).max(initial=0.0)) or 1.0
            out_exponent = math.floor(math.log2(Q_TRAIN / largest))
            shift = max(acc_exponent - out_exponent, 0)
            out_exponent = acc_exponent - shift
        if shift > 0:
            bound += 1 << (shift - 1)
        _check(bound)
        layers.append(FixedLayer(Wq, bias, shift, acc_exponent, out_exponent, bound))
        in_exponent = out_exponent
    table = None
    if head.activation in Z_EXP:
        z = np.arange(TABLE_SEGMENTS + 1) * (2.0 ** 15 / 2 ** Z_EXP[head.activation]) / TABLE_SEGMENTS
        table = _ints(function(z) * 2 ** ACT_EXP)
    return FixedMlp(head.activation, head.output, tuple(layers), table)


# Kernel SVMs


def _kernel_svm(head: KernelSvm, inputs: InputScaling, prec: Precision, X_train: np.ndarray) -> FixedKernelSvm:
    kernel = _fixed_kernel(head, inputs, prec, X_train)
    starts = np.concatenate([[0], np.cumsum(head.n_support)]).astype(int)
    if head.n_classes == 2:
        sums = [[(0, slice(0, starts[-1]))]]
    else:
        sums = [[(j - 1, slice(starts[i], starts[i + 1])), (i, slice(starts[j], starts[j + 1]))]
                for i in range(head.n_classes) for j in range(i + 1, head.n_classes)]
    return _kernel_decisions(head.coef, np.asarray(head.intercept, dtype=np.float64), "ovo", sums, kernel,
                             head.n_support)


def _kernel_svr(head: KernelSvr, inputs: InputScaling, prec: Precision, X_train: np.ndarray) -> FixedKernelSvm:
    kernel = _fixed_kernel(head, inputs, prec, X_train)
    coef = np.asarray(head.coef, dtype=np.float64).reshape(1, -1)
    return _kernel_decisions(coef, np.array([head.intercept]), "regressor", [[(0, slice(0, coef.shape[1]))]], kernel,
                             (coef.shape[1],))


def _fixed_kernel(head, inputs: InputScaling, prec: Precision, X_train: np.ndarray):
    if head.kernel == "rbf":
        return _rbf(head, inputs, prec, X_train)
    if head.kernel == "poly" and head.degree < 1:
        raise MicroMLError(f"a poly kernel of degree {head.degree} is a constant: it has no fixed-point form",
                           key="target.precision", fix="use target.precision: float, or degree >= 1")
    return _dot(head, inputs, prec, X_train)


def _used(head, inputs: InputScaling) -> np.ndarray:
    return np.arange(len(inputs.exponent)) if head.feature_index is None else np.asarray(head.feature_index)


def _rbf(head, inputs: InputScaling, prec: Precision, X_train: np.ndarray) -> FixedRbf:
    feature = _used(head, inputs)
    n_used = len(feature)
    gamma = float(head.gamma)
    root_w = np.ones(n_used) if head.feature_weights is None else np.sqrt(head.feature_weights)
    E = inputs.exponent[feature].astype(np.float64)
    centre = inputs.centre()[feature]
    X = np.asarray(X_train, dtype=np.float32).astype(np.float64)[:, feature]
    half = np.nanmax(np.abs(X - centre), axis=0) * root_w
    # |u - v| <= 65534, so a larger cap clamps nothing; with one input isqrt gives 65535, and the C's
    # `d > CAP` on a uint16 would be always false (-Wtype-limits).
    cap = min(math.isqrt((2 ** 32 - 1) // n_used), 65534)
    # A = u units per unit of sqrt(w) x. EXP_REACH at z = A^2 EXP_REACH / gamma must be <= cap^2 (so clamping at cap
    # changes nothing: a clamped term alone reaches past EXP_REACH), and the training rows must map to +-Q_TRAIN.
    most = min(cap * math.sqrt(gamma / EXP_REACH), Q_TRAIN / max(float(half.max(initial=0.0)), 1e-300))
    z_shift = math.floor(math.log2(most * most * EXP_REACH / gamma / EXP_SEGMENTS))
    while math.sqrt(gamma * EXP_SEGMENTS * 2.0 ** z_shift / EXP_REACH) > most:
        z_shift -= 1
    if z_shift < 0:
        raise MicroMLError(f"the training rows span {math.sqrt(gamma) * float(half.max()):.3g} kernel widths "
                           "(sqrt(gamma) times the largest distance): too many for 16-bit distances",
                           key="target.precision", fix="use target.precision: float or int16-vectors, or a smaller gamma")
    A = math.sqrt(gamma * EXP_SEGMENTS * 2.0 ** z_shift / EXP_REACH)
    r = np.exp2(-E) * root_w * A           # u_j = xq_j * r_j
    shift = np.clip(np.floor(np.log2((2 ** 15 - 1) / r)), 1, 30).astype(np.int64)
    mult = _ints(r * np.exp2(shift))
    r = mult / np.exp2(shift)
    sv = np.asarray(head.support_vectors, dtype=np.float64)
    v = _ints((sv * np.exp2(E) - inputs.offset[feature]) * r)
    vector_shift = 0 if prec.weight_type == "int16_t" else 7
    vectors = np.clip(_ints(v / 2.0 ** vector_shift), -prec.weight_max, prec.weight_max)
    table = np.minimum(_ints(2.0 ** K_EXP * np.exp(-EXP_REACH * np.arange(EXP_SEGMENTS + 1) / EXP_SEGMENTS)),
                       2 ** K_EXP - 1)
    return FixedRbf(feature, mult, shift, vectors, vector_shift, cap, z_shift, table)


def _dot(head, inputs: InputScaling, prec: Precision, X_train: np.ndarray) -> FixedDot:
    feature = _used(head, inputs)
    gamma, coef0 = float(head.gamma), float(head.coef0)
    sv = np.asarray(head.support_vectors, dtype=np.float64)
    offset = 0.0 if head.dot_offset is None else np.asarray(head.dot_offset, dtype=np.float64)
    W = gamma * sv * np.exp2(-inputs.exponent[feature].astype(np.float64))
    B = gamma * (sv @ inputs.centre()[feature] + offset) + coef0
    z_exp = _weight_exponent(W, prec, limit=SUM_LIMIT, bias=B)
    X = np.asarray(X_train, dtype=np.float64)[:, feature]
    largest = float(np.abs(gamma * (X @ sv.T + offset) + coef0).max(initial=0.0))
    if head.kernel == "sigmoid":
        z = np.arange(TABLE_SEGMENTS + 1) * (2.0 ** 15 / 2 ** Z_EXP["tanh"]) / TABLE_SEGMENTS
        return FixedDot("sigmoid", feature, _ints(W * 2.0 ** z_exp), _ints(B * 2.0 ** z_exp), z_exp, Z_EXP["tanh"], (),
                        ACT_EXP, _ints(np.tanh(z) * 2 ** ACT_EXP))
    t_exp = _headroom_exponent(largest, 14)
    exponent, power, steps = t_exp, largest, []
    for _ in range(head.degree - 1):
        power *= largest
        new = min(_headroom_exponent(power, exponent + t_exp), exponent + t_exp)
        steps.append(exponent + t_exp - new)
        exponent = new
    return FixedDot("poly", feature, _ints(W * 2.0 ** z_exp), _ints(B * 2.0 ** z_exp), z_exp, t_exp, tuple(steps),
                    exponent, None)


def _headroom_exponent(largest: float, default: int) -> int:
    """The largest e with 2 * largest * 2^e <= Q_MAX: training values use half the int16 range (headroom x2)."""
    if largest <= 0:
        return default
    e = math.floor(math.log2(Q_MAX / (2 * largest)))
    while 2 * largest * 2.0 ** e > Q_MAX:
        e -= 1
    return e


def _kernel_decisions(coef: np.ndarray, intercept: np.ndarray, kind: str, sums: list, kernel,
                      n_support: tuple) -> FixedKernelSvm:
    """Dual coefficients as int16 at 2^S and the product shift P: each decision sums (coef K) >> P over its terms
    (`sums`: per decision, the (coef row, support vectors) it adds), within SUM_LIMIT for every kernel value."""
    coef = np.asarray(coef, dtype=np.float64)
    k_max = (1 << kernel.k_exp) if isinstance(kernel, FixedDot) and kernel.kernel == "sigmoid" else Q_MAX
    largest = float(np.abs(coef).max(initial=0.0))
    full = math.floor(math.log2(Q_MAX / largest)) + 1 if largest > 0 else 40

    def reach(S: int, P: int) -> np.ndarray:
        Cq = np.abs(_ints(coef * 2.0 ** S))
        # |round(c K / 2^P)| <= |c| K / 2^P + 1
        return np.array([sum(int((Cq[row, cols] * k_max >> P).sum()) + len(Cq[row, cols]) for row, cols in terms)
                         for terms in sums])

    for S in range(full, -200, -1):
        if np.abs(_ints(coef * 2.0 ** S)).max(initial=0) > Q_MAX:
            continue
        P = next((P for P in range(25) if reach(S, P).max() <= SUM_LIMIT), None)
        if P is not None:
            # A shift by 8 or 16 is a byte move on 8-bit MCUs, others a loop: give up at most 3 bits for one.
            P = next((Q for Q in (0, 8, 16, 24) if P <= Q <= P + 3), P)
            break
    else:
        raise MicroMLError("no fixed-point scale keeps the decision sums within int32 (this is a MicroML bug)",
                           fix="report it with the model's yaml; use target.precision: float meanwhile")
    R = reach(S, P)
    Cq = _ints(coef * 2.0 ** S)
    exponent = S + kernel.k_exp - P
    if kind == "regressor":
        bias = np.zeros(1, dtype=np.int64)
        offset = intercept.astype(np.float32)
    else:
        scaled = [int(np.round(b * 2.0 ** exponent)) if abs(b * 2.0 ** exponent) < 2 ** 62 else int(np.sign(b)) * 2 ** 62
                  for b in intercept]
        bias = _clamp_bias(scaled, R, argmax=False)
        offset = np.zeros(len(bias), dtype=np.float32)
    bound = int((R + np.abs(bias)).max())
    _check(bound)
    return FixedKernelSvm(kind, kernel, Cq, P, bias, exponent, offset, tuple(int(n) for n in n_support), bound)

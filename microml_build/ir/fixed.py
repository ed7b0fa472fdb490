"""Fixed-point IR (`target.precision: fixed16 | fixed8`): integer heads, their input scaling, and `Quantized`.

Made by the quantization pass (`microml_build.passes.quantize`, which says how every scale is chosen
and why nothing overflows); printed by `emit/fixed*.py`. Every head carries `run(xq)`, the exact
integer reference of what the C computes, so verification proves the C equal to it on every row
before it measures the agreement with scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from microml_build.ir.svm import ovo_predict
from microml_build.ir.trees import walk

Q_MAX = 32767              # quantized inputs and activations saturate at +-Q_MAX
Q_MISSING = -32768         # the quantized value of NaN
Q_TRAIN = 16383            # half the training range maps to at most this: headroom x2
X_BOUND = 32768            # largest |int16| any input or activation can have, for the overflow proofs
ACC_LIMIT = 2 ** 30        # every int32 accumulator stays within about +-ACC_LIMIT ...
INT32_MAX = 2 ** 31 - 1    # ... and, rounding constants included, provably below this
SUM_LIMIT = 2 ** 29        # the input-dependent part of a linear accumulator: sum |W| X_BOUND
FEATURE_LIMIT = 2 ** 29    # |x| 2^E beyond this: the feature's steps are finer than float32's

# Piecewise-linear activation tables: TABLE_SEGMENTS segments over z in [0, 2^15 / 2^Z_EXP), values at 2^ACT_EXP.
TABLE_SEGMENTS = 128
ACT_EXP = 14
Z_EXP = {"tanh": 12, "logistic": 11}


@dataclass(frozen=True)
class Precision:
    name: str
    weight_type: str           # C type of weights and leaf values
    weight_max: int            # largest |weight|
    prob_type: str             # C type of a forest's leaf probabilities
    prob_max: int              # probability 1.0

    @property
    def weight_bytes(self) -> int:
        return 2 if self.weight_type == "int16_t" else 1


PRECISIONS = {
    "fixed16": Precision("fixed16", "int16_t", 32767, "uint16_t", 65535),
    "fixed8": Precision("fixed8", "int8_t", 127, "uint8_t", 255),
}


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, eq=False)
class InputScaling:
    """xq_j = sat(round(x_j 2^exponent_j) - offset_j): what `<name>_quantize` computes."""

    exponent: np.ndarray       # (n_features,) int, E_j
    offset: np.ndarray         # (n_features,) int, O_j
    low: np.ndarray            # (n_features,) training range, for the documentation
    high: np.ndarray

    def quantize(self, X: np.ndarray) -> np.ndarray:
        """The exact int16 values the C quantizer gives for float32 rows X, as int64."""
        x = np.asarray(X, dtype=np.float32)
        a = np.abs(x).astype(np.float64)
        negative = np.signbit(x)
        with np.errstate(invalid="ignore", over="ignore"):
            v = a * np.exp2(self.exponent.astype(np.float64))
            v = np.where(a < 2.0 ** -126, 0.0, v)              # zero and subnormals read as 0
            big = ~(v < 2.0 ** 30)                              # also inf; NaN handled below
            r = np.floor(np.where(big, 0.0, v) + 0.5)
        r = np.where(negative, -r, r).astype(np.int64) - self.offset.astype(np.int64)
        q = np.clip(r, -Q_MAX, Q_MAX)
        q = np.where(big, np.where(negative, -Q_MAX, Q_MAX), q)
        return np.where(np.isnan(x), Q_MISSING, q).astype(np.int64)

    def centre(self) -> np.ndarray:
        """The value xq = 0 stands for, per feature: O_j 2^-E_j."""
        return self.offset.astype(np.float64) * np.exp2(-self.exponent.astype(np.float64))


# ---------------------------------------------------------------------------------------------
# Heads


@dataclass(frozen=True, eq=False)
class FixedLinear:
    """acc_k = bias_k + sum_j weights_kj xq_j (int32); value_k = acc_k 2^-exponent_k (+ offset_k, regressors).

    kind "argmax" (one row per class, shared exponent), "sign" (two classes: class 1 when acc > 0),
    "ovo" (one row per class pair, libsvm's vote; two classes: class 1 when acc >= 0), "regressor".
    """

    kind: str
    weights: np.ndarray        # (n_outputs, n_features) int
    bias: np.ndarray           # (n_outputs,) int
    exponent: np.ndarray       # (n_outputs,) int
    offset: np.ndarray         # (n_outputs,) float: regressors' intercept, added in float
    n_classes: int = 0
    bound: int = 0             # largest |acc| over every int16 input

    @property
    def n_outputs(self) -> int:
        return len(self.weights)

    def accumulate(self, xq: np.ndarray) -> np.ndarray:
        return xq @ self.weights.T + self.bias

    def run(self, xq: np.ndarray) -> np.ndarray:
        acc = self.accumulate(xq)
        if self.kind == "regressor":
            return acc
        if self.kind == "sign":
            return (acc[:, 0] > 0).astype(np.int64)
        if self.kind == "argmax":
            return acc.argmax(1)
        # ovo_predict: positive votes for the first class of a pair; two classes: zero or above is class 1.
        return ovo_predict(acc.astype(np.float64), self.n_classes)

    def values(self, out: np.ndarray) -> np.ndarray:
        """Regressors: the float32 values the C returns, (float)acc * 2^-S + offset."""
        scale = np.exp2(-self.exponent.astype(np.float64)).astype(np.float32)
        return (out.astype(np.float32) * scale + self.offset.astype(np.float32)).astype(np.float64)


@dataclass(frozen=True, eq=False)
class FixedTrees:
    """Trees with thresholds in the inputs' integer domain: xq[feature] <= threshold goes left.

    Same numbering as `ir.trees.Trees`: children >= 0 are split nodes, c < 0 is leaf -1 - c.
    NaN-aware trees send xq == Q_MISSING where `missing_left` says; other trees compare it like
    any value (it is below every threshold, so it goes left).
    """

    feature: np.ndarray
    threshold: np.ndarray      # int, in [-32768, 32767]
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    tree_start: np.ndarray
    nan_aware: bool
    exact: int = 0             # split nodes whose test is exact on the training rows (for the documentation)

    @property
    def n_trees(self) -> int:
        return len(self.tree_start) - 1

    def leaves(self, xq: np.ndarray) -> np.ndarray:
        return walk(self, xq, lambda value: value == Q_MISSING)


@dataclass(frozen=True, eq=False)
class FixedForestClassifier:
    """One tree: `leaf_class` per leaf. Several: `leaf_value` per leaf, summed over the trees.

    Two classes: leaf_value is (p1 - p0) at 2^15 - 1 (2^7 - 1), one column: class 1 when the sum is
    above zero, which is when the mean of p1 is above the mean of p0 (scikit-learn's argmax, class 0
    on a tie). More: the class fractions at prob_max, one column per class, argmax of the sums.
    """

    trees: FixedTrees
    leaf_class: np.ndarray | None      # (n_leaves,) int, single trees
    leaf_value: np.ndarray | None      # (n_leaves, 1 or n_classes) int, forests
    n_classes: int

    kind = "forest_classifier"

    def run(self, xq: np.ndarray) -> np.ndarray:
        leaves = self.trees.leaves(xq)
        if self.leaf_class is not None:
            return self.leaf_class[leaves[:, 0]]
        sums = self.leaf_value[leaves].sum(1)
        return (sums[:, 0] > 0).astype(np.int64) if self.n_classes == 2 else sums.argmax(1)


@dataclass(frozen=True, eq=False)
class FixedTreeSum:
    """Summed int leaf values: forests' regressors (value = sum * scale) and boosting (init + sum)."""

    kind: str                  # "forest_regressor" | "boosted_classifier" | "boosted_regressor"
    trees: FixedTrees
    leaf_value: np.ndarray     # (n_leaves, width) int; boosting: width 1, tree t adds to output t % K
    init: np.ndarray           # (n_outputs,) int, added first (boosted classifiers); zeros otherwise
    scale: np.ndarray          # (n_outputs,) float32: value = acc * scale + offset (regressors)
    offset: np.ndarray         # (n_outputs,) float32
    zero_is_positive: bool = False
    link: str = "identity"
    bound: int = 0

    @property
    def n_outputs(self) -> int:
        return len(self.scale)

    def accumulate(self, xq: np.ndarray) -> np.ndarray:
        contributions = self.leaf_value[self.trees.leaves(xq)]          # (rows, trees, width)
        if self.kind == "forest_regressor":
            return contributions.sum(1)
        K = self.n_outputs
        acc = np.zeros((len(xq), K), dtype=np.int64) + self.init
        for t in range(self.trees.n_trees):
            acc[:, t % K] += contributions[:, t, 0]
        return acc

    def run(self, xq: np.ndarray) -> np.ndarray:
        acc = self.accumulate(xq)
        if self.kind != "boosted_classifier":
            return acc
        if acc.shape[1] == 1:
            return (acc[:, 0] >= 0 if self.zero_is_positive else acc[:, 0] > 0).astype(np.int64)
        return acc.argmax(1)

    def values(self, out: np.ndarray) -> np.ndarray:
        value = out.astype(np.float32) * self.scale + self.offset
        return np.exp(value.astype(np.float64)) if self.link == "log" else value.astype(np.float64)


@dataclass(frozen=True, eq=False)
class FixedLayer:
    weights: np.ndarray        # (n_out, n_in) int
    bias: np.ndarray           # (n_out,) int
    shift: int                 # hidden layers: acc >> shift (a negative shift multiplies)
    acc_exponent: int          # acc = z 2^acc_exponent (the output layer of a regressor: the smallest row's)
    out_exponent: int          # hidden layers: a = a_q 2^-out_exponent
    bound: int                 # largest |acc| over every int16 input
    row_exponent: np.ndarray | None = None   # regressors' output layer: neuron k's sum is z_k 2^row_exponent[k]


@dataclass(frozen=True, eq=False)
class FixedMlp:
    activation: str
    output: str
    layers: tuple[FixedLayer, ...]
    table: np.ndarray | None   # tanh / logistic: TABLE_SEGMENTS + 1 values at 2^ACT_EXP over z >= 0

    kind = "mlp"

    @property
    def n_outputs(self) -> int:
        return len(self.layers[-1].bias)

    @property
    def z_exponent(self) -> int:
        return Z_EXP.get(self.activation, 0)

    def accumulate(self, xq: np.ndarray) -> np.ndarray:
        a = xq
        for k, layer in enumerate(self.layers):
            acc = a @ layer.weights.T + layer.bias
            if k == len(self.layers) - 1:
                return acc
            a = self.activate(shift_round(acc, layer.shift))
        raise AssertionError("no layers")

    def activate(self, z: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return np.clip(z, 0, Q_MAX)
        if self.activation == "identity":
            return np.clip(z, -Q_MAX, Q_MAX)
        return table_activation(z, self.table, self.activation)

    def run(self, xq: np.ndarray) -> np.ndarray:
        acc = self.accumulate(xq)
        if self.output == "softmax":
            return acc.argmax(1)
        if self.output == "logistic":
            return (acc[:, 0] > 0).astype(np.int64)
        return acc

    @property
    def output_scale(self) -> np.ndarray:
        last = self.layers[-1]
        exponents = last.row_exponent if last.row_exponent is not None else np.full(len(last.bias), last.acc_exponent)
        return np.exp2(-exponents.astype(np.float64)).astype(np.float32)

    def values(self, out: np.ndarray) -> np.ndarray:
        value = out.astype(np.float32) * self.output_scale
        return np.exp(value.astype(np.float64)) if self.output == "exp" else value.astype(np.float64)


def table_activation(z: np.ndarray, table: np.ndarray, activation: str) -> np.ndarray:
    """tanh or logistic of z (saturated to +-Q_MAX) from a TABLE_SEGMENTS-segment table over |z|, at 2^ACT_EXP."""
    z = np.clip(z, -Q_MAX, Q_MAX)
    m = np.abs(z)
    step = (Q_MAX + 1) // TABLE_SEGMENTS
    i, f = m // step, m % step
    low, high = table[i], table[np.minimum(i + 1, TABLE_SEGMENTS)]
    y = low + (((high - low) * f + step // 2) >> int(math.log2(step)))
    if activation == "tanh":
        return np.where(z < 0, -y, y)
    return np.where(z < 0, (1 << ACT_EXP) - y, y)


def shift_round(acc: np.ndarray, shift: int) -> np.ndarray:
    """acc / 2^shift rounded half up ((acc + 2^(shift-1)) >> shift), or acc * 2^-shift for a negative shift."""
    if shift > 0:
        return (acc + (1 << (shift - 1))) >> shift
    return acc << -shift


# ---------------------------------------------------------------------------------------------
# Kernel SVMs (SVC, NuSVC, SVR, NuSVR with the rbf, poly or sigmoid kernel)

# The RBF kernel's exp: a table of EXP_SEGMENTS linear segments over gamma |x - sv|^2 in [0, EXP_REACH], values at
# 2^K_EXP (exp(0) stored as 2^15 - 1); beyond EXP_REACH the kernel is 0 (exp(-16) = 1.1e-7).
EXP_SEGMENTS = 512
EXP_REACH = 16.0
K_EXP = 15
U_FRACTION = 16        # the interpolation reads the position within a segment as a 16-bit fraction


@dataclass(frozen=True, eq=False)
class FixedRbf:
    """K(x, sv_s) = exp(-gamma |x - sv_s|^2) in integers, at 2^K_EXP.

    u_j = sat(round(xq[feature_j] * mult_j / 2^shift_j)) puts the inputs in units where every feature weighs the
    same in the distance; vectors (times 2^vector_shift) are the support vectors in those units, so
    acc = sum_j min(|u_j - v_sj|, cap)^2 (uint32) is gamma |x - sv|^2 at 2^z_exponent... read through `table`:
    segment acc >> z_shift, interpolated with the bits below it; 0 from segment EXP_SEGMENTS on.
    """

    feature: np.ndarray        # (n_used,) xq column of each vector column
    mult: np.ndarray           # (n_used,) int, < 2^15
    shift: np.ndarray          # (n_used,) int, >= 1
    vectors: np.ndarray        # (n_sv, n_used) int: int16, or int8 codes (fixed8)
    vector_shift: int          # a stored code is the coordinate >> vector_shift (fixed8: 7)
    cap: int                   # |u - v| beyond this only adds to a distance that already exceeds EXP_REACH
    z_shift: int               # EXP_SEGMENTS << z_shift is gamma |x - sv|^2 = EXP_REACH
    table: np.ndarray          # (EXP_SEGMENTS + 1,) uint16

    kernel = "rbf"
    k_exp = K_EXP

    def inputs(self, xq: np.ndarray) -> np.ndarray:
        product = xq[:, self.feature] * self.mult
        return np.clip((product + (1 << (self.shift - 1))) >> self.shift, -Q_MAX, Q_MAX)

    def values(self, xq: np.ndarray) -> np.ndarray:
        """(rows, n_sv) kernel values, what `<name>_kernel` returns."""
        u = self.inputs(xq)
        v = self.vectors << self.vector_shift
        d = np.minimum(np.abs(u[:, None, :] - v[None, :, :]), self.cap)
        acc = (d * d).sum(-1)
        i = acc >> self.z_shift
        inside = i < EXP_SEGMENTS
        i = np.minimum(i, EXP_SEGMENTS - 1)
        f = acc & ((1 << self.z_shift) - 1)
        f = f >> (self.z_shift - U_FRACTION) if self.z_shift >= U_FRACTION else f << (U_FRACTION - self.z_shift)
        low, high = self.table[i], self.table[i + 1]
        return np.where(inside, low - (((low - high) * f) >> U_FRACTION), 0)


@dataclass(frozen=True, eq=False)
class FixedDot:
    """K(x, sv_s) of the poly and sigmoid kernels in integers, from z_s = gamma <x, sv_s> + coef0.

    z_s = bias_s + sum_j xq[feature_j] vectors_sj (int32, at 2^z_exp), then t = sat16(z_s at 2^t_exp). sigmoid:
    K = tanh(t) from the MLP's tanh table (t at 2^12, K at 2^14). poly: K = t, then degree - 1 times
    K = sat16(round(K * t / 2^s)) for the shifts in `steps`; K at 2^k_exp.
    """

    kernel: str                # "poly" | "sigmoid"
    feature: np.ndarray        # (n_used,)
    vectors: np.ndarray        # (n_sv, n_used) int: gamma * sv_sj * 2^-E_j at 2^z_exp
    bias: np.ndarray           # (n_sv,) int: gamma * <centre, sv_s> + coef0 at 2^z_exp
    z_exp: int
    t_exp: int
    steps: tuple[int, ...]     # poly: the shift after each further factor
    k_exp: int
    table: np.ndarray | None   # sigmoid: TABLE_SEGMENTS + 1 values of tanh at 2^ACT_EXP

    def base(self, xq: np.ndarray) -> np.ndarray:
        return xq[:, self.feature] @ self.vectors.T + self.bias

    def values(self, xq: np.ndarray) -> np.ndarray:
        t = to_int16(self.base(xq), self.z_exp - self.t_exp)
        if self.kernel == "sigmoid":
            return table_activation(t, self.table, "tanh")
        k = t
        for shift in self.steps:
            k = np.clip(shift_round(k * t, shift), -Q_MAX, Q_MAX)
        return k


def to_int16(z: np.ndarray, shift: int) -> np.ndarray:
    """z * 2^-shift rounded half up, saturated to +-Q_MAX; a negative shift saturates z at Q_MAX >> -shift first."""
    if shift >= 0:
        return np.clip(shift_round(z, shift), -Q_MAX, Q_MAX)
    limit = Q_MAX >> -shift
    return np.clip(z, -limit, limit) << -shift


@dataclass(frozen=True, eq=False)
class FixedKernelSvm:
    """A kernel SVM in integers: decision_p = bias_p + sum_s round(coef_ps K_s / 2^product_shift) (int32, at 2^exponent);
    the rounding adds 2^(product_shift - 1) before the shift, so the sum of many terms does not drift.

    kind "ovo": one decision per class pair in libsvm's layout (`coef` has n_classes - 1 rows, as the float
    `KernelSvm`), libsvm's vote; two classes: class 1 when the decision is >= 0. "regressor": one output,
    y = acc * 2^-exponent + offset.
    """

    kind: str
    kernel: object             # FixedRbf | FixedDot
    coef: np.ndarray           # (n_rows, n_sv) int16
    product_shift: int
    bias: np.ndarray           # (n_outputs,) int
    exponent: int
    offset: np.ndarray         # (n_outputs,) float32: a regressor's intercept, added in float
    n_support: tuple[int, ...]
    bound: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.n_support) if self.kind == "ovo" else 0

    @property
    def n_outputs(self) -> int:
        n = self.n_classes
        return 1 if self.kind == "regressor" or n == 2 else n * (n - 1) // 2

    def accumulate(self, xq: np.ndarray) -> np.ndarray:
        K = self.kernel.values(xq)
        if self.kind == "regressor" or self.n_classes == 2:
            return shift_round(K * self.coef[0], self.product_shift).sum(1)[:, None] + self.bias
        starts = np.concatenate([[0], np.cumsum(self.n_support)])
        sums = []
        for p, (i, j) in enumerate((i, j) for i in range(self.n_classes) for j in range(i + 1, self.n_classes)):
            si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
            terms = np.concatenate([shift_round(K[:, si] * self.coef[j - 1, si], self.product_shift),
                                    shift_round(K[:, sj] * self.coef[i, sj], self.product_shift)], axis=1)
            sums.append(terms.sum(1) + self.bias[p])
        return np.stack(sums, 1)

    def run(self, xq: np.ndarray) -> np.ndarray:
        acc = self.accumulate(xq)
        if self.kind == "regressor":
            return acc
        return ovo_predict(acc.astype(np.float64), self.n_classes)

    def values(self, out: np.ndarray) -> np.ndarray:
        """Regressors: the float32 values the C returns, (float)acc * 2^-exponent + offset."""
        scale = np.float32(2.0 ** -self.exponent)
        return (out.astype(np.float32) * scale + self.offset.astype(np.float32)).astype(np.float64)


@dataclass(frozen=True, eq=False)
class Quantized:
    """A model's integer form: the input scaling (float x -> int16 xq) and one integer head.

    `<name>_predict_fixed` runs `core` on xq; `<name>_predict` quantizes x first. Classifiers return
    class indices, regressors int32 outputs that `core.values` turns into the floats the C returns.
    """

    precision: Precision
    inputs: InputScaling
    core: object               # FixedLinear | FixedForestClassifier | FixedTreeSum | FixedMlp | FixedKernelSvm
    task: str                  # "classifier" | "regressor"
    integer = True             # the C must equal `run` exactly, not within float rounding

    @property
    def n_features(self) -> int:
        return len(self.inputs.exponent)

    @property
    def n_outputs(self) -> int:
        return self.core.n_outputs if self.task == "regressor" else 1

    def run(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(xq, what `<name>_predict_fixed` returns) for float rows X: class indices, or int outputs (rows, K)."""
        xq = self.inputs.quantize(X)
        return xq, self.core.run(xq)

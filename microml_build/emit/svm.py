"""C for the SVM heads: KernelSvm (one kernel value per support vector, O(1) RAM) and LinearOvo; the shared kernel,
over float32 support vectors or packed int16/int8 codes (`passes/compress.py`)."""

from __future__ import annotations

import math

import numpy as np

from microml_build.cnames import int_type
from microml_build.emit.c_writer import READ, CWriter, float_literal, table
from microml_build.emit.common import emit_predict_alias, fused_decision_function, fused_predict, pair_notes
from microml_build.emit.helpers import EXP_NEG, KERNEL_EXP
from microml_build.ir.forms import KernelForm
from microml_build.ir.svm import Kernel, KernelSvm, KernelSvr, LinearOvo

# microml_exp_neg(x), exp for x <= 0: the RBF kernel's exp, on every target (the file says why and how accurate).
# Shared C: header.py pastes it once, before `extern "C"`, into any header whose plan names it.
EXP_NEG_C = EXP_NEG.text
# microml_kernel_exp(d, scale, shift) = exp(-gamma d) with gamma folded in, in integer steps: the planner's choice
# where the exp dominates a kernel's cycles (plan.plan_exp).
KERNEL_EXP_C = KERNEL_EXP.text

KERNEL_DOCS = {
    "rbf": "RBF kernel: K(x, sv) = exp(-gamma * |x - sv|^2), the distance summed term by term, the exp by "
           "microml_exp_neg() at the top of this header.",
    "rbf-kernel_exp": "RBF kernel: K(x, sv) = exp(-gamma * |x - sv|^2), the distance summed term by term, the exp by "
                      "microml_kernel_exp() at the top of this header, gamma * log2(e) folded into its constant.",
    "poly": "Polynomial kernel: K(x, sv) = (gamma * <x, sv> + coef0)^degree.",
    "sigmoid": "Sigmoid kernel: K(x, sv) = tanh(gamma * <x, sv> + coef0).",
}


def emit_kernel_form(w: CWriter, form: KernelForm, p: str, n_features: int) -> None:
    """A float kernel SVM (SVC/NuSVC) or SVR with the exp the planner chose."""
    if isinstance(form.head, KernelSvr):
        emit_kernel_svr(w, form.head, p, n_features, form.exp)
    else:
        emit_kernel_svm(w, form.head, p, n_features, form.exp)


def emit_kernel_svm(w: CWriter, head: KernelSvm, p: str, n_features: int, exp: str = "exp_neg") -> None:
    """Tables, kernel and decision function of a kernel SVM."""
    P = p.upper()
    n_sv, n_classes = len(head.support_vectors), head.n_classes
    n_pairs = n_classes * (n_classes - 1) // 2
    sv_t = int_type(n_sv)
    binary = n_classes == 2
    w.line(f"#define {P}_N_PAIRS {n_pairs}")
    kernel_macros(w, head, P, exp)
    w.line()
    sv_class = np.repeat(np.arange(n_classes), head.n_support)
    sv_notes = [f"support vector {i}: class {p.label(int(c))}" for i, c in enumerate(sv_class)]
    support_vector_table(w, head, p, "Support vectors, grouped by class, one row each", sv_notes)
    if binary:
        table(w, f"{p}_dual_coef", head.coef[0], "Dual coefficients (alpha_i * y_i), one per support vector:",
              notes=sv_notes if p.annotate else None)
        w.line()
        w.line(f"#define {P}_INTERCEPT {float_literal(head.intercept[0])}   /* added to the sum of the kernels */")
    else:
        names = [p.classes[c] if c < len(p.classes) else str(c) for c in range(n_classes)]
        rows = [f"row {r}: SVs of " + ", ".join(f"{names[c]} vs {names[r if r < c else r + 1]}"
                                               for c in range(n_classes)) for r in range(n_classes - 1)]
        table(w, f"{p}_dual_coef", head.coef,
              "Dual coefficients, libsvm layout: for the class pair (i, j), SVs of class i use row j - 1 "
              "and SVs of class j use row i; each row has one per support vector:", notes=rows)
        w.line()
        table(w, f"{p}_intercept", head.intercept, "Intercept of each class pair (0,1), (0,2), ..., (1,2), ...:",
              notes=pair_notes(p, n_classes))
        w.line()
        count_t = int_type(max(head.n_support))
        table(w, f"{p}_class_sv_count", np.array(head.n_support), "Support vectors per class:", ctype=count_t,
              notes=[f"class {p.label(c)}" for c in range(n_classes)])
    w.line()
    emit_kernel(w, head, p, n_features, exp)
    w.line()

    if binary:
        w.comment("Decision value, as scikit-learn's decision_function: the sum of dual_coef * K(x, sv) over "
                  "the support vectors plus the intercept. Zero or above means class 1.")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            emit_kernel_sum(w, head, p, sv_t)
            w.line(f"decision[0] = sum + {P}_INTERCEPT;")
        w.line()
        emit_ovo_predict(w, p, n_classes)
        return

    pair_t = emit_pair_index(w, p, n_pairs)
    w.comment("One-vs-one decision values, as scikit-learn's decision_function with decision_function_shape='ovo'. "
              "Each kernel value is computed once and added to every pair its support vector belongs to, "
              "so RAM stays one float per pair, whatever the number of support vectors.")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        call = unpack_call(w, head, p)
        w.line(f"{sv_t} sv = 0;")
        with w.block(f"for ({pair_t} pair = 0; pair < {P}_N_PAIRS; pair++)"):
            w.line("decision[pair] = 0.0f;")
        ovo_sums(w, p, head.n_support, sv_t, f"const float k = {call};",
                 lambda row, pair: f"decision[{pair}] += MICROML_READ_FLOAT(&{p}_dual_coef[{row}][sv]) * k;")
        with w.block(f"for ({pair_t} pair = 0; pair < {P}_N_PAIRS; pair++)"):
            w.line(f"decision[pair] += MICROML_READ_FLOAT(&{p}_intercept[pair]);")
    w.line()
    emit_ovo_predict(w, p, n_classes)


def emit_pair_index(w: CWriter, p: str, n_pairs: int) -> str:
    """`<p>_impl_pair_index(i, j)`; returns the C type of a pair index."""
    P = p.upper()
    pair_t = int_type(n_pairs)
    w.comment("Position of the class pair (i, j), i < j, in libsvm's order (0,1), (0,2), ..., (1,2), ...")
    with w.block(f"static inline {pair_t} {p.impl}_pair_index(uint8_t i, uint8_t j)"):
        w.line(f"return ({pair_t})(i * (2 * {P}_N_CLASSES - i - 1) / 2 + (j - i - 1));")
    w.line()
    return pair_t


def ovo_sums(w: CWriter, p: str, n_support: tuple, sv_t: str, kernel: str, add, skip: str = "") -> None:
    """The support vectors class by class (`sv` counting from 0): `kernel` computes k once, then `add(row, pair)`
    adds it to each pair of the vector's class, with libsvm's coefficient row; `skip` may end the vector early.

    The pairs are counted, not computed: (0, c) is pair c - 1 and (i + 1, c) lies N - i - 2 after (i, c); the pairs
    (c, j), j > c, follow each other from `<p>_impl_pair_index(c, c + 1)`, computed once per class.
    """
    P = p.upper()
    n_classes = len(n_support)
    pair_t = int_type(n_classes * (n_classes - 1) // 2)
    read_count = "MICROML_READ_U8" if int_type(max(n_support)) == "uint8_t" else "MICROML_READ_U16"
    with w.block(f"for (uint8_t c = 0; c < {P}_N_CLASSES; c++)"):
        w.line(f"const {sv_t} class_end = ({sv_t})(sv + {read_count}(&{p}_class_sv_count[c]));")
        w.line(f"const {pair_t} row = {p.impl}_pair_index(c, (uint8_t)(c + 1));")
        with w.block("for (; sv < class_end; sv++)"):
            w.line(kernel)
            if skip:
                with w.block(f"if ({skip})"):
                    w.line("continue;   /* out of the kernel's reach */")
            w.line(f"{pair_t} pair = ({pair_t})(c - 1);")
            with w.block(f"for (uint8_t i = 0; i < c; i++, pair = ({pair_t})(pair + {P}_N_CLASSES - i - 1))"):
                w.line(add("i", "pair"))
            w.line("pair = row;")
            with w.block(f"for (uint8_t j = (uint8_t)(c + 1); j < {P}_N_CLASSES; j++, pair++)"):
                w.line(add("j - 1", "pair"))


def emit_linear_ovo(w: CWriter, head: LinearOvo, p: str, n_features: int) -> None:
    """One dot product per class pair; returns the bytes of flash tables."""
    P = p.upper()
    n_used, f_t, x_j = feature_access(w, head, p, n_features)
    ovo_tables(w, head, p)
    if head.n_classes == 2:
        w.comment("Decision value, as scikit-learn's decision_function: <w, x> + intercept. "
                  "Zero or above means class 1.")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            w.line("float dot = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
                w.line(f"dot += {x_j} * MICROML_READ_FLOAT(&{p}_weights[j]);")
            w.line(f"decision[0] = dot + {P}_INTERCEPT;")
        w.line()
        emit_ovo_predict(w, p, 2)
        return
    pair_t = int_type(len(head.weights))
    w.comment("One-vs-one decision values, as scikit-learn's decision_function with decision_function_shape='ovo'.")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        with w.block(f"for ({pair_t} pair = 0; pair < {P}_N_PAIRS; pair++)"):
            w.line("float dot = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
                w.line(f"dot += {x_j} * MICROML_READ_FLOAT(&{p}_weights[pair][j]);")
            w.line(f"decision[pair] = dot + MICROML_READ_FLOAT(&{p}_intercept[pair]);")
    w.line()
    emit_ovo_predict(w, p, head.n_classes)


def ovo_tables(w: CWriter, head: LinearOvo, p) -> None:
    """The weights and intercepts of a LinearOvo: one vector and `<P>_INTERCEPT` for two classes, else one row per
    class pair and `<P>_N_PAIRS`."""
    P = p.upper()
    if head.n_classes == 2:
        table(w, f"{p}_weights", head.weights[0],
              "Weights: the support vectors times their dual coefficients, summed, one per input:",
              notes=[p.input(j) for j in input_columns(head)] if p.annotate else None)
        w.line()
        w.line(f"#define {P}_INTERCEPT {float_literal(head.intercept[0])}   /* added to the dot product */")
        w.line()
        return
    w.line(f"#define {P}_N_PAIRS {len(head.weights)}")
    w.line()
    notes = pair_notes(p, head.n_classes)
    table(w, f"{p}_weights", head.weights,
          "Weights of each class pair (0,1), (0,2), ..., (1,2), ...: the pair's support vectors times their "
          f"dual coefficients, summed, one per input ({p.input_list(input_columns(head))}):", notes=notes)
    w.line()
    table(w, f"{p}_intercept", head.intercept, "Intercept of each class pair:", notes=notes)
    w.line()


def emit_linear_ovo_fused(w: CWriter, head: LinearOvo, p, T: str, window_sums) -> None:
    """LinearOvo fused with the window features (plan/features.py): its tables, `<p>_impl_window_sums` (printed by
    `window_sums`) for the pair decisions, and the public functions on top of it."""
    P = p.upper()
    ovo_tables(w, head, p)
    binary = head.n_classes == 2
    window_sums(count=1 if binary else f"{P}_N_PAIRS",
                weight=f"MICROML_READ_FLOAT(&{p}_weights[{{j}}])" if binary else
                f"MICROML_READ_FLOAT(&{p}_weights[{{k}}][{{j}}])",
                intercept=f"{P}_INTERCEPT" if binary else f"MICROML_READ_FLOAT(&{p}_intercept[{{k}}])")
    fused_decision_function(w, p, T, "One-vs-one decision values, as scikit-learn's decision_function with "
                            "decision_function_shape='ovo'")
    emit_ovo_predict(w, p, head.n_classes, ("predict_ring", f"const {T} *ring, unsigned head",
                                             f"{p.impl}_window_sums(ring, head, {{decision}})"))
    w.line()
    fused_predict(w, p, T, "int")


def emit_kernel_svr(w: CWriter, head: KernelSvr, p: str, n_features: int, exp: str = "exp_neg") -> None:
    """Support vectors, dual coefficients, kernel and predict_value of an SVR."""
    P = p.upper()
    sv_t = int_type(len(head.support_vectors))
    kernel_macros(w, head, P, exp)
    w.line()
    sv_notes = [f"support vector {i}" for i in range(len(head.support_vectors))]
    support_vector_table(w, head, p, "Support vectors, one row each", sv_notes)
    table(w, f"{p}_dual_coef", head.coef, "Dual coefficients (alpha_i - alpha*_i), one per support vector:",
          notes=sv_notes if p.annotate else None)
    w.line()
    w.line(f"#define {P}_INTERCEPT {float_literal(head.intercept)}   /* added to the sum of the kernels */")
    w.line()
    emit_kernel(w, head, p, n_features, exp)
    w.line()
    w.comment("Predicted value, as scikit-learn's predict: the sum of dual_coef * K(x, sv) over the support vectors "
              "in table order, plus the intercept. One kernel value at a time: RAM does not grow with the SVs.")
    with w.block(f"static inline float {p}_predict_value(const float *x)"):
        emit_kernel_sum(w, head, p, sv_t)
        w.line(f"return sum + {P}_INTERCEPT;")
    w.line()
    emit_predict_alias(w, p)


def emit_kernel_sum(w: CWriter, head, p: str, sv_t: str) -> None:
    """`float sum` = the sum of dual_coef * K(x, sv) over the support vectors, one kernel value at a time."""
    call = unpack_call(w, head, p)
    w.line("float sum = 0.0f;")
    with w.block(f"for ({sv_t} sv = 0; sv < {p.upper()}_N_SUPPORT_VECTORS; sv++)"):
        w.line(f"sum += MICROML_READ_FLOAT(&{p}_dual_coef[sv]) * {call};")


def emit_ovo_predict(w: CWriter, p: str, n_classes: int, source: tuple[str, str, str] | None = None) -> None:
    """predict() from the pair decisions: a sign test for two classes, libsvm's vote otherwise.

    `source` (function name, its parameters, the call filling `decision` or `&decision` as {decision})
    replaces the default ("predict", "const float *x", "<p>_decision_function(x, {decision})")."""
    P = p.upper()
    name, params, fill = source or ("predict", "const float *x", f"{p}_decision_function(x, {{decision}})")
    x = "x" if name == "predict" else "the window"
    if n_classes == 2:
        w.comment(f"Class index of {x} (0 or 1): index into {p.api}_label(). decision >= 0.0f is tested on the float's "
                  "bits (+0 up to +inf, or -0; never NaN): the same answer without a float compare, which on AVR "
                  "links ~80 B of soft-float code.")
        with w.block(f"static inline int {p}_{name}({params})"):
            w.line("float decision;")
            w.line("uint32_t bits;")
            w.line(fill.format(decision="&decision") + ";")
            w.line("memcpy(&bits, &decision, sizeof bits);")
            w.line("return bits <= 0x7F800000u || bits == 0x80000000u ? 1 : 0;")
        return
    pair_t = int_type(n_classes * (n_classes - 1) // 2)
    w.comment(f"Class index of {x}: index into {p.api}_label(). Each class pair votes; most votes wins, "
              "a tie goes to the lowest index (libsvm's rule, which scikit-learn follows). decision > 0.0f is "
              "tested on the float's bits (+FLT_TRUE_MIN up to +inf; never NaN): the same answer without a float "
              "compare, which on AVR links ~80 B of soft-float code.")
    with w.block(f"static inline int {p}_{name}({params})"):
        w.line(f"float decision[{P}_N_PAIRS];")
        w.line(f"uint8_t votes[{P}_N_CLASSES] = {{0}};")
        w.line(f"{pair_t} pair = 0;")
        w.line("uint8_t best = 0;")
        w.line("uint32_t bits;")
        w.line(fill.format(decision="decision") + ";")
        with w.block(f"for (uint8_t i = 0; i < {P}_N_CLASSES; i++)"):
            with w.block(f"for (uint8_t j = (uint8_t)(i + 1); j < {P}_N_CLASSES; j++, pair++)"):
                w.line("memcpy(&bits, &decision[pair], sizeof bits);")
                w.line("votes[bits - 1u < 0x7F800000u ? i : j]++;")
        with w.block(f"for (uint8_t c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block("if (votes[c] > votes[best])"):
                w.line("best = c;")
        w.line("return best;")


def kernel_macros(w: CWriter, head: Kernel, P: str, exp: str = "exp_neg") -> None:
    """`<P>_N_SUPPORT_VECTORS` and the kernel's parameters, for `emit_kernel`."""
    w.line(f"#define {P}_N_SUPPORT_VECTORS {len(head.support_vectors)}")
    w.line(f"#define {P}_GAMMA {float_literal(head.gamma)}   /* the kernel's gamma (scikit-learn's _gamma) */")
    if head.kernel == "rbf" and exp == "kernel_exp":
        scale, shift = exp_constant(head.gamma)
        w.line(f"#define {P}_EXP_SCALE {scale}UL   /* gamma * log2(e) = EXP_SCALE * 2^(EXP_SHIFT - 31) */")
        w.line(f"#define {P}_EXP_SHIFT ({shift})")
    if head.kernel != "rbf":
        w.line(f"#define {P}_COEF0 {float_literal(head.coef0)}   /* the kernel's coef0 */")
    if head.kernel == "poly":
        w.line(f"#define {P}_DEGREE {head.degree}   /* the polynomial kernel's degree */")


def exp_constant(gamma: float) -> tuple[int, int]:
    """(scale, shift) with gamma * log2(e) = scale * 2^(shift - 31), scale in [2^31, 2^32): microml_kernel_exp's c."""
    c = gamma / math.log(2)
    shift = math.floor(math.log2(c))
    scale = round(c * 2.0 ** (31 - shift))
    if scale >= 2 ** 32:
        scale, shift = 2 ** 31, shift + 1
    return scale, shift


def exp_call(P: str, exp: str) -> str:
    """The C that returns the RBF kernel's value from `distance`."""
    if exp == "kernel_exp":
        return f"return microml_kernel_exp(distance, {P}_EXP_SCALE, {P}_EXP_SHIFT);"
    return f"return microml_exp_neg(-{P}_GAMMA * distance);"


def emit_kernel(w: CWriter, head: Kernel, p: str, n_features: int, exp: str = "exp_neg") -> None:
    """`<p>_impl_kernel(x, sv)`: K(x, support vector sv) over the `<p>_support_vectors` table, in float32.

    Needs `kernel_macros` and the `<p>_support_vectors` table written before it; shared by the SVC and SVR heads.
    Packed support vectors (`head.packed`) get `<p>_impl_unpack_input` and a kernel over its output instead
    (`unpack_call` says how the decision functions call it). Adds the tables of a folded Pipeline (feature index
    and weights).
    """
    P = p.upper()
    sv_t = int_type(len(head.support_vectors))
    n_used, f_t, x_j = feature_access(w, head, p, n_features)
    if head.packed is not None:
        _emit_packed_kernel(w, head, p, n_used, f_t, x_j, sv_t, exp)
        return
    if head.feature_weights is not None:
        table(w, f"{p}_feature_weights", head.feature_weights,
              "Weight of each feature in the squared distance: the Pipeline's scaler folded in "
              "(|(x - o) * s - sv|^2 = sum s^2 * (x - (o + sv / s))^2, so the support vectors are in raw units):",
              notes=[p.input(j) for j in input_columns(head)] if p.annotate else None)
        w.line()
    w.comment(KERNEL_DOCS["rbf-kernel_exp" if head.kernel == "rbf" and exp == "kernel_exp" else head.kernel])
    with w.block(f"static inline float {p.impl}_kernel(const float *x, {sv_t} sv)"):
        if head.kernel == "rbf":
            w.line("float distance = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
                w.line(f"const float d = {x_j} - MICROML_READ_FLOAT(&{p}_support_vectors[sv][j]);")
                if head.feature_weights is None:
                    w.line("distance += d * d;")
                else:
                    w.line(f"distance += MICROML_READ_FLOAT(&{p}_feature_weights[j]) * d * d;")
            w.line(exp_call(P, exp))
        else:
            w.line("float dot = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
                w.line(f"dot += {x_j} * MICROML_READ_FLOAT(&{p}_support_vectors[sv][j]);")
            _dot_kernel_value(w, head, P)


def _dot_kernel_value(w: CWriter, head: Kernel, P: str) -> None:
    """The return statement(s) of a poly or sigmoid kernel from `dot`."""
    if head.kernel == "sigmoid":
        w.line(f"return tanhf({P}_GAMMA * dot + {P}_COEF0);")
        return
    w.line(f"const float base = {P}_GAMMA * dot + {P}_COEF0;")
    w.line("float k = 1.0f;")
    with w.block(f"for (uint8_t d = 0; d < {P}_DEGREE; d++)"):
        w.line("k *= base;")
    w.line("return k;")


def support_vector_table(w: CWriter, head: Kernel, p: str, doc: str, notes: list[str]) -> None:
    """`<p>_support_vectors`: float32 rows, or the packed codes with their per-column offset and step."""
    packed = head.packed
    inputs = p.input_list(input_columns(head))
    if packed is None:
        table(w, f"{p}_support_vectors", head.support_vectors, f"{doc}, one value per input ({inputs}):", notes=notes)
        w.line()
        return
    bits = 16 if packed.ctype == "int16_t" else 8
    table(w, f"{p}_support_vectors", packed.codes,
          f"{doc}, one value per input ({inputs}), packed as {packed.ctype} codes c: the value is "
          f"{p}_sv_offset[j] + {p}_sv_step[j] * c, the {bits}-bit step of column j spanning the support vectors' "
          "range in it:", packed.ctype, notes=notes)
    w.line()
    column_notes = [p.input(j) for j in input_columns(head)] if p.annotate else None
    table(w, f"{p}_sv_offset", packed.offset, "Offset o_j of each packed column (the centre of its range):",
          notes=column_notes)
    w.line()
    if head.kernel == "rbf":
        table(w, f"{p}_sv_inverse_step", 1.0 / packed.scale, "1 / s_j, the inverse step of each packed column:",
              notes=column_notes)
        w.line()
        weights = packed.scale ** 2 * (1.0 if head.feature_weights is None else head.feature_weights)
        note = " times the Pipeline's folded scale squared" if head.feature_weights is not None else ""
        table(w, f"{p}_sv_weight", weights, f"Weight s_j^2{note} of each column in the squared distance:",
              notes=column_notes)
    else:
        table(w, f"{p}_sv_step", packed.scale, "Step s_j of each packed column:", notes=column_notes)
    w.line()


def _emit_packed_kernel(w: CWriter, head: Kernel, p: str, n_used: str, f_t: str, x_j: str, sv_t: str,
                        exp: str) -> None:
    """`<p>_impl_unpack_input` (once per prediction) and `<p>_impl_kernel` over its output and the packed codes."""
    P = p.upper()
    read = READ[head.packed.ctype]
    if head.kernel == "rbf":
        w.comment(f"The input in the support vectors' packed units, u_j = (x_j - o_j) / s_j, once per prediction: "
                  f"then |x - sv|^2 = sum_j {p}_sv_weight[j] * (u_j - c_j)^2 over the codes c of sv.")
        with w.block(f"static inline void {p.impl}_unpack_input(const float *x, float *u)"):
            with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
                w.line(f"u[j] = ({x_j} - MICROML_READ_FLOAT(&{p}_sv_offset[j])) * "
                       f"MICROML_READ_FLOAT(&{p}_sv_inverse_step[j]);")
        w.line()
        w.comment(KERNEL_DOCS["rbf-kernel_exp" if exp == "kernel_exp" else "rbf"] +
                  " Over the packed codes and the unpacked input u.")
        with w.block(f"static inline float {p.impl}_kernel(const float *u, {sv_t} sv)"):
            w.line("float distance = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
                w.line(f"const float d = u[j] - (float){read}(&{p}_support_vectors[sv][j]);")
                w.line(f"distance += MICROML_READ_FLOAT(&{p}_sv_weight[j]) * d * d;")
            w.line(exp_call(P, exp))
        return
    w.comment("The input scaled to the support vectors' packed units, u_j = x_j * s_j, once per prediction; returns "
              "sum_j x_j * o_j. Then <x, sv> = that sum + sum_j u_j * c_j over the codes c of sv.")
    with w.block(f"static inline float {p.impl}_unpack_input(const float *x, float *u)"):
        w.line("float base = 0.0f;")
        with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
            w.line(f"const float xj = {x_j};")
            w.line(f"u[j] = xj * MICROML_READ_FLOAT(&{p}_sv_step[j]);")
            w.line(f"base += xj * MICROML_READ_FLOAT(&{p}_sv_offset[j]);")
        w.line("return base;")
    w.line()
    w.comment(KERNEL_DOCS[head.kernel] + " Over the packed codes: <x, sv> = x_dot_offset + sum_j u_j * c_j.")
    with w.block(f"static inline float {p.impl}_kernel(const float *u, float x_dot_offset, {sv_t} sv)"):
        w.line("float dot = x_dot_offset;")
        with w.block(f"for ({f_t} j = 0; j < {n_used}; j++)"):
            w.line(f"dot += u[j] * (float){read}(&{p}_support_vectors[sv][j]);")
        _dot_kernel_value(w, head, P)


def unpack_call(w: CWriter, head: Kernel, p: str) -> str:
    """Writes what a decision function needs before its support-vector loop; returns the kernel call for `sv`."""
    if head.packed is None:
        return f"{p.impl}_kernel(x, sv)"
    width = f"{p.upper()}_N_USED_FEATURES" if head.feature_index is not None else f"{p.upper()}_N_FEATURES"
    w.line(f"float u[{width}];")
    if head.kernel == "rbf":
        w.line(f"{p.impl}_unpack_input(x, u);")
        return f"{p.impl}_kernel(u, sv)"
    w.line(f"const float x_dot_offset = {p.impl}_unpack_input(x, u);")
    return f"{p.impl}_kernel(u, x_dot_offset, sv)"


def input_columns(head) -> list[int]:
    """The input read by each column of a head's tables: every feature in order, or a folded selection's."""
    index = getattr(head, "feature_index", None)
    width = len(head.support_vectors[0]) if hasattr(head, "support_vectors") else len(head.weights[0])
    return list(index) if index is not None else list(range(width))


def feature_access(w: CWriter, head, p: str, n_features: int) -> tuple[str, str, str]:
    """How a head's loops read input j: (loop bound, loop index type, C expression).

    Normally all `<P>_N_FEATURES` inputs, `x[j]`. A folded feature selection (`head.feature_index`)
    reads x through a flash table of columns instead: the caller passes every feature, nothing is copied.
    """
    P = p.upper()
    index = getattr(head, "feature_index", None)
    if index is None:
        return f"{P}_N_FEATURES", int_type(n_features), "x[j]"
    ctype = int_type(max(index))
    w.line(f"#define {P}_N_USED_FEATURES {len(index)}")
    w.line()
    table(w, f"{p}_feature_index", np.array(index),
          "Column of x read for each model input: the Pipeline's feature selection, folded (x holds every feature):",
          ctype=ctype, notes=[p.input(j) for j in index] if p.annotate else None)
    w.line()
    read = "MICROML_READ_U8" if ctype == "uint8_t" else "MICROML_READ_U16"
    return f"{P}_N_USED_FEATURES", int_type(len(index)), f"x[{read}(&{p}_feature_index[j])]"

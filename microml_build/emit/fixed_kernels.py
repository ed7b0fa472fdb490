"""C for fixed-point kernel SVMs (`ir.fixed.FixedKernelSvm`): integer kernels and decision sums, libsvm's vote.

The scheme and its overflow proofs are in `passes/quantize.py` ("Kernel SVMs"); `ir/fixed.py` holds the integer
reference each line here must equal. Everything is integer arithmetic: no soft-float call in `<name>_predict_fixed`.
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import int_type
from microml_build.emit.c_writer import READ, CWriter, table
from microml_build.emit.common import output_scale
from microml_build.emit.fixed_heads import table_lookup
from microml_build.emit.svm import emit_pair_index, ovo_sums
from microml_build.ir import pairs
from microml_build.ir.fixed import ACT_EXP, EXP_REACH, EXP_SEGMENTS, K_EXP, TABLE_SEGMENTS, U_FRACTION, FixedDot, \
    FixedKernelSvm, FixedRbf, Quantized


def emit_fixed_kernel_svm(w: CWriter, q: Quantized, head: FixedKernelSvm, p: str) -> None:
    P = p.upper()
    kernel = head.kernel
    n_sv = head.coef.shape[1]
    sv_t = int_type(n_sv)
    w.line(f"#define {P}_N_SUPPORT_VECTORS {n_sv}")
    w.line(f"#define {P}_N_KERNEL_INPUTS {len(kernel.feature)}")
    if head.kind == "ovo":
        sv_class = np.repeat(np.arange(head.n_classes), head.n_support)
        sv_notes = [f"support vector {i}: class {p.label(int(c))}" for i, c in enumerate(sv_class)]
    else:
        sv_notes = [f"support vector {i}" for i in range(n_sv)]
    if isinstance(kernel, FixedRbf):
        k_t, setup, call = _rbf(w, q, kernel, p, sv_t, sv_notes)
    else:
        k_t, setup, call = _dot(w, q, kernel, p, sv_t, sv_notes)
    w.line()
    _decisions(w, head, p, sv_t, k_t, setup, call, sv_notes)


def _features(w: CWriter, q: Quantized, kernel, p: str) -> str:
    """How kernel input j reads xq: `xq[j]`, or through `<p>_kernel_feature` (a folded feature selection)."""
    feature = np.asarray(kernel.feature)
    if len(feature) == q.n_features and (feature == np.arange(q.n_features)).all():
        return "xq[j]"
    f_t = int_type(q.n_features)
    table(w, f"{p}_kernel_feature", feature, "Column of xq each kernel input reads (the Pipeline's feature selection, "
          "folded):", f_t, notes=[p.input(int(j)) for j in feature] if p.annotate else None)
    w.line()
    return f"xq[{READ[f_t]}(&{p}_kernel_feature[j])]"


def _rbf(w: CWriter, q: Quantized, kernel: FixedRbf, p: str, sv_t: str, sv_notes: list[str]):
    P = p.upper()
    n = len(kernel.feature)
    j_t = int_type(n)
    eight = q.precision.weight_type == "int8_t"
    xq_j = _features(w, q, kernel, p)
    inputs = [p.input(int(j)) for j in kernel.feature] if p.annotate else None
    w.line(f"#define {P}_CAP {kernel.cap}u           /* |u - v| clamp: n * CAP^2 < 2^32 */")
    w.line(f"#define {P}_Z_SHIFT {kernel.z_shift}          /* exp table segment = distance >> Z_SHIFT */")
    w.line(f"#define {P}_EXP_SEGMENTS {EXP_SEGMENTS}")
    w.line()
    table(w, f"{p}_input_mult", kernel.mult, "Kernel inputs u_j = round(xq * mult_j / 2^shift_j), saturated to "
          "+-32767: the features in units where each weighs the same in gamma |x - sv|^2 (the input scaling, a folded "
          "scaler and gamma in one factor). mult_j < 2^15, so xq * mult_j + 2^(shift_j - 1) < 2^31:", "int16_t",
          notes=inputs)
    w.line()
    table(w, f"{p}_input_shift", kernel.shift, "shift_j of each kernel input:", "uint8_t", notes=inputs)
    w.line()
    ctype = "int8_t" if eight else "int16_t"
    stored = (f" ({ctype} codes: the coordinate is the code * 2^{kernel.vector_shift}, the low bits dropped)"
              if eight else "")
    table(w, f"{p}_vectors", kernel.vectors, f"Support vectors in the kernel inputs' units{stored}, one row each, one "
          f"value per input ({p.input_list(kernel.feature)}):", ctype, notes=sv_notes)
    w.line()
    table(w, f"{p}_exp_table", kernel.table,
          f"exp(-t) at 2^{K_EXP} for t = i * {EXP_REACH:g}/{EXP_SEGMENTS}, i = 0 .. {EXP_SEGMENTS}, interpolated "
          f"linearly in between (relative error below 2e-4); the kernel is 0 from t = {EXP_REACH:g} on "
          "(exp(-16) = 1.1e-7):", "uint16_t")
    w.line()
    w.comment("The kernel inputs u of quantized features xq, once per prediction.")
    with w.block(f"static inline void {p.impl}_kernel_inputs(const int16_t *xq, int16_t *u)"):
        with w.block(f"for ({j_t} j = 0; j < {P}_N_KERNEL_INPUTS; j++)"):
            w.line(f"const uint8_t shift = MICROML_READ_U8(&{p}_input_shift[j]);")
            w.line(f"const int32_t v = ((int32_t){xq_j} * (int16_t)MICROML_READ_U16(&{p}_input_mult[j])")
            w.line("                   + ((int32_t)1 << (shift - 1))) >> shift;")
            w.line("u[j] = (int16_t)(v > 32767 ? 32767 : (v < -32767 ? -32767 : v));")
    w.line()
    read = (f"(int16_t)((int8_t)MICROML_READ_U8(vector++) * {1 << kernel.vector_shift})" if eight
            else "(int16_t)MICROML_READ_U16(vector++)")
    f = (f"(uint16_t)(distance >> {kernel.z_shift - U_FRACTION})" if kernel.z_shift >= U_FRACTION
         else f"(uint16_t)(distance << {U_FRACTION - kernel.z_shift})")
    w.comment(f"RBF kernel K(x, sv) = exp(-gamma |x - sv|^2) at 2^{K_EXP}, from the kernel inputs u: the distance is "
              f"sum_j min(|u_j - v_j|, {P}_CAP)^2 in uint32 (|u - v| <= 65534 fits a uint16; the sum stays below 2^32), "
              f"read through {p}_exp_table. 0 when the support vector is out of reach.")
    with w.block(f"static inline uint16_t {p.impl}_kernel(const int16_t *u, {sv_t} sv)"):
        w.line(f"const {ctype} *vector = {p}_vectors[sv];")
        w.line("uint32_t distance = 0;")
        w.line("uint32_t segment;")
        w.line("uint16_t low, high, fraction;")
        with w.block(f"for ({j_t} j = 0; j < {P}_N_KERNEL_INPUTS; j++)"):
            w.line(f"const int16_t v = {read};")
            w.line("uint16_t d = u[j] >= v ? (uint16_t)((uint16_t)u[j] - (uint16_t)v)")
            w.line("                       : (uint16_t)((uint16_t)v - (uint16_t)u[j]);")
            with w.block(f"if (d > {P}_CAP)"):
                w.line(f"d = {P}_CAP;")
            w.line("distance += (uint32_t)d * d;")
        if kernel.z_shift >= 16:      # a 32-bit shift is a loop on AVR: the high half first, then a 16-bit shift
            w.line(f"segment = (uint16_t)(distance >> 16) >> ({P}_Z_SHIFT - 16);")
        else:
            w.line(f"segment = distance >> {P}_Z_SHIFT;")
        with w.block(f"if (segment >= {P}_EXP_SEGMENTS)"):
            w.line("return 0;")
        w.line(f"fraction = {f};")
        w.line(f"low = MICROML_READ_U16(&{p}_exp_table[segment]);")
        w.line(f"high = MICROML_READ_U16(&{p}_exp_table[segment + 1]);")
        w.line(f"return (uint16_t)(low - (uint16_t)(((uint32_t)(uint16_t)(low - high) * fraction) >> {U_FRACTION}));")
    n_u = f"int16_t u[{P}_N_KERNEL_INPUTS];"
    return "uint16_t", [n_u, f"{p.impl}_kernel_inputs(xq, u);"], f"{p.impl}_kernel(u, sv)"


def _dot(w: CWriter, q: Quantized, kernel: FixedDot, p: str, sv_t: str, sv_notes: list[str]):
    P = p.upper()
    n = len(kernel.feature)
    j_t = int_type(n)
    wt = q.precision.weight_type
    xq_j = _features(w, q, kernel, p)
    table(w, f"{p}_vectors", kernel.vectors, f"gamma * support vector / 2^E_j over the quantized features ({wt}, at "
          f"2^{kernel.z_exp}), one row each, one value per input ({p.input_list(kernel.feature)}):", wt, notes=sv_notes)
    w.line()
    table(w, f"{p}_vector_bias", kernel.bias, f"gamma * <input centres, support vector> + coef0 of each support vector, "
          f"at 2^{kernel.z_exp}: z = bias + sum_j xq[j] * vector[j] stays within +-2^29:", "int32_t",
          notes=sv_notes if p.annotate else None)
    w.line()
    shift = kernel.z_exp - kernel.t_exp
    if shift > 0:
        to16 = [f"z = (z + {1 << (shift - 1)}) >> {shift};",
                "t = (int16_t)(z > 32767 ? 32767 : (z < -32767 ? -32767 : z));"]
    elif shift == 0:
        to16 = ["t = (int16_t)(z > 32767 ? 32767 : (z < -32767 ? -32767 : z));"]
    else:
        limit = 32767 >> -shift
        to16 = [f"t = (int16_t)((z > {limit} ? {limit} : (z < -{limit} ? -{limit} : z)) * {1 << -shift});"]
    if kernel.kernel == "sigmoid":
        z_max = 2 ** 15 // 2 ** kernel.t_exp
        table(w, f"{p}_tanh_table", kernel.table, f"tanh(t) at 2^{ACT_EXP} for t = i * {z_max}/{TABLE_SEGMENTS}, i = 0 .. "
              f"{TABLE_SEGMENTS}, interpolated linearly in between (error below 4e-4); tanh(-t) = -tanh(t):", "int16_t")
        w.line()
        doc = (f"Sigmoid kernel K(x, sv) = tanh(gamma <x, sv> + coef0) at 2^{ACT_EXP}: z in int32, then t = z at "
               f"2^{kernel.t_exp} (rounded, saturated) read through {p}_tanh_table.")
    else:
        doc = (f"Polynomial kernel K(x, sv) = (gamma <x, sv> + coef0)^{len(kernel.steps) + 1} at 2^{kernel.k_exp}: z in "
               f"int32, t = z at 2^{kernel.t_exp} (rounded, saturated to int16), then K = t times t, shifted back to "
               "int16 (rounded, saturated) after each product.")
    w.comment(doc)
    with w.block(f"static inline int16_t {p.impl}_kernel(const int16_t *xq, {sv_t} sv)"):
        w.line(f"int32_t z = {READ['int32_t']}(&{p}_vector_bias[sv]);")
        w.line("int32_t t;" if kernel.kernel == "sigmoid" else "int16_t t;")   # the table lookup takes an int32
        if kernel.kernel == "poly" and kernel.steps:
            w.line("int32_t k;")
        with w.block(f"for ({j_t} j = 0; j < {P}_N_KERNEL_INPUTS; j++)"):
            w.line(f"z += (int32_t){xq_j} * {READ[wt]}(&{p}_vectors[sv][j]);")
        for line in to16:
            w.line(line)
        if kernel.kernel == "sigmoid":
            table_lookup(w, P, f"{p}_tanh_table", "t", "tanh")
        elif not kernel.steps:
            w.line("return t;")
        else:
            w.line("k = t;")
            for step in kernel.steps:
                rounding = f" + {1 << (step - 1)}" if step > 0 else ""
                w.line(f"k = ((int32_t)(int16_t)k * t{rounding}) >> {step};" if step > 0 else "k = (int32_t)(int16_t)k * t;")
                w.line("k = k > 32767 ? 32767 : (k < -32767 ? -32767 : k);")
            w.line("return (int16_t)k;")
    return "int16_t", [], f"{p.impl}_kernel(xq, sv)"


def _decisions(w: CWriter, head: FixedKernelSvm, p: str, sv_t: str, k_t: str, setup: list[str], call: str,
               sv_notes: list[str]) -> None:
    """Dual coefficients, intercepts, `<p>_impl_term`, and `<p>_predict_fixed`."""
    P = p.upper()
    shift = head.product_shift
    rbf = isinstance(head.kernel, FixedRbf)
    skip = "k == 0" if rbf else ""
    at = f"at 2^{head.exponent}"
    one_row = head.kind == "regressor" or head.n_classes == 2
    doc = (f"Dual coefficients (int16, at 2^{head.exponent - head.kernel.k_exp + shift}): each support vector adds "
           f"round(coef * K / 2^{shift}) to its decision sums, {at}; no sum can leave +-{head.bound}.")
    if one_row:
        table(w, f"{p}_dual_coef", head.coef[0], doc + " One per support vector:", "int16_t",
              notes=sv_notes if p.annotate else None)
    else:
        n = head.n_classes
        names = [p.classes[c] if c < len(p.classes) else str(c) for c in range(n)]
        rows = [f"row {r}: SVs of " + ", ".join(f"{names[c]} vs {names[r if r < c else r + 1]}" for c in range(n))
                for r in range(n - 1)]
        table(w, f"{p}_dual_coef", head.coef, doc + " libsvm's layout: for the class pair (i, j), support vectors "
              "of class i use row j - 1 and those of class j use row i:", "int16_t", notes=rows)
        w.line()
        count_t = int_type(max(head.n_support))
        table(w, f"{p}_class_sv_count", np.array(head.n_support), "Support vectors per class:", count_t,
              notes=[f"class {p.label(c)}" for c in range(n)])
        w.line()
        table(w, f"{p}_bias", head.bias, f"Intercept of each class pair, {at} (clamped to the range the sums can "
              "reach, which changes no sign):", "int32_t",
              notes=[f"pair ({i}, {j}): {names[i]} vs {names[j]}" for i, j in pairs(n)])
    w.line()
    w.comment(f"One support vector's share of a decision: round(coef * K / 2^{shift}), in int32 (|coef * K| < 2^30).")
    with w.block(f"static inline int32_t {p.impl}_term(const int16_t *coef, {k_t} k)"):
        rounding = f" + {1 << (shift - 1)}" if shift > 0 else ""
        w.line(f"return ((int32_t){READ['int16_t']}(coef) * k{rounding}) >> {shift};" if shift > 0
               else f"return (int32_t){READ['int16_t']}(coef) * k;")
    w.line()
    if head.kind == "regressor":
        output_scale(w, p, np.array([2.0 ** -head.exponent]), head.offset)
        w.comment(f"The predicted value of quantized features xq in fixed point: y = yq * {P}_OUTPUT_SCALE + "
                  f"{P}_OUTPUT_OFFSET (the intercept).")
        with w.block(f"static inline int32_t {p}_predict_fixed(const int16_t *xq)"):
            _single_sum(w, p, sv_t, k_t, setup, call, skip, "0")
            w.line("return acc;")
        return
    if head.n_classes == 2:
        w.line(f"#define {P}_BIAS {int(head.bias[0])}   /* the intercept, {at} */")
        w.line()
        w.comment(f"Class index (0 or 1) of quantized features xq: index into {p.api}_label(). Zero or above is class 1, "
                  "as scikit-learn's SVC.")
        with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
            _single_sum(w, p, sv_t, k_t, setup, call, skip, f"{P}_BIAS")
            w.line("return acc >= 0 ? 1 : 0;")
        return
    n_pairs = head.n_outputs
    w.line(f"#define {P}_N_PAIRS {n_pairs}")
    w.line()
    pair_t = emit_pair_index(w, p, n_pairs)
    c_t = int_type(head.n_classes)
    w.comment(f"Class index of quantized features xq: index into {p.api}_label(). The one-vs-one decisions (int32, one per "
              "class pair on the stack) sum each kernel value once into every pair of its support vector's class; "
              "then libsvm's vote: a positive decision votes for the first class of its pair, the most votes win, "
              "the lowest index on a tie.")
    with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
        for line in setup[:1]:
            w.line(line)
        w.line(f"int32_t decision[{P}_N_PAIRS];")
        w.line(f"uint8_t votes[{P}_N_CLASSES] = {{0}};")
        w.line(f"{sv_t} sv = 0;")
        w.line(f"{c_t} best = 0;")
        for line in setup[1:]:
            w.line(line)
        with w.block(f"for ({pair_t} pair = 0; pair < {P}_N_PAIRS; pair++)"):
            w.line(f"decision[pair] = {READ['int32_t']}(&{p}_bias[pair]);")
        ovo_sums(w, p, head.n_support, sv_t, f"const {k_t} k = {call};",
                 lambda row, pair: f"decision[{pair}] += {p.impl}_term(&{p}_dual_coef[{row}][sv], k);", skip)
        w.line(f"{pair_t} pair = 0;        /* declared after the sums, whose own `pair` it would shadow */")
        with w.block(f"for ({c_t} i = 0; i < {P}_N_CLASSES; i++)"):
            with w.block(f"for ({c_t} j = ({c_t})(i + 1); j < {P}_N_CLASSES; j++, pair++)"):
                w.line("votes[decision[pair] > 0 ? i : j]++;")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block("if (votes[c] > votes[best])"):
                w.line("best = c;")
        w.line("return best;")


def _single_sum(w: CWriter, p: str, sv_t: str, k_t: str, setup: list[str], call: str, skip: str, start: str) -> None:
    """`acc` = `start` + every support vector's term (one decision: two classes, or a regressor)."""
    P = p.upper()
    for line in setup[:1]:
        w.line(line)
    w.line(f"int32_t acc = {start};")
    for line in setup[1:]:
        w.line(line)
    with w.block(f"for ({sv_t} sv = 0; sv < {P}_N_SUPPORT_VECTORS; sv++)"):
        w.line(f"const {k_t} k = {call};")
        if skip:
            with w.block(f"if ({skip})"):
                w.line("continue;   /* out of the kernel's reach */")
        w.line(f"acc += {p.impl}_term(&{p}_dual_coef[sv], k);")

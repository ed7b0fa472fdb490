"""C for fixed-point models (`target.precision: fixed16 | fixed8`): the input quantizer, the integer heads, the API.

Every fixed-point header offers two entry points that compute the same class (or value):

  int <name>_predict_fixed(const int16_t *xq)   the integer one: features already quantized,
                                                 xq[j] = round(x[j] * 2^E_j) - O_j (tables below)
  int <name>_predict(const float *x)            quantizes x into a stack buffer, then the above

(regressors return int32_t yq and float values, see `api_lines`). The float entry point costs one
integer conversion per feature on top of the integer one: avr-gcc's soft-float is not called at
all, the float's bits are shifted directly (`microml_quantize`, microml_build/c/quantize.c). The schemes and their proofs are
in `microml_build/quantize.py`; the heads' C is in `emit/fixed_heads.py`.
"""

from __future__ import annotations

from microml_build.cnames import int_type
from microml_build.emit.c_writer import READ, CWriter, table
from microml_build.emit.common import emit_predict_alias
from microml_build.emit.fixed_heads import emit_linear, emit_mlp
from microml_build.emit.fixed_kernels import emit_fixed_kernel_svm
from microml_build.emit.fixed_trees import emit_trees
from microml_build.ir.fixed import Q_MAX, Q_MISSING, Q_TRAIN, FixedKernelSvm, FixedLinear, FixedMlp, Quantized
from microml_build.ir.forms import FixedForm, FixedTreeForm

def emit_fixed(w: CWriter, form: FixedForm, p: str, n_features: int) -> None:
    """The fixed-point part of the header: input scaling, the integer head, the float wrappers (the shared
    `microml_quantize` comes with the other helpers, `emit/helpers.py`)."""
    P = p.upper()
    q = form.quantized
    w.line(f"#define {P}_Q_MAX {Q_MAX}              /* quantized inputs saturate at +-{P}_Q_MAX */")
    w.line(f"#define {P}_Q_MISSING ({Q_MISSING + 1} - 1)  /* the quantized value of NaN (a missing value) */")
    w.line()
    _emit_inputs(w, q, form.offset_t, p)
    w.line()
    _emit_head(w, form, p)


def _emit_inputs(w: CWriter, q: Quantized, offset_t: str, p: str) -> None:
    P = p.upper()
    inputs = q.inputs
    f_t = int_type(q.n_features)
    w.comment(f"Input scaling ({q.precision.name}). The model reads each feature as the int16 xq[j] = round(x[j] * "
              f"2^{p}_q_exponent[j]) - {p}_q_offset[j], rounded half away from zero and saturated to "
              f"+-{P}_Q_MAX; NaN reads as {P}_Q_MISSING. The exponent is the largest that maps half the "
              f"feature's training range to at most {Q_TRAIN} and the offset is the range's centre, so the "
              f"training values use at most +-{Q_TRAIN}, values up to twice as far from the centre still "
              "fit, and values beyond saturate (the model then sees the edge of that range). Integer data "
              "(an ADC) can be fed directly: xq = ((int32_t)count << E) - O for E >= 0, or the rounded "
              "(count >> -E) - O otherwise.")
    w.line()
    exponents, centres = inputs.exponent.tolist(), inputs.centre().tolist()
    table(w, f"{p}_q_exponent", inputs.exponent, "Exponent E_j of each feature:", "int8_t",
          notes=[f"{p.input(j)}: steps of 2^{-e} = {2.0 ** -e:.4g}" for j, e in enumerate(exponents)]
          if p.annotate else None)
    w.line()
    table(w, f"{p}_q_offset", inputs.offset, "Offset O_j of each feature, at its scale 2^E_j:", offset_t,
          notes=[f"{p.input(j)}: xq = 0 at x = {c:.6g}" for j, c in enumerate(centres)] if p.annotate else None)
    w.line()
    w.comment(f"The quantized value of feature j (0 .. {P}_N_FEATURES-1) of x: no floating-point arithmetic.")
    with w.block(f"static inline int16_t {p.impl}_quantize_feature(float x, {f_t} j)"):
        w.line(f"return microml_quantize(x, (int8_t)MICROML_READ_U8(&{p}_q_exponent[j]),")
        w.line(f"                       {READ[offset_t]}(&{p}_q_offset[j]));")
    w.line()
    w.comment(f"Quantizes all {P}_N_FEATURES features: xq[j] = {p.impl}_quantize_feature(x[j], j).")
    with w.block(f"static inline void {p}_quantize(const float *x, int16_t *xq)"):
        with w.block(f"for ({f_t} j = 0; j < {P}_N_FEATURES; j++)"):
            w.line(f"xq[j] = {p.impl}_quantize_feature(x[j], j);")


def scaling_lines(q: Quantized, feature_names) -> list[str]:
    """One line per feature for the header's opening comment: its scale, centre and training range."""
    lines = []
    inputs = q.inputs
    for j in range(q.n_features):
        name = feature_names[j] if j < len(feature_names) and feature_names[j] else f"x[{j}]"
        E, O = int(inputs.exponent[j]), int(inputs.offset[j])
        step = 2.0 ** -E
        centre = f"- {O}" if O >= 0 else f"+ {-O}"
        lines.append(f"x[{j}] {name}: xq = round(x * 2^{E}) {centre}, step {step:.4g}, trained on "
                     f"{inputs.low[j]:.6g} .. {inputs.high[j]:.6g}")
    return lines


def _log_link(q: Quantized) -> bool:
    return getattr(q.core, "link", "") == "log" or getattr(q.core, "output", "") == "exp"


def _emit_head(w: CWriter, form: FixedForm, p: str) -> None:
    q, core = form.quantized, form.core
    if isinstance(core, FixedLinear):
        emit_linear(w, q, core, p)
    elif isinstance(core, FixedTreeForm):
        emit_trees(w, q, core, p)
    elif isinstance(core, FixedMlp):
        emit_mlp(w, q, core, p)
    elif isinstance(core, FixedKernelSvm):
        emit_fixed_kernel_svm(w, q, core, p)
    else:
        raise TypeError(type(core).__name__)
    _float_wrappers(w, form, p)


# ---------------------------------------------------------------------------------------------
# Float entry points


def _quantize_used(w: CWriter, form: FixedForm, p: str) -> str:
    """`<p>_impl_quantize_used(x, xq)` when the model reads only some features (trees); returns the quantizer to call."""
    P = p.upper()
    q, used = form.quantized, form.used_features
    if used is None:
        return f"{p}_quantize"
    u_t, f_t = int_type(len(used)), int_type(q.n_features)
    w.line()
    w.line(f"#define {P}_N_USED_FEATURES {len(used)}")
    w.line()
    table(w, f"{p}_used_features", list(used), "The features the trees test (the others are never read):", f_t,
          notes=[p.input(j) for j in used] if p.annotate else None)
    w.line()
    w.comment(f"Quantizes only the features the trees test, the rest of xq[] set to 0: a quantization costs "
              f"about 190 AVR cycles, so this saves {q.n_features - len(used)} of them.")
    with w.block(f"static inline void {p.impl}_quantize_used(const float *x, int16_t *xq)"):
        with w.block(f"for ({f_t} j = 0; j < {P}_N_FEATURES; j++)"):
            w.line("xq[j] = 0;")
        with w.block(f"for ({u_t} u = 0; u < {P}_N_USED_FEATURES; u++)"):
            w.line(f"const {f_t} j = {READ[f_t]}(&{p}_used_features[u]);")
            w.line(f"xq[j] = {p.impl}_quantize_feature(x[j], j);")
    return f"{p.impl}_quantize_used"


def _float_wrappers(w: CWriter, form: FixedForm, p: str) -> None:
    P = p.upper()
    q = form.quantized
    quantize = _quantize_used(w, form, p)
    w.line()
    if q.task == "classifier":
        w.comment(f"Class index of x: index into {p.api}_label(). Quantizes x ({P}_N_FEATURES int16 on the stack), then "
                  f"{p}_predict_fixed.")
        with w.block(f"static inline int {p}_predict(const float *x)"):
            w.line(f"int16_t xq[{P}_N_FEATURES];")
            w.line(f"{quantize}(x, xq);")
            w.line(f"return {p}_predict_fixed(xq);")
        return
    log = getattr(q.core, "link", "") == "log" or getattr(q.core, "output", "") == "exp"
    K = q.core.n_outputs
    if K == 1:
        value = f"(float){p}_predict_fixed(xq) * {P}_OUTPUT_SCALE + {P}_OUTPUT_OFFSET"
        w.comment(f"Predicted value for x: quantizes x, runs {p}_predict_fixed and scales its result to float "
                  f"(yq * {P}_OUTPUT_SCALE + {P}_OUTPUT_OFFSET" + (", then expf: the loss has a log link)." if log
                                                                   else ")."))
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            w.line(f"int16_t xq[{P}_N_FEATURES];")
            w.line(f"{quantize}(x, xq);")
            w.line(f"return expf({value});" if log else f"return {value};")
        w.line()
        emit_predict_alias(w, p)
        return
    k_t = int_type(K)
    w.comment(f"Predicted values for x, {P}_N_OUTPUTS of them: quantizes x, runs {p}_predict_fixed and scales its "
              "results to float" + (", then expf (a log link)." if log else "."))
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        w.line(f"int16_t xq[{P}_N_FEATURES];")
        w.line(f"int32_t yq[{P}_N_OUTPUTS];")
        w.line(f"{p}_quantize(x, xq);")
        w.line(f"{p}_predict_fixed(xq, yq);")
        with w.block(f"for ({k_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line(f"const float value = (float)yq[k] * MICROML_READ_FLOAT(&{p}_output_scale[k])")
            w.line(f"                    + MICROML_READ_FLOAT(&{p}_output_offset[k]);")
            w.line("y[k] = expf(value);" if log else "y[k] = value;")


"""C for the transforms a Pipeline could not fold: `<name>_impl_transform`, the head as `<name>_impl_core`, wrappers.

The public functions keep their names and signatures: each runs `<name>_impl_transform(x, z)` into
a stack buffer `z[<NAME>_IMPL_CORE_N_FEATURES]` and calls the head, emitted under the prefix
`<name>_impl_core` (internal, like every `<name>_impl_*` name). Transforms work in place where they can,
so the stack holds z plus, only when a projection follows another transform, one scratch row.
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import int_type
from microml_build.emit.c_writer import CWriter, Prefix, float_literal, table
from microml_build.ir.forms import TransformPlan
from microml_build.ir.preprocessing import Affine, Clip, Normalize, Polynomial, Project
from microml_build.plan import Plan, feature_label, polynomial_names

# Head functions that get a public wrapper when the plan's API has them.
PUBLIC = ("predict", "predict_value", "decision_function", "predict_proba")


def emit_transformed(w: CWriter, plan: Plan, p: str, emit_head) -> None:
    """Transform, core macros, the head under `<p>_impl_core` and the public wrappers."""
    model, tp = plan.model, plan.transform
    classes = tuple(str(label) for label in model.labels)
    if not isinstance(p, Prefix):       # the header's own prefix (a windowed model passes its core's)
        p = Prefix(p, inputs=tuple(feature_label(j, name) for j, name in enumerate(plan.feature_names)),
                   annotate=plan.annotate, classes=classes)
    core = Prefix(f"{p.impl}_core", impl=f"{p.impl}_core", inputs=plan.head_inputs, annotate=plan.annotate,
                  api=p.api, classes=classes)
    C = core.upper()
    w.comment(f"The model proper ({core}_*) takes the {tp.width} values {p.impl}_transform() makes from the "
              f"{model.n_features} features; the {p}_* functions below do both.")
    core_macros(w, model, C, tp.width)
    emit_transform(w, tp, p, model.n_features)
    w.line()
    emit_head(w, plan.head, core, tp.width)
    w.line()
    _wrappers(w, plan, p, core)


def core_macros(w: CWriter, model, C: str, width: int) -> None:
    """The sizes of the model proper, `<C>_N_FEATURES` and its classes and decisions or outputs."""
    w.line(f"#define {C}_N_FEATURES {width}")
    if model.task == "classifier":
        w.line(f"#define {C}_N_CLASSES {model.n_classes}")
        w.line(f"#define {C}_N_DECISIONS {model.head.n_outputs}")
    else:
        w.line(f"#define {C}_N_OUTPUTS {model.head.n_outputs}")
    w.line()


def emit_transform(w: CWriter, tp: TransformPlan, p: str, n_features: int) -> None:
    """Tables and `<p>_impl_transform(x, z)`, as planned."""
    P = p.upper()
    index = tp.selection
    widths = {n_features: f"{P}_N_FEATURES", tp.width: f"{p.impl.upper()}_CORE_N_FEATURES"}
    if index is not None:
        ctype = int_type(max(index))
        w.line(f"#define {P}_N_SELECTED {len(index)}")
        widths.setdefault(len(index), f"{P}_N_SELECTED")
        w.line()
        table(w, f"{p}_selected", np.array(index),
              "Columns of x kept by the Pipeline's feature selection, read in place:", ctype=ctype,
              notes=[p.input(j) for j in index] if p.annotate else None)
        w.line()
    n = len(index) if index is not None else n_features
    read_index = "MICROML_READ_U8" if index is None or max(index) <= 0xFF else "MICROML_READ_U16"

    def source(buffer: str, j: str = "j") -> str:
        """Input j of a stage reading `buffer`: the first reads x, through the selection if there is one."""
        if buffer != "x":
            return f"{buffer}[{j}]"
        return f"x[{read_index}(&{p}_selected[{j}])]" if index is not None else f"x[{j}]"

    stages = [stage for stage, *_ in tp.stages]
    names = _table_names(stages, p)
    body = CWriter()
    body._depth = 1
    if tp.scratch:
        body.line(f"float t[{tp.scratch}];   /* scratch row: a projection cannot work in place */")
    if any(isinstance(s, Normalize) for s in stages):
        body.line("float norm;")
    if not stages:
        body.comment("Gather the selected features.")
        with body.block(f"for ({int_type(n)} j = 0; j < {widths[n]}; j++)"):
            body.line(f"z[j] = {source('x')};")
    # What each input of a stage is, for the tables' notes: the features x (selected), then a projection's outputs.
    inputs = [p.input(j) for j in (index if index is not None else range(n_features))]
    for (stage, src, dst, n_in), name in zip(tp.stages, names):
        loop = f"for ({int_type(n_in)} j = 0; j < {widths.get(n_in, n_in)}; j++)"
        notes = inputs if p.annotate else None
        if isinstance(stage, Affine):
            _affine(w, body, stage, name, loop, source(src), dst, notes)
        elif isinstance(stage, Clip):
            low, high = float_literal(stage.low), float_literal(stage.high)
            body.comment(f"Clip to [{stage.low:g}, {stage.high:g}] (the scaler's clip=True).")
            with body.block(loop):
                body.line(f"const float v = {source(src)};")
                body.line(f"{dst}[j] = v < {low} ? {low} : (v > {high} ? {high} : v);")
        elif isinstance(stage, Normalize):
            _normalize(body, stage, loop, source(src), dst)
        elif isinstance(stage, Polynomial):
            n_out = len(stage.powers)
            out_loop = f"for ({int_type(n_out)} k = 0; k < {widths.get(n_out, n_out)}; k++)"
            products = polynomial_names(stage, inputs)
            _polynomial(w, body, stage, name, out_loop, n_in, lambda j: source(src, j), dst, products)
            inputs = [f"polynomial output {k}: {product}" for k, product in enumerate(products)]
        else:
            n_out = len(stage.components)
            out_loop = f"for ({int_type(n_out)} k = 0; k < {widths.get(n_out, n_out)}; k++)"
            _project(w, body, stage, name, out_loop, loop, source(src), dst, notes)
            inputs = [f"projection output {k}" for k in range(n_out)]
    w.comment("Input transform: the Pipeline steps that could not be folded into the model, in order, "
              f"from the {n_features} features x to the {p.impl.upper()}_CORE_N_FEATURES inputs z of the model.")
    with w.block(f"static inline void {p.impl}_transform(const float *x, float *z)"):
        w.lines.extend(body.lines)


def _table_names(stages, p: str) -> list[str]:
    """`<p>_scaler`, `<p>_pca`, ... per stage; numbered from the second of a kind."""
    kinds = {Affine: "scaler", Project: "projection", Clip: "clip", Normalize: "normalize", Polynomial: "poly"}
    seen: dict[str, int] = {}
    names = []
    for stage in stages:
        kind = kinds[type(stage)]
        seen[kind] = seen.get(kind, 0) + 1
        names.append(f"{p}_{kind}" + (str(seen[kind]) if seen[kind] > 1 else ""))
    return names


def _affine(w: CWriter, body: CWriter, t: Affine, name: str, loop: str, x_j: str, dst: str, notes) -> None:
    offset, scale = bool(t.offset.any()), not (t.scale == 1).all()
    if offset:
        table(w, f"{name}_offset", t.offset, "Scaler offset per feature, in the features' units:", notes=notes)
        w.line()
    if scale:
        table(w, f"{name}_scale", t.scale, "Scaler factor per feature:", notes=notes)
        w.line()
    value = f"({x_j} - MICROML_READ_FLOAT(&{name}_offset[j]))" if offset else x_j
    if scale:
        value = f"{value} * MICROML_READ_FLOAT(&{name}_scale[j])"
    body.comment("Scale each feature: " + {(True, True): "(x - offset) * scale.", (False, True): "x * scale.",
                                           (True, False): "x - offset."}[offset, scale])
    with body.block(loop):
        body.line(f"{dst}[j] = {value};")


def _normalize(body: CWriter, t: Normalize, loop: str, x_j: str, dst: str) -> None:
    body.comment(f"Divide the row by its {t.norm} norm, as scikit-learn's Normalizer.")
    body.line("norm = 0.0f;")
    with body.block(loop):
        body.line(f"const float v = {x_j};")
        if t.norm == "l1":
            body.line("norm += fabsf(v);")
        elif t.norm == "l2":
            body.line("norm += v * v;")
        else:
            with body.block("if (fabsf(v) > norm)"):
                body.line("norm = fabsf(v);")
    if t.norm == "l2":
        body.line("norm = sqrtf(norm);")
    with body.block("if (norm == 0.0f)"):
        body.line("norm = 1.0f;   /* a row of zeros stays zeros, as in scikit-learn */")
    with body.block(loop):
        body.line(f"{dst}[j] = {x_j} / norm;")


def _project(w: CWriter, body: CWriter, t: Project, name: str, out_loop: str, loop: str, x_j: str,
             dst: str, notes) -> None:
    centred, biased = t.mean.any(), t.bias.any()
    outputs = [f"projection output {k}" for k in range(len(t.components))]
    if centred:
        table(w, f"{name}_mean", t.mean, "Mean subtracted before the projection (PCA's mean_, scalers folded in):",
              notes=notes)
        w.line()
    table(w, f"{name}_components", t.components,
          "Projection rows (PCA's components_, whitening and scalers folded in), one per output, one column per "
          "input:", notes=outputs)
    w.line()
    if biased:
        table(w, f"{name}_bias", t.bias, "Added to each output (later scalers folded in):", notes=outputs)
        w.line()
    value = f"({x_j} - MICROML_READ_FLOAT(&{name}_mean[j]))" if centred else x_j
    body.comment("Project: z[k] = sum_j (x[j] - mean[j]) * components[k][j]" + (" + bias[k]." if biased else "."))
    with body.block(out_loop):
        body.line("float sum = 0.0f;")
        with body.block(loop):
            body.line(f"sum += {value} * MICROML_READ_FLOAT(&{name}_components[k][j]);")
        body.line(f"{dst}[k] = sum + MICROML_READ_FLOAT(&{name}_bias[k]);" if biased else f"{dst}[k] = sum;")


def _polynomial(w: CWriter, body: CWriter, t: Polynomial, name: str, out_loop: str, n_in: int, x_at, dst: str,
                products: list[str]) -> None:
    """z[k] = the product of the inputs listed in row k of `<name>_factors` (none: 1, the bias)."""
    factors = t.factors()
    degree = max(t.degree, 1)
    none = 0xFF if n_in < 0xFF else 0xFFFF
    ctype, read = ("uint8_t", "MICROML_READ_U8") if none == 0xFF else ("uint16_t", "MICROML_READ_U16")
    rows = np.array([f + [none] * (degree - len(f)) for f in factors], dtype=np.int64)
    table(w, f"{name}_factors", rows, f"PolynomialFeatures: the inputs multiplied into each output, in order "
          f"({none} = none):", ctype=ctype, notes=[f"output {k}: {product}" for k, product in enumerate(products)])
    w.line()
    body.comment("Polynomial features: each output is the product of its inputs (PolynomialFeatures' powers_).")
    with body.block(out_loop):
        body.line("float v = 1.0f;")
        with body.block(f"for (uint8_t d = 0; d < {degree}; d++)"):
            body.line(f"const {ctype} i = {read}(&{name}_factors[k][d]);")
            with body.block(f"if (i != {none})"):
                body.line(f"v *= {x_at('i')};")
        body.line(f"{dst}[k] = v;")


def _wrappers(w: CWriter, plan: Plan, p: str, core: str) -> None:
    """`<p>_<fn>` for each public function of the plan's API: transform x, then call `<core>_<fn>`."""
    C = core.upper()
    for function in sorted((f for f in plan.api if f.name in PUBLIC), key=lambda f: PUBLIC.index(f.name)):
        fn = function.name
        w.comment(f"{fn} of the whole Pipeline: {p.impl}_transform(x), then {core}_{fn}.")
        with w.block(f"static inline {function.signature(p)}"):
            w.line(f"float z[{C}_N_FEATURES];")
            w.line(f"{p.impl}_transform(x, z);")
            call = f"{core}_{fn}(" + ", ".join(["z"] + [name for _, name in function.params[1:]]) + ");"
            w.line(call if function.returns == "void" else f"return {call}")
        w.line()

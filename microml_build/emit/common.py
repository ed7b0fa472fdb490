"""C shared by the heads: argmax predict() and softmax predict_proba() over decision values, the regressors' predict(),
the public functions of a linear head fused with window features."""

from __future__ import annotations

import numpy as np

from microml_build.cnames import int_type
from microml_build.ir import pairs
from microml_build.emit.c_writer import CWriter, float_literal, table


def emit_argmax_predict(w: CWriter, p: str, n_classes: int, values: str, meaning: str,
                        count: str = "N_CLASSES", *, source: tuple[str, str, str] | None = None) -> None:
    """`<p>_predict`: the index of the largest decision value, the first one on a tie (np.argmax's rule).

    `count` names the macro sizing the values (`N_CLASSES`, or `N_DECISIONS` where the head defines it).
    `source` (function name, its parameters, the call filling `values`) replaces the default
    ("predict", "const float *x", "<p>_decision_function(x, values)")."""
    P = p.upper()
    c_t = int_type(n_classes)
    name, params, fill = source or ("predict", "const float *x", f"{p}_decision_function(x, {values})")
    w.comment(f"Class index of {'x' if name == 'predict' else 'the window'}: index into {p.api}_label(). The largest "
              f"{meaning} wins; a tie goes to the lowest index, as np.argmax in scikit-learn's predict().")
    with w.block(f"static inline int {p}_{name}({params})"):
        w.line(f"float {values}[{P}_{count}];")
        w.line(f"{c_t} best = 0;")
        w.line(f"{fill};")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block(f"if ({values}[c] > {values}[best])"):
                w.line("best = c;")
        w.line("return best;")


def proba_function(p: str, x_type: str, ring: bool) -> tuple[str, str]:
    """The signature of `<p>_predict_proba` (or, `ring`, of `<p>_predict_proba_ring`, a fused window model's) and
    the call that fills its decision values, `{out}` to format with the output."""
    if ring:
        return (f"static inline void {p}_predict_proba_ring(const {x_type} *ring, unsigned head, float *proba)",
                f"{p}_decision_function_ring(ring, head, {{out}});")
    return f"static inline void {p}_predict_proba(const {x_type} *x, float *proba)", \
        f"{p}_decision_function(x, {{out}});"


def emit_proba_of_window(w: CWriter, p: str, x_type: str) -> None:
    """`<p>_predict_proba(x)` of a fused window model: its `_ring` function with the oldest sample at slot 0."""
    w.line()
    w.comment(f"{p}_predict_proba_ring() of the window x (its oldest sample at slot 0).")
    with w.block(f"static inline void {p}_predict_proba(const {x_type} *x, float *proba)"):
        w.line(f"{p}_predict_proba_ring(x, 0, proba);")


def emit_softmax_proba(w: CWriter, p: str, n_classes: int, meaning: str, x_type: str = "float",
                       ring: bool = False) -> None:
    """`<p>_predict_proba` from N_CLASSES decision values: a softmax, shifted by the largest value.
    `x_type`: the C type of the input x (int16_t for a model taking raw int16 windows); `ring`: a fused window
    model's `<p>_predict_proba_ring` instead (and `<p>_predict_proba` on top of it)."""
    P = p.upper()
    c_t = int_type(n_classes)
    signature, fill = proba_function(p, x_type, ring)
    w.comment(f"Class probabilities, {meaning}: the largest value is subtracted before expf so it cannot "
              f"overflow. Writes {P}_N_CLASSES values.")
    with w.block(signature):
        w.line("float largest;")
        w.line("float total = 0.0f;")
        w.line(fill.format(out="proba"))
        w.line("largest = proba[0];")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            w.line("largest = proba[c] > largest ? proba[c] : largest;")
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] = expf(proba[c] - largest);")
            w.line("total += proba[c];")
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] /= total;")
    if ring:
        emit_proba_of_window(w, p, x_type)


def emit_predict_alias(w: CWriter, p: str, x_type: str = "float") -> None:
    """`<p>_predict` of a single-output regressor: `<p>_predict_value` under scikit-learn's name."""
    w.comment(f"The same value as {p}_predict_value(), under scikit-learn's name.")
    with w.block(f"static inline float {p}_predict(const {x_type} *x)"):
        w.line(f"return {p}_predict_value(x);")


def emit_logistic_proba(w: CWriter, p: str, meaning: str, scale: int = 1, x_type: str = "float",
                        ring: bool = False) -> None:
    """`<p>_predict_proba` of a binary classifier from its one decision value d: logistic(scale x d) and its
    complement, both from e = exp(-|z|), so that neither overflows nor loses digits to 1 - p."""
    z = "decision" if scale == 1 else f"{scale}.0f * decision"
    w.comment(f"Probability of each class, {meaning}: proba[1] = 1 / (1 + exp(-z)) and proba[0] = 1 - proba[1], "
              f"for z = {z}. Both come from e = exp(-|z|), which cannot overflow, as 1 / (1 + e) and e / (1 + e): "
              "neither loses precision to a subtraction. Writes 2 values.")
    signature, fill = proba_function(p, x_type, ring)
    with w.block(signature):
        w.line("float decision;")
        w.line(fill.format(out="&decision"))
        w.line(f"const float z = {z};")
        w.line("const float e = expf(-fabsf(z));")
        w.line("const float large = 1.0f / (1.0f + e);")
        w.line("const float small = e / (1.0f + e);")
        w.line("proba[1] = z > 0.0f ? large : small;")
        w.line("proba[0] = z > 0.0f ? small : large;")
    if ring:
        emit_proba_of_window(w, p, x_type)


def layer_notes(p, k: int, n_layers: int, width: int, output: str) -> list[str]:
    """What each neuron (row) of MLP layer k (from 1) computes, for its table's notes."""
    if k < n_layers:
        return [f"hidden layer {k}, neuron {i}" for i in range(width)]
    if output == "softmax":
        return [f"output neuron {i}: the logit of class {p.label(i)}" for i in range(width)]
    if output == "logistic":
        return [f"output neuron: the logit of class {p.label(1)}"]
    return [f"output neuron {i}: output {i}" + (" (its log: the output is exp)" if output == "exp" else "")
            for i in range(width)]


def layer_inputs(p, k: int, n_features: int) -> str:
    """What the weights of a row of MLP layer k multiply, for the table's comment."""
    return p.input_list(range(n_features)) if k == 1 else f"hidden layer {k - 1}'s neurons 0, 1, ..."


def output_scale(w: CWriter, p: str, scale: np.ndarray, offset: np.ndarray) -> None:
    """`<P>_OUTPUT_SCALE` / `_OFFSET` macros for one output, `<p>_output_scale[]` / `_offset[]` tables for more."""
    P = p.upper()
    if len(scale) == 1:
        w.line(f"#define {P}_OUTPUT_SCALE {float_literal(scale[0])}   /* y = yq * scale + offset */")
        w.line(f"#define {P}_OUTPUT_OFFSET {float_literal(offset[0])}")
        w.line()
        return
    table(w, f"{p}_output_scale", np.asarray(scale, dtype=np.float64), "Scale of each output: y = yq * scale + offset:")
    w.line()
    table(w, f"{p}_output_offset", np.asarray(offset, dtype=np.float64), "Offset of each output:")
    w.line()


def fused_decision_function(w: CWriter, p: str, T: str, what: str) -> None:
    """`<p>_decision_function_ring(ring, head, decision)` of a fused window model, `<p>_window_sums` of the window
    in the ring, and `<p>_decision_function(x, decision)`, the same with the oldest sample at slot 0."""
    w.comment(f"{what}, of the window in the ring (its oldest sample at slot `head`).")
    with w.block(f"static inline void {p}_decision_function_ring(const {T} *ring, unsigned head, float *decision)"):
        w.line(f"{p.impl}_window_sums(ring, head, decision);")
    w.line()
    w.comment(f"{p}_decision_function_ring() of the window x (its oldest sample at slot 0).")
    with w.block(f"static inline void {p}_decision_function(const {T} *x, float *decision)"):
        w.line(f"{p}_decision_function_ring(x, 0, decision);")
    w.line()


def fused_predict(w: CWriter, p: str, T: str, returns: str) -> None:
    """`<p>_predict(x)` of a fused window model: `<p>_predict_ring` with the window's oldest sample at slot 0."""
    w.comment(f"{p}_predict_ring() of the window x (its oldest sample at slot 0).")
    with w.block(f"static inline {returns} {p}_predict(const {T} *x)"):
        w.line(f"return {p}_predict_ring(x, 0);")


def pair_notes(p, n_classes: int) -> list[str]:
    """What each one-vs-one class pair is, in scikit-learn's order: `pair (0, 2): low vs high`."""
    names = [p.classes[c] if c < len(p.classes) else str(c) for c in range(n_classes)]
    return [f"pair ({i}, {j}): {names[i]} vs {names[j]}" for i, j in pairs(n_classes)]

"""C shared by the heads: argmax predict() and softmax predict_proba() over decision values, the regressors' predict()."""

from __future__ import annotations

import numpy as np

from microml_build.cnames import int_type
from microml_build.emit.c_writer import CWriter, float_literal, table


def emit_argmax_predict(w: CWriter, p: str, n_classes: int, values: str, meaning: str,
                        count: str = "N_CLASSES") -> None:
    """`<p>_predict`: the index of the largest decision value, the first one on a tie (np.argmax's rule).

    `count` names the macro sizing the values (`N_CLASSES`, or `N_DECISIONS` where the head defines it)."""
    P = p.upper()
    c_t = int_type(n_classes)
    w.comment(f"Class index of x: index into {p.api}_label(). The largest {meaning} wins; a tie goes to the lowest "
              "index, as np.argmax in scikit-learn's predict().")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line(f"float {values}[{P}_{count}];")
        w.line(f"{c_t} best = 0;")
        w.line(f"{p}_decision_function(x, {values});")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block(f"if ({values}[c] > {values}[best])"):
                w.line("best = c;")
        w.line("return best;")


def emit_softmax_proba(w: CWriter, p: str, n_classes: int, meaning: str) -> None:
    """`<p>_predict_proba` from N_CLASSES decision values: a softmax, shifted by the largest value."""
    P = p.upper()
    c_t = int_type(n_classes)
    w.comment(f"Class probabilities, {meaning}: the largest value is subtracted before expf so it cannot "
              f"overflow. Writes {P}_N_CLASSES values.")
    with w.block(f"static inline void {p}_predict_proba(const float *x, float *proba)"):
        w.line("float largest;")
        w.line("float total = 0.0f;")
        w.line(f"{p}_decision_function(x, proba);")
        w.line("largest = proba[0];")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            w.line("largest = proba[c] > largest ? proba[c] : largest;")
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] = expf(proba[c] - largest);")
            w.line("total += proba[c];")
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] /= total;")


def emit_predict_alias(w: CWriter, p: str) -> None:
    """`<p>_predict` of a single-output regressor: `<p>_predict_value` under scikit-learn's name."""
    w.comment(f"The same value as {p}_predict_value(), under scikit-learn's name.")
    with w.block(f"static inline float {p}_predict(const float *x)"):
        w.line(f"return {p}_predict_value(x);")


def emit_logistic_proba(w: CWriter, p: str, meaning: str, scale: int = 1) -> None:
    """`<p>_predict_proba` of a binary classifier from its one decision value d: logistic(scale x d) and its
    complement, both from e = exp(-|z|), so that neither overflows nor loses digits to 1 - p."""
    z = "decision" if scale == 1 else f"{scale}.0f * decision"
    w.comment(f"Probability of each class, {meaning}: proba[1] = 1 / (1 + exp(-z)) and proba[0] = 1 - proba[1], "
              f"for z = {z}. Both come from e = exp(-|z|), which cannot overflow, as 1 / (1 + e) and e / (1 + e): "
              "neither loses precision to a subtraction. Writes 2 values.")
    with w.block(f"static inline void {p}_predict_proba(const float *x, float *proba)"):
        w.line("float decision;")
        w.line(f"{p}_decision_function(x, &decision);")
        w.line(f"const float z = {z};")
        w.line("const float e = expf(-fabsf(z));")
        w.line("const float large = 1.0f / (1.0f + e);")
        w.line("const float small = e / (1.0f + e);")
        w.line("proba[1] = z > 0.0f ? large : small;")
        w.line("proba[0] = z > 0.0f ? small : large;")


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

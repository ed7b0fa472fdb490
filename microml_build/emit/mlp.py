"""C for the Mlp head: one weight table per layer in flash; hidden-layer buffers on the stack for all but the last.

The last hidden layer is never stored: each of its neurons is computed, activated and added into
the output sums at once (`<name>_impl_last_hidden`), in the same order as a dense output layer would
add it, so the float32 results are the same while a one-hidden-layer network needs no buffer and
a deeper one a buffer of its widest layer but the last (two, used in turn, from three hidden
layers on).
"""

from __future__ import annotations

from microml_build.emit.common import (emit_argmax_predict, emit_logistic_proba, emit_predict_alias, emit_softmax_proba,
                                      layer_inputs, layer_notes)
from microml_build.cnames import int_type
from microml_build.emit.c_writer import LINE_WIDTH, CWriter, table
from microml_build.ir.mlp import Mlp

ACTIVATION_C = {
    "relu": ("max(z, 0)", "z > 0.0f ? z : 0.0f"),
    "tanh": ("tanh(z)", "tanhf(z)"),
    "logistic": ("1 / (1 + exp(-z))", "1.0f / (1.0f + expf(-z))"),
}


def emit_mlp(w: CWriter, head: Mlp, p: str, n_features: int) -> None:
    """Layer tables, the dense layer, the activation and the API functions; returns the bytes of flash tables."""
    P = p.upper()
    hidden = head.hidden_widths
    n_layers = len(head.weights)
    width_t = int_type(max((n_features, head.n_outputs, *hidden)))
    stored = hidden[:-1]           # the layers that need a buffer: all but the last hidden layer
    for k, width in enumerate(hidden, start=1):
        w.line(f"#define {P}_HIDDEN{k}_WIDTH {width}")
    if stored:
        w.line(f"#define {P}_MAX_HIDDEN_WIDTH {max(stored)}")
    if hidden:
        w.line()
    for k, (W, b) in enumerate(zip(head.weights, head.biases), start=1):
        what = f"hidden layer {k}" if k < n_layers else "the output layer"
        notes = layer_notes(p, k, n_layers, len(b), head.output)
        table(w, f"{p}_layer{k}_weights", W,
              f"Weights of {what} (coefs_[{k - 1}] transposed): one row per neuron, one weight per input "
              f"({layer_inputs(p, k, n_features)}):", notes=notes)
        w.line()
        table(w, f"{p}_layer{k}_bias", b, f"Bias of each neuron of {what} (intercepts_[{k - 1}]):",
              notes=notes if p.annotate else None)
        w.line()

    activate = bool(hidden) and head.activation in ACTIVATION_C
    if activate:
        formula, expression = ACTIVATION_C[head.activation]
        w.comment(f"The hidden layers' activation ({head.activation}): {formula}.")
        with w.block(f"static inline float {p.impl}_activation(float z)"):
            w.line(f"return {expression};")
        w.line()
    elif hidden:
        w.comment("activation='identity': the hidden layers pass z on unchanged.")
        w.line()
    if stored or not hidden:
        _emit_dense(w, p, width_t, activate and bool(stored))
    if hidden:
        _emit_last_hidden(w, p, width_t, activate)

    classifier = head.task == "classifier"
    forward = f"{p}_decision_function" if classifier else f"{p.impl}_output_layer"
    out = "decision" if classifier else "z"
    n_out = f"{P}_N_DECISIONS" if classifier else f"{P}_N_OUTPUTS"
    if classifier:
        what = ("the logit of class 1 (predict_proba is its logistic)" if head.output == "logistic"
                else "the logit of each class (predict_proba is their softmax)")
        w.comment(f"Runs the network up to the output function: writes {n_out} values, {what}.{_ram(head, P)}")
    else:
        w.comment(f"Runs the network up to the output function: writes {n_out} values, z of the output layer."
                  f"{_ram(head, P)}")
    with w.block(f"static inline void {forward}(const float *x, float *{out})"):
        if len(stored) == 1:
            w.line(f"float hidden[{P}_MAX_HIDDEN_WIDTH];")
        elif stored:
            w.line(f"float hidden[2][{P}_MAX_HIDDEN_WIDTH];")
        source, source_width = "x", f"{P}_N_FEATURES"
        for k in range(1, len(stored) + 1):
            target = "hidden" if len(stored) == 1 else f"hidden[{(k - 1) % 2}]"
            target_width = f"{P}_HIDDEN{k}_WIDTH"
            for line in _wrapped(w, f"{p.impl}_dense", [source, source_width, f"{p}_layer{k}_weights[0]",
                                                   f"{p}_layer{k}_bias", target_width, target], ");"):
                w.line(line)
            source, source_width = target, target_width
        if hidden:
            k = len(hidden)
            arguments = [source, source_width, f"{p}_layer{k}_weights[0]", f"{p}_layer{k}_bias",
                         f"{P}_HIDDEN{k}_WIDTH", f"{p}_layer{n_layers}_weights[0]",
                         f"{p}_layer{n_layers}_bias", n_out, out]
            for line in _wrapped(w, f"{p.impl}_last_hidden", arguments, ");"):
                w.line(line)
        else:
            w.line(f"{p.impl}_dense(x, {P}_N_FEATURES, {p}_layer1_weights[0], {p}_layer1_bias, {n_out}, {out});")
    w.line()

    if head.output == "softmax":
        emit_argmax_predict(w, p, head.n_outputs, "decision", "logit")
        w.line()
        emit_softmax_proba(w, p, head.n_outputs, "the softmax of the logits, as predict_proba")
    elif head.output == "logistic":
        _emit_binary(w, p)
    else:
        _emit_regressor(w, head, p)


def _neuron(w: CWriter, width_t: str, target: str, bias: str, activation: str | None) -> None:
    """C lines for one neuron, as scikit-learn's a @ coefs_ + intercepts_: the inputs times its weights summed in
    input order, then its bias, then the activation, into `target` (an lvalue or a declaration). Written out in each layer function rather
    than called: avr-gcc -Os would not inline a shared function (measured: +2% cycles, +4 B stack)."""
    w.line("float sum = 0.0f;")
    with w.block(f"for ({width_t} i = 0; i < n_in; i++)"):
        w.line("sum += in[i] * MICROML_READ_FLOAT(&weights[i]);")
    value = f"sum + MICROML_READ_FLOAT(&{bias})"
    w.line(f"{target} = {activation}({value});" if activation else f"{target} = {value};")


def _emit_dense(w: CWriter, p: str, width_t: str, activate: bool) -> None:
    """`<p>_impl_dense`: one layer into a buffer (a hidden layer but the last, activated), or the only layer."""
    what = " then the activation," if activate else ""
    w.comment(f"One dense layer, as scikit-learn's a @ coefs_ + intercepts_: for each neuron, the inputs times "
              f"its weights summed in input order, then its bias,{what} written to out. weights and bias point "
              "into flash.")
    *lines, last = _wrapped(w, f"static inline void {p.impl}_dense", ["const float *in", f"{width_t} n_in",
                             "const float *weights", "const float *bias", f"{width_t} n_out", "float *out"], ")")
    for line in lines:
        w.line(line)
    with w.block(last):
        with w.block(f"for ({width_t} o = 0; o < n_out; o++)"):
            _neuron(w, width_t, "out[o]", "bias[o]", f"{p.impl}_activation" if activate else None)
            w.line("weights += n_in;")
    w.line()


def _emit_last_hidden(w: CWriter, p: str, width_t: str, activate: bool) -> None:
    """`<p>_last_hidden`: the last hidden layer streamed into the output layer's sums, no buffer."""
    w.comment("The last hidden layer and the output layer together, without storing the hidden layer: each "
              "hidden neuron is computed (inputs times weights in input order, plus its bias), activated, and added at once into every output's sum, which also runs "
              "in hidden-neuron order; the output biases come last. These are the float32 operations of storing "
              "the layer and then running a dense output layer, in the same order, so the results are the same.")
    *lines, last = _wrapped(w, f"static inline void {p.impl}_last_hidden", [
        "const float *in", f"{width_t} n_in", "const float *weights", "const float *bias", f"{width_t} n_hidden",
        "const float *out_weights", "const float *out_bias", f"{width_t} n_out", "float *out"], ")")
    for line in lines:
        w.line(line)
    with w.block(last):
        with w.block(f"for ({width_t} o = 0; o < n_out; o++)"):
            w.line("out[o] = 0.0f;")
        with w.block(f"for ({width_t} h = 0; h < n_hidden; h++)"):
            _neuron(w, width_t, "const float a", "bias[h]", f"{p.impl}_activation" if activate else None)
            w.line("const float *column = out_weights + h;  /* weight of this neuron in output 0's row */")
            with w.block(f"for ({width_t} o = 0; o < n_out; o++)"):
                w.line("out[o] += a * MICROML_READ_FLOAT(column);")
                w.line("column += n_hidden;")
            w.line("weights += n_in;")
        with w.block(f"for ({width_t} o = 0; o < n_out; o++)"):
            w.line("out[o] += MICROML_READ_FLOAT(&out_bias[o]);")
    w.line()


def _wrapped(w: CWriter, function: str, arguments: list[str], end: str) -> list[str]:
    """`function(arguments)end` on one line, or when too long, the arguments two by two (input, weights and
    bias, output) on lines aligned after the parenthesis."""
    text = f"{function}({', '.join(arguments)}{end}"
    if len(w._indent) * w._depth + len(text) <= LINE_WIDTH:
        return [text]
    pairs = [", ".join(arguments[k:k + 2]) for k in range(0, len(arguments), 2)]
    lines = [f"{function}({pairs[0]},"] + [" " * (len(function) + 1) + pair + "," for pair in pairs[1:]]
    lines[-1] = lines[-1][:-1] + end
    return lines


def _emit_binary(w: CWriter, p: str) -> None:
    w.comment(f"Class index of x (0 or 1): index into {p.api}_label(). scikit-learn predicts class 1 when "
              "logistic(z) > 0.5, that is when z > 0 (to within a rounding of 0).")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line("float z;")
        w.line(f"{p}_decision_function(x, &z);")
        w.line("return z > 0.0f ? 1 : 0;")
    w.line()
    emit_logistic_proba(w, p, "as predict_proba (the logistic output)")


def _emit_regressor(w: CWriter, head: Mlp, p: str) -> None:
    P = p.upper()
    exp = head.output == "exp"
    doc = "exp(z) of the output layer (loss='poisson')" if exp else "z of the output layer (identity output)"
    if head.n_outputs == 1:
        w.comment(f"Predicted value for x, as predict(): {doc}.")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            w.line("float z;")
            w.line(f"{p.impl}_output_layer(x, &z);")
            w.line("return expf(z);" if exp else "return z;")
        w.line()
        emit_predict_alias(w, p)
        return
    w.comment(f"Predicted values for x, as predict(): {doc}. Writes {P}_N_OUTPUTS values.")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        w.line(f"{p.impl}_output_layer(x, y);")
        if exp:
            with w.block(f"for ({int_type(head.n_outputs)} k = 0; k < {P}_N_OUTPUTS; k++)"):
                w.line("y[k] = expf(y[k]);")


def _ram(head: Mlp, P: str) -> str:
    stored = head.hidden_widths[:-1]
    if not head.hidden_widths:
        return " No buffers: the single layer writes its result directly."
    if not stored:
        return " No buffers: the hidden layer is added into the outputs neuron by neuron."
    n = min(2, len(stored))
    return (f" RAM: {n} buffer{'s' if n > 1 else ''} of {P}_MAX_HIDDEN_WIDTH floats ({n * max(stored) * 4} bytes) "
            "on the stack for the hidden layers but the last, which is added into the outputs neuron by neuron, "
            "whatever the number of weights.")

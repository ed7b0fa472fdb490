"""C for the Mlp head: one weight table per layer in flash, two hidden-layer buffers on the stack."""

from __future__ import annotations

from microml_build.emit.common import emit_argmax_predict, emit_softmax_proba
from microml_build.emit.c_writer import LINE_WIDTH, CWriter, int_type, table
from microml_build.ir.mlp import Mlp

ACTIVATION_C = {
    "relu": ("max(z, 0)", "v[i] = v[i] > 0.0f ? v[i] : 0.0f;"),
    "tanh": ("tanh(z)", "v[i] = tanhf(v[i]);"),
    "logistic": ("1 / (1 + exp(-z))", "v[i] = 1.0f / (1.0f + expf(-v[i]));"),
}


def emit_mlp(w: CWriter, head: Mlp, p: str, n_features: int) -> int:
    """Layer tables, the dense layer, the activation and the API functions; returns the bytes of flash tables."""
    P = p.upper()
    hidden = head.hidden_widths
    n_layers = len(head.weights)
    width_t = int_type(max((n_features, head.n_outputs, *hidden)))
    for k, width in enumerate(hidden, start=1):
        w.line(f"#define {P}_HIDDEN{k}_WIDTH {width}")
    if hidden:
        w.line(f"#define {P}_MAX_HIDDEN_WIDTH {max(hidden)}")
        w.line()
    size = 0
    for k, (W, b) in enumerate(zip(head.weights, head.biases), start=1):
        what = f"hidden layer {k}" if k < n_layers else "the output layer"
        table(w, f"{p}_layer{k}_weights", W,
              f"Weights of {what} (coefs_[{k - 1}] transposed): one row per neuron, one weight per input:",
              row_name="neuron")
        w.line()
        table(w, f"{p}_layer{k}_bias", b, f"Bias of each neuron of {what} (intercepts_[{k - 1}]):")
        w.line()
        size += (W.size + b.size) * 4

    w.comment("One dense layer, as scikit-learn's a @ coefs_ + intercepts_: for each neuron, the inputs times "
              "its weights summed in input order, then its bias. weights and bias point into flash.")
    *lines, last = _wrapped(w, f"static inline void {p}_dense", ["const float *in", f"{width_t} n_in",
                             "const float *weights", "const float *bias", f"{width_t} n_out", "float *out"], ")")
    for line in lines:
        w.line(line)
    with w.block(last):
        with w.block(f"for ({width_t} o = 0; o < n_out; o++)"):
            w.line("float sum = 0.0f;")
            with w.block(f"for ({width_t} i = 0; i < n_in; i++)"):
                w.line("sum += in[i] * MICROML_READ_FLOAT(&weights[i]);")
            w.line("out[o] = sum + MICROML_READ_FLOAT(&bias[o]);")
            w.line("weights += n_in;")
    w.line()
    activate = bool(hidden) and head.activation in ACTIVATION_C
    if activate:
        formula, statement = ACTIVATION_C[head.activation]
        w.comment(f"The hidden layers' activation ({head.activation}): {formula}, in place.")
        with w.block(f"static inline void {p}_activate(float *v, {width_t} n)"):
            with w.block(f"for ({width_t} i = 0; i < n; i++)"):
                w.line(statement)
        w.line()
    elif hidden:
        w.comment("activation='identity': the hidden layers pass z on unchanged.")
        w.line()

    classifier = head.task == "classifier"
    forward = f"{p}_decision_function" if classifier else f"{p}_output_layer"
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
        if hidden:
            w.line(f"float hidden[{min(2, len(hidden))}][{P}_MAX_HIDDEN_WIDTH];")
        source, source_width = "x", f"{P}_N_FEATURES"
        for k in range(1, n_layers + 1):
            if k < n_layers:
                target, target_width = f"hidden[{(k - 1) % 2}]", f"{P}_HIDDEN{k}_WIDTH"
            else:
                target, target_width = out, n_out
            for line in _wrapped(w, f"{p}_dense", [source, source_width, f"{p}_layer{k}_weights[0]",
                                                   f"{p}_layer{k}_bias", target_width, target], ");"):
                w.line(line)
            if k < n_layers and activate:
                w.line(f"{p}_activate({target}, {target_width});")
            source, source_width = target, target_width
    w.line()

    if head.output == "softmax":
        emit_argmax_predict(w, p, head.n_outputs, "decision", "logit")
        w.line()
        emit_softmax_proba(w, p, head.n_outputs, "the softmax of the logits, as predict_proba")
    elif head.output == "logistic":
        _emit_binary(w, p)
    else:
        _emit_regressor(w, head, p)
    return size


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
    w.comment(f"Class index of x (0 or 1): index into {p}_label(). scikit-learn predicts class 1 when "
              "logistic(z) > 0.5, that is when z > 0 (to within a rounding of 0).")
    with w.block(f"static inline int {p}_predict(const float *x)"):
        w.line("float z;")
        w.line(f"{p}_decision_function(x, &z);")
        w.line("return z > 0.0f ? 1 : 0;")
    w.line()
    w.comment("Class probabilities, as predict_proba: proba[1] = logistic(z) = 1 / (1 + exp(-z)), proba[0] = "
              "1 - proba[1]. Both come from e = exp(-|z|), which cannot overflow, as 1 / (1 + e) and e / (1 + e): "
              "the smaller one keeps its digits instead of losing them to 1 - proba[1]. Writes 2 values.")
    with w.block(f"static inline void {p}_predict_proba(const float *x, float *proba)"):
        w.line("float z;")
        w.line("float e;")
        w.line(f"{p}_decision_function(x, &z);")
        w.line("e = expf(-fabsf(z));")
        w.line("proba[1] = z > 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);")
        w.line("proba[0] = z > 0.0f ? e / (1.0f + e) : 1.0f / (1.0f + e);")


def _emit_regressor(w: CWriter, head: Mlp, p: str) -> None:
    P = p.upper()
    exp = head.output == "exp"
    doc = "exp(z) of the output layer (loss='poisson')" if exp else "z of the output layer (identity output)"
    if head.n_outputs == 1:
        w.comment(f"Predicted value for x, as predict(): {doc}.")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            w.line("float z;")
            w.line(f"{p}_output_layer(x, &z);")
            w.line("return expf(z);" if exp else "return z;")
        w.line()
        w.comment(f"The same as {p}_predict_value.")
        with w.block(f"static inline float {p}_predict(const float *x)"):
            w.line(f"return {p}_predict_value(x);")
        return
    w.comment(f"Predicted values for x, as predict(): {doc}. Writes {P}_N_OUTPUTS values.")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        w.line(f"{p}_output_layer(x, y);")
        if exp:
            with w.block(f"for ({int_type(head.n_outputs)} k = 0; k < {P}_N_OUTPUTS; k++)"):
                w.line("y[k] = expf(y[k]);")


def _ram(head: Mlp, P: str) -> str:
    hidden = head.hidden_widths
    if not hidden:
        return " No buffers: the single layer writes its result directly."
    n = min(2, len(hidden))
    return (f" RAM: {n} buffer{'s' if n > 1 else ''} of {P}_MAX_HIDDEN_WIDTH floats ({n * max(hidden) * 4} bytes) "
            "on the stack, used in turn by the hidden layers, whatever the number of weights.")

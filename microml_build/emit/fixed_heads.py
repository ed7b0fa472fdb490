"""C for the integer heads of fixed-point models: linear (dot products) and MLP (int layers); trees: fixed_trees.py.

Each head writes its tables and `<name>_predict_fixed(const int16_t *xq)`, then the float entry
points that quantize x on the stack and call it (`_float_wrappers`). Integers only, except the
final dequantization of a regressor's value (one float multiply and add, as documented).
Right shifts of negative int32 values are arithmetic here, as on gcc, clang, avr-gcc and
arm-none-eabi-gcc (C leaves it to the implementation).
"""

from __future__ import annotations

import numpy as np

from microml_build.cnames import int_type
from microml_build.emit.c_writer import READ, CWriter, Prefix, table
from microml_build.emit.common import layer_notes, output_scale, pair_notes
from microml_build.ir.fixed import ACT_EXP, TABLE_SEGMENTS, FixedLinear, FixedMlp, Quantized


# ---------------------------------------------------------------------------------------------
# Linear


def emit_linear(w: CWriter, q: Quantized, head: FixedLinear, p: str) -> None:
    P = p.upper()
    prec = q.precision
    wt = prec.weight_type
    K = head.n_outputs
    f_t = int_type(q.n_features)
    what = {"argmax": "class", "sign": "decision", "ovo": "class pair", "regressor": "output"}[head.kind]
    exponents = sorted(set(head.exponent.tolist()))
    scale = f"2^{exponents[0]}" if len(exponents) == 1 else f"2^S_k per {what} (S_k = {head.exponent.tolist()})"
    doc = (f"Weights over the quantized features ({wt}, at {scale}): the input scaling is folded in, w_j 2^-E_j. "
           f"acc = bias + sum_j weights[j] * xq[j] never exceeds +-{head.bound} for any int16 input: no int32 "
           "overflow.")
    rows = _row_names(head, p)
    E = q.inputs.exponent.astype(np.int64)
    floats = head.weights * np.exp2(E[None, :] - head.exponent.astype(np.int64)[:, None])   # w = Wq 2^(E_j - S_k)
    if K == 1:
        table(w, f"{p}_weights", head.weights[0], doc + " Each note gives the weight in x's units:", wt,
              notes=[f"{p.input(j)}: w = {v:.6g}" for j, v in enumerate(floats[0])] if p.annotate else None)
    else:
        listed = q.n_features <= 6
        notes = [f"{row}: w = " + ", ".join(f"{v:.4g}" for v in floats[k]) if listed else
                 f"{row}: weight j is w_j x 2^(S - E_j)" for k, row in enumerate(rows)]
        table(w, f"{p}_weights", head.weights, doc + f" One row per {what}, one column per feature "
              f"({p.input_list(range(q.n_features))}):", wt, notes=notes)
    w.line()
    has_bias = head.kind != "regressor"
    if has_bias:
        bias_doc = {"sign": "Intercept at the weights' scale, with the input centres folded in (clamped to the "
                            "range the sum can reach, which changes no sign):",
                    "ovo": "Intercept of each pair at its weights' scale, input centres folded in (clamped to the "
                           "range the sum can reach, which changes no sign):",
                    "argmax": "Intercept of each class at the weights' scale, input centres folded in (shifted by a "
                              "common constant and clamped where a class can never win: no argmax changes):"}
        scale = np.exp2(-head.exponent.astype(np.float64))
        table(w, f"{p}_bias", head.bias, bias_doc[head.kind], "int32_t",
              notes=[f"{row}: {b * scale[k]:.6g}" for k, (row, b) in enumerate(zip(rows, head.bias.tolist()))])
        w.line()
    row = "[k]" if K > 1 else ""
    k_arg = f", {int_type(K)} k" if K > 1 else ""
    w.comment("acc = bias + sum_j weights[j] * xq[j], in int32." if has_bias else
              "acc = sum_j weights[j] * xq[j], in int32 (the intercept is added in float, with the scale).")
    with w.block(f"static inline int32_t {p.impl}_accumulate(const int16_t *xq{k_arg})"):
        start = f"{READ['int32_t']}(&{p}_bias[{'k' if K > 1 else 0}])" if has_bias else "0"
        w.line(f"int32_t acc = {start};")
        with w.block(f"for ({f_t} j = 0; j < {P}_N_FEATURES; j++)"):
            w.line(f"acc += (int32_t)xq[j] * {READ[wt]}(&{p}_weights{row}[j]);")
        w.line("return acc;")
    w.line()
    if head.kind == "sign":
        w.comment(f"Class index (0 or 1) of quantized features xq: index into {p.api}_label(). Class 1 only above zero, "
                  "as scikit-learn's `scores > 0`.")
        with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
            w.line(f"return {p.impl}_accumulate(xq) > 0 ? 1 : 0;")
    elif head.kind == "argmax":
        k_t = int_type(K)
        w.comment(f"Class index of quantized features xq: index into {p.api}_label(). The largest accumulator wins, "
                  "the lowest index on a tie, as numpy's argmax. One accumulator at a time: O(1) RAM.")
        with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
            w.line(f"int32_t top = {p.impl}_accumulate(xq, 0);")
            w.line(f"{k_t} best = 0;")
            with w.block(f"for ({k_t} k = 1; k < {P}_N_CLASSES; k++)"):
                w.line(f"const int32_t acc = {p.impl}_accumulate(xq, k);")
                with w.block("if (acc > top)"):
                    w.line("top = acc;")
                    w.line("best = k;")
            w.line("return best;")
    elif head.kind == "ovo":
        _ovo_predict(w, p, head.n_classes)
    else:
        _linear_regressor(w, p, head)


def _row_names(head: FixedLinear, p: Prefix) -> list[str]:
    """What each row of a fixed-point linear head computes."""
    if head.kind == "argmax":
        return [f"class {p.label(k)}" for k in range(head.n_outputs)]
    if head.kind == "sign":
        return [f"decision (class {p.label(1)} above zero)"]
    if head.kind == "ovo":
        return pair_notes(p, head.n_classes)[:head.n_outputs]
    return [f"output {k}" for k in range(head.n_outputs)]


def _ovo_predict(w: CWriter, p: str, n_classes: int) -> None:
    P = p.upper()
    if n_classes == 2:
        w.comment(f"Class index (0 or 1) of quantized features xq: index into {p.api}_label(). Zero or above is class 1, "
                  "as scikit-learn's SVC.")
        with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
            w.line(f"return {p.impl}_accumulate(xq) >= 0 ? 1 : 0;")
        return
    c_t = int_type(n_classes)
    pair_t = int_type(n_classes * (n_classes - 1) // 2)
    w.comment(f"Class index of quantized features xq: index into {p.api}_label(). libsvm's one-vs-one vote: a positive "
              "accumulator votes for the first class of its pair; the most votes win, the lowest index on a tie.")
    with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
        w.line(f"uint8_t votes[{P}_N_CLASSES] = {{0}};")
        w.line(f"{pair_t} pair = 0;")
        w.line(f"{c_t} best = 0;")
        with w.block(f"for ({c_t} i = 0; i < {P}_N_CLASSES; i++)"):
            with w.block(f"for ({c_t} j = ({c_t})(i + 1); j < {P}_N_CLASSES; j++)"):
                with w.block(f"if ({p.impl}_accumulate(xq, pair++) > 0)"):
                    w.line("votes[i]++;")
                with w.block("else"):
                    w.line("votes[j]++;")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block("if (votes[c] > votes[best])"):
                w.line("best = c;")
        w.line("return best;")


def _linear_regressor(w: CWriter, p: str, head: FixedLinear) -> None:
    P = p.upper()
    scale = np.exp2(-head.exponent.astype(np.float64))
    output_scale(w, p, scale, head.offset)
    if head.n_outputs == 1:
        w.comment(f"The predicted value of quantized features xq in fixed point: y = yq * {P}_OUTPUT_SCALE + "
                  f"{P}_OUTPUT_OFFSET (the intercept, with the input centres folded in).")
        with w.block(f"static inline int32_t {p}_predict_fixed(const int16_t *xq)"):
            w.line(f"return {p.impl}_accumulate(xq);")
        return
    k_t = int_type(head.n_outputs)
    w.comment(f"The {P}_N_OUTPUTS predicted values of quantized features xq in fixed point: y[k] = yq[k] * "
              f"{p}_output_scale[k] + {p}_output_offset[k].")
    with w.block(f"static inline void {p}_predict_fixed(const int16_t *xq, int32_t *yq)"):
        with w.block(f"for ({k_t} k = 0; k < {P}_N_OUTPUTS; k++)"):
            w.line(f"yq[k] = {p.impl}_accumulate(xq, k);")


# ---------------------------------------------------------------------------------------------
# MLP


def emit_mlp(w: CWriter, q: Quantized, head: FixedMlp, p: str) -> None:
    P = p.upper()
    prec = q.precision
    wt = prec.weight_type
    layers = head.layers
    hidden = [len(layer.bias) for layer in layers[:-1]]
    width_t = int_type(max((q.n_features, head.n_outputs, *hidden)))
    stored = hidden[:-1]           # buffered; the last hidden layer goes straight into the outputs' sums
    for k, width in enumerate(hidden, start=1):
        w.line(f"#define {P}_HIDDEN{k}_WIDTH {width}")
    if stored:
        w.line(f"#define {P}_MAX_HIDDEN_WIDTH {max(stored)}")
    if head.output == "logistic":
        w.line(f"#define {P}_N_LOGITS 1   /* one output neuron: the logit of class 1 */")
    w.line()
    in_exponent = 0
    for k, layer in enumerate(layers, start=1):
        last = k == len(layers)
        what = "the output layer" if last else f"hidden layer {k}"
        source = "the quantized features (their scales folded in)" if k == 1 else f"hidden layer {k - 1}'s activations"
        at = (f"2^{layer.acc_exponent}" if layer.row_exponent is None else
              f"2^e_k, e = {layer.row_exponent.tolist()} (one scale per output)")
        notes = layer_notes(p, k, len(layers), len(layer.bias), head.output)
        exponents = (layer.row_exponent if layer.row_exponent is not None else
                     np.full(len(layer.bias), layer.acc_exponent)).astype(np.float64)
        # A weight stands for w = Wq 2^(input exponent - the row's exponent): the inputs are xq at 2^E_j, then
        # the previous layer's activations at 2^out_exponent.
        inputs = q.inputs.exponent.astype(np.float64) if k == 1 else np.full(layer.weights.shape[1], in_exponent)
        floats = layer.weights * np.exp2(inputs[None, :] - exponents[:, None])
        listed = layer.weights.shape[1] <= 6
        table(w, f"{p}_layer{k}_weights", layer.weights,
              f"Weights of {what} ({wt}), one row per neuron, one weight per input, over {source}; "
              f"the sum is z * {at} and stays within +-{layer.bound}" +
              ("; each note gives the weights in the inputs' own units:" if listed else ":"), wt,
              notes=[f"{note}: w = " + ", ".join(f"{v:.4g}" for v in row) if listed else note
                     for note, row in zip(notes, floats)])
        w.line()
        table(w, f"{p}_layer{k}_bias", layer.bias, f"Bias of each neuron of {what}, at {at} (the note: its value "
              "in z, input centres folded in):", "int32_t",
              notes=[f"{note}: {b * 2.0 ** -e:.6g}" for note, b, e in zip(notes, layer.bias.tolist(), exponents)]
              if p.annotate else None)
        w.line()
        if not last:
            if head.activation in ("relu", "identity"):
                w.line(f"#define {P}_LAYER{k}_SHIFT {layer.shift}   /* activation = sum >> shift, at "
                       f"2^{layer.out_exponent} */")
            else:
                w.line(f"#define {P}_LAYER{k}_SHIFT {layer.shift}   /* z = sum >> shift, at 2^{head.z_exponent} */")
            w.line()
            in_exponent = layer.out_exponent
    if head.table is not None:
        z_max = 2 ** 15 // 2 ** head.z_exponent
        table(w, f"{p}_activation_table", head.table,
                           f"{head.activation}(z) at 2^{ACT_EXP} for z = i * {z_max}/{TABLE_SEGMENTS}, i = 0 .. "
                           f"{TABLE_SEGMENTS}, interpolated linearly in between (error below 4e-4);"
                           + (" tanh(-z) = -tanh(z)." if head.activation == "tanh" else
                              " logistic(-z) = 1 - logistic(z)."), "int16_t")
        w.line()

    w.comment("One neuron: bias + the inputs times its weights (which point into flash), in int32.")
    w.line(f"static inline int32_t {p.impl}_neuron(const int16_t *in, {width_t} n_in, const {wt} *weights,")
    with w.block(" " * len(f"static inline int32_t {p.impl}_neuron(") + "int32_t sum)"):
        with w.block(f"for ({width_t} i = 0; i < n_in; i++)"):
            w.line(f"sum += (int32_t)in[i] * {READ[wt]}(&weights[i]);")
        w.line("return sum;")
    w.line()
    if hidden:
        _activation(w, head, p)
    classifier = q.task == "classifier"
    out = "logit" if classifier else "yq"
    n_out = f"{P}_N_CLASSES" if classifier and head.output == "softmax" else (
        f"{P}_N_LOGITS" if classifier else f"{P}_N_OUTPUTS")
    buffers = min(2, len(stored))
    if not hidden:
        ram = ""
    elif not stored:
        ram = " No buffers: each hidden neuron is added into the outputs' sums as soon as it is computed."
    else:
        ram = (f" RAM: {buffers} int16 buffer{'s' if buffers > 1 else ''} of {P}_MAX_HIDDEN_WIDTH "
               f"({buffers * 2 * max(stored)} bytes) on the stack for the hidden layers but the last, whose neurons "
               "are added into the outputs' sums as soon as they are computed (integer sums: the same result).")
    w.comment(f"Runs the network on quantized features xq: writes {n_out} int32 values, the output layer's "
              f"z at the scale of its weights.{ram}")
    with w.block(f"static inline void {p.impl}_forward(const int16_t *xq, int32_t *{out})"):
        if len(stored) == 1:
            w.line(f"int16_t hidden[{P}_MAX_HIDDEN_WIDTH];")
        elif stored:
            w.line(f"int16_t hidden[2][{P}_MAX_HIDDEN_WIDTH];")
        w.line(f"{width_t} o;")
        if hidden:
            w.line(f"{width_t} k;")
        source, source_width = "xq", f"{P}_N_FEATURES"
        for layer in range(1, len(layers)):     # the hidden layers; the last one is added into `out`
            streamed = layer == len(layers) - 1
            if streamed:
                with w.block(f"for (k = 0; k < {n_out}; k++)"):
                    w.line(f"{out}[k] = {READ['int32_t']}(&{p}_layer{layer + 1}_bias[k]);")
            with w.block(f"for (o = 0; o < {P}_HIDDEN{layer}_WIDTH; o++)"):
                w.line(f"const int32_t sum = {p.impl}_neuron({source}, {source_width}, {p}_layer{layer}_weights[o],")
                w.line(" " * len(f"const int32_t sum = {p.impl}_neuron(") +
                       f"{READ['int32_t']}(&{p}_layer{layer}_bias[o]));")
                if streamed:
                    w.line(f"const int16_t a = {p.impl}_activate(sum, {P}_LAYER{layer}_SHIFT);")
                    with w.block(f"for (k = 0; k < {n_out}; k++)"):
                        w.line(f"{out}[k] += (int32_t)a * {READ[wt]}(&{p}_layer{layer + 1}_weights[k][o]);")
                else:
                    target = "hidden" if len(stored) == 1 else f"hidden[{(layer - 1) % 2}]"
                    w.line(f"{target}[o] = {p.impl}_activate(sum, {P}_LAYER{layer}_SHIFT);")
            if not streamed:
                source, source_width = target, f"{P}_HIDDEN{layer}_WIDTH"
        if not hidden:
            with w.block(f"for (o = 0; o < {n_out}; o++)"):
                w.line(f"{out}[o] = {p.impl}_neuron(xq, {P}_N_FEATURES, {p}_layer1_weights[o],")
                w.line(" " * len(f"{out}[o] = {p.impl}_neuron(") + f"{READ['int32_t']}(&{p}_layer1_bias[o]));")
    w.line()
    if head.output == "softmax":
        c_t = int_type(head.n_outputs)
        w.comment(f"Class index of quantized features xq: index into {p.api}_label(). The largest logit, the first on "
                  "a tie (the argmax of the softmax, as predict()).")
        with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
            w.line(f"int32_t logit[{P}_N_CLASSES];")
            w.line(f"{c_t} best = 0;")
            w.line(f"{p.impl}_forward(xq, logit);")
            with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
                with w.block("if (logit[c] > logit[best])"):
                    w.line("best = c;")
            w.line("return best;")
    elif head.output == "logistic":
        w.comment(f"Class index (0 or 1) of quantized features xq: index into {p.api}_label(). Class 1 when the logit "
                  "is above zero (logistic(z) > 0.5, as predict()).")
        with w.block(f"static inline int {p}_predict_fixed(const int16_t *xq)"):
            w.line("int32_t logit;")
            w.line(f"{p.impl}_forward(xq, &logit);")
            w.line("return logit > 0 ? 1 : 0;")
    else:
        K = head.n_outputs
        output_scale(w, p, head.output_scale, np.zeros(K, dtype=np.float32))
        link = " (y = exp(yq * scale): loss='poisson')" if head.output == "exp" else ""
        if K == 1:
            w.comment(f"The predicted value of quantized features xq in fixed point{link}.")
            with w.block(f"static inline int32_t {p}_predict_fixed(const int16_t *xq)"):
                w.line("int32_t yq;")
                w.line(f"{p.impl}_forward(xq, &yq);")
                w.line("return yq;")
        else:
            w.comment(f"The {P}_N_OUTPUTS predicted values of quantized features xq in fixed point{link}.")
            with w.block(f"static inline void {p}_predict_fixed(const int16_t *xq, int32_t *yq)"):
                w.line(f"{p.impl}_forward(xq, yq);")


def _activation(w: CWriter, head: FixedMlp, p: str) -> None:
    P = p.upper()
    negative = any(layer.shift < 0 for layer in head.layers[:-1])
    shift_t = "int8_t" if negative else "uint8_t"
    if head.activation in ("relu", "identity"):
        low = "0" if head.activation == "relu" else f"-{P}_Q_MAX"
        w.comment(f"{head.activation} of a neuron's sum, requantized to the next layer's int16 scale: the sum shifted "
                  f"right (rounded half up) and saturated to [{low}, {P}_Q_MAX]. The sums stay within +-2^30, so "
                  "adding the rounding constant cannot overflow.")
    else:
        w.comment(f"{head.activation} of a neuron's sum: z = the sum shifted to 2^{head.z_exponent} (rounded half up, "
                  f"saturated to +-{P}_Q_MAX), then {p}_activation_table read at |z| >> 8 and interpolated with "
                  f"the low 8 bits; the result is at 2^{ACT_EXP}.")
    with w.block(f"static inline int16_t {p.impl}_activate(int32_t sum, {shift_t} shift)"):
        with w.block("if (shift > 0)"):
            w.line("sum = (sum + ((int32_t)1 << (shift - 1))) >> shift;")
        if negative:
            with w.block("else if (shift < 0)"):
                w.comment("a scale below the table's: multiply, saturating first")
                limit = f"((int32_t){P}_Q_MAX >> -shift)"
                w.line(f"sum = sum > {limit} ? {P}_Q_MAX : (sum < -{limit} ? -{P}_Q_MAX : sum * ((int32_t)1 << -shift));")
        if head.activation == "relu":
            w.line(f"return sum < 0 ? 0 : (sum > {P}_Q_MAX ? {P}_Q_MAX : (int16_t)sum);")
            return
        if head.activation == "identity":
            w.line(f"return sum < -{P}_Q_MAX ? -{P}_Q_MAX : (sum > {P}_Q_MAX ? {P}_Q_MAX : (int16_t)sum);")
            return
        table_lookup(w, P, f"{p}_activation_table", "sum", head.activation)


def table_lookup(w: CWriter, P: str, table_name: str, value: str, activation: str) -> None:
    """The lines returning tanh or logistic of `value` (an int32 at 2^12 or 2^11, saturated to +-Q_MAX first) read
    from `table_name` (`ir.fixed.table_activation` is their reference), at 2^ACT_EXP."""
    w.line(f"const uint16_t m = (uint16_t)({value} < 0 ? ({value} < -{P}_Q_MAX ? {P}_Q_MAX : -{value})")
    w.line(f"                                      : ({value} > {P}_Q_MAX ? {P}_Q_MAX : {value}));")
    w.line("const uint8_t i = (uint8_t)(m >> 8);")
    w.line(f"const int16_t low = {READ['int16_t']}(&{table_name}[i]);")
    w.line(f"const int16_t high = {READ['int16_t']}(&{table_name}[i + 1]);")
    w.line("const int16_t y = (int16_t)(low + (int16_t)(((int32_t)(high - low) * (m & 0xFF) + 128) >> 8));")
    if activation == "tanh":
        w.line(f"return {value} < 0 ? (int16_t)-y : y;")
    else:
        w.line(f"return {value} < 0 ? (int16_t)({1 << ACT_EXP} - y) : y;  /* logistic(-z) = 1 - logistic(z); "
               f"{1 << ACT_EXP} is 1.0 at 2^{ACT_EXP} */")

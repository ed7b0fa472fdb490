"""C for the linear heads: one dot product per output, O(1) RAM."""

from __future__ import annotations

import numpy as np

from microml_build.cnames import comment_text, int_type
from microml_build.emit.c_writer import CWriter, Prefix, float_literal, table
from microml_build.emit.common import (
    emit_argmax_predict,
    emit_logistic_proba,
    emit_predict_alias,
    emit_proba_of_window,
    emit_softmax_proba,
    fused_decision_function,
    fused_predict,
    pair_notes,
    proba_function,
)
from microml_build.emit.svm import emit_ovo_predict, feature_access, input_columns
from microml_build.ir.forms import LinearForm
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.svm import LinearOvo

ORDER = ("summed in feature order in float32, the intercept added last, as scikit-learn computes "
         "X @ coef_.T + intercept_")


def emit_linear_classifier(w: CWriter, head: LinearClassifier, p: str, n_features: int,
                           written_out: bool = False) -> None:
    """Weights, decision function, predict (and predict_proba for LogisticRegression); `written_out`: the weights
    in one expression per decision (`LinearForm`) instead of a table and its loop."""
    access = _weights_or_intercept(w, head, p, n_features, "decision", written_out)
    out = f" {WRITTEN_OUT}" if written_out else ""
    if head.n_outputs == 1:
        w.comment(f"Decision value, as scikit-learn's decision_function: <w, x> + intercept, {ORDER}.{out}")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            _outputs(w, head, p, access, "decision", "N_DECISIONS")
        w.line()
        _sign_predict(w, p, "predict", "const float *x", f"{p}_decision_function(x, &decision)")
    else:
        w.comment(f"One decision value per class, as scikit-learn's decision_function: <w_k, x> + intercept_k, "
                  f"{ORDER}.{out}")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            _outputs(w, head, p, access, "decision", "N_DECISIONS")
        w.line()
        emit_argmax_predict(w, p, head.n_outputs, "decision", "decision", count="N_DECISIONS")
    if head.proba:
        w.line()
        _logistic_proba(w, p, head.n_classes, head.proba)


def _sign_predict(w: CWriter, p: Prefix, name: str, params: str, fill: str) -> None:
    """`<p>_<name>` of a binary linear classifier: class 1 only above zero, from the decision `fill` computes."""
    w.comment(f"Class index of {'x' if name == 'predict' else 'the window'} (0 or 1): index into {p.api}_label(). "
              "Class 1 only above zero: scikit-learn predicts with `scores > 0`, so a decision of exactly zero is "
              "class 0. decision > 0.0f is tested on the float's bits (+FLT_TRUE_MIN up to +inf; never NaN): the "
              "same answer without a float compare, which on AVR links ~80 B of soft-float code.")
    with w.block(f"static inline int {p}_{name}({params})"):
        w.line("float decision;")
        w.line("uint32_t bits;")
        w.line(f"{fill};")
        w.line("memcpy(&bits, &decision, sizeof bits);")
        w.line("return bits - 1u < 0x7F800000u ? 1 : 0;")


def emit_linear_classifier_fused(w: CWriter, head: LinearClassifier, p: Prefix, T: str, window_sums) -> None:
    """A linear classifier fused with the window features (plan/features.py): its tables, `<p>_impl_window_sums`
    (printed by `window_sums`) for the decision values, and the public functions on top of it."""
    P = p.upper()
    _weights(w, head, p, "decision")
    _fused_sums(w, head, p, window_sums, f"{P}_N_DECISIONS")
    fused_decision_function(w, p, T, f"Decision values, as scikit-learn's decision_function ({ORDER})")
    ring = f"const {T} *ring, unsigned head"
    if head.n_outputs == 1:
        _sign_predict(w, p, "predict_ring", ring, f"{p.impl}_window_sums(ring, head, &decision)")
    else:
        emit_argmax_predict(w, p, head.n_outputs, "decision", "decision", count="N_DECISIONS",
                            source=("predict_ring", ring, f"{p.impl}_window_sums(ring, head, decision)"))
    w.line()
    fused_predict(w, p, T, "int")
    if head.proba:
        w.line()
        _logistic_proba(w, p, head.n_classes, head.proba, T, ring=True)


def emit_linear_regressor_fused(w: CWriter, head: LinearRegressor, p: Prefix, T: str, window_sums) -> None:
    """A linear regressor fused with the window features: its tables, `<p>_impl_window_sums` for the outputs, and
    the public functions on top of it."""
    P = p.upper()
    _weights(w, head, p, "output")
    _fused_sums(w, head, p, window_sums, f"{P}_N_OUTPUTS")
    if head.n_outputs > 1:
        w.comment(f"Predicted values y[0..{P}_N_OUTPUTS-1] of the window x, as scikit-learn's predict ({ORDER}).")
        with w.block(f"static inline void {p}_predict_value(const {T} *x, float *y)"):
            w.line(f"{p.impl}_window_sums(x, 0, y);")
        return
    w.comment(f"Predicted value of the window, as scikit-learn's predict ({ORDER}).")
    with w.block(f"static inline float {p}_predict_ring(const {T} *ring, unsigned head)"):
        w.line("float y;")
        w.line(f"{p.impl}_window_sums(ring, head, &y);")
        w.line("return y;")
    w.line()
    w.comment("Predicted value of the window x (its oldest sample at slot 0).")
    with w.block(f"static inline float {p}_predict_value(const {T} *x)"):
        w.line(f"return {p}_predict_ring(x, 0);")
    w.line()
    emit_predict_alias(w, p, T)


def _fused_sums(w: CWriter, head, p: Prefix, window_sums, count: str) -> None:
    """`<p>_impl_window_sums` over `_weights`' tables: one vector and a macro for one output, else rows."""
    P = p.upper()
    if head.n_outputs == 1:
        window_sums(count=1, weight=f"MICROML_READ_FLOAT(&{p}_weights[{{j}}])", intercept=f"{P}_INTERCEPT")
    else:
        window_sums(count=count, weight=f"MICROML_READ_FLOAT(&{p}_weights[{{k}}][{{j}}])",
                    intercept=f"MICROML_READ_FLOAT(&{p}_intercept[{{k}}])")


def emit_linear_regressor(w: CWriter, head: LinearRegressor, p: str, n_features: int,
                          written_out: bool = False) -> None:
    """Weights and predict_value (one float, or N_OUTPUTS values); `written_out` as for emit_linear_classifier."""
    P = p.upper()
    access = _weights_or_intercept(w, head, p, n_features, "output", written_out)
    out = f" {WRITTEN_OUT}" if written_out else ""
    if head.n_outputs == 1:
        w.comment(f"Predicted value, as scikit-learn's predict: <w, x> + intercept, {ORDER}.{out}")
        with w.block(f"static inline float {p}_predict_value(const float *x)"):
            _outputs(w, head, p, access, "return", "N_OUTPUTS")
        w.line()
        emit_predict_alias(w, p)
        return
    w.comment(f"Predicted values y[0..{P}_N_OUTPUTS-1], as scikit-learn's predict: <w_k, x> + intercept_k, "
              f"{ORDER}.{out}")
    with w.block(f"static inline void {p}_predict_value(const float *x, float *y)"):
        _outputs(w, head, p, access, "y", "N_OUTPUTS")


def _weights_or_intercept(w: CWriter, head, p: Prefix, n_features: int, what: str, written_out: bool):
    """The tables (`_weights`) and how the loops read x (`feature_access`); written out, only a single output's
    intercept macro, and None."""
    if written_out:
        if len(head.weights) == 1:
            w.line(f"#define {p.upper()}_INTERCEPT {float_literal(head.intercept[0])}   /* added last */")
            w.line()
        return None
    _weights(w, head, p, what)
    return feature_access(w, head, p, n_features)


def _outputs(w: CWriter, head, p: Prefix, access, target: str, count: str) -> None:
    """Each output's <w_k, x> + intercept_k into `target`[k] (`return` of the one value): the loop over the weight
    table (`access`, `feature_access`'s), or with `access` None one written-out expression per output."""
    single = len(head.weights) == 1
    if access is None:
        for k in range(len(head.weights)):
            what = "" if single else f"class {p.label(k)}" if target == "decision" else f"output {k}"
            _expression(w, head, p, k, "return " if target == "return" else f"{target}[{k}] = ", what)
        return
    if single:
        w.line(f"{'return ' if target == 'return' else f'{target}[0] = '}{_dot(w, p, access, row='')};")
        return
    with w.block(f"for ({int_type(len(head.weights))} k = 0; k < {p.upper()}_{count}; k++)"):
        w.line(f"{target}[k] = {_dot(w, p, access, row='k')};")


def _weights(w: CWriter, head, p: Prefix, what: str) -> None:
    """`<p>_weights` and the intercept: a 1-D table and a macro for one output, else a table of rows."""
    weights, intercept = head.weights, head.intercept
    columns = input_columns(head)
    if len(weights) == 1:
        table(w, f"{p}_weights", weights[0], "Weights, one per input feature:",
              notes=[p.input(j) for j in columns] if p.annotate else None)
        w.line()
        w.line(f"#define {p.upper()}_INTERCEPT {float_literal(intercept[0])}   /* added to the dot product */")
        w.line()
        return
    names = p.input_list(columns)
    rows = [f"class {p.label(k)}" if what == "decision" else f"output {k}" for k in range(len(weights))]
    table(w, f"{p}_weights", weights, f"Weights, one row per {what}, one column per input feature ({names}):",
          notes=rows)
    w.line()
    table(w, f"{p}_intercept", intercept, f"Intercepts, one per {what}:", notes=rows)
    w.line()


def _dot(w: CWriter, p: str, access: list[str], row: str) -> str:
    """Writes the loop summing x[j] * weight into `sum`; returns the C expression sum + intercept of `row`.

    `access` is `feature_access`'s (loop bound, index type, input j): x[j] over every feature, or the
    columns a folded feature selection names.
    """
    P = p.upper()
    bound, index_t, x_j = access
    weight = f"{p}_weights[{row}][j]" if row else f"{p}_weights[j]"
    w.line("float sum = 0.0f;")
    with w.block(f"for ({index_t} j = 0; j < {bound}; j++)"):
        w.line(f"sum += {x_j} * MICROML_READ_FLOAT(&{weight});")
    return f"sum + MICROML_READ_FLOAT(&{p}_intercept[{row}])" if row else f"sum + {P}_INTERCEPT"


def _logistic_proba(w: CWriter, p: str, n_classes: int, kind: str, x_type: str = "float", ring: bool = False) -> None:
    """LogisticRegression.predict_proba: sigmoid of the one decision, or softmax of one decision per class;
    over OneVsRestClassifier ("logistic_ovr"), each class's sigmoid divided by their sum. `ring`: a fused window
    model's `<p>_predict_proba_ring`, and `<p>_predict_proba` on top of it."""
    if n_classes == 2:
        emit_logistic_proba(w, p, "as LogisticRegression.predict_proba", x_type=x_type, ring=ring)
        return
    c_t = int_type(n_classes)
    if kind == "logistic_ovr":
        _ovr_proba(w, p, c_t, x_type, ring)
        return
    emit_softmax_proba(w, p, n_classes, "as LogisticRegression.predict_proba: the softmax of the decisions", x_type,
                       ring)


def _ovr_proba(w: CWriter, p: str, c_t: str, x_type: str, ring: bool = False) -> None:
    P = p.upper()
    w.comment("Probability of each class, as OneVsRestClassifier(LogisticRegression).predict_proba: each class's "
              "sigmoid 1 / (1 + exp(-d_k)), divided by their sum. All are scaled by the same exp(-t), "
              "t = min(largest decision, 0): exp(-t) / (1 + exp(-d)) = 1 / (exp(t) + exp(t - d)). The largest "
              "class then gets at least 1/2, so the sum cannot underflow to zero when every decision is very "
              "negative; an exp() that overflows belongs to a class whose share is below float32's range, "
              "and gives it 0.")
    signature, fill = proba_function(p, x_type, ring)
    with w.block(signature):
        w.line("float largest, shift, sum = 0.0f;")
        w.line(fill.format(out="proba"))
        w.line("largest = proba[0];")
        with w.block(f"for ({c_t} c = 1; c < {P}_N_CLASSES; c++)"):
            with w.block("if (proba[c] > largest)"):
                w.line("largest = proba[c];")
        w.line("shift = largest < 0.0f ? largest : 0.0f;")
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] = 1.0f / (expf(shift) + expf(shift - proba[c]));")
            w.line("sum += proba[c];")
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("proba[c] /= sum;")
    if ring:
        emit_proba_of_window(w, p, x_type)


# ---------------------------------------------------------------------------------------------
# Written out (target.optimize: speed)

WRITTEN_OUT = ("The weights are written into the expression (target.optimize: speed): the compiler loads them as "
               "immediates, with no table to read and no loop, which on AVR saves ~15 cycles a weight for ~40 B of "
               "flash each.")


def emit_linear_form(w: CWriter, form: LinearForm, p: Prefix, n_features: int) -> None:
    """A linear head as one expression per output (`LinearForm`), with the public functions of the table form."""
    head = form.head
    if isinstance(head, LinearOvo):
        _ovo_written_out(w, head, p)
    elif isinstance(head, LinearRegressor):
        emit_linear_regressor(w, head, p, n_features, written_out=True)
    else:
        emit_linear_classifier(w, head, p, n_features, written_out=True)


def _ovo_written_out(w: CWriter, head: LinearOvo, p: Prefix) -> None:
    """A linear-kernel SVM written out: one expression per class pair, then the pairs' vote."""
    _weights_or_intercept(w, head, p, len(head.weights[0]), "pair", written_out=True)
    if head.n_classes == 2:
        w.comment(f"Decision value, as scikit-learn's decision_function: <w, x> + intercept, the weights being the "
                  f"support vectors times their dual coefficients, summed. Zero or above means class 1. {WRITTEN_OUT}")
        with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
            _expression(w, head, p, 0, "decision[0] = ")
        w.line()
        emit_ovo_predict(w, p, 2)
        return
    w.line(f"#define {p.upper()}_N_PAIRS {len(head.weights)}")
    w.line()
    w.comment("One-vs-one decision values, as scikit-learn's decision_function with decision_function_shape='ovo': "
              f"one per class pair (0,1), (0,2), ..., (1,2), ... {WRITTEN_OUT}")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *decision)"):
        for k, note in enumerate(pair_notes(p, head.n_classes)):
            _expression(w, head, p, k, f"decision[{k}] = ", note)
    w.line()
    emit_ovo_predict(w, p, head.n_classes)


def _expression(w: CWriter, head, p: Prefix, row: int, target: str, what: str = "") -> None:
    """`target` x[c0] * w0 + x[c1] * w1 + ... + intercept;`, a term a line, each noted with the input it reads."""
    columns = input_columns(head)
    if len(head.weights) == 1:
        last, note = f"+ {p.upper()}_INTERCEPT", ""
    else:     # a - b is a + -b exactly, in every rounding: the sign is written as a reader expects it
        value = float(head.intercept[row])
        last = f"- {float_literal(-value)}" if np.signbit(value) else f"+ {float_literal(value)}"
        note = "intercept"
    if what:
        w.comment(what)
    terms = [f"x[{c}] * {float_literal(weight)}" for c, weight in zip(columns, head.weights[row].tolist())]
    notes = [_term_note(p.input(c), c) for c in columns] + [note]
    lines = [target + terms[0]] + ["    + " + term for term in terms[1:]] + [f"    {last};"]
    width = max(len(line) for line in lines) + 2
    for line, note in zip(lines, notes):
        w.line(f"{line:<{width}}/* {note} */" if note and p.annotate else line)


def _term_note(name: str, column: int) -> str:
    """What the term reads, beyond `x[column]` itself: the column's name (`radius`), or the transformed input."""
    own = f"x[{column}]"
    return comment_text(name[len(own):].strip() if name.startswith(own) else name)

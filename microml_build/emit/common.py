"""C shared by the heads: argmax predict() and softmax predict_proba() over decision values, the regressors' predict()."""

from __future__ import annotations

from microml_build.emit.c_writer import CWriter, int_type


def emit_argmax_predict(w: CWriter, p: str, n_classes: int, values: str, meaning: str,
                        count: str = "N_CLASSES") -> None:
    """`<p>_predict`: the index of the largest decision value, the first one on a tie (np.argmax's rule).

    `count` names the macro sizing the values (`N_CLASSES`, or `N_DECISIONS` where the head defines it)."""
    P = p.upper()
    c_t = int_type(n_classes)
    w.comment(f"Class index of x: index into {p}_label(). The largest {meaning} wins; a tie goes to the lowest "
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

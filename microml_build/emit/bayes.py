"""C for the naive Bayes heads: GaussianNb and DiscreteNb (Bernoulli, multinomial); one float of RAM per class."""

from __future__ import annotations

import numpy as np

from microml_build.cnames import int_type
from microml_build.emit.c_writer import CWriter, float_literal, table
from microml_build.emit.common import emit_argmax_predict, emit_softmax_proba
from microml_build.ir.bayes import DiscreteNb, GaussianNb


def emit_gaussian_nb(w: CWriter, head: GaussianNb, p: str, n_features: int) -> None:
    """Tables and functions of Gaussian naive Bayes; returns the bytes of flash tables."""
    P = p.upper()
    c_t, f_t = int_type(head.n_classes), int_type(n_features)
    classes = [f"class {p.label(c)}" for c in range(head.n_classes)]
    table(w, f"{p}_theta", head.theta, f"Mean of each feature per class (theta_), one row per class, one column per "
          f"feature ({p.input_list(range(n_features))}):", notes=classes)
    w.line()
    table(w, f"{p}_inverse_var", 1.0 / head.var,
          "1 / variance of each feature per class (var_, var_smoothing included), computed in double precision: "
          "the C code multiplies rather than divides, which is exact to one rounding and much faster on a chip "
          "without an FPU. One row per class:", notes=classes)
    w.line()
    table(w, f"{p}_log_constant", head.log_constant,
          "The part of each class's log-likelihood that does not depend on x, computed in double precision: "
          "log(class_prior_) - 0.5 * sum_j log(2 pi var_[c][j]).", notes=classes)
    w.line()
    w.comment("Joint log-likelihood of each class, as scikit-learn's GaussianNB.predict_joint_log_proba: "
              "log_constant - 0.5 * sum_j (x[j] - theta[c][j])^2 / var[c][j]. The squares are all positive, "
              f"so they are summed first (no cancellation) and subtracted once. Writes {P}_N_CLASSES values.")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *jll)"):
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("float sum = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {P}_N_FEATURES; j++)"):
                w.line(f"const float d = x[j] - MICROML_READ_FLOAT(&{p}_theta[c][j]);")
                w.line(f"sum += d * d * MICROML_READ_FLOAT(&{p}_inverse_var[c][j]);")
            w.line(f"jll[c] = MICROML_READ_FLOAT(&{p}_log_constant[c]) - 0.5f * sum;")
    w.line()
    emit_argmax_predict(w, p, head.n_classes, "jll", "joint log-likelihood")
    w.line()
    emit_softmax_proba(w, p, head.n_classes, "exp(jll - logsumexp(jll)), as predict_proba")


def emit_discrete_nb(w: CWriter, head: DiscreteNb, p: str, n_features: int) -> None:
    """Tables and functions of Bernoulli or multinomial naive Bayes; returns the bytes of flash tables."""
    P = p.upper()
    c_t, f_t = int_type(head.n_classes), int_type(n_features)
    classes = [f"class {p.label(c)}" for c in range(head.n_classes)]
    if head.kind == "multinomial":
        weights, offset = f"{p}_feature_log_prob", f"{p}_class_log_prior"
        table(w, weights, head.weights, "log P(feature j | class c) (feature_log_prob_), one row per class, one "
              f"column per feature ({p.input_list(range(n_features))}):", notes=classes)
        w.line()
        table(w, offset, head.offset, "log P(class c) (class_log_prior_):", notes=classes)
        formula = f"sum_j x[j] * {weights}[c][j] + {offset}[c], as scikit-learn's MultinomialNB"
    else:
        weights, offset = f"{p}_log_odds", f"{p}_offset"
        table(w, weights, head.weights,
              "log p - log(1 - p) for p = P(feature j is 1 | class c), computed in double precision from "
              f"feature_log_prob_ as BernoulliNB does, one row per class, one column per feature "
              f"({p.input_list(range(n_features))}):", notes=classes)
        w.line()
        table(w, offset, head.offset,
              "class_log_prior_[c] + sum_j log(1 - p[c][j]): the score of an all-zero input, in double precision.",
              notes=classes)
        formula = (f"sum_j b(x[j]) * {weights}[c][j] + {offset}[c], as scikit-learn's BernoulliNB, which "
                   "rearranges sum_j b log p + (1 - b) log(1 - p) into this form")
        if head.binarize is not None:
            threshold = float32_at_or_below(head.binarize)
            w.line()
            w.comment(f"binarize={head.binarize!r}: b(x) = 1 when x > {head.binarize!r}, else 0. For a float x, "
                      "x > threshold is the same test as x > the largest float at or below it, which this is.")
            w.line(f"#define {P}_BINARIZE {float_literal(threshold)}")
            formula += ", with b(x) = (x > binarize)"
        else:
            formula += " with binarize=None: b(x) = x, the inputs are expected to be 0 or 1 already"
    w.line()
    w.comment(f"Joint log-likelihood of each class: {formula}. Writes {P}_N_CLASSES values.")
    with w.block(f"static inline void {p}_decision_function(const float *x, float *jll)"):
        with w.block(f"for ({c_t} c = 0; c < {P}_N_CLASSES; c++)"):
            w.line("float sum = 0.0f;")
            with w.block(f"for ({f_t} j = 0; j < {P}_N_FEATURES; j++)"):
                if head.kind == "bernoulli" and head.binarize is not None:
                    with w.block(f"if (x[j] > {P}_BINARIZE)"):
                        w.line(f"sum += MICROML_READ_FLOAT(&{weights}[c][j]);")
                else:
                    w.line(f"sum += x[j] * MICROML_READ_FLOAT(&{weights}[c][j]);")
            w.line(f"jll[c] = sum + MICROML_READ_FLOAT(&{offset}[c]);")
    w.line()
    emit_argmax_predict(w, p, head.n_classes, "jll", "joint log-likelihood")
    w.line()
    emit_softmax_proba(w, p, head.n_classes, "exp(jll - logsumexp(jll)), as predict_proba")


def float32_at_or_below(value: float) -> float:
    """The largest float32 <= value: for any float32 x, x > value exactly when x > this."""
    f = np.float32(value)
    if float(f) > value:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)

"""GaussianNB -> GaussianNb; BernoulliNB and MultinomialNB -> DiscreteNb (a linear score per class)."""

from __future__ import annotations

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.lower.common import describe, features

FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def lower_gaussian_nb(est) -> Model:
    theta = np.asarray(est.theta_, dtype=np.float64)
    var = np.asarray(est.var_, dtype=np.float64)
    with np.errstate(divide="ignore"):
        head = GaussianNb(theta=theta, var=var, log_prior=np.log(np.asarray(est.class_prior_, dtype=np.float64)))
    _check_float32(est, "class_prior_ (a prior of 0 gives log 0)", head.log_constant,
                   "give every class a prior above 0 (priors=...) or leave priors=None")
    _check_float32(est, "theta_", theta, "scale the features (e.g. StandardScaler in a Pipeline)")
    # The C code multiplies by 1/var, stored in float32: it must be a normal float32 (no overflow to inf,
    # no denormal that loses digits), which bounds var to about 1.2e-38 .. 8.5e37.
    inverse = 1.0 / var
    if not (np.all(np.abs(inverse) < np.finfo(np.float32).max) and np.all(np.abs(inverse) >= FLOAT32_TINY)):
        raise MicroMLError(
            f"GaussianNB: a variance in var_ ({var.min():.3g} .. {var.max():.3g}) has no float32 reciprocal, "
            "so the C code cannot reproduce its (x - theta)^2 / var",
            fix="scale the features (e.g. StandardScaler in a Pipeline) or increase var_smoothing "
                f"(now {est.var_smoothing!r}), which raises the smallest variances")
    n_classes, n_features = theta.shape
    return Model(n_features=n_features, labels=tuple(est.classes_.tolist()), head=head, estimator=describe(est),
                 summary=f"GaussianNB {n_classes} classes x {features(n_features)}",
                 params={"var_smoothing": est.var_smoothing, "epsilon": float(est.epsilon_)})


def lower_bernoulli_nb(est) -> Model:
    log_p = np.asarray(est.feature_log_prob_, dtype=np.float64)
    if est.binarize is None and (log_p > 0).any():
        raise MicroMLError("BernoulliNB(binarize=None) was trained on inputs that are not 0 or 1: some feature "
                           "probabilities exceed 1, so log(1 - p) is undefined (scikit-learn's own predict() then "
                           "works on NaN)", fix="set binarize to a threshold (e.g. the default binarize=0.0), or "
                                                "use MultinomialNB for counts")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_not_p = np.log(1.0 - np.exp(log_p))       # log(1 - p), exactly as BernoulliNB computes it
        weights = log_p - log_not_p
        offset = np.asarray(est.class_log_prior_, dtype=np.float64) + log_not_p.sum(axis=1)
    fix = "train with alpha > 0 (e.g. the default alpha=1.0), so no feature probability is exactly 0 or 1"
    _check_float32(est, "feature_log_prob_ (a probability of 0 or 1 gives log 0)", weights, fix)
    _check_float32(est, "class_log_prior_", offset, fix)
    binarize = None if est.binarize is None else float(est.binarize)
    head = DiscreteNb(kind="bernoulli", weights=weights, offset=offset, binarize=binarize)
    n_classes, n_features = weights.shape
    return Model(n_features=n_features, labels=tuple(est.classes_.tolist()), head=head, estimator=describe(est),
                 summary=f"BernoulliNB {n_classes} classes x {features(n_features)}",
                 params={"alpha": est.alpha, "binarize": binarize})


def lower_multinomial_nb(est) -> Model:
    weights = np.asarray(est.feature_log_prob_, dtype=np.float64)
    offset = np.asarray(est.class_log_prior_, dtype=np.float64)
    fix = "train with alpha > 0 (e.g. the default alpha=1.0), so no feature has probability 0"
    _check_float32(est, "feature_log_prob_ (a feature never seen in a class gives log 0)", weights, fix)
    _check_float32(est, "class_log_prior_", offset, fix)
    head = DiscreteNb(kind="multinomial", weights=weights, offset=offset)
    n_classes, n_features = weights.shape
    return Model(n_features=n_features, labels=tuple(est.classes_.tolist()), head=head, estimator=describe(est),
                 summary=f"MultinomialNB {n_classes} classes x {features(n_features)}",
                 params={"alpha": est.alpha})


def _check_float32(est, what: str, values: np.ndarray, fix: str) -> None:
    """Refuse a table the C code cannot hold: infinite, NaN, or beyond float32's range."""
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.abs(values) < np.finfo(np.float32).max):
        raise MicroMLError(f"{type(est).__name__}: {what} holds values float32 cannot represent "
                           f"({values[~(np.abs(values) < np.finfo(np.float32).max)][0]!r})", fix=fix)

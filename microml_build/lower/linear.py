"""Linear classifiers (alone or one-vs-rest) and regressors -> LinearClassifier / LinearRegressor; SVR -> KernelSvr."""

from __future__ import annotations

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.lower.common import dense, describe, features, key_params

# Shown on the header's Parameters line when the estimator has them: what shaped the weights.

# Classifiers whose predict_proba is LogisticRegression's: sigmoid (two classes) or softmax.
LOGISTIC = ("LogisticRegression", "LogisticRegressionCV")


def lower_linear_classifier(est) -> Model:
    """Any LinearClassifierMixin estimator: predict() is `scores > 0` (two classes) or argmax of X @ coef_.T + b."""
    name = type(est).__name__
    binarizer = getattr(est, "_label_binarizer", None)
    if binarizer is not None and getattr(binarizer, "y_type_", "").startswith("multilabel"):
        raise MicroMLError(f"{name} fitted on multilabel targets is not supported: its predict() returns a "
                           "label indicator matrix, not one class", fix="fit it on a single label column")
    weights = _rows(est.coef_)
    intercept = _intercepts(est.intercept_, len(weights))
    n_classes = len(est.classes_)
    if len(weights) != (1 if n_classes == 2 else n_classes):
        raise MicroMLError(f"{name} has {len(weights)} weight vectors for {n_classes} classes, which its "
                           "predict() does not map to one class (this is a MicroML bug)",
                           fix="report it with the model's yaml")
    head = LinearClassifier(weights=weights, intercept=intercept, proba="logistic" if name in LOGISTIC else "")
    return Model(n_features=weights.shape[1], labels=tuple(est.classes_.tolist()), head=head,
                 estimator=describe(est), summary=_summary(name, weights), params=key_params(est))


def lower_one_vs_rest(est, lower) -> Model:
    """OneVsRestClassifier over a linear classifier: one binary weight vector per class, stacked.

    Its predict() takes the largest decision, ties to the lowest index (it walks the classes
    backwards so as to match numpy's argmax): the same as a multiclass linear classifier. With
    two classes it keeps one estimator and predicts class 1 for a decision above zero, also the same.
    This is the one-vs-rest LogisticRegression of scikit-learn 1.9, which dropped multi_class='ovr'.
    """
    if est.label_binarizer_.y_type_ not in ("binary", "multiclass"):
        raise MicroMLError("OneVsRestClassifier fitted on multilabel targets is not supported: its predict() "
                           "returns a label indicator matrix, not one class", fix="fit it on a single label column")
    inner = est.estimators_
    for e in inner:
        cls = type(e)
        if not isinstance(_lowered_head(e, lower), LinearClassifier):
            raise MicroMLError(f"OneVsRestClassifier over {cls.__name__} is not supported: only linear "
                               "classifiers stack into one weight table",
                               fix="wrap a linear classifier (LogisticRegression, LinearSVC, SGDClassifier, ...) "
                                   "or use the estimator directly")
    weights = np.vstack([_rows(e.coef_) for e in inner])
    intercept = np.concatenate([_intercepts(e.intercept_, 1) for e in inner])
    n_classes = len(est.classes_)
    if len(weights) != (1 if n_classes == 2 else n_classes):
        raise MicroMLError(f"OneVsRestClassifier has {len(weights)} weight vectors for {n_classes} classes "
                           "(this is a MicroML bug)", fix="report it with the model's yaml")
    proba = ""
    if all(type(e).__name__ in LOGISTIC for e in inner):
        proba = "logistic" if n_classes == 2 else "logistic_ovr"
    head = LinearClassifier(weights=weights, intercept=intercept, proba=proba)
    name = f"OneVsRestClassifier({type(inner[0]).__name__})"
    return Model(n_features=weights.shape[1], labels=tuple(est.classes_.tolist()), head=head,
                 estimator=describe(est), summary=_summary(name, weights), params=key_params(inner[0]))


def _lowered_head(est, lower):
    """The IR head of an inner estimator, or None when it has no lowering."""
    try:
        return lower(est).head
    except MicroMLError:
        return None


def lower_linear_regressor(est) -> Model:
    """Any LinearModel regressor: predict() is X @ coef_.T + intercept_, one row of coef_ per output."""
    weights = _rows(est.coef_)
    head = LinearRegressor(weights=weights, intercept=_intercepts(est.intercept_, len(weights)))
    return Model(n_features=weights.shape[1], head=head, estimator=describe(est),
                 summary=_summary(type(est).__name__, weights), params=key_params(est))


def _rows(coef) -> np.ndarray:
    """coef_ as (n_outputs, n_features) float64: 1-D for one output, dense even after sparsify()."""
    weights = dense(coef)
    return weights.reshape(1, -1) if weights.ndim == 1 else weights


def _intercepts(intercept, n_outputs: int) -> np.ndarray:
    """intercept_ as one value per output; fit_intercept=False leaves the scalar 0.0."""
    return np.broadcast_to(np.asarray(intercept, dtype=np.float64).reshape(-1), (n_outputs,)).copy()


def _summary(name: str, weights: np.ndarray) -> str:
    n = len(weights)
    return f"{name} {n} weight vector{'s' if n > 1 else ''} x {features(weights.shape[1])}"

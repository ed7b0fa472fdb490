"""Linear classifiers and regressors -> LinearClassifier / LinearRegressor; SVR -> KernelSvr (one-vs-rest: meta.py)."""

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

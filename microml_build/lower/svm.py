"""SVC and NuSVC -> KernelSvm (rbf, poly, sigmoid) or LinearOvo (linear kernel, support vectors summed away);
SVR and NuSVR -> KernelSvr, or LinearRegressor for the linear kernel."""

from __future__ import annotations

import numpy as np

from microml_build.ir import Model, pairs
from microml_build.ir.linear import LinearRegressor
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.lower.common import dense, describe, features, key_params, reject


def lower_svc(est) -> Model:
    kernel = _kernel(est)
    n_classes = len(est.classes_)
    if est.break_ties and est.decision_function_shape == "ovr" and n_classes > 2:
        reject(est, "break_ties", "predict() then breaks vote ties by confidence, which the C code does not do",
               "train with break_ties=False (the default)")
    sv = dense(est.support_vectors_)
    coef = dense(est.dual_coef_)
    intercept = np.asarray(est.intercept_, dtype=np.float64)
    n_support = tuple(int(n) for n in est.n_support_)
    gamma = float(est._gamma)
    name = type(est).__name__
    if kernel == "linear":
        weights = _pair_weights(sv, coef, n_support)
        head = LinearOvo(weights=weights, intercept=intercept, n_classes=n_classes)
        summary = f"{name}(linear) {len(weights)} weight vector{'s' if len(weights) > 1 else ''} x {features(sv.shape[1])}"
    else:
        head = KernelSvm(kernel=kernel, gamma=gamma, coef0=float(est.coef0), degree=int(est.degree),
                         support_vectors=sv, coef=coef, intercept=intercept, n_support=n_support)
        summary = f"{name}({kernel}) {len(sv)} SV x {features(sv.shape[1])}"
    given = est.get_params()
    params = {"kernel": kernel, **{k: given[k] for k in ("C", "nu") if k in given}}
    if kernel != "linear":
        params.update(_kernel_params(est, kernel, gamma))
    params["n_support"] = list(n_support)
    return Model(n_features=sv.shape[1], labels=tuple(est.classes_.tolist()), head=head,
                 estimator=describe(est), summary=summary, params=params, family=f"{name}({kernel})")


def lower_svr(est) -> Model:
    """SVR and NuSVR: one kernel value per support vector, or one weight vector for the linear kernel."""
    kernel = _kernel(est)
    name = type(est).__name__
    sv = dense(est.support_vectors_)
    coef = dense(est.dual_coef_).reshape(-1)
    intercept = float(np.asarray(est.intercept_, dtype=np.float64).reshape(-1)[0])
    n_features = int(est.n_features_in_)
    params = {"kernel": kernel, **key_params(est)}
    if kernel == "linear" or len(sv) == 0:
        # Sum the support vectors away in float64: w = dual_coef @ SV (scikit-learn's coef_), one dot product.
        # With no support vector at all every kernel predicts the intercept, which this also is.
        weights = (coef @ sv).reshape(1, -1) if len(sv) else np.zeros((1, n_features))
        head = LinearRegressor(weights=weights, intercept=np.array([intercept]))
        summary = f"{name}({kernel}) {len(sv)} SV summed into 1 weight vector x {features(n_features)}"
    else:
        gamma = float(est._gamma)
        head = KernelSvr(kernel=kernel, gamma=gamma, coef0=float(est.coef0), degree=int(est.degree),
                         support_vectors=sv, coef=coef, intercept=intercept)
        summary = f"{name}({kernel}) {len(sv)} SV x {features(n_features)}"
        params.update(_kernel_params(est, kernel, gamma))
    params["n_support"] = len(sv)
    return Model(n_features=n_features, head=head, estimator=describe(est), summary=summary, params=params,
                 family=f"{name}({kernel})")


def _kernel(est) -> str:
    """The estimator's kernel, one of those the C has."""
    kernel = est.kernel
    if not isinstance(kernel, str) or kernel not in ("linear", "rbf", "poly", "sigmoid"):
        reject(est, "kernel", "only the built-in kernels have a C form",
               "use kernel='linear', 'rbf', 'poly' or 'sigmoid'")
    return kernel


def _kernel_params(est, kernel: str, gamma: float) -> dict:
    """The kernel's parameters as the header's Parameters line shows them."""
    params = {"gamma": gamma}
    if kernel in ("poly", "sigmoid"):
        params["coef0"] = float(est.coef0)
    if kernel == "poly":
        params["degree"] = int(est.degree)
    return params


def _pair_weights(sv: np.ndarray, coef: np.ndarray, n_support: tuple[int, ...]) -> np.ndarray:
    """w(i, j) = sum of coef * support vector over the pair's SVs, in float64 before any rounding."""
    starts = np.concatenate([[0], np.cumsum(n_support)])
    rows = []
    for i, j in pairs(len(n_support)):
        si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
        rows.append(coef[j - 1, si] @ sv[si] + coef[i, sj] @ sv[sj])
    return np.array(rows)

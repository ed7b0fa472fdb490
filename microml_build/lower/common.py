"""Helpers every lowering shares."""

from __future__ import annotations

import numpy as np

from microml_build.errors import MicroMLError


def dense(a) -> np.ndarray:
    """A float64 array, also from a scipy sparse matrix (models fitted on sparse data)."""
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def describe(est) -> str:
    """The estimator with the parameters that differ from its defaults, as scikit-learn prints it."""
    from sklearn.utils._pprint import _changed_params

    changed = _changed_params(est)
    return f"{type(est).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in sorted(changed.items())) + ")"


def features(n: int) -> str:
    """`1 feature`, `30 features`: for the one-line model summaries."""
    return f"{n} feature{'s' if n != 1 else ''}"


def reject(estimator, param: str, why: str, fix: str) -> None:
    """Refuse a hyperparameter that changes predict() in a way the C code does not reproduce."""
    raise MicroMLError(f"{type(estimator).__name__}({param}={getattr(estimator, param, '?')!r}) is not supported: {why}",
                       fix=fix)


# Hyperparameters worth showing in a header's Parameters line, when the estimator has them.
KEY_PARAMS = ("loss", "penalty", "C", "alpha", "l1_ratio", "epsilon", "nu", "fit_intercept")


def key_params(est) -> dict:
    """The estimator's `KEY_PARAMS` that are set."""
    given = est.get_params()
    return {k: given[k] for k in KEY_PARAMS if k in given and given[k] is not None and given[k] != "deprecated"}

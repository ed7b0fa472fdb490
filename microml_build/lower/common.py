"""Helpers every lowering shares."""

from __future__ import annotations

import numpy as np


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

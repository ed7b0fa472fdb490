"""The registry: estimator class -> lowering into the IR, and the one "unsupported" error."""

from __future__ import annotations

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.lower import svm

# class name -> (module that defines it, lowering function). Matched on the exact class, not
# subclasses: a subclass may change predict() in ways a lowering cannot see.
LOWERINGS = {
    ("sklearn.svm._classes", "SVC"): svm.lower_svc,
    ("sklearn.svm._classes", "NuSVC"): svm.lower_svc,
}


def supported_estimators() -> list[str]:
    return sorted(name for _, name in LOWERINGS)


def lower(estimator) -> Model:
    """The IR for a fitted estimator, or a MicroMLError listing what is supported."""
    cls = type(estimator)
    lowering = LOWERINGS.get((cls.__module__, cls.__name__))
    if lowering is None:
        raise MicroMLError(f"{cls.__name__} is not supported yet",
                           fix="supported estimators: " + ", ".join(supported_estimators()))
    return lowering(estimator)


def reject(estimator, param: str, why: str, fix: str) -> None:
    """Refuse a hyperparameter that changes predict() in a way the C code does not reproduce."""
    raise MicroMLError(f"{type(estimator).__name__}({param}={getattr(estimator, param, '?')!r}) is not supported: {why}",
                       fix=fix)

"""Pipeline -> the final estimator's head with the preprocessing folded in, and transforms for what cannot fold.

Each step becomes IR transforms (`ir/preprocessing.py`): scalers an Affine (plus a Clip
with clip=True), Normalizer a Normalize, PCA a Project, any scikit-learn feature selector
a Select. The folding pass (`passes/fold.py`) then merges them and moves what it can into the
final estimator's head; what is left is computed by `<name>_transform` in C before the head.
"""

from __future__ import annotations

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.features import WindowStage
from microml_build.ir.preprocessing import Clip, Normalize, Project, Select
from microml_build.lower.features import check_position, prune, window_stage
from microml_build.passes.fold import affine, fold
from microml_build.lower.common import describe

# ---------------------------------------------------------------------------------------------
# Steps -> transforms


def _standard_scaler(est, n_in: int) -> list:
    offset = est.mean_ if est.with_mean else np.zeros(n_in)
    scale = 1.0 / est.scale_ if est.with_std else np.ones(n_in)
    return affine(offset, scale)


def _min_max_scaler(est, n_in: int) -> list:
    # scikit-learn computes x * scale_ + min_, the same as (x - (-min_ / scale_)) * scale_.
    steps = affine(-est.min_ / est.scale_, est.scale_)
    low, high = est.feature_range
    return steps + [Clip(float(low), float(high))] if est.clip else steps


def _max_abs_scaler(est, n_in: int) -> list:
    steps = affine(np.zeros(n_in), 1.0 / est.scale_)
    return steps + [Clip(-1.0, 1.0)] if est.clip else steps


def _robust_scaler(est, n_in: int) -> list:
    offset = est.center_ if est.with_centering else np.zeros(n_in)
    scale = 1.0 / est.scale_ if est.with_scaling else np.ones(n_in)
    return affine(offset, scale)


def _normalizer(est, n_in: int) -> list:
    return [Normalize(est.norm)]


def _pca(est, n_in: int) -> list:
    components = np.asarray(est.components_, dtype=np.float64)
    if est.whiten:
        # PCA.transform divides each component's output by sqrt(explained_variance_), clipped at eps.
        scale = np.sqrt(np.asarray(est.explained_variance_, dtype=np.float64))
        components = components / np.maximum(scale, np.finfo(np.float64).eps)[:, None]
    return [Project(np.asarray(est.mean_, dtype=np.float64), components, np.zeros(len(components)))]


def _selector(est, n_in: int) -> list:
    indices = tuple(int(i) for i in np.flatnonzero(est.get_support()))
    if not indices:
        raise MicroMLError(f"{type(est).__name__} selects no feature, so the model would see no input",
                           fix="relax the selector (a larger k or percentile, a lower threshold)")
    return [] if indices == tuple(range(n_in)) else [Select(indices)]


def _pipeline(est, n_in: int) -> list:
    """A Pipeline of transformers used as one step."""
    transforms = []
    for name, step in est.steps:
        transforms += _step(name, step, _width(transforms, n_in))
    return transforms


_PRE = "sklearn.preprocessing._data"

# class -> lowering of a Pipeline step into transforms; every sklearn.feature_selection selector is a Select too.
STEPS = {
    (_PRE, "StandardScaler"): _standard_scaler,
    (_PRE, "MinMaxScaler"): _min_max_scaler,
    (_PRE, "MaxAbsScaler"): _max_abs_scaler,
    (_PRE, "RobustScaler"): _robust_scaler,
    (_PRE, "Normalizer"): _normalizer,
    ("sklearn.decomposition._pca", "PCA"): _pca,
    ("sklearn.pipeline", "Pipeline"): _pipeline,
    ("microml_build.features", "WindowFeatures"): window_stage,
}


def supported_steps() -> list[str]:
    return sorted(name for _, name in STEPS) + ["any sklearn.feature_selection selector", "'passthrough'"]


def _step(name: str, step, n_in: int) -> list:
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return []
    cls = type(step)
    lowering = STEPS.get((cls.__module__, cls.__name__))
    if lowering is None and _is_sklearn_selector(step):
        lowering = _selector
    if lowering is None:
        raise MicroMLError(f"Pipeline step '{name}' ({cls.__name__}) is not supported",
                           fix="supported steps before the final estimator: " + ", ".join(supported_steps()))
    return lowering(step, n_in)


def _is_sklearn_selector(step) -> bool:
    from sklearn.feature_selection._base import SelectorMixin

    return isinstance(step, SelectorMixin) and type(step).__module__.startswith("sklearn.feature_selection.")


def _width(transforms, n_in: int) -> int:
    for t in transforms:
        n_in = t.width(n_in)
    return n_in


# ---------------------------------------------------------------------------------------------
# The Pipeline


def lower_pipeline(pipe, lower) -> Model:
    """The final estimator's model (by `lower`, the registry) with the steps before it folded in."""
    final_name, final = pipe.steps[-1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise MicroMLError("the Pipeline ends in 'passthrough', so it has no predict()",
                           fix="end the Pipeline with a classifier or regressor")
    n_features = getattr(pipe, "n_features_in_", None)
    if n_features is None:   # the first step does not record its input width: not one of ours
        name, step = pipe.steps[0]
        raise MicroMLError(f"Pipeline step '{name}' ({type(step).__name__}) is not supported",
                           fix="supported steps before the final estimator: " + ", ".join(supported_steps()))
    n_features = int(n_features)
    check_position(pipe.steps)
    transforms = []
    for name, step in pipe.steps[:-1]:
        transforms += _step(name, step, _width(transforms, n_features))
    core = lower(final)
    if _width(transforms, n_features) != core.n_features:
        raise MicroMLError(f"the Pipeline's steps produce {_width(transforms, n_features)} features but "
                           f"'{final_name}' takes {core.n_features} (this is a MicroML bug)")
    transforms += list(core.transforms)
    innermost = final
    while type(innermost).__name__ == "Pipeline":
        innermost = innermost.steps[-1][1]
    left, head = fold(transforms, core.head, innermost)
    if len(left) == 1 and isinstance(left[0], WindowStage):    # the head reads only some window features
        stage, head = prune(left[0], head)
        left = [stage]

    names = [type(s).__name__ for _, s in pipe.steps if not (s is None or isinstance(s, str))]
    what = " -> ".join(names[:-1])
    if not transforms:
        done = "no preprocessing"
    elif not left:
        done = f"{what} folded into the model"
    elif isinstance(left[0], WindowStage):
        done = (f"{left[0].width(n_features)} of {left[0].n_all} window features computed on the chip"
                + (f", then {' + '.join(type(t).__name__ for t in left[1:])} in C" if left[1:] else
                   f", {' -> '.join(names[1:-1])} folded into the model" if len(names) > 2 else ""))
    else:
        done = f"{what} as {' + '.join(type(t).__name__ for t in left)} in C before the model"
    steps = ", ".join(describe(s) if not isinstance(s, str) and s is not None else repr(s) for _, s in pipe.steps)
    return Model(n_features=n_features, head=head, labels=core.labels, transforms=tuple(left),
                 estimator=f"Pipeline({steps})", summary=f"{what} -> {core.summary}; {done}" if what else core.summary,
                 params={"preprocessing": done, **core.params}, family=core.family)

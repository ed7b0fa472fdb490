"""Pipeline -> the final estimator's head with the preprocessing folded in, and transforms for what cannot fold.

Each step becomes IR transforms (`ir/preprocessing.py`): scalers an Affine (plus a Clip
with clip=True), Normalizer a Normalize, PCA a Project, any scikit-learn feature selector
a Select. The folding pass (`passes/fold.py`) then merges them and moves what it can into the
final estimator's head; what is left is computed by `<name>_impl_transform` in C before the head.
"""

from __future__ import annotations

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.features import WindowStage
from microml_build.ir.preprocessing import Affine, Clip, Normalize, Polynomial, Project, Select
from microml_build.lower.common import describe, features
from microml_build.lower.features import check_position, prune, window_stage
from microml_build.passes.fold import affine, fold, simplify

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


def _polynomial(est, n_in: int) -> list:
    powers = np.asarray(est.powers_, dtype=np.int64)
    if powers.shape == (n_in, n_in) and (powers == np.eye(n_in, dtype=np.int64)).all():
        return []                                   # degree 1 without bias: the inputs as they are
    return [Polynomial(powers)]


def _column_transformer(est, n_in: int) -> list:
    """ColumnTransformer: each block's transforms on its columns, outputs side by side, as one input map.

    Blocks of scalers, feature selections and passthrough become one Select then one Affine (which fold
    into every head a scaler folds into); a block with a PCA makes the whole map one Project (which folds
    into linear heads, else runs in C). Other blocks (a Normalizer, PolynomialFeatures) are refused: they
    act on their columns only, which one map over all the inputs cannot say.
    """
    blocks = []                       # (input columns, Affine or Project over them or None)
    for name, step, columns in est.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        cols = _block_columns(columns, n_in, name)
        if not cols:
            continue
        identity = (isinstance(step, str) and step == "passthrough") or (
            type(step).__name__ == "FunctionTransformer" and step.func is None)
        try:
            inner = [] if identity else simplify(_step(name, step, len(cols)))
        except MicroMLError as exc:
            raise MicroMLError(f"ColumnTransformer block '{name}' ({type(step).__name__}) is not supported: "
                               f"{exc.message}", fix=exc.fix) from None
        if inner and isinstance(inner[0], Select):
            cols = [cols[i] for i in inner.pop(0).indices]
        if len(inner) > 1 or (inner and not isinstance(inner[0], (Affine, Project))):
            kinds = " + ".join(type(t).__name__ for t in inner)
            raise MicroMLError(f"ColumnTransformer block '{name}' ({type(step).__name__}) is not supported: it "
                               f"makes a {kinds} of its columns, which does not combine with the other blocks into "
                               "one input map", fix="apply it to every column in the Pipeline instead (outside the "
                               "ColumnTransformer), or leave it out; scalers, PCA and feature selection work per block")
        blocks.append((cols, inner[0] if inner else None))
    if not any(isinstance(t, Project) for _, t in blocks):
        index = [c for cols, _ in blocks for c in cols]
        offset = np.concatenate([t.offset if t is not None else np.zeros(len(c)) for c, t in blocks])
        scale = np.concatenate([t.scale if t is not None else np.ones(len(c)) for c, t in blocks])
        select = [] if index == list(range(n_in)) else [Select(tuple(index))]
        return select + affine(offset, scale)
    rows, bias = [], []
    for cols, t in blocks:                      # z = x C^T + bias, block by block
        if isinstance(t, Project):
            part = np.zeros((len(t.components), n_in))
            part[:, cols] = t.components
            rows.append(part)
            bias.append(t.bias - t.components @ t.mean)
            continue
        offset = t.offset if t is not None else np.zeros(len(cols))
        scale = t.scale if t is not None else np.ones(len(cols))
        part = np.zeros((len(cols), n_in))
        part[np.arange(len(cols)), cols] = scale
        rows.append(part)
        bias.append(-offset * scale)
    components = np.vstack(rows)
    return [Project(np.zeros(n_in), components, np.concatenate(bias))]


def _block_columns(columns, n_in: int, name: str) -> list[int]:
    """A block's columns as indices (ints, a slice or a boolean mask; names need a DataFrame, which MicroML
    does not pass)."""
    try:
        picked = np.arange(n_in)[columns]
    except (IndexError, TypeError, ValueError):
        raise MicroMLError(f"ColumnTransformer block '{name}' selects its columns by {columns!r}, which MicroML "
                           "cannot resolve on the feature array", fix="give column indices (0, 1, ...), a slice or "
                           "a boolean mask") from None
    return [int(i) for i in np.atleast_1d(picked)]


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
    ("sklearn.preprocessing._polynomial", "PolynomialFeatures"): _polynomial,
    ("sklearn.compose._column_transformer", "ColumnTransformer"): _column_transformer,
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
    summary = core.summary
    if core.n_features != n_features:     # the final estimator sees fewer (or more) values than the C takes
        summary = summary.replace(f"x {features(core.n_features)}",
                                  f"x {core.n_features} values from {features(n_features)}")
    return Model(n_features=n_features, head=head, labels=core.labels, transforms=tuple(left),
                 estimator=f"Pipeline({steps})", summary=f"{what} -> {summary}; {done}" if what else summary,
                 params={"preprocessing": done, **core.params}, family=core.family)

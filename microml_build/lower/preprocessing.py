"""Pipeline -> the final estimator's head with the preprocessing folded in, and transforms for what cannot fold.

Each step becomes IR transforms (`ir/preprocessing.py`): scalers an Affine (plus a Clip
with clip=True), Normalizer a Normalize, PCA a Project, any scikit-learn feature selector
a Select. They are then simplified in float64 (adjacent transforms merged, selections
moved to the front) and folded, last first, into the head through `FOLDS`:
  - a selection becomes an index remap: the caller passes every feature, the head reads
    only the selected ones (SVMs, SVR, linear models, trees; no copy);
  - a scaler or a PCA before a linear map (linear models, SVC(linear), multinomial naive
    Bayes, an MLP's first layer) moves into its weights and intercept;
  - a scaler before an RBF kernel moves into the support vectors, with per-feature
    weights on the squared distance; before GaussianNB into its means and variances;
  - a scaler before trees moves into the thresholds, exactly (`_affine_into_trees`).
What is left (a Normalizer, a PCA before a kernel or trees, a scaler before a poly or
sigmoid kernel, a selection before a head without an index) is computed by
`<name>_transform` in C before the head.

Folding is exact in float64. In float32 a folded linear head sums w_j * s_j * x_j over
the raw features, where the unfolded one sums over centred ones: the terms can be larger
than the result, and the head's `decisions` scales, computed on the raw features, say so
honestly. The extra rounding is of the same order as the rounding of the raw inputs to
float32 that any firmware has anyway, so nothing is lost that the sensor values had.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.linear import KernelSvr, LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.preprocessing import Affine, Clip, Normalize, Polynomial, Project, Select
from microml_build.ir.svm import KernelSvm, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor

# ---------------------------------------------------------------------------------------------
# Steps -> transforms


def _standard_scaler(est, n_in: int) -> list:
    offset = est.mean_ if est.with_mean else np.zeros(n_in)
    scale = 1.0 / est.scale_ if est.with_std else np.ones(n_in)
    return _affine(offset, scale)


def _min_max_scaler(est, n_in: int) -> list:
    # scikit-learn computes x * scale_ + min_, the same as (x - (-min_ / scale_)) * scale_.
    steps = _affine(-est.min_ / est.scale_, est.scale_)
    low, high = est.feature_range
    return steps + [Clip(float(low), float(high))] if est.clip else steps


def _max_abs_scaler(est, n_in: int) -> list:
    steps = _affine(np.zeros(n_in), 1.0 / est.scale_)
    return steps + [Clip(-1.0, 1.0)] if est.clip else steps


def _robust_scaler(est, n_in: int) -> list:
    offset = est.center_ if est.with_centering else np.zeros(n_in)
    scale = 1.0 / est.scale_ if est.with_scaling else np.ones(n_in)
    return _affine(offset, scale)


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
        return select + _affine(offset, scale)
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


def _affine(offset, scale) -> list:
    offset, scale = np.asarray(offset, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    return [] if not offset.any() and (scale == 1).all() else [Affine(offset, scale)]


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


def lower_pipeline(pipe) -> Model:
    from microml_build.lower import lower
    from microml_build.lower.common import describe, features

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

    names = [type(s).__name__ for _, s in pipe.steps if not (s is None or isinstance(s, str))]
    what = " -> ".join(names[:-1])
    if not transforms:
        done = "no preprocessing"
    elif not left:
        done = f"{what} folded into the model"
    else:
        done = f"{what} as {' + '.join(type(t).__name__ for t in left)} in C before the model"
    steps = ", ".join(describe(s) if not isinstance(s, str) and s is not None else repr(s) for _, s in pipe.steps)
    summary = core.summary
    if core.n_features != n_features:     # the final estimator sees fewer (or more) values than the C takes
        summary = summary.replace(f"x {features(core.n_features)}",
                                  f"x {core.n_features} values from {features(n_features)}")
    return Model(n_features=n_features, head=head, labels=core.labels, transforms=tuple(left),
                 estimator=f"Pipeline({steps})", summary=f"{what} -> {summary}; {done}" if what else summary,
                 params={"preprocessing": done, **core.params})


# ---------------------------------------------------------------------------------------------
# Simplifying the transforms


def simplify(transforms: list) -> list:
    """Merge neighbours and move selections to the front until nothing changes; exact in float64."""
    transforms = list(transforms)
    changed = True
    while changed:
        changed = False
        for i in range(len(transforms) - 1):
            merged = _merge(transforms[i], transforms[i + 1])
            if merged is not None:
                transforms[i:i + 2] = merged
                changed = True
                break
    return transforms


def _merge(a, b) -> list | None:
    """`a` then `b` as fewer transforms, or with the selection first; None when they do not combine."""
    if isinstance(b, Select):
        if isinstance(a, Select):
            return [Select(tuple(a.indices[i] for i in b.indices))]
        if isinstance(a, Affine):
            index = list(b.indices)
            return [b, *_affine(a.offset[index], a.scale[index])]
        if isinstance(a, Clip):
            return [b, a]
        if isinstance(a, Project):
            index = list(b.indices)
            return [Project(a.mean, a.components[index], a.bias[index])]
        if isinstance(a, Polynomial):
            return [Polynomial(a.powers[list(b.indices)])]
        return None
    if isinstance(a, Affine) and isinstance(b, Affine):
        # ((x - o1) s1 - o2) s2 = (x - (o1 + o2 / s1)) s1 s2
        return _affine(a.offset + b.offset / a.scale, a.scale * b.scale)
    if isinstance(a, Affine) and isinstance(b, Project):
        # ((x - o) s - m) C^T = (x - (o + m / s)) (C diag(s))^T
        return [Project(a.offset + b.mean / a.scale, b.components * a.scale, b.bias)]
    if isinstance(a, Project) and isinstance(b, Affine):
        # ((x - m) C^T + c - o) s = (x - m) (diag(s) C)^T + (c - o) s
        return [Project(a.mean, a.components * b.scale[:, None], (a.bias - b.offset) * b.scale)]
    if isinstance(a, Project) and isinstance(b, Project):
        # ((x - m1) C1^T + c1 - m2) C2^T + c2 = (x - m1) (C2 C1)^T + (c1 - m2) C2^T + c2
        return [Project(a.mean, b.components @ a.components, (a.bias - b.mean) @ b.components.T + b.bias)]
    return None


# ---------------------------------------------------------------------------------------------
# Folding into the head


def fold(transforms: list, head, final) -> tuple[list, object]:
    """Fold the simplified transforms into the head, last first; returns (transforms left, head).

    `final` is the Pipeline's final scikit-learn estimator, for folds whose exactness depends on it.
    """
    transforms = simplify(transforms)
    while transforms:
        folder = FOLDS.get((type(transforms[-1]), type(head)))
        folded = folder(head, transforms[-1], final) if folder is not None else None
        if folded is None:
            break
        head = folded
        transforms.pop()
    return transforms, head


def _reads(head, n: int) -> list[int]:
    """The inputs a head reads, in order: all n, or its feature_index."""
    index = getattr(head, "feature_index", None)
    return list(range(n)) if index is None else list(index)


def _affine_into_weights(head, t: Affine, final=None):
    """<w, (x - o) s> + b = <w s, x> + (b - <w s, o>): a scaler vanishes into the head's first linear map."""
    get, put = LINEAR_INPUT[type(head)]
    if get(head) is None:
        return None
    W, b = get(head)
    used = _reads(head, len(t.offset))
    weights = W * t.scale[used]
    bias = b - weights @ t.offset[used]
    return _fits(put(head, weights, bias), weights, bias)


def _project_into_weights(head, t: Project, final=None):
    """<w, (x - m) C^T + c> + b = <w C, x> + (b + <w, c> - <w C, m>): a PCA vanishes into the first linear map."""
    get, put = LINEAR_INPUT[type(head)]
    if get(head) is None:
        return None
    W, b = get(head)
    used = _reads(head, len(t.components))
    components = t.components[used]
    weights = W @ components
    bias = b + W @ t.bias[used] - weights @ t.mean
    folded = put(head, weights, bias)
    if getattr(head, "feature_index", None) is not None:   # the weights now cover every input of the projection
        folded = replace(folded, feature_index=None)
    return _fits(folded, weights, bias)


# Heads whose first step is x @ W.T + b: head class -> (get (W, b) or None when it cannot fold, put back).
LINEAR_INPUT = {
    **{cls: (lambda h: (h.weights, h.intercept), lambda h, W, b: replace(h, weights=W, intercept=b))
       for cls in (LinearOvo, LinearClassifier, LinearRegressor)},
    # Binarized inputs (BernoulliNB with binarize) are not linear in x.
    DiscreteNb: (lambda h: (h.weights, h.offset) if h.binarize is None else None,
                 lambda h, W, b: replace(h, weights=W, offset=b)),
    Mlp: (lambda h: (h.weights[0], h.biases[0]),
          lambda h, W, b: replace(h, weights=(W, *h.weights[1:]), biases=(b, *h.biases[1:]))),
}


def _affine_into_gaussian_nb(head, t: Affine, final=None):
    """((x - o) s - theta)^2 / var = (x - (o + theta / s))^2 / (var / s^2): means and variances in raw units.

    The log-normaliser -0.5 sum log(2 pi var) then grows by sum log s for every class; the log prior
    gives it back, so the joint log-likelihoods stay scikit-learn's.
    """
    theta = t.offset + head.theta / t.scale
    var = head.var / (t.scale * t.scale)
    log_prior = head.log_prior - np.log(t.scale).sum()
    return _fits(replace(head, theta=theta, var=var, log_prior=log_prior), theta, var, log_prior)


def _affine_into_rbf(head, t: Affine, final=None):
    """|(x - o) s - v|^2 = sum_j s_j^2 (x_j - (o_j + v_j / s_j))^2: the scaler moves into the support vectors.

    Only the RBF kernel depends on x through a distance; poly and sigmoid take <x, v> and
    would need an intercept per support vector, so they keep the transform.
    """
    if head.kernel != "rbf" or not _has_field(head, "feature_weights"):
        return None
    used = _reads(head, len(t.offset))
    offset, scale = t.offset[used], t.scale[used]
    vectors = offset + head.support_vectors / scale
    weights = scale * scale if head.feature_weights is None else head.feature_weights * scale * scale
    return _fits(replace(head, support_vectors=vectors, feature_weights=None if (weights == 1).all() else weights),
                 vectors, weights)


def _select_into_index(head, t: Select, final=None):
    """The head reads x[indices[j]] for its input j: selection without a copy."""
    if not _has_field(head, "feature_index"):
        return None
    index = t.indices if head.feature_index is None else tuple(t.indices[j] for j in head.feature_index)
    return replace(head, feature_index=index)


def _affine_into_trees(head, t: Affine, final):
    """A split `(x - o) * s <= threshold` becomes `x <= x*`, x* the largest float32 that still goes left.

    (x - o) * s increases with x (s > 0), so the float32 inputs that go left are exactly those up to
    some x*; a binary search over the float32 values finds it, exactly, for every split at once.
    sklearn.tree, the forests and GradientBoosting round the scaled value to float32 before comparing
    (their predict() casts X), HistGradientBoosting compares the float64 value.
    """
    trees = head.trees
    split = np.isfinite(trees.threshold)          # +inf: HistGradientBoosting's "numbers left, NaN right"
    offset, scale = t.offset[trees.feature[split]], t.scale[trees.feature[split]]
    cast = not type(final).__name__.startswith("HistGradientBoosting")
    new = trees.threshold.copy()
    new[split] = _last_left(lambda x: (x - offset) * scale, trees.threshold[split], cast)
    return replace(head, trees=replace(trees, threshold=new))


def _last_left(scaled, threshold: np.ndarray, cast: bool) -> np.ndarray:
    """Per split, the largest float32 x with scaled(x) <= threshold (rounded to float32 first if cast)."""
    def goes_left(key):
        x = _from_key(key)
        with np.errstate(over="ignore", invalid="ignore"):
            z = scaled(x)
            z = z.astype(np.float32).astype(np.float64) if cast else z
        return z <= threshold

    top = np.float32(np.finfo(np.float32).max)
    lo = np.full(len(threshold), _key(-top))
    hi = np.full(len(threshold), _key(top))
    none_left = ~goes_left(lo)
    all_left = goes_left(hi)
    while True:                                   # where neither holds: goes_left(lo), not goes_left(hi)
        open_ = hi - lo > 1
        if not open_.any():
            break
        mid = lo + (hi - lo) // 2
        left = goes_left(mid)
        lo = np.where(open_ & left, mid, lo)
        hi = np.where(open_ & ~left, mid, hi)
    result = _from_key(lo)
    result[none_left] = -np.inf
    result[all_left] = float(top)
    return result


def _key(x) -> np.ndarray:
    """Float32 values as int64 keys in the same order (negative floats have the sign bit set)."""
    bits = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF) - 1)


def _from_key(key: np.ndarray) -> np.ndarray:
    bits = np.where(key >= 0, key, (-(key + 1)) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32).astype(np.float64)


def _select_into_trees(head, t: Select, final=None):
    """Each split reads the selected column directly: `feature` now counts the caller's features."""
    trees = head.trees
    return replace(head, trees=replace(trees, feature=np.asarray(t.indices, dtype=np.int64)[trees.feature]))


def _has_field(head, name: str) -> bool:
    return name in {f.name for f in fields(head)}


def _fits(head, *arrays):
    """The folded head, or None when a folded value would not survive float32 (overflow or denormal)."""
    for values in arrays:
        magnitude = np.abs(np.asarray(values, dtype=np.float64))
        if not np.isfinite(magnitude).all() or magnitude.max(initial=0) > 1e37 or \
                (magnitude[magnitude > 0] < 1e-37).any():
            return None
    return head


# (transform class, head class) -> fold(head, transform, final estimator) returning the head that computes
# both, or None when it cannot. A head family that can absorb a transform registers its folds here.
FOLDS = {
    (Affine, LinearOvo): _affine_into_weights,
    (Project, LinearOvo): _project_into_weights,
    (Select, LinearOvo): _select_into_index,
    (Affine, KernelSvm): _affine_into_rbf,
    (Select, KernelSvm): _select_into_index,
    (Affine, KernelSvr): _affine_into_rbf,
    (Select, KernelSvr): _select_into_index,
    (Affine, LinearClassifier): _affine_into_weights,
    (Project, LinearClassifier): _project_into_weights,
    (Affine, LinearRegressor): _affine_into_weights,
    (Project, LinearRegressor): _project_into_weights,
    (Select, LinearClassifier): _select_into_index,
    (Select, LinearRegressor): _select_into_index,
    (Affine, DiscreteNb): _affine_into_weights,
    (Project, DiscreteNb): _project_into_weights,
    (Affine, Mlp): _affine_into_weights,
    (Project, Mlp): _project_into_weights,
    (Affine, GaussianNb): _affine_into_gaussian_nb,
    **{(Affine, cls): _affine_into_trees for cls in (ForestClassifier, ForestRegressor, BoostedClassifier,
                                                    BoostedRegressor)},
    **{(Select, cls): _select_into_trees for cls in (ForestClassifier, ForestRegressor, BoostedClassifier,
                                                    BoostedRegressor)},
}

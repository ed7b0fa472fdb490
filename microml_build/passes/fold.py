"""The folding pass: a Pipeline's transforms merged with each other and moved into the head's own numbers.

Transforms are first simplified in float64 (adjacent ones merged, selections moved to the front),
then folded, last first, into the head through `FOLDS`:
  - a selection becomes an index remap: the caller passes every feature, the head reads only the
    selected ones (SVMs, SVR, linear models, trees; no copy);
  - a scaler or a PCA before a linear map (linear models, SVC(linear), multinomial naive Bayes, an
    MLP's first layer) moves into its weights and intercept;
  - a scaler before an RBF kernel moves into the support vectors, with per-feature weights on the
    squared distance (integer C also folds it into a poly or sigmoid kernel's dot products, with a
    constant per support vector); before GaussianNB into its means and variances;
  - a scaler before trees moves into the thresholds.
What is left stays in `Model.transforms` and is computed in C before the head.

Two modes. For float32 C (`float32=True`, the lowering's), a fold happens only where float32 holds
the folded numbers (`_fits`), and a scaler moves into tree thresholds exactly for every float32 input
(a search over float32 values, `_affine_into_trees`). For integer C (`float32=False`, the quantization
pass's), every fold is done in float64, since the integer tables are rounded anyway.

Folding is exact in float64. In float32 a folded linear head sums w_j * s_j * x_j over the raw
features, where the unfolded one sums over centred ones: the terms can be larger than the result,
and the head's `decisions` scales, computed on the raw features, say so honestly. The extra rounding
is of the same order as the rounding of the raw inputs to float32 that any firmware has anyway.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.features import WindowStage
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.preprocessing import Affine, Clip, Polynomial, Project, Select
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor


def affine(offset, scale) -> list:
    offset, scale = np.asarray(offset, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    return [] if not offset.any() and (scale == 1).all() else [Affine(offset, scale)]


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
    if isinstance(a, WindowStage) and isinstance(b, Select):      # the stage computes only the selected features
        return [a.select(b.indices)]
    if isinstance(b, Select):
        if isinstance(a, Select):
            return [Select(tuple(a.indices[i] for i in b.indices))]
        if isinstance(a, Affine):
            index = list(b.indices)
            return [b, *affine(a.offset[index], a.scale[index])]
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
        return affine(a.offset + b.offset / a.scale, a.scale * b.scale)
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


def fold(transforms: list, head, final=None, float32: bool = True) -> tuple[list, object]:
    """Fold the simplified transforms into the head, last first; returns (transforms left, head).

    `final` is the Pipeline's final scikit-learn estimator, for folds whose exactness depends on it;
    `float32` False folds for integer C (see the module's docstring).
    """
    transforms = simplify(transforms)
    while transforms:
        folder = FOLDS.get((type(transforms[-1]), type(head)))
        folded = folder(head, transforms[-1], final, float32) if folder is not None else None
        if folded is None:
            break
        head = folded
        transforms.pop()
    return transforms, head


def _reads(head, n: int) -> list[int]:
    """The inputs a head reads, in order: all n, or its feature_index."""
    index = getattr(head, "feature_index", None)
    return list(range(n)) if index is None else list(index)


def _affine_into_weights(head, t: Affine, final=None, float32: bool = True):
    """<w, (x - o) s> + b = <w s, x> + (b - <w s, o>): a scaler vanishes into the head's first linear map."""
    get, put = LINEAR_INPUT[type(head)]
    if get(head) is None:
        return None
    W, b = get(head)
    used = _reads(head, len(t.offset))
    weights = W * t.scale[used]
    bias = b - weights @ t.offset[used]
    return _fits(float32, put(head, weights, bias), weights, bias)


def _project_into_weights(head, t: Project, final=None, float32: bool = True):
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
    return _fits(float32, folded, weights, bias)


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


def _affine_into_gaussian_nb(head, t: Affine, final=None, float32: bool = True):
    """((x - o) s - theta)^2 / var = (x - (o + theta / s))^2 / (var / s^2): means and variances in raw units.

    The log-normaliser -0.5 sum log(2 pi var) then grows by sum log s for every class; the log prior
    gives it back, so the joint log-likelihoods stay scikit-learn's.
    """
    theta = t.offset + head.theta / t.scale
    var = head.var / (t.scale * t.scale)
    log_prior = head.log_prior - np.log(t.scale).sum()
    return _fits(float32, replace(head, theta=theta, var=var, log_prior=log_prior), theta, var, log_prior)


def _affine_into_rbf(head, t: Affine, final=None, float32: bool = True):
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
    return _fits(float32, replace(head, support_vectors=vectors, feature_weights=None if (weights == 1).all() else weights),
                 vectors, weights)


def _affine_into_kernel(head, t: Affine, final=None, float32: bool = True):
    """RBF: `_affine_into_rbf`. poly, sigmoid, for integer C only: <(x - o) s, v> = <x, s v> - <o, s v>, the scale moves
    into the support vectors and the offset into a constant per support vector (`Kernel.dot_offset`)."""
    if head.kernel == "rbf":
        return _affine_into_rbf(head, t, final, float32)
    if float32:
        return None
    used = _reads(head, len(t.offset))
    vectors = head.support_vectors * t.scale[used]
    offset = -(vectors @ t.offset[used]) + (0.0 if head.dot_offset is None else head.dot_offset)
    return replace(head, support_vectors=vectors, dot_offset=offset)


def _select_into_index(head, t: Select, final=None, float32: bool = True):
    """The head reads x[indices[j]] for its input j: selection without a copy."""
    if not _has_field(head, "feature_index"):
        return None
    index = t.indices if head.feature_index is None else tuple(t.indices[j] for j in head.feature_index)
    return replace(head, feature_index=index)


def _affine_into_trees(head, t: Affine, final, float32: bool = True):
    """A split `(x - o) * s <= threshold` becomes `x <= x*`, x* the largest float32 that still goes left.

    (x - o) * s increases with x (s > 0), so the float32 inputs that go left are exactly those up to
    some x*; a binary search over the float32 values finds it, exactly, for every split at once.
    sklearn.tree, the forests and GradientBoosting round the scaled value to float32 before comparing
    (their predict() casts X), HistGradientBoosting compares the float64 value.
    """
    trees = head.trees
    if not float32:     # integer C: (x - o) s <= t is x <= t / s + o (s > 0); the thresholds are rounded anyway
        f = trees.feature
        return replace(head, trees=replace(trees, threshold=trees.threshold / t.scale[f] + t.offset[f]))
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


def _select_into_trees(head, t: Select, final=None, float32: bool = True):
    """Each split reads the selected column directly: `feature` now counts the caller's features."""
    trees = head.trees
    return replace(head, trees=replace(trees, feature=np.asarray(t.indices, dtype=np.int64)[trees.feature]))


def _has_field(head, name: str) -> bool:
    return name in {f.name for f in fields(head)}


def _fits(float32: bool, head, *arrays):
    """The folded head, or None when a folded value would not survive float32 (overflow or denormal) and the
    head computes in float32."""
    for values in arrays if float32 else ():
        magnitude = np.abs(np.asarray(values, dtype=np.float64))
        if not np.isfinite(magnitude).all() or magnitude.max(initial=0) > 1e37 or \
                (magnitude[magnitude > 0] < 1e-37).any():
            return None
    return head


# (transform class, head class) -> fold(head, transform, final estimator, float32) returning the head that computes
# both, or None when it cannot. A head family that can absorb a transform registers its folds here.
FOLDS = {
    (Affine, LinearOvo): _affine_into_weights,
    (Project, LinearOvo): _project_into_weights,
    (Select, LinearOvo): _select_into_index,
    (Affine, KernelSvm): _affine_into_kernel,
    (Select, KernelSvm): _select_into_index,
    (Affine, KernelSvr): _affine_into_kernel,
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

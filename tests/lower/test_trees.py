"""Lowering of trees, forests and gradient boosting: the IR's float64 reference equals scikit-learn to 1e-9,
and the C layout (node encoding, integer threshold test, leaf rows, fixed-point sums) reaches the same leaves
and classes."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine, make_classification
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from microml_build.ir.trees import goes_left, threshold_bits, threshold_float32
from microml_build.plan.trees import layout, proba_integers, proba_one
from microml_build.errors import MicroMLError
from microml_build.ir import argmax_near_tie
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor, Trees
from microml_build.lower import lower

CLASSIFIERS = {
    "DecisionTree": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
    "RandomForest": lambda: RandomForestClassifier(n_estimators=10, random_state=0),
    "ExtraTrees": lambda: ExtraTreesClassifier(n_estimators=10, min_samples_leaf=3, random_state=0),
    "GradientBoosting": lambda: GradientBoostingClassifier(n_estimators=10, random_state=0),
    "GradientBoosting-zero-init": lambda: GradientBoostingClassifier(n_estimators=10, init="zero", random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingClassifier(max_iter=10, random_state=0),
}
REGRESSORS = {
    "DecisionTree": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
    "RandomForest": lambda: RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
    "ExtraTrees": lambda: ExtraTreesRegressor(n_estimators=10, max_depth=6, random_state=0),
    "GradientBoosting": lambda: GradientBoostingRegressor(n_estimators=20, random_state=0),
    "GradientBoosting-huber": lambda: GradientBoostingRegressor(loss="huber", n_estimators=20, random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingRegressor(max_iter=20, random_state=0),
    "HistGradientBoosting-poisson": lambda: HistGradientBoostingRegressor(loss="poisson", max_iter=20, random_state=0),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with threadpool_limits(1):
        yield


def classification(name):
    if name == "strings":
        X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=4, random_state=1)
        return X, np.array(["north", "east", "south", "west"])[y]
    return {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}[name](return_X_y=True)


def with_missing():
    X, y = load_breast_cancer(return_X_y=True)
    X = X.copy()
    X[np.random.RandomState(0).rand(*X.shape) < 0.1] = np.nan
    return X, y


def assert_close(got, expected):
    expected = np.asarray(expected, dtype=np.float64).reshape(len(got), -1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(expected).max()))


def sklearn_decisions(est, X):
    """What the head's decision values stand for: predict_proba (forests) or decision_function (boosting)."""
    if isinstance(est, (GradientBoostingClassifier, HistGradientBoostingClassifier)):
        return est.decision_function(X)
    return est.predict_proba(X)


def assert_classifier_matches(est, X):
    X = X.astype(np.float32).astype(np.float64)
    model = lower(est)
    values, scales = model.decisions(X)
    assert_close(values, sklearn_decisions(est, X))
    assert (scales >= np.abs(values) - 1e-12).all()
    expected = np.searchsorted(est.classes_, est.predict(X))
    np.testing.assert_array_equal(model.head.predict_index(values), expected)
    assert model.labels == tuple(est.classes_.tolist())


@pytest.mark.parametrize("dataset", ["iris", "wine", "breast_cancer", "strings"])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_decisions_match_sklearn(name, dataset):
    X, y = classification(dataset)
    assert_classifier_matches(CLASSIFIERS[name]().fit(X, y), X)


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor_decisions_match_sklearn(name):
    X, y = load_diabetes(return_X_y=True)
    est = REGRESSORS[name]().fit(X, y)
    X = X.astype(np.float32).astype(np.float64)
    model = lower(est)
    values, scales = model.decisions(X)
    assert model.task == "regressor" and model.head.n_outputs == 1
    assert_close(values, est.predict(X))
    assert (scales >= np.abs(values) - 1e-9).all()


@pytest.mark.parametrize("name", ["DecisionTree", "RandomForest", "ExtraTrees"])
def test_multi_output_regressor(name):
    X, y = load_diabetes(return_X_y=True)
    est = REGRESSORS[name]().fit(X, np.c_[y, -2 * y])
    values, _ = lower(est).decisions(X.astype(np.float32).astype(np.float64))
    assert values.shape == (len(X), 2)
    assert_close(values, est.predict(X.astype(np.float32)))


@pytest.mark.parametrize("name", ["DecisionTree", "RandomForest", "ExtraTrees", "HistGradientBoosting"])
def test_missing_values(name):
    X, y = with_missing()
    est = CLASSIFIERS[name]().fit(X, y)
    assert lower(est).head.trees.nan_aware
    assert_classifier_matches(est, X)


def test_heads_and_rules():
    X, y = load_iris(return_X_y=True)
    assert isinstance(lower(RandomForestClassifier(n_estimators=3).fit(X, y)).head, ForestClassifier)
    assert isinstance(lower(DecisionTreeRegressor().fit(X, y)).head, ForestRegressor)
    assert isinstance(lower(HistGradientBoostingRegressor(max_iter=3).fit(X, y)).head, BoostedRegressor)
    Xb, yb = load_breast_cancer(return_X_y=True)
    gb = lower(GradientBoostingClassifier(n_estimators=3).fit(Xb, yb)).head
    hgb = lower(HistGradientBoostingClassifier(max_iter=3).fit(Xb, yb)).head
    assert isinstance(gb, BoostedClassifier) and gb.zero_is_positive and gb.n_outputs == 1
    assert not hgb.zero_is_positive
    zero = np.zeros((1, 1))
    assert gb.predict_index(zero)[0] == 1 and hgb.predict_index(zero)[0] == 0
    assert not lower(GradientBoostingClassifier(n_estimators=3).fit(Xb, yb)).head.trees.nan_aware


def test_every_tree_has_one_more_leaf_than_split_nodes():
    """Single-leaf trees (nothing to split) are padded with one split whose two leaves are equal."""
    X = np.zeros((40, 2))
    y = np.r_[np.zeros(20), np.ones(20)]
    model = lower(GradientBoostingClassifier(n_estimators=4).fit(X, y))
    trees = model.head.trees
    assert trees.n_trees == 4 and trees.n_splits == 4 and trees.n_leaves == 8
    np.testing.assert_array_equal(trees.leaf_value[0::2], trees.leaf_value[1::2])
    for est in (RandomForestClassifier(n_estimators=5, random_state=0), HistGradientBoostingRegressor(max_iter=5)):
        t = lower(est.fit(*load_iris(return_X_y=True))).head.trees
        assert t.n_leaves == t.n_splits + t.n_trees


def test_threshold_float32_rounds_down():
    rng = np.random.RandomState(0)
    t64 = np.r_[rng.randn(2000) * 10.0 ** rng.randint(-30, 30, 2000), 2.45, 0.1, -0.1, 1e39, -1e39, 3.5e38,
                np.inf, -np.inf, 0.0]
    t32 = threshold_float32(t64)
    assert t32.dtype == np.float32
    finite = np.isfinite(t64)
    assert (t32[finite].astype(np.float64) <= t64[finite]).all()
    with np.errstate(over="ignore"):
        up = np.nextafter(t32, np.float32(np.inf))
    assert (up[finite].astype(np.float64) > t64[finite]).all()          # the largest float32 not above t64
    assert t32[t64 == np.inf] == np.inf and t32[t64 == -np.inf] == -np.inf
    assert t32[t64 == 1e39] == np.finfo(np.float32).max and t32[t64 == -1e39] == -np.inf
    # The property the C relies on: the float32 comparison equals scikit-learn's float32-vs-float64 one.
    for x in (t32, up, np.nextafter(t32, np.float32(-np.inf))):
        np.testing.assert_array_equal(x <= t32, x.astype(np.float64) <= t64)
    # 2.45 rounds to nearest above itself: rounded down instead.
    assert float(np.float32(2.45)) > 2.45 and float(threshold_float32(np.array([2.45]))[0]) < 2.45


def special_floats():
    """Every kind of float32: both zeros, subnormals, the normal extremes, infinities, and random values."""
    f32 = np.finfo(np.float32)
    tiny = np.float32(1.4e-45)
    edges = np.array([0.0, tiny, 2 * tiny, f32.tiny, np.nextafter(f32.tiny, np.float32(0)), 1.0, 1.5, 2.0, 3.0e-39,
                      np.nextafter(np.float32(1), np.float32(2)), 0.1, 1e30, f32.max, np.inf], dtype=np.float32)
    rng = np.random.RandomState(0)
    random = (rng.randn(300) * 10.0 ** rng.randint(-40, 39, 300)).astype(np.float32)
    values = np.r_[edges, -edges, random]
    with np.errstate(over="ignore"):
        return np.r_[values, np.nextafter(values, np.float32(np.inf)), np.nextafter(values, np.float32(-np.inf))]


def nans():
    """NaNs with either sign, quiet and signalling, with small and large payloads."""
    bits = np.array([0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x7FA00000, 0xFFC00000, 0xFF800001, 0xFFFFFFFF],
                    dtype=np.uint32)
    return bits.view(np.float32)


def test_threshold_bits_keep_the_zero_without_its_sign():
    bits = threshold_bits(np.array([0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, 1e-50, -1e-50]))
    np.testing.assert_array_equal(bits, [0, 0, 0x7F800000, 0xFF800000, 0x3F800000, 0xBF800000, 0, 0x80000001])


def test_integer_test_is_the_float_comparison():
    """The C's split test on integers equals float32 x <= t for every pair of non-NaN floats, both zeros included:
    -0.0 <= +0.0 and +0.0 <= -0.0 (IEEE 754 says they are equal); NaN goes where nan_left says."""
    values = special_floats()
    with np.errstate(over="ignore"):
        x, t = np.meshgrid(values, values.astype(np.float64))
    t_bits = threshold_bits(t.ravel())
    np.testing.assert_array_equal(goes_left(x.ravel(), t_bits), x.ravel() <= t.ravel())
    zeros = np.array([0.0, -0.0], dtype=np.float32)
    for zero in zeros:
        assert goes_left(zeros, threshold_bits(np.array([zero]))).all()          # both zeros go left of either
        assert not goes_left(np.float32(1.4e-45), threshold_bits(np.array([zero])))[0]
        assert goes_left(np.float32(-1.4e-45), threshold_bits(np.array([zero])))[0]
    for nan_left in (False, True):
        got = goes_left(np.repeat(nans(), len(values)), np.tile(threshold_bits(values), len(nans())), nan_left)
        assert (got == nan_left).all()


def walk(lay, X):
    """The C's `<name>_impl_leaf()` over the node tables, in Python: (n_rows, n_trees) leaf rows."""
    X32 = np.asarray(X, dtype=np.float32)
    out = np.zeros((len(X), len(lay.tree_start) - 1), dtype=np.int64)
    for r, x in enumerate(X32):
        for t in range(out.shape[1]):
            start, n = lay.tree_start[t], lay.tree_start[t + 1] - lay.tree_start[t]
            node = 0
            while node < n:
                i = start + node
                code = lay.feature[i]
                go_left = goes_left(x[code >> 2], lay.threshold[i], bool(code & 1))[0]
                node = lay.left[i] if go_left else lay.right[i]
            out[r, t] = node - n if lay.shared else start + t + node - n
    return out


@pytest.mark.parametrize("shared", [False, True], ids=["per-tree", "shared"])
@pytest.mark.parametrize("make", [lambda: RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0),
                                  lambda: HistGradientBoostingClassifier(max_iter=5, random_state=0),
                                  lambda: DecisionTreeClassifier(random_state=0)],
                         ids=["RandomForest", "HistGradientBoosting", "DecisionTree"])
def test_node_encoding_reaches_the_same_leaves(make, shared):
    from microml_build.plan.trees import _layout

    X, y = with_missing()
    trees = lower(make().fit(X, y)).head.trees
    lay = _layout(trees, shared=shared, code=False)
    rows = walk(lay, X[:120])
    expected = trees.contributions(X[:120].astype(np.float32).astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(lay.leaf_value[rows], expected)
    assert lay.child_t == "uint8_t" or shared
    assert lay.nan_aware and set(lay.feature & 3) <= {0, 1} and (lay.feature >> 2 < X.shape[1]).all()


def test_single_tree_leaf_rows_keep_their_class():
    """Leaves whose float32 probabilities are equal but whose float64 argmax differs stay apart: predict()
    returns the class scikit-learn's tree does, from float64."""
    near = 0.5 + 1e-12
    trees = Trees(feature=np.array([0, 0, 0]), threshold=np.array([0.0, -1.0, 1.0]),
                  missing_left=np.zeros(3, dtype=bool), left=np.array([1, -1, -3]), right=np.array([2, -2, -4]),
                  tree_start=np.array([0, 3]), leaf_value=np.array([[near, 1 - near], [1 - near, near]] * 2),
                  nan_aware=False)
    classes = np.argmax(trees.leaf_value, axis=1)
    lay = layout(trees, row_bytes=1, row_key=classes)
    assert lay.shared and len(lay.leaf_value) == 2 and (lay.leaf_value == 0.5).all()
    np.testing.assert_array_equal(classes[np.unique(lay.leaf_row, return_index=True)[1]], [0, 1])
    assert len(layout(trees).leaf_value) == 1          # without the class, one float32 row would do


@pytest.mark.parametrize("make,data", [
    (lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0), "breast_cancer"),
    (lambda: RandomForestClassifier(n_estimators=25, min_samples_leaf=3, random_state=0), "iris"),
    (lambda: ExtraTreesClassifier(n_estimators=30, min_samples_leaf=5, random_state=0), "wine"),
    (lambda: RandomForestClassifier(n_estimators=7, max_depth=3, random_state=1), "strings"),
], ids=["RandomForest-breast_cancer", "RandomForest-iris", "ExtraTrees-wine", "RandomForest-strings"])
def test_fixed_point_sums_pick_the_class_except_at_near_ties(make, data):
    """predict()'s uint32 sums of round(p x one): the argmax equals the float64 mean's wherever that is not a
    near-tie, and the sums cannot overflow."""
    X, y = classification(data)
    model = lower(make().fit(X, y))
    trees, K = model.head.trees, model.head.n_outputs
    one = proba_one(trees.n_trees, K)
    assert one is not None and trees.n_trees * one < 2 ** 32
    rng = np.random.RandomState(0)
    X32 = np.r_[X, X + rng.randn(*X.shape) * X.std(0) * 0.3].astype(np.float32).astype(np.float64)
    values, scales = model.decisions(X32)
    fixed = proba_integers(trees.leaf_value, one)
    assert (fixed <= one).all() and (np.abs(fixed - trees.leaf_value * one) <= 0.5 + 1e-6).all()
    sums = fixed[trees.leaves(X32)].sum(axis=1)
    if K == 2:   # the C keeps class 1 only; class 0 is the total minus it
        sums[:, 0] = trees.n_trees * one - fixed[trees.leaves(X32)][:, :, 1].sum(axis=1)
    assert (sums < 2 ** 32).all()
    differ = np.argmax(sums, axis=1) != model.head.predict_index(values)
    assert not (differ & ~argmax_near_tie(values, scales)).any()


def test_fixed_point_needs_enough_resolution():
    """The near-tie argument needs one >= 2 K / NEAR_TIE: up to about 32,000 trees x classes; beyond, float sums."""
    assert proba_one(10, 2) == (2 ** 32 - 1) // 10
    assert proba_one(16383, 2) is not None and proba_one(16384, 2) is None
    assert proba_one(100, 327) is not None and proba_one(100, 328) is None


def test_layout_choice():
    X, y = load_breast_cancer(return_X_y=True)
    forest = layout(lower(RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)).head.trees)
    assert forest.shared and not forest.code and len(forest.leaf_value) < 40   # pure leaves: a few distinct rows
    boosted = layout(lower(HistGradientBoostingRegressor(max_iter=10).fit(*load_diabetes(return_X_y=True))).head.trees)
    assert not boosted.shared and not boosted.code
    assert layout(lower(DecisionTreeClassifier(max_depth=1).fit(X, y)).head.trees).code
    assert not layout(lower(DecisionTreeClassifier(max_depth=3).fit(X, y)).head.trees).code


def test_too_large_for_16_bit_tables():
    trees = Trees(feature=np.array([70_000]), threshold=np.array([0.5]), missing_left=np.array([False]),
                  left=np.array([-1]), right=np.array([-2]), tree_start=np.array([0, 1]),
                  leaf_value=np.array([[0.0], [1.0]]), nan_aware=False)
    with pytest.raises(MicroMLError, match="too large"):
        layout(trees)


def test_rejections():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(MicroMLError, match="init"):
        lower(GradientBoostingClassifier(n_estimators=2, init=LogisticRegression(max_iter=500)).fit(X, y))
    with pytest.raises(MicroMLError, match="init"):   # a random init score per sample
        lower(GradientBoostingClassifier(n_estimators=2, init=DummyClassifier(strategy="stratified")).fit(X, y))
    assert lower(GradientBoostingClassifier(n_estimators=2, init=DummyClassifier(strategy="prior")).fit(X, y))
    Xc = np.c_[np.random.RandomState(0).randint(0, 4, len(X)), X]
    with pytest.raises(MicroMLError, match="categorical_features"):
        lower(HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(Xc, y))
    with pytest.raises(MicroMLError, match="label columns"):
        lower(DecisionTreeClassifier().fit(X, np.c_[y, y]))

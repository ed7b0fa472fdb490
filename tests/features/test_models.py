"""Every model family behind WindowFeatures: lowered, emitted, compiled and compared with scikit-learn on every window."""

import warnings

import numpy as np
import pytest
from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier, HistGradientBoostingClassifier,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from microml_build.emit.header import emit_header
from microml_build.errors import MicroMLError
from microml_build.features import STATS, WindowFeatures
from microml_build.ir.features import WindowStage, Widen, with_input
from microml_build.lower import lower
from microml_build.plan import plan
from microml_build.pipeline.verify import run_header_all, verify
from support import need_tool

LENGTH, CHANNELS = 24, 3


def gestures(n=240, seed=0):
    """Three classes of int16 windows: a shake on x, a slow tilt on y, stillness; random offsets and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)
    y = np.arange(n) % 3
    W = rng.normal(0, 40, (n, LENGTH, CHANNELS)) + rng.normal(0, 150, (n, 1, CHANNELS))
    W[y == 0, :, 0] += 500 * np.sin(t * rng.uniform(0.8, 1.4, (np.sum(y == 0), 1)))
    W[y == 1, :, 1] += rng.uniform(5, 25, (np.sum(y == 1), 1)) * t
    return np.round(W).reshape(n, -1), y


def header(model, name="w"):
    return emit_header(plan(model), name=name, file_name="w.h", provenance=[("Test", "windows")],
                       feature_names=()).text


FAMILIES = {
    "tree": DecisionTreeClassifier(max_depth=5, random_state=0),
    "forest": RandomForestClassifier(12, max_depth=6, random_state=0),
    "extra_trees": ExtraTreesClassifier(8, max_depth=6, random_state=0),
    "boosting": GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0),
    "hist_boosting": HistGradientBoostingClassifier(max_iter=10, random_state=0),
    "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
    "linear_svc": make_pipeline(StandardScaler(), LinearSVC(max_iter=20000)),
    "svc_rbf": make_pipeline(StandardScaler(), SVC(C=10)),
    "svc_poly": make_pipeline(StandardScaler(), SVC(kernel="poly", degree=2)),
    "mlp": make_pipeline(StandardScaler(), MLPClassifier((10,), max_iter=2000, random_state=0)),
    "gaussian_nb": GaussianNB(),
    "normalizer_then_svc": make_pipeline(Normalizer(), SVC()),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("input", ["int16", "float"])
def test_family_behind_window_features(family, input):
    need_tool("host")
    X, y = gestures()
    if input == "float":
        X = X / 64.0                       # exact in float32
    pipe = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, stats=STATS, segments=3), FAMILIES[family])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    model = with_input(lower(pipe), input)
    stage = model.transforms[0]
    assert isinstance(stage, WindowStage) and stage.input == input
    assert model.n_features == LENGTH * CHANNELS
    text = header(model)
    assert f"int w_predict(const {'int16_t' if input == 'int16' else 'float'} *x)" in text
    assert "w_predict_ring(const" in text and "#define W_WINDOW_LENGTH 24" in text and "#define W_N_CHANNELS 3" in text
    assert "#define W_N_FEATURES 72" in text
    result = verify(model, text, "w", pipe, X)
    assert result.agree + len(result.near_ties) + len(result.feature_flips) == len(X)
    assert result.feature_bound_use is not None and result.feature_bound_use <= 1


def test_regressors_behind_window_features():
    need_tool("host")
    X, y = gestures()
    target = X.reshape(len(X), LENGTH, CHANNELS)[:, :, 1].std(1)
    for regressor in (RandomForestRegressor(8, max_depth=5, random_state=0), Ridge(), make_pipeline(
            StandardScaler(), Lasso(alpha=2.0))):
        pipe = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, segments=2), regressor).fit(X, target)
        model = with_input(lower(pipe), "int16")
        result = verify(model, header(model), "w", pipe, X)
        assert result.agree == len(X) and result.max_abs_error < 1e-3 * target.max()
    two = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS), Ridge()).fit(X, np.c_[target, -target])
    model = with_input(lower(two), "int16")
    assert verify(model, header(model), "w", two, X).agree == len(X)


def test_the_stage_computes_only_what_the_head_reads():
    X, y = gestures()
    pipe = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, stats=STATS, segments=3),
                         StandardScaler(), RandomForestClassifier(3, max_depth=3, random_state=0)).fit(X, y)
    stage = lower(pipe).transforms[0]
    used = sorted({int(f) for tree in pipe[-1].estimators_ for f in tree.tree_.feature if f >= 0})
    assert list(stage.computed) == used and len(used) < stage.n_all
    # A selection after the features: the stage computes the selected ones.
    selected = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, segments=2), SelectKBest(k=5),
                             SVC()).fit(X, y)
    assert list(lower(selected).transforms[0].computed) == list(np.flatnonzero(selected[1].get_support()))
    # Zero weights (an L1 penalty) are features nobody reads.
    sparse = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, segments=3), StandardScaler(),
                           Lasso(alpha=0.1)).fit(X, y.astype(float))
    model = lower(sparse)
    assert 0 < len(model.transforms[0].computed) < model.transforms[0].n_all
    assert list(model.transforms[0].computed) == list(np.flatnonzero(sparse[-1].coef_))
    np.testing.assert_allclose(model.decisions(X)[0][:, 0], sparse.predict(X), rtol=1e-9, atol=1e-9)


def test_window_features_must_come_first():
    X, y = gestures()
    pipe = make_pipeline(StandardScaler(), WindowFeatures(length=LENGTH, channels=CHANNELS), SVC()).fit(X, y)
    with pytest.raises(MicroMLError, match="follows StandardScaler") as info:
        lower(pipe)
    assert "first step" in info.value.fix


def test_int16_input_without_window_features():
    need_tool("host")
    X, y = gestures()
    X = X[:, :6]
    pipe = make_pipeline(StandardScaler(), SVC()).fit(X, y)
    model = with_input(lower(pipe), "int16")
    assert isinstance(model.transforms[0], Widen)
    text = header(model)
    assert "int w_predict(const int16_t *x)" in text and "predict_ring" not in text
    assert verify(model, text, "w", pipe, X).agree == len(X)
    with pytest.raises(MicroMLError, match=r"row 3, value 2: 2\.5 is not a whole number") as info:
        bad = X.copy()
        bad[3, 2] = 2.5
        verify(model, text, "w", pipe, bad)
    assert info.value.key == "target.input"


def test_a_class_flip_from_feature_rounding_is_excused_and_counted(tmp_path):
    """A split placed between the C's float32 mean and scikit-learn's: the C's class follows its own feature."""
    need_tool("host")
    rng = np.random.default_rng(7)
    X = (rng.normal(0, 1, (200, 16)) + 1000.0).astype(np.float32).astype(np.float64)
    y = np.arange(200) % 2
    pipe = make_pipeline(WindowFeatures(length=16, channels=1, stats=["mean"]),
                         DecisionTreeClassifier(max_depth=1, random_state=0)).fit(X, y)
    model = with_input(lower(pipe), "float")
    _, _, features, _ = run_header_all(header(model), "w", X)
    exact = np.float32(pipe[0].transform(X)[:, 0])        # what scikit-learn's tree compares (float32)
    row = int(np.flatnonzero(features[:, 0] != exact)[0])
    low, high = sorted((float(features[row, 0]), float(exact[row])))
    pipe[-1].tree_.threshold[0] = (low + high) / 2          # now the two sides send the row to different leaves
    pipe[-1].tree_.value[1], pipe[-1].tree_.value[2] = [[1.0, 0.0]], [[0.0, 1.0]]
    model = with_input(lower(pipe), "float")
    result = verify(model, header(model), "w", pipe, X)
    assert row in result.feature_flips and result.agree == len(X) - len(result.feature_flips)
    assert "from feature rounding excused" in result.summary


def test_features_outside_their_bounds_are_a_bug_not_a_near_tie():
    need_tool("host")
    X, y = gestures()
    pipe = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, stats=["mean", "std", "slope"], segments=2),
                         GaussianNB()).fit(X, y)
    model = with_input(lower(pipe), "int16")
    text = header(model).replace("return (float)a->sum / (float)a->n;", "return (float)a->sum / (float)a->n + 0.01f;")
    with pytest.raises(MicroMLError, match="outside their float32 error bounds"):
        verify(model, text, "w", pipe, X)
    ring = header(model).replace("w_features_ring(ring, head, f);\n    return",
                                 "w_features_ring(ring, head + 1, f);\n    return")
    with pytest.raises(MicroMLError, match="predict_ring"):
        verify(model, ring, "w", pipe, X)

"""Tree regressors that test one feature become a step table (emit/step_tables.py): breaks in flash, a binary search,
one precomputed value per interval. Parity with scikit-learn on every row and at every break, smaller than the
node tables it replaces, NaN where the model sends it, strict cross compiles, and the same outputs on AVR."""

import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from microml_build import toolchains
from microml_build.plan.trees import step_function
from microml_build.ir import NEAR_TIE
from microml_build.pipeline.verify import run_header
from model_check import CROSS_PARAMS, c_predict_proba, cross_compile, emit, host_parity
from support import need_tool

REGRESSORS = {
    "DecisionTree": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
    "RandomForest": lambda: RandomForestRegressor(n_estimators=20, min_samples_leaf=5, random_state=0),
    "ExtraTrees": lambda: ExtraTreesRegressor(n_estimators=20, min_samples_leaf=5, random_state=0),
    "GradientBoosting": lambda: GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.05,
                                                          random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingRegressor(max_iter=50, random_state=0),
    "HistGradientBoosting-poisson": lambda: HistGradientBoostingRegressor(loss="poisson", max_iter=50,
                                                                          random_state=0),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with threadpool_limits(1):
        yield


def sine(n=600, seed=1):
    """TFLM's hello_world data: x ~ U[0, 2π), y = sin(x) + noise."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    return x[:, None].astype(np.float64), (np.sin(x) + 0.1 * rng.randn(n)).astype(np.float64)


def bmi():
    """One real feature: the diabetes data's body-mass index (standardised: negative and positive values)."""
    X, y = load_diabetes(return_X_y=True)
    return X[:, 2:3], y


def around_breaks(steps) -> np.ndarray:
    """Every break, the float32 just below and just above it, and the extremes: where an off-by-one would show."""
    b = steps.breaks
    with np.errstate(over="ignore"):
        x = np.r_[b, np.nextafter(b, np.float32(-np.inf)), np.nextafter(b, np.float32(np.inf)),
                  np.float32(-3e38), np.float32(3e38), np.float32(0.0), np.float32(-0.0)]
    return x.astype(np.float64)[:, None]


def node_bytes(est) -> int:
    return emit(est, prefer={"trees": "nodes"})[1].table_bytes


@pytest.mark.parametrize("data", [sine, bmi])
@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_step_table_matches_sklearn_and_beats_node_tables(name, data):
    X, y = data()
    if name.endswith("poisson"):
        y = y - y.min() + 0.1
    est = REGRESSORS[name]().fit(X, y)
    model, emitted = emit(est)
    assert "m_break[" in emitted.text and "m_threshold" not in emitted.text and "m_impl_leaf(" not in emitted.text
    result = host_parity(est, np.r_[X, around_breaks(step_function(model.head, 1))])
    assert result.agree == result.rows and result.max_decision_error < 1e-5
    assert emitted.table_bytes < node_bytes(est)


def test_numpy_steps_equal_the_ir_on_a_dense_grid():
    """The table alone (searchsorted on the breaks, x <= break goes left) equals the trees' float64 sum."""
    X, y = sine()
    est = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    model, _ = emit(est)
    steps = step_function(model.head, 1)
    grid = np.r_[np.linspace(-1, 7, 20001).astype(np.float32)[:, None].astype(np.float64), around_breaks(steps)]
    rows = np.searchsorted(steps.breaks, grid[:, 0].astype(np.float32), side="left")
    expected = est.predict(grid)
    assert np.all(steps.values[rows, 0] == expected.astype(np.float32))
    assert len(steps.breaks) <= len(np.unique(model.head.trees.threshold))
    assert len(steps.values) == len(steps.breaks) + 1


def test_equal_neighbours_share_one_interval():
    """A forest's thresholds that do not change the mean (two trees moving in opposite directions) vanish."""
    X = np.repeat(np.arange(8.0), 5)[:, None]
    y = (X[:, 0] >= 4).astype(float)
    est = DecisionTreeRegressor().fit(X, y)
    model, emitted = emit(est)
    steps = step_function(model.head, 1)
    assert len(steps.breaks) == 1 and steps.breaks[0] == np.float32(3.5)
    assert host_parity(est, X).agree == len(X)


def test_feature_other_than_the_first():
    """Three features of which the trees only ever test x[1]: the step is over x[1], the others are ignored."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-5, 5, (400, 3))
    y = np.floor(X[:, 1])                       # no noise: every split is on x[1]
    est = GradientBoostingRegressor(n_estimators=30, max_depth=2, random_state=0).fit(X, y)
    assert set(np.concatenate([t.tree_.feature[t.tree_.feature >= 0] for t in est.estimators_[:, 0]])) == {1}
    model, emitted = emit(est)
    assert "memcpy(&bits, &x[1], sizeof bits);" in emitted.text
    assert host_parity(est, X).agree == len(X)


def test_two_features_keep_node_tables():
    X, y = load_diabetes(return_X_y=True)
    est = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X[:, 2:4], y)
    model, emitted = emit(est)
    # node tables, thresholds in halves as every forest's (docs/c-api.md, "Reading a tree header")
    assert step_function(model.head, 2) is None and "m_threshold_high[" in emitted.text


@pytest.mark.parametrize("name", ["DecisionTree", "RandomForest"])
def test_multi_output(name):
    X, y = sine()
    Y = np.c_[y, -2 * y, np.cos(X[:, 0])]
    est = REGRESSORS[name]().fit(X, Y)
    _, emitted = emit(est)
    assert "static const float m_step_value[" in emitted.text and "][3] MICROML_FLASH" in emitted.text
    assert host_parity(est, X).agree == len(X)


def test_missing_values_take_their_own_row():
    """HistGradientBoosting trained with NaN sends it where it learned to; the step table's NaN row says so."""
    X, y = sine()
    X = X.copy()
    X[::7, 0] = np.nan
    y = y.copy()
    y[::7] = 5.0                                # missing means something: far from every other value
    est = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    model, emitted = emit(est)
    steps = step_function(model.head, 1)
    assert steps.nan_row == len(steps.breaks) + 1 and steps.values[-1, 0] > 3
    result = host_parity(est, X)
    assert result.agree == len(X)
    _, got = run_header(emitted.text, "m", np.array([[np.nan], [-np.nan]]))
    np.testing.assert_allclose(got[:, 0], est.predict(np.array([[np.nan], [np.nan]])), rtol=1e-6)


def test_pipeline_with_scaler():
    """A scaler folded into the thresholds, then the step table over the folded breaks."""
    X, y = bmi()
    est = make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=50, random_state=0)).fit(X * 7 + 3, y)
    _, emitted = emit(est)
    assert "m_break[" in emitted.text
    assert host_parity(est, X * 7 + 3).agree == len(X)


CLASSIFIERS = {
    "DecisionTree": lambda: DecisionTreeClassifier(max_depth=5, random_state=0),
    "RandomForest": lambda: RandomForestClassifier(n_estimators=10, min_samples_leaf=3, random_state=0),
    "ExtraTrees": lambda: ExtraTreesClassifier(n_estimators=10, min_samples_leaf=3, random_state=0),
    "GradientBoosting": lambda: GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
}


def petal_width():
    """Iris by petal width alone: three classes, overlapping at the boundaries, string labels."""
    X, y = load_iris(return_X_y=True)
    return X[:, 3:4], np.array(["setosa", "versicolor", "virginica"])[y]


def sine_sign():
    X, y = sine()
    return X, y > 0


@pytest.mark.avr
@pytest.mark.parametrize("data", [petal_width, sine_sign])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_step_table_matches_sklearn(name, data, tmp_path):
    """predict() reads one class byte per interval, decided on float64 values: scikit-learn's class on every row,
    at every break and either side of it, with no near-tie to excuse; decision values and probabilities too."""
    X, y = data()
    est = CLASSIFIERS[name]().fit(X, y)
    model, emitted = emit(est)
    steps = "m_step_value[" in emitted.text
    # A small single tree can stay node tables (the search costs more code than the walk): flash decides.
    assert steps or name == "DecisionTree"
    probe = np.r_[X, around_breaks(step_function(model.head, 1))]
    result = host_parity(est, probe)
    assert result.agree == result.rows and not result.near_ties and result.max_decision_error < 1e-5
    if steps:
        np.testing.assert_allclose(c_predict_proba(emitted.text, probe, tmp_path),
                                   est.predict_proba(probe.astype(np.float32)), rtol=1e-6, atol=1e-7)
    if steps:
        node_header = emit(est, prefer={"trees": "nodes"})[1].text
        assert predict_flash(emitted.text, tmp_path / "steps") < predict_flash(node_header, tmp_path / "nodes")


def predict_flash(header: str, tmp_path) -> int:
    """avr-gcc -Os text of a firmware that calls only m_predict(): the flash the form choice minimises."""
    need_tool("avr")
    tmp_path.mkdir()
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "main.c").write_text('#include "model.h"\nfloat features[1];\nvolatile int sink;\n'
                                     "int main(void)\n{\n    sink = m_predict(features);\n    return 0;\n}\n")
    elf = toolchains.compile([tmp_path / "main.c"], tmp_path / "fw.elf", target="avr", include_dirs=[tmp_path])
    return toolchains.section_sizes(elf, "avr")["text"]


CROSS_MODELS = {
    "GradientBoosting-sine": lambda: GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(
        *sine()),
    "RandomForest-sine-2-outputs": lambda: RandomForestRegressor(n_estimators=5, random_state=0).fit(
        sine()[0], np.c_[sine()[1], sine()[1]]),
    "RandomForestClassifier-petal-width": lambda: CLASSIFIERS["RandomForest"]().fit(*petal_width()),
    "HistGradientBoostingClassifier-petal-width": lambda: CLASSIFIERS["HistGradientBoosting"]().fit(*petal_width()),
    "GradientBoostingClassifier-sine-sign": lambda: CLASSIFIERS["GradientBoosting"]().fit(*sine_sign()),
}


@pytest.fixture(scope="module")
def cross_headers():
    return {name: emit(make())[1].text for name, make in CROSS_MODELS.items()}


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("model", sorted(CROSS_MODELS))
def test_strict_cross_compile(cross_headers, model, target, lang, tmp_path):
    assert "m_break[" in cross_headers[model]
    assert cross_compile(cross_headers[model], tmp_path, target, lang).exists()


@pytest.mark.avr
@pytest.mark.simavr
def test_on_simulated_avr_without_soft_float(tmp_path):
    """On an ATmega328P under simavr: the same values as scikit-learn, and predict() links no float routine
    (integer comparisons, then one float read from flash)."""
    from avr_run import avr_outputs

    need_tool("avr")
    X, y = bmi()
    est = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    model, emitted = emit(est)
    probe = np.r_[X[::2], around_breaks(step_function(model.head, 1))[::5]]
    got = avr_outputs(emitted.text, probe, tmp_path, model_flash=emitted.table_bytes)
    X32 = probe.astype(np.float32).astype(np.float64)
    _, scale = model.decisions(X32)
    assert (np.abs(got - est.predict(X32)) <= NEAR_TIE * scale[:, 0]).all()

    (tmp_path / "main.c").write_text('#include "model.h"\nfloat features[1];\nvolatile float sink;\n'
                                     "int main(void)\n{\n    sink = m_predict_value(features);\n    return 0;\n}\n")
    elf = toolchains.compile([tmp_path / "main.c"], tmp_path / "fw.elf", target="avr", include_dirs=[tmp_path])
    symbols = subprocess.run(["avr-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for routine in ("__addsf3", "__lesf2", "__gesf2", "__cmpsf2", "__unordsf2", "__fp_cmp"):
        assert routine not in symbols, routine


def test_predict_searches_only_where_the_class_changes():
    """The decision values change at every threshold; predict()'s table keeps only the breaks where the class
    changes: iris by petal width has two such places, whatever the number of trees."""
    X, y = petal_width()
    est = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    _, emitted = emit(est)
    n_breaks = int(emitted.text.split("#define M_N_BREAKS ")[1].split()[0])
    n_class_breaks = int(emitted.text.split("#define M_N_CLASS_BREAKS ")[1].split()[0])
    assert 2 <= n_class_breaks <= 4 < n_breaks
    assert host_parity(est, X).agree == len(X)


def test_one_class_everywhere_needs_no_class_search():
    """Probabilities that vary but never change the winner: predict() reads one class, no class breaks."""
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 10, (400, 1))
    y = (rng.rand(400) < 0.2 + 0.02 * X[:, 0]).astype(int)      # class 1 at most 40%: class 0 always wins
    est = RandomForestClassifier(n_estimators=10, min_samples_leaf=40, random_state=0).fit(X, y)
    assert (est.predict(X) == 0).all()
    _, emitted = emit(est)
    assert "#define M_N_CLASS_BREAKS 0" in emitted.text and "m_class_break" not in emitted.text
    assert "m_step_value[" in emitted.text
    assert host_parity(est, X).agree == len(X)

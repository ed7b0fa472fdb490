"""Trees, forests and gradient boosting: host parity on every row, strict cross compiles, tables in AVR flash,
the integer threshold test on every kind of float (signed zeros, infinities, NaNs), and no soft-float where
predict() needs none."""

import subprocess

import numpy as np
import pytest
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_classification,
                              make_regression)
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from microml_build import toolchains
from microml_build.emit.c_writer import float_literal
from microml_build.emit.header import emit_header
from microml_build.plan import plan
from microml_build.ir import NEAR_TIE, Model
from microml_build.ir.trees import BoostedRegressor, Trees, threshold_bits
from microml_build.pipeline.verify import run_header
from model_check import CROSS_PARAMS, cross_compile, emit, host_parity
from support import need_tool

CLASSIFIERS = {
    "DecisionTree": lambda: DecisionTreeClassifier(random_state=0),
    "RandomForest": lambda: RandomForestClassifier(n_estimators=20, random_state=0),
    "ExtraTrees": lambda: ExtraTreesClassifier(n_estimators=20, min_samples_leaf=2, random_state=0),
    "GradientBoosting": lambda: GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
}
REGRESSORS = {
    "DecisionTree": lambda: DecisionTreeRegressor(max_depth=8, random_state=0),
    "RandomForest": lambda: RandomForestRegressor(n_estimators=20, max_depth=8, random_state=0),
    "ExtraTrees": lambda: ExtraTreesRegressor(n_estimators=20, max_depth=8, random_state=0),
    "GradientBoosting": lambda: GradientBoostingRegressor(n_estimators=50, random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingRegressor(max_iter=50, random_state=0),
    "HistGradientBoosting-poisson": lambda: HistGradientBoostingRegressor(loss="poisson", max_iter=50, random_state=0),
}
DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """HistGradientBoosting's OpenMP threads slow its fit tenfold on a loaded machine; the models are tiny."""
    with threadpool_limits(1):
        yield


def data(name):
    X, y = DATASETS[name](return_X_y=True)
    return (X[:600], y[:600]) if name == "digits" else (X, y)


def strings():
    """Four classes with string labels."""
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=4, random_state=1)
    return X, np.array(["north", "east", "south", "west"])[y]


def with_missing(seed=0):
    """Breast cancer with 10% of the values missing, and feature 0 also missing for half of class 0: missing
    values then carry information, and HistGradientBoosting splits the numbers from NaN."""
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.RandomState(seed)
    X = X.copy()
    X[rng.rand(*X.shape) < 0.1] = np.nan
    X[(y == 0) & (rng.rand(len(y)) < 0.5), 0] = np.nan
    return X, y


def assert_classifier_parity(est, X, prefer=None):
    result = host_parity(est, X, prefer=prefer)
    assert result.rows == len(X)
    assert result.agree + len(result.near_ties) == len(X)
    assert len(result.near_ties) <= max(1, len(X) // 200), result.summary
    assert result.max_decision_error < 1e-5


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_host_parity(name, dataset):
    X, y = data(dataset)
    assert_classifier_parity(CLASSIFIERS[name]().fit(X, y), X)


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_string_labels(name):
    X, y = strings()
    assert_classifier_parity(CLASSIFIERS[name]().fit(X, y), X)


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor_host_parity(name):
    X, y = load_diabetes(return_X_y=True)
    result = host_parity(REGRESSORS[name]().fit(X, y), X)
    assert result.agree == len(X)
    assert result.max_decision_error < 1e-5


@pytest.mark.parametrize("name", ["DecisionTree", "RandomForest", "ExtraTrees"])
def test_multi_output_regressor(name):
    X, y = load_diabetes(return_X_y=True)
    Y = np.c_[y, np.sqrt(y), -y]
    est = REGRESSORS[name]().fit(X, Y)
    _, emitted = emit(est)
    assert "void m_predict_value(const float *x, float *y)" in emitted.text
    assert host_parity(est, X).agree == len(X)


@pytest.mark.parametrize("name", ["DecisionTree", "RandomForest", "ExtraTrees", "HistGradientBoosting"])
def test_missing_values_go_where_sklearn_sends_them(name):
    """NaN inputs follow each node's missing_go_to_left, for models trained with and without NaN."""
    X, y = with_missing()
    est = CLASSIFIERS[name]().fit(X, y)
    _, emitted = emit(est)
    assert "0x7F800000u" in emitted.text and "(code & 1)" in emitted.text   # the NaN test, then its direction
    assert_classifier_parity(est, X)
    clean = CLASSIFIERS[name]().fit(load_breast_cancer(return_X_y=True)[0], y)
    assert_classifier_parity(clean, X)


def test_hist_gradient_boosting_split_on_missing_is_infinity():
    """A split of all numbers (left) from NaN (right) has threshold +inf, which must stay +inf in C."""
    X, y = with_missing()
    est = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    model, emitted = emit(est)
    assert np.isinf(model.head.trees.threshold).any()
    high = emitted.text.split("m_threshold_high[")[1].split("};")[0]
    assert "0x7F80u," in high   # +inf's high 16 bits in the table
    assert_classifier_parity(est, X)


def test_forest_averages_probabilities_not_votes():
    """Rows where the majority vote and the mean probability disagree: the C must follow the mean, as sklearn."""
    rng = np.random.RandomState(0)
    X = rng.randn(400, 4)
    y = (X[:, 0] + rng.randn(400) > 0).astype(int) + (X[:, 1] > 1)
    est = RandomForestClassifier(n_estimators=9, min_samples_leaf=8, random_state=0).fit(X, y)
    votes = np.stack([t.predict(X.astype(np.float32)) for t in est.estimators_], 1).astype(int)
    vote_winner = np.array([np.bincount(row, minlength=3).argmax() for row in votes])
    assert (vote_winner != est.predict(X)).any(), "data should separate voting from averaging"
    assert_classifier_parity(est, X)


def test_threshold_between_adjacent_floats_rounds_down():
    """A threshold halfway between two adjacent float32 values: rounding it to nearest (even) gives the upper
    value, which would send that value left; rounded down, it goes right, as in scikit-learn."""
    below = np.nextafter(np.float32(1000.0), np.float32(2000.0))   # odd last bit; the ulp (6e-5) is above
    above = np.nextafter(below, np.float32(2000.0))               # the splitter's minimum gap of 1e-7
    X = np.array([[below], [above]] * 10, dtype=np.float64)
    y = np.array([0, 1] * 10)
    est = DecisionTreeClassifier().fit(X, y)
    assert np.float32(est.tree_.threshold[0]) == above
    _, emitted = emit(est)
    assert f"x[0] feature_0 <= {float_literal(below)[:-1]}" in emitted.text
    got, _ = run_header(emitted.text, "m", X)
    assert (got == y).all()


def test_boosting_sign_rule_at_exactly_zero():
    """A raw score of exactly 0: GradientBoosting says class 1 (>= 0), HistGradientBoosting class 0 (> 0)."""
    X = np.array([[0.0], [0.0], [1.0], [1.0]] * 10)
    y = np.array([0, 1, 0, 1] * 10)
    for est, expected in [(GradientBoostingClassifier(n_estimators=3, init="zero").fit(X, y), 1),
                          (HistGradientBoostingClassifier(max_iter=3).fit(X, y), 0)]:
        assert (est.decision_function(X) == 0).all() and (est.predict(X) == expected).all()
        _, emitted = emit(est)
        got, raw = run_header(emitted.text, "m", X)
        assert (raw == 0).all() and (got == expected).all(), type(est).__name__


@pytest.mark.parametrize("est,missing", [(DecisionTreeClassifier(max_depth=1), True),
                                         (DecisionTreeClassifier(max_depth=2), True),
                                         (DecisionTreeRegressor(max_depth=2), False),
                                         (GradientBoostingClassifier(n_estimators=2, max_depth=1), False)],
                         ids=["stump-missing", "depth-2-missing", "regression-depth-2", "two-stumps"])
def test_tiny_models_are_code(est, missing):
    """Up to about three split nodes the trees are if/else code (a switch on the tree for several trees)."""
    X, y = with_missing() if missing else load_breast_cancer(return_X_y=True)
    est.fit(X, y)
    _, emitted = emit(est)
    assert "m_threshold" not in emitted.text and "if (m_impl_goes_left(x[" in emitted.text
    assert ("switch (tree)" in emitted.text) == (len(getattr(est, "estimators_", [est])) > 1)
    assert_classifier_parity(est, X)


@pytest.mark.avr
def test_wide_and_deep_tree_uses_16_bit_indices(tmp_path):
    """300 features (byte offsets above 255) and 799 split nodes in one tree: uint16 node tables, still exact."""
    X, y = make_regression(n_samples=800, n_features=300, noise=10.0, random_state=0)
    est = DecisionTreeRegressor(random_state=0).fit(X, y)
    _, emitted = emit(est)
    for table in ("m_feature", "m_left", "m_right"):
        assert f"static const uint16_t {table}[" in emitted.text
    assert "m_tree_start" not in emitted.text          # one tree: it starts at 0
    assert host_parity(est, X).agree == len(X)
    assert cross_compile(emitted.text, tmp_path, "avr", "c").exists()


CROSS_MODELS = {
    "RandomForest-iris": lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(
        *load_iris(return_X_y=True)),
    "HistGradientBoosting-missing": lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(
        *with_missing()),
    "GradientBoosting-wine": lambda: GradientBoostingClassifier(n_estimators=10, max_depth=3).fit(
        *load_wine(return_X_y=True)),
    "ExtraTrees-diabetes-2-outputs": lambda: ExtraTreesRegressor(n_estimators=10, max_depth=6, random_state=0).fit(
        load_diabetes(return_X_y=True)[0], np.c_[load_diabetes(return_X_y=True)[1], load_diabetes(return_X_y=True)[1]]),
    "HistGradientBoosting-poisson": lambda: HistGradientBoostingRegressor(loss="poisson", max_iter=10).fit(
        *load_diabetes(return_X_y=True)),
    "code-stumps": lambda: GradientBoostingClassifier(n_estimators=2, max_depth=1).fit(
        *load_breast_cancer(return_X_y=True)),
    "code-tree-missing": lambda: DecisionTreeClassifier(max_depth=1).fit(*with_missing()),
}


@pytest.fixture(scope="module")
def cross_headers():
    return {name: emit(make())[1].text for name, make in CROSS_MODELS.items()}


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("model", sorted(CROSS_MODELS))
def test_strict_cross_compile(cross_headers, model, target, lang, tmp_path):
    assert cross_compile(cross_headers[model], tmp_path, target, lang).exists()


@pytest.mark.avr
def test_avr_forest_tables_live_in_flash(tmp_path):
    """avr-size on the linked ELF: a 10-tree forest's tables are in .text (PROGMEM); RAM holds only the caller's."""
    X, y = load_breast_cancer(return_X_y=True)
    _, emitted = emit(RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y))
    elf = cross_compile(emitted.text, tmp_path, "avr", "c")
    sizes = toolchains.section_sizes(elf, "avr")
    assert emitted.table_bytes > 1000
    assert sizes["text"] > emitted.table_bytes
    # model_check.CALLER's own globals: 30 features + one volatile float.
    assert sizes["data"] == 0 and sizes["bss"] == 4 * 30 + 4, sizes


@pytest.mark.avr
@pytest.mark.simavr
def test_forest_on_simulated_avr_matches_sklearn(tmp_path):
    """The same header on an ATmega328P under simavr: PROGMEM reads, soft-float compares, every iris row."""
    from avr_run import avr_outputs

    X, y = load_iris(return_X_y=True)
    est = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    _, emitted = emit(est)
    got = avr_outputs(emitted.text, X, tmp_path, model_flash=emitted.table_bytes)
    expected = np.searchsorted(est.classes_, est.predict(X.astype(np.float32).astype(np.float64)))
    assert (got == expected).all(), np.flatnonzero(got != expected)


@pytest.mark.avr
@pytest.mark.simavr
def test_boosted_regressor_on_simulated_avr_matches_sklearn(tmp_path):
    """avr-gcc's float is 32-bit like the host's: the sums agree with scikit-learn within float32 rounding."""
    from avr_run import avr_outputs

    X, y = load_diabetes(return_X_y=True)
    est = HistGradientBoostingRegressor(max_iter=20, max_depth=4, random_state=0).fit(X, y)
    model, emitted = emit(est)
    got = avr_outputs(emitted.text, X, tmp_path, model_flash=emitted.table_bytes)
    X32 = X.astype(np.float32).astype(np.float64)
    _, scale = model.decisions(X32)
    assert (np.abs(got - est.predict(X32)) <= NEAR_TIE * scale[:, 0]).all()


# ---------------------------------------------------------------------------------------------
# The integer threshold test on every kind of float, through the C

# Thresholds as scikit-learn (or a folded scaler) may give them, float64: both zeros, the smallest subnormal
# (and a float64 below it, which rounds down to it), the float32 extremes and beyond, the infinities.
SPECIAL_THRESHOLDS = [-np.inf, -1e39, -3.4028234663852886e38, -1.0, -1e-45, -0.0, 0.0, 1e-46, 1.4e-45, 1.0,
                      3.4028234663852886e38, 1e39, np.inf,
                      # float32 thresholds whose low 16 bits are not 0 (forest tables compare the halves apart)
                      -1.2345678, -0.1, 0.1, 1.2345678]
BITS_HARNESS = """\
#include <stdio.h>
#include <string.h>
#include "model.h"

/* Reads the bits of x[0] as hex, prints m_predict_value() of it as hex bits. */
int main(void)
{
    unsigned long in;
    while (scanf("%lx", &in) == 1) {
        uint32_t bits = (uint32_t)in;
        float x[1], y;
        memcpy(&x[0], &bits, sizeof bits);
        y = m_predict_value(x);
        memcpy(&bits, &y, sizeof bits);
        printf("%08lx\\n", (unsigned long)bits);
    }
    return 0;
}
"""


def special_inputs():
    """Bits of every kind of float32: both zeros, subnormals, extremes, infinities, NaNs of either sign."""
    f32 = np.finfo(np.float32)
    values = np.array([0.0, 1.4e-45, 2.8e-45, f32.tiny, 0.5, 1.0, 1.0000001, 2.0, f32.max, np.inf], np.float32)
    values = np.r_[values, -values]
    with np.errstate(over="ignore"):
        values = np.r_[values, np.nextafter(values, np.float32(np.inf)), np.nextafter(values, np.float32(-np.inf))]
    nans = np.array([0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x7F80FFFF, 0xFFC00000, 0xFF800001, 0xFFFFFFFF, 0xFF80FFFF],
                    np.uint32)
    # Around every threshold as the C holds it: one ulp either side, and the same high 16 bits with the lowest and
    # highest low halves (the halves comparison of forest tables reads the low halves only on equal high halves).
    t = threshold_bits(np.array(SPECIAL_THRESHOLDS)).astype(np.int64)
    near = np.r_[t - 1, t + 1, t & ~0xFFFF, t | 0xFFFF, (t & ~0xFFFF) - 1, (t | 0xFFFF) + 1] & 0xFFFFFFFF
    return np.unique(np.r_[values.view(np.uint32), nans, near.astype(np.uint32)])


# Regressors of one feature as node tables or code, not as a step table (the planner's choice otherwise).
NODE_FORM = {"trees": "nodes"}


def stumps_model(nan_aware: bool) -> Model:
    """One stump per special threshold on x[0], summed: tree k adds 2^k when x goes left (exact in float32)."""
    n = len(SPECIAL_THRESHOLDS)
    missing_left = np.arange(n) % 3 == 0 if nan_aware else np.zeros(n, dtype=bool)
    trees = Trees(feature=np.zeros(n, dtype=np.int64), threshold=np.array(SPECIAL_THRESHOLDS),
                  missing_left=missing_left, left=-1 - 2 * np.arange(n), right=-2 - 2 * np.arange(n),
                  tree_start=np.arange(n + 1), leaf_value=np.c_[2.0 ** np.arange(n), np.zeros(n)].reshape(-1, 1),
                  nan_aware=nan_aware)
    return Model(n_features=1, head=BoostedRegressor(trees=trees, init=np.zeros(1), link="identity"),
                 estimator="stumps", summary="stumps on special thresholds")


def run_bits(header: str, bits: np.ndarray, tmp_path) -> np.ndarray:
    need_tool("host")
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "main.c").write_text(BITS_HARNESS)
    exe = toolchains.compile([tmp_path / "main.c"], tmp_path / "bits", include_dirs=[tmp_path])
    out = subprocess.run([str(exe)], input="\n".join(f"{b:x}" for b in bits.tolist()), capture_output=True,
                         text=True, check=True).stdout.split()
    return np.array([int(v, 16) for v in out], dtype=np.uint32).view(np.float32)


@pytest.mark.parametrize("form", ["tables", "code", "steps"])
@pytest.mark.parametrize("nan_aware", [False, True], ids=["nan-right", "nan-aware"])
def test_every_kind_of_float_takes_the_float_comparison(form, nan_aware, tmp_path):
    """Both zeros go left of both zero thresholds (-0.0 == +0.0), subnormals, +-FLT_MAX and infinities compare
    as floats do against thresholds rounded down to float32, and a NaN of either sign and any payload goes
    right, or where the node sends missing values: in node tables, in code, and in the step table of a model
    of one feature (emit/step_tables.py), where the sums are precomputed."""
    model = stumps_model(nan_aware)
    header = emit_header(plan(model, {"trees": form}), name="m", file_name="model.h", provenance=[("Test", "e2e")],
                         feature_names=("x",)).text
    assert ("m_threshold_high[" in header) == (form == "tables")   # several trees: thresholds in halves
    assert ("m_break[" in header) == (form == "steps")
    bits = special_inputs()
    got = run_bits(header, bits, tmp_path)
    with np.errstate(invalid="ignore"):
        x = bits.view(np.float32).astype(np.float64)
    trees = model.head.trees
    with np.errstate(invalid="ignore"):
        left = x[:, None] <= np.array(SPECIAL_THRESHOLDS)[None, :]
    left = np.where(np.isnan(x)[:, None], trees.missing_left[None, :], left)
    np.testing.assert_array_equal(got, (left * 2.0 ** np.arange(len(SPECIAL_THRESHOLDS))).sum(axis=1))
    zero = bits.view(np.float32) == 0
    assert (got[zero] == got[zero][0]).all()
    assert got[zero][0] == sum(2.0 ** k for k, t in enumerate(SPECIAL_THRESHOLDS) if t >= 0)


# ---------------------------------------------------------------------------------------------
# Leaves: a single tree's class, one feature, the forest's sums


def test_single_tree_ties_go_to_the_first_class():
    """A leaf with tied class fractions: predict() says the first of the tied classes, as scikit-learn's tree."""
    X = np.array([[0.0], [0.0], [0.0], [0.0], [1.0], [1.0], [1.0], [2.0], [2.0]])
    y = np.array([2, 1, 2, 1, 0, 0, 1, 2, 2])
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    assert est.predict(X[:1])[0] == 1 and (est.predict_proba(X[:1])[0] == [0.0, 0.5, 0.5]).all()
    _, emitted = emit(est)
    assert "m_leaf_class" in emitted.text
    got, proba = run_header(emitted.text, "m", X)
    np.testing.assert_array_equal(got, np.searchsorted(est.classes_, est.predict(X)))
    np.testing.assert_allclose(proba, est.predict_proba(X), rtol=1e-7)


@pytest.mark.avr
def test_single_tree_predict_needs_no_soft_float(tmp_path):
    """On AVR a single tree's predict() compares integers and reads a class byte: no soft-float routine is
    linked (the probabilities stay for predict_proba())."""
    need_tool("avr")
    X, y = load_breast_cancer(return_X_y=True)
    est = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, y)
    _, emitted = emit(est)
    (tmp_path / "model.h").write_text(emitted.text)
    (tmp_path / "main.c").write_text('#include "model.h"\nfloat features[M_N_FEATURES];\nvolatile int sink;\n'
                                     "int main(void)\n{\n    sink = m_predict(features);\n    return 0;\n}\n")
    elf = toolchains.compile([tmp_path / "main.c"], tmp_path / "fw.elf", target="avr", include_dirs=[tmp_path])
    symbols = subprocess.run(["avr-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "m_threshold" in emitted.text
    for routine in ("__addsf3", "__lesf2", "__gesf2", "__cmpsf2", "__unordsf2", "__fp_cmp"):
        assert routine not in symbols, routine


@pytest.mark.parametrize("make,nan_aware", [
    (lambda: GradientBoostingRegressor(n_estimators=5, max_depth=2, random_state=0), False),
    (lambda: DecisionTreeRegressor(max_depth=4, random_state=0), True),
], ids=["GradientBoosting", "DecisionTree"])
def test_one_feature_needs_no_feature_table(make, nan_aware):
    """Every split node tests x[0]: no feature table when NaN goes the same way everywhere (always, without
    missing-value support); a NaN-aware tree keeps it for the NaN directions when they differ. (Such regressors
    normally become a step table; this is the node form a classifier of one feature gets.)"""
    X, y = load_diabetes(return_X_y=True)
    est = make().fit(X[:, 2:3], y)
    model, emitted = emit(est, prefer=NODE_FORM)
    lay = plan(model, NODE_FORM).head.layout
    assert not lay.code and model.head.trees.nan_aware == nan_aware
    assert ("m_feature[" in emitted.text) == (len(set(lay.feature.tolist())) > 1)
    if not nan_aware:
        assert "m_feature[" not in emitted.text and "memcpy(&bits, &x[0], sizeof bits);" in emitted.text
    assert host_parity(est, X[:, 2:3], prefer=NODE_FORM).agree == len(X)


def test_forest_predict_sums_fixed_point_without_float():
    """A forest's predict() sums uint32 fixed-point probabilities, its predict_proba() floats; both match."""
    X, y = load_iris(return_X_y=True)
    est = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    _, emitted = emit(est)
    predict = emitted.text.split("static inline int m_predict(")[1].split("\n}\n")[0]
    assert "MICROML_READ_U32(&m_leaf_integer" in predict and "float" not in predict.split("{", 1)[1]
    assert_classifier_parity(est, X)


def test_forest_falls_back_to_float_sums():
    """Without enough fixed-point resolution for the near-tie argument, predict() takes the argmax of the float
    probabilities, still averaged as scikit-learn does."""
    X, y = load_wine(return_X_y=True)
    est = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    _, emitted = emit(est, prefer={"forest_sums": "float"})
    assert "m_leaf_integer" not in emitted.text and "m_predict_proba(x, proba);" in emitted.text
    assert_classifier_parity(est, X, prefer={"forest_sums": "float"})


def test_one_class_classifiers():
    """Fitted on a single class, a tree's and a forest's leaf rows have one column: still [leaf][class] in C."""
    X, _ = load_iris(return_X_y=True)
    for est in (DecisionTreeClassifier().fit(X, np.zeros(len(X))),
                RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.zeros(len(X)))):
        assert host_parity(est, X).agree == len(X)


@pytest.mark.avr
@pytest.mark.simavr
def test_standardised_trees_on_simulated_avr_match_sklearn(tmp_path):
    """Negative and positive features (both integer tests), a single tree's class table and a forest's integer
    sums, on an ATmega328P under simavr."""
    from sklearn.preprocessing import StandardScaler

    from avr_run import avr_outputs

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for est in (DecisionTreeClassifier(random_state=0).fit(X, y),
                RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)):
        _, emitted = emit(est)
        got = avr_outputs(emitted.text, X[::3], tmp_path, model_flash=emitted.table_bytes)
        expected = np.searchsorted(est.classes_, est.predict(X[::3].astype(np.float32).astype(np.float64)))
        assert (got == expected).all(), (type(est).__name__, np.flatnonzero(got != expected))


@pytest.mark.parametrize("make,dataset", [
    (lambda: GradientBoostingClassifier(n_estimators=20, random_state=0), "breast_cancer"),
    (lambda: GradientBoostingClassifier(n_estimators=20, loss="exponential", random_state=0), "breast_cancer"),
    (lambda: GradientBoostingClassifier(n_estimators=20, random_state=0), "wine"),
    (lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0), "breast_cancer"),
    (lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0), "iris"),
], ids=["gb-binary", "gb-exponential", "gb-multiclass", "hgb-binary", "hgb-multiclass"])
def test_boosted_predict_proba_matches_sklearn(make, dataset, tmp_path):
    """The loss's own link: logistic of the score (of twice the score for the exponential loss), softmax of the
    scores for several classes."""
    from model_check import c_predict_proba

    X, y = data(dataset)
    est = make().fit(X, y)
    _, emitted = emit(est)
    assert "void m_predict_proba(const float *x, float *proba)" in emitted.text.split("*/", 1)[0]
    got = c_predict_proba(emitted.text, X, tmp_path)
    np.testing.assert_allclose(got, est.predict_proba(X.astype(np.float32)), rtol=2e-5, atol=1e-6)

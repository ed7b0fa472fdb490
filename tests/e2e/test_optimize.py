"""`target.optimize`: the plan's flash-for-cycles choices, and the written-out linear form `speed` takes.

The written-out form must compute exactly what the table form computes (same terms, same order, the intercept
last): decision values are compared bit for bit, predictions with scikit-learn, on the host and under simavr.
"""

import numpy as np
import pytest
from model_check import CROSS_PARAMS, PROBA_CALLER, c_predict_proba, cross_compile
from sklearn import linear_model as lm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier
from support import need_tool

from microml_build import toolchains
from microml_build.config import load_config
from microml_build.emit.header import emit_header
from microml_build.errors import MicroMLError
from microml_build.ir.forms import KernelForm, LinearForm, TreeForm
from microml_build.lower import lower
from microml_build.pipeline.verify import run_header, verify
from microml_build.plan import plan

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _cases():
    cancer, iris, wine = _scaled(load_breast_cancer), _scaled(load_iris), _scaled(load_wine)
    Xd, yd = load_diabetes(return_X_y=True)
    Xm, ym = make_regression(n_samples=200, n_features=6, n_targets=3, random_state=0)
    raw_cancer = load_breast_cancer(return_X_y=True)
    return {
        "binary-logistic": (lm.LogisticRegression(max_iter=3000), *cancer),
        "multinomial-logistic": (lm.LogisticRegression(max_iter=3000), *iris),
        "ovr-logistic": (OneVsRestClassifier(lm.LogisticRegression(max_iter=3000)), *wine),
        "linear-svc-multiclass": (LinearSVC(), *wine),
        "ridge-classifier": (lm.RidgeClassifier(), *cancer),
        "svc-linear-kernel-binary": (SVC(kernel="linear"), *cancer),       # LinearOvo: support vectors summed away
        "svc-linear-kernel-multiclass": (SVC(kernel="linear"), *wine),
        "regressor": (lm.LinearRegression(), Xd, yd),
        "multi-output-regressor": (lm.Ridge(), Xm, ym),
        # A folded scaler and feature selection: the expression reads the selected columns of x directly.
        "pipeline-selection": (make_pipeline(StandardScaler(), SelectKBest(k=7), lm.LogisticRegression(max_iter=3000)),
                               *raw_cancer),
    }


CASES = _cases()
NAMES = tuple(f"feature {i}" for i in range(64))


def _header(model, optimize):
    planned = plan(model, feature_names=NAMES[:model.n_features], optimize=optimize)
    return planned, emit_header(planned, name="m", file_name="model.h", provenance=[("Test", "optimize")]).text


def _rows(X):
    """The data, and rows a written-out sum must treat as the loop does: zeros, huge values, an infinity."""
    extra = np.zeros((4, X.shape[1]))
    extra[1] = 1e30
    extra[2] = -3.0e38
    extra[3, 0] = np.inf
    return np.r_[X, extra]


@pytest.mark.parametrize("case", sorted(CASES))
def test_written_out_linear_form_equals_the_table_form_bit_for_bit(case):
    need_tool("host")
    est, X, y = CASES[case]
    est.fit(X, y)
    model = lower(est)
    fast_plan, fast = _header(model, "speed")
    table_plan, table = _header(model, "balanced")
    assert isinstance(fast_plan.head, LinearForm) and not isinstance(table_plan.head, LinearForm)
    assert "m_weights[" in table and "m_weights" not in fast      # no weight table: the weights are in the code
    assert fast_plan.code_bytes > 0 and table_plan.code_bytes == 0  # the budget check counts the written-out code
    rows = _rows(X)
    fast_classes, fast_values = run_header(fast, "m", rows)
    table_classes, table_values = run_header(table, "m", rows)
    np.testing.assert_array_equal(fast_classes, table_classes)
    same = (fast_values == table_values) | (np.isnan(fast_values) & np.isnan(table_values))
    assert same.all(), (fast_values[~same.all(axis=1)], table_values[~same.all(axis=1)])
    check = verify(model, fast, "m", est, X)          # and scikit-learn's predictions, row by row
    assert check.agree == check.rows == len(X)


@pytest.mark.parametrize("case", ["binary-logistic", "multinomial-logistic", "ovr-logistic"])
def test_written_out_predict_proba_equals_the_table_form(case, tmp_path):
    est, X, y = CASES[case]
    est.fit(X, y)
    model = lower(est)
    (tmp_path / "fast").mkdir()
    (tmp_path / "table").mkdir()
    fast = c_predict_proba(_header(model, "speed")[1], X, tmp_path / "fast")
    table = c_predict_proba(_header(model, "balanced")[1], X, tmp_path / "table")
    np.testing.assert_array_equal(fast, table)
    np.testing.assert_allclose(fast, est.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("case", ["binary-logistic", "multinomial-logistic", "multi-output-regressor",
                                  "svc-linear-kernel-multiclass"])
@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
def test_written_out_form_compiles_strictly(case, target, lang, tmp_path):
    est, X, y = CASES[case]
    text = _header(lower(est.fit(X, y)), "speed")[1]
    assert cross_compile(text, tmp_path, target, lang).exists()
    if "m_predict_proba" in text:
        (tmp_path / "proba.c").write_text(PROBA_CALLER)
        assert toolchains.compile([tmp_path / "proba.c"], tmp_path / f"proba-{target}-{lang}.elf", target=target,
                                  lang=lang).exists()


@pytest.mark.avr
@pytest.mark.simavr
def test_written_out_form_on_simulated_avr_matches_sklearn(tmp_path):
    from avr_run import avr_outputs

    est, X, y = CASES["binary-logistic"]
    est.fit(X, y)
    _, text = _header(lower(est), "speed")
    got = avr_outputs(text, X, tmp_path)
    expected = est.predict(X.astype(np.float32).astype(np.float64))
    assert (got == expected).all(), np.flatnonzero(got != expected)


def test_the_plan_trades_flash_for_cycles_only_as_asked():
    cancer, iris = _scaled(load_breast_cancer), load_iris(return_X_y=True)

    def form(est, data, optimize):
        return plan(lower(est.fit(*data)), optimize=optimize).head

    # The RBF kernel's exp: balanced takes the faster one only where it saves >= 12% (iris, not breast cancer).
    exps = {(name, o): form(SVC(kernel="rbf"), data, o).exp for name, data in (("cancer", cancer), ("iris", iris))
            for o in ("balanced", "speed", "size")}
    assert exps == {("cancer", "balanced"): "exp_neg", ("cancer", "speed"): "kernel_exp", ("cancer", "size"): "exp_neg",
                    ("iris", "balanced"): "kernel_exp", ("iris", "speed"): "kernel_exp", ("iris", "size"): "exp_neg"}
    # Thresholds in halves: forests unless `size`; a single tree only with `speed`.
    forest = RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0)
    tree = DecisionTreeClassifier(max_depth=5, random_state=0)
    halves = {(name, o): form(est, cancer, o).layout.halves for name, est in (("forest", forest), ("tree", tree))
              for o in ("balanced", "speed", "size")}
    assert all(isinstance(form(est, cancer, "speed"), TreeForm) for est in (forest, tree))
    assert halves == {("forest", "balanced"): True, ("forest", "speed"): True, ("forest", "size"): False,
                      ("tree", "balanced"): False, ("tree", "speed"): True, ("tree", "size"): False}
    # Linear heads are written out only with `speed`.
    assert [type(form(lm.LogisticRegression(), cancer, o)).__name__ for o in ("balanced", "speed", "size")] == \
        ["LinearClassifier", "LinearForm", "LinearClassifier"]
    assert [type(form(SVC(kernel="linear"), iris, o)).__name__ for o in ("balanced", "speed", "size")] == \
        ["LinearOvo", "LinearForm", "LinearOvo"]
    assert isinstance(form(SVC(kernel="rbf"), cancer, "speed"), KernelForm)
    with pytest.raises(ValueError, match="optimize"):
        plan(lower(lm.LogisticRegression().fit(*cancer)), optimize="fast")


def _yaml(tmp_path, optimize_line):
    path = tmp_path / "microml.yaml"
    path.write_text("name: m\ndataset:\n  path: sklearn:iris\ntrain:\n  estimator: "
                    "sklearn.linear_model.LogisticRegression\ntarget:\n  mcu: avr\n" + optimize_line + "output: m.h\n")
    return path


def test_optimize_key_default_choices_and_suggestions(tmp_path):
    assert load_config(_yaml(tmp_path, "")).target.optimize == "balanced"
    for value in ("balanced", "speed", "size"):
        assert load_config(_yaml(tmp_path, f"  optimize: {value}\n")).target.optimize == value
    suggested = (("fast", "speed"), ("O2", "speed"), ("small", "size"), ("Os", "size"), ("default", "balanced"))
    for given, meant in suggested:
        with pytest.raises(MicroMLError) as info:
            load_config(_yaml(tmp_path, f"  optimize: {given}\n"))
        assert info.value.key == "target.optimize" and f"did you mean '{meant}'?" in info.value.fix, info.value.fix


def test_written_out_terms_keep_odd_column_names_inside_their_comments():
    """A column named `a*/b` (or with quotes, a backslash, a tab, non-ASCII) noted beside its term must not end the
    comment: the header compiles and computes what the table form does."""
    need_tool("host")
    est, X, y = CASES["binary-logistic"]
    est.fit(X, y)
    odd = ("a*/b", 'quote"q', "\u00fcn\u00ef \u00b0C", "back\\slash", "tab\there", "x[3] /*trick") + NAMES[6:30]
    texts = [emit_header(plan(lower(est), feature_names=odd, optimize=o), name="m", file_name="model.h",
                         provenance=[("Test", "optimize")]).text for o in ("speed", "balanced")]
    fast, table = (run_header(text, "m", X) for text in texts)
    np.testing.assert_array_equal(fast[0], table[0])
    np.testing.assert_array_equal(fast[1].view(np.uint64), table[1].view(np.uint64))
    assert "a* /b" in texts[0] and "a*/b" not in texts[0]


def test_a_budget_that_speed_overruns_names_the_optimize_key_in_its_fix(tmp_path):
    """200 weights written out (~7 KB of code) overrun a 4 KB budget that the table form (800 B) meets: the fix
    says so, and with `balanced` the same project builds."""
    from microml_build.pipeline.build import Log, build

    rng = np.random.RandomState(0)
    X = rng.rand(80, 200)
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0.5).astype(int))
    yaml = ("name: w\ndataset: {path: d.npz}\ntrain: {estimator: LogisticRegression}\nverify: {measure: false}\n"
            "target: {mcu: avr, optimize: %s, budget: {flash: 4K}}\noutput: w.h\n")
    (tmp_path / "microml.yaml").write_text(yaml % "speed")
    with pytest.raises(MicroMLError, match="budget is 4096 bytes") as err:
        build(tmp_path / "microml.yaml", log=Log(quiet=True))
    assert err.value.key == "target.budget.flash" and "target.optimize: balanced" in err.value.fix, err.value.fix
    (tmp_path / "microml.yaml").write_text(yaml % "balanced")
    build(tmp_path / "microml.yaml", log=Log(quiet=True))
    assert (tmp_path / "w.h").exists()


@pytest.mark.avr
@pytest.mark.parametrize("n", [24, 200])
def test_the_written_out_code_estimate_is_not_below_what_avr_gcc_adds(n):
    """The budget check counts a written-out form's code before (or without) measuring it; on the ATmega328P each
    term beyond the first few costs ~44 B (x[j] past the 6-bit ldd displacement, the weight as four ldi, calls to
    the soft-float multiply and add): the estimate must not fall below what the written-out form adds over the
    table form, or a model over its budget would pass the estimated check."""
    from microml_build.pipeline.measure import measure

    need_tool("avr")
    X = np.random.RandomState(0).normal(size=(60, n))
    model = lower(lm.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))
    estimated, measured = {}, {}
    for optimize in ("speed", "size"):
        planned = plan(model, optimize=optimize)
        emitted = emit_header(planned, name="m", file_name="model.h", provenance=[("Test", "optimize")])
        estimated[optimize] = emitted.table_bytes + planned.code_bytes
        measured[optimize] = measure(emitted.text, "m", X[0], "avr").flash
    added = measured["speed"] - measured["size"]
    assert added <= estimated["speed"] - estimated["size"] <= 1.25 * added + 200, (estimated, measured)


def test_optimize_of_the_wrong_type_says_the_three_choices(tmp_path):
    """`optimize: 3`, a list or true: the fix names the choices, not the key's whole documentation paragraph."""
    for given in ("3", "[speed]", "true", "{speed: 1}"):
        with pytest.raises(MicroMLError, match="expected a string") as info:
            load_config(_yaml(tmp_path, f"  optimize: {given}\n"))
        assert info.value.key == "target.optimize" and "balanced, speed, size" in info.value.fix, info.value.fix
        assert len(info.value.fix) < 100, info.value.fix

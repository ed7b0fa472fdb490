"""Linear classifiers and regressors, SVR/NuSVR with every kernel: host parity, predict_proba, strict cross compiles."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn import linear_model as lm
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine,
                              make_classification, make_regression)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR, LinearSVC, LinearSVR, NuSVR

from microml_build import toolchains
from microml_build.emit.header import emit_header
from microml_build.plan import plan
from microml_build.ir import NEAR_TIE
from microml_build.lower import lower
from microml_build.pipeline.verify import run_header, to_float32
from model_check import CROSS_PARAMS, PROBA_CALLER, c_predict_proba, cross_compile, emit, host_parity

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]   # PassiveAggressive* are deprecated in 1.8

CLASSIFIERS = {
    "LogisticRegression": lambda: lm.LogisticRegression(max_iter=3000),
    "LogisticRegressionCV": lambda: lm.LogisticRegressionCV(Cs=[0.1, 1.0], cv=2, max_iter=3000),
    "LinearSVC": lambda: LinearSVC(),
    "RidgeClassifier": lambda: lm.RidgeClassifier(),
    "RidgeClassifierCV": lambda: lm.RidgeClassifierCV(),
    "SGDClassifier": lambda: lm.SGDClassifier(random_state=0),
    "Perceptron": lambda: lm.Perceptron(random_state=0),
    "PassiveAggressiveClassifier": lambda: lm.PassiveAggressiveClassifier(random_state=0),
}
REGRESSORS = {
    "LinearRegression": lm.LinearRegression, "Ridge": lm.Ridge, "RidgeCV": lm.RidgeCV, "Lasso": lm.Lasso,
    "LassoCV": lm.LassoCV, "ElasticNet": lm.ElasticNet, "ElasticNetCV": lm.ElasticNetCV, "Lars": lm.Lars,
    "LassoLars": lm.LassoLars, "OrthogonalMatchingPursuit": lm.OrthogonalMatchingPursuit,
    "BayesianRidge": lm.BayesianRidge, "ARDRegression": lm.ARDRegression, "HuberRegressor": lm.HuberRegressor,
    "SGDRegressor": lambda: lm.SGDRegressor(random_state=0),
    "PassiveAggressiveRegressor": lambda: lm.PassiveAggressiveRegressor(random_state=0),
    "LinearSVR": lambda: LinearSVR(max_iter=5000),
}
MULTI_OUTPUT = ["LinearRegression", "Ridge", "Lasso", "ElasticNet", "MultiTaskLasso", "MultiTaskElasticNet"]
KERNELS = ["linear", "rbf", "poly", "sigmoid"]


def classification(name, scaled=True):
    """Features and labels; digits is cut to 600 rows (10 classes x 64 features) to keep the test quick."""
    if name == "synthetic":
        X, y = make_classification(n_samples=300, n_features=12, n_informative=6, n_classes=4, random_state=0)
    else:
        loader = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
        X, y = loader[name](return_X_y=True)
        X, y = X[:600], y[:600]
    return (StandardScaler().fit_transform(X) if scaled else X), y


def regression(name):
    if name == "diabetes":
        return load_diabetes(return_X_y=True)
    n_targets = 3 if name == "multioutput" else 1
    X, y = make_regression(n_samples=300, n_features=8, n_targets=n_targets, noise=10.0, bias=40.0, random_state=2)
    return X, y


def assert_parity(est, X):
    result = host_parity(est, X)
    assert result.rows == len(X)
    assert result.agree + len(result.near_ties) == len(X)
    assert result.agree >= len(X) - 1
    return result


@pytest.mark.parametrize("dataset", ["iris", "wine", "breast_cancer", "digits", "synthetic"])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_host_parity(name, dataset):
    X, y = classification(dataset)
    result = assert_parity(CLASSIFIERS[name]().fit(X, y), X)
    assert result.max_decision_error < 1e-5


@pytest.mark.parametrize("dataset", ["wine", "digits"])
@pytest.mark.parametrize("inner", ["LogisticRegression", "LinearSVC", "SGDClassifier"])
def test_one_vs_rest_host_parity(inner, dataset):
    X, y = classification(dataset)
    assert_parity(OneVsRestClassifier(CLASSIFIERS[inner]()).fit(X, y), X)


@pytest.mark.parametrize("dataset", ["diabetes", "synthetic"])
@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor_host_parity(name, dataset):
    X, y = regression(dataset)
    result = host_parity(REGRESSORS[name]().fit(X, y), X)
    assert result.agree == result.rows == len(X)
    assert result.max_abs_error < 1e-3


@pytest.mark.parametrize("name", MULTI_OUTPUT)
def test_multi_output_regressor_host_parity(name):
    X, Y = regression("multioutput")
    est = getattr(lm, name)().fit(X, Y)
    _, emitted = emit(est)
    assert "#define M_N_OUTPUTS 3" in emitted.text
    assert "static inline void m_predict_value(const float *x, float *y)" in emitted.text
    result = host_parity(est, X)
    assert result.agree == len(X)
    assert result.max_abs_error < 1e-3


@pytest.mark.parametrize("dataset", ["diabetes", "synthetic"])
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("cls", [SVR, NuSVR], ids=["SVR", "NuSVR"])
def test_svr_host_parity(cls, kernel, dataset):
    X, y = regression(dataset)
    X = StandardScaler().fit_transform(X)
    est = cls(kernel=kernel, C=100.0, **({"degree": 2} if kernel == "poly" else {})).fit(X, y)
    result = host_parity(est, X)
    assert result.agree == len(X)
    assert result.max_abs_error < 1e-2


def test_svr_unscaled_diabetes_default_gamma():
    """Raw diabetes features are ~0.05, so gamma='scale' is large (~44): the kernel values span many decades."""
    X, y = regression("diabetes")
    assert host_parity(SVR(C=100.0).fit(X, y), X).agree == len(X)


def test_unscaled_breast_cancer_logistic_regression():
    """Raw features up to ~4000: the products dwarf the decision, the near-tie rule must still hold."""
    X, y = classification("breast_cancer", scaled=False)
    # liblinear converges in milliseconds on raw features where lbfgs needs a minute.
    assert_parity(lm.LogisticRegression(solver="liblinear").fit(X, y), X)


def test_string_labels():
    rng = np.random.RandomState(5)
    X = rng.randn(200, 4)
    y = np.array(["calm", "windy", "storm"])[np.argmax(X[:, :3] + 0.5 * rng.randn(200, 3), axis=1)]
    est = lm.LogisticRegression().fit(X, y)
    _, emitted = emit(est)
    for index, label in enumerate(est.classes_):
        assert f"#define M_CLASS_{label.upper()} {index}" in emitted.text
    assert assert_parity(est, X).agree >= len(X) - 1
    binary = lm.RidgeClassifier().fit(X, np.where(y == "calm", "calm", "not calm"))
    assert assert_parity(binary, X).agree >= len(X) - 1


def test_exact_zero_decision_and_argmax_ties():
    """Ties the C must break as scikit-learn does: a binary decision of exactly zero is class 0, and equal
    top decisions go to the lowest class index (numpy argmax). Weights are set by hand so the ties are exact."""
    binary = lm.LogisticRegression().fit([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    binary.coef_, binary.intercept_ = np.array([[1.0, -1.0]]), np.array([0.0])
    X = np.array([[0.5, 0.5], [0.5, 0.25], [0.25, 0.5], [2.0, 2.0]])
    classes, decisions = run_header(emit(binary)[1].text, "m", X)
    assert decisions[:, 0].tolist() == [0.0, 0.25, -0.25, 0.0]
    assert classes.tolist() == binary.predict(X).tolist() == [0, 1, 0, 0]

    multi = lm.RidgeClassifier().fit([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0, 1, 2])
    multi.coef_ = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    multi.intercept_ = np.zeros(3)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [-1.0, 2.0]])
    classes, _ = run_header(emit(multi)[1].text, "m", X)
    assert classes.tolist() == multi.predict(X).tolist() == [0, 2, 0, 0, 2]


@pytest.mark.parametrize("kind", ["classifier", "regressor", "svr"])
def test_folded_feature_selection(kind):
    """A head with `feature_index` (set when a Pipeline's selector is folded) reads only those columns of x."""
    rng = np.random.RandomState(7)
    X = rng.randn(200, 9)
    columns = (7, 1, 4, 2)
    if kind == "classifier":
        est = lm.LogisticRegression().fit(X[:, columns], np.argmax(X[:, [7, 1, 4]], axis=1))
    else:
        y = X[:, columns] @ [3.0, -2.0, 1.0, 0.5] + 0.1 * rng.randn(200)
        est = (lm.Ridge() if kind == "regressor" else SVR(C=10.0)).fit(X[:, columns], y)
    model = lower(est)
    model = replace(model, n_features=X.shape[1], head=replace(model.head, feature_index=columns))
    text = emit_header(plan(model), name="m", file_name="model.h", provenance=[("Test", "e2e")],
                       feature_names=tuple(f"f{i}" for i in range(9))).text
    assert "m_feature_index[4]" in text
    classes, values = run_header(text, "m", X)
    reference, scales = model.decisions(to_float32(X))
    assert (np.abs(values - reference) <= NEAR_TIE * scales).all()
    expected = est.predict(to_float32(X)[:, columns])
    if kind == "classifier":
        assert classes.tolist() == expected.tolist()
    else:
        np.testing.assert_allclose(values[:, 0], expected, rtol=0, atol=1e-4)


PROBA_CASES = {
    "binary": ("breast_cancer", lambda: lm.LogisticRegression(max_iter=3000)),
    "multinomial": ("wine", lambda: lm.LogisticRegression(max_iter=3000)),
    "multinomial-digits": ("digits", lambda: lm.LogisticRegression(max_iter=3000)),
    "one-vs-rest": ("iris", lambda: OneVsRestClassifier(lm.LogisticRegression())),
    "one-vs-rest-binary": ("breast_cancer", lambda: OneVsRestClassifier(lm.LogisticRegressionCV(Cs=[1.0], cv=2))),
}


@pytest.mark.parametrize("case", sorted(PROBA_CASES))
def test_logistic_predict_proba(case, tmp_path):
    """Sigmoid, softmax and one-vs-rest normalised sigmoids, within 1e-5 of scikit-learn's, including rows where
    a naive float32 formula breaks: inputs scaled up 1000x (exp overflows) and rows where every decision is
    about -200 (every sigmoid underflows to 0 in float32, and the one-vs-rest sum with it)."""
    dataset, make = PROBA_CASES[case]
    X, y = classification(dataset)
    est = make().fit(X, y)
    model, emitted = emit(est)
    X = np.concatenate([X, X[:50] * 1000.0])
    if model.head.proba == "logistic_ovr" or model.head.n_outputs == 1:
        # v with <w_k, v> = -1 for every class k: 200 v puts every decision near -200. (Softmax weights sum to
        # zero over the classes, so a multinomial model has no such v; its shift by the largest covers it.)
        weights = model.head.weights
        v = np.linalg.lstsq(weights, -np.ones(len(weights)), rcond=None)[0]
        far = 200.0 * v / np.abs(weights @ v).max()
        X = np.concatenate([X, far[None, :], far[None, :] * 1.1])
        assert (model.decisions(to_float32(X[-2:]))[0] < -150).all()
    got = c_predict_proba(emitted.text, X, tmp_path)
    expected = est.predict_proba(to_float32(X))
    assert got.shape == expected.shape
    assert np.isfinite(got).all() and (got >= 0).all() and (got <= 1).all()
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-5)


CROSS_CASES = {
    "logistic-binary": lambda: lm.LogisticRegression().fit(*classification("breast_cancer")),
    "logistic-multiclass": lambda: lm.LogisticRegression().fit(*classification("iris")),
    "linearsvc-multiclass": lambda: LinearSVC().fit(*classification("wine")),
    "logistic-one-vs-rest": lambda: OneVsRestClassifier(lm.LogisticRegression()).fit(*classification("iris")),
    "ridge": lambda: lm.Ridge().fit(*regression("diabetes")),
    "linear-multioutput": lambda: lm.LinearRegression().fit(*regression("multioutput")),
    "svr-rbf": lambda: SVR().fit(*regression("diabetes")),
    "svr-poly": lambda: SVR(kernel="poly").fit(*regression("synthetic")),
}


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("case", sorted(CROSS_CASES))
def test_strict_cross_compile(case, target, lang, tmp_path):
    _, emitted = emit(CROSS_CASES[case]())
    assert cross_compile(emitted.text, tmp_path, target, lang).exists()
    if "m_predict_proba" in emitted.text:
        # The standard caller does not reach predict_proba; compile a caller of it too.
        (tmp_path / "proba.c").write_text(PROBA_CALLER)
        elf = toolchains.compile([tmp_path / "proba.c"], tmp_path / f"proba-{target}-{lang}.elf",
                                 target=target, lang=lang)
        assert elf.exists()


def test_ram_does_not_grow_with_the_model():
    """The functions keep one float per decision (and the SVR one kernel value at a time): no array sized by
    the features or the support vectors."""
    _, linear = emit(lm.LogisticRegression(max_iter=3000).fit(*classification("digits")))
    _, svr = emit(SVR().fit(*regression("diabetes")))
    for text in (linear.text, svr.text):
        code = text[text.index("static const"):]      # past the API comment, which names x[M_N_FEATURES]
        assert "[M_N_FEATURES]" not in code and "[M_N_SUPPORT_VECTORS]" not in code
    assert "float decision[M_N_DECISIONS];" in linear.text

"""Lowering of linear models and SVR: the IR's float64 reference equals scikit-learn's own outputs to 1e-9."""

import numpy as np
import pytest
from sklearn import linear_model as lm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine, make_regression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVR

from microml_build.errors import MicroMLError
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.svm import KernelSvr
from microml_build.lower import lower

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]   # PassiveAggressive* are deprecated in 1.8

CLASSIFIERS = {
    "LogisticRegression": lambda: lm.LogisticRegression(max_iter=2000),
    "LogisticRegressionCV": lambda: lm.LogisticRegressionCV(Cs=[0.1, 1.0, 10.0], cv=3, max_iter=2000),
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
    "SGDRegressor": lm.SGDRegressor, "PassiveAggressiveRegressor": lm.PassiveAggressiveRegressor,
    "LinearSVR": LinearSVR,
}
MULTI_OUTPUT = ["LinearRegression", "Ridge", "Lasso", "ElasticNet", "MultiTaskLasso", "MultiTaskElasticNet"]


def classification(name):
    loader = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}[name]
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def regression(n_targets=1):
    if n_targets == 1:
        X, y = load_diabetes(return_X_y=True)
        return X * 10, y
    X, y = make_regression(n_samples=150, n_features=6, n_targets=n_targets, noise=5.0, random_state=1)
    return X, y


def assert_close(got, expected):
    expected = np.asarray(expected, dtype=np.float64).reshape(len(got), -1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("dataset", ["iris", "wine", "breast_cancer"])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_decisions_match_sklearn(name, dataset):
    X, y = classification(dataset)
    est = CLASSIFIERS[name]().fit(X, y)
    model = lower(est)
    assert isinstance(model.head, LinearClassifier)
    assert model.labels == tuple(est.classes_.tolist())
    values, scales = model.decisions(X)
    assert_close(values, est.decision_function(X))
    assert model.head.n_outputs == (1 if len(est.classes_) == 2 else len(est.classes_))
    assert np.array_equal(np.asarray(model.labels)[model.head.predict_index(values)], est.predict(X))
    assert (scales >= np.abs(values) - 1e-9).all()
    if name.startswith("LogisticRegression"):
        assert_close(model.head.probabilities(values), est.predict_proba(X))
    else:
        assert model.head.proba == ""


@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
@pytest.mark.parametrize("inner", ["LogisticRegression", "LinearSVC", "RidgeClassifier"])
def test_one_vs_rest_matches_sklearn(inner, dataset):
    """OneVsRestClassifier over a linear classifier stacks its binary weight vectors (1.9's one-vs-rest logistic)."""
    X, y = classification(dataset)
    est = OneVsRestClassifier(CLASSIFIERS[inner]()).fit(X, y)
    model = lower(est)
    values, _ = model.decisions(X)
    assert_close(values, est.decision_function(X))
    assert np.array_equal(np.asarray(model.labels)[model.head.predict_index(values)], est.predict(X))
    if inner == "LogisticRegression":
        assert model.head.proba == ("logistic" if dataset == "breast_cancer" else "logistic_ovr")
        assert_close(model.head.probabilities(values), est.predict_proba(X))
    else:
        assert model.head.proba == ""


def test_one_vs_rest_rejects_non_linear_and_multilabel():
    X, y = classification("iris")
    with pytest.raises(MicroMLError, match="OneVsRestClassifier over SVC"):
        lower(OneVsRestClassifier(SVC()).fit(X, y))
    Y = np.random.RandomState(0).randint(0, 2, (len(X), 3))
    with pytest.raises(MicroMLError, match="multilabel"):
        lower(OneVsRestClassifier(lm.LogisticRegression()).fit(X, Y))


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor_outputs_match_sklearn(name):
    X, y = regression()
    est = REGRESSORS[name]().fit(X, y)
    model = lower(est)
    assert isinstance(model.head, LinearRegressor) and model.task == "regressor"
    values, _ = model.decisions(X)
    assert values.shape == (len(X), 1)
    assert_close(values, est.predict(X))


@pytest.mark.parametrize("name", MULTI_OUTPUT)
def test_multi_output_regressors(name):
    X, y = regression(n_targets=3)
    est = getattr(lm, name)().fit(X, y)
    model = lower(est)
    assert model.head.n_outputs == 3
    assert_close(model.decisions(X)[0], est.predict(X))


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
@pytest.mark.parametrize("cls", [SVR, NuSVR], ids=["SVR", "NuSVR"])
def test_svr_matches_sklearn(cls, kernel):
    X, y = regression()
    est = cls(kernel=kernel, C=50.0).fit(X, y)
    model = lower(est)
    values, _ = model.decisions(X)
    assert_close(values, est.predict(X))
    if kernel == "linear":
        # The support vectors are summed into one weight vector: scikit-learn's own coef_.
        assert isinstance(model.head, LinearRegressor)
        assert_close(model.head.weights, est.coef_)
    else:
        assert isinstance(model.head, KernelSvr)
        assert len(model.head.support_vectors) == len(est.support_) == model.params["n_support"]


def test_lowering_equals_hand_built_ir():
    """Exact data: the IR holds coef_ row by row and one intercept per row, even when fit_intercept=False."""
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 5.0]])
    y = X @ np.array([2.0, -3.0]) + 0.5
    model = lower(lm.LinearRegression().fit(X, y))
    np.testing.assert_allclose(model.head.weights, [[2.0, -3.0]], atol=1e-12)
    np.testing.assert_allclose(model.head.intercept, [0.5], atol=1e-12)

    est = LinearSVC(fit_intercept=False).fit(*classification("iris"))
    assert np.ndim(est.intercept_) == 0 or not np.any(est.intercept_)
    head = lower(est).head
    assert head.intercept.tolist() == [0.0, 0.0, 0.0] and head.weights.shape == (3, 4)


def test_sparsified_coefficients_are_densified():
    X, y = classification("wine")
    est = lm.SGDClassifier(penalty="l1", alpha=0.05, random_state=0).fit(X, y).sparsify()
    model = lower(est)
    assert isinstance(model.head.weights, np.ndarray)
    assert_close(model.decisions(X)[0], est.decision_function(X))


def test_binary_zero_decision_is_class_0():
    """scikit-learn predicts class 1 only for a decision above zero; the IR must agree at exactly zero."""
    est = lm.LogisticRegression().fit([[0.0, 0.0], [1.0, 1.0]], ["no", "yes"])
    est.coef_, est.intercept_ = np.array([[1.0, -1.0]]), np.array([0.0])
    X = np.array([[0.5, 0.5], [0.5, 0.25], [0.25, 0.5]])
    model = lower(est)
    index = model.head.predict_index(model.decisions(X)[0])
    assert index.tolist() == [0, 1, 0]
    assert np.asarray(model.labels)[index].tolist() == est.predict(X).tolist()


def test_svr_without_support_vectors_predicts_the_intercept():
    """A constant target leaves no support vector; every kernel then predicts the intercept."""
    X = np.random.RandomState(0).randn(20, 3)
    est = SVR(kernel="rbf").fit(X, np.full(20, 7.0))
    assert len(est.support_) == 0
    model = lower(est)
    assert isinstance(model.head, LinearRegressor)
    assert_close(model.decisions(X)[0], est.predict(X))


@pytest.mark.parametrize("kernel", ["precomputed", "callable"])
def test_svr_rejects_kernels_without_c_form(kernel):
    X, y = regression()
    est = SVR(kernel=(lambda a, b: a @ b.T) if kernel == "callable" else kernel)
    est.fit(X @ X.T if kernel == "precomputed" else X, y)
    with pytest.raises(MicroMLError, match="kernel"):
        lower(est)


@pytest.mark.parametrize("cls", [lm.RidgeClassifier, lm.RidgeClassifierCV])
def test_multilabel_ridge_classifier_is_rejected(cls):
    X, _ = classification("iris")
    Y = np.random.RandomState(0).randint(0, 2, (len(X), 3))
    with pytest.raises(MicroMLError, match="multilabel"):
        lower(cls().fit(X, Y))

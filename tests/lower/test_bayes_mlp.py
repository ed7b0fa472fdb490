"""Lowering of naive Bayes and MLPs: the IR's float64 reference equals scikit-learn's own outputs to 1e-9, the
tables are the fitted attributes (checked by hand on tiny models), and the scales bound float32 rounding."""

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_regression
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from microml_build.errors import MicroMLError
from microml_build.ir import NEAR_TIE
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.mlp import Mlp
from microml_build.lower import lower

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
NAIVE_BAYES = {
    "GaussianNB": lambda X: GaussianNB(),
    "BernoulliNB": lambda X: BernoulliNB(binarize=float(np.median(X))),
    "MultinomialNB": lambda X: MultinomialNB(),
}


def data(name, scaled=False):
    X, y = LOADERS[name](return_X_y=True)
    X, y = X[:500], y[:500]
    return (StandardScaler().fit_transform(X) if scaled else X), y


def class_index(model, predicted):
    return np.array([model.labels.index(label) for label in predicted.tolist()])


@pytest.mark.parametrize("dataset", sorted(LOADERS))
@pytest.mark.parametrize("name", sorted(NAIVE_BAYES))
def test_naive_bayes_matches_joint_log_likelihood(name, dataset):
    X, y = data(dataset)
    est = NAIVE_BAYES[name](X).fit(X, y)
    model = lower(est)
    values, scales = model.decisions(X)
    np.testing.assert_allclose(values, est.predict_joint_log_proba(X), rtol=1e-9, atol=1e-9)
    assert (scales >= np.abs(values) * (1 - 1e-12)).all()
    np.testing.assert_array_equal(model.head.predict_index(values), class_index(model, est.predict(X)))


def test_bernoulli_binarize_none_on_binary_inputs():
    X, y = data("digits")
    X = (X > 8).astype(float)
    est = BernoulliNB(binarize=None).fit(X, y)
    model = lower(est)
    assert model.head.binarize is None
    np.testing.assert_allclose(model.decisions(X)[0], est.predict_joint_log_proba(X), rtol=1e-9, atol=1e-9)


def test_bernoulli_binarize_none_on_counts_is_refused():
    """Counts with binarize=None give feature probabilities above 1: log(1 - p) is NaN even in scikit-learn."""
    X, y = data("digits")
    with pytest.raises(MicroMLError, match="not 0 or 1") as error:
        lower(BernoulliNB(binarize=None).fit(X, y))
    assert "binarize" in error.value.fix


def test_gaussian_tables_by_hand():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [10.0, 1.0], [14.0, 5.0], [12.0, 3.0]])
    y = np.array(["a", "a", "b", "b", "b"])
    est = GaussianNB(var_smoothing=1e-9).fit(X, y)
    model = lower(est)
    head = model.head
    assert isinstance(head, GaussianNb) and model.labels == ("a", "b") and model.n_features == 2
    epsilon = 1e-9 * X.var(axis=0).max()
    np.testing.assert_allclose(head.theta, [[1.0, 2.0], [12.0, 3.0]])
    np.testing.assert_allclose(head.var, np.array([[1.0, 1.0], [8 / 3, 8 / 3]]) + epsilon, rtol=1e-12)
    np.testing.assert_allclose(head.log_prior, np.log([0.4, 0.6]), rtol=1e-12)
    expected = np.log([0.4, 0.6]) - 0.5 * np.log(2 * np.pi * head.var).sum(axis=1)
    np.testing.assert_allclose(head.log_constant, expected, rtol=1e-12)


def test_bernoulli_tables_by_hand():
    """alpha=1: p = (count + 1) / (n_class + 2); weights log p - log(1 - p); offset log prior + sum log(1 - p)."""
    X = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]], dtype=float)
    y = np.array([0, 0, 1, 1, 1])
    model = lower(BernoulliNB(alpha=1.0, binarize=0.5).fit(X, y))
    head = model.head
    p = np.array([[(2 + 1) / 4, (1 + 1) / 4, (1 + 1) / 4], [(1 + 1) / 5, (0 + 1) / 5, (1 + 1) / 5]])
    assert isinstance(head, DiscreteNb) and head.kind == "bernoulli" and head.binarize == 0.5
    np.testing.assert_allclose(head.weights, np.log(p) - np.log(1 - p), rtol=1e-12)
    np.testing.assert_allclose(head.offset, np.log([0.4, 0.6]) + np.log(1 - p).sum(axis=1), rtol=1e-12)


def test_multinomial_tables_are_the_fitted_log_probabilities():
    X, y = data("digits")
    est = MultinomialNB(alpha=0.5).fit(X, y)
    head = lower(est).head
    assert head.kind == "multinomial" and head.binarize is None
    np.testing.assert_array_equal(head.weights, est.feature_log_prob_)
    np.testing.assert_array_equal(head.offset, est.class_log_prior_)


def test_gaussian_scale_covers_float32_theta_near_a_tiny_variance():
    """Features near 1000 with a spread of 1e-3: theta rounded to float32 is off by 3e-5, a large part of
    x - theta. The scale's 2 |d| |theta| / var term covers that; the squared distances alone would not."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 100)
    X = (1000.0 + 1e-3 * rng.randn(200, 3) + 2e-3 * y[:, None]).astype(np.float32).astype(np.float64)
    model = lower(GaussianNB().fit(X, y))
    head = model.head
    values, scales = model.decisions(X)
    error = np.abs(_gaussian_in_float32(head, X) - values)
    assert (error <= NEAR_TIE * scales).all()
    distances_only = np.abs(head.log_constant) + 0.5 * (((X[:, None, :] - head.theta) ** 2) / head.var).sum(axis=2)
    assert (error > NEAR_TIE * distances_only).any()


def _gaussian_in_float32(head, X):
    """The C code's arithmetic, in NumPy float32: theta, 1/var and the constant rounded, the squares summed."""
    f = np.float32
    theta, inverse, constant = head.theta.astype(f), (1.0 / head.var).astype(f), head.log_constant.astype(f)
    out = np.empty((len(X), head.n_classes))
    for r, x in enumerate(X.astype(f)):
        for c in range(head.n_classes):
            total = f(0)
            for j in range(len(x)):
                d = f(x[j] - theta[c, j])
                total = f(total + f(f(d * d) * inverse[c, j]))
            out[r, c] = f(constant[c] - f(f(0.5) * total))
    return out


def test_gaussian_zero_prior_is_refused():
    X, y = data("iris")
    with pytest.raises(MicroMLError, match="class_prior_"):
        lower(GaussianNB(priors=[0.0, 0.5, 0.5]).fit(X, y))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")    # scikit-learn's own fit takes log 0
def test_multinomial_without_smoothing_is_refused():
    X, y = data("digits")
    with pytest.raises(MicroMLError, match="feature_log_prob_") as error:
        lower(MultinomialNB(alpha=0.0, force_alpha=True).fit(X, y))
    assert "alpha > 0" in error.value.fix


MLP_CASES = {
    "iris-relu-16": ("iris", "relu", (16,)),
    "wine-tanh-16x16": ("wine", "tanh", (16, 16)),
    "breast_cancer-logistic-16": ("breast_cancer", "logistic", (16,)),
    "breast_cancer-identity-8x8": ("breast_cancer", "identity", (8, 8)),
    "digits-relu-32x16": ("digits", "relu", (32, 16)),
    "iris-no-hidden-layer": ("iris", "relu", ()),
}


def mlp_classifier(case):
    dataset, activation, hidden = MLP_CASES[case]
    X, y = data(dataset, scaled=True)
    return MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=150, random_state=0).fit(X, y), X


@pytest.mark.parametrize("case", sorted(MLP_CASES))
def test_mlp_classifier_matches_predict_proba(case):
    est, X = mlp_classifier(case)
    model = lower(est)
    values, scales = model.decisions(X)
    proba = est.predict_proba(X)
    if model.head.output == "logistic":
        assert values.shape == (len(X), 1)
        np.testing.assert_allclose(expit(values[:, 0]), proba[:, 1], rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_allclose(softmax(values, axis=1), proba, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(model.head.predict_index(values), class_index(model, est.predict(X)))
    assert (scales >= np.abs(values) * (1 - 1e-12)).all()


def test_mlp_tables_are_the_transposed_coefs():
    est, _ = mlp_classifier("wine-tanh-16x16")
    model = lower(est)
    head = model.head
    assert isinstance(head, Mlp) and head.activation == "tanh" and head.output == "softmax"
    assert head.hidden_widths == (16, 16) and head.n_outputs == 3 and model.n_features == 13
    for W, b, coef, intercept in zip(head.weights, head.biases, est.coefs_, est.intercepts_):
        np.testing.assert_array_equal(W, coef.T)
        np.testing.assert_array_equal(b, intercept)


@pytest.mark.parametrize("case", sorted(MLP_CASES))
def test_mlp_scale_bounds_float32_forward_pass(case):
    """The C code's arithmetic in NumPy float32 stays within the near-tie band of the float64 reference, and the
    band is narrow: under 1e-3 of the logits' magnitude for the median row."""
    est, X = mlp_classifier(case)
    model = lower(est)
    values, scales = model.decisions(X)
    error = np.abs(_mlp_in_float32(model.head, X) - values)
    assert (error <= NEAR_TIE * scales).all()
    assert np.median(NEAR_TIE * scales.max(axis=1) / np.abs(values).max(axis=1)) < 1e-3


def _mlp_in_float32(head, X):
    f = np.float32
    a = X.astype(f)
    activation = {"relu": lambda z: np.maximum(z, f(0)), "tanh": np.tanh, "identity": lambda z: z,
                  "logistic": lambda z: f(1) / (f(1) + np.exp(-z))}[head.activation]
    for k, (W, b) in enumerate(zip(head.weights, head.biases)):
        W, b = W.astype(f), b.astype(f)
        z = np.zeros((len(a), len(b)), dtype=f)
        for i in range(W.shape[1]):                 # the C order: inputs one by one, then the bias
            z = z + a[:, i:i + 1] * W[:, i]
        z = z + b
        a = activation(z) if k < len(head.weights) - 1 else z
    return a.astype(np.float64)


@pytest.mark.parametrize("activation,loss", [("relu", "squared_error"), ("tanh", "squared_error"),
                                             ("logistic", "poisson")])
def test_mlp_regressor_matches_predict(activation, loss):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = MLPRegressor(hidden_layer_sizes=(16, 8), activation=activation, loss=loss, solver="lbfgs", max_iter=100,
                       random_state=0).fit(X, y)
    model = lower(est)
    assert model.task == "regressor" and model.labels == ()
    assert model.head.output == ("exp" if loss == "poisson" else "identity")
    values, scales = model.decisions(X)
    np.testing.assert_allclose(values[:, 0], est.predict(X), rtol=1e-9)
    assert (scales >= np.abs(values)).all()


def test_mlp_multi_output_regressor_matches_predict():
    X, Y = make_regression(n_samples=120, n_features=5, n_targets=3, random_state=0)
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, random_state=0).fit(X, Y)
    model = lower(est)
    assert model.head.n_outputs == 3
    np.testing.assert_allclose(model.decisions(X)[0], est.predict(X), rtol=1e-9, atol=1e-9)

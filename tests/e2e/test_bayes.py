"""GaussianNB, BernoulliNB, MultinomialNB: host parity, predict_proba, refusals, strict cross compiles."""


import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_classification
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB

from avr_run import avr_outputs
from microml_build import toolchains
from microml_build.errors import MicroMLError
from microml_build.pipeline.verify import to_float32
from model_check import CROSS_PARAMS, PROBA_CALLER, c_predict_proba, cross_compile, emit, host_parity

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
DATASETS = sorted(LOADERS)

# Raw features: naive Bayes is usually trained unscaled, and MultinomialNB needs them non-negative (all are).
# BernoulliNB binarizes at each dataset's median, so both sides of the threshold are well populated.
ESTIMATORS = {
    "GaussianNB": lambda X: GaussianNB(),
    "BernoulliNB": lambda X: BernoulliNB(binarize=float(np.median(X))),
    "MultinomialNB": lambda X: MultinomialNB(),
}


def data(name):
    """Features and labels; digits is cut to 600 rows (10 classes x 64 features) to keep the test quick."""
    X, y = LOADERS[name](return_X_y=True)
    return X[:600], y[:600]


def assert_parity(est, X, max_near_ties=0):
    result = host_parity(est, X)
    assert result.rows == len(X)
    assert result.agree + len(result.near_ties) == len(X)
    assert len(result.near_ties) <= max_near_ties
    assert result.max_decision_error < 1e-5
    return result


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_host_parity(name, dataset):
    X, y = data(dataset)
    assert_parity(ESTIMATORS[name](X).fit(X, y), X)


def test_gaussian_tiny_var_smoothing_gives_huge_but_honest_terms():
    """var_smoothing=1e-15 on digits: pixels that never vary within a class get variances near 1e-14, so a
    single stray pixel adds ~1e15 to a class's distance. The scales grow with it; parity still holds."""
    X, y = data("digits")
    est = GaussianNB(var_smoothing=1e-15).fit(X, y)
    model, _ = emit(est)
    _, scales = model.decisions(to_float32(X))
    assert scales.max() > 1e15
    assert_parity(est, X)


def test_gaussian_overflow_is_refused():
    """A feature that is constant within each class and 1e6 apart between them, with var_smoothing=1e-40:
    the variance becomes 2.5e-29 and (x - theta)^2 / var reaches 4e40 for the wrong class, beyond float32.
    The verification refuses it."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 50)
    X = np.column_stack([rng.randn(100), y * 1e6])
    est = GaussianNB(var_smoothing=1e-40).fit(X, y)
    with pytest.raises(MicroMLError, match="beyond what float32") as error:
        host_parity(est, X)
    assert "var_smoothing" in error.value.fix and "scale the features" in error.value.fix


def test_gaussian_variance_without_float32_reciprocal_is_refused():
    """var_smoothing=1e-50 leaves variances near 1e-50: 1 / var does not fit in a float32."""
    y = np.repeat([0, 1], 20)
    X = np.column_stack([np.linspace(0, 1, 40), y.astype(float)])
    with pytest.raises(MicroMLError, match="no float32 reciprocal") as error:
        emit(GaussianNB(var_smoothing=1e-50).fit(X, y))
    assert "var_smoothing" in error.value.fix


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")     # scikit-learn's own fit takes log 0
def test_bernoulli_without_smoothing_is_refused():
    """alpha=0 with a feature that is always 1 in a class: log(1 - p) = log 0, no float32 table holds it."""
    X = np.array([[1, 0], [1, 1], [0, 1], [0, 0]] * 5)
    y = np.array([0, 0, 1, 1] * 5)
    with pytest.raises(MicroMLError, match="alpha > 0"):
        emit(BernoulliNB(alpha=0.0, force_alpha=True).fit(X, y))


def test_bernoulli_threshold_that_float32_cannot_hold():
    """binarize=0.1: the float32 input 0.1f is 0.10000000149 > 0.1, so scikit-learn counts it as 1. The C code
    compares with the largest float at or below 0.1 (0.099999994f), not 0.1f, and agrees on every row."""
    rng = np.random.RandomState(1)
    X = rng.choice(np.float32([0.0, 0.05, 0.1, 0.2]).astype(np.float64), size=(300, 6))
    y = (X[:, 0] >= 0.1).astype(int) + (X[:, 1] >= 0.1)
    est = BernoulliNB(binarize=0.1).fit(X, y)
    _, emitted = emit(est)
    assert "#define M_BINARIZE 0.099999994f" in emitted.text
    assert (to_float32(X) == np.float32(0.1)).sum() > 100
    result = assert_parity(est, X)
    assert result.agree == len(X)


def test_bernoulli_inputs_already_binary():
    """binarize=None: the inputs multiply the log-odds directly."""
    X, y = data("digits")
    X = (X > 8).astype(float)
    est = BernoulliNB(binarize=None).fit(X, y)
    _, emitted = emit(est)
    assert "BINARIZE" not in emitted.text
    assert_parity(est, X)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_string_labels(name):
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=2)
    X = np.abs(X)                                   # MultinomialNB needs counts-like, non-negative features
    labels = np.array(["rest", "walk", "run"])[y]
    est = ESTIMATORS[name](X).fit(X, labels)
    model, emitted = emit(est)
    assert model.labels == ("rest", "run", "walk")
    assert '"walk",' in emitted.text
    assert_parity(est, X)


@pytest.mark.parametrize("name,dataset", [("GaussianNB", "wine"), ("BernoulliNB", "digits"),
                                          ("MultinomialNB", "breast_cancer")])
def test_predict_proba(name, dataset, tmp_path):
    """exp(jll - logsumexp(jll)) as scikit-learn's, also on rows scaled up 10x (joint log-likelihoods in the
    -1e5s, where a naive exp underflows every class to 0). The float32 joint log-likelihoods are off by a few
    roundings of their magnitude (the IR's scale), and the probabilities by as much; raw breast_cancer
    counts reach 1e4, so there that is 1e-4, while small magnitudes keep it within 1e-6."""
    X, y = data(dataset)
    est = ESTIMATORS[name](X).fit(X, y)
    model, emitted = emit(est)
    X = to_float32(np.concatenate([X, X[:40] * 10.0]))
    got = c_predict_proba(emitted.text, X, tmp_path)
    expected = est.predict_proba(X)
    _, scales = model.decisions(X)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    tolerance = 1e-6 + 2.0 ** -22 * scales.max(axis=1)      # 4 float32 roundings of the largest magnitude
    assert (np.abs(got - expected).max(axis=1) <= tolerance).all()


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("name,dataset", [("GaussianNB", "iris"), ("BernoulliNB", "digits"),
                                          ("MultinomialNB", "wine")])
def test_strict_cross_compile(name, dataset, target, lang, tmp_path):
    X, y = data(dataset)
    _, emitted = emit(ESTIMATORS[name](X).fit(X, y))
    assert cross_compile(emitted.text, tmp_path, target, lang).exists()
    (tmp_path / "proba.c").write_text(PROBA_CALLER)
    assert toolchains.compile([tmp_path / "proba.c"], tmp_path / f"proba-{target}-{lang}.elf",
                              target=target, lang=lang).exists()


def test_ram_is_one_float_per_class():
    """No array sized by the features: the functions keep one float per class and a running sum."""
    X, y = data("digits")
    for est in (GaussianNB(), MultinomialNB()):
        _, emitted = emit(est.fit(X, y))
        code = emitted.text[emitted.text.index("static const"):]   # past the API comment
        assert "[M_N_FEATURES]" not in code
        assert "float jll[M_N_CLASSES];" in code


@pytest.mark.avr
@pytest.mark.simavr
@pytest.mark.parametrize("name,dataset", [("GaussianNB", "iris"), ("BernoulliNB", "digits"),
                                          ("MultinomialNB", "wine")])
def test_on_avr_matches_sklearn(name, dataset, tmp_path):
    """On a simulated ATmega328P (tables read with pgm_read_float): the same class as scikit-learn on every row."""
    X, y = data(dataset)
    X = X[:200]
    est = ESTIMATORS[name](X).fit(X, y[:200])
    _, emitted = emit(est)
    got = avr_outputs(emitted.text, X, tmp_path, model_flash=emitted.table_bytes)
    expected = np.searchsorted(est.classes_, est.predict(to_float32(X)))
    assert (got == expected).all(), np.flatnonzero(got != expected)

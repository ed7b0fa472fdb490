"""Lowering of Pipelines: the folded model's float64 reference equals scikit-learn's pipeline to 1e-9."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, Normalizer, RobustScaler, StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier

from microml_build.errors import MicroMLError
from microml_build.ir.preprocessing import Affine, Normalize, Project, Select
from microml_build.lower import lower
from microml_build.passes.fold import simplify

SCALERS = {"StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler, "MaxAbsScaler": MaxAbsScaler,
           "RobustScaler": RobustScaler}
DATASETS = {"wine": load_wine, "breast_cancer": load_breast_cancer}


def assert_same(values, expected):
    expected = np.asarray(expected, dtype=np.float64).reshape(len(values), -1)
    np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def svc(kernel):
    return SVC(kernel=kernel, decision_function_shape="ovo")


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
@pytest.mark.parametrize("scaler", sorted(SCALERS))
def test_scaler_svc_decisions(scaler, kernel, dataset):
    X, y = DATASETS[dataset](return_X_y=True)
    pipe = make_pipeline(SCALERS[scaler](), svc(kernel)).fit(X, y)
    model = lower(pipe)
    assert model.transforms == () if kernel in ("linear", "rbf") else len(model.transforms) == 1
    assert_same(model.decisions(X)[0], pipe.decision_function(X))


@pytest.mark.parametrize("steps", [
    lambda: [StandardScaler(), PCA(n_components=5), svc("linear")],
    lambda: [StandardScaler(), PCA(n_components=5, whiten=True), svc("rbf")],
    lambda: [StandardScaler(), SelectKBest(k=6), svc("rbf")],
    lambda: [SelectKBest(k=6), MinMaxScaler(), svc("poly")],
    lambda: [VarianceThreshold(0.05), RobustScaler(), svc("linear")],
    lambda: [Normalizer(norm="l1"), svc("rbf")],
    lambda: [MaxAbsScaler(), Normalizer(norm="max"), StandardScaler(), PCA(n_components=3), svc("rbf")],
    lambda: [MinMaxScaler(clip=True), svc("sigmoid")],
    lambda: [StandardScaler(), LogisticRegression(max_iter=5000)],
    lambda: [StandardScaler(), PCA(n_components=4), LogisticRegression(max_iter=5000)],
    lambda: [make_pipeline(StandardScaler(), SelectKBest(k=5)), svc("linear")],
], ids=["pca-linear", "pca-whiten-rbf", "select-rbf", "select-minmax-poly", "variance-robust-linear",
        "normalizer-l1-rbf", "maxabs-normalizer-scaler-pca-rbf", "minmax-clip-sigmoid", "scaler-logistic",
        "scaler-pca-logistic", "nested-pipeline-step"])
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_pipeline_decisions(dataset, steps):
    X, y = DATASETS[dataset](return_X_y=True)
    pipe = make_pipeline(*steps()).fit(X, y)
    model = lower(pipe)
    assert model.n_features == X.shape[1]
    assert_same(model.decisions(X)[0], pipe.decision_function(X))
    assert np.array_equal(np.array(model.labels)[model.head.predict_index(model.decisions(X)[0])], pipe.predict(X))


@pytest.mark.parametrize("steps,folded", [
    (lambda: [StandardScaler(), GaussianNB()], True),
    (lambda: [MinMaxScaler(), MultinomialNB()], True),
    (lambda: [StandardScaler(), BernoulliNB()], False),        # binarize(x > 0) is not linear in x
    (lambda: [StandardScaler(), PCA(n_components=4), MLPClassifier((8,), max_iter=300, random_state=0)], True),
], ids=["scaler-gaussiannb", "minmax-multinomialnb", "scaler-bernoullinb", "scaler-pca-mlp"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_other_families_fold(steps, folded):
    """Naive Bayes: the joint log-likelihoods; MLP: the last layer's pre-activation (its log-odds / logits)."""
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(*steps()).fit(X, y)
    model = lower(pipe)
    assert (model.transforms == ()) == folded
    final, Z = pipe[-1], pipe[:-1].transform(X)
    if hasattr(final, "predict_joint_log_proba"):
        expected = final.predict_joint_log_proba(Z)
    else:
        expected = np.log(final.predict_proba(Z))
        values = model.decisions(X)[0]
        expected = expected - expected.mean(1, keepdims=True)    # softmax logits are defined up to a shift
        assert_same(values - values.mean(1, keepdims=True), expected)
        return
    assert_same(model.decisions(X)[0], expected)


@pytest.mark.parametrize("final", [lambda: SVR(), lambda: Ridge()], ids=["SVR", "Ridge"])
def test_regressor_pipeline(final):
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), final()).fit(X, y)
    model = lower(pipe)
    assert model.transforms == ()
    assert_same(model.decisions(X)[0], pipe.predict(X))


def test_rbf_fold_puts_the_support_vectors_back_in_raw_units():
    """o + sv / s of a standardised training row is the raw training row; the weights are 1 / std^2."""
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), svc("rbf")).fit(X, y)
    head = lower(pipe).head
    np.testing.assert_allclose(head.support_vectors, X[pipe[-1].support_], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(head.feature_weights, 1.0 / pipe[0].scale_ ** 2, rtol=1e-12)


def test_selection_becomes_an_index():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SelectKBest(k=10), svc("linear")).fit(X, y)
    model = lower(pipe)
    assert model.transforms == ()
    assert model.head.feature_index == tuple(np.flatnonzero(pipe[1].get_support()))
    assert model.head.weights.shape == (1, 10)


def test_identity_scaler_disappears():
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(with_mean=False, with_std=False), svc("rbf")).fit(X, y)
    head = lower(pipe).head
    assert head.feature_weights is None
    np.testing.assert_array_equal(head.support_vectors, pipe[-1].support_vectors_)


def test_simplify_is_exact_and_moves_the_selection_first():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 8) * 10 + 3
    chain = [Affine(rng.randn(8), rng.rand(8) + 0.5), Select((7, 1, 2, 5, 6)),
             Affine(rng.randn(5), rng.rand(5) + 0.5),
             Project(rng.randn(5), rng.randn(4, 5), np.zeros(4)), Affine(rng.randn(4), rng.rand(4) + 0.5),
             Select((3, 0)), Normalize("l2"), Affine(rng.randn(2), rng.rand(2) + 0.5)]
    simple = simplify(chain)
    assert [type(t) for t in simple] == [Select, Project, Normalize, Affine]
    expected, got = X, X
    for t in chain:
        expected = t.apply(expected)
    for t in simple:
        got = t.apply(got)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def boundary_rows(model, X):
    """For every split, a data row with the split's feature at the folded threshold and one float32 above."""
    trees = model.head.trees
    rows = []
    for node in np.flatnonzero(np.isfinite(trees.threshold)):
        t = np.float32(trees.threshold[node])
        for value in (t, np.nextafter(t, np.float32(np.inf))):
            row = X[node % len(X)].copy()
            row[trees.feature[node]] = value
            rows.append(row)
    return np.asarray(np.array(rows), dtype=np.float32).astype(np.float64)


@pytest.mark.parametrize("final", [
    lambda: DecisionTreeClassifier(random_state=0), lambda: RandomForestClassifier(10, random_state=0),
    lambda: HistGradientBoostingClassifier(max_iter=10),
], ids=["DecisionTree", "RandomForest", "HistGradientBoosting"])
@pytest.mark.parametrize("scaler", ["StandardScaler", "MinMaxScaler"])
def test_tree_thresholds_fold_exactly_at_the_boundary(scaler, final):
    """Folded thresholds send every float32 input the way scikit-learn's scaled comparison does, even at x*."""
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(SCALERS[scaler](), final()).fit(X, y)
    model = lower(pipe)
    assert model.transforms == ()
    rows = boundary_rows(model, X)
    values = model.decisions(rows)[0]
    expected = pipe.decision_function(rows) if hasattr(pipe[-1], "decision_function") else pipe.predict_proba(rows)
    assert_same(values, expected)


def test_unsupported_step_and_passthrough_final():
    X, y = load_wine(return_X_y=True)
    from sklearn.preprocessing import QuantileTransformer

    with pytest.raises(MicroMLError, match="QuantileTransformer.*not supported"):
        lower(make_pipeline(QuantileTransformer(n_quantiles=50), svc("rbf")).fit(X, y))
    with pytest.raises(MicroMLError, match="passthrough"):
        lower(Pipeline([("scale", StandardScaler()), ("end", "passthrough")]).fit(X, y))

"""Pipelines: scalers, Normalizer, PCA and feature selectors before a model; host parity, folding, cross compiles."""

import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (MaxAbsScaler, MinMaxScaler, Normalizer, QuantileTransformer, RobustScaler,
                                   StandardScaler)
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from microml_build import toolchains
from microml_build.errors import MicroMLError
from microml_build.lower import lower
from microml_build.pipeline.verify import to_float32
from model_check import CROSS_PARAMS, cross_compile, emit, host_parity
from support import need_tool

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}
SCALERS = {"StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler, "MaxAbsScaler": MaxAbsScaler,
           "RobustScaler": RobustScaler}


def raw(name):
    """Unscaled features: the realistic case a scaler in the Pipeline is for."""
    return DATASETS[name](return_X_y=True)


def check_parity(pipe, X):
    result = host_parity(pipe, X)
    assert result.rows == len(X)
    assert result.agree + len(result.near_ties) == len(X)
    assert result.agree >= len(X) - 1
    assert result.max_decision_error < 1e-5
    return result


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
@pytest.mark.parametrize("scaler", sorted(SCALERS))
def test_scaler_svc_host_parity(scaler, kernel, dataset):
    X, y = raw(dataset)
    check_parity(make_pipeline(SCALERS[scaler](), SVC(kernel=kernel)).fit(X, y), X)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("whiten", [False, True], ids=["plain", "whiten"])
def test_pca_svc(whiten, kernel):
    X, y = raw("breast_cancer")
    pipe = make_pipeline(StandardScaler(), PCA(n_components=5, whiten=whiten), SVC(kernel=kernel)).fit(X, y)
    check_parity(pipe, X)
    model, emitted = emit(pipe)
    # A projection before a linear head multiplies into its weights; before an RBF kernel it stays in C.
    assert ("m_impl_transform" in emitted.text) == (kernel == "rbf")


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
def test_select_k_best_reads_all_30_features(kernel):
    X, y = raw("breast_cancer")
    pipe = make_pipeline(StandardScaler(), SelectKBest(k=10), SVC(kernel=kernel)).fit(X, y)
    model, emitted = emit(pipe)
    assert model.n_features == 30 and "#define M_N_FEATURES 30" in emitted.text
    check_parity(pipe, X)
    if kernel != "poly":   # folded: the head reads the 10 columns of x in place, no copy
        assert "m_feature_index[10]" in emitted.text and "m_impl_transform" not in emitted.text


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_normalizer_with_a_zero_row(dataset, norm):
    X, y = raw(dataset)
    pipe = make_pipeline(Normalizer(norm=norm), SVC(kernel="rbf", gamma=10.0)).fit(X, y)
    X = np.vstack([X, np.zeros(X.shape[1])])       # norm 0: scikit-learn leaves the row as it is
    check_parity(pipe, X)


@pytest.mark.parametrize("steps", [
    lambda: [StandardScaler(), PCA(n_components=4), SVC(kernel="rbf")],
    lambda: [MinMaxScaler(), SelectKBest(k=8), SVC(kernel="poly")],
    lambda: [Normalizer(), StandardScaler(), PCA(n_components=3, whiten=True), SVC(kernel="rbf")],
    lambda: [RobustScaler(), Normalizer(), StandardScaler(), SVC(kernel="sigmoid", gamma=0.01)],
    lambda: [MinMaxScaler(clip=True), SVC(kernel="poly")],
    lambda: [("scale", StandardScaler()), ("skip", "passthrough"), ("svc", SVC())],
], ids=["scaler-pca-rbf", "minmax-select-poly", "normalizer-scaler-pca-rbf", "robust-normalizer-scaler-sigmoid",
        "minmax-clip-poly", "passthrough-step"])
def test_multi_step(steps):
    X, y = raw("wine")
    built = steps()
    pipe = Pipeline(built) if isinstance(built[0], tuple) else make_pipeline(*built)
    check_parity(pipe.fit(X, y), X)


def test_variance_threshold_digits_and_string_labels():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y[:400]]
    pipe = make_pipeline(VarianceThreshold(), StandardScaler(), SVC()).fit(X, y)
    model, emitted = emit(pipe)
    assert model.n_features == 64 and "m_impl_transform" not in emitted.text
    assert check_parity(pipe, X).agree == len(X)


@pytest.mark.parametrize("final", [
    lambda: SVC(kernel="linear"), lambda: SVC(kernel="rbf"), lambda: LogisticRegression(max_iter=5000),
    lambda: DecisionTreeClassifier(random_state=0), lambda: HistGradientBoostingClassifier(max_iter=10),
    lambda: GaussianNB(), lambda: MLPClassifier((16,), max_iter=300, random_state=0),
], ids=["SVC-linear", "SVC-rbf", "LogisticRegression", "DecisionTree", "HistGradientBoosting", "GaussianNB", "MLP"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_standard_scaler_is_folded(final):
    """The scaler vanishes into the model: no transform, no extra buffer, and still exact parity."""
    X, y = raw("breast_cancer")
    pipe = make_pipeline(StandardScaler(), final()).fit(X, y)
    model, emitted = emit(pipe)
    assert model.transforms == ()
    assert "m_impl_transform" not in emitted.text and "float z[" not in emitted.text
    check_parity(pipe, X)


@pytest.mark.parametrize("steps", [
    lambda: [MinMaxScaler(), MultinomialNB()],
    lambda: [StandardScaler(), PCA(n_components=5), MLPClassifier((8,), max_iter=300, random_state=0)],
    lambda: [StandardScaler(), SelectKBest(k=6), LogisticRegression(max_iter=5000)],
], ids=["minmax-multinomialnb", "scaler-pca-mlp", "scaler-select-logistic"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_other_families(steps):
    X, y = raw("wine")
    pipe = make_pipeline(*steps()).fit(X, y)
    assert lower(pipe).transforms == ()
    check_parity(pipe, X)


def test_regressor_pipeline():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(RobustScaler(), PCA(n_components=6), Ridge()).fit(X, y)
    model, emitted = emit(pipe)
    assert model.transforms == () and "m_impl_transform" not in emitted.text
    assert host_parity(pipe, X).agree == len(X)


PROBA_HARNESS = """\
#include <stdio.h>
#include "model.h"

int main(void)
{
    float x[M_N_FEATURES], proba[M_N_CLASSES];
    while (1) {
        for (int j = 0; j < M_N_FEATURES; j++) {
            if (scanf("%a", &x[j]) != 1) {
                return 0;
            }
        }
        m_predict_proba(x, proba);
        for (int c = 0; c < M_N_CLASSES; c++) {
            printf("%a ", (double)proba[c]);
        }
        printf("\\n");
    }
}
"""


def test_predict_proba_through_the_transform(tmp_path):
    """Every public function of the head gets a wrapper, predict_proba included (Normalizer cannot fold)."""
    X, y = raw("wine")
    pipe = make_pipeline(Normalizer(), StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, y)
    _, emitted = emit(pipe)
    assert "static inline void m_predict_proba(const float *x, float *proba) {" in emitted.text
    need_tool("host")
    (tmp_path / "model.h").write_text(emitted.text)
    (tmp_path / "proba.c").write_text(PROBA_HARNESS)
    program = toolchains.compile([tmp_path / "proba.c"], tmp_path / "proba", target="host", lang="c")
    rows = "\n".join(" ".join(float(v).hex() for v in row) for row in np.asarray(X, dtype=np.float32))
    out = subprocess.run([str(program)], input=rows + "\n", capture_output=True, text=True, check=True).stdout
    got = np.array([[float.fromhex(v) for v in line.split()] for line in out.splitlines()])
    np.testing.assert_allclose(got, pipe.predict_proba(to_float32(X)), rtol=0, atol=1e-5)


def test_poly_kernel_keeps_the_transform():
    X, y = raw("breast_cancer")
    model, emitted = emit(make_pipeline(StandardScaler(), SVC(kernel="poly")).fit(X, y))
    assert len(model.transforms) == 1
    assert "static inline void m_impl_transform(const float *x, float *z)" in emitted.text
    assert "float z[M_IMPL_CORE_N_FEATURES];" in emitted.text and "#define M_N_FEATURES 30" in emitted.text


def test_unsupported_step_lists_the_supported_ones():
    X, y = raw("iris")
    pipe = make_pipeline(QuantileTransformer(n_quantiles=20), SVC()).fit(X, y)
    with pytest.raises(MicroMLError) as error:
        emit(pipe)
    assert "QuantileTransformer" in str(error.value) and "StandardScaler" in str(error.value)


CROSS_CASES = {
    "scaler-rbf-folded": lambda: [StandardScaler(), SVC(kernel="rbf")],
    "scaler-poly-transform": lambda: [StandardScaler(), SVC(kernel="poly")],
    "select-linear-index": lambda: [StandardScaler(), SelectKBest(k=10), SVC(kernel="linear")],
    "normalizer-pca-scratch": lambda: [Normalizer(), StandardScaler(), PCA(n_components=5), SVC(kernel="rbf")],
}


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("case", sorted(CROSS_CASES))
def test_strict_cross_compile(case, target, lang, tmp_path):
    X, y = raw("breast_cancer")
    _, emitted = emit(make_pipeline(*CROSS_CASES[case]()).fit(X, y))
    assert cross_compile(emitted.text, tmp_path, target, lang).exists()

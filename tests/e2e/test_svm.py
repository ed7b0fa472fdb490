"""Every SVC/NuSVC kernel, binary and one-vs-one multiclass: host parity and strict cross compiles."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, NuSVC

from model_check import CROSS_PARAMS, cross_compile, emit, host_parity

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}
KERNELS = ["linear", "rbf", "poly", "sigmoid"]


def data(name, scaled=True):
    X, y = DATASETS[name](return_X_y=True)
    return (StandardScaler().fit_transform(X) if scaled else X), y


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("cls", [SVC, NuSVC], ids=["SVC", "NuSVC"])
def test_host_parity(cls, kernel, dataset):
    X, y = data(dataset)
    est = cls(kernel=kernel, **({"nu": 0.3} if cls is NuSVC else {})).fit(X, y)
    result = host_parity(est, X)
    assert result.rows == len(X)
    assert result.agree + len(result.near_ties) == len(X)
    assert result.agree >= len(X) - 1
    assert result.max_decision_error < 1e-5


def test_unscaled_breast_cancer_default_gamma():
    """The headline case: raw features (up to ~4000), gamma='scale' -> a tiny gamma."""
    X, y = data("breast_cancer", scaled=False)
    est = SVC().fit(X, y)
    result = host_parity(est, X)
    assert result.agree == len(X)


def test_string_labels_and_vote_ties():
    """Four classes, string labels, small C so some votes tie: the lowest index must win, as in libsvm."""
    rng = np.random.RandomState(3)
    X = rng.randn(240, 3)
    y = np.array(["north", "east", "south", "west"])[rng.randint(0, 4, 240)]
    est = SVC(kernel="rbf", C=0.5).fit(X, y)
    model, _ = emit(est)
    values, _ = model.decisions(X)
    votes = np.zeros((len(X), 4), int)
    pair = 0
    for i in range(4):
        for j in range(i + 1, 4):
            votes[:, i] += values[:, pair] > 0
            votes[:, j] += values[:, pair] <= 0
            pair += 1
    assert (np.sort(votes, 1)[:, -1] == np.sort(votes, 1)[:, -2]).any(), "data should produce vote ties"
    assert host_parity(est, X).agree == len(X)


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
def test_strict_cross_compile(dataset, kernel, target, lang, tmp_path):
    X, y = data(dataset)
    _, emitted = emit(SVC(kernel=kernel).fit(X, y))
    assert cross_compile(emitted.text, tmp_path, target, lang).exists()


def test_multiclass_ram_is_per_pair_not_per_support_vector():
    """The one-vs-one code keeps one float per class pair: no array sized by the support vectors."""
    X, y = data("wine")
    _, emitted = emit(SVC().fit(X, y))
    text = emitted.text
    assert "float decision[M_N_PAIRS]" in text
    assert "[M_N_SUPPORT_VECTORS]" not in text[text.index("static inline"):]

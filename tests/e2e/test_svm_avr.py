"""SVMs on a simulated ATmega328P: parity with scikit-learn, and model tables in flash, not RAM."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from avr_run import avr_outputs
from microml_build import toolchains
from model_check import cross_compile, emit


@pytest.mark.avr
@pytest.mark.simavr
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
def test_iris_on_avr_matches_sklearn(kernel, tmp_path):
    X, y = load_iris(return_X_y=True)
    est = SVC(kernel=kernel, gamma="scale").fit(X, y)
    model, emitted = emit(est)
    got = avr_outputs(emitted.text, X, tmp_path, model_flash=emitted.table_bytes)
    expected = np.searchsorted(est.classes_, est.predict(X.astype(np.float32).astype(np.float64)))
    assert (got == expected).all(), np.flatnonzero(got != expected)


@pytest.mark.avr
@pytest.mark.simavr
def test_breast_cancer_rbf_on_avr_matches_sklearn(tmp_path):
    """The headline case: raw breast-cancer features, default rbf SVC, the held-out rows."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    est = SVC().fit(X_train, y_train)
    _, emitted = emit(est)
    got = avr_outputs(emitted.text, X_test, tmp_path, model_flash=emitted.table_bytes)
    expected = est.predict(X_test.astype(np.float32).astype(np.float64))
    assert (got == expected).all()


@pytest.mark.avr
def test_avr_model_tables_live_in_flash(tmp_path):
    """avr-size: the support vectors are in .text (PROGMEM); .data/.bss hold nothing of the model."""
    X, y = load_breast_cancer(return_X_y=True)
    _, emitted = emit(SVC().fit(X, y))
    elf = cross_compile(emitted.text, tmp_path, "avr", "c")
    sizes = toolchains.section_sizes(elf, "avr")
    assert emitted.table_bytes > 10_000
    assert sizes["text"] > emitted.table_bytes
    # RAM holds only the caller's own globals in model_check.CALLER: 30 features + one volatile float.
    assert sizes["data"] == 0 and sizes["bss"] == 4 * 30 + 4, sizes

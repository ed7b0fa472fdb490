"""The benchmark cases: dataset, split, scaling and estimator, fitted the same way for every converter.

Features are standardised for every case but the raw ones: a StandardScaler is fitted on the
training rows and every converter gets the scaled features (as float32), so converters without
Pipeline support compete on exactly the same estimator. MicroML additionally runs the headline case
as a Pipeline(StandardScaler, SVC) on the raw features, when its lowering supports Pipeline. Raw
cases (`raw=True`) fit the estimator on the unscaled features, as users who skip the scaler do.
Split: 75/25, random_state=0 (not stratified, as train_test_split defaults).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

SPLIT = dict(test_size=0.25, random_state=0)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    return load_breast_cancer(return_X_y=True)


def _iris():
    from sklearn.datasets import load_iris
    return load_iris(return_X_y=True)


def _wine():
    from sklearn.datasets import load_wine
    return load_wine(return_X_y=True)


DATASETS = {"breast_cancer": _breast_cancer, "iris": _iris, "wine": _wine}


def _svc(**params):
    def make():
        from sklearn.svm import SVC
        return SVC(**params)
    return make


def _tree():
    from sklearn.tree import DecisionTreeClassifier
    return DecisionTreeClassifier(random_state=0)


def _forest(n_estimators: int = 10, max_depth: int = 6):
    def make():
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
    return make


def _logreg():
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(max_iter=1000)


def _mlp(hidden=(16,)):
    def make():
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(hidden_layer_sizes=hidden, max_iter=2000, random_state=0)
    return make


@dataclass(frozen=True)
class Case:
    name: str
    dataset: str
    make: Callable[[], object]     # a fresh, unfitted estimator
    title: str                     # what the table heading says
    headline: bool = False
    pipeline: bool = False         # also run MicroML on Pipeline(StandardScaler, estimator) with raw features
    train_rows: int | None = None  # fit on only the first n training rows (model-size sweeps)
    raw: bool = False              # unscaled features (no StandardScaler)

    @cached_property
    def data(self) -> "Fitted":
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = DATASETS[self.dataset]()
        X_train, X_test, y_train, y_test = train_test_split(X, y, **SPLIT)
        if self.train_rows is not None:
            X_train, y_train = X_train[:self.train_rows], y_train[:self.train_rows]
        scaler = StandardScaler(with_mean=not self.raw, with_std=not self.raw).fit(X_train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: these are size benchmarks
            estimator = self.make().fit(scaler.transform(X_train), y_train)
            pipeline = make_pipeline(StandardScaler(), self.make()).fit(X_train, y_train) if self.pipeline else None
        X_test_scaled = scaler.transform(X_test)
        return Fitted(
            estimator=estimator, pipeline=pipeline,
            X_train=scaler.transform(X_train), X_test=X_test_scaled, X_test_raw=X_test,
            expected=estimator.predict(X_test_scaled),
            expected_pipeline=None if pipeline is None else pipeline.predict(X_test),
            accuracy=float(np.mean(estimator.predict(X_test_scaled) == y_test)),
            n_train=len(X_train),
        )


@dataclass(frozen=True)
class Fitted:
    estimator: object
    pipeline: object | None
    X_train: np.ndarray         # the rows the estimator was fitted on (fixed point scales its inputs from them)
    X_test: np.ndarray          # standardised test rows (float64; the firmware gets them as float32)
    X_test_raw: np.ndarray
    expected: np.ndarray        # scikit-learn's predict() on X_test: what agreement is measured against
    expected_pipeline: np.ndarray | None
    accuracy: float
    n_train: int


# gamma is explicit because micromlgen refuses gamma='scale'; 1/n_features is exactly what
# 'scale' gives on standardised features (variance 1), so the model is sklearn's default one.
CASES = {c.name: c for c in [
    Case("bc_svc_rbf", "breast_cancer", _svc(kernel="rbf", gamma=1 / 30),
         "breast_cancer, SVC(kernel='rbf', gamma=1/30)", headline=True, pipeline=True),
    # The linear kernel ignores gamma; it is set only because micromlgen asserts on 'scale' for every kernel.
    Case("bc_svc_linear", "breast_cancer", _svc(kernel="linear", gamma=1 / 30),
         "breast_cancer, SVC(kernel='linear') (gamma=1/30 set, unused, for micromlgen)"),
    Case("iris_svc_rbf", "iris", _svc(kernel="rbf", gamma=1 / 4), "iris, SVC(kernel='rbf', gamma=1/4), one-vs-one"),
    Case("wine_svc_rbf", "wine", _svc(kernel="rbf", gamma=1 / 13), "wine, SVC(kernel='rbf', gamma=1/13), one-vs-one"),
    # What users train without a scaler: 31 KB of float32 support vectors, more than an Uno's flash.
    Case("bc_svc_rbf_raw", "breast_cancer", _svc(kernel="rbf", gamma=0.001, C=35),
         "breast_cancer, raw features, SVC(kernel='rbf', gamma=0.001, C=35)", raw=True),
    Case("bc_tree", "breast_cancer", _tree, "breast_cancer, DecisionTreeClassifier(random_state=0)"),
    Case("iris_tree", "iris", _tree, "iris, DecisionTreeClassifier(random_state=0)"),
    Case("bc_forest", "breast_cancer", _forest(), "breast_cancer, RandomForestClassifier(10 trees, max_depth=6)"),
    Case("bc_logreg", "breast_cancer", _logreg, "breast_cancer, LogisticRegression()"),
    Case("bc_mlp", "breast_cancer", _mlp(), "breast_cancer, MLPClassifier(hidden_layer_sizes=(16,))"),
]}

QUICK_CASE = "bc_svc_linear"

# MicroML's lossy forms, run next to its float header for the SVM cases: converter key -> target.precision.
VARIANTS = {"microml-int16": "int16-vectors", "microml-fixed16": "fixed16"}


SPEED = "microml-speed"      # target.optimize: speed


def variants(case: Case) -> list[str]:
    """The MicroML variant keys that apply to `case`: the packed and integer forms for SVMs (a linear kernel has no
    support vectors to pack); `target.optimize: speed` where its header differs from the default's."""
    est = case.make()
    keys = [] if type(est).__name__ not in ("SVC", "NuSVC") else [
        key for key in VARIANTS if not (key == "microml-int16" and est.kernel == "linear")]
    return keys + ([SPEED] if speed_differs(case) else [])


def speed_differs(case: Case) -> bool:
    """Whether `target.optimize: speed` writes another header for `case` than the default's (a float model that
    fits the chip)."""
    from microml_build.emit.header import emit_header
    from microml_build.lower import lower
    from microml_build.plan import plan

    model = lower(case.data.estimator)
    emitted = [emit_header(plan(model, optimize=o), name="m", file_name="model.h", provenance=[("Benchmark", "")])
               for o in ("balanced", "speed")]
    # A float model whose tables leave no room on the ATmega328P (32 KB, less the boot loader and the firmware) runs
    # packed or in fixed point instead (the raw SVC): no float form to speed up.
    return emitted[0].text != emitted[1].text and emitted[0].table_bytes < 30 * 1024


def size_sweep() -> list[tuple[str, Case]]:
    """Same family, growing model: MicroML's AVR stack should not grow with it (issue target)."""
    sweep = []
    for rows in (40, 100, 200, None):
        sweep.append(("rbf SVC", Case(f"sweep_svc_{rows or 'all'}", "breast_cancer", _svc(kernel="rbf", gamma=1 / 30),
                                      f"SVC rbf, {rows or 'all'} training rows", train_rows=rows)))
    for trees in (3, 10, 30):
        sweep.append(("random forest", Case(f"sweep_forest_{trees}", "breast_cancer", _forest(trees, 6),
                                            f"RandomForest {trees} trees")))
    for hidden in (4, 16, 64):
        sweep.append(("MLP", Case(f"sweep_mlp_{hidden}", "breast_cancer", _mlp((hidden,)), f"MLP ({hidden},)")))
    return sweep

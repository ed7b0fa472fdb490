"""The README's supported-model table: every registered estimator on one example, measured.

For each estimator MicroML supports: fit it on one scikit-learn data set (75/25 split,
random_state=0), lower and emit the header, verify it against scikit-learn on every row
with the host compiler, and measure flash, static RAM, peak stack and cycles of one
inference on an ATmega328P (avr-gcc -Os, simavr). Prints a Markdown table.

    python benchmarks/model_table.py          # prints it and writes benchmarks/model_table.md

A test checks that every estimator in the registry has a row here, so the table cannot
silently miss one.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn import (calibration, compose, datasets, ensemble, linear_model, multiclass, naive_bayes,  # noqa: E402
                     neural_network, svm, tree)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.experimental import enable_halving_search_cv  # noqa: E402,F401
from sklearn.model_selection import (GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV,  # noqa: E402
                                     RandomizedSearchCV, train_test_split)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from microml_build.emit.header import emit_header  # noqa: E402
from microml_build.plan import plan  # noqa: E402
from microml_build.lower import LOWERINGS, lower  # noqa: E402
from microml_build.pipeline.measure import can_measure, measure  # noqa: E402
from microml_build.pipeline.verify import verify  # noqa: E402

S = StandardScaler
# estimator class name -> (data set, how to build it). Scaled where the model needs it.
EXAMPLES = {
    "SVC": ("breast_cancer", lambda: make_pipeline(S(), svm.SVC())),
    "NuSVC": ("iris", lambda: svm.NuSVC(nu=0.3)),
    "LinearSVC": ("breast_cancer", lambda: make_pipeline(S(), svm.LinearSVC())),
    "LogisticRegression": ("breast_cancer", lambda: make_pipeline(S(), linear_model.LogisticRegression())),
    "LogisticRegressionCV": ("iris", lambda: linear_model.LogisticRegressionCV(max_iter=1000)),
    "RidgeClassifier": ("wine", lambda: make_pipeline(S(), linear_model.RidgeClassifier())),
    "RidgeClassifierCV": ("wine", lambda: make_pipeline(S(), linear_model.RidgeClassifierCV())),
    "SGDClassifier": ("breast_cancer", lambda: make_pipeline(S(), linear_model.SGDClassifier(random_state=0))),
    "Perceptron": ("iris", lambda: make_pipeline(S(), linear_model.Perceptron(random_state=0))),
    "PassiveAggressiveClassifier": ("iris", lambda: make_pipeline(
        S(), linear_model.PassiveAggressiveClassifier(random_state=0))),
    "OneVsRestClassifier": ("iris", lambda: multiclass.OneVsRestClassifier(linear_model.LogisticRegression(
        max_iter=1000))),
    "LinearRegression": ("diabetes", linear_model.LinearRegression),
    "Ridge": ("diabetes", linear_model.Ridge),
    "RidgeCV": ("diabetes", linear_model.RidgeCV),
    "Lasso": ("diabetes", lambda: linear_model.Lasso(alpha=0.1)),
    "LassoCV": ("diabetes", lambda: linear_model.LassoCV(random_state=0)),
    "ElasticNet": ("diabetes", lambda: linear_model.ElasticNet(alpha=0.01)),
    "ElasticNetCV": ("diabetes", lambda: linear_model.ElasticNetCV(random_state=0)),
    "MultiTaskLasso": ("linnerud", lambda: linear_model.MultiTaskLasso(alpha=0.1)),
    "MultiTaskElasticNet": ("linnerud", lambda: linear_model.MultiTaskElasticNet(alpha=0.1)),
    "Lars": ("diabetes", linear_model.Lars),
    "LassoLars": ("diabetes", lambda: linear_model.LassoLars(alpha=0.01)),
    "OrthogonalMatchingPursuit": ("diabetes", linear_model.OrthogonalMatchingPursuit),
    "BayesianRidge": ("diabetes", linear_model.BayesianRidge),
    "ARDRegression": ("diabetes", linear_model.ARDRegression),
    "HuberRegressor": ("diabetes", lambda: make_pipeline(S(), linear_model.HuberRegressor(max_iter=1000))),
    "SGDRegressor": ("diabetes", lambda: make_pipeline(S(), linear_model.SGDRegressor(random_state=0))),
    "PassiveAggressiveRegressor": ("diabetes", lambda: make_pipeline(
        S(), linear_model.PassiveAggressiveRegressor(random_state=0))),
    "LinearSVR": ("diabetes", lambda: make_pipeline(S(), svm.LinearSVR(C=10, max_iter=10000))),
    "SVR": ("diabetes", lambda: make_pipeline(S(), svm.SVR(C=100))),
    "NuSVR": ("diabetes", lambda: make_pipeline(S(), svm.NuSVR(C=100, nu=0.3))),
    "GaussianNB": ("breast_cancer", naive_bayes.GaussianNB),
    "BernoulliNB": ("digits", lambda: naive_bayes.BernoulliNB(binarize=8.0)),
    "MultinomialNB": ("digits", naive_bayes.MultinomialNB),
    "MLPClassifier": ("breast_cancer", lambda: make_pipeline(S(), neural_network.MLPClassifier(
        hidden_layer_sizes=(16,), max_iter=1000, random_state=0))),
    "MLPRegressor": ("diabetes", lambda: make_pipeline(S(), neural_network.MLPRegressor(
        hidden_layer_sizes=(16,), solver="lbfgs", max_iter=2000, random_state=0))),
    "DecisionTreeClassifier": ("breast_cancer", lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0)),
    "DecisionTreeRegressor": ("diabetes", lambda: tree.DecisionTreeRegressor(max_depth=6, random_state=0)),
    "RandomForestClassifier": ("breast_cancer", lambda: ensemble.RandomForestClassifier(
        10, max_depth=6, random_state=0)),
    "RandomForestRegressor": ("diabetes", lambda: ensemble.RandomForestRegressor(10, max_depth=6, random_state=0)),
    "ExtraTreesClassifier": ("breast_cancer", lambda: ensemble.ExtraTreesClassifier(10, max_depth=6, random_state=0)),
    "ExtraTreesRegressor": ("diabetes", lambda: ensemble.ExtraTreesRegressor(10, max_depth=6, random_state=0)),
    "GradientBoostingClassifier": ("breast_cancer", lambda: ensemble.GradientBoostingClassifier(
        n_estimators=30, max_depth=3, random_state=0)),
    "GradientBoostingRegressor": ("diabetes", lambda: ensemble.GradientBoostingRegressor(
        n_estimators=30, max_depth=3, random_state=0)),
    "HistGradientBoostingClassifier": ("breast_cancer", lambda: ensemble.HistGradientBoostingClassifier(
        max_iter=20, max_depth=4, random_state=0)),
    "HistGradientBoostingRegressor": ("diabetes", lambda: ensemble.HistGradientBoostingRegressor(
        max_iter=20, max_depth=4, random_state=0)),
    "Pipeline": ("wine", lambda: make_pipeline(S(), svm.SVC(kernel="linear"))),
    "MultiTaskLassoCV": ("linnerud", lambda: linear_model.MultiTaskLassoCV(cv=3)),
    "MultiTaskElasticNetCV": ("linnerud", lambda: linear_model.MultiTaskElasticNetCV(cv=3)),
    "GridSearchCV": ("iris", lambda: GridSearchCV(svm.SVC(), {"C": [1, 10], "gamma": ["scale", 0.1]}, cv=3)),
    "RandomizedSearchCV": ("breast_cancer", lambda: RandomizedSearchCV(
        make_pipeline(S(), linear_model.LogisticRegression()), {"logisticregression__C": [0.1, 1, 10]}, n_iter=2,
        cv=3, random_state=0)),
    "HalvingGridSearchCV": ("breast_cancer", lambda: HalvingGridSearchCV(
        tree.DecisionTreeClassifier(random_state=0), {"max_depth": [3, 6]}, cv=3, random_state=0)),
    "HalvingRandomSearchCV": ("diabetes", lambda: HalvingRandomSearchCV(
        ensemble.RandomForestRegressor(10, random_state=0), {"max_depth": [4, 6]}, cv=3, random_state=0)),
    "VotingClassifier": ("breast_cancer", lambda: ensemble.VotingClassifier(
        [("rf", ensemble.RandomForestClassifier(10, max_depth=6, random_state=0)),
         ("et", ensemble.ExtraTreesClassifier(10, max_depth=6, random_state=0))], voting="soft")),
    "VotingRegressor": ("diabetes", lambda: ensemble.VotingRegressor(
        [("ols", linear_model.LinearRegression()), ("ridge", linear_model.Ridge(alpha=0.1))])),
    "CalibratedClassifierCV": ("breast_cancer", lambda: calibration.CalibratedClassifierCV(
        make_pipeline(S(), svm.LinearSVC()), ensemble=False, cv=3)),
    "TransformedTargetRegressor": ("diabetes", lambda: compose.TransformedTargetRegressor(
        make_pipeline(S(), svm.SVR(C=10)), transformer=S())),
}


def load(name: str):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return train_test_split(np.asarray(X, float), y, test_size=0.25, random_state=0)


def row(name: str) -> list[str]:
    dataset, make = EXAMPLES[name]
    X_train, X_test, y_train, _ = load(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning, UserWarning))
        est = make().fit(X_train, y_train)
    model = lower(est)
    emitted = emit_header(plan(model), name="m", file_name="m.h", provenance=[("Table", "model_table.py")],
                          feature_names=tuple(f"x{i}" for i in range(X_train.shape[1])))
    X_all = np.concatenate([X_train, X_test])
    check = verify(model, emitted.text, "m", est, X_all)
    cells = [f"`{name}`", dataset, model.summary, f"{emitted.table_bytes:,}"]
    if can_measure("avr"):
        fp = measure(emitted.text, "m", X_test[0], "avr")
        cells += [f"{fp.flash:,}", str(fp.ram), str(fp.stack) if fp.stack is not None else "–",
                  f"{fp.cycles:,}" if fp.cycles is not None else "–"]
    else:
        cells += ["–"] * 4
    cells.append(check.summary)
    return cells


OUTPUT = Path(__file__).resolve().parent / "model_table.md"


def main(names: list[str]) -> int:
    missing = sorted({n for _, n in LOWERINGS} - set(EXAMPLES))
    if missing:
        print(f"no example for: {', '.join(missing)}", file=sys.stderr)
        return 1
    lines = ["| estimator | data | model | tables (B) | AVR flash (B) | AVR RAM (B) | AVR stack (B) | AVR cycles | "
             "parity with scikit-learn (all rows) |", "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in names or [n for _, n in LOWERINGS]:
        lines.append("| " + " | ".join(row(name)) + " |")
        print(lines[-1], flush=True)
    lines.append("\nAVR: ATmega328P, avr-gcc -Os, flash and RAM of the model alone (firmware minus a stub), stack "
                 "painted and cycles counted with Timer1 under simavr for one inference. Produced by "
                 "`python benchmarks/model_table.py`.")
    print(lines[-1])
    if not names:
        OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

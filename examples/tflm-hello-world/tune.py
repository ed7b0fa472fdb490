"""How the clones' hyperparameters were chosen: 5-fold cross-validation on the training rows only.

    python tune.py          # ~1 minute; prints the best parameters per model

Uses exactly the 600 rows `microml build` trains on (the same yaml, dataset loader and split), and
scores by RMSE against the noisy labels: nothing here looks at sin(x) or at the evaluation grid
of benchmarks/tflm/run.py. The chosen values are written into train_svr.py, train_tree.py and
train_dtree.py by hand. The MLP keeps scikit-learn's defaults (lbfgs solver, fixed seed): a
grid over network training runs is slow and was not needed to beat TFLM's error.
"""

from __future__ import annotations

from pathlib import Path

from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from microml_build.pipeline.build import split
from microml_build.config import load_config
from microml_build.pipeline.dataset import load_dataset

HERE = Path(__file__).parent

SEARCHES = {
    "svr.yaml": (SVR(kernel="rbf"),
                 {"C": [0.3, 1, 3, 10, 30], "gamma": [0.25, 0.5, 1, 2], "epsilon": [0.05, 0.1, 0.15, 0.2]}),
    "tree.yaml": (GradientBoostingRegressor(subsample=0.5, random_state=0),
                  {"n_estimators": [25, 50, 100], "max_depth": [2, 3], "learning_rate": [0.05, 0.1, 0.2],
                   "min_samples_leaf": [1, 10]}),
    "dtree.yaml": (DecisionTreeRegressor(random_state=0),
                   {"max_depth": [4, 5, 6, 7, 8, None], "min_samples_leaf": [1, 3, 5, 10, 15, 20]}),
}


def main() -> None:
    for yaml, (estimator, grid) in SEARCHES.items():
        config = load_config(HERE / yaml)
        data = load_dataset(config)
        X_train, _, y_train, _ = split(config, data.X, data.y)
        search = GridSearchCV(estimator, grid, cv=KFold(5, shuffle=True, random_state=0),
                              scoring="neg_root_mean_squared_error").fit(X_train, y_train)
        print(f"{yaml}: {type(estimator).__name__} {search.best_params_}, "
              f"cross-validated RMSE {-search.best_score_:.4f} on {len(X_train)} noisy rows")


if __name__ == "__main__":
    main()

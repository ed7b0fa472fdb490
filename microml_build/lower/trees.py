"""Decision trees, random forests, extra trees and gradient boosting -> the tree heads of ir/trees.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor, Trees
from microml_build.lower.common import describe, features, reject


@dataclass(frozen=True)
class _Nodes:
    """One fitted tree in its library's own node numbering (node 0 is the root)."""

    is_leaf: np.ndarray        # (n_nodes,) bool
    feature: np.ndarray
    threshold: np.ndarray      # float64
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray   # bool
    value: np.ndarray          # (n_nodes, width) float64, read at leaves only


def lower_tree(est) -> Model:
    """DecisionTreeClassifier / DecisionTreeRegressor: a forest of one tree."""
    return _forest_model(est, [est])


def lower_forest(est) -> Model:
    """RandomForest / ExtraTrees, classifier or regressor: the trees' mean."""
    return _forest_model(est, list(est.estimators_))


def lower_gradient_boosting(est) -> Model:
    """GradientBoostingClassifier / GradientBoostingRegressor: init + learning_rate x each tree's value."""
    zero = isinstance(est.init_, str) and est.init_ == "zero"
    dummy = type(est.init_).__name__ in ("DummyClassifier", "DummyRegressor")
    if not (zero or dummy) or getattr(est.init_, "strategy", None) == "stratified":
        reject(est, "init", "predict() then starts from the init estimator's prediction for each x, "
               "which is not a constant the C code can hold", "use init=None (the default) or init='zero'")
    n_features = int(est.n_features_in_)
    # The init score is constant for the default (Dummy) init: ask scikit-learn's own code for it.
    init = est._raw_predict_init(np.zeros((1, n_features), dtype=np.float32))[0].astype(np.float64)
    stages, K = est.estimators_.shape
    rate = float(est.learning_rate)
    # scikit-learn adds learning_rate * value, that product rounded in float64: store the product.
    nodes = [_sklearn_nodes(est.estimators_[i, k].tree_, rate * est.estimators_[i, k].tree_.value[:, 0, :])
             for i in range(stages) for k in range(K)]
    trees = _pack(nodes, nan_aware=False)
    # Parameters as given; what training kept (early stopping with n_iter_no_change) apart.
    params = {"n_estimators": est.n_estimators, "fitted_stages": stages, "learning_rate": rate, "loss": est.loss}
    if _is_classifier(est):
        head = BoostedClassifier(trees=trees, init=init, zero_is_positive=True,
                                 proba_scale=2 if est.loss == "exponential" else 1)
        return _model(est, head, n_features, labels=tuple(est.classes_.tolist()), params=params)
    head = BoostedRegressor(trees=trees, init=init, link="identity")
    return _model(est, head, n_features, params=params)


def lower_hist_gradient_boosting(est) -> Model:
    """HistGradientBoostingClassifier / Regressor: baseline + each tree's value (shrinkage already in it)."""
    predictors = [predictor for iteration in est._predictors for predictor in iteration]
    categorical = getattr(est, "is_categorical_", None)
    if (categorical is not None and np.any(categorical)) or getattr(est, "_preprocessor", None) is not None or any(
            p.nodes["is_categorical"][~p.nodes["is_leaf"].astype(bool)].any() for p in predictors):
        # Categorical features are also moved to the front of the input by scikit-learn's preprocessor.
        reject(est, "categorical_features", "categorical splits test set membership, which the C code "
               "does not do", "one-hot or ordinal-encode the categories and train with categorical_features=None")
    n_features = int(est.n_features_in_)
    init = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
    trees = _pack([_hist_nodes(p) for p in predictors], nan_aware=True)
    params = {"max_iter": est.max_iter, "fitted_iterations": len(est._predictors),
              "learning_rate": float(est.learning_rate), "loss": est.loss}
    if _is_classifier(est):
        head = BoostedClassifier(trees=trees, init=init, zero_is_positive=False)
        return _model(est, head, n_features, labels=tuple(est.classes_.tolist()), params=params)
    link = type(est._loss.link).__name__
    if link not in ("IdentityLink", "LogLink"):
        reject(est, "loss", f"its inverse link ({link}) has no C form here", "use loss='squared_error', "
               "'absolute_error', 'quantile', 'poisson' or 'gamma'")
    head = BoostedRegressor(trees=trees, init=init, link="log" if link == "LogLink" else "identity")
    return _model(est, head, n_features, params=params)


def _forest_model(est, estimators: list) -> Model:
    """Averaged trees: each tree's predict_proba rows (classifiers) or predicted values (regressors)."""
    classifier = _is_classifier(est)
    if classifier and est.n_outputs_ > 1:
        raise MicroMLError(f"{type(est).__name__} fitted on {est.n_outputs_} label columns is not supported",
                           fix="fit one classifier per label column")
    n_features = int(est.n_features_in_)
    if classifier:
        n_classes = len(est.classes_)
        nodes = [_sklearn_nodes(e.tree_, _tree_proba(e.tree_.value[:, 0, :n_classes])) for e in estimators]
    else:
        nodes = [_sklearn_nodes(e.tree_, e.tree_.value[:, :, 0]) for e in estimators]
    trees = _pack(nodes, nan_aware=_accepts_nan(est))
    params = {"n_estimators": len(estimators)} if len(estimators) > 1 else {}
    params["max_depth"] = est.max_depth                                   # as given (None: unlimited)
    params["fitted_depth"] = max(e.tree_.max_depth for e in estimators)   # what training grew
    if classifier:
        return _model(est, ForestClassifier(trees=trees), n_features, labels=tuple(est.classes_.tolist()),
                      params=params)
    return _model(est, ForestRegressor(trees=trees), n_features, params=params)


def _tree_proba(value: np.ndarray) -> np.ndarray:
    """A tree's predict_proba rows from its node values, as the installed scikit-learn computes them.

    Since scikit-learn 1.4 a classifier's tree stores class fractions and predict_proba returns
    them as they are; before, it stored weighted counts and predict_proba divided by their sum.
    """
    import sklearn
    from sklearn.utils.fixes import parse_version

    value = np.array(value, dtype=np.float64)
    if parse_version(sklearn.__version__) >= parse_version("1.4"):
        return value
    normalizer = value.sum(axis=1)[:, None]
    normalizer[normalizer == 0.0] = 1.0
    return value / normalizer


def _accepts_nan(est) -> bool:
    """Whether predict() takes NaN as a missing value (then the trees' missing_go_to_left applies)."""
    try:
        from sklearn.utils import get_tags
    except ImportError:   # scikit-learn < 1.6
        return bool(est._get_tags().get("allow_nan", False))
    return bool(get_tags(est).input_tags.allow_nan)


def _sklearn_nodes(tree, value: np.ndarray) -> _Nodes:
    return _Nodes(is_leaf=tree.children_left < 0, feature=tree.feature, threshold=tree.threshold,
                  left=tree.children_left, right=tree.children_right,
                  missing_left=_missing_left(tree), value=np.asarray(value, dtype=np.float64))


def _missing_left(tree) -> np.ndarray:
    """Where NaN goes at each node; trees from scikit-learn < 1.3 know no missing values (NaN goes right)."""
    missing = getattr(tree, "missing_go_to_left", None)
    return np.zeros(tree.node_count, dtype=bool) if missing is None else np.asarray(missing).astype(bool)


def _hist_nodes(predictor) -> _Nodes:
    n = predictor.nodes
    return _Nodes(is_leaf=n["is_leaf"].astype(bool), feature=n["feature_idx"], threshold=n["num_threshold"],
                  left=n["left"].astype(np.int64), right=n["right"].astype(np.int64),
                  missing_left=n["missing_go_to_left"].astype(bool), value=n["value"][:, None].astype(np.float64))


def _pack(forest: list[_Nodes], nan_aware: bool) -> Trees:
    """Renumber every tree in pre-order into the flat layout of `Trees`, trees one after the other."""
    feature, threshold, missing_left, left, right, leaf_value = [], [], [], [], [], []
    tree_start = [0]
    for nodes in forest:
        splits, leaves, stack = [], [], [0]
        while stack:
            node = stack.pop()
            if nodes.is_leaf[node]:
                leaves.append(node)
            else:
                splits.append(node)
                stack += [int(nodes.right[node]), int(nodes.left[node])]
        base, leaf_base = tree_start[-1], len(leaf_value)
        if not splits:
            # A single leaf: one split node with the leaf on both sides keeps "every tree has a root split".
            feature.append(0)
            threshold.append(0.0)
            missing_left.append(False)
            left.append(-1 - leaf_base)
            right.append(-2 - leaf_base)
            leaf_value += [nodes.value[0], nodes.value[0]]
            tree_start.append(base + 1)
            continue
        code = {node: base + i for i, node in enumerate(splits)}
        code.update({node: -1 - (leaf_base + i) for i, node in enumerate(leaves)})
        for node in splits:
            feature.append(int(nodes.feature[node]))
            threshold.append(float(nodes.threshold[node]))
            missing_left.append(bool(nodes.missing_left[node]))
            left.append(code[int(nodes.left[node])])
            right.append(code[int(nodes.right[node])])
        leaf_value += [nodes.value[node] for node in leaves]
        tree_start.append(base + len(splits))
    return Trees(feature=np.array(feature, dtype=np.int64), threshold=np.array(threshold, dtype=np.float64),
                 missing_left=np.array(missing_left, dtype=bool), left=np.array(left, dtype=np.int64),
                 right=np.array(right, dtype=np.int64), tree_start=np.array(tree_start, dtype=np.int64),
                 leaf_value=np.array(leaf_value, dtype=np.float64), nan_aware=nan_aware)


def _model(est, head, n_features: int, labels: tuple = (), params: dict | None = None) -> Model:
    trees = head.trees
    name = type(est).__name__
    count = f"{trees.n_trees} trees, " if trees.n_trees > 1 else ""
    splits = f"{trees.n_splits} split node{'s' if trees.n_splits > 1 else ''}"
    summary = f"{name} {count}{splits}, {trees.n_leaves} leaves x {features(n_features)}"
    return Model(n_features=n_features, head=head, estimator=describe(est), summary=summary, labels=labels,
                 params=dict(params or {}))


def _is_classifier(est) -> bool:
    from sklearn.base import is_classifier

    return is_classifier(est)

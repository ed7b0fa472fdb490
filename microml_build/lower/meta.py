"""Meta-estimators -> the heads their members lower to: a fitted search's best_estimator_, one-vs-rest over
linear models and SVMs, voting, sigmoid calibration and an affine target transform.

Each is supported where the combination is exact algebra on existing heads (weights stacked or averaged,
trees concatenated, a sigmoid's threshold moved into the intercept, an affine inverse moved into the
outputs) and refused with the reason and the fix where it is not (hard voting, an isotonic calibration,
a logarithmic target, one-vs-rest over trees).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.preprocessing import Affine, Clip
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.ir.trees import BoostedRegressor, ForestClassifier, ForestRegressor, Trees
from microml_build.lower.common import describe, features
from microml_build.lower.preprocessing import _step


def lower_search(est, lower) -> Model:
    """GridSearchCV, RandomizedSearchCV and the Halving searches: predict() is best_estimator_.predict()."""

    name = type(est).__name__
    if not hasattr(est, "best_estimator_"):
        raise MicroMLError(f"{name}(refit=False) keeps no best_estimator_, so it has no fitted model to convert",
                           fix=f"fit the {name} with refit=True (the default), or return a model fitted with its "
                           "best_params_")
    inner = lower(est.best_estimator_)
    return replace(inner, estimator=f"{name} -> best_estimator_ {inner.estimator}",
                   summary=f"{name} best_estimator_: {inner.summary}",
                   params={"best_params_": dict(est.best_params_), **inner.params})


# ---------------------------------------------------------------------------------------------
# OneVsRestClassifier


def lower_one_vs_rest(est, lower) -> Model:
    """OneVsRestClassifier: predict() takes the class whose binary estimator scores highest (ties to the first).

    Several classes: each binary estimator must lower to one linear decision (a linear classifier, or an
    SVC/NuSVC with kernel='linear', alone or in a Pipeline whose steps fold away); their weight vectors stack
    into one LinearClassifier. Two classes: one binary estimator, any linear model or SVM, whose decision
    function's sign is the prediction (OneVsRest tests `> 0`; the SVM heads `>= 0`, the same but at an exact 0).
    """

    if est.label_binarizer_.y_type_ not in ("binary", "multiclass"):
        raise MicroMLError("OneVsRestClassifier fitted on multilabel targets is not supported: its predict() "
                           "returns a label indicator matrix, not one class", fix="fit it on a single label column")
    inner = list(est.estimators_)
    inner_name = _name(inner[0])
    labels = tuple(est.classes_.tolist())
    if len(inner) == 1:
        core = lower(inner[0])
        if type(core.head) not in (LinearClassifier, LinearOvo, KernelSvm) or core.head.n_outputs != 1:
            raise MicroMLError(f"OneVsRestClassifier over {inner_name} is not supported: it thresholds the binary "
                               "model's decision_function, which only linear models and SVMs have here",
                               fix="use the estimator itself (it handles two classes), or a linear model or SVM "
                               "inside OneVsRestClassifier")
        return replace(core, labels=labels, estimator=describe(est), summary=f"OneVsRestClassifier over {core.summary}")
    heads = []
    for e in inner:
        core = lower(e)
        head = core.head
        linear = (type(head) is LinearClassifier and head.n_outputs == 1) or \
                 (type(head) is LinearOvo and head.n_classes == 2)
        if not linear or core.transforms:
            hint = " kernel='linear'," if type(head) is KernelSvm else ""
            raise MicroMLError(f"OneVsRestClassifier over {inner_name} with {len(labels)} classes is not supported: "
                               "it predicts the class whose binary model scores highest, which has a C form here "
                               "only when every binary model is one linear decision",
                               fix=f"use{hint} a linear classifier (LogisticRegression, LinearSVC, ...) inside it, or "
                               f"the estimator on its own ({inner_name} predicts several classes itself)")
        heads.append(head)
    n = int(est.n_features_in_)
    weights = np.vstack([_full_width(h.weights, h.feature_index, n) for h in heads])
    intercept = np.concatenate([np.asarray(h.intercept, dtype=np.float64).reshape(-1) for h in heads])
    proba = "logistic_ovr" if all(isinstance(h, LinearClassifier) and h.proba == "logistic" for h in heads) else ""
    head = LinearClassifier(weights=weights, intercept=intercept, proba=proba)
    return Model(n_features=n, head=head, labels=labels, estimator=describe(est),
                 summary=f"OneVsRestClassifier({inner_name}) {len(weights)} weight vectors x {features(n)}",
                 params=lower(inner[0]).params)


def _full_width(weights: np.ndarray, index, n: int) -> np.ndarray:
    """Weights over all n inputs from weights over the columns `index` reads (a folded selection)."""
    weights = np.asarray(weights, dtype=np.float64)
    if index is None:
        return weights
    full = np.zeros((len(weights), n))
    np.add.at(full.T, list(index), weights.T)
    return full


def _name(est) -> str:
    if type(est).__name__ == "Pipeline":
        return _name(est.steps[-1][1])
    return type(est).__name__


# ---------------------------------------------------------------------------------------------
# Voting


def _voting_members(est) -> tuple[list, np.ndarray]:
    """The fitted members and their weights, 'drop'ped ones left out (as scikit-learn's average does)."""
    weights = np.ones(len(est.estimators_)) if est.weights is None else np.array(
        [w for (_, e), w in zip(est.estimators, est.weights) if not (isinstance(e, str) and e == "drop")], float)
    return list(est.estimators_), weights


def lower_voting_regressor(est, lower) -> Model:
    """The weighted mean of the members' predictions: linear members average their weights into one vector;
    tree members (trees, forests, gradient boosting) become one averaged forest, each member's trees scaled
    by its weight (a boosted member's constant start added into its first tree)."""

    members, weights = _voting_members(est)
    cores = [lower(e) for e in members]
    share = weights / weights.sum()
    n = int(est.n_features_in_)
    kinds = {type(c.head) for c in cores}
    fix = ("average members of one kind: linear regressors, or trees (DecisionTree, RandomForest, ExtraTrees, "
           "GradientBoosting, HistGradientBoosting with the default loss), or train one model")
    if any(c.transforms for c in cores):
        raise MicroMLError("VotingRegressor over a Pipeline whose steps stay in C (a PCA before trees, a "
                           "Normalizer, ...) is not supported: the members would need different inputs", fix=fix)
    if kinds == {LinearRegressor}:
        weights_ = sum(s * _full_width(c.head.weights, c.head.feature_index, n) for s, c in zip(share, cores))
        intercept = sum(s * np.asarray(c.head.intercept, dtype=np.float64) for s, c in zip(share, cores))
        head = LinearRegressor(weights=weights_, intercept=intercept)
        summary = f"VotingRegressor({len(cores)} linear models) 1 weight vector x {features(n)}"
    elif kinds <= {ForestRegressor, BoostedRegressor} and all(
            getattr(c.head, "link", "identity") == "identity" and c.head.n_outputs == 1 for c in cores):
        total = sum(c.head.trees.n_trees for c in cores)
        scaled = []
        for s, c in zip(share, cores):
            trees = c.head.trees
            if isinstance(c.head, ForestRegressor):
                leaves = trees.leaf_value * (s * total / trees.n_trees)
            else:
                leaves = trees.leaf_value * (s * total)
                first = slice(0, trees.tree_start[1] + 1)          # the first tree's leaf rows
                leaves[first] += c.head.init[0] * s * total
            scaled.append(replace(trees, leaf_value=leaves))
        head = ForestRegressor(trees=concat_trees(scaled))
        summary = (f"VotingRegressor({', '.join(_name(e) for e in members)}) {head.trees.n_trees} trees, "
                   f"{head.trees.n_splits} split nodes, {head.trees.n_leaves} leaves x {features(n)}")
    else:
        raise MicroMLError("VotingRegressor over " + ", ".join(_name(e) for e in members) + " is not supported: "
                           "only linear members (their weights average) or tree members (their trees average) "
                           "combine into one model", fix=fix)
    return Model(n_features=n, head=head, estimator=describe(est), summary=summary,
                 params={"weights": [float(w) for w in weights]})


def lower_voting_classifier(est, lower) -> Model:
    """Soft voting over trees and forests whose weights are proportional to their tree counts: every tree then
    counts the same, so the vote is one forest of all the trees (scikit-learn's average of the members'
    predict_proba). Other weights or members have no exact form here and are refused with the weights that
    would work."""

    members, weights = _voting_members(est)
    names = ", ".join(_name(e) for e in members)
    if est.voting != "soft":
        raise MicroMLError(f"VotingClassifier(voting='hard') over {names} is not supported: a majority of "
                           "predicted classes has no C form here",
                           fix="use voting='soft' over trees and forests, or a single model")
    cores = [lower(e) for e in members]
    if all(type(c.head) is ForestClassifier for c in cores) and any(c.transforms for c in cores):
        raise MicroMLError(f"VotingClassifier(voting='soft') over {names} is not supported: members with their own "
                           "preprocessing (a Pipeline's scaler, WindowFeatures, ...) read different inputs, which do "
                           "not average into one forest here",
                           fix="put the steps before the VotingClassifier, in one Pipeline shared by all its members "
                               "(make_pipeline(WindowFeatures(...), VotingClassifier([...])))")
    if any(type(c.head) is not ForestClassifier or c.transforms for c in cores):
        raise MicroMLError(f"VotingClassifier(voting='soft') over {names} is not supported: only trees and "
                           "forests average their probabilities into one model here",
                           fix="vote among DecisionTree, RandomForest and ExtraTrees classifiers, or use a "
                           "single model")
    counts = np.array([c.head.trees.n_trees for c in cores], dtype=float)
    if not np.allclose(weights / weights.sum(), counts / counts.sum(), rtol=1e-12, atol=0):
        raise MicroMLError(f"VotingClassifier over {names} with weights {[float(w) for w in weights]} is not "
                           "supported: the C form is one forest in which every tree counts the same",
                           fix=f"set weights={[int(c) for c in counts]} (each member's tree count), or train "
                           "one forest")
    n = int(est.n_features_in_)
    head = ForestClassifier(trees=concat_trees([c.head.trees for c in cores]))
    summary = (f"VotingClassifier({names}) {head.trees.n_trees} trees, {head.trees.n_splits} split nodes, "
               f"{head.trees.n_leaves} leaves x {features(n)}")
    return Model(n_features=n, head=head, labels=tuple(est.classes_.tolist()), estimator=describe(est),
                 summary=summary, params={"voting": "soft", "weights": [float(w) for w in weights]})


def concat_trees(forest: list[Trees]) -> Trees:
    """The trees of several tables as one, in order. A table that is not NaN-aware sends NaN right at every
    node (scikit-learn's `x <= threshold` is false for NaN), which the joined, NaN-aware table then says."""
    nan_aware = any(t.nan_aware for t in forest)
    parts = {name: [] for name in ("feature", "threshold", "missing_left", "left", "right", "leaf_value")}
    starts, splits, leaves = [0], 0, 0
    for t in forest:
        parts["feature"].append(t.feature)
        parts["threshold"].append(t.threshold)
        parts["missing_left"].append(t.missing_left if t.nan_aware else np.zeros(t.n_splits, dtype=bool))
        for side in ("left", "right"):
            child = np.asarray(getattr(t, side))
            parts[side].append(np.where(child >= 0, child + splits, child - leaves))
        parts["leaf_value"].append(t.leaf_value)
        starts += list(np.asarray(t.tree_start[1:]) + splits)
        splits += t.n_splits
        leaves += t.n_leaves
    return Trees(feature=np.concatenate(parts["feature"]), threshold=np.concatenate(parts["threshold"]),
                 missing_left=np.concatenate(parts["missing_left"]), left=np.concatenate(parts["left"]),
                 right=np.concatenate(parts["right"]), tree_start=np.array(starts, dtype=np.int64),
                 leaf_value=np.concatenate(parts["leaf_value"]), nan_aware=nan_aware)


# ---------------------------------------------------------------------------------------------
# CalibratedClassifierCV


def lower_calibrated(est, lower) -> Model:
    """Two classes, method='sigmoid', one calibrated classifier (ensemble=False or a prefit estimator), over a
    linear model or an SVM: p1 = expit(-(a d + b)) of the decision d, and predict() is p1 > 1 - p1, that is
    -(a d + b) > 0, a decision that is linear in d. The header's predict_proba is that sigmoid (linear models)."""

    name = "CalibratedClassifierCV"
    if est.method != "sigmoid":
        raise MicroMLError(f"{name}(method='{est.method}') is not supported: only the sigmoid calibration has a "
                           "C form here", fix="use method='sigmoid'")
    if len(est.classes_) != 2:
        raise MicroMLError(f"{name} with {len(est.classes_)} classes is not supported: its normalised "
                           "per-class sigmoids have no exact C form here (two classes have)",
                           fix="use the uncalibrated estimator (predict() is the same argmax for linear models), "
                           "or calibrate a two-class problem")
    if len(est.calibrated_classifiers_) != 1:
        raise MicroMLError(f"{name} averages {len(est.calibrated_classifiers_)} calibrated copies of the model "
                           "(ensemble=True, one per fold), which has no C form here",
                           fix="use ensemble=False: one model fitted on all the data, calibrated on "
                           "cross-validated predictions")
    calibrated = est.calibrated_classifiers_[0]
    core = lower(calibrated.estimator)
    a, b = float(calibrated.calibrators[0].a_), float(calibrated.calibrators[0].b_)
    head = core.head
    if type(head) in (LinearClassifier, LinearOvo) and head.n_outputs == 1:
        head = LinearClassifier(weights=-a * np.asarray(head.weights, dtype=np.float64),
                                intercept=-a * np.asarray(head.intercept, dtype=np.float64).reshape(-1) - b,
                                proba="logistic", feature_index=head.feature_index)
    elif type(head) is KernelSvm and head.n_classes == 2:
        head = replace(head, coef=-a * head.coef, intercept=-a * head.intercept - b)
    else:
        raise MicroMLError(f"{name} over {_name(calibrated.estimator)} is not supported: the sigmoid moves into "
                           "the decision of linear models and SVMs only", fix="calibrate a linear model or an SVM")
    return replace(core, head=head, labels=tuple(est.classes_.tolist()), estimator=describe(est),
                   summary=f"{name}(sigmoid) over {core.summary}",
                   params={"method": "sigmoid", "a": a, "b": b, **core.params})


# ---------------------------------------------------------------------------------------------
# TransformedTargetRegressor


def lower_transformed_target(est, lower) -> Model:
    """predict() is transformer_.inverse_transform(regressor_.predict(X)): an identity, or a scaler's affine
    inverse y = raw / scale + offset, moved into the regressor's outputs."""

    core = lower(est.regressor_)
    transformer = est.transformer_
    summary = f"TransformedTargetRegressor({type(transformer).__name__}) over {core.summary}"
    fix = ("use transformer=StandardScaler() (or MinMaxScaler, MaxAbsScaler, RobustScaler), whose affine inverse "
           "moves into the model, or train on the transformed target and invert it in your firmware")
    if type(transformer).__name__ == "FunctionTransformer":
        if transformer.func is None and transformer.inverse_func is None:
            return replace(core, estimator=describe(est), summary=summary)
        raise MicroMLError("TransformedTargetRegressor(func=...) is not supported: the inverse function would "
                           "have to run in C after the model, and only an affine inverse is exact and cheap there",
                           fix=fix)
    try:
        steps = [t for t in _step("transformer", transformer, core.head.n_outputs) if not isinstance(t, Clip)]
    except MicroMLError:
        steps = None
    if steps is None or not all(isinstance(t, Affine) for t in steps) or len(steps) > 1:
        raise MicroMLError(f"TransformedTargetRegressor(transformer={type(transformer).__name__}()) is not "
                           "supported: only a scaler's affine inverse moves into the model", fix=fix)
    if not steps:
        return replace(core, estimator=describe(est), summary=summary)
    offset, scale = steps[0].offset, steps[0].scale        # forward z = (y - offset) * scale
    head = scale_outputs(core.head, 1.0 / scale, offset)
    if head is None:
        raise MicroMLError(f"TransformedTargetRegressor over {_name(est.regressor_)} is not supported: its "
                           "outputs do not pass through a linear last step the inverse can move into", fix=fix)
    return replace(core, head=head, estimator=describe(est), summary=summary)


def scale_outputs(head, factor: np.ndarray, offset: np.ndarray):
    """The head whose outputs are y * factor + offset (per output), or None when they cannot move into it."""
    factor, offset = np.asarray(factor, dtype=np.float64), np.asarray(offset, dtype=np.float64)
    if isinstance(head, LinearRegressor):
        return replace(head, weights=head.weights * factor[:, None], intercept=head.intercept * factor + offset)
    if isinstance(head, KernelSvr):
        return replace(head, coef=head.coef * factor[0], intercept=head.intercept * factor[0] + offset[0])
    if isinstance(head, ForestRegressor):     # the mean of (v f + o) is (the mean of v) f + o
        return replace(head, trees=replace(head.trees, leaf_value=head.trees.leaf_value * factor + offset))
    if isinstance(head, BoostedRegressor) and head.link == "identity":
        return replace(head, init=head.init * factor + offset,
                       trees=replace(head.trees, leaf_value=head.trees.leaf_value * factor))
    if isinstance(head, Mlp) and head.output == "identity":
        return replace(head, weights=(*head.weights[:-1], head.weights[-1] * factor[:, None]),
                       biases=(*head.biases[:-1], head.biases[-1] * factor + offset))
    return None

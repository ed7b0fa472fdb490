"""Meta-estimators and the steps new users reach for: searches, PolynomialFeatures, ColumnTransformer,
one-vs-rest over SVMs, voting, calibration and target transforms. Each supported form is lowered into the
existing heads and transforms and proved equal to scikit-learn on every row; each refusal names the fix."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_linnerud, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingRegressor, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor, VotingClassifier, VotingRegressor)
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import (LinearRegression, LogisticRegression, MultiTaskElasticNetCV, MultiTaskLassoCV,
                                  Ridge)
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, PolynomialFeatures, StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from microml_build.errors import MicroMLError
from microml_build.lower import lower
from model_check import CROSS_PARAMS, c_predict_proba, cross_compile, emit, host_parity


def all_rows_agree(estimator, X):
    result = host_parity(estimator, X)
    assert result.agree + len(result.near_ties) == len(X) and len(result.near_ties) <= 1, result.summary
    return result


def refused(estimator, *parts):
    with pytest.raises(MicroMLError) as err:
        lower(estimator)
    for part in parts:
        assert part in str(err.value), str(err.value)
    assert err.value.fix
    return err.value


# ---------------------------------------------------------------------------------------------
# Searches: best_estimator_


SEARCHES = {
    "GridSearchCV": lambda: GridSearchCV(SVC(), {"C": [1, 10], "gamma": ["scale", 0.1]}, cv=3),
    "RandomizedSearchCV": lambda: RandomizedSearchCV(LogisticRegression(max_iter=2000), {"C": [0.1, 1, 10]},
                                                     n_iter=2, cv=3, random_state=0),
    "HalvingGridSearchCV": lambda: HalvingGridSearchCV(DecisionTreeClassifier(random_state=0),
                                                       {"max_depth": [2, 3, 4]}, cv=3, random_state=0),
    "HalvingRandomSearchCV": lambda: HalvingRandomSearchCV(RandomForestClassifier(n_estimators=5, random_state=0),
                                                           {"max_depth": [2, 4]}, cv=3, random_state=0),
}


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_a_fitted_search_ships_its_best_estimator(name):
    X, y = load_iris(return_X_y=True)
    search = SEARCHES[name]().fit(X, y)
    all_rows_agree(search, X)
    model = lower(search)
    assert model.summary.startswith(f"{name} best_estimator_: {type(search.best_estimator_).__name__}")
    assert model.params["best_params_"] == search.best_params_


def test_a_search_in_a_pipeline_and_a_pipeline_in_a_search():
    X, y = load_breast_cancer(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [1, 10]}, cv=3).fit(X, y)
    all_rows_agree(search, X)
    assert "StandardScaler folded into the model" in lower(search).summary


def test_a_search_without_refit_is_refused():
    X, y = load_iris(return_X_y=True)
    refused(GridSearchCV(SVC(), {"C": [1, 10]}, cv=3, refit=False).fit(X, y), "refit=False", "refit=True")


# ---------------------------------------------------------------------------------------------
# MultiTask*CV


@pytest.mark.parametrize("cls", [MultiTaskLassoCV, MultiTaskElasticNetCV])
def test_multitask_cv_regressors(cls):
    X, y = load_linnerud(return_X_y=True)
    all_rows_agree(cls(cv=3).fit(X, y), X)


# ---------------------------------------------------------------------------------------------
# PolynomialFeatures: a transform in C, before any head


POLY = {
    "logreg-iris": (load_iris, lambda: make_pipeline(PolynomialFeatures(2), StandardScaler(),
                                                     LogisticRegression(max_iter=5000))),
    "interaction-ridge": (load_diabetes, lambda: make_pipeline(PolynomialFeatures(2, interaction_only=True,
                                                                                  include_bias=False), Ridge())),
    "degree3-linear": (load_diabetes, lambda: make_pipeline(StandardScaler(), PolynomialFeatures(3),
                                                            LinearRegression())),
    "tree": (load_wine, lambda: make_pipeline(PolynomialFeatures(2), DecisionTreeClassifier(random_state=0))),
    "selected": (load_wine, lambda: make_pipeline(StandardScaler(), PolynomialFeatures(2, include_bias=False),
                                                  SelectKBest(k=20),
                                                  LogisticRegression(max_iter=5000))),
}


@pytest.mark.parametrize("case", sorted(POLY))
def test_polynomial_features(case):
    load, build = POLY[case]
    X, y = load(return_X_y=True)
    pipe = build().fit(X, y)
    all_rows_agree(pipe, X)
    model, emitted = emit(pipe)
    assert "_poly_factors" in emitted.text and model.n_features == X.shape[1]


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
def test_polynomial_features_cross_compile(tmp_path, target, lang):
    X, y = load_iris(return_X_y=True)
    _, emitted = emit(make_pipeline(PolynomialFeatures(2), LogisticRegression(max_iter=5000)).fit(X, y))
    assert cross_compile(emitted.text, tmp_path, target, lang).is_file()


# ---------------------------------------------------------------------------------------------
# ColumnTransformer: one input map


def test_column_transformer_scalers_fold_into_an_rbf_svm():
    X, y = load_wine(return_X_y=True)
    ct = ColumnTransformer([("a", StandardScaler(), [0, 1, 2, 3]), ("b", MinMaxScaler(), [5, 6])],
                           remainder="passthrough")
    pipe = make_pipeline(ct, SVC()).fit(X, y)
    all_rows_agree(pipe, X)
    model = lower(pipe)
    assert "folded into the model" in model.summary and not model.transforms


def test_column_transformer_with_pca_and_a_dropped_column_folds_into_a_linear_model():
    X, y = load_breast_cancer(return_X_y=True)
    ct = ColumnTransformer([("pca", make_pipeline(StandardScaler(), PCA(4)), list(range(10))),
                            ("keep", "passthrough", [20, 21]), ("gone", "drop", [22])],
                           remainder=StandardScaler())
    pipe = make_pipeline(ct, LogisticRegression(max_iter=5000)).fit(X, y)
    all_rows_agree(pipe, X)
    assert not lower(pipe).transforms


def test_column_transformer_before_trees():
    X, y = load_wine(return_X_y=True)
    ct = ColumnTransformer([("s", StandardScaler(), slice(0, 6))], remainder="drop")
    all_rows_agree(make_pipeline(ct, RandomForestClassifier(n_estimators=5, random_state=0)).fit(X, y), X)


def test_column_transformer_block_that_cannot_combine_is_refused():
    X, y = load_wine(return_X_y=True)
    ct = ColumnTransformer([("n", Normalizer(), [0, 1, 2])], remainder="passthrough")
    refused(make_pipeline(ct, SVC()).fit(X, y), "ColumnTransformer block 'n' (Normalizer)")


# ---------------------------------------------------------------------------------------------
# OneVsRestClassifier over SVMs


def test_one_vs_rest_over_linear_svc_multiclass():
    X, y = load_wine(return_X_y=True)
    all_rows_agree(OneVsRestClassifier(make_pipeline(StandardScaler(), SVC(kernel="linear"))).fit(X, y), X)


def test_one_vs_rest_over_a_kernel_svm_binary():
    X, y = load_breast_cancer(return_X_y=True)
    all_rows_agree(OneVsRestClassifier(make_pipeline(StandardScaler(), SVC())).fit(X, y), X)


def test_one_vs_rest_over_a_kernel_svm_multiclass_is_refused():
    X, y = load_iris(return_X_y=True)
    refused(OneVsRestClassifier(SVC()).fit(X, y), "OneVsRestClassifier over SVC", "kernel='linear'")


def test_one_vs_rest_over_trees_is_refused():
    X, y = load_iris(return_X_y=True)
    refused(OneVsRestClassifier(DecisionTreeClassifier()).fit(X, y), "OneVsRestClassifier over DecisionTreeClassifier")


# ---------------------------------------------------------------------------------------------
# Voting


def test_voting_regressor_of_linear_models():
    X, y = load_diabetes(return_X_y=True)
    voting = VotingRegressor([("lr", LinearRegression()), ("ridge", Ridge(alpha=0.5))], weights=[1, 3]).fit(X, y)
    all_rows_agree(voting, X)
    assert type(lower(voting).head).__name__ == "LinearRegressor"


def test_voting_regressor_of_tree_ensembles():
    X, y = load_diabetes(return_X_y=True)
    voting = VotingRegressor([("rf", RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0)),
                              ("gb", GradientBoostingRegressor(n_estimators=6, max_depth=2, random_state=0)),
                              ("tree", make_pipeline(StandardScaler(), DecisionTreeRegressor(max_depth=3)))],
                             weights=[2, 1, 1]).fit(X, y)
    all_rows_agree(voting, X)


def test_voting_regressor_mixing_linear_and_trees_is_refused():
    X, y = load_diabetes(return_X_y=True)
    refused(VotingRegressor([("lr", LinearRegression()), ("t", DecisionTreeRegressor(max_depth=2))]).fit(X, y),
            "VotingRegressor", "linear")


def test_voting_regressor_with_a_log_link_is_refused():
    X, y = load_diabetes(return_X_y=True)
    refused(VotingRegressor([("a", HistGradientBoostingRegressor(max_iter=5, loss="poisson")),
                             ("b", DecisionTreeRegressor(max_depth=2))]).fit(X, y), "VotingRegressor")


def test_soft_voting_of_equal_forests():
    X, y = load_breast_cancer(return_X_y=True)
    voting = VotingClassifier([("rf", RandomForestClassifier(n_estimators=5, random_state=0)),
                               ("et", ExtraTreesClassifier(n_estimators=5, random_state=0))], voting="soft").fit(X, y)
    all_rows_agree(voting, X)


def test_soft_voting_weighted_by_tree_counts():
    X, y = load_wine(return_X_y=True)
    voting = VotingClassifier([("rf", RandomForestClassifier(n_estimators=6, random_state=0)),
                               ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))], voting="soft",
                              weights=[6, 1]).fit(X, y)
    all_rows_agree(voting, X)


def test_soft_voting_with_other_weights_is_refused_with_the_weights_that_work():
    X, y = load_wine(return_X_y=True)
    voting = VotingClassifier([("rf", RandomForestClassifier(n_estimators=6, random_state=0)),
                               ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))], voting="soft").fit(X, y)
    err = refused(voting, "VotingClassifier")
    assert "weights=[6, 1]" in err.fix


def test_soft_voting_over_pipelines_with_their_own_steps_names_the_steps():
    """Members that are Pipelines (PCA, WindowFeatures) are trees, but each reads its own transform of the
    input: the refusal says that, not "only trees and forests", which they are."""
    X, y = load_wine(return_X_y=True)
    voting = VotingClassifier([("a", make_pipeline(PCA(3), DecisionTreeClassifier(max_depth=3, random_state=0))),
                               ("b", DecisionTreeClassifier(max_depth=2, random_state=0))], voting="soft").fit(X, y)
    err = refused(voting, "VotingClassifier", "own preprocessing")
    assert "before the VotingClassifier" in err.fix


def test_hard_voting_is_refused():
    X, y = load_iris(return_X_y=True)
    refused(VotingClassifier([("a", LogisticRegression(max_iter=1000)), ("b", SVC())]).fit(X, y),
            "voting='hard'", "voting='soft'")


# ---------------------------------------------------------------------------------------------
# CalibratedClassifierCV


@pytest.mark.parametrize("base", [LogisticRegression, LinearSVC,
                                  lambda: SVC(kernel="linear")], ids=["logreg", "linearsvc", "svc-linear"])
def test_calibrated_binary_linear_model_predicts_and_gives_its_probabilities(base, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    calibrated = CalibratedClassifierCV(make_pipeline(StandardScaler(), base()), ensemble=False, cv=3).fit(X, y)
    all_rows_agree(calibrated, X)
    _, emitted = emit(calibrated)
    proba = c_predict_proba(emitted.text, X, tmp_path)
    np.testing.assert_allclose(proba, calibrated.predict_proba(X.astype(np.float32).astype(np.float64)),
                               atol=2e-6)


def scaled_logreg():
    return make_pipeline(StandardScaler(), LogisticRegression())


def test_calibrated_ensemble_is_refused_with_the_fix():
    X, y = load_breast_cancer(return_X_y=True)
    refused(CalibratedClassifierCV(scaled_logreg(), cv=3).fit(X, y), "ensemble=False")


def test_calibrated_isotonic_or_multiclass_is_refused():
    X, y = load_breast_cancer(return_X_y=True)
    refused(CalibratedClassifierCV(scaled_logreg(), method="isotonic", ensemble=False, cv=3).fit(X, y),
            "method='isotonic'")
    X, y = load_iris(return_X_y=True)
    refused(CalibratedClassifierCV(scaled_logreg(), ensemble=False, cv=3).fit(X, y), "3 classes")


# ---------------------------------------------------------------------------------------------
# TransformedTargetRegressor


TARGETS = {
    "ridge-standard": lambda: TransformedTargetRegressor(Ridge(), transformer=StandardScaler()),
    "forest-minmax": lambda: TransformedTargetRegressor(RandomForestRegressor(n_estimators=3, max_depth=4,
                                                                              random_state=0),
                                                        transformer=MinMaxScaler()),
    "pipeline-identity": lambda: TransformedTargetRegressor(make_pipeline(StandardScaler(), Ridge(alpha=3))),
    "boosting-standard": lambda: TransformedTargetRegressor(GradientBoostingRegressor(n_estimators=5, random_state=0),
                                                            transformer=StandardScaler()),
}


@pytest.mark.parametrize("case", sorted(TARGETS))
def test_transformed_target_with_an_affine_inverse(case):
    X, y = load_diabetes(return_X_y=True)
    all_rows_agree(TARGETS[case]().fit(X, y), X)


def test_transformed_target_with_a_function_is_refused():
    X, y = load_diabetes(return_X_y=True)
    refused(TransformedTargetRegressor(Ridge(), func=np.log, inverse_func=np.exp).fit(X, y),
            "TransformedTargetRegressor(func=...)", "transformer=StandardScaler()")

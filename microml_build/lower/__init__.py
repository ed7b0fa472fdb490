"""The registry: estimator class -> lowering into the IR, and the one "unsupported" error."""

from __future__ import annotations

from dataclasses import replace

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.lower import bayes, linear, meta, mlp, preprocessing, svm, trees

# class name -> (module that defines it, lowering function). Matched on the exact class, not
# subclasses: a subclass may change predict() in ways a lowering cannot see. Meta-estimators (Pipeline,
# OneVsRestClassifier) get `lower` itself for their inner estimators.
LOWERINGS = {
    ("sklearn.svm._classes", "SVC"): svm.lower_svc,
    ("sklearn.svm._classes", "NuSVC"): svm.lower_svc,
    ("sklearn.linear_model._logistic", "LogisticRegression"): linear.lower_linear_classifier,
    ("sklearn.linear_model._logistic", "LogisticRegressionCV"): linear.lower_linear_classifier,
    ("sklearn.linear_model._ridge", "RidgeClassifier"): linear.lower_linear_classifier,
    ("sklearn.linear_model._ridge", "RidgeClassifierCV"): linear.lower_linear_classifier,
    ("sklearn.linear_model._stochastic_gradient", "SGDClassifier"): linear.lower_linear_classifier,
    ("sklearn.linear_model._perceptron", "Perceptron"): linear.lower_linear_classifier,
    ("sklearn.linear_model._passive_aggressive", "PassiveAggressiveClassifier"): linear.lower_linear_classifier,
    ("sklearn.svm._classes", "LinearSVC"): linear.lower_linear_classifier,
    ("sklearn.multiclass", "OneVsRestClassifier"): lambda est: meta.lower_one_vs_rest(est, lower),
    ("sklearn.linear_model._base", "LinearRegression"): linear.lower_linear_regressor,
    ("sklearn.linear_model._ridge", "Ridge"): linear.lower_linear_regressor,
    ("sklearn.linear_model._ridge", "RidgeCV"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "Lasso"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "LassoCV"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "ElasticNet"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "ElasticNetCV"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "MultiTaskLasso"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "MultiTaskElasticNet"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "MultiTaskLassoCV"): linear.lower_linear_regressor,
    ("sklearn.linear_model._coordinate_descent", "MultiTaskElasticNetCV"): linear.lower_linear_regressor,
    ("sklearn.linear_model._least_angle", "Lars"): linear.lower_linear_regressor,
    ("sklearn.linear_model._least_angle", "LassoLars"): linear.lower_linear_regressor,
    ("sklearn.linear_model._omp", "OrthogonalMatchingPursuit"): linear.lower_linear_regressor,
    ("sklearn.linear_model._bayes", "BayesianRidge"): linear.lower_linear_regressor,
    ("sklearn.linear_model._bayes", "ARDRegression"): linear.lower_linear_regressor,
    ("sklearn.linear_model._huber", "HuberRegressor"): linear.lower_linear_regressor,
    ("sklearn.linear_model._stochastic_gradient", "SGDRegressor"): linear.lower_linear_regressor,
    ("sklearn.linear_model._passive_aggressive", "PassiveAggressiveRegressor"): linear.lower_linear_regressor,
    ("sklearn.svm._classes", "LinearSVR"): linear.lower_linear_regressor,
    ("sklearn.svm._classes", "SVR"): svm.lower_svr,
    ("sklearn.svm._classes", "NuSVR"): svm.lower_svr,
    ("sklearn.naive_bayes", "GaussianNB"): bayes.lower_gaussian_nb,
    ("sklearn.naive_bayes", "BernoulliNB"): bayes.lower_bernoulli_nb,
    ("sklearn.naive_bayes", "MultinomialNB"): bayes.lower_multinomial_nb,
    ("sklearn.neural_network._multilayer_perceptron", "MLPClassifier"): mlp.lower_mlp,
    ("sklearn.neural_network._multilayer_perceptron", "MLPRegressor"): mlp.lower_mlp,
    ("sklearn.tree._classes", "DecisionTreeClassifier"): trees.lower_tree,
    ("sklearn.tree._classes", "DecisionTreeRegressor"): trees.lower_tree,
    ("sklearn.ensemble._forest", "RandomForestClassifier"): trees.lower_forest,
    ("sklearn.ensemble._forest", "RandomForestRegressor"): trees.lower_forest,
    ("sklearn.ensemble._forest", "ExtraTreesClassifier"): trees.lower_forest,
    ("sklearn.ensemble._forest", "ExtraTreesRegressor"): trees.lower_forest,
    ("sklearn.ensemble._gb", "GradientBoostingClassifier"): trees.lower_gradient_boosting,
    ("sklearn.ensemble._gb", "GradientBoostingRegressor"): trees.lower_gradient_boosting,
    ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingClassifier"):
        trees.lower_hist_gradient_boosting,
    ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingRegressor"):
        trees.lower_hist_gradient_boosting,
    ("sklearn.pipeline", "Pipeline"): lambda est: preprocessing.lower_pipeline(est, lower),
    ("sklearn.model_selection._search", "GridSearchCV"): lambda est: meta.lower_search(est, lower),
    ("sklearn.model_selection._search", "RandomizedSearchCV"): lambda est: meta.lower_search(est, lower),
    ("sklearn.model_selection._search_successive_halving", "HalvingGridSearchCV"): lambda est: meta.lower_search(est, lower),
    ("sklearn.model_selection._search_successive_halving", "HalvingRandomSearchCV"): lambda est: meta.lower_search(est, lower),
    ("sklearn.ensemble._voting", "VotingClassifier"): lambda est: meta.lower_voting_classifier(est, lower),
    ("sklearn.ensemble._voting", "VotingRegressor"): lambda est: meta.lower_voting_regressor(est, lower),
    ("sklearn.calibration", "CalibratedClassifierCV"): lambda est: meta.lower_calibrated(est, lower),
    ("sklearn.compose._target", "TransformedTargetRegressor"): lambda est: meta.lower_transformed_target(est, lower),
}


def supported_estimators() -> list[str]:
    return sorted(name for _, name in LOWERINGS)


def public_paths() -> dict[str, str]:
    """Class name -> the import path users write, e.g. `RandomForestClassifier` -> `sklearn.ensemble.RandomForestClassifier`.

    scikit-learn defines its classes in private modules (`sklearn.ensemble._forest`) and exports them
    from the package above the first private part.
    """
    paths = {}
    for module, name in LOWERINGS:
        parts = module.split(".")
        public = next((i for i, part in enumerate(parts) if part.startswith("_")), len(parts))
        paths[name] = ".".join(parts[:public] + [name])
    return paths


def lower(estimator) -> Model:
    """The IR for a fitted estimator, or a MicroMLError listing what is supported."""
    cls = type(estimator)
    lowering = LOWERINGS.get((cls.__module__, cls.__name__))
    if lowering is None:
        raise MicroMLError(f"{cls.__name__} is not supported yet",
                           fix="supported estimators: " + ", ".join(supported_estimators()))
    model = lowering(estimator)
    return model if model.family else replace(model, family=cls.__name__)

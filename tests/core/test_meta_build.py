"""Meta-estimators through `microml build`: from a script or from the yaml (train.estimator with sub-estimators
named in train.params), the build line says what shipped, and every refusal names the yaml file and the key."""

import pytest

from microml_build.errors import MicroMLError
from microml_build.pipeline.build import Log, build

QUIET = Log(quiet=True)


def set_train(project, train: str, dataset: str | None = None):
    yaml = (project / "microml.yaml").read_text().replace("  script: train.py\n", train)
    if dataset:
        yaml = yaml.replace("  path: data.csv\n  label: species\n", f"  path: '{dataset}'\n")
    (project / "microml.yaml").write_text(yaml)


def test_a_search_returned_by_train_is_shipped_as_its_best_estimator(project):
    (project / "train.py").write_text("from sklearn.model_selection import GridSearchCV\nfrom sklearn.svm import SVC\n\n"
                                      "def train(X, y):\n"
                                      "    return GridSearchCV(SVC(), {'C': [1, 10]}, cv=3).fit(X, y)\n")
    result = build(project / "microml.yaml", log=QUIET)
    assert "GridSearchCV best_estimator_: SVC(rbf)" in result.summary and "agreement 150/150" in result.summary
    header = (project / "include" / "iris_model.h").read_text()
    assert "GridSearchCV -> best_estimator_ SVC(" in header and "best_params_=" in header


@pytest.mark.parametrize("train,dataset,shipped", [
    ("  estimator: GridSearchCV\n  params: {estimator: SVC, param_grid: {C: [1, 10]}, cv: 3}\n", None,
     "GridSearchCV best_estimator_: SVC"),
    ("  estimator: HalvingGridSearchCV\n  params: {estimator: DecisionTreeClassifier, param_grid: {max_depth: [2, 3]},"
     " cv: 3, random_state: 0}\n", None, "HalvingGridSearchCV best_estimator_: DecisionTreeClassifier"),
    ("  estimator: OneVsRestClassifier\n  params: {estimator: {SVC: {kernel: linear}}}\n", None,
     "OneVsRestClassifier(SVC)"),
    ("  estimator: VotingClassifier\n  params: {estimators: [RandomForestClassifier, ExtraTreesClassifier], "
     "voting: soft}\n", None, "VotingClassifier(RandomForestClassifier, ExtraTreesClassifier)"),
    ("  estimator: TransformedTargetRegressor\n  params: {regressor: Ridge, transformer: StandardScaler}\n",
     "sklearn:diabetes", "TransformedTargetRegressor(StandardScaler) over Ridge"),
])
def test_meta_estimators_from_the_yaml(project, train, dataset, shipped):
    set_train(project, train, dataset)
    result = build(project / "microml.yaml", log=QUIET)
    assert shipped in result.summary and "agreement" in result.summary, result.summary


def test_an_unknown_sub_estimator_is_named(project):
    set_train(project, "  estimator: GridSearchCV\n  params: {estimator: SVCC, param_grid: {C: [1]}}\n")
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "train.params.estimator")
    assert "did you mean 'SVC'?" in err.value.fix


def test_a_refusal_from_a_script_names_the_yaml_and_the_key(project):
    (project / "train.py").write_text("import numpy as np\nfrom sklearn.compose import TransformedTargetRegressor\n"
                                      "from sklearn.linear_model import Ridge\n\n"
                                      "def train(X, y):\n    return TransformedTargetRegressor(Ridge(), func=np.log1p,"
                                      " inverse_func=np.expm1).fit(X, y)\n")
    set_train(project, "  script: train.py\n", "sklearn:diabetes")
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "train.script")
    assert str(err.value).startswith("microml.yaml: train.script: TransformedTargetRegressor(func=...)")


def test_a_refusal_from_the_yaml_names_the_estimator_key(project):
    set_train(project, "  estimator: GridSearchCV\n  params: {estimator: SVC, param_grid: {C: [1, 10]}, refit: false}\n")
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "train.estimator") and "refit=True" in err.value.fix

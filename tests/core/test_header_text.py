"""What the header's opening comment says is true: parameters as given (fitted sizes apart), pointers to sections
that exist, the C's own input width in the summary."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.feature_selection import SelectKBest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from microml_build.lower import lower
from microml_build.pipeline.build import Log, build

QUIET = Log(quiet=True)


def parameters_line(header: str) -> str:
    return re.search(r"^ \* Parameters: +(.*)$", header, re.M).group(1)


def use_estimator(project, line: str, precision: str = "float") -> str:
    yaml = (project / "microml.yaml").read_text().replace("  script: train.py\n", line)
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", f"  mcu: avr\n  precision: {precision}\n"))
    build(project / "microml.yaml", log=QUIET)
    return (project / "include" / "iris_model.h").read_text()


def test_tree_parameters_are_shown_as_given_and_the_fitted_depth_apart(project):
    header = use_estimator(project, "  estimator: DecisionTreeClassifier\n"
                                    "  params: {max_depth: 10, min_samples_leaf: 30, random_state: 0}\n")
    line = parameters_line(header)
    assert "max_depth=10" in line and re.search(r"fitted_depth=[1-4]\b", line), line


def test_forest_without_max_depth_says_none_as_given():
    X, y = make_classification(200, 5, random_state=0)
    model = lower(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y))
    assert model.params["max_depth"] is None and model.params["fitted_depth"] >= 3


def test_early_stopped_boosting_shows_the_iterations_it_kept():
    X, y = make_classification(300, 5, random_state=0)
    est = HistGradientBoostingRegressor(max_iter=300, early_stopping=True, n_iter_no_change=3,
                                        random_state=0).fit(X, y.astype(float))
    model = lower(est)
    assert model.params["max_iter"] == 300 and model.params["fitted_iterations"] == est.n_iter_ < 300
    gb = GradientBoostingClassifier(n_estimators=300, n_iter_no_change=2, random_state=0).fit(X, y)
    model = lower(gb)
    assert model.params["n_estimators"] == 300 and model.params["fitted_stages"] == gb.n_estimators_ < 300


def test_fixed_point_header_points_only_to_sections_that_exist(project):
    header = use_estimator(project, "  estimator: LogisticRegression\n  params: {max_iter: 1000}\n",
                           precision="fixed16")
    opening = header.split("*/", 1)[0]
    pointers = re.findall(r"\(see ([^)]+)\)", opening)
    assert pointers, "the API lines point to where the scaling is described"
    for pointer in pointers:
        title = re.sub(r" below$", "", pointer)
        assert re.search(rf"^ \* {re.escape(title)}\b", opening, re.M), f"no section '{title}' for '(see {pointer})'"


@pytest.mark.parametrize("step,what", [(PCA(6), "PCA"), (SelectKBest(k=6), "SelectKBest")])
def test_pipeline_summary_names_the_inputs_the_c_takes(step, what):
    X, y = make_classification(200, 16, n_informative=6, random_state=0)
    model = lower(make_pipeline(StandardScaler(), step, SVC()).fit(X, y))
    assert model.n_features == 16
    assert "x 6 features" not in model.summary and "16 features" in model.summary, model.summary


def test_pipeline_without_a_width_change_keeps_its_summary():
    data = load_breast_cancer()
    model = lower(make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=2, random_state=0))
                  .fit(data.data, data.target))
    assert "x 30 features" in model.summary and "from" not in model.summary.split(";")[0]
    assert np.all(model.params["fitted_depth"] == 2)


def test_a_long_facts_line_is_written_whole_and_read_back():
    """The facts JSON is data, not prose: cut at the comment's 300 characters (precision auto's reasons with a linker
    message make it longer) it no longer parsed, and `explain` lost the flash, cycles and the choice."""
    import json

    from microml_build.emit.header import emit_header
    from microml_build.pipeline.stamp import FACTS_KEY, parse_header
    from microml_build.plan import plan

    X, y = load_breast_cancer(return_X_y=True)
    facts = {"agreement": "569/569", "choice": "float the model does not fit the flash: " + "x" * 300,
             "cycles": 5454989, "flash": 18592, "precision": "int16-vectors"}
    text = emit_header(plan(lower(SVC().fit(X, y))), name="m", file_name="m.h",
                       provenance=[("Test", "facts"), (FACTS_KEY, json.dumps(facts, sort_keys=True))]).text
    assert parse_header(text).facts == facts


def test_a_negative_fixed_point_centre_reads_as_an_addition():
    """`xq = round(x * 2^12) + 508`, not `- -508`."""
    from types import SimpleNamespace

    import numpy as np

    from microml_build.emit.fixed import scaling_lines

    inputs = SimpleNamespace(exponent=np.array([12, 4]), offset=np.array([-508, 3]), low=np.array([-1.0, 0.5]),
                             high=np.array([0.5, 9.0]))
    lines = scaling_lines(SimpleNamespace(inputs=inputs, n_features=2), ("a", "b"))
    assert lines[0].startswith("x[0] a: xq = round(x * 2^12) + 508, step") and "- -" not in lines[0]
    assert lines[1].startswith("x[1] b: xq = round(x * 2^4) - 3, step")

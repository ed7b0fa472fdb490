"""train.refit: true scores the model fitted on the training split, then ships one fitted on every row; the header,
the build line and the report say which score belongs to which fit."""

import html
import json
import re

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from microml_build.commands.report import report
from microml_build.config import load_config
from microml_build.pipeline.build import Log, build, produce
from microml_build.pipeline.dataset import load_dataset

QUIET = Log(quiet=True)

RECORDING = """\
import json
from pathlib import Path

from sklearn.svm import SVC


def train(X, y):
    log = Path(__file__).with_name("calls.json")
    calls = json.loads(log.read_text()) if log.exists() else []
    log.write_text(json.dumps(calls + [len(X)]))
    return SVC(kernel="rbf", C=10, gamma="scale").fit(X, y)
"""


def refit_project(project):
    (project / "train.py").write_text(RECORDING)
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n", "  script: train.py\n  refit: true\n"))
    return load_config(project / "microml.yaml")


def test_refit_scores_the_split_fit_and_ships_the_all_rows_fit(project):
    config = refit_project(project)
    art = produce(config, "iris_model.h", "0" * 64, QUIET)
    assert json.loads((project / "calls.json").read_text()) == [112, 150]
    data = load_dataset(config)
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0,
                                                        stratify=data.y)
    split_fit = SVC(kernel="rbf", C=10, gamma="scale").fit(X_train, y_train)
    all_fit = SVC(kernel="rbf", C=10, gamma="scale").fit(np.concatenate([X_train, X_test]),
                                                         np.concatenate([y_train, y_test]))
    np.testing.assert_array_equal(art.estimator.support_vectors_, all_fit.support_vectors_)
    np.testing.assert_array_equal(art.held_out.support_vectors_, split_fit.support_vectors_)
    accuracy = float(np.mean(split_fit.predict(X_test) == y_test))
    assert art.score.startswith(f"test accuracy {accuracy:.4f}")
    assert art.verification.rows == 150 and art.verification.agree == 150


def test_refit_header_and_build_line_say_which_fit_was_scored(project):
    refit_project(project)
    result = build(project / "microml.yaml", log=QUIET)
    assert "of the model fitted on 112 rows; the header's model is refitted on all 150 rows" in result.summary
    header = (project / "include" / "iris_model.h").read_text()
    rows = re.search(r"^ \* Rows: +(.*)$", header, re.M).group(1)
    score = re.search(r"^ \* Test score: +(.*)$", header, re.M).group(1)
    assert "refitted on all 150" in rows, rows
    assert "on 38 held-out rows, of the model fitted on the other 112" in score and "train.refit" in score, score


def test_refit_report_scores_and_confuses_with_the_split_fit(project, tmp_path):
    refit_project(project)
    page = html.unescape(report(project / "microml.yaml", tmp_path / "r.html", log=QUIET).read_text())
    assert "of the model fitted on 112 rows; the header's model is refitted on all 150 rows" in page
    matrix = page.split("<h2>Confusion matrix (held-out split)</h2>", 1)[1].split("</table>", 1)[0]
    cells = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', matrix)]
    assert sum(cells) == 38


def test_refit_must_be_true_or_false(project):
    from microml_build.errors import MicroMLError

    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n", "  script: train.py\n  refit: yes please\n"))
    with pytest.raises(MicroMLError) as err:
        load_config(project / "microml.yaml")
    assert err.value.key == "train.refit" and "expected true or false" in str(err.value)

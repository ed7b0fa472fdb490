"""target.precision: auto picks the most exact form that fits the budget and meets verify.min_agreement: a model
that fits in float, one that needs int16 support vectors, one that needs int8, one that fits nowhere (the error
lists what was tried); it needs a budget; non-SVM families skip the packed forms."""

import re
import subprocess
import sys

import pytest

from microml_build.config import load_config
from microml_build.errors import MicroMLError
from microml_build.passes.precision import ORDER
from microml_build.pipeline.build import Log, build

QUIET = Log(quiet=True)

YAML = """\
name: cancer
dataset:
  path: sklearn:breast_cancer
train:
  script: train.py
verify:
  measure: false              # flash as estimated from the tables: measured figures have their own tests
target:
  mcu: avr
  budget: {{flash: {flash}}}
  precision: auto
output: include/cancer_model.h
"""

TRAIN = """\
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier


def train(X, y):
    return {model}.fit(X, y)
"""

SVM = "make_pipeline(StandardScaler(), SVC())"     # 100 support vectors x 30 features: 12.2 KB of float tables


def project(tmp_path, flash: str, model: str = SVM):
    root = tmp_path / "fw"
    root.mkdir()
    (root / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\n")
    (root / "microml.yaml").write_text(YAML.format(flash=flash))
    (root / "train.py").write_text(TRAIN.format(model=model))
    return root


def chosen(root):
    text = (root / "include" / "cancer_model.h").read_text()
    return re.search(r"\* Target: +avr, auto -> (\S+)", text).group(1)


def test_the_order_is_most_exact_first():
    assert ORDER == ("float", "int16-vectors", "int8-vectors", "fixed16", "fixed8")


def test_fits_in_float(tmp_path):
    root = project(tmp_path, "32K")
    result = build(root / "microml.yaml", log=QUIET)
    assert chosen(root) == "float"
    assert re.search(r"precision auto chose float \(float: 12\.\d KB estimated, agreement 569/569\)", result.summary)
    assert "agreement 569/569" in result.summary and "int16" not in result.summary


def test_needs_int16_vectors(tmp_path):
    root = project(tmp_path, "8K")
    result = build(root / "microml.yaml", log=QUIET)
    assert chosen(root) == "int16-vectors"
    assert re.search(r"precision auto chose int16-vectors \(float needs 12\.\d KB of flash > 8\.0 KB \(estimated\); "
                     r"int16-vectors: 6\.\d KB estimated, agreement 569/569\)", result.summary), result.summary
    text = (root / "include" / "cancer_model.h").read_text()
    assert "static const int16_t cancer_support_vectors[" in text
    assert re.search(r'"choice":"float needs', text)
    explained = subprocess.run([sys.executable, "-m", "microml_build", "explain", root / "include" / "cancer_model.h"],
                               capture_output=True, text=True)
    assert re.search(r"precision: +auto chose int16-vectors: float needs 12\.\d KB of flash > 8\.0 KB", explained.stdout), \
        explained.stdout


def test_needs_int8_vectors(tmp_path):
    root = project(tmp_path, "5K")
    result = build(root / "microml.yaml", log=QUIET)
    assert chosen(root) == "int8-vectors"
    assert "int16-vectors needs 6." in result.summary and "int8-vectors: 3." in result.summary
    assert re.search(r"int8-vectors agreement (\d+)/569", result.summary)
    assert int(re.search(r"int8-vectors agreement (\d+)/569", result.summary).group(1)) >= 0.99 * 569


def test_fits_nowhere_lists_what_was_tried_and_keeps_the_header(tmp_path):
    root = project(tmp_path, "2K")
    header = root / "include" / "cancer_model.h"
    header.parent.mkdir()
    header.write_text("/* previous */\n")
    with pytest.raises(MicroMLError) as err:
        build(root / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "target.precision")
    assert "raise target.budget" in err.value.fix
    for precision in ORDER:
        assert re.search(rf"^  {precision} +needs [\d.]+ KB of flash > 2\.0 KB \(estimated\)$", err.value.details,
                         re.M), err.value.details
    assert header.read_text() == "/* previous */\n"


def test_families_without_packed_forms_skip_them(tmp_path):
    """A tree has no support vectors: auto says so in the table it fails with, and never calls that a fit."""
    root = project(tmp_path, "64", model="DecisionTreeClassifier(random_state=0)")
    with pytest.raises(MicroMLError) as err:
        build(root / "microml.yaml", log=QUIET)
    assert re.search(r"^  int16-vectors +DecisionTreeClassifier has no support vectors to pack", err.value.details,
                     re.M), err.value.details
    assert re.search(r"^  fixed16 +needs", err.value.details, re.M)


def test_auto_needs_a_budget(tmp_path):
    root = project(tmp_path, "8K")
    (root / "microml.yaml").write_text((root / "microml.yaml").read_text().replace("  budget: {flash: 8K}\n", ""))
    with pytest.raises(MicroMLError) as err:
        load_config(root / "microml.yaml")
    assert err.value.key == "target.precision" and "target.board" in err.value.fix


def test_the_report_says_what_auto_chose_and_the_agreement(tmp_path):
    from microml_build.commands.report import report

    root = project(tmp_path, "8K")
    page = report(root / "microml.yaml", tmp_path / "r.html", log=QUIET).read_text()
    assert "target.precision: auto chose <code>int16-vectors</code>: float needs 12." in page
    assert "int16-vectors agreement 569/569" in page


def test_the_reason_separates_a_form_from_an_error_text():
    """A form refused by an error (the linker's "does not fit") reads "float: the model ...", not "float the model"."""
    from types import SimpleNamespace

    from microml_build.pipeline.build import _choice

    check = SimpleNamespace(agree=569, rows=569)
    text = _choice([("float", "the model does not fit the flash of the avr it is measured on: the linker reports 3142 "
                              "bytes too many"), ("int8-vectors", "agreement 563/569 is below verify.min_agreement 0.99")],
                   "fixed16", 9000, None, check)
    assert text.startswith("float: the model does not fit the flash")
    assert "; int8-vectors agreement 563/569 is below" in text and text.endswith("fixed16: 8.8 KB estimated, agreement 569/569")


def test_with_optimize_speed_a_float_model_too_big_written_out_stays_float_as_a_table(tmp_path):
    """30 weights written out need ~1.3 KB (44 B each, estimated); as a table 120 B. With a 1 KB budget auto keeps
    float, in its table form, and says so, rather than giving up exactness for a fixed-point form."""
    root = project(tmp_path, "1K", "make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))")
    (root / "train.py").write_text("from sklearn.linear_model import LogisticRegression\n" +
                                   (root / "train.py").read_text())
    (root / "microml.yaml").write_text((root / "microml.yaml").read_text().replace("  precision: auto\n",
                                                                                   "  precision: auto\n  optimize: speed\n"))
    result = build(root / "microml.yaml", log=QUIET)
    assert chosen(root) == "float,"      # "auto -> float, optimize speed"
    text = (root / "include" / "cancer_model.h").read_text()
    assert "cancer_weights[" in text     # the table form
    assert re.search(r"precision auto chose float \(float \(optimize: speed\) needs [\d.]+ KB of flash > 1\.0 KB "
                     r"\(estimated\); float \(optimize: balanced\): 140 B estimated", result.summary), result.summary

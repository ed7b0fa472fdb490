"""Bad datasets and training scripts: a MicroMLError naming the file, the line or key, and the fix."""

import numpy as np
import pytest

from microml_build.pipeline.build import Log, build
from microml_build.errors import MicroMLError

QUIET = Log(quiet=True)


def fails(project, match):
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", log=QUIET)
    assert match in str(err.value), str(err.value)
    assert err.value.fix
    assert not (project / "include" / "iris_model.h").exists()
    return err.value


DATASETS = {
    "empty_file": ("", "data.csv", "the file is empty"),
    "no_header_row": ("5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,1\n", "data.csv", "no header row"),
    "label_absent": ("a,b,kind\n1,2,x\n", "microml.yaml", "label column 'species' not in the header"),
    "non_numeric": ("a,b,species\n1,2,x\n1,oops,y\n", "data.csv", "line 3, column 'b': 'oops' is not a number"),
    "nan": ("a,b,species\n1,2,x\n1,nan,y\n", "data.csv", "line 3, column 'b': nan is not a finite number"),
    "inf": ("a,b,species\n1,inf,x\n1,2,y\n", "data.csv", "line 2, column 'b': inf is not a finite number"),
    "single_class": ("a,b,species\n" + "1,2,x\n" * 20, "data.csv", "every row has the same label (x)"),
    "ragged_row": ("a,b,species\n1,2,x\n1,y\n", "data.csv", "line 3: 2 fields, the header has 3"),
    "header_only": ("a,b,species\n", "data.csv", "no data rows"),
    "overflows_float32": ("a,b,species\n" + "1,2,x\n1,1e39,y\n" * 5, "data.csv", "overflows float32"),
    "too_few_rows": ("a,b,species\n1,2,x\n3,4,y\n", "microml.yaml", "too few"),
    "trailing_comma_in_header": ("a,b,species,\n1,2,x,\n", "data.csv",
                                 "column 4 of the header row has no name (a comma at the end of the line?)"),
    "missing_value": ("a,b,species\n1,2,x\n1,,y\n", "data.csv", "line 3, column 'b': empty (a missing value)"),
    "comma_data_with_semicolons": ("a,b,species\n1;2,x\n", "data.csv", "line 2: 2 fields, the header has 3"),
}


@pytest.mark.parametrize("case", sorted(DATASETS))
def test_bad_dataset(project, case):
    text, file, message = DATASETS[case]
    (project / "data.csv").write_text(text)
    assert fails(project, message).file == file


def test_feature_list_mismatch(project):
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace(
        "  label: species\n", "  label: species\n  features: [sepal_length, petal_size]\n"))
    err = fails(project, "feature column(s) not in the header: petal_size")
    assert err.key == "dataset.features"


def test_huge_csv_is_refused_by_size(project, monkeypatch):
    from microml_build.pipeline import dataset

    monkeypatch.setattr(dataset, "MAX_DATASET_BYTES", 1000)
    fails(project, "MicroML reads CSV files up to")


def test_npz_dataset(project):
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    np.savez(project / "data.npz", X=X, y=(X[:, 0] > 0).astype(int))
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace(
        "  path: data.csv\n  label: species\n", "  path: data.npz\n"))
    result = build(project / "microml.yaml", log=QUIET)
    assert result.built and "agreement 120/120" in result.summary


SCRIPTS = {
    "syntax_error": ("def train(X, y)\n    return 1\n", "syntax error on line 1"),
    "no_train_function": ("def fit(X, y):\n    pass\n", "no function train(X, y) defined"),
    "returns_none": ("def train(X, y):\n    pass\n", "returned None"),
    "returns_non_estimator": ("def train(X, y):\n    return 42\n", "returned a int, not a scikit-learn estimator"),
    "unfitted": ("from sklearn.svm import SVC\n\ndef train(X, y):\n    return SVC()\n", "is not fitted"),
    "fails_at_import": ("import not_a_module_xyz\n", "the script failed while loading"),
    "unsupported_estimator": ("from sklearn.neighbors import KNeighborsClassifier\n\n"
                              "def train(X, y):\n    return KNeighborsClassifier().fit(X, y)\n",
                              "KNeighborsClassifier is not supported yet"),
    "exits_the_process": ("import sys\n\ndef train(X, y):\n    sys.exit(3)\n", "tried to exit the process (sys.exit(3))"),
    "exits_while_loading": ("raise SystemExit('no data')\n", "the script failed while loading: SystemExit: no data"),
    "custom_pipeline_step": ("from sklearn.base import BaseEstimator, TransformerMixin\n"
                             "from sklearn.pipeline import make_pipeline\nfrom sklearn.svm import SVC\n\n"
                             "class Log(BaseEstimator, TransformerMixin):\n    def fit(self, X, y=None):\n"
                             "        return self\n    def transform(self, X):\n        return X * 2\n\n"
                             "def train(X, y):\n    return make_pipeline(Log(), SVC()).fit(X, y)\n",
                             "Pipeline step 'log' (Log) is not supported"),
}


@pytest.mark.parametrize("case", sorted(SCRIPTS))
def test_bad_training_script(project, case):
    text, message = SCRIPTS[case]
    (project / "train.py").write_text(text)
    fails(project, message)


def test_train_raising_shows_traceback_into_the_user_script(project):
    (project / "train.py").write_text("def helper(X):\n    return X[0] / 0\n\n\ndef train(X, y):\n"
                                      "    helper(1)\n")
    err = fails(project, "train(X, y) raised TypeError")
    assert 'train.py", line 6, in train' in err.details
    assert 'train.py", line 2, in helper' in err.details
    assert "microml_build" not in err.details


@pytest.mark.parametrize("clock", ["SIGALRM", "watchdog thread (Windows)"])
def test_training_timeout(project, monkeypatch, clock):
    from microml_build.pipeline import training

    monkeypatch.setattr(training, "ALARM", clock == "SIGALRM")
    (project / "train.py").write_text("import time\n\ndef train(X, y):\n    while True:\n        time.sleep(0.05)\n")
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n", "  script: train.py\n  timeout: 1\n"))
    err = fails(project, "training took longer than 1 s")
    assert err.key == "train.timeout"


@pytest.mark.parametrize("separator", [";", "\t"])
def test_spreadsheet_exports_with_semicolons_or_tabs_and_decimal_commas(project, separator):
    """Spreadsheets in many locales export `;` (or tab) between fields and a comma as the decimal point."""
    from microml_build.config import load_config
    from microml_build.pipeline.dataset import load_dataset

    rows = ["a;b;species", "1,5;2;x", "-3;4,25;y", "2e3;,5;x", "1.500;0;y"]
    (project / "data.csv").write_text("\n".join(row.replace(";", separator) for row in rows) + "\n")
    data = load_dataset(load_config(project / "microml.yaml"))
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.X, [[1.5, 2], [-3, 4.25], [2000, 0.5], [1500, 0]])  # `.`: thousands
    assert list(data.y) == ["x", "y", "x", "y"]


@pytest.mark.parametrize("estimator,message", [("Ridge", "Ridge is a regressor, but the labels are classes"),
                                               ("SVR", "SVR is a regressor, but the labels are classes")])
def test_inline_regressor_on_class_labels_blames_the_label(project, estimator, message):
    yaml = (project / "microml.yaml").read_text().replace("  script: train.py\n", f"  estimator: {estimator}\n")
    (project / "microml.yaml").write_text(yaml)
    err = fails(project, message)
    assert (err.file, err.key) == ("microml.yaml", "dataset.label")


def test_inline_classifier_on_continuous_labels_blames_the_label(project):
    rows = ["a,b,species"] + [f"{i / 7:.3f},{i % 5},{(i * 0.37) % 3:.2f}" for i in range(60)]
    (project / "data.csv").write_text("\n".join(rows) + "\n")
    yaml = (project / "microml.yaml").read_text().replace("  script: train.py\n", "  estimator: SVC\n")
    (project / "microml.yaml").write_text(yaml)
    err = fails(project, "SVC is a classifier, but the labels are continuous numbers")
    assert err.key == "dataset.label" and "regressor" in err.fix


def test_inline_estimator_class_of_the_users_own(project):
    """A dotted path is imported with the yaml's folder on the path, as train.script is."""
    (project / "mymodels.py").write_text("from sklearn.linear_model import LogisticRegression\n\n\n"
                                         "class Tuned:\n    def __init__(self, C=1.0):\n        self.C = C\n\n"
                                         "    def fit(self, X, y):\n"
                                         "        return LogisticRegression(C=self.C, max_iter=1000).fit(X, y)\n")
    yaml = (project / "microml.yaml").read_text().replace(
        "  script: train.py\n", "  estimator: mymodels.Tuned\n  params: {C: 3.0}\n")
    (project / "microml.yaml").write_text(yaml)
    result = build(project / "microml.yaml", log=QUIET)
    assert result.built and "LogisticRegression" in result.summary


@pytest.mark.parametrize("compiler,target,lang", [("g++", "host", "c++"),
                                                  pytest.param("arm-none-eabi-gcc", "cortex-m4", "c", marks=pytest.mark.arm)])
def test_verify_compiler_that_cannot_run_host_c_is_a_setting_error(project, compiler, target, lang):
    """A C++ or cross compiler as verify.compiler: the setting is named, not a MicroML bug."""
    from support import need_tool

    need_tool(target, lang)
    yaml = (project / "microml.yaml").read_text().replace("verify:\n", f"verify:\n  compiler: {compiler}\n")
    (project / "microml.yaml").write_text(yaml)
    err = fails(project, f"'{compiler}' cannot build and run a C99 program on this machine")
    assert (err.file, err.key) == ("microml.yaml", "verify.compiler") and "bug" not in str(err)


def test_tsv_file_is_tab_separated(project):
    from microml_build.config import load_config
    from microml_build.pipeline.dataset import load_dataset

    (project / "data.tsv").write_text("a\tb\tspecies\n1.5\t2\tx\n3\t4.25\ty\n")
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace("data.csv", "data.tsv"))
    data = load_dataset(load_config(project / "microml.yaml"))
    np.testing.assert_array_equal(data.X, [[1.5, 2], [3, 4.25]])


def test_several_label_columns_train_a_multi_output_regressor(project):
    """label: [a, b] makes one output per column: the header writes N_OUTPUTS values, verified on every row."""
    rng = np.random.RandomState(0)
    X = rng.rand(120, 3)
    rows = [f"{x[0]:.4f},{x[0] + 2 * x[1]:.4f},{x[1]:.4f},{x[2]:.4f},{x[2] - x[0]:.4f}" for x in X]
    (project / "data.csv").write_text("f0,speed,f1,f2,angle\n" + "\n".join(rows) + "\n")
    yaml = (project / "microml.yaml").read_text().replace("label: species", "label: [speed, angle]")
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n", "  estimator: Ridge\n"))
    result = build(project / "microml.yaml", log=QUIET)
    header = (project / "include" / "iris_model.h").read_text()
    assert "#define IRIS_N_OUTPUTS 2" in header and "void iris_predict_value(const float *x, float *y)" in header
    assert "x[0] f0" in header and "x[2] f2" in header and "speed" not in header.split("Features,")[1][:200]
    assert "agreement 120/120" in result.summary and "label 'speed, angle'" in header


def test_several_label_columns_with_a_single_output_regressor(project):
    rows = [f"{i / 50:.3f},{i % 7},{(i * 3) % 11}" for i in range(60)]
    (project / "data.csv").write_text("f0,a,b\n" + "\n".join(rows) + "\n")
    yaml = (project / "microml.yaml").read_text().replace("label: species", "label: [a, b]")
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n", "  estimator: GradientBoostingRegressor\n"))
    err = fails(project, "GradientBoostingRegressor could not fit 2 outputs")
    assert err.key == "dataset.label" and "RandomForestRegressor" in err.fix


LABEL_LISTS = {
    "text_in_a_label_column": ("f0,a,b\n1,2,x\n", "line 2, label column 'b': 'x' is not a number"),
    "label_column_missing": ("f0,a,c\n1,2,3\n", "label column 'b' not in the header"),
}


@pytest.mark.parametrize("case", sorted(LABEL_LISTS))
def test_bad_label_lists(project, case):
    text, message = LABEL_LISTS[case]
    (project / "data.csv").write_text(text)
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace("label: species",
                                                                                         "label: [a, b]"))
    fails(project, message)


def missing_csv(project) -> None:
    """Iris with one value in ten missing, written as a spreadsheet would (empty cells, NA, nan)."""
    rng = np.random.RandomState(0)
    lines = (project / "data.csv").read_text().splitlines()
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        for j in range(4):
            if rng.rand() < 0.1:
                cells[j] = ["", "NA", "nan"][(i + j) % 3]
        out.append(",".join(cells))
    (project / "data.csv").write_text("\n".join(out) + "\n")


def test_missing_values_reach_a_model_that_routes_them(project):
    """dataset.missing: nan keeps empty cells as NaN; HistGradientBoosting learns where they go and the C,
    verified on every row (NaN rows included), sends them the same way."""
    missing_csv(project)
    yaml = (project / "microml.yaml").read_text().replace("  label: species\n", "  label: species\n  missing: nan\n")
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n",
                                                       "  estimator: HistGradientBoostingClassifier\n"))
    result = build(project / "microml.yaml", log=QUIET)
    assert result.built and "agreement 150/150" in result.summary


def test_missing_values_with_a_model_that_cannot_take_them(project):
    missing_csv(project)
    yaml = (project / "microml.yaml").read_text().replace("  label: species\n", "  label: species\n  missing: nan\n")
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n", "  estimator: SVC\n"))
    err = fails(project, "SVC does not accept missing values (NaN)")
    assert err.key == "dataset.missing" and "HistGradientBoosting" in err.fix


def test_missing_values_are_refused_by_default_with_the_way_out(project):
    missing_csv(project)
    err = fails(project, "line 5, column 'petal_length': nan is not a finite number")
    assert "dataset.missing: nan" in err.fix
    (project / "data.csv").write_text((project / "data.csv").read_text().replace(",nan,", ",,").replace(",NA,", ",,"))
    err = fails(project, "empty (a missing value)")
    assert "dataset.missing: nan" in err.fix


def test_header_of_numbers_is_a_header_when_the_label_names_one(project):
    """Columns named by wavelength (`410,435,...`): a header of numbers, accepted because the label is one."""
    from microml_build.config import load_config
    from microml_build.pipeline.dataset import load_dataset

    (project / "data.csv").write_text("410,435,460\n0.1,0.2,x\n0.3,0.4,y\n0.5,0.6,x\n")
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace("label: species",
                                                                                         "label: '460'"))
    data = load_dataset(load_config(project / "microml.yaml"))
    assert data.feature_names == ("410", "435") and list(data.y) == ["x", "y", "x"]


def test_missing_label_text_is_a_missing_label(project):
    text = (project / "data.csv").read_text().splitlines()
    text[8] = text[8].rsplit(",", 1)[0] + ",NA"
    (project / "data.csv").write_text("\n".join(text) + "\n")
    fails(project, "missing label ('NA') on line 9")


def test_decimal_commas_in_label_columns(project):
    from microml_build.config import load_config
    from microml_build.pipeline.dataset import load_dataset

    (project / "data.csv").write_text("a;b;species\n1,5;2;4,25\n3;4;-0,5\n2;1;7\n")
    data = load_dataset(load_config(project / "microml.yaml"))
    np.testing.assert_array_equal(data.y, [4.25, -0.5, 7.0])


def test_semicolon_file_with_a_quoted_comma_in_a_header_name(project):
    from microml_build.config import load_config
    from microml_build.pipeline.dataset import load_dataset

    (project / "data.csv").write_text('"temp, inside";f2;species\n2,5;1;x\n-1;0,5;y\n')
    data = load_dataset(load_config(project / "microml.yaml"))
    assert data.feature_names == ("temp, inside", "f2")
    np.testing.assert_array_equal(data.X, [[2.5, 1], [-1, 0.5]])


def test_inline_estimator_that_is_not_a_class(project):
    """`os.system` imports fine but is a function: it is refused before anything is called."""
    yaml = (project / "microml.yaml").read_text().replace(
        "  script: train.py\n", "  estimator: os.system\n  params: {command: 'touch ran'}\n")
    (project / "microml.yaml").write_text(yaml)
    err = fails(project, "'os.system' is not a class")
    assert err.key == "train.estimator" and not (project / "ran").exists()


def test_unsupported_scikit_learn_class_by_path_is_refused_before_training(project):
    yaml = (project / "microml.yaml").read_text().replace(
        "  script: train.py\n", "  estimator: sklearn.neighbors.KNeighborsClassifier\n")
    (project / "microml.yaml").write_text(yaml)
    err = fails(project, "KNeighborsClassifier is not supported yet")
    assert err.key == "train.estimator" and "RandomForestClassifier" in err.fix


def test_misspelt_inline_parameter_suggests_the_right_one(project):
    yaml = (project / "microml.yaml").read_text().replace("  script: train.py\n",
                                                          "  estimator: SVC\n  params: {kernal: rbf}\n")
    (project / "microml.yaml").write_text(yaml)
    err = fails(project, "SVC does not take these parameters")
    assert err.key == "train.params" and err.fix.startswith("did you mean 'kernel'?")


def test_npz_float_targets_beyond_int64_are_read_as_floats(tmp_path):
    """Whole-number float targets are tidied to ints, but only where int64 holds them exactly: 1e20 (or 1e300)
    cast to int64 wraps to one garbage value ('every row has the same label'), a target read wrong."""
    from microml_build.config import load_config
    from microml_build.pipeline.dataset import load_dataset

    X = np.arange(12.0).reshape(6, 2)
    for y in (np.array([1e20, 2e20, 3e20, 4e20, 5e20, 6e20]), np.array([1e300, -2e300, 3.0, 4.0, 5.0, 6.0]),
              np.array([2.0 ** 63, 0.0, 1.0, 2.0, 3.0, 4.0])):
        np.savez(tmp_path / "d.npz", X=X, y=y)
        (tmp_path / "microml.yaml").write_text("name: h\ndataset: {path: d.npz}\ntrain: {estimator: Ridge}\n"
                                               "output: h.h\n")
        got = load_dataset(load_config(tmp_path / "microml.yaml")).y
        np.testing.assert_array_equal(got.astype(np.float64), y)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0]))
    assert load_dataset(load_config(tmp_path / "microml.yaml")).y.dtype == np.int64


def test_a_model_whose_numbers_exceed_float32_is_an_error_naming_the_fix(tmp_path):
    """Targets near 1e300 give weights no float32 holds: a MicroMLError naming the yaml and a fix, not a
    ValueError traceback from the emitter."""
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3)
    np.savez(tmp_path / "d.npz", X=X, y=X @ [1.0, 2.0, 3.0] * 1e300)
    (tmp_path / "microml.yaml").write_text("name: h\ndataset: {path: d.npz}\ntrain: {estimator: LinearRegression}\n"
                                           "output: h.h\n")
    with pytest.raises(MicroMLError, match="does not fit in a float32") as err:
        build(tmp_path / "microml.yaml", log=QUIET)
    assert err.value.file == "microml.yaml" and "StandardScaler" in err.value.fix
    assert not (tmp_path / "h.h").exists()

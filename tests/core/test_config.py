"""Bad microml.yaml input: each case fails with a MicroMLError that names the file, the key and the fix."""

import pytest

from microml_build.config import load_config
from microml_build.errors import MicroMLError

GOOD = {
    "name": "iris",
    "dataset": "dataset:\n  path: data.csv\n  label: species\n",
    "train": "train:\n  script: train.py\n",
    "output": "output: include/iris_model.h\n",
}


def write(project, text):
    (project / "microml.yaml").write_text(text)
    return project / "microml.yaml"


def good_text(**replace):
    parts = {"name": "name: iris\n", "dataset": GOOD["dataset"], "train": GOOD["train"], "output": GOOD["output"]}
    parts.update(replace)
    return "".join(v for v in parts.values() if v)


def error_for(project, text) -> MicroMLError:
    with pytest.raises(MicroMLError) as err:
        load_config(write(project, text))
    return err.value


def test_good_config_loads_with_defaults(project):
    config = load_config(write(project, good_text()))
    assert config.name == "iris"
    assert config.verify.test_size == 0.25 and config.verify.random_state == 0
    assert config.target.mcu == "host" and config.target.precision == "float"
    assert config.output == project / "include" / "iris_model.h"
    assert config.input_files() == [project / "microml.yaml", project / "data.csv", project / "train.py"]


CASES = {
    "not_yaml": ("name: [unclosed\n", None, "not valid YAML: line"),
    "empty": ("", None, "the file is empty"),
    "list": ("- name\n- dataset\n", None, "expected a mapping"),
    "unknown_key_suggests": (good_text() + "outptu: x.h\n", "outptu", "did you mean 'output'"),
    "unknown_nested_key": (good_text(dataset="dataset:\n  path: data.csv\n  lable: species\n"), "dataset.lable",
                           "did you mean 'dataset.label'"),
    "wrong_type": (good_text() + "verify:\n  test_size: lots\n", "verify.test_size", "expected a number"),
    "section_not_mapping": (good_text(train="train: train.py\n"), "train", "expected a mapping"),
    "missing_required": (good_text(output=None), "output", "required key 'output' is missing"),
    "missing_file": (good_text(train="train:\n  script: trian.py\n"), "train.script", "does not exist"),
    "duplicate_keys": (good_text() + "name: other\n", None, "duplicate key 'name'"),
    "name_not_identifier": (good_text(name="name: 2fast\n"), "name", "not a valid C identifier"),
    "name_c_keyword": (good_text(name="name: int\n"), "name", "C/C++ keyword"),
    "name_cpp_keyword": (good_text(name="name: class\n"), "name", "C/C++ keyword"),
    "name_reserved": (good_text(name="name: _Model\n"), "name", "reserved"),
    "output_absolute": (good_text(output="output: /usr/include/model.h\n"), "output", "is an absolute path"),
    "output_windows_absolute": (good_text(output="output: 'C:\\firmware\\model.h'\n"), "output",
                                "is an absolute path"),
    "extra_input_matches_nothing": (good_text(train="train:\n  script: train.py\n  inputs: [tables/*.json]\n"),
                                    "train.inputs", "'tables/*.json' matches no file"),
    "extra_input_missing": (good_text(train="train:\n  script: train.py\n  inputs: [calibration.json]\n"),
                            "train.inputs", "'calibration.json' does not exist"),
    "extra_input_folder": (good_text(train="train:\n  script: train.py\n  inputs: [include]\n"),
                           "train.inputs", "'include' is a folder"),
    "extra_input_not_a_name": (good_text(train="train:\n  script: train.py\n  inputs: [3]\n"),
                               "train.inputs", "expected a list of file names or glob patterns"),
    "extra_input_absolute": (good_text(train="train:\n  script: train.py\n  inputs: [/etc/hosts]\n"),
                             "train.inputs", "is an absolute path"),
    "output_onto_yaml": (good_text(output="output: microml.yaml\n"), "output", "not a header file name"),
    "output_onto_input": (good_text(output="output: train.h\n", train="train:\n  script: train.h\n"), "output",
                          "overwrite an input"),
    "unknown_mcu": (good_text() + "target:\n  mcu: pic\n", "target.mcu", "choose one of: avr, arm, esp32, host"),
    "unknown_board_suggests": (good_text() + "target:\n  board: unoo\n", "target.board", "did you mean 'uno'"),
    "unknown_precision": (good_text() + "target:\n  precision: double\n", "target.precision", "choose one of"),
    "board_mcu_conflict": (good_text() + "target:\n  board: uno\n  mcu: arm\n", "target.mcu", "avr board"),
    "both_script_and_estimator": (good_text(train="train:\n  script: train.py\n  estimator: sklearn.svm.SVC\n"),
                                  "train", "exactly one"),
    "bad_test_size": (good_text() + "verify:\n  test_size: 1.5\n", "verify.test_size", "outside (0, 1)"),
    "negative_random_state": (good_text() + "verify:\n  random_state: -1\n", "verify.random_state",
                              "-1 is outside 0 .. 4294967295"),
    "huge_random_state": (good_text() + "verify:\n  random_state: 4294967296\n", "verify.random_state",
                          "4294967296 is outside 0 .. 4294967295"),
    "unknown_sklearn_dataset": (good_text(dataset="dataset:\n  path: 'sklearn:iriss'\n"), "dataset.path",
                                "did you mean 'sklearn:iris'"),
    "csv_without_label": (good_text(dataset="dataset:\n  path: data.csv\n"), "dataset.label", "label column"),
    "bad_budget": (good_text() + "target:\n  budget:\n    flash: lots\n", "target.budget.flash", "not a size"),
    "unknown_estimator_name_suggests": (good_text(train="train:\n  estimator: RandomForestClasifier\n"),
                                        "train.estimator", "did you mean 'RandomForestClassifier'"),
    "unquoted_numeric_feature_names": (good_text(dataset="dataset:\n  path: data.csv\n  label: species\n"
                                                         "  features: [410, 400]\n"), "dataset.features",
                                       "column names that look like numbers must be quoted"),
    "label_list_with_sklearn_data": (good_text(dataset="dataset:\n  path: 'sklearn:iris'\n  label: [a, b]\n"),
                                     "dataset.label", "a list of label columns applies to CSV files"),
    "label_listed_twice": (good_text(dataset="dataset:\n  path: data.csv\n  label: [a, a]\n"), "dataset.label",
                           "listed twice"),
    "estimator_name_in_the_wrong_case": (good_text(train="train:\n  estimator: svc\n"), "train.estimator",
                                         "did you mean 'SVC'? (class names are case-sensitive)"),
    "preprocessing_step_as_estimator": (good_text(train="train:\n  estimator: StandardScaler\n"), "train.estimator",
                                        "StandardScaler is a preprocessing step, not a model"),
    "unsupported_sklearn_estimator": (good_text(train="train:\n  estimator: KNeighborsClassifier\n"),
                                      "train.estimator", "KNeighborsClassifier is not supported yet"),
    "not_a_class_path": (good_text(train="train:\n  estimator: sklearn..SVC\n"), "train.estimator",
                         "not a dotted class name"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_yaml_is_named(project, case):
    (project / "train.h").write_text("")
    (project / "include").mkdir()
    text, key, message = CASES[case]
    err = error_for(project, text)
    assert message in str(err), str(err)
    assert err.file == "microml.yaml"
    assert err.key == key
    assert err.fix, "every error says how to fix it"


def test_budget_sizes_parse(project):
    config = load_config(write(project, good_text() + "target:\n  mcu: avr\n  budget: {flash: 16K, ram: 512}\n"))
    assert config.target.flash_budget == 16384 and config.target.ram_budget == 512


def test_board_sets_mcu_and_budget(project):
    config = load_config(write(project, good_text() + "target:\n  board: uno\n"))
    assert config.target.mcu == "avr" and config.target.flash_budget == 32256 and config.target.ram_budget == 2048


def test_error_message_format(project):
    text = str(error_for(project, good_text() + "outptu: x.h\n"))
    assert text.startswith("microml.yaml: outptu: unknown key 'outptu'")
    assert "\n  fix: did you mean 'output'?" in text


@pytest.mark.parametrize("name,path", [("SVC", "sklearn.svm.SVC"),
                                       ("RandomForestClassifier", "sklearn.ensemble.RandomForestClassifier"),
                                       ("HistGradientBoostingRegressor",
                                        "sklearn.ensemble.HistGradientBoostingRegressor"),
                                       ("MLPClassifier", "sklearn.neural_network.MLPClassifier"),
                                       ("sklearn.svm.SVC", "sklearn.svm.SVC"),
                                       ("mypackage.models.Custom", "mypackage.models.Custom")])
def test_estimator_by_class_name_or_path(project, name, path):
    """A supported estimator may be named by its class alone, as users write it; a dotted path is kept as is."""
    config = load_config(write(project, good_text(train=f"train:\n  estimator: {name}\n")))
    assert config.train.estimator == path


def test_output_may_lie_outside_the_yamls_folder(project):
    """An ml/ + firmware/ repository: the yaml in ml/ writes into firmware/include/."""
    ml = project / "ml"
    ml.mkdir()
    for name in ("data.csv", "train.py"):
        (project / name).rename(ml / name)
    config = load_config(write(ml, good_text(output="output: ../firmware/include/model.h\n")))
    assert config.output == project / "firmware" / "include" / "model.h"


def test_output_onto_an_extra_input_is_refused(project):
    (project / "tables").mkdir()
    (project / "tables" / "lookup.h").write_text("")
    err = error_for(project, good_text(train="train:\n  script: train.py\n  inputs: [tables/*.h]\n",
                                       output="output: tables/lookup.h\n"))
    assert err.key == "output" and "overwrite an input" in str(err)


def test_extra_inputs_resolve_files_and_globs_in_order(project):
    (project / "tables" / "sub").mkdir(parents=True)
    for name in ("b.json", "a.json", "sub/c.json", "notes.txt"):
        (project / "tables" / name).write_text(name)
    (project / "calibration.csv").write_text("x\n")
    config = load_config(write(project, good_text(
        train="train:\n  script: train.py\n  inputs: [calibration.csv, 'tables/*.json', 'tables/**/*.json']\n")))
    tables = project / "tables"
    assert config.train.inputs == (project / "calibration.csv", tables / "a.json", tables / "b.json",
                                   tables / "sub" / "c.json")
    assert config.input_files()[3:] == list(config.train.inputs)
    one = load_config(write(project, good_text(train="train:\n  script: train.py\n  inputs: calibration.csv\n")))
    assert one.train.inputs == (project / "calibration.csv",)


def test_the_static_estimator_table_is_the_lowering_registry():
    """config.ESTIMATOR_PATHS lets a yaml name `SVC` without importing the lowerings; it must say exactly
    what the registry supports."""
    from microml_build.config import ESTIMATOR_PATHS
    from microml_build.lower import public_paths

    assert ESTIMATOR_PATHS == public_paths()


def test_loading_a_config_imports_no_numpy_sklearn_or_lowering(project):
    """`microml deps` runs at every configure of every build: it must stay light."""
    import subprocess
    import sys

    write(project, good_text(train="train:\n  estimator: SVC\n  params: {C: 2}\n"))
    code = ("import sys; from microml_build.commands.deps import run; run([sys.argv[1]], as_json=True); "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'sklearn', 'scipy') "
            "or m.startswith(('microml_build.lower', 'microml_build.emit', 'microml_build.ir'))); "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code, str(project / "microml.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("section,key", [("target", "board"), ("verify", "min_agreement"), ("dataset", "label"),
                                         ("target", "precision")])
def test_a_key_with_no_value_is_refused_not_read_as_its_default(tmp_path, section, key):
    """`board:` with nothing after it is a value the user left out: refused with the key, not a silent default."""
    (tmp_path / "data.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    lines = {"target": "", "verify": "", "dataset": "  path: data.csv\n  label: label\n"}
    lines[section] += f"  {key}:\n"
    lines["dataset"] = lines["dataset"].replace("  label: label\n  label:\n", "  label:\n")
    (tmp_path / "microml.yaml").write_text("name: m\ntrain:\n  estimator: SVC\noutput: m.h\n" + "".join(
        f"{name}:\n{body}" for name, body in lines.items() if body))
    with pytest.raises(MicroMLError) as err:
        load_config(tmp_path / "microml.yaml")
    assert err.value.key == f"{section}.{key}" and "no value" in str(err.value), err.value
    assert err.value.file == "microml.yaml"


def test_a_folder_stands_for_its_microml_yaml(project):
    """`microml build fw` (the folder `microml init fw` wrote into) reads fw/microml.yaml."""
    write(project, good_text())
    assert load_config(project).file == (project / "microml.yaml").absolute()
    empty = project / "empty"
    empty.mkdir()
    with pytest.raises(MicroMLError) as err:
        load_config(empty)
    assert "no microml.yaml in this folder" in str(err.value) and err.value.fix, str(err.value)

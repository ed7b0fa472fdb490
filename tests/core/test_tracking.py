"""Every input is tracked (issue 15, bug 1), and a change that leaves the model alone leaves the header alone
(item 16): the project modules the training imports, `train.inputs`, the stamp file beside a kept header."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

from microml_build.pipeline.build import Log, build, check
from microml_build.pipeline.inputs import imported_modules, project_module_file
from microml_build.pipeline.stamp import read_stamp, stamp_file
from microml_build.config import load_config

QUIET = Log(quiet=True)
REPO = Path(__file__).resolve().parents[2]


def cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "microml_build", *map(str, args)], capture_output=True, text=True,
                          env=env)


def deps(config: Path) -> list[Path]:
    result = cli("deps", config)
    assert result.returncode == 0, result.stderr
    return [Path(line) for line in result.stdout.splitlines()]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def write_script(project: Path, imports: str, c_value: str, body: str = "") -> None:
    """train.py: an RBF SVC whose C is the expression `c_value`, after `imports` and `body` lines."""
    (project / "train.py").write_text(f"{imports}\nfrom sklearn.svm import SVC\n\n\ndef train(X, y):\n{body}"
                                      f"    return SVC(kernel='rbf', C={c_value}, gamma='scale').fit(X, y)\n")


def use_estimator_class(project: Path) -> Path:
    """`train.estimator: mymodels.TunedTree`: a class in the yaml's folder whose fit() returns a tree."""
    (project / "mymodels.py").write_text(
        "from sklearn.tree import DecisionTreeClassifier\n\nDEPTH = 2\n\n\n"
        "class TunedTree:\n    def fit(self, X, y):\n"
        "        return DecisionTreeClassifier(max_depth=DEPTH, random_state=0).fit(X, y)\n")
    edit(project / "microml.yaml", "  script: train.py\n", "  estimator: mymodels.TunedTree\n")
    return project / "mymodels.py"


def test_the_estimators_own_module_is_an_input(project):
    module = use_estimator_class(project)
    config = project / "microml.yaml"
    assert module in deps(config)
    build(config, log=QUIET)
    header = project / "include" / "iris_model.h"
    before = header.read_bytes()
    assert check(config)[0]

    edit(module, "DEPTH = 2", "DEPTH = 3")
    ok, reason = check(config)
    assert not ok and "mymodels.py" in reason
    assert cli("check", config).returncode == 1
    result = build(config, log=QUIET)          # same process: the edited module must be re-imported
    assert result.built and not result.kept
    assert header.read_bytes() != before and "max_depth=3" in header.read_text()
    assert check(config)[0]


def test_another_projects_module_of_the_same_name_is_not_reused(project, tmp_path):
    """One process, two projects with a `mymodels.py` each (a test session, `microml watch`): each build
    imports its own."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "mymodels.py").write_text("OTHER = True\n")
    sys.path.insert(0, str(other))
    try:
        import mymodels                                   # noqa: F401 -- cached in sys.modules now
    finally:
        sys.path.remove(str(other))
    use_estimator_class(project)
    result = build(project / "microml.yaml", log=QUIET)
    assert result.built and "max_depth=2" in (project / "include" / "iris_model.h").read_text()
    assert sys.modules["mymodels"].__file__ == str(project / "mymodels.py")


def test_modules_the_script_imports_are_inputs_transitively(project):
    """train.py -> helpers (a package) -> helpers.features -> .scaling (relative); numpy and sklearn are not."""
    package = project / "helpers"
    package.mkdir()
    (package / "__init__.py").write_text("from .features import C_VALUE\n")
    (package / "features.py").write_text("import numpy as np\nfrom . import scaling\nC_VALUE = 10 * scaling.FACTOR\n")
    (package / "scaling.py").write_text("FACTOR = 1.0\n")
    (package / "unused.py").write_text("")
    write_script(project, "import os, json\nfrom helpers import C_VALUE", "C_VALUE")
    config = project / "microml.yaml"
    expected = [package / "__init__.py", package / "features.py", package / "scaling.py"]
    assert imported_modules(load_config(config)) == expected
    assert deps(config) == [config, project / "data.csv", project / "train.py", *expected]

    build(config, log=QUIET)
    header = project / "include" / "iris_model.h"
    text = header.read_text()
    assert " * Module:        helpers/scaling.py  sha256 " in text
    edit(package / "scaling.py", "FACTOR = 1.0", "FACTOR = 0.2")
    ok, reason = check(config)
    assert not ok and "helpers/scaling.py" in reason
    assert build(config, log=QUIET).built
    assert header.read_text() != text and "C=2" in header.read_text()


def test_a_dynamically_imported_module_is_recorded_and_tracked(project):
    """importlib.import_module with a computed name: no import statement names it, the build sees it loaded."""
    (project / "secret_sauce.py").write_text("C_VALUE = 10\n")
    write_script(project, "import importlib", "sauce.C_VALUE",
                 body="    sauce = importlib.import_module('secret' + '_sauce')\n")
    config = project / "microml.yaml"
    assert project / "secret_sauce.py" not in deps(config)          # not visible before a build
    build(config, log=QUIET)
    assert project / "secret_sauce.py" in deps(config)              # recorded by the build
    assert check(config)[0]
    edit(project / "secret_sauce.py", "C_VALUE = 10", "C_VALUE = 3")
    assert cli("check", config).returncode == 1
    result = build(config, log=QUIET)
    assert result.built and "C=3" in (project / "include" / "iris_model.h").read_text()


def test_train_inputs_are_hashed(project):
    (project / "params.json").write_text('{"C": 10}\n')
    write_script(project, "import json, pathlib", "C",
                 body="    C = json.loads((pathlib.Path(__file__).parent / 'params.json').read_text())['C']\n")
    config = project / "microml.yaml"
    edit(config, "  script: train.py\n", "  script: train.py\n  inputs: ['*.json']\n")
    assert project / "params.json" in deps(config)
    build(config, log=QUIET)
    assert " * Input:         params.json  sha256 " in (project / "include" / "iris_model.h").read_text()
    (project / "params.json").write_text('{"C": 4}\n')
    ok, reason = check(config)
    assert not ok and "params.json" in reason
    assert build(config, log=QUIET).built


def test_installed_code_is_never_a_project_module(project):
    """A virtual environment inside the project folder holds installed packages, not project code."""
    site = project / ".venv" / "lib" / "python3" / "site-packages"
    site.mkdir(parents=True)
    (site / "lib.py").write_text("")
    (project / "mine.py").write_text("")
    folders, installed = [project], []
    assert project_module_file(types.SimpleNamespace(__file__=str(site / "lib.py")), folders, installed) is None
    assert project_module_file(types.SimpleNamespace(__file__=str(project / "mine.py")), folders, installed) == \
        project / "mine.py"
    assert project_module_file(types.SimpleNamespace(__file__=str(project / "mine.py")), folders, [project]) is None
    assert project_module_file(types.SimpleNamespace(__file__=None), folders, installed) is None


# ---------------------------------------------------------------------------------------------
# Item 16: same model, other input hashes -> the header keeps its bytes and mtime

def test_a_comment_in_the_script_keeps_the_header(project):
    config = project / "microml.yaml"
    build(config, log=QUIET)
    header = project / "include" / "iris_model.h"
    os.utime(header, ns=(1_000_000_000, 1_000_000_000))
    content = header.read_bytes()
    old_stamp = read_stamp(header)

    with open(project / "train.py", "a") as handle:
        handle.write("# tuned on Tuesday\n")
    assert not check(config)[0]
    result = build(config, log=QUIET)
    assert result.built and result.kept
    assert header.read_bytes() == content and header.stat().st_mtime_ns == 1_000_000_000
    record = json.loads(stamp_file(header).read_text())
    assert record["header_sha256"] and record["stamp"] == read_stamp(header) != old_stamp
    assert record["config"] == "../microml.yaml"
    assert check(config)[0]
    assert cli("check", config).returncode == 0
    explained = cli("explain", header)
    assert explained.returncode == 0 and "up to date" in explained.stdout, explained.stdout
    assert not build(config, log=QUIET).built                       # skipped from now on

    # A yaml comment: the same; a real change rewrites the header and drops the stamp file.
    with open(config, "a") as handle:
        handle.write("# a note\n")
    assert build(config, log=QUIET).kept and header.read_bytes() == content
    edit(project / "train.py", "C=10", "C=2")
    result = build(config, log=QUIET)
    assert result.built and not result.kept and header.read_bytes() != content
    assert not stamp_file(header).exists()
    assert check(config)[0]


def test_a_stamp_file_of_other_header_bytes_is_ignored(project):
    config = project / "microml.yaml"
    build(config, log=QUIET)
    header = project / "include" / "iris_model.h"
    with open(project / "train.py", "a") as handle:
        handle.write("# comment\n")
    assert build(config, log=QUIET).kept
    header.write_text(header.read_text().replace("do not edit", "do not edit!"))   # hand-edited
    assert not check(config)[0]                                                   # the stamp file no longer vouches


def test_explain_finds_the_yaml_of_a_build_tree_header(project, tmp_path):
    """Item 7: a header written with --output (a CMake build tree) names its yaml in its stamp file."""
    out = tmp_path / "build" / "microml" / "iris_model.h"
    build(project / "microml.yaml", output=out, log=QUIET)
    assert json.loads(stamp_file(out).read_text())["config"] == os.path.relpath(project / "microml.yaml",
                                                                                out.parent).replace(os.sep, "/")
    found = cli("explain", out)
    assert found.returncode == 0 and "up to date" in found.stdout, found.stdout
    assert f"yaml:           {project / 'microml.yaml'}" in found.stdout
    with open(project / "data.csv", "a") as handle:
        handle.write("5.0,3.1,1.5,0.2,setosa\n")
    stale = cli("explain", out)
    assert stale.returncode == 1 and "STALE: inputs changed: data.csv" in stale.stdout

"""The PlatformIO hook (platformio_hook/microml_pio.py).

Two levels, as in nanopb's build-tests/platformio:
- unit tests run the hook with `runpy` against a fake SCons `env` and fake interpreters
  (shell scripts that log their calls): option parsing, interpreter discovery, registration;
- end-to-end tests drive the real `pio run` on a copy of tests/fixtures/pio_project, offline
  (see conftest.py): rebuild only on change, failures keep the last header, -j with two envs.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import need_tool  # tests/support.py: skip locally, fail in CI (CI=true)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
HOOK = REPO / "platformio_hook" / "microml_pio.py"
TRAINED = "[microml] Training"


# ---------------------------------------------------------------------------------------------
# A fake SCons environment, just enough of PlatformIO's API for the hook


class FakeNode:
    def __init__(self, path: str):
        self.path = path

    def srcnode(self):
        return self

    def get_abspath(self):
        return self.path


class FakeEnv(dict):
    def __init__(self, project: Path, options: dict | None = None, pythonexe: str | None = None,
                 clean: bool = False, dump: bool = False):
        super().__init__(PROJECT_DIR=str(project), PIOENV="test", PROJECT_BUILD_DIR=str(project / ".pio" / "build"),
                         BUILD_DIR=str(project / ".pio" / "build" / "test"),
                         PROJECT_LIBDEPS_DIR=str(project / ".pio" / "libdeps"),
                         PROJECT_PACKAGES_DIR=str(project / "core" / "packages"),
                         PROJECT_CORE_DIR=str(project / "core"), CPPPATH=[])
        if pythonexe:
            self["PYTHONEXE"] = pythonexe
        self.options = options or {}
        self.clean, self.dump = clean, dump
        self.commands, self.middlewares, self.depends = [], [], []
        self.marked = {"Precious": [], "NoClean": [], "NoCache": []}
        self.exit_code = None

    def GetProjectOption(self, name, default=None):
        return self.options.get(name, default)

    def subst(self, text):
        return re.sub(r"\$(\w+)", lambda m: str(self.get(m.group(1), "")), text)

    def File(self, path):
        return path

    def Action(self, function, strfunction=None, varlist=()):
        return (function, strfunction, tuple(varlist))

    def Command(self, target, sources, action, **overrides):
        self.commands.append({"target": target, "sources": list(sources), "action": action, "env": overrides})
        return [target]

    def Precious(self, node):
        self.marked["Precious"].extend(node)

    def NoClean(self, node):
        self.marked["NoClean"].extend(node)

    def NoCache(self, node):
        self.marked["NoCache"].extend(node)

    def AppendUnique(self, **values):
        for key, items in values.items():
            self.setdefault(key, [])
            self[key].extend(item for item in items if item not in self[key])

    def AddBuildMiddleware(self, callback, pattern=None):
        self.middlewares.append(callback)

    def Object(self, node):
        return [node.path + ".o"]

    def Depends(self, target, dependencies):
        self.depends.append((target, list(dependencies)))

    def Exit(self, code=0):
        self.exit_code = code
        raise SystemExit(code)

    def IsCleanTarget(self):
        return self.clean

    def IsIntegrationDump(self):
        return self.dump


def run_hook(env: FakeEnv) -> dict:
    """Execute the hook as PlatformIO does (`Import("env")` then top-level code); SystemExit is kept."""
    try:
        return runpy.run_path(str(HOOK), init_globals={"Import": lambda *names: None, "env": env},
                              run_name="microml_pio")
    except SystemExit:
        return {}


def hook_module() -> dict:
    """The hook's functions, without registering anything (no `Import` defined)."""
    return runpy.run_path(str(HOOK), run_name="microml_pio")


@pytest.fixture
def project(tmp_path) -> Path:
    """The fixture project's inputs in a folder whose name has a space."""
    path = tmp_path / "my project"
    path.mkdir()
    for name in ("platformio.ini", "microml.yaml", "train.py", "data"):
        source = FIXTURES / "pio_project" / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, path / name)
    return path


@pytest.fixture
def pythons(tmp_path, monkeypatch):
    """make(name, works) -> a fake interpreter; `calls()` lists 'name first-arg third-arg' per call."""
    if os.name == "nt":
        pytest.skip("fake interpreters are shell scripts")
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    monkeypatch.delenv("MICROML_PYTHON", raising=False)
    monkeypatch.setenv("PATH", str(folder))      # only the fakes: no system python3 joins the discovery

    def make(name: str, works: bool, launcher: bool = False) -> str:
        path = folder / name
        record = f'printf "%s %s %s\\n" "{name}" "$1" "$3" >> "{log}"\n'
        if launcher:          # `py -3 ...`: drop the version switch, as the Windows launcher does
            record += 'if [ "$1" = "-3" ]; then shift; fi\n'
        if works:
            body = f'PYTHONPATH="{REPO}" exec "{sys.executable}" "$@"\n'
        else:
            body = "echo \"ModuleNotFoundError: No module named 'microml_build'\" >&2\nexit 1\n"
        path.write_text("#!/bin/sh\n" + record + body)
        path.chmod(0o755)
        return str(path)

    make.calls = lambda: log.read_text().splitlines()
    return make


# ---------------------------------------------------------------------------------------------
# Unit tests: options and depfiles


@pytest.mark.parametrize("raw, expected", [
    (None, []),
    ("microml.yaml", ["microml.yaml"]),
    ("a.yaml, b.yaml", ["a.yaml", "b.yaml"]),
    ("\na.yaml\n  b.yaml ,c.yaml\n\n", ["a.yaml", "b.yaml", "c.yaml"]),
    (["a.yaml", "b.yaml"], ["a.yaml", "b.yaml"]),
    ("models/my model.yaml", ["models/my model.yaml"]),
], ids=["unset", "one", "comma", "lines-and-commas", "list", "space-in-name"])
def test_split_option(raw, expected):
    assert hook_module()["split_option"](raw) == expected


def test_windows_paths_from_platformio_ini(tmp_path):
    """Drive letters, backslashes and spaces, with Windows' path rules (ntpath) on any machine."""
    import ntpath

    hook = hook_module()
    globals_ = hook["project_path"].__globals__
    saved = globals_["ospath"]
    globals_["ospath"] = ntpath
    try:
        project = r"C:\Users\Jo Doe\My Firmware"
        assert hook["project_path"](project, r"models\iris model.yaml") == \
            r"C:\Users\Jo Doe\My Firmware\models\iris model.yaml"
        assert hook["project_path"](project, "../ml/microml.yaml") == r"C:\Users\Jo Doe\ml\microml.yaml"
        assert hook["project_path"](project, r"D:\shared\microml.yaml") == r"D:\shared\microml.yaml"
        assert hook["_resolve_executable"](r".venv\Scripts\python.exe", project) == \
            r"C:\Users\Jo Doe\My Firmware\.venv\Scripts\python.exe"
        assert hook["_resolve_executable"]("C:/Python312/python.exe", project) == r"C:\Python312\python.exe"
        assert hook["_relative"](r"C:\Users\Jo Doe\My Firmware\include\model.h", project) == "include/model.h"
        assert hook["_relative"](r"D:\elsewhere\model.h", project) == r"D:\elsewhere\model.h"   # another drive
        assert hook["_inside"](r"c:\users\jo doe\my firmware\src\main.cpp", project)        # case-insensitive
        assert not hook["_inside"](r"C:\Users\Jo Doe\My Firmware 2\src\main.cpp", project)
    finally:
        globals_["ospath"] = saved


# ---------------------------------------------------------------------------------------------
# Unit tests: interpreter discovery


def chosen(env: FakeEnv) -> str:
    assert env.exit_code is None, "the hook stopped the build"
    return env.commands[0]["env"]["MICROML_PYTHON"]


def test_custom_option_wins_over_everything(project, pythons, monkeypatch):
    option = pythons("from-option", True)
    monkeypatch.setenv("MICROML_PYTHON", pythons("from-env", True))
    pythons("python3", True)
    env = FakeEnv(project, {"custom_microml_python": option}, pythonexe=pythons("pio-python", True))
    run_hook(env)
    assert chosen(env) == option
    assert {line.split()[0] for line in pythons.calls()} == {"from-option"}


def test_env_var_is_next_and_a_broken_option_is_reported(project, pythons, monkeypatch, capsys):
    broken = pythons("from-option", False)
    from_env = pythons("from-env", True)
    monkeypatch.setenv("MICROML_PYTHON", from_env)
    env = FakeEnv(project, {"custom_microml_python": broken}, pythonexe=pythons("pio-python", True))
    run_hook(env)
    assert chosen(env) == from_env
    assert f"[microml] warning: custom_microml_python = {broken} cannot import microml_build" in capsys.readouterr().err


def test_python3_on_path_is_next(project, pythons):
    python3 = pythons("python3", True)
    env = FakeEnv(project, pythonexe=pythons("pio-python", True))
    run_hook(env)
    assert chosen(env) == python3
    assert [line.split()[0] for line in pythons.calls()][0] == "python3"


def test_python_on_path_then_the_windows_launcher(project, pythons):
    """Windows has `python` (and the `py` launcher), not `python3`; the launcher stands for the
    interpreter it starts, which then runs the generator directly."""
    pythons("python3", False)
    python = pythons("python", True)
    env = FakeEnv(project, pythonexe=pythons("pio-python", True))
    run_hook(env)
    assert chosen(env) == python
    (Path(python)).unlink()
    pythons("py", True, launcher=True)
    env = FakeEnv(project, pythonexe=pythons("pio-python", True))
    run_hook(env)
    assert chosen(env) == sys.executable                   # what `py -3` reported as sys.executable
    assert [line.split()[:2] for line in pythons.calls() if line.startswith("py ")] == [["py", "-3"]]


def test_platformio_python_is_last(project, pythons):
    pythons("python3", False)
    pio_python = pythons("pio-python", True)
    env = FakeEnv(project, pythonexe=pio_python)
    run_hook(env)
    assert chosen(env) == pio_python
    assert [line.split()[0] for line in pythons.calls()][:2] == ["python3", "pio-python"]


def test_option_may_be_a_command_name_or_a_project_relative_path(project, pythons):
    pythons("python3.99", True)
    env = FakeEnv(project, {"custom_microml_python": "python3.99"})
    run_hook(env)
    assert chosen(env) == str(Path(pythons("python3.99", True)))
    (project / "venv" / "bin").mkdir(parents=True)
    shutil.copy2(pythons("in-venv", True), project / "venv" / "bin" / "python")
    env = FakeEnv(project, {"custom_microml_python": "venv/bin/python"})
    run_hook(env)
    assert chosen(env) == str(project / "venv" / "bin" / "python")


def test_no_interpreter_fails_saying_what_to_install_where(project, pythons, monkeypatch, capsys):
    broken = pythons("from-option", False)
    monkeypatch.setenv("MICROML_PYTHON", str(project / "missing" / "python"))
    pythons("python3", False)
    pio_python = pythons("pio-python", False)
    env = FakeEnv(project, {"custom_microml_python": broken}, pythonexe=pio_python)
    run_hook(env)
    assert env.exit_code == 1
    assert env.commands == []
    err = capsys.readouterr().err
    assert all(line.startswith("[microml] ") for line in err.splitlines())
    assert "no Python interpreter can import microml_build" in err
    for label in ("custom_microml_python:", "MICROML_PYTHON:", "python3 on PATH:", "PlatformIO's Python:"):
        assert label in err
    assert f'"{broken}" -m pip install microml-build' in err
    assert "custom_microml_python = /path/to/python" in err
    assert "No module named 'microml_build'" in err and "(not found)" in err


def test_ide_metadata_only_warns(project, pythons, capsys):
    pythons("python3", False)
    env = FakeEnv(project, pythonexe=pythons("pio-python", False), dump=True)
    run_hook(env)
    assert env.exit_code is None
    assert "[microml] warning: no Python interpreter can import microml_build" in capsys.readouterr().err


def test_clean_does_nothing(project, pythons):
    env = FakeEnv(project, pythonexe=pythons("pio-python", True), clean=True)
    run_hook(env)
    assert env.commands == [] and pythons.calls() == []


# ---------------------------------------------------------------------------------------------
# Unit tests: what gets registered


def test_registers_the_header_as_an_scons_target(project, pythons):
    python = pythons("python3", True)
    env = FakeEnv(project)
    run_hook(env)
    [command] = env.commands
    header = str(project / "include" / "iris_model.h")
    assert command["target"] == header
    assert command["sources"] == [str(project / "microml.yaml"), str(project / "data" / "iris.csv"),
                                  str(project / "train.py")]
    assert command["env"]["MICROML_PYTHON"] == python
    assert command["env"]["MICROML_CONFIG"] == str(project / "microml.yaml")
    assert command["action"][2] == ("MICROML_VERSION", "MICROML_BOARD")  # a new version or board reruns
    assert env["CPPPATH"] == [str(project / "include")]
    assert all(env.marked[mark] == [header] for mark in ("Precious", "NoClean", "NoCache"))
    # script-read time: one import check, then one `deps --json` for every yaml; never a build
    assert [line.split(" ", 1)[1] for line in pythons.calls()] == ["-c ", "-m deps"]

    # the generator's argument list: no shell, paths with spaces stay whole
    build_env = dict(command["env"])
    assert hook_module()["build_command"](build_env) == [
        python, "-m", "microml_build", "build", str(project / "microml.yaml")]
    build_env["MICROML_BOARD"] = "esp32"  # custom_microml_board: this env's own budget check
    assert hook_module()["build_command"](build_env)[-2:] == ["--board", "esp32"]


def test_every_read_asks_the_generator_so_yaml_edits_are_seen_at_once(project, pythons):
    pythons("python3", True)
    run_hook(FakeEnv(project))
    first = len(pythons.calls())
    text = (project / "microml.yaml").read_text().replace("include/iris_model.h", "gen/other.h")
    (project / "microml.yaml").write_text(text)
    env = FakeEnv(project)
    run_hook(env)
    assert len(pythons.calls()) == 2 * first == 4          # the import check and one deps call each time
    assert env.commands[0]["target"] == str(project / "gen" / "other.h")
    assert env["CPPPATH"] == [str(project / "gen")]


def test_imported_modules_and_train_inputs_are_sources(project, pythons):
    """Bug 1 of issue 15: SCons must rerun the generator when a module the training imports changes."""
    pythons("python3", True)
    (project / "features.py").write_text("C_VALUE = 10\n")
    (project / "params.json").write_text("{}\n")
    script = (project / "train.py").read_text()
    (project / "train.py").write_text("from features import C_VALUE\n" + script)
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  script: train.py\n",
                                                       "  script: train.py\n  inputs: [params.json]\n"))
    env = FakeEnv(project)
    run_hook(env)
    assert env.commands[0]["sources"] == [str(project / n) for n in
                                          ("microml.yaml", "data/iris.csv", "train.py", "params.json", "features.py")]


def test_a_yaml_outside_the_project_writing_into_it(tmp_path, pythons):
    """An ml/ + firmware/ repository: platformio.ini in firmware/, the yaml in ml/ with
    `output: ../firmware/include/model.h` (issue 15, item 13)."""
    pythons("python3", True)
    repo = tmp_path / "my repo"
    (repo / "ml" / "data").mkdir(parents=True)
    (repo / "firmware").mkdir()
    for name in ("train.py", "data/iris.csv"):
        shutil.copy2(FIXTURES / "pio_project" / name, repo / "ml" / name)
    (repo / "ml" / "microml.yaml").write_text(
        "name: iris\ndataset: {path: data/iris.csv, label: species}\ntrain: {script: train.py}\n"
        "output: ../firmware/include/model.h\n")
    env = FakeEnv(repo / "firmware", {"custom_microml_config": "../ml/microml.yaml"})
    run_hook(env)
    [command] = env.commands
    assert command["target"] == str(repo / "firmware" / "include" / "model.h")
    assert command["sources"][0] == str(repo / "ml" / "microml.yaml")
    assert env["CPPPATH"] == [str(repo / "firmware" / "include")]
    assert command["env"]["MICROML_SHOWN"] == "include/model.h"


def test_several_configs(project, pythons):
    pythons("python3", True)
    (project / "second").mkdir()
    (project / "second" / "microml.yaml").write_text(
        "name: twin\ndataset: {path: sklearn:iris}\ntrain: {script: ../train.py}\noutput: ../include/twin.h\n")
    env = FakeEnv(project, {"custom_microml_config": "microml.yaml\n  second/microml.yaml"})
    run_hook(env)
    assert [line.split(" ", 1)[1] for line in pythons.calls()] == ["-c ", "-m deps"]   # one deps for both
    assert [c["target"] for c in env.commands] == [str(project / "include" / "iris_model.h"),
                                                   str(project / "include" / "twin.h")]
    assert env.commands[1]["sources"] == [str(project / "second" / "microml.yaml"), str(project / "train.py")]
    assert env["CPPPATH"] == [str(project / "include")]


def test_missing_config_names_the_option(project, pythons, capsys):
    pythons("python3", True)
    env = FakeEnv(project, {"custom_microml_config": "models/nope.yaml"})
    run_hook(env)
    assert env.exit_code == 1
    err = capsys.readouterr().err
    assert "[microml] custom_microml_config = models/nope.yaml: file not found" in err


def test_invalid_yaml_fails_with_the_generators_message(project, pythons, capsys):
    pythons("python3", True)
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text() + "tarin: {}\n")
    env = FakeEnv(project)
    run_hook(env)
    assert env.exit_code == 1
    err = capsys.readouterr().err
    assert "unknown key 'tarin'" in err and "[microml] [microml]" not in err


def test_middleware_orders_project_sources_only(project, pythons):
    pythons("python3", True)
    env = FakeEnv(project)
    run_hook(env)
    [middleware] = env.middlewares
    header = str(project / "include" / "iris_model.h")
    assert middleware(env, FakeNode(str(project / "src" / "main.c"))) == [str(project / "src" / "main.c.o")]
    assert env.depends == [([str(project / "src" / "main.c.o")], [header])]
    framework = FakeNode(str(project / "core" / "packages" / "framework" / "wiring.c"))
    assert middleware(env, framework) is framework
    outside = FakeNode("/usr/share/arduino/core.c")
    assert middleware(env, outside) is outside
    assert len(env.depends) == 1


# ---------------------------------------------------------------------------------------------
# End to end: real `pio run` (conftest.py prepares an offline core dir)


def sections(elf: Path, size_tool: str) -> dict[str, int]:
    out = subprocess.run([size_tool, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", out, re.M)}


def mtimes(*paths: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in paths}


def objects(project, pioenv: str) -> list[Path]:
    return sorted((project.path / ".pio" / "build" / pioenv / "src").glob("*.o"))


@pytest.mark.pio
@pytest.mark.avr
def test_first_build_trains_and_links_then_nothing_happens(pio_project):
    need_tool("avr")
    first = pio_project.run("-e", "avr")
    assert first.count(TRAINED) == 1, first.output
    assert pio_project.header.is_file()
    elf = pio_project.firmware("avr")
    assert elf.is_file()

    # the model's tables are in flash (PROGMEM: local text symbols), none in RAM (.data/.bss)
    size = sections(elf, "avr-size")
    symbols = subprocess.run(["avr-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    model = [(kind, int(length, 16), name) for length, kind, name in
             re.findall(r"^\S+ (\S+) ([a-zA-Z]) (iris_\w+)$", symbols, re.M) if name != "iris_second"]
    assert model and all(kind == "t" for kind, _, _ in model), model
    assert sum(length for _, length, _ in model) >= 256, model  # support vectors, coefficients, ...
    assert size.get(".data", 0) <= 64, size

    watched = [pio_project.header, elf, *objects(pio_project, "avr")]
    before = mtimes(*watched)
    second = pio_project.run("-e", "avr")
    assert TRAINED not in second.output and "[microml]" not in second.output, second.output
    assert "Compiling" not in second.output and "Linking" not in second.output, second.output
    assert mtimes(*watched) == before
    print(f"\n[timing] first pio run (train + build, avr): {first.seconds:.1f} s; "
          f"no-op pio run: {second.seconds:.1f} s")


@pytest.mark.pio
def test_each_input_edit_regenerates_once(pio_project):
    project = pio_project.path
    assert pio_project.run("-e", "host").count(TRAINED) == 1

    # SCons compares content hashes: a touch is not a change
    os.utime(project / "data" / "iris.csv")
    assert TRAINED not in pio_project.run("-e", "host").output

    script = project / "train.py"
    edits = {
        "dataset": lambda: (project / "data" / "iris.csv").open("a").write("6.1,2.9,4.6,1.4,versicolor\n"),
        "script": lambda: script.write_text(script.read_text().replace("C=10.0", "C=5.0")),
        "yaml": lambda: (project / "microml.yaml").open("a").write("verify: {random_state: 3}\n"),
    }
    for what, edit in edits.items():
        header = pio_project.header.read_bytes()
        edit()
        changed = pio_project.run("-e", "host")
        assert changed.count(TRAINED) == 1, f"after editing the {what}:\n{changed.output}"
        assert pio_project.header.read_bytes() != header
        again = pio_project.run("-e", "host")
        assert TRAINED not in again.output and "Compiling" not in again.output, f"{what}, second run:\n{again.output}"

    # the firmware runs the regenerated model
    rows = "5.1,3.5,1.4,0.2\n6.4,3.2,4.5,1.5\n7.7,3.8,6.7,2.2\n"
    out = subprocess.run([str(pio_project.firmware("host"))], input=rows, capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["setosa", "versicolor", "virginica"]


@pytest.mark.pio
def test_an_edit_that_keeps_the_model_recompiles_nothing(pio_project):
    """Issue 15, item 16: a comment in train.py or the yaml reruns the generator once, which finds the same
    model and keeps the header's bytes and mtime; SCons then recompiles nothing."""
    project = pio_project.path
    assert pio_project.run("-e", "host").count(TRAINED) == 1
    watched = [pio_project.header, pio_project.firmware("host"), *objects(pio_project, "host")]
    before = mtimes(*watched)
    content = pio_project.header.read_bytes()
    for path in (project / "train.py", project / "microml.yaml"):
        with open(path, "a") as handle:
            handle.write("# a comment\n")
        changed = pio_project.run("-e", "host")
        assert changed.count(TRAINED) == 1, changed.output
        assert "[microml] Kept include/iris_model.h" in changed.output, changed.output
        assert "Compiling" not in changed.output and "Linking" not in changed.output, changed.output
        assert pio_project.header.read_bytes() == content and mtimes(*watched) == before
        again = pio_project.run("-e", "host")
        assert "[microml]" not in again.output, again.output
    assert (project / "include" / "iris_model.h.stamp").is_file()


@pytest.mark.pio
def test_failing_training_stops_the_build_and_keeps_the_header(pio_project):
    project = pio_project.path
    pio_project.run("-e", "host")
    good = pio_project.header.read_bytes()
    script = (project / "train.py").read_text()
    (project / "train.py").write_text(script.replace("return SVC(", "raise RuntimeError('no data today')\n    SVC("))

    for attempt in ("first", "retry"):  # a failed action leaves no signature: the next run retries
        failed = pio_project.run("-e", "host", check=False)
        assert failed.code != 0, failed.output
        assert "no data today" in failed.output, failed.output
        assert "[microml] error: generating include/iris_model.h failed" in failed.output
        assert pio_project.header.read_bytes() == good, attempt

    # back to the inputs of the kept header: SCons's last good signature matches, nothing runs
    (project / "train.py").write_text(script)
    fixed = pio_project.run("-e", "host")
    assert TRAINED not in fixed.output, fixed.output
    assert pio_project.header.read_bytes() == good


@pytest.mark.pio
@pytest.mark.avr
def test_two_environments_share_one_header_with_parallel_jobs(pio_project):
    need_tool("avr")
    first = pio_project.run("-j", "2")
    assert first.count(TRAINED) == 1, first.output
    assert pio_project.firmware("host").is_file() and pio_project.firmware("avr").is_file()
    header = pio_project.header.stat().st_mtime_ns
    second = pio_project.run("-j", "2")
    assert TRAINED not in second.output and "Compiling" not in second.output, second.output
    assert pio_project.header.stat().st_mtime_ns == header


# ---------------------------------------------------------------------------------------------
# examples/platformio-uno: built with the real Arduino core and run in test_platformio_arduino.py.

EXAMPLE = REPO / "examples" / "platformio-uno"


def test_uno_example_ships_the_current_hook():
    assert (EXAMPLE / "microml_pio.py").read_bytes() == HOOK.read_bytes(), \
        "refresh it: cp platformio_hook/microml_pio.py examples/platformio-uno/"


@pytest.mark.pio
def test_init_platformio_then_pio_run(pio_factory, tmp_path):
    """A user's PlatformIO project, `init_platformio`, then `pio run`: the starter model builds."""
    from microml_build.commands.init_platformio import init_platformio

    project = tmp_path / "fresh project"
    (project / "src").mkdir(parents=True)
    (project / "platformio.ini").write_text(f"; mine\n[env:host]\nplatform = symlink://{pio_factory.platform}\n")
    (project / "src" / "main.c").write_text(
        '#include "model.h"\n\n'
        "int main(void) {\n"
        "    const float x[MODEL_N_FEATURES] = {6.4f, 3.2f, 4.5f, 1.5f};\n"
        "    return model_predict(x);\n"
        "}\n")
    init_platformio(project)
    run = pio_factory(project).run()
    assert run.count(TRAINED) == 1, run.output
    assert subprocess.run([str(project / ".pio" / "build" / "host" / "program.elf")]).returncode == 1  # versicolor

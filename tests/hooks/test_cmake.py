"""cmake/MicroML.cmake driven by real cmake with Ninja and Unix Makefiles, on copies of the examples.

Every build happens in temporary folders whose names contain spaces. The generator is the
Python running these tests (`microml_build` importable through PYTHONPATH), except in the cross
builds, where the module has to find the host Python on its own despite the toolchain file.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from support import need_simavr, need_tool, require_mark

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TIMEOUT = 300

pytestmark = pytest.mark.cmake   # every test here configures or inspects the CMake package

GENERATORS = [pytest.param("Ninja", id="ninja"), pytest.param("Unix Makefiles", id="make")]
GENERATOR_TOOL = {"Ninja": "ninja", "Unix Makefiles": "make"}

# The custom command's COMMENT (printed only when it runs) and the generator's own log prefix.
COMMENT = "MicroML: generating"
LOG_PREFIX = "[microml]"
COMPILING = re.compile(r"Building C object|Linking C executable")


# ---------------------------------------------------------------------------------------------
# Helpers

def need_program(name: str) -> str:
    """Path of a build tool; skip when missing, fail in CI (CI=true) where all are installed."""
    require_mark("cmake")
    path = shutil.which(name)
    if path is None:
        reason = f"{name} not found on PATH (Debian package: {'ninja-build' if name == 'ninja' else name})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)
    return path


def need_generator(generator: str) -> None:
    need_program("cmake")
    need_program(GENERATOR_TOOL[generator])


def base_env() -> dict[str, str]:
    """This checkout's microml_build first on PYTHONPATH, for configure and build steps alike."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("MICROML_PYTHON", None)
    env.pop("CMAKE_BUILD_PARALLEL_LEVEL", None)
    env.pop("MAKEFLAGS", None)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], env=env, cwd=cwd, input=stdin, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)


def generator_runs(log: str) -> int:
    """How often the custom command ran in one build log."""
    return sum(COMMENT in line for line in log.splitlines())


def copy_example(name: str, parent: Path) -> Path:
    dest = parent / "src with spaces" / name
    shutil.copytree(EXAMPLES / name, dest,
                    ignore=shutil.ignore_patterns("build", "build-*", "__pycache__", "*.pyc"))
    return dest


def touch(path: Path) -> None:
    """A newer mtime, unchanged bytes."""
    later = max(time.time(), path.stat().st_mtime + 1.0)
    os.utime(path, (later, later))


def write(path: Path, text: str) -> None:
    """New bytes with an mtime that is certainly newer than anything built from the old ones."""
    later = max(time.time(), path.stat().st_mtime + 1.0)
    path.write_text(text)
    os.utime(path, (later, later))


class Project:
    """One source copy + one build folder + the generator and environment to use on them."""

    def __init__(self, src: Path, build: Path, generator: str, env: dict[str, str]):
        self.src, self.build_dir, self.generator, self.env = src, build, generator, env
        self.first_log = ""  # the log of the build that generated the header
        self.header = build / "microml" / "iris" / "iris_model.h"  # the default OUTPUT_DIR

    def configure(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = run(["cmake", "-S", self.src, "-B", self.build_dir, "-G", self.generator, *args], self.env)
        if check:
            assert result.returncode == 0, f"configure failed:\n{result.stdout}"
        return result

    def try_build(self, *args: str) -> subprocess.CompletedProcess:
        return run(["cmake", "--build", self.build_dir, *args], self.env)

    def build(self, *args: str) -> str:
        """The log of a build that must succeed."""
        result = self.try_build(*args)
        assert result.returncode == 0, f"build failed:\n{result.stdout}"
        return result.stdout

    def assert_noop(self) -> None:
        log = self.build()
        assert generator_runs(log) == 0 and LOG_PREFIX not in log, f"the generator ran again:\n{log}"
        assert not COMPILING.search(log), f"something recompiled:\n{log}"

    def cache(self, key: str) -> str:
        text = (self.build_dir / "CMakeCache.txt").read_text()
        match = re.search(rf"^{re.escape(key)}:[A-Z]+=(.*)$", text, re.M)
        assert match, f"{key} not in the CMake cache"
        return match.group(1)


@pytest.fixture(scope="session")
def microml_dir() -> str:
    """What `-DMicroML_DIR=$(microml cmake-dir)` passes, asked of this checkout's CLI."""
    result = run([sys.executable, "-m", "microml_build", "cmake-dir"], base_env())
    assert result.returncode == 0, result.stdout
    return result.stdout.strip()


def sklearn_estimator(config_path: Path):
    """The estimator the yaml describes, trained here with scikit-learn on the core's documented
    split (verify.test_size/random_state, stratified): an independent reference, no microml_build."""
    from sklearn.model_selection import train_test_split

    config = yaml.safe_load(config_path.read_text())
    X, y = load_dataset(config_path, config)
    verify = config.get("verify", {})
    X_train, _, y_train, _ = train_test_split(X, y, test_size=verify.get("test_size", 0.25),
                                              random_state=verify.get("random_state", 0), stratify=y)
    train = config["train"]
    if "script" in train:
        script = config_path.parent / train["script"]
        spec = importlib.util.spec_from_file_location(f"cmake_test_train_{abs(hash(str(script)))}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.train(X_train, y_train)
    module_name, _, class_name = train["estimator"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**train.get("params", {})).fit(X_train, y_train)


def load_dataset(config_path: Path, config: dict):
    source = config["dataset"]["path"]
    if source.startswith("sklearn:"):
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, "load_" + source.split(":", 1)[1])()
        return bunch.data.astype(np.float64), np.asarray(bunch.target_names)[bunch.target].astype(str)
    with open(config_path.parent / source, newline="") as handle:
        rows = list(csv.DictReader(handle))
    label = config["dataset"]["label"]
    y = np.array([row.pop(label) for row in rows])
    X = np.array([[float(v) for v in row.values()] for row in rows])
    return X, y


def class_indices(estimator, X) -> list[int]:
    """sklearn's predictions as indices into classes_, which is what <name>_predict returns."""
    return np.searchsorted(estimator.classes_, estimator.predict(X)).tolist()


def c_samples(main_c: Path) -> np.ndarray:
    """The constant feature rows of an example's `samples` table, read from its main.c."""
    block = re.search(r"samples\[[^=]*=\s*\{(.*?)\n\};", main_c.read_text(), re.S).group(1)
    rows = re.findall(r"\{([^{}]*)\}", block)
    return np.array([[float(v.strip().rstrip("f")) for v in row.split(",")] for row in rows])


# ---------------------------------------------------------------------------------------------
# The package itself

def test_cmake_dir_holds_the_package_and_versions_agree(microml_dir):
    import microml_build

    assert Path(microml_dir).is_absolute()
    assert (Path(microml_dir) / "MicroMLConfig.cmake").is_file()
    assert Path(microml_dir).resolve() == (REPO / "cmake").resolve()
    text = (REPO / "cmake" / "MicroMLConfigVersion.cmake").read_text()
    assert re.search(r'set\(PACKAGE_VERSION "([^"]+)"\)', text).group(1) == microml_build.__version__


def test_find_package_checks_the_version(tmp_path, microml_dir):
    need_program("cmake")
    import microml_build

    major, minor = microml_build.__version__.split(".")[:2]
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(v NONE)\n"
        f"find_package(MicroML {major}.{minor} REQUIRED)\n"
        "if(NOT COMMAND microml_add_model)\n  message(FATAL_ERROR \"no microml_add_model\")\nendif()\n"
        f"find_package(MicroML {int(major) + 1}.0 QUIET)\n"
        "if(MicroML_FOUND)\n  message(FATAL_ERROR \"a newer major version was accepted\")\nendif()\n")
    result = run(["cmake", "-S", src, "-B", tmp_path / "build", f"-DMicroML_DIR={microml_dir}"], base_env())
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------------------------------------
# The host example: generation, incremental rebuilds, failures

@pytest.fixture(scope="module", params=GENERATORS)
def host(request, tmp_path_factory, microml_dir) -> Project:
    """The host example, configured and built once per generator; each test leaves it up to date."""
    generator = request.param
    need_generator(generator)
    need_tool("host")
    root = tmp_path_factory.mktemp("cmake-host")
    project = Project(copy_example("cmake-host", root), root / "build with spaces", generator, base_env())
    project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={sys.executable}")
    project.first_log = project.build()
    return project


def test_first_build_generates_the_header_and_links(host):
    assert generator_runs(host.first_log) == 1, host.first_log
    assert f"{LOG_PREFIX} Wrote" in host.first_log
    assert host.header.is_file()
    assert "iris_predict" in host.header.read_text()
    assert (host.build_dir / "iris_classify").is_file()


def test_host_predictions_agree_with_scikit_learn(host):
    config = host.src / "microml.yaml"
    X, _ = load_dataset(config, yaml.safe_load(config.read_text()))
    expected = class_indices(sklearn_estimator(config), X)
    rows = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in X)
    result = run([host.build_dir / "iris_classify"], host.env, stdin=rows)
    assert result.returncode == 0, result.stdout
    got = [int(line) for line in result.stdout.split()]
    assert got == expected


def test_rebuild_without_changes_runs_nothing(host):
    before = host.header.stat().st_mtime_ns
    host.assert_noop()
    assert host.header.stat().st_mtime_ns == before


@pytest.mark.parametrize("name", ["microml.yaml", "data/iris.csv", "train.py"])
def test_touching_an_input_reruns_the_generator_once(host, name):
    content = host.header.read_bytes()
    touch(host.src / name)
    log = host.build()
    assert generator_runs(log) == 1, log
    assert f"{LOG_PREFIX} Skipping" in log, log  # same bytes: the generator keeps the header
    assert host.header.read_bytes() == content
    # An untouched header recompiles nothing: Ninja restats it; with Make the command's output is a
    # stamp file and the header a byproduct whose mtime did not move.
    assert not COMPILING.search(log), log
    host.assert_noop()


@pytest.mark.parametrize("name", ["microml.yaml", "train.py"])
def test_a_comment_keeps_the_header_and_recompiles_nothing(host, name):
    """Issue 15, item 16: the generator reruns, finds the same model, keeps the header's bytes and mtime."""
    path = host.src / name
    original = path.read_text()
    content, mtime = host.header.read_bytes(), host.header.stat().st_mtime_ns
    write(path, original + "# a comment, nothing else\n")
    log = host.build()
    assert generator_runs(log) == 1, log
    assert f"{LOG_PREFIX} Kept" in log, log
    assert not COMPILING.search(log), log
    assert host.header.read_bytes() == content and host.header.stat().st_mtime_ns == mtime
    host.assert_noop()
    write(path, original)
    log = host.build()
    assert generator_runs(log) == 1 and not COMPILING.search(log), log
    host.assert_noop()


def test_a_deleted_header_is_generated_again(host):
    content = host.header.read_bytes()
    host.header.unlink()
    log = host.build()
    assert generator_runs(log) == 1, log
    assert host.header.read_bytes() == content
    host.assert_noop()


def test_a_module_the_script_imports_is_an_input(host):
    """Issue 15, bug 1: train.py imports a helper from the project; editing only the helper retrains."""
    script = host.src / "train.py"
    original = script.read_text()
    helper = host.src / "tuning.py"
    helper.write_text("C = 10.0\n")
    write(script, "from tuning import C\n" + original.replace("C=10.0", "C=C"))
    log = host.build()
    assert generator_runs(log) == 1, log
    host.assert_noop()
    content = host.header.read_bytes()
    write(helper, "C = 5.0\n")
    log = host.build()
    assert generator_runs(log) == 1 and f"{LOG_PREFIX} Wrote" in log, log
    assert host.header.read_bytes() != content
    assert re.search(r"Building C object .*main\.c", log), log
    host.assert_noop()
    write(script, original)
    helper.unlink()
    log = host.build()
    assert generator_runs(log) == 1, log
    host.assert_noop()


@pytest.mark.parametrize("name, edit", [
    ("microml.yaml", lambda text: text + "verify:\n  random_state: 3\n"),
    ("data/iris.csv", lambda text: text + text.splitlines()[-1] + "\n"),
    ("train.py", lambda text: text.replace("C=10.0", "C=5.0")),
])
def test_editing_an_input_regenerates_once(host, name, edit):
    path = host.src / name
    original = path.read_text()
    new = edit(original)
    assert new != original
    content = host.header.read_bytes()
    write(path, new)
    log = host.build()
    assert generator_runs(log) == 1, log
    assert f"{LOG_PREFIX} Wrote" in log, log
    assert host.header.read_bytes() != content
    assert re.search(r"Building C object .*main\.c", log), log
    host.assert_noop()


def test_switching_the_dataset_in_the_yaml(host):
    config = host.src / "microml.yaml"
    shutil.copy(host.src / "data" / "iris.csv", host.src / "data" / "renamed.csv")
    write(config, config.read_text().replace("data/iris.csv", "data/renamed.csv"))
    log = host.build()
    assert generator_runs(log) == 1, log
    host.assert_noop()

    # The new file is tracked now...
    touch(host.src / "data" / "renamed.csv")
    log = host.build()
    assert generator_runs(log) == 1, log
    host.assert_noop()

    # ...and the old one may go away without breaking the build.
    (host.src / "data" / "iris.csv").unlink()
    log = host.build()
    assert generator_runs(log) <= 1, log  # Makefiles may keep a stale depfile entry: at most one rerun
    host.assert_noop()


def test_failing_training_script_fails_the_build_and_keeps_the_header(host):
    script = host.src / "train.py"
    original = script.read_text()
    content = host.header.read_bytes()
    broken = original.replace("    return SVC(", "    raise RuntimeError('no trustworthy data today')\n    return SVC(")
    write(script, broken)

    result = host.try_build()
    assert result.returncode != 0, result.stdout
    assert "no trustworthy data today" in result.stdout
    assert host.header.read_bytes() == content
    # Still failing on the next attempt: a failed run must not look like a success.
    assert host.try_build().returncode != 0

    write(script, original)
    log = host.build()
    assert generator_runs(log) == 1, log
    assert host.header.read_bytes() == content
    host.assert_noop()


# ---------------------------------------------------------------------------------------------
# Several targets, in-source output, misuse

SHARED_CMAKELISTS = """\
cmake_minimum_required(VERSION 3.13...3.28)
project(shared LANGUAGES C)
find_package(MicroML REQUIRED)
add_executable(app_a main.c)
add_executable(app_b main.c)
target_link_libraries(app_a PRIVATE m)
target_link_libraries(app_b PRIVATE m)
microml_add_model(app_a CONFIG microml.yaml OUT_TARGET gen_a OUT_HEADER header_a)
microml_add_model(app_b CONFIG microml.yaml OUT_TARGET gen_b OUT_HEADER header_b)
if(NOT gen_a STREQUAL gen_b OR NOT header_a STREQUAL header_b)
  message(FATAL_ERROR "two custom commands for one model: ${gen_a} ${gen_b}")
endif()
add_subdirectory(sub)
"""


@pytest.mark.parametrize("generator", GENERATORS)
def test_two_targets_share_one_model_in_a_parallel_build(tmp_path, microml_dir, generator):
    need_generator(generator)
    need_tool("host")
    src = copy_example("cmake-host", tmp_path)
    (src / "CMakeLists.txt").write_text(SHARED_CMAKELISTS)
    (src / "sub").mkdir()
    (src / "sub" / "CMakeLists.txt").write_text(
        "add_executable(app_c ../main.c)\ntarget_link_libraries(app_c PRIVATE m)\n"
        "microml_add_model(app_c CONFIG ../microml.yaml)\n")
    project = Project(src, tmp_path / "build with spaces", generator, base_env())
    project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={sys.executable}")
    log = project.build("-j4")
    assert generator_runs(log) == 1, log
    assert log.count(f"{LOG_PREFIX} Wrote") == 1, log
    for app in ("app_a", "app_b", "sub/app_c"):
        assert (project.build_dir / app).is_file()
    project.assert_noop()


def test_in_source_writes_the_yamls_output_path(tmp_path, microml_dir):
    need_generator("Ninja")
    need_tool("host")
    src = copy_example("cmake-host", tmp_path)
    cmakelists = src / "CMakeLists.txt"
    cmakelists.write_text(cmakelists.read_text().replace(
        "microml_add_model(iris_classify CONFIG microml.yaml)",
        "microml_add_model(iris_classify CONFIG microml.yaml IN_SOURCE)"))
    project = Project(src, tmp_path / "build with spaces", "Ninja", base_env())
    project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={sys.executable}")
    log = project.build()
    assert generator_runs(log) == 1, log
    assert (src / "include" / "iris_model.h").is_file()
    assert not (project.build_dir / "microml").exists()
    assert sorted(p.name for p in (src / "include").iterdir()) == ["iris_model.h"]  # no build state
    project.assert_noop()


def _configure_only_project(tmp_path: Path, body: str) -> Project:
    src = copy_example("cmake-host", tmp_path)
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13...3.28)\nproject(p NONE)\nfind_package(MicroML REQUIRED)\n"
        + body)
    generator = "Ninja" if shutil.which("ninja") else "Unix Makefiles"
    return Project(src, tmp_path / "build", generator, base_env())


def test_python_without_microml_build_fails_configure_with_the_fix(tmp_path, microml_dir):
    need_program("cmake")
    # The same interpreter with site-packages and PYTHONPATH switched off cannot import it.
    python = tmp_path / "bare python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S -I "$@"\n')
    python.chmod(0o755)
    project = _configure_only_project(
        tmp_path, "add_library(model INTERFACE)\nmicroml_add_model(model CONFIG microml.yaml)\n")
    result = project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={python}", check=False)
    assert result.returncode != 0
    message = " ".join(result.stdout.split())  # CMake re-wraps messages
    assert "cannot import microml_build" in message
    assert f'"{python}" -m pip install microml-build' in message
    assert "-DMICROML_PYTHON=" in message


def test_two_yamls_claiming_one_header_is_an_error(tmp_path, microml_dir):
    need_program("cmake")
    project = _configure_only_project(tmp_path, (
        "add_library(a INTERFACE)\nadd_library(b INTERFACE)\n"
        "microml_add_model(a CONFIG microml.yaml)\nmicroml_add_model(b CONFIG other/microml.yaml)\n"))
    other = project.src / "other"
    other.mkdir()
    for name in ("microml.yaml", "train.py"):
        shutil.copy(project.src / name, other / name)
    shutil.copytree(project.src / "data", other / "data")
    result = project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={sys.executable}", check=False)
    assert result.returncode != 0
    message = " ".join(result.stdout.split())
    assert "is already generated from" in message and "OUTPUT_DIR" in message


# ---------------------------------------------------------------------------------------------
# Cross builds: the generator still runs on the host Python

def cross_env() -> dict[str, str]:
    """No MICROML_PYTHON anywhere: the module must find the host Python itself (first on PATH)."""
    env = base_env()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def assert_host_python(project: Project) -> None:
    python = project.cache("MICROML_PYTHON")
    result = run([python, "-c", "import sys; print(sys.prefix)"], project.env)
    assert result.stdout.strip() == sys.prefix, f"{python} is not the host Python {sys.executable}"


@pytest.mark.arm
@pytest.mark.parametrize("generator", GENERATORS)
def test_cortex_m_firmware_links_with_the_host_generator(tmp_path, microml_dir, generator):
    need_generator(generator)
    need_tool("cortex-m4")
    src = copy_example("cmake-cortex-m", tmp_path)
    # Stricter than the example's own file, as some vendor toolchain files are: programs only
    # from the toolchain's root (here: the cross tools and the build tool, no Python).
    sysroot = tmp_path / "toolchain-root"  # (Make cannot run a make program whose path has spaces)
    tools = sysroot / Path(shutil.which("arm-none-eabi-gcc")).parent.relative_to("/")
    tools.mkdir(parents=True)
    for tool in Path(shutil.which("arm-none-eabi-gcc")).parent.glob("arm-none-eabi-*"):
        (tools / tool.name).symlink_to(tool)
    make_program = Path(shutil.which(GENERATOR_TOOL[generator]))
    make_dir = sysroot / make_program.parent.relative_to("/")
    make_dir.mkdir(parents=True, exist_ok=True)
    (make_dir / make_program.name).symlink_to(make_program)
    strict = tmp_path / "strict toolchain.cmake"
    strict.write_text(f'include("{(src / "arm-none-eabi.cmake").as_posix()}")\n'
                      f'set(CMAKE_FIND_ROOT_PATH "{sysroot.as_posix()}")\n'
                      "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM ONLY)\n")
    project = Project(src, tmp_path / "build with spaces", generator, cross_env())
    project.configure(f"-DCMAKE_TOOLCHAIN_FILE={strict}", f"-DMicroML_DIR={microml_dir}")
    assert_host_python(project)
    log = project.build()
    assert generator_runs(log) == 1 and f"{LOG_PREFIX} Wrote" in log, log
    elf = project.build_dir / "firmware.elf"
    header = elf.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 40  # EM_ARM
    project.assert_noop()


@pytest.mark.avr
@pytest.mark.simavr
@pytest.mark.parametrize("generator", GENERATORS)
def test_avr_firmware_prints_the_expected_classes_in_simavr(tmp_path, microml_dir, generator):
    need_generator(generator)
    need_tool("avr")
    simavr = need_simavr()
    src = copy_example("cmake-avr", tmp_path)
    project = Project(src, tmp_path / "build with spaces", generator, cross_env())
    project.configure(f"-DCMAKE_TOOLCHAIN_FILE={src / 'avr-gcc.cmake'}", f"-DMicroML_DIR={microml_dir}")
    assert_host_python(project)
    log = project.build()
    assert generator_runs(log) == 1 and f"{LOG_PREFIX} Wrote" in log, log
    project.assert_noop()

    elf = project.build_dir / "firmware.elf"
    result = run([simavr, "-m", "atmega328p", "-f", "16000000", elf], project.env)
    assert result.returncode == 0, result.stdout
    # simavr prints the UART's bytes a line at a time, coloured, with '.' for control chars.
    uart = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    printed = re.findall(r"row (\d+): class (\d+) (\w+)", uart)
    estimator = sklearn_estimator(src / "microml.yaml")
    expected = class_indices(estimator, c_samples(src / "main.c"))
    assert [int(c) for _, c, _ in printed] == expected, uart
    assert [label for _, _, label in printed] == [str(estimator.classes_[c]) for c in expected]


# ---------------------------------------------------------------------------------------------
# One Python run per configure, however many models (issue 14)

def many_models_project(tmp_path: Path, count: int, extra: str = "") -> Project:
    src = tmp_path / "many models"
    lines = ["cmake_minimum_required(VERSION 3.19)", "project(many NONE)", "find_package(MicroML REQUIRED)"]
    for i in range(count):
        folder = src / "models" / f"m{i:02d}"
        folder.mkdir(parents=True)
        (folder / "microml.yaml").write_text(
            f"name: m{i:02d}\ndataset: {{path: 'sklearn:iris'}}\ntrain: {{estimator: DecisionTreeClassifier}}\n"
            f"output: include/m{i:02d}.h\n")
        lines += [f"add_library(lib{i:02d} INTERFACE)", f"microml_add_model(lib{i:02d} CONFIG models/m{i:02d}/microml.yaml)"]
    (src / "CMakeLists.txt").write_text("\n".join(lines) + "\n" + extra)
    generator = "Ninja" if shutil.which("ninja") else "Unix Makefiles"
    return Project(src, tmp_path / "build", generator, base_env())


def logging_python(tmp_path: Path) -> tuple[Path, Path]:
    """A Python that appends its arguments to a log, then runs this one."""
    log = tmp_path / "python calls.log"
    python = tmp_path / "logging python"
    python.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return python, log


def test_configuring_many_models_runs_python_once(tmp_path, microml_dir):
    need_program("cmake")
    python, log = logging_python(tmp_path)
    project = many_models_project(tmp_path, 20)
    start = time.monotonic()
    project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={python}")
    seconds = time.monotonic() - start
    calls = log.read_text().splitlines()
    assert len(calls) == 1, calls
    assert calls[0].startswith("-m microml_build deps --json ") and calls[0].count("microml.yaml") == 20
    print(f"\n[timing] configure with 20 models: {seconds:.2f} s")
    targets = run(["cmake", "--build", project.build_dir, "--target", "help"], project.env).stdout
    assert all(f"microml_m{i:02d}" in targets for i in range(20)), targets


def test_out_header_resolves_at_once_and_errors_name_the_yaml(tmp_path, microml_dir):
    need_program("cmake")
    python, log = logging_python(tmp_path)
    project = many_models_project(tmp_path, 3, extra=(
        "add_library(extra INTERFACE)\n"
        "microml_add_model(extra CONFIG models/m01/microml.yaml OUTPUT_DIR elsewhere OUT_HEADER h OUT_TARGET t)\n"
        'if(NOT h STREQUAL "${CMAKE_BINARY_DIR}/elsewhere/m01.h" OR NOT t MATCHES "^microml_m01")\n'
        '  message(FATAL_ERROR "OUT_HEADER ${h} OUT_TARGET ${t}")\nendif()\n'))
    project.configure(f"-DMicroML_DIR={microml_dir}", f"-DMICROML_PYTHON={python}")
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and calls[0].count("microml.yaml") == 3, calls   # the first four calls, once

    bad = project.src / "models" / "m02" / "microml.yaml"
    bad.write_text(bad.read_text().replace("estimator:", "estimater:"))
    result = project.configure(check=False)
    assert result.returncode != 0
    message = " ".join(result.stdout.split())
    assert f"{bad}: train.estimater: unknown key 'estimater'" in message, result.stdout


def test_windows_paths_from_deps_and_the_user_stay_whole(tmp_path):
    """What `microml deps --json` prints on Windows (drive letters, `/`, spaces) becomes one CMake list
    element per path, and a typed `C:\\...` interpreter path is converted (the Windows branch, forced)."""
    need_program("cmake")
    script = tmp_path / "windows paths.cmake"
    script.write_text(f"""\
set(_MICROML_TEST_WINDOWS TRUE)
include("{(REPO / 'cmake' / 'MicroML.cmake').as_posix()}")
_microml_host_path("C:\\\\Users\\\\Jo Doe\\\\venv\\\\Scripts\\\\python.exe" python)
message(STATUS "python=[${{python}}]")
set(json [=[{{"microml_build": {{"version": "0.1.0", "module": "C:/Py 3/Lib/microml_build/__init__.py"}},
 "configs": [{{"config": "C:/Users/Jo Doe/fw/microml.yaml", "name": "iris",
   "output": "D:/out dir/iris_model.h", "script": "C:/Users/Jo Doe/fw/train.py",
   "inputs": ["C:/Users/Jo Doe/fw/microml.yaml", "C:/Users/Jo Doe/fw/train.py", "C:/Users/Jo Doe/fw/tune.py"],
   "named": ["C:/Users/Jo Doe/fw/microml.yaml", "C:/Users/Jo Doe/fw/train.py"],
   "modules": ["C:/Users/Jo Doe/fw/tune.py"]}}]}}]=])
_microml_store_description("{sys.executable}" "${{json}}" "C:/Users/Jo Doe/fw/microml.yaml")
string(MD5 key "{sys.executable}|C:/Users/Jo Doe/fw/microml.yaml")
foreach(field OUTPUT INPUTS NAMED MODULES SCRIPT)
  get_property(value GLOBAL PROPERTY "_MICROML_DESC_${{key}}_${{field}}")
  foreach(item IN LISTS value)
    message(STATUS "${{field}}=[${{item}}]")
  endforeach()
endforeach()
""")
    result = run(["cmake", "-P", script], base_env())
    assert result.returncode == 0, result.stdout
    lines = [line[3:] for line in result.stdout.splitlines() if line.startswith("-- ")]
    assert lines == ["python=[C:/Users/Jo Doe/venv/Scripts/python.exe]",
                     "OUTPUT=[D:/out dir/iris_model.h]",
                     "INPUTS=[C:/Users/Jo Doe/fw/microml.yaml]", "INPUTS=[C:/Users/Jo Doe/fw/train.py]",
                     "INPUTS=[C:/Users/Jo Doe/fw/tune.py]",
                     "NAMED=[C:/Users/Jo Doe/fw/microml.yaml]", "NAMED=[C:/Users/Jo Doe/fw/train.py]",
                     "MODULES=[C:/Users/Jo Doe/fw/tune.py]", "SCRIPT=[C:/Users/Jo Doe/fw/train.py]"]
    # on a POSIX host a backslash is part of a file name and stays
    posix = tmp_path / "posix.cmake"
    posix.write_text(f'include("{(REPO / "cmake" / "MicroML.cmake").as_posix()}")\n'
                     '_microml_host_path("/opt/odd\\\\name/python" p)\nmessage(STATUS "p=[${p}]")\n')
    result = run(["cmake", "-P", posix], base_env())
    assert "-- p=[/opt/odd\\name/python]" in result.stdout, result.stdout

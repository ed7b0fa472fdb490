"""Fixtures for the PlatformIO hook tests: an offline PlatformIO core dir and per-test projects.

PlatformIO's registry is unreachable here and in CI, so `pio run` gets everything locally:
- `tool-scons`, the SCons PlatformIO runs builds with, made from the pip-installed `scons`
  (a `.piopm` file makes PlatformIO accept the folder as the installed core package);
- `tests/fixtures/pio_platform`, a development platform without packages that compiles with
  gcc / avr-gcc / arm-none-eabi-gcc from PATH.
One core dir is prepared per session; each test builds its own copy of `tests/fixtures/pio_project`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
HOOK = REPO / "platformio_hook" / "microml_pio.py"
PIO_TIMEOUT = 300


# ---------------------------------------------------------------------------------------------
# Skipping: locally a missing tool skips, in CI (CI=true) it fails.

def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: required tools must be installed, see .ci/run)")
    pytest.skip(reason)


try:  # tests/support.py, on sys.path through tests/conftest.py
    from support import need_tool as _need_target
    from support import require_mark
except ImportError:  # pragma: no cover -- running this folder alone
    _need_target = None

    def require_mark(mark: str) -> None:
        pass


def need_tool(target: str) -> None:
    """`pio` (PlatformIO + SCons importable here) or a compiler target: skip locally, fail in CI."""
    if target == "pio":
        require_mark("pio")
        for module in ("platformio", "SCons", "semantic_version"):
            try:
                __import__(module)
            except ImportError:
                _missing(f"{module} is not installed in {sys.executable} (pip install platformio scons)")
        return
    if _need_target is not None:
        _need_target(target)
    elif shutil.which({"host": "gcc", "avr": "avr-gcc"}.get(target, target)) is None:
        _missing(f"no compiler for {target}")


# ---------------------------------------------------------------------------------------------
# The offline core dir

def scons_package_version(scons_version: str) -> str:
    """PlatformIO's encoding of an SCons release as the `tool-scons` version: X.Y.Z -> X.(40000+100Y+Z).0."""
    parts = scons_version.split(".")
    digits = []
    for part in (parts + ["0", "0"])[:3]:
        number = "".join(ch for ch in part if ch.isdigit())
        digits.append(int(number or 0))
    major, minor, patch = digits
    return f"{major}.{40000 + 100 * minor + patch}.0"


def tool_scons_version() -> str:
    """The tool-scons version to fake from the installed SCons, checked against PlatformIO's pin."""
    import platformio
    import SCons
    import semantic_version
    from platformio.dependencies import get_core_dependencies

    pin = get_core_dependencies()["tool-scons"]
    version = scons_package_version(SCons.__version__)
    if not semantic_version.SimpleSpec(pin).match(semantic_version.Version(version)):
        wanted = pin.lstrip("~^=<> ").split(".")
        hint = f"{wanted[0]}.{(int(wanted[1]) - 40000) // 100}.{int(wanted[1]) % 100}" if len(wanted) > 1 else pin
        raise RuntimeError(
            f"PlatformIO {platformio.__version__} pins tool-scons {pin} (SCons {hint}), but the installed "
            f"SCons is {SCons.__version__} (= tool-scons {version}); "
            f"install the matching one: {sys.executable} -m pip install 'scons=={hint}'")
    return version


def prepare_core_dir(core_dir: Path) -> Path:
    """A PLATFORMIO_CORE_DIR whose tool-scons is the pip-installed SCons; no network needed."""
    import SCons

    version = tool_scons_version()
    package = core_dir / "packages" / "tool-scons"
    package.mkdir(parents=True)
    (package / "SCons").symlink_to(Path(SCons.__file__).resolve().parent, target_is_directory=True)
    (package / "scons.py").write_text(
        "# PlatformIO runs this file with its own Python; SCons is the symlinked pip package.\n"
        "import SCons.Script\n"
        "SCons.Script.main()\n")
    (package / "package.json").write_text(json.dumps({
        "name": "tool-scons", "version": version, "description": f"SCons {SCons.__version__} from PyPI",
        "keywords": ["tools", "build tools"], "system": "*"}, indent=2))
    (package / ".piopm").write_text(json.dumps({
        "type": "tool", "name": "tool-scons", "version": version,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None}}))
    return core_dir


@dataclass
class PioRun:
    code: int
    output: str
    seconds: float

    def count(self, text: str) -> int:
        return self.output.count(text)


@dataclass
class PioProject:
    """A copy of tests/fixtures/pio_project with the hook, built with `pio run` in an isolated core."""

    path: Path
    env: dict
    runs: list = field(default_factory=list)

    @property
    def header(self) -> Path:
        return self.path / "include" / "iris_model.h"

    def firmware(self, pioenv: str) -> Path:
        return self.path / ".pio" / "build" / pioenv / "program.elf"

    def run(self, *args: str, check: bool = True) -> PioRun:
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "platformio", "run", *args], cwd=self.path, env=self.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=PIO_TIMEOUT)
        result = PioRun(done.returncode, done.stdout, time.monotonic() - start)
        self.runs.append(result)
        if check and done.returncode != 0:
            pytest.fail(f"pio run {' '.join(args)} failed with exit code {done.returncode}:\n{done.stdout}")
        return result


@pytest.fixture(scope="session")
def pio_core(tmp_path_factory) -> dict:
    """Session-wide: the prepared core dir and a copy of the test platform."""
    need_tool("pio")
    root = tmp_path_factory.mktemp("pio")
    try:
        core = prepare_core_dir(root / "core")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    platform = root / "pio_platform"
    shutil.copytree(FIXTURES / "pio_platform", platform)
    return {"core": core, "platform": platform}


@pytest.fixture
def pio_factory(pio_core):
    """make(project_dir) -> PioProject running `pio run` there with the offline core."""
    need_tool("host")
    env = dict(os.environ)
    env.update({
        "PLATFORMIO_CORE_DIR": str(pio_core["core"]),
        "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
        "MICROML_PYTHON": sys.executable,  # has scikit-learn; PlatformIO's Python may not
        "PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]),
    })
    env.pop("PLATFORMIO_BUILD_CACHE_DIR", None)

    def make(path: Path) -> PioProject:
        return PioProject(path, env)

    make.platform = pio_core["platform"]
    return make


@pytest.fixture
def pio_project(pio_factory, tmp_path) -> PioProject:
    """A fresh copy of the fixture project (in a folder whose name has a space), hook installed."""
    project = tmp_path / "pio project"
    shutil.copytree(FIXTURES / "pio_project", project, ignore=shutil.ignore_patterns(".pio", "include"))
    shutil.copy2(HOOK, project / "microml_pio.py")
    ini = project / "platformio.ini"
    ini.write_text(ini.read_text().replace("symlink://${PROJECT_DIR}/../pio_platform",
                                           f"symlink://{pio_factory.platform}"))
    return pio_factory(project)


# ---------------------------------------------------------------------------------------------
# framework = arduino, offline

ARDUINO_PACKAGE = "framework-arduino-avr-debian"


def prepare_arduino_framework(core_dir: Path, avr_core: Path) -> Path:
    """The test platform's framework package, made from Debian's Arduino AVR core (no copy: links to
    its `cores/` and `variants/`), installed in the core dir as PlatformIO installs packages."""
    package = core_dir / "packages" / ARDUINO_PACKAGE
    if package.is_dir():
        return package
    package.mkdir(parents=True)
    for folder in ("cores", "variants"):
        (package / folder).symlink_to(avr_core / folder, target_is_directory=True)
    version = "1.8.7"
    for line in (avr_core / "platform.txt").read_text().splitlines():
        if line.startswith("version="):
            version = line.split("=", 1)[1].strip()
    (package / "package.json").write_text(json.dumps({
        "name": ARDUINO_PACKAGE, "version": version, "description": "Arduino AVR core of Debian's arduino-core-avr",
        "keywords": ["framework", "arduino"], "system": "*"}, indent=2))
    (package / ".piopm").write_text(json.dumps({
        "type": "framework", "name": ARDUINO_PACKAGE, "version": version,
        "spec": {"owner": None, "id": None, "name": ARDUINO_PACKAGE, "requirements": None, "uri": None}}))
    return package


@pytest.fixture
def pio_arduino(pio_factory, pio_core):
    """pio_factory, with `framework = arduino` available for `board = uno` (Debian's Arduino AVR core)."""
    from arduino_support import need_arduino_core

    prepare_arduino_framework(pio_core["core"], need_arduino_core())
    return pio_factory

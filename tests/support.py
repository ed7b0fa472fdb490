"""Helpers for tests that need real compilers or simavr.

A missing tool skips the test on a developer machine, but fails it in CI
(CI=true), where every toolchain is supposed to be installed.

Every test that needs a toolchain carries its mark (registered in pyproject.toml), so
`pytest -m "not avr"` leaves out everything that needs avr-gcc. The helpers below check it: a
test that asks for a tool without its mark fails, naming the mark to add.
"""

import os
import shutil

import pytest

from microml_build.toolchains import TARGETS, find_compiler


# The mark of each toolchain; compilers by target (the host's gcc needs none).
MARKS = {"avr": "avr-gcc (gcc-avr, avr-libc)", "arm": "arm-none-eabi-gcc", "simavr": "simavr or libsimavr",
         "cmake": "cmake with ninja or make", "pio": "PlatformIO and SCons",
         "arduino": "the Arduino AVR core or arduino-builder", "chromium": "chromium (HTML to PDF/PNG)"}
TARGET_MARKS = {"avr": "avr", "atmega2560": "avr", "cortex-m4": "arm", "cortex-m0plus": "arm", "cortex-m3": "arm"}

current_test = None   # the test being set up or run (tests/conftest.py sets it)


def require_mark(mark: str) -> None:
    """Fail the running test unless it carries `mark`: the marks are how `-m` selects by toolchain."""
    if current_test is not None and current_test.get_closest_marker(mark) is None:
        pytest.fail(f"{current_test.nodeid} needs {MARKS[mark]} but is not marked: add @pytest.mark.{mark} (or "
                    f"`pytestmark = pytest.mark.{mark}` for the module) so `pytest -m 'not {mark}'` leaves it out",
                    pytrace=False)


def target_marks(target: str) -> list:
    """The marks of a compiler target, for `pytest.param(..., marks=target_marks(target))`."""
    mark = TARGET_MARKS.get(target)
    return [getattr(pytest.mark, mark)] if mark else []


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (required in CI)")
    pytest.skip(reason)


def need_tool(target: str, lang: str = "c") -> str:
    """Path of the compiler for `target`/`lang`; skip (or fail in CI) when missing."""
    if target in TARGET_MARKS:
        require_mark(TARGET_MARKS[target])
    path = find_compiler(target, lang)
    if path is None:
        _missing(f"no {lang} compiler for {target}; install: {' '.join(TARGETS[target].packages)}")
    return path


def need_simavr() -> str:
    """Path of simavr; skip (or fail in CI) when missing."""
    require_mark("simavr")
    path = shutil.which("simavr")
    if path is None:
        _missing("simavr not found; install the Debian package simavr")
    return path


def need_path(path, what: str):
    """`path` if it exists; skip (or fail in CI) when missing, saying what it should hold."""
    if not path.exists():
        _missing(f"{path} missing: {what}")
    return path

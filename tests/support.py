"""Helpers for tests that need real compilers or simavr.

A missing tool skips the test on a developer machine, but fails it in CI
(CI=true), where every toolchain is supposed to be installed.
"""

import os
import shutil

import pytest

from microml_build.toolchains import TARGETS, find_compiler


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (required in CI)")
    pytest.skip(reason)


def need_tool(target: str, lang: str = "c") -> str:
    """Path of the compiler for `target`/`lang`; skip (or fail in CI) when missing."""
    path = find_compiler(target, lang)
    if path is None:
        _missing(f"no {lang} compiler for {target}; install: {' '.join(TARGETS[target].packages)}")
    return path


def need_simavr() -> str:
    """Path of simavr; skip (or fail in CI) when missing."""
    path = shutil.which("simavr")
    if path is None:
        _missing("simavr not found; install the Debian package simavr")
    return path


def need_path(path, what: str):
    """`path` if it exists; skip (or fail in CI) when missing, saying what it should hold."""
    if not path.exists():
        _missing(f"{path} missing: {what}")
    return path

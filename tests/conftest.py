import sys
from pathlib import Path

# Lets test modules `from support import need_tool` under any pytest import mode.
sys.path.insert(0, str(Path(__file__).parent))

import pytest

import support


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Lets the tool helpers in support.py check that the test carries the toolchain's mark."""
    support.current_test = item


def pytest_runtest_teardown(item):
    support.current_test = None


@pytest.fixture(scope="session")
def uart_run(tmp_path_factory):
    """The simavr board with a serial line for Arduino sketches (tests/arduino_support.py)."""
    from arduino_support import build_uart_run

    return build_uart_run(tmp_path_factory.mktemp("uart_run"))


@pytest.fixture(scope="session")
def arduino_cache(tmp_path_factory):
    """arduino-builder's -build-cache: the core is compiled once per session, as the IDE caches it."""
    return tmp_path_factory.mktemp("arduino-core-cache")

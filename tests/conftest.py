import sys
from pathlib import Path

# Lets test modules `from support import need_tool` under any pytest import mode.
sys.path.insert(0, str(Path(__file__).parent))

import pytest


@pytest.fixture(scope="session")
def uart_run(tmp_path_factory):
    """The simavr board with a serial line for Arduino sketches (tests/arduino_support.py)."""
    from arduino_support import build_uart_run

    return build_uart_run(tmp_path_factory.mktemp("uart_run"))


@pytest.fixture(scope="session")
def arduino_cache(tmp_path_factory):
    """arduino-builder's -build-cache: the core is compiled once per session, as the IDE caches it."""
    return tmp_path_factory.mktemp("arduino-core-cache")

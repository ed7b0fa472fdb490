"""The per-toolchain marks: registered, and checked by the tool helpers of tests/support.py."""

import re
from pathlib import Path

import pytest

import support


class Unmarked:
    nodeid = "tests/test_x.py::test_x"

    def get_closest_marker(self, name):
        return None


def test_a_test_asking_for_a_toolchain_without_its_mark_fails(monkeypatch):
    monkeypatch.setattr(support, "current_test", Unmarked())
    with pytest.raises(pytest.fail.Exception, match=r"add @pytest\.mark\.avr"):
        support.need_tool("avr")
    with pytest.raises(pytest.fail.Exception, match=r"add @pytest\.mark\.arm"):
        support.need_tool("cortex-m0plus", "c++")
    with pytest.raises(pytest.fail.Exception, match=r"add @pytest\.mark\.simavr"):
        support.need_simavr()
    support.need_tool("host")    # the host compiler needs no mark


@pytest.mark.avr
def test_a_marked_test_gets_the_tool():
    assert support.need_tool("avr").endswith("avr-gcc")


def test_every_mark_is_registered_in_pyproject():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    block = re.search(r"^markers = \[(.*?)^\]", text, re.M | re.S).group(1)
    registered = set(re.findall(r'^\s*"(\w+):', block, re.M))
    assert registered == set(support.MARKS) and set(support.TARGET_MARKS.values()) <= registered

"""Smoke test of benchmarks/run.py --quick: the table has a MicroML row with 100% agreement and no model RAM on AVR."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from support import need_simavr, need_tool

ROOT = Path(__file__).resolve().parents[1]
QUICK_PEERS = ("micromlgen",)   # benchmarks/run.py QUICK_PEER


def _table_rows(markdown: str, first_heading: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table whose first column is `first_heading`, keyed by heading."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_heading} |"))
    headings = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(headings, (c.strip() for c in line.strip().strip("|").split("|")))))
    return rows


@pytest.mark.avr
@pytest.mark.simavr
def test_quick_benchmark(tmp_path):
    need_tool("avr")
    need_tool("avr", "c++")
    need_simavr()
    for peer in QUICK_PEERS:
        if importlib.util.find_spec(peer) is None:
            pytest.skip(f"peer converter {peer} is not installed (pip install -e '.[bench]')")

    output = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
         "--build-dir", str(tmp_path / "build"), "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert output.read_text() == result.stdout

    rows = _table_rows(result.stdout, "converter")
    microml = [r for r in rows if r["converter"].startswith("MicroML ") and "Pipeline" not in r["converter"]]
    assert len(microml) == 1, rows
    row = microml[0]
    assert row["AVR agreement"] == "100%", row
    assert row["AVR RAM B"] == "0", row          # model .data + .bss on the ATmega328P
    assert int(row["AVR flash B"].replace(",", "")) > 0, row
    assert int(row["AVR stack B"]) > 0, row
    assert int(row["AVR cycles"].replace(",", "")) > 0, row
    assert any(r["converter"].startswith(QUICK_PEERS[0]) for r in rows), rows


def test_cmake_many_models_benchmark(tmp_path):
    """benchmarks/cmake_configure.py on 2 models with Ninja: every header built once, a no-op build runs nothing."""
    import os
    import shutil

    from support import _missing

    for tool in ("cmake", "ninja"):
        if shutil.which(tool) is None:
            _missing(f"{tool} not found on PATH")
    need_tool("host")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cmake_configure.py"), "--models", "2",
                             "--generators", "Ninja", "--keep", str(tmp_path / "bench")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    [row] = _table_rows(result.stdout, "generator")
    assert row["generator"] == "Ninja" and "(2 headers)" in row["full build (trains every model)"], row
    assert float(row["configure"].rstrip(" s")) > 0

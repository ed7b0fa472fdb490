"""The emitter test level: hand-built IR (ir_fixtures.py) -> expected C text, committed under tests/emit/golden/.

Every change to the generated C shows up here as a diff to review. After an intended change, rewrite the
golden files and read the diff before committing it:

    MICROML_UPDATE_GOLDEN=1 python -m pytest tests/emit -q && git diff tests/emit/golden

Each golden header is also compiled with gcc as C99 and as C++11 (-Wall -Wextra -Werror) and run on the
fixture's rows against the IR's own reference, so a golden file can never be broken C or a wrong model.
"""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ir_fixtures import FIXTURES
from microml_build import toolchains
from microml_build.emit.header import emit_header
from microml_build.ir import NEAR_TIE
from microml_build.pipeline.verify import run_fixed_header, run_header, to_float32
from microml_build.plan import plan
from support import need_tool

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MICROML_UPDATE_GOLDEN") == "1"
NAME = "weather"


def emit(fixture_name: str) -> tuple[object, str]:
    fixture = FIXTURES[fixture_name]()
    planned = plan(fixture.model, fixture.prefer, feature_names=fixture.feature_names, optimize=fixture.optimize)
    text = emit_header(planned, name=NAME, file_name=f"{fixture_name}.h",
                       provenance=[("Fixture", f"tests/emit/ir_fixtures.py: {fixture_name}()")]).text
    return fixture, text


@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_header_equals_its_golden_file(fixture_name):
    _, text = emit(fixture_name)
    path = GOLDEN / f"{fixture_name}.h"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run MICROML_UPDATE_GOLDEN=1 python -m pytest tests/emit"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                            f"golden/{path.name}", "emitted"))
        pytest.fail(f"the emitted C differs from {path} (if intended: MICROML_UPDATE_GOLDEN=1 python -m pytest "
                    f"tests/emit, then review `git diff`):\n{diff}", pytrace=False)


def test_every_golden_file_has_a_fixture():
    """A fixture removed or renamed must take its golden file with it."""
    assert sorted(p.stem for p in GOLDEN.glob("*.h")) == sorted(FIXTURES)


@pytest.mark.parametrize("lang,std", [("c", "c99"), ("c++", "c++11")])
@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_golden_header_compiles_strictly(fixture_name, lang, std, tmp_path):
    """Every function of the golden header is compiled (static inline bodies are compiled even when unused)."""
    compiler = need_tool("host", lang)
    source = tmp_path / ("main.c" if lang == "c" else "main.cpp")
    source.write_text(f'#include "{fixture_name}.h"\nint main(void) {{ return 0; }}\n')
    command = [compiler, f"-std={std}", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{GOLDEN}", "-c",
               str(source), "-o", str(tmp_path / "main.o")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("target", [pytest.param("avr", marks=pytest.mark.avr),
                                    pytest.param("cortex-m0plus", marks=pytest.mark.arm)])
@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_golden_header_compiles_for_the_chips(fixture_name, target, tmp_path):
    """The same on the 8-bit AVR (16-bit int) and a Cortex-M0+ (no FPU), whose compilers warn differently."""
    need_tool(target)
    source = tmp_path / "main.c"
    source.write_text(f'#include "{fixture_name}.h"\n')
    toolchains.compile([source], tmp_path / "main.o", target=target, link=False, include_dirs=[GOLDEN])


@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_golden_header_computes_the_ir_reference(fixture_name):
    """The golden C, run on the fixture's rows: exactly the integer reference (fixed point), or within float32
    rounding of the float64 reference, with the reference's class wherever that is not a near-tie."""
    need_tool("host")
    fixture = FIXTURES[fixture_name]()
    model, rows = fixture.model, fixture.rows
    text = (GOLDEN / f"{fixture_name}.h").read_text(encoding="utf-8")
    if getattr(model.head, "integer", False):
        q = model.head
        n_outputs = 0 if q.task == "classifier" else q.core.n_outputs
        xq, fixed, floats = run_fixed_header(text, NAME, rows, n_outputs)
        want_xq, want = q.run(rows)
        np.testing.assert_array_equal(xq, want_xq)
        np.testing.assert_array_equal(fixed, want)
        if q.task == "classifier":
            np.testing.assert_array_equal(floats, want)
        else:
            np.testing.assert_allclose(floats, q.core.values(want), rtol=1e-6)
        return
    X32 = to_float32(rows)
    reference, scale = model.decisions(X32)
    got, values = run_header(text, NAME, rows)
    assert np.all(np.abs(values - reference) <= 4 * NEAR_TIE * np.maximum(scale, 1e-30)), \
        float(np.max(np.abs(values - reference) / np.maximum(scale, 1e-30)))
    if model.task == "classifier":
        expected = model.head.predict_index(reference)
        near = model.head.near_tie(reference, scale)
        assert np.all((got == expected) | near)

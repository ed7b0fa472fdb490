"""Smoke test of the TFLM hello_world clones: the MLP and the boosted trees built by `microml build`, on a simulated ATmega328P.

The benchmark (benchmarks/tflm/run.py) runs every clone on 2,001 points on three targets; this
keeps the path honest in the test suite: the example's own yaml, training script and data, the
benchmark's own probe firmware, 11 grid points under simavr. The firmware's outputs must equal
the same header compiled for the host (bit for bit in practice; float32 tolerance allowed), and
stay close to sin(x).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, f32_from_hex, run_avr
from microml_build.pipeline.build import Log, build
from microml_build.toolchains import compile
from microml_build.pipeline.verify import run_header
from support import need_simavr, need_tool

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tflm-hello-world"
PROBE = ROOT / "benchmarks" / "tflm" / "firmware" / "main_probe.c"
POINTS = 11                                    # x = 0, 2π/10, ..., 2π


@pytest.mark.avr
@pytest.mark.simavr
@pytest.mark.parametrize("clone", ["mlp", "tree"])
def test_clone_on_avr_matches_host_and_sine(clone, tmp_path):
    """The MLP, and the boosted trees, which become a step table of x (emit/step_tables.py)."""
    need_tool("avr")
    need_simavr()
    for name in (f"{clone}.yaml", f"train_{clone}.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLE / "data" / "sine.csv", tmp_path / "data" / "sine.csv")

    result = build(tmp_path / f"{clone}.yaml", log=Log(quiet=True))
    header = result.output
    assert result.built and header == tmp_path / "include" / f"sine_{clone}.h"
    text = header.read_text()
    name = f"sine_{clone}"
    assert f"float {name}_predict_value(const float *x)" in text and f"#define {name.upper()}_N_FEATURES 1" in text
    assert (f"#define {name.upper()}_N_BREAKS" in text) == (clone == "tree")

    elf = compile([PROBE, *HARNESS_SOURCES], tmp_path / "probe.elf", target="avr",
                  include_dirs=[header.parent, HARNESS_DIR],
                  extra_flags=[f'-DMODEL_HEADER="{name}.h"', f"-DMODEL_PREDICT={name}_predict_value",
                               f"-DGRID_POINTS={POINTS}", "-DGRID_STEP=0.62831855f"])
    lines = run_avr(elf, timeout=60).splitlines()
    assert lines[0].startswith("stack ") and lines[-1] == "end", lines
    assert 0 < int(lines[0].split()[1]) < 512          # the two 16-float hidden buffers and a little
    grid = [line.split() for line in lines[1:-1]]
    assert len(grid) == POINTS
    x = np.array([f32_from_hex(row[0]) for row in grid], dtype=np.float32)
    y = np.array([f32_from_hex(row[1]) for row in grid], dtype=np.float32)
    assert x[0] == 0 and abs(x[-1] - 2 * np.pi) < 1e-5

    _, host = run_header(text, name, x[:, None].astype(np.float64))
    np.testing.assert_allclose(y, host[:, 0], rtol=1e-5, atol=1e-6)
    error = np.abs(y - np.sin(x.astype(np.float64)))
    assert error.max() < 0.15, error

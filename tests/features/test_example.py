"""examples/gestures: deterministic data, `microml build`, the Arduino sketch compiles, and the ring-buffer firmware
classifies a stream of samples on a simulated ATmega328P exactly as scikit-learn classifies each window."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microml_build import toolchains
from microml_build.pipeline.build import Log, build, produce
from microml_build.config import load_config
from microml_build.pipeline.stamp import input_digest
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr
from support import need_simavr, need_tool

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gestures"

STREAM = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"
#include "gesture_stream.h"

#define N_SAMPLES {n}

/* Recorded takes one after another: the firmware sees them as one continuous sensor stream. */
static const int16_t samples[N_SAMPLES][GESTURE_N_CHANNELS] PROGMEM = {{
{rows}
}};

static gesture_stream stream;

int main(void)
{{
    harness_init();
    for (uint16_t t = 0; t < N_SAMPLES; t++) {{
        int16_t sample[GESTURE_N_CHANNELS];
        memcpy_P(sample, samples[t], sizeof sample);
        printf("%d\\n", gesture_stream_push(&stream, sample));
    }}
    harness_exit();
}}
"""


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example copied without its generated files, its data made, its header built."""
    root = tmp_path_factory.mktemp("gestures") / "gestures"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("data", "include", "__pycache__"))
    (root / "platformio.ini").write_text("[env:uno]\n")        # a project root, as in a user's firmware repo
    subprocess.run([sys.executable, str(root / "make_data.py")], check=True, capture_output=True)
    return root


def test_data_is_deterministic(example, tmp_path):
    first = hashlib.sha256((example / "data" / "gestures.csv").read_bytes()).hexdigest()
    again = tmp_path / "again"
    shutil.copytree(example, again, ignore=shutil.ignore_patterns("data", "include"))
    subprocess.run([sys.executable, str(again / "make_data.py")], check=True, capture_output=True)
    assert hashlib.sha256((again / "data" / "gestures.csv").read_bytes()).hexdigest() == first


@pytest.mark.avr
@pytest.mark.simavr
def test_build_then_stream_on_avr(example, tmp_path):
    need_tool("host")
    result = build(example / "microml.yaml", log=Log(quiet=True))
    header = example / "include" / "gesture_model.h"
    text = header.read_text()
    assert "int gesture_predict_ring(const int16_t *ring, unsigned head)" in text
    assert "#define GESTURE_WINDOW_LENGTH 128" in text and "#define GESTURE_N_FEATURES 384" in text
    assert "agreement 120/120" in result.summary
    need_tool("avr")
    need_simavr()
    # The first takes of the data, end to end, as one stream; scikit-learn classifies every window of it.
    config = load_config(example / "microml.yaml")
    art = produce(config, header.name, input_digest(config, {}), Log(quiet=True))
    lines = (example / "data" / "gestures.csv").read_text().splitlines()[1:]
    stream = np.array([[int(v) for v in line.split(",")[2:]] for line in lines[:420]], dtype=np.int64)
    L = 128
    windows = np.array([stream[t - L + 1:t + 1].reshape(-1) for t in range(L - 1, len(stream))], dtype=float)
    expected = [-1] * (L - 1) + [art.model.labels.index(v) for v in art.estimator.predict(windows)]
    rows = ",\n".join("    { " + ", ".join(str(v) for v in sample) + " }" for sample in stream)
    (tmp_path / "main.c").write_text(STREAM.format(n=len(stream), rows=rows))
    elf = toolchains.compile([tmp_path / "main.c", *HARNESS_SOURCES], tmp_path / "stream.elf", target="avr",
                             include_dirs=[HARNESS_DIR, example / "src", example / "include"])
    got = [int(v) for v in run_avr(elf, timeout=600).split()]
    assert got == expected
    assert len(set(expected[L - 1:])) > 1          # the stream passes through more than one gesture


@pytest.mark.arduino
@pytest.mark.avr
@pytest.mark.simavr
def test_sketch_on_the_arduino_core(example, tmp_path, arduino_cache, uart_run):
    """The Uno sketch built as the Arduino IDE builds it (arduino-builder, Debian's core), run on a simulated Uno
    with the accelerometer held still, z up: after 128 samples (5.1 s) it prints scikit-learn's class of that
    window."""
    from arduino_support import builder_elf, run_sketch

    build(example / "microml.yaml", log=Log(quiet=True))
    sketch = tmp_path / "gestures"
    sketch.mkdir()
    shutil.copy(example / "src" / "main.cpp", sketch / "gestures.ino")
    shutil.copy(example / "src" / "gesture_stream.h", sketch)
    shutil.copy(example / "include" / "gesture_model.h", sketch)
    elf = builder_elf(sketch, tmp_path / "build", arduino_cache)
    still = [338, 338, 406]                      # ADXL335 counts: 0 g, 0 g, 1 g (the sketch's milli_g: 0, 0, 1000)
    config = load_config(example / "microml.yaml")
    art = produce(config, "gesture_model.h", input_digest(config, {}), Log(quiet=True))
    window = np.tile([(c - 338) * 1000 // 68 for c in still], 128).astype(float)[None, :]
    expected = str(art.estimator.predict(window)[0])
    run = run_sketch(uart_run, elf, lines=2, adc_rows=np.array([still]), seconds=300, work=tmp_path)
    assert run.lines == ["gestures: rest, shake, circle or tap the board", expected]


@pytest.mark.avr
@pytest.mark.simavr
def test_feature_stage_costs_no_ram_and_four_bytes_of_stack_per_feature(example, tmp_path):
    """The issue's goals, as benchmarks/windows measures them, on the example: the feature stage adds no static RAM,
    at most 4 bytes of stack per computed feature plus a constant, and predict_ring stays under 20 ms at 16 MHz."""
    import importlib.util

    need_tool("avr")
    need_simavr()
    spec = importlib.util.spec_from_file_location("windows_benchmark", REPO / "benchmarks" / "windows" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench              # its dataclasses look their module up
    spec.loader.exec_module(bench)
    build(example / "microml.yaml", log=Log(quiet=True))
    text = (example / "include" / "gesture_model.h").read_text().replace("gesture_", "m_").replace("GESTURE_", "M_")
    n = int(next(line for line in text.splitlines() if "#define M_N_WINDOW_FEATURES" in line).split()[-1])
    case = bench.Case("gestures", text, n, 36, "", "")
    window = np.array([int(v) for line in (example / "data" / "gestures.csv").read_text().splitlines()[1:129]
                       for v in line.split(",")[2:]])
    m = bench.measure(case, "avr", window, tmp_path)
    assert m.ram["features"] == 0 and m.ram["predict"] == 0
    constant = m.stack["features"] - m.stack["stub"] - 4 * n
    assert 0 < constant <= 80, constant
    assert m.cycles["features"] < m.cycles["predict"] < bench.GOAL_CYCLES

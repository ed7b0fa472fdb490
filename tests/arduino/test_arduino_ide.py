"""The Arduino IDE path with the real Arduino core: arduino-builder builds sketches that include a MicroML
header, a simulated Uno runs them, and what they print over Serial is compared with scikit-learn.

arduino-builder is the Arduino IDE's build engine (Debian packages arduino-builder, arduino-core-avr);
`arduino-cli` is packaged neither by Debian nor on PyPI, so it is not tested here (docs/arduino.md).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import numpy as np
import pytest

from arduino_support import (CORE_FIX, arduino_parse_float, builder_command, builder_compile, builder_elf,
                             check_tutorial_firmware, gesture_data,
                             need_arduino_builder, readme_tutorial, repo_env, run_sketch, sklearn_labels)
from microml_build.commands.init_platformio import STARTER_SCRIPT

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
CANCER = REPO / "examples" / "breast_cancer_svm"


def microml(*args, cwd):
    return subprocess.run([sys.executable, "-m", "microml_build", *args], cwd=cwd, env=repo_env(),
                          capture_output=True, text=True)


@pytest.mark.arduino
@pytest.mark.avr
def test_debian_core_needs_the_build_property(tmp_path, arduino_cache):
    """Why CORE_FIX exists: without it Debian's core does not compile with Debian's avr-gcc 5.4."""
    need_arduino_builder()
    sketch = tmp_path / "plain"
    sketch.mkdir()
    (sketch / "plain.ino").write_text("void setup() { Serial.begin(9600); }\nvoid loop() {}\n")
    failed = builder_compile(sketch, tmp_path / "no-fix", prefs=())
    assert failed.returncode != 0
    assert "WString.cpp" in failed.stdout + failed.stderr and "DECIMAL_DIG" in failed.stdout + failed.stderr
    assert builder_compile(sketch, tmp_path / "fix", arduino_cache, prefs=(CORE_FIX,)).returncode == 0


@pytest.mark.arduino
@pytest.mark.avr
@pytest.mark.simavr
def test_readme_sketch_in_the_arduino_ide(tmp_path, uart_run, arduino_cache):
    """The README's five-minute sketch and yaml, verbatim, as an Arduino IDE sketch: analogRead() gets
    known rows, the labels printed are scikit-learn's and the LED blinks class index + 1 times."""
    need_arduino_builder()
    yaml_text, sketch_text = readme_tutorial()
    project = tmp_path / "gestures project"
    (project / "data").mkdir(parents=True)
    csv_text, X, _ = gesture_data()
    (project / "data" / "gestures.csv").write_text(csv_text)
    (project / "microml.yaml").write_text(yaml_text)
    (project / "train.py").write_text(STARTER_SCRIPT)          # what `microml init` writes
    sketch = project / "gesture_sketch"
    sketch.mkdir()
    (sketch / "gesture_sketch.ino").write_text(sketch_text)
    built = microml("build", "microml.yaml", "--output", str(sketch / "gesture_model.h"), cwd=project)
    assert built.returncode == 0, built.stderr

    elf = builder_elf(sketch, tmp_path / "build", arduino_cache)
    check_tutorial_firmware(uart_run, elf, project / "microml.yaml", X[::25], tmp_path)   # 6 rows, every class


@pytest.mark.arduino
@pytest.mark.avr
@pytest.mark.simavr
def test_breast_cancer_sketch_in_the_arduino_ide(tmp_path, uart_run, arduino_cache):
    """examples/breast_cancer_svm/sketch: 30 features typed into Serial per row, parsed by the core's
    parseFloat(); its diagnoses equal scikit-learn's on the floats parseFloat() produced."""
    need_arduino_builder()
    sketch = tmp_path / "sketch"
    sketch.mkdir()
    shutil.copy2(CANCER / "sketch" / "sketch.ino", sketch / "sketch.ino")
    built = microml("build", str(CANCER / "microml.yaml"), "--output", str(sketch / "cancer_model.h"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    elf = builder_elf(sketch, tmp_path / "build", arduino_cache)

    with open(CANCER / "data" / "cancer.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    typed = [",".join(row[:-1]) for row in rows[::30]]         # 19 rows, both classes
    parsed = np.array([[arduino_parse_float(cell) for cell in line.split(",")] for line in typed])
    expected = sklearn_labels(CANCER / "microml.yaml", parsed)
    assert len(set(expected)) == 2
    run = run_sketch(uart_run, elf, lines=len(typed) + 1, typed=typed, work=tmp_path)
    assert run.lines[0] == "send 30 comma-separated features"
    assert run.lines[1:] == [f"diagnosis: {label}" for label in expected]


@pytest.mark.arduino
@pytest.mark.avr
def test_prebuild_hook_keeps_the_header_fresh(tmp_path, arduino_cache):
    """The build-property recipe of docs/arduino.md: arduino-builder runs `microml build` before it copies
    the sketch, so an edited train.py reaches the compiled sketch; only the very first build needs the
    header to exist already (the builder lists the sketch's files before its hooks run)."""
    need_arduino_builder()
    parent = tmp_path / "my sketches"            # a space in the path: the hook's quoting is tested
    parent.mkdir()
    assert microml("init", "--arduino", "hooked_sketch", cwd=parent).returncode == 0
    folder = parent / "hooked_sketch"
    hook = (f'recipe.hooks.prebuild.1.pattern="{sys.executable}" -m microml_build build -q '
            '"{build.source.path}/microml.yaml"')

    def build():
        command = builder_command(folder, tmp_path / "build", arduino_cache, prefs=(CORE_FIX, hook))
        done = subprocess.run(command, capture_output=True, text=True, env=repo_env(), timeout=300)
        return done.returncode, done.stdout + done.stderr

    code, output = build()
    assert code != 0 and "model.h: No such file or directory" in output, output   # made, but too late
    assert (folder / "model.h").is_file()
    code, output = build()
    assert code == 0, output
    first = (folder / "model.h").read_bytes()
    assert (tmp_path / "build" / "sketch" / "model.h").read_bytes() == first

    script = folder / "train.py"
    script.write_text(script.read_text().replace("C=10.0", "C=1.0"))
    code, output = build()
    assert code == 0, output
    second = (folder / "model.h").read_bytes()
    assert second != first
    assert (tmp_path / "build" / "sketch" / "model.h").read_bytes() == second   # what the sketch compiled

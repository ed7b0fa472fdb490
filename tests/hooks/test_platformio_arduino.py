"""`framework = arduino` with the real Arduino AVR core, offline: examples/platformio-uno and the README's
five-minute tutorial built by `pio run` (the MicroML hook regenerating the header), then run on a
simulated Uno; what they print over Serial equals scikit-learn's predictions.

The Arduino core comes from Debian's arduino-core-avr as a local framework package of the test platform
(tests/hooks/conftest.py `prepare_arduino_framework`, tests/fixtures/pio_platform/builder/frameworks).
"""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from arduino_support import check_tutorial_firmware, gesture_data, readme_tutorial, run_sketch, sklearn_labels

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "platformio-uno"
TRAINED = "[microml] Training"

pytestmark = [pytest.mark.pio, pytest.mark.arduino, pytest.mark.avr, pytest.mark.simavr]


def test_uno_example_with_the_real_core(pio_arduino, tmp_path, uart_run):
    project = tmp_path / "platformio uno"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".pio", "include"))
    ini = project / "platformio.ini"
    assert "platform = atmelavr\n" in ini.read_text()
    ini.write_text(ini.read_text().replace("platform = atmelavr\n", f"platform = symlink://{pio_arduino.platform}\n"))

    run = pio_arduino(project).run("-e", "uno")
    assert run.count(TRAINED) == 1, run.output
    assert "FrameworkArduino" in run.output or "libFrameworkArduino" in run.output, run.output
    elf = project / ".pio" / "build" / "uno" / "program.elf"

    with open(EXAMPLE / "data" / "iris.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    typed = [",".join(row[:4]) for row in rows] + ["1,2,x"]
    expected = sklearn_labels(EXAMPLE / "microml.yaml", np.array([[float(v) for v in row[:4]] for row in rows]))
    result = run_sketch(uart_run, elf, lines=len(typed) + 1, typed=typed, work=tmp_path)
    assert result.lines[0] == "iris: send sepal_length,sepal_width,petal_length,petal_width"
    assert result.lines[1:-1] == expected                      # all 150 rows
    assert result.lines[-1] == "error: expected 4 comma-separated numbers"


def test_readme_tutorial_with_platformio(pio_arduino, tmp_path, uart_run):
    """Steps 1-4 of the README: a PlatformIO project for the Uno, `microml init --platformio`, the yaml,
    the data, the sketch, `pio run`; the firmware classifies what its analog pins read."""
    from microml_build.commands.init_platformio import init_platformio

    project = tmp_path / "gestures"
    (project / "src").mkdir(parents=True)
    (project / "platformio.ini").write_text(
        f"[env:uno]\nplatform = symlink://{pio_arduino.platform}\nboard = uno\nframework = arduino\n")
    init_platformio(project)
    yaml_text, sketch_text = readme_tutorial()
    (project / "microml.yaml").write_text(yaml_text)
    (project / "data").mkdir()
    csv_text, X, _ = gesture_data()
    (project / "data" / "gestures.csv").write_text(csv_text)
    (project / "src" / "main.cpp").write_text(sketch_text)

    run = pio_arduino(project).run()
    assert run.count(TRAINED) == 1, run.output
    elf = project / ".pio" / "build" / "uno" / "program.elf"
    check_tutorial_firmware(uart_run, elf, project / "microml.yaml", X[5::25], tmp_path)

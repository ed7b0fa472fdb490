"""Real Arduino sketches in tests: Debian's Arduino AVR core, arduino-builder, and a simavr board with a serial line.

- `builder_compile` builds a sketch folder as the Arduino IDE does (arduino-builder, the real core) with
  the one build property Debian's core needs under Debian's avr-gcc 5.4 (see docs/arduino.md);
- `run_sketch` runs the ELF under `uart_run` (tests/fixtures/simavr_uart/uart_run.c, built against
  libsimavr): lines typed into Serial, ADC counts on the analog pins, what the sketch prints and how often
  the LED blinked;
- `sklearn_labels` retrains the config's model the way `microml build` does and returns scikit-learn's
  predictions, the reference the sketch's serial output is compared with.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from support import _missing, require_mark

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UART_RUN_SOURCE = FIXTURES / "simavr_uart" / "uart_run.c"

# Debian's packages (arduino-core-avr, arduino-builder): the core, and the builder's ctags recipe.
ARDUINO_HARDWARE = Path("/usr/share/arduino/hardware")
BUILDER_HARDWARE = Path("/usr/share/arduino-builder")
AVR_CORE = ARDUINO_HARDWARE / "arduino" / "avr"
# Debian's avr-gcc 5.4 defines DECIMAL_DIG in <float.h> for C99 only, so the core's WString.cpp
# (C++) does not compile; newer GCCs define it for C++11 too, as this does.
CORE_FIX = "compiler.cpp.extra_flags=-DDECIMAL_DIG=__DECIMAL_DIG__"
FQBN = "arduino:avr:uno"


def need_arduino_core() -> Path:
    """The Arduino AVR core's folder; skip (fail in CI) without Debian's arduino-core-avr."""
    require_mark("arduino")
    require_mark("avr")
    if not (AVR_CORE / "cores" / "arduino" / "Arduino.h").is_file():
        _missing("the Arduino AVR core is missing; install the Debian package arduino-core-avr")
    if shutil.which("avr-g++") is None:
        _missing("avr-g++ is missing; install the Debian packages gcc-avr avr-libc")
    return AVR_CORE


def need_arduino_builder() -> str:
    """arduino-builder with ctags; skip (fail in CI) without Debian's arduino-builder and arduino-ctags."""
    require_mark("arduino")
    need_arduino_core()
    builder = shutil.which("arduino-builder")
    if builder is None or shutil.which("arduino-ctags") is None:
        _missing("arduino-builder is missing; install the Debian packages arduino-builder arduino-ctags")
    return builder


def build_uart_run(folder: Path) -> Path:
    """Compile uart_run against libsimavr once per source version; skip (fail in CI) without libsimavr-dev."""
    require_mark("simavr")
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        _missing("gcc and pkg-config are needed to build the simavr UART runner")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "simavr"], capture_output=True, text=True)
    if flags.returncode != 0:
        _missing("libsimavr is missing; install the Debian packages libsimavr-dev libelf-dev pkg-config "
                 f"({flags.stderr.strip()})")
    digest = hashlib.sha256(UART_RUN_SOURCE.read_bytes()).hexdigest()[:12]
    program = folder / f"uart_run-{digest}"
    if not program.exists():
        folder.mkdir(parents=True, exist_ok=True)
        cflags = [flag for flag in flags.stdout.split() if not flag.startswith("-l")]
        libs = [flag for flag in flags.stdout.split() if flag.startswith("-l")]
        subprocess.run(["gcc", "-O2", "-std=gnu99", "-Wall", "-Wextra", "-Werror", *cflags, str(UART_RUN_SOURCE),
                        "-o", str(program), *libs], check=True)
    return program


def builder_compile(sketch_dir: Path, build_dir: Path, cache_dir: Path | None = None,
                    prefs: tuple[str, ...] = (CORE_FIX,)) -> subprocess.CompletedProcess:
    """`arduino-builder -compile` of a sketch folder for an Uno; returns the finished process (not checked)."""
    command = builder_command(sketch_dir, build_dir, cache_dir, prefs)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def builder_command(sketch_dir: Path, build_dir: Path, cache_dir: Path | None = None,
                    prefs: tuple[str, ...] = (CORE_FIX,)) -> list[str]:
    """The arduino-builder command line for an Uno (docs/arduino.md shows the same)."""
    builder = need_arduino_builder()
    build_dir.mkdir(parents=True, exist_ok=True)
    command = [builder, "-compile", "-hardware", str(ARDUINO_HARDWARE), "-hardware", str(BUILDER_HARDWARE),
               "-tools", "/usr/bin", "-fqbn", FQBN, "-build-path", str(build_dir)]
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        command += ["-build-cache", str(cache_dir)]
    command += [f"-prefs={pref}" for pref in prefs]
    return command + [str(sketch_dir / f"{sketch_dir.name}.ino")]


def builder_elf(sketch_dir: Path, build_dir: Path, cache_dir: Path | None = None) -> Path:
    """Build with arduino-builder and return the ELF; fail the test with the builder's output otherwise."""
    done = builder_compile(sketch_dir, build_dir, cache_dir)
    assert done.returncode == 0, f"arduino-builder failed:\n{done.stdout}\n{done.stderr}"
    elf = build_dir / f"{sketch_dir.name}.ino.elf"
    assert elf.is_file(), done.stdout
    return elf


@dataclass
class SketchRun:
    lines: list[str]        # what the sketch printed, one entry per "\r\n" (or "\n") line
    pulses: list[int]       # LED rising edges before each line (with `pin`)
    log: str                # uart_run's own report


def run_sketch(runner: Path, elf: Path, *, lines: int, typed: list[str] | None = None,
               adc_rows: np.ndarray | None = None, pin: tuple[str, int] | None = None, seconds: float = 120,
               work: Path | None = None) -> SketchRun:
    """Run a sketch's ELF on a simulated 16 MHz ATmega328P until it printed `lines` lines.

    `typed`: lines typed into the serial monitor, the k-th once the sketch printed k + 1 lines.
    `adc_rows`: integer counts on A0, A1, ...: row 0 from reset, row k from the sketch's k-th line on.
    """
    work = work or elf.parent
    command = [str(runner), str(elf), "-l", str(lines), "-s", str(seconds)]
    if typed is not None:
        (work / "typed.txt").write_text("".join(line + "\n" for line in typed))
        command += ["-i", str(work / "typed.txt")]
    if adc_rows is not None:
        rows = np.asarray(adc_rows)
        assert rows.dtype.kind in "iu" and rows.min() >= 0 and rows.max() <= 1022, "ADC counts are 0..1022"
        (work / "adc.txt").write_text("".join(",".join(str(int(v)) for v in row) + "\n" for row in rows))
        command += ["-a", str(work / "adc.txt")]
    if pin is not None:
        command += ["-p", pin[0], str(pin[1])]
    done = subprocess.run(command, capture_output=True, timeout=600)
    log = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, f"uart_run failed (exit {done.returncode}):\n{log}\n" \
                                 f"output so far:\n{done.stdout.decode('utf-8', 'replace')}"
    text = done.stdout.decode("utf-8")
    printed = [line.removesuffix("\r") for line in text.split("\n")]
    assert printed[-1] == "", f"unfinished last line: {printed[-1]!r}"
    pulses = [int(line.split()[1]) for line in log.splitlines() if line.startswith("pulses ")]
    return SketchRun(printed[:-1], pulses, log)


def sklearn_labels(config_path: Path, X: np.ndarray) -> list[str]:
    """scikit-learn's predictions for X, from the estimator `microml build` trains for this config."""
    from microml_build.config import load_config
    from microml_build.pipeline.build import split
    from microml_build.pipeline.dataset import load_dataset
    from microml_build.pipeline.training import train

    config = load_config(config_path)
    data = load_dataset(config)
    X_train, _, y_train, _ = split(config, data.X, data.y)
    estimator = train(config, X_train, y_train)
    return [str(label) for label in estimator.predict(np.asarray(X, dtype=np.float32))]


def repo_env() -> dict:
    """The environment for `microml` subprocesses: this checkout's package first on PYTHONPATH."""
    repo = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}


def readme_tutorial() -> tuple[str, str]:
    """The README's five-minute tutorial as a user copies it: (microml.yaml, the sketch)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Five minutes", 1)[1].split("\n## ", 1)[0]

    def block(language: str) -> str:
        lines = section.split(f"```{language}\n", 1)[1].split("```", 1)[0].splitlines(keepends=True)
        indent = min(len(line) - len(line.lstrip(" ")) for line in lines if line.strip())
        return "".join(line[indent:] if line.strip() else "\n" for line in lines)

    return block("yaml"), block("cpp")


def gesture_data(rows_per_class: int | None = None) -> tuple[str, np.ndarray, list[str]]:
    """A stand-in for the tutorial's data/gestures.csv: iris in hundredths, so every feature is an ADC
    count (10..790) an Uno's analogRead() can return. Returns (CSV text, all rows, their labels)."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    X = np.rint(iris.data * 100).astype(int)
    labels = [str(iris.target_names[t]) for t in iris.target]
    header = ",".join(f"sensor{i}" for i in range(X.shape[1])) + ",gesture\n"
    text = header + "".join(",".join(str(v) for v in row) + f",{label}\n" for row, label in zip(X, labels))
    return text, X, labels


def arduino_parse_float(text: str) -> np.float32:
    """The float the core's Stream::parseFloat() returns for a plain decimal (Stream.cpp, arduino-core-avr
    1.8.7): digits accumulated in a long, `fraction *= 0.1` per decimal in float, then value * fraction."""
    value, fraction, negative, decimals = 0, np.float32(1.0), False, False
    for char in text:
        if char == "-":
            negative = True
        elif char == ".":
            decimals = True
        else:
            value = value * 10 + int(char)
            if decimals:
                fraction = np.float32(fraction * np.float32(0.1))
    value = -value if negative else value
    return np.float32(np.float32(value) * fraction) if decimals else np.float32(value)


def check_tutorial_firmware(runner: Path, elf: Path, config: Path, rows: np.ndarray, work: Path) -> None:
    """The README tutorial's firmware with `rows` on its analog pins: it prints scikit-learn's label for
    each row and blinks the LED class index + 1 times after it."""
    expected = sklearn_labels(config, rows)
    assert len(set(expected)) == 3, "pick rows of every class"
    run = run_sketch(runner, elf, lines=len(rows) + 1, adc_rows=rows, pin=("B", 5), work=work)
    assert run.lines[:len(rows)] == expected
    classes = sorted(set(expected))
    assert run.pulses[1:len(rows) + 1] == [classes.index(label) + 1 for label in expected]

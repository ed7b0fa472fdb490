"""The Uno firmware of examples/magic-wand/firmware/wand.c, built around a header and fed recordings over its serial port.

    elf = build(header_text, work)                     # avr-gcc, as the example's README builds it
    run = stream(runner, elf, samples, work)           # every sample typed into UART0 under simavr (uart_run)

`runner` is tests/fixtures/simavr_uart/uart_run.c built against libsimavr (`uart_runner()`): it types line k
into the simulated ATmega328P's serial port once the firmware has printed k + 1 lines, as a host replaying
a recording sample by sample would, and captures everything the firmware prints. The firmware answers each
sample with the class of the window ending there, the cycles of that inference (Timer1) and any gesture
TensorFlow's post-processing reports; a last '?' line makes it report its static RAM and painted peak stack.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIRMWARE = ROOT / "examples" / "magic-wand" / "firmware" / "wand.c"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "simavr_uart"))

from microml_build import toolchains  # noqa: E402
from uart_runner import RunnerUnavailable, compile_uart_run  # noqa: E402,F401

WINDOW = 128
F_CPU = 16_000_000


def build(header_text: str, work: Path) -> Path:
    """The firmware with `header_text` as include/wand_model.h (prefix `wand`): its ELF."""
    (work / "include").mkdir(parents=True, exist_ok=True)
    (work / "include" / "wand_model.h").write_text(header_text, encoding="utf-8")
    return toolchains.compile([FIRMWARE], work / "wand.elf", target="avr", include_dirs=[work / "include"])


def sizes(elf: Path) -> dict[str, int]:
    """text, data, bss, flash (text + data) and static RAM (data + bss) of the whole firmware, from avr-size."""
    return toolchains.section_sizes(elf, "avr")


def uart_runner(folder: Path) -> Path:
    """uart_run built against libsimavr (RunnerUnavailable says what to install)."""
    return compile_uart_run(folder)


@dataclass
class StreamRun:
    """What the firmware printed for one stream."""

    ends: np.ndarray            # sample index at which each inference ran (the window's last sample)
    classes: np.ndarray         # the model's class index (the header's order) of each window
    cycles: np.ndarray          # CPU cycles of each inference (Timer1)
    detections: list            # (end sample, class index in the header's order) of every reported gesture
    ram: int                    # static RAM (.data + .bss), bytes
    stack: int                  # deepest stack since reset, bytes (painted)
    seconds: float              # simulated time of the whole run


def stream(runner: Path, elf: Path, samples: np.ndarray, work: Path, labels, seconds: float = 3600) -> StreamRun:
    """Type `samples` ((n, 3) int16 milli-g) into the firmware one line each, then '?'; parse its answers.

    `labels`: the header's class names, in index order (the firmware prints a reported gesture by name)."""
    work.mkdir(parents=True, exist_ok=True)
    typed = work / "samples.txt"
    typed.write_text("".join(f"{x},{y},{z}\n" for x, y, z in np.asarray(samples, dtype=int)) + "?\n")
    lines_expected = 1 + len(samples) + 1                     # the banner, one per sample, the report
    done = subprocess.run([str(runner), str(elf), "-l", str(lines_expected), "-s", str(seconds), "-i", str(typed)],
                          capture_output=True, timeout=7200)
    log = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise RuntimeError(f"uart_run failed (exit {done.returncode}): {log.strip()}")
    printed = done.stdout.decode("ascii").split("\n")
    if len(printed) != lines_expected + 1 or printed[0] != "magic_wand ready" or printed[-1] != "":
        raise RuntimeError(f"the firmware printed {len(printed) - 1} lines, expected {lines_expected}: "
                           f"{printed[:3]} ... {printed[-3:]}")
    ends, classes, cycles, detections = [], [], [], []
    for index, line in enumerate(printed[1:1 + len(samples)]):
        if line == "-":
            if index >= WINDOW - 1:
                raise RuntimeError(f"sample {index}: no inference although the ring is full")
            continue
        fields = line.split()
        if index < WINDOW - 1 or len(fields) not in (2, 3):
            raise RuntimeError(f"sample {index}: unexpected answer {line!r}")
        ends.append(index)
        classes.append(int(fields[0]))
        cycles.append(int(fields[1]))
        if len(fields) == 3:
            detections.append((index, list(labels).index(fields[2])))
    report = dict(item.split("=") for item in printed[1 + len(samples)].split())
    if int(report["inferences"]) != len(classes):
        raise RuntimeError(f"the firmware counted {report['inferences']} inferences, printed {len(classes)}")
    simulated = [line for line in log.splitlines() if "simulated seconds" in line]
    return StreamRun(np.array(ends), np.array(classes), np.array(cycles), detections, int(report["ram"]),
                     int(report["stack"]), float(simulated[-1].split(" after ")[1].split()[0]) if simulated else 0.0)

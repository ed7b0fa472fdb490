"""Run ATmega328P firmware under simavr and read back what it printed.

Firmware built with the C harness in `HARNESS_DIR` (avr_harness.h/.c) prints
results over UART0 and halts by sleeping with interrupts off. Plain Debian
simavr echoes each UART line to stderr as ESC[32m<line>.ESC[0m (the '\\n'
itself shown as '.') and quits when the CPU sleeps with interrupts off; this
module turns that back into the exact text the firmware printed, and turns
hangs and crashes into errors instead of stuck test runs.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import struct
import subprocess
import time
from pathlib import Path

from microml_build.toolchains import ToolchainError

HARNESS_DIR = Path(__file__).resolve().parent.parent / "c"
HARNESS_SOURCES = (HARNESS_DIR / "avr_harness.c",)

_UART_LINE = "\x1b[32m"    # simavr's colour prefix for UART output
_RESET = "\x1b[0m"
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_MAX_LINE = 256            # simavr flushes its line buffer at this length
# With -v simavr reports a crash on stderr, then opens a gdb server on port
# 1234 and waits for a debugger forever: seeing this means kill it.
_CRASH_MARKER = b"avr_sadly_crashed"


class SimulationError(ToolchainError):
    """simavr failed, the firmware crashed or did not halt in time.

    `firmware_output` holds the text printed before the failure and
    `diagnostics` simavr's own messages; the message shows both.
    """

    def __init__(self, message: str, command: list[str], firmware_output: str, diagnostics: str):
        self.firmware_output = firmware_output
        self.diagnostics = diagnostics
        super().__init__(message, command, f"firmware output:\n{firmware_output or '(none)'}\n"
                                           f"simavr said:\n{diagnostics or '(nothing)'}")


def f32_from_hex(bits: str) -> float:
    """The float whose IEEE-754 bits the firmware printed as hex (harness_f32_bits)."""
    return struct.unpack("<f", struct.pack("<I", int(bits, 16)))[0]


def _split_stderr(stderr: str) -> tuple[list[str], list[str]]:
    """Separate the firmware's UART lines from simavr's messages on stderr."""
    firmware, simavr = [], []
    for line in stderr.split("\n"):
        while line.startswith(_RESET):
            line = line[len(_RESET):]
        if line.startswith(_UART_LINE):
            firmware.append(line[len(_UART_LINE):])
        elif line.strip():
            simavr.append(_COLOUR.sub("", line))
    return firmware, simavr


def _communicate(proc: subprocess.Popen, timeout: float) -> tuple[str, str, str | None]:
    """Collect stdout and stderr until simavr exits; stop early on a crash or at the timeout.

    Returns both texts and None, "crash" or "timeout".
    """
    out, err = bytearray(), bytearray()
    buffers = {proc.stdout: out, proc.stderr: err}
    deadline = time.monotonic() + timeout
    scanned = 0  # err before this offset holds no crash marker
    failure = None
    with selectors.DefaultSelector() as selector:
        for pipe in buffers:
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failure = "timeout"
                break
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 65536)
                if data:
                    buffers[key.fileobj] += data
                else:
                    selector.unregister(key.fileobj)
            if err.find(_CRASH_MARKER, scanned) != -1:
                failure = "crash"
                break
            scanned = max(0, len(err) - len(_CRASH_MARKER) + 1)
    if failure:
        proc.kill()
    proc.wait()
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), failure


def run_avr(elf_path: str | Path, *, mcu: str = "atmega328p", freq: int = 16_000_000,
            timeout: float = 120) -> str:
    """Simulate `elf_path` until it halts; return its UART text, one '\\n' per line.

    Only complete lines reach simavr's console, so firmware must end every
    line with '\\n' and keep lines under 255 characters. Raises
    SimulationError on a crash (bad opcode, PC or address out of range), on
    a firmware still running after `timeout` seconds of wall time, or when simavr
    itself fails.
    """
    simavr = shutil.which("simavr")
    if simavr is None:
        raise ToolchainError("simavr not found; install the Debian package simavr")
    command = [simavr, "-v", "-m", mcu, "-f", str(freq), str(elf_path)]
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        stdout, stderr, failure = _communicate(proc, timeout)

    lines, messages = _split_stderr(stderr)
    diagnostics = "\n".join([*stdout.splitlines(), *messages])
    output = "".join(line.removesuffix(".") + "\n" for line in lines)
    if failure == "timeout":
        raise SimulationError(f"firmware did not halt within {timeout:g} s; end main() with "
                              "harness_exit() (sleep with interrupts off)",
                              command, output, diagnostics)
    if failure == "crash":
        raise SimulationError("firmware crashed under simavr", command, output, diagnostics)
    if proc.returncode != 0:
        raise SimulationError(f"simavr failed (exit {proc.returncode})", command, output, diagnostics)
    if any(len(line) >= _MAX_LINE for line in lines):
        raise SimulationError(f"firmware printed a line of {_MAX_LINE - 1}+ characters, which "
                              "simavr splits; print shorter lines", command, output, diagnostics)
    return output

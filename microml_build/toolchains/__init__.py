"""C/C++ compilers for the host and the microcontroller targets, and section sizes.

Generated headers are only trusted once real compilers have built them with
warnings as errors, and flash/RAM budgets are only meaningful when measured
by the target's own binutils, so both live here behind one small API.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

# Never fuse a*b+c into one FMA instruction: Cortex-M4 has one, AVR and the
# default x86-64 host do not, so fusing would round the same code differently
# per target. GCC's ISO C modes imply this, its C++ modes (before GCC 13) do not.
_PORTABLE_FLOAT = ("-ffp-contract=off",)

_DEFAULT_STD = {"c": "c99", "c++": "c++11"}


class ToolchainError(Exception):
    """A tool is missing or failed; the message carries the command and its full output."""

    def __init__(self, message: str, command: Iterable[str] = (), output: str = ""):
        self.command = list(command)
        self.output = output
        text = message
        if self.command:
            text += "\n$ " + shlex.join(self.command)
        if output.strip():
            text += "\n" + output.rstrip()
        super().__init__(text)


@dataclass(frozen=True)
class Target:
    """One compilation target: its drivers, size tool, flags and where to get them."""

    name: str
    cc: str
    cxx: str
    size: str
    flags: tuple[str, ...]
    packages: tuple[str, ...]  # Debian packages that provide the tools


_CORTEX_M_COMMON = ("-mthumb", "-Os", "--specs=nano.specs", "--specs=nosys.specs")
_ARM_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "libstdc++-arm-none-eabi-newlib")

TARGETS: dict[str, Target] = {
    "host": Target("host", "gcc", "g++", "size", ("-O2", *_PORTABLE_FLOAT), ("gcc", "g++", "binutils")),
    "avr": Target(
        "avr", "avr-gcc", "avr-g++", "avr-size",
        ("-mmcu=atmega328p", "-Os", "-DF_CPU=16000000UL", *_PORTABLE_FLOAT),
        ("gcc-avr", "avr-libc", "binutils-avr"),
    ),
    "atmega2560": Target(
        "atmega2560", "avr-gcc", "avr-g++", "avr-size",
        ("-mmcu=atmega2560", "-Os", "-DF_CPU=16000000UL", *_PORTABLE_FLOAT),
        ("gcc-avr", "avr-libc", "binutils-avr"),
    ),
    "cortex-m4": Target(
        "cortex-m4", "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size",
        ("-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", *_CORTEX_M_COMMON, *_PORTABLE_FLOAT),
        _ARM_PACKAGES,
    ),
    "cortex-m0plus": Target(
        "cortex-m0plus", "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size",
        ("-mcpu=cortex-m0plus", *_CORTEX_M_COMMON, *_PORTABLE_FLOAT),
        _ARM_PACKAGES,
    ),
    "cortex-m3": Target(
        "cortex-m3", "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size",
        ("-mcpu=cortex-m3", *_CORTEX_M_COMMON, *_PORTABLE_FLOAT),
        _ARM_PACKAGES,
    ),
}


def _target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}") from None


def _driver(target: Target, lang: str) -> str:
    if lang == "c":
        return target.cc
    if lang == "c++":
        return target.cxx
    raise ValueError(f"unknown language {lang!r}; use 'c' or 'c++'")


def find_compiler(target: str, lang: str = "c") -> str | None:
    """Path of the C (or C++) compiler for `target`, or None when it is not installed."""
    return shutil.which(_driver(_target(target), lang))


def _run(command: list[str], what: str) -> str:
    """Run a tool and return its stdout; any failure becomes a ToolchainError with all output."""
    result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {result.returncode})", command,
                             result.stdout + result.stderr)
    return result.stdout


def _require(tool: str, target: Target) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"{tool} not found for target {target.name!r}; "
                             f"install the Debian packages: {' '.join(target.packages)}")
    return path


def compile(sources: Iterable[str | Path], output: str | Path, *, target: str = "host",
            lang: str = "c", std: str | None = None, extra_flags: Iterable[str] = (),
            include_dirs: Iterable[str | Path] = (), link: bool = True,
            libs: Iterable[str] = ("m",)) -> Path:
    """Build `sources` into an executable (or, with link=False, one object file).

    Always strict (-Wall -Wextra -Werror) so generated code is warning-free on
    every target; the language standard defaults to c99 / c++11, the oldest the
    generated code promises to support. With lang="c++", .c files are compiled
    as C++ too. `libs` are passed as -l after the sources (ignored without link).
    """
    tgt = _target(target)
    compiler = _require(_driver(tgt, lang), tgt)
    sources = [str(s) for s in sources]
    if not sources:
        raise ValueError("compile() needs at least one source file")
    if not link and len(sources) != 1:
        raise ValueError("link=False compiles exactly one source into one object file")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)

    command = [compiler, *tgt.flags, f"-std={std or _DEFAULT_STD[lang]}",
               "-Wall", "-Wextra", "-Werror",
               *(f"-I{d}" for d in include_dirs), *extra_flags]
    if not link:
        command.append("-c")
    command += [*sources, "-o", str(output)]
    if link:
        command += [f"-l{lib}" for lib in libs]
    _run(command, f"{tgt.name} {lang} compile")
    return output


def section_sizes(elf_or_obj: str | Path, target: str) -> dict[str, int]:
    """text/data/bss bytes of an ELF or object file, plus flash (text+data) and ram (data+bss).

    Uses the target's own `size` in Berkeley format, which sorts sections by
    their ELF flags (read-only -> text, initialised writable -> data, no
    contents -> bss) rather than by name, so .rodata, .progmem, .ARM.exidx
    and -ffunction-sections output all land in the right column. On AVR,
    const data without PROGMEM is copied to RAM at start-up: only a linked
    ELF shows it under data, an object file still counts it as text.
    """
    tgt = _target(target)
    tool = _require(tgt.size, tgt)
    command = [tool, "--format=berkeley", str(elf_or_obj)]
    rows = _run(command, f"{tgt.size}").splitlines()[1:]  # skip the header line
    if not rows:
        raise ToolchainError(f"{tgt.size} printed no sizes", command)
    text = data = bss = 0
    for row in rows:  # several rows only for archives; sum their members
        fields = row.split()
        text, data, bss = text + int(fields[0]), data + int(fields[1]), bss + int(fields[2])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}

"""Measures what a header costs on the chip: flash, static RAM, peak stack and cycles per inference.

Flash and RAM are the difference between a firmware that calls the model and the same
firmware with the call replaced by a stub, so the harness, startup code and printf are
not counted. On AVR the firmware also runs under simavr: the stack below the caller is
painted before one inference and scanned after it, and Timer1 counts its cycles.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microml_build import toolchains
from microml_build.emit.c_writer import float_literal

# MicroML mcu family -> toolchain target used to measure it; a board with another chip of the family
# is measured on that chip.
MEASURE_TARGETS = {"avr": "avr", "arm": "cortex-m4"}
BOARD_TARGETS = {"mega": "atmega2560", "pico": "cortex-m0plus"}
# toolchain target -> simavr's name of the chip
AVR_CHIPS = {"avr": "atmega328p", "atmega2560": "atmega2560"}


def measure_target(mcu: str, board: str | None = None) -> str | None:
    """The toolchain target that measures `mcu` (on `board`'s own chip), or None when there is none."""
    return BOARD_TARGETS.get(board or "") or MEASURE_TARGETS.get(mcu)

FIRMWARE = """\
#include <stdint.h>
#include <stdio.h>
{harness_include}
#include "model.h"

#ifdef {P}_INPUT_INT16
typedef int16_t measure_input_t;
#else
typedef float measure_input_t;
#endif

measure_input_t x[{P}_N_FEATURES] = {{ {values} }};
volatile float sink;

/* noinline: the model's frame must sit below the point where the stack is painted. */
static __attribute__((noinline)) float run(const measure_input_t *input)
{{
#if defined(MEASURE_MODEL) && (defined({P}_N_CLASSES) || {P}_N_OUTPUTS == 1)
    return (float){p}_predict(input);
#elif defined(MEASURE_MODEL)
    float y[{P}_N_OUTPUTS];
    {p}_predict_value(input, y);
    return y[0];
#else
    return input[0];
#endif
}}

int main(void)
{{
{body}
}}
"""

AVR_BODY = """\
    uint16_t stack;
    uint32_t cycles;
    harness_init();
    harness_stack_paint();
    sink = run(x);
    stack = harness_stack_used();
    harness_cycles_start();
    sink = run(x);
    cycles = harness_cycles_stop();
    printf("stack=%u cycles=%lu\\n", stack, (unsigned long)cycles);
    harness_exit();"""


@dataclass(frozen=True)
class Footprint:
    target: str              # toolchain target, e.g. "avr"
    flash: int               # bytes the model adds to flash (text + data)
    ram: int                 # bytes the model adds to static RAM (data + bss)
    stack: int | None = None   # peak stack of one inference (AVR under simavr)
    cycles: int | None = None  # cycles of one inference (AVR under simavr)

    def describe(self) -> str:
        text = f"flash {_size(self.flash)}, RAM {_size(self.ram)}"
        if self.stack is not None:
            text += f" + {self.stack} B stack"
        if self.cycles is not None:
            text += f", {self.cycles} cycles"
        return text + f" ({self.target}, measured)"

    @classmethod
    def from_facts(cls, facts: dict) -> Footprint | None:
        """The measured footprint a header's facts record (`build.header_facts`), or None when it was estimated."""
        if "measured" not in facts:
            return None
        return cls(facts["measured"], facts["flash"], facts["ram"], facts.get("stack"), facts.get("cycles"))


def describe_cost(facts: dict) -> str:
    """A header's cost from its facts (`build.header_facts`): measured when it was, else the plan's estimate.
    `build`, `--board`, `explain` and `report` all say it this way."""
    if "measured" in facts:
        return Footprint.from_facts(facts).describe()
    if facts.get("code"):
        return (f"model data {_size(facts['tables'])} flash + about {_size(facts['code'])} of code (estimated), "
                "RAM 0 B")
    return f"model data {_size(facts['tables'])} flash, RAM 0 B"


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def can_measure(mcu: str, board: str | None = None) -> bool:
    target = measure_target(mcu, board)
    return target is not None and toolchains.find_compiler(target) is not None


def measure(header_text: str, name: str, x: np.ndarray, mcu: str, board: str | None = None) -> Footprint:
    """Build (and on AVR, simulate) a firmware around the header; raises ToolchainError on failure."""
    from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr

    target = measure_target(mcu, board)
    avr = target in AVR_CHIPS
    if f"#define {name.upper()}_INPUT_INT16" in header_text:
        values = ", ".join(str(int(v)) for v in np.clip(np.nan_to_num(np.asarray(x)), -32767, 32767))
    else:
        values = ", ".join(float_literal(v) for v in np.nan_to_num(np.asarray(x, dtype=np.float32)))
    with tempfile.TemporaryDirectory(prefix="microml-measure-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.h").write_text(header_text, encoding="utf-8")
        source = tmp / "main.c"
        source.write_text(FIRMWARE.format(
            harness_include='#include "avr_harness.h"' if avr else "", P=name.upper(), p=name, values=values,
            body=AVR_BODY if avr else "    sink = run(x);\n    return 0;"), encoding="utf-8")
        sources = [source, *HARNESS_SOURCES] if avr else [source]
        include = [HARNESS_DIR, tmp] if avr else [tmp]
        sizes = {}
        for variant in ("stub", "model"):
            flags = ["-DMEASURE_MODEL"] if variant == "model" else []
            elf = toolchains.compile(sources, tmp / f"{variant}.elf", target=target, include_dirs=include,
                                     extra_flags=flags)
            sizes[variant] = toolchains.section_sizes(elf, target)
        stack = cycles = None
        if avr and shutil.which("simavr"):
            fields = dict(item.split("=") for item in run_avr(tmp / "model.elf", mcu=AVR_CHIPS[target],
                                                               timeout=120).split())
            stack, cycles = int(fields["stack"]), int(fields["cycles"])
    return Footprint(target, flash=sizes["model"]["flash"] - sizes["stub"]["flash"],
                     ram=sizes["model"]["ram"] - sizes["stub"]["ram"], stack=stack, cycles=cycles)

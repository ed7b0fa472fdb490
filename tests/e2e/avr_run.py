"""Run a generated header on a simulated ATmega328P: test rows in flash, one prediction per UART line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microml_build import toolchains
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, f32_from_hex, run_avr
from microml_build.emit.c_writer import float_literal
from support import need_simavr, need_tool

FLASH = 32 * 1024
FIRMWARE_OVERHEAD = 6 * 1024   # harness, printf, libm, vectors

FIRMWARE = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"
#include "model.h"

static const float rows[{n_rows}][{P}_N_FEATURES] PROGMEM = {{
{rows}
}};

int main(void)
{{
    float x[{P}_N_FEATURES];
    harness_init();
    for (uint16_t r = 0; r < {n_rows}; r++) {{
        memcpy_P(x, rows[r], sizeof x);
#ifdef {P}_N_CLASSES
        printf("%d\\n", {p}_predict(x));
#else
        printf("%08lx\\n", (unsigned long)harness_f32_bits({p}_predict_value(x)));
#endif
    }}
    harness_exit();
}}
"""


def avr_outputs(header_text: str, X: np.ndarray, tmp_path: Path, name: str = "m", model_flash: int = 0) -> np.ndarray:
    """Predictions of the header on an ATmega328P under simavr, for every row of X (several firmwares if needed)."""
    need_tool("avr")
    need_simavr()
    (tmp_path / "model.h").write_text(header_text)
    row_bytes = 4 * X.shape[1]
    per_chunk = max(1, (FLASH - FIRMWARE_OVERHEAD - model_flash) // row_bytes)
    outputs = []
    for start in range(0, len(X), per_chunk):
        chunk = np.asarray(X[start:start + per_chunk], dtype=np.float32)
        rows = ",\n".join("    { " + ", ".join(float_literal(v) for v in row) + " }" for row in chunk)
        source = tmp_path / f"fw{start}.c"
        source.write_text(FIRMWARE.format(n_rows=len(chunk), rows=rows, p=name, P=name.upper()))
        elf = toolchains.compile([source, *HARNESS_SOURCES], tmp_path / f"fw{start}.elf", target="avr",
                                 include_dirs=[HARNESS_DIR, tmp_path])
        lines = run_avr(elf, timeout=300).split()
        assert len(lines) == len(chunk), lines[-3:]
        outputs.extend(lines)
    if "_N_CLASSES" in header_text and f"#define {name.upper()}_N_CLASSES" in header_text:
        return np.array([int(v) for v in outputs])
    return np.array([f32_from_hex(v) for v in outputs])

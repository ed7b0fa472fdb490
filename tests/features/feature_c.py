"""Compile the feature stage's C alone and run it: on the host over stdin (every ring head checked in C), on AVR in simavr."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from microml_build import toolchains
from microml_build.emit.c_writer import CWriter
from microml_build.emit.features import emit_features
from microml_build.ir.features import WindowStage
from microml_build.plan.features import INPUT_TYPES, plan_features
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, f32_from_hex, run_avr
from support import need_simavr, need_tool

HOST = """\
#include <stdio.h>
#include <string.h>
#include "window_model.h"

/* Reads windows (ints or hex floats), prints the features of x, then "ring ok" when every head of a ring
 * holding the same window gives the same bits, else "ring <first bad head>". */
int main(void)
{{
    static {T} x[M_WINDOW_LENGTH * M_N_CHANNELS], ring[M_WINDOW_LENGTH * M_N_CHANNELS];
    float f[M_N_WINDOW_FEATURES], g[M_N_WINDOW_FEATURES];
    for (;;) {{
        for (int j = 0; j < M_WINDOW_LENGTH * M_N_CHANNELS; j++) {{
{read}
        }}
        m_features(x, f);
        for (int k = 0; k < M_N_WINDOW_FEATURES; k++) {{
            printf("%a ", (double)f[k]);
        }}
        int bad = -1;
        for (unsigned head = 0; head < M_WINDOW_LENGTH + 2 && bad < 0; head++) {{
            for (int t = 0; t < M_WINDOW_LENGTH; t++) {{
                for (int c = 0; c < M_N_CHANNELS; c++) {{
                    ring[((head + t) % M_WINDOW_LENGTH) * M_N_CHANNELS + c] = x[t * M_N_CHANNELS + c];
                }}
            }}
            memset(g, 0xA5, sizeof g);
            m_features_ring(ring, head, g);
            if (memcmp(f, g, sizeof f) != 0) {{
                bad = (int)head;
            }}
        }}
        if (bad < 0) {{
            printf("| ring ok\\n");
        }} else {{
            printf("| ring %d\\n", bad);
        }}
    }}
}}
"""

READ_INT = """\
            int v;
            if (scanf("%d", &v) != 1) {
                return 0;
            }
            x[j] = (int16_t)v;"""

READ_FLOAT = """\
            if (scanf("%a", &x[j]) != 1) {
                return 0;
            }"""


def header(stage: WindowStage) -> str:
    w = CWriter()
    for include in ("math.h", "stddef.h", "stdint.h"):
        w.line(f"#include <{include}>")
    w.line()
    w.line("#ifdef __cplusplus")
    w.line('extern "C" {')
    w.line("#endif")
    emit_features(w, plan_features(stage), "m", INPUT_TYPES[stage.input])
    w.line("#ifdef __cplusplus")
    w.line("}")
    w.line("#endif")
    return w.text()


def rows_text(stage: WindowStage, X: np.ndarray) -> str:
    if stage.input == "int16":
        return "\n".join(" ".join(str(int(v)) for v in row) for row in X)
    return "\n".join(" ".join(float(v).hex() for v in row) for row in np.asarray(X, dtype=np.float32))


def host_features(stage: WindowStage, X: np.ndarray, tmp_path: Path, lang: str = "c", text: str | None = None):
    """(features (rows, width), ring results ('ok' or the first head that differs)) from the host compiler."""
    need_tool("host", lang)
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "window_model.h").write_text(text if text is not None else header(stage))
    T = "int16_t" if stage.input == "int16" else "float"
    (tmp_path / "main.c").write_text(HOST.format(T=T, read=READ_INT if stage.input == "int16" else READ_FLOAT))
    std = "c99" if lang == "c" else "c++11"
    program = toolchains.compile([tmp_path / "main.c"], tmp_path / f"features-{lang}", target="host", lang=lang,
                                 std=std, include_dirs=[tmp_path])
    out = subprocess.run([str(program)], input=rows_text(stage, X) + "\n", capture_output=True, text=True,
                         check=True, timeout=300).stdout
    features, rings = [], []
    for line in out.splitlines():
        values, ring = line.split("|")
        features.append([float.fromhex(v) for v in values.split()])
        rings.append(ring.split()[1])
    assert len(features) == len(X)
    return np.array(features).reshape(len(X), -1), rings


AVR = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"
#include "window_model.h"

static const {T} windows[{n}][M_WINDOW_LENGTH * M_N_CHANNELS] PROGMEM = {{
{rows}
}};

int main(void)
{{
    static {T} x[M_WINDOW_LENGTH * M_N_CHANNELS];
    float f[M_N_WINDOW_FEATURES];
    harness_init();
    for (uint16_t r = 0; r < {n}; r++) {{
        memcpy_P(x, windows[r], sizeof x);
        m_features_ring(x, {head}, f);
        for (uint16_t k = 0; k < M_N_WINDOW_FEATURES; k++) {{
            printf("%08lx\\n", (unsigned long)harness_f32_bits(f[k]));
        }}
    }}
    harness_exit();
}}
"""


def avr_features(stage: WindowStage, X: np.ndarray, tmp_path: Path, head: int = 0) -> np.ndarray:
    """The features computed on a simulated ATmega328P, the window passed as a ring with its oldest sample at
    slot `head` (X's rows rolled accordingly)."""
    need_tool("avr")
    need_simavr()
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "window_model.h").write_text(header(stage))
    L, C = stage.length, stage.channels
    rings = np.empty_like(X)
    for t in range(L):
        slot = (head + t) % L
        rings[:, slot * C:(slot + 1) * C] = X[:, t * C:(t + 1) * C]
    if stage.input == "int16":
        T, literal = "int16_t", lambda v: str(int(v)) if v != -32768 else "INT16_MIN"
    else:
        T, literal = "float", lambda v: float(np.float32(v)).hex() + "f" if np.isfinite(v) else "0.0f"
    rows = ",\n".join("    { " + ", ".join(literal(v) for v in row) + " }" for row in rings)
    (tmp_path / "main.c").write_text(AVR.format(T=T, n=len(X), rows=rows, head=head))
    elf = toolchains.compile([tmp_path / "main.c", *HARNESS_SOURCES], tmp_path / "features.elf", target="avr",
                             include_dirs=[HARNESS_DIR, tmp_path])
    lines = run_avr(elf, timeout=300).split()
    return np.array([f32_from_hex(v) for v in lines]).reshape(len(X), -1)

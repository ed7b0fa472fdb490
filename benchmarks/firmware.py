"""Builds and runs the measuring firmware for one wrapped model on the ATmega328P, Cortex-M4 and host.

Model size = (firmware with the model) - (the same firmware with a stub bench_predict() that
does no arithmetic), so the harness, printf, the test vectors and the start-up code cancel
out; the float routines (soft-float on AVR, libm's expf/exp) the model pulls in are counted
as the model's. Peak stack and cycles come from the C harness in microml_build/c under
simavr; host time from a timing loop.
"""

from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microml_build import toolchains
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, SimulationError, run_avr
from microml_build.emit.c_writer import float_literal
from microml_build.toolchains import ToolchainError

AVR_FLASH = 32 * 1024
AVR_RAM = 2 * 1024
AVR_FREQ = 16_000_000
PEER_FLAGS = ("-Wno-error",)     # peers' warnings are theirs to fix, not a reason to drop them
# Large memory regions so an oversized model still links and its size can be reported.
AVR_UNLIMITED = ("-Wl,--defsym=__TEXT_REGION_LENGTH__=0x400000", "-Wl,--defsym=__DATA_REGION_LENGTH__=0xff00")
_OVERFLOW = re.compile(r"overflowed by|will not fit in region|not within region")

STUB = """\
#ifdef __cplusplus
extern "C"
#endif
int bench_predict(const float *x);

/* No model: reads one byte so the call cannot be dropped, does no float arithmetic. */
int bench_predict(const float *x)
{
    return ((const unsigned char *)x)[0] & 1;
}
"""

AVR_MAIN = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"

#ifdef __cplusplus
extern "C"
#endif
int bench_predict(const float *x);

#define N_ROWS {n_rows}
#define N_FEATURES {n_features}

/* The test vectors stay in flash; each is copied into RAM before its inference. */
static const float rows[N_ROWS][N_FEATURES] PROGMEM = {{
{rows}
}};

int main(void)
{{
    float x[N_FEATURES];
    harness_init();
    for (uint16_t r = 0; r < N_ROWS; r++) {{
        int y, again;
        uint16_t stack;
        uint32_t cycles;
        memcpy_P(x, rows[r], sizeof x);
        harness_stack_paint();
        y = bench_predict(x);
        stack = harness_stack_used();
        harness_cycles_start();
        again = bench_predict(x);
        cycles = harness_cycles_stop();
        printf("%d %d %u %lu\\n", y, again, stack, (unsigned long)cycles);
    }}
    printf("painted %u\\n", (unsigned)(harness_paint_top + 1 - harness_paint_bottom));
    harness_exit();
}}
"""

CORTEX_MAIN = """\
#include <string.h>

#ifdef __cplusplus
extern "C"
#endif
int bench_predict(const float *x);

#define N_ROWS {n_rows}
#define N_FEATURES {n_features}

static const float rows[N_ROWS][N_FEATURES] = {{
{rows}
}};

volatile int sink;

int main(void)
{{
    float x[N_FEATURES];
    for (unsigned r = 0; r < N_ROWS; r++) {{
        memcpy(x, rows[r], sizeof x);
        sink = bench_predict(x);
    }}
    return 0;
}}
"""

HOST_MAIN = """\
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#ifdef __cplusplus
extern "C"
#endif
int bench_predict(const float *x);

#define N_ROWS {n_rows}
#define N_FEATURES {n_features}
#define HOST_RUNS 41                 /* many short runs, keep the fastest: robust on a busy machine */

static const float rows[N_ROWS][N_FEATURES] = {{
{rows}
}};

static double now(void)
{{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}}

/* One pass over the rows, `reps` times; returns seconds. */
static double timed(long reps)
{{
    static volatile int sink;
    double start = now();
    for (long k = 0; k < reps; k++)
        for (int r = 0; r < N_ROWS; r++)
            sink += bench_predict(rows[r]);
    return now() - start;
}}

int main(void)
{{
    long reps = 1;
    double best = 1e30;
    for (int r = 0; r < N_ROWS; r++)
        printf("%d\\n", bench_predict(rows[r]));
    while (timed(reps) < 0.005)      /* calibrate: one run >= 5 ms */
        reps *= 2;
    for (int run = 0; run < HOST_RUNS; run++) {{
        double t = timed(reps);
        if (t < best)
            best = t;
    }}
    printf("ns %.2f\\n", 1e9 * best / ((double)reps * N_ROWS));
    return 0;
}}
"""


class BuildFailed(Exception):
    """The wrapped model does not compile (or link, for reasons other than size)."""


def rows_literal(X: np.ndarray) -> str:
    return ",\n".join("    { " + ", ".join(float_literal(v) for v in row) + " }" for row in np.asarray(X, np.float32))


def first_error(exc: ToolchainError) -> str:
    """The first compiler/linker error line, shortened, for a table note."""
    for line in exc.output.splitlines():
        if "error" in line.lower():
            line = re.sub(r"^\S*/", "", line.strip())
            return line[:200].replace("|", "/")
    return str(exc).splitlines()[0][:200]


@dataclass
class Wrapped:
    """A converter's output on disk: its sources and how to compile them."""

    directory: Path
    lang: str
    strict: bool
    include_dirs: list[Path]
    avr_shim_dir: Path | None
    n_features: int

    def flags(self) -> tuple[str, ...]:
        return () if self.strict else PEER_FLAGS


def write_port(port, directory: Path, n_features: int) -> Wrapped:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in port.files.items():
        (directory / name).write_text(text)
    (directory / "bench_model.c").write_text(port.wrapper)
    shim_dir = None
    if port.avr_shims:
        shim_dir = directory / "avr_shims"
        shim_dir.mkdir(exist_ok=True)
        for name, text in port.avr_shims.items():
            (shim_dir / name).write_text(text)
    return Wrapped(directory, port.lang, port.strict, [directory, *port.include_dirs], shim_dir, n_features)


class Stubs:
    """Stub firmwares, built once per (target, language, rows, features)."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.Lock()
        self.cache: dict[tuple, dict[str, int]] = {}

    def sizes(self, target: str, lang: str, X: np.ndarray) -> dict[str, int]:
        key = (target, lang, X.shape)
        with self.lock:
            if key not in self.cache:
                directory = self.root / f"stub-{target}-{lang}-{X.shape[0]}x{X.shape[1]}"
                directory.mkdir(parents=True, exist_ok=True)
                (directory / "bench_model.c").write_text(STUB)
                stub = Wrapped(directory, lang, True, [directory], None, X.shape[1])
                elf = build(stub, target, X, directory / f"{target}.elf")
                self.cache[key] = toolchains.section_sizes(elf, "avr" if target == "avr" else target)
            return dict(self.cache[key])


def build(w: Wrapped, target: str, X: np.ndarray, elf: Path, extra: tuple[str, ...] = ()) -> Path:
    """Compile and link the measuring firmware for `target` around the wrapped model.

    The model's translation unit is compiled once per target and reused by every firmware
    (size, test-vector chunks): big unrolled peers take a while to compile.
    """
    template = {"avr": AVR_MAIN, "cortex-m4": CORTEX_MAIN, "host": HOST_MAIN}[target]
    includes = list(w.include_dirs)
    if target == "avr":
        includes.append(HARNESS_DIR)
        if w.avr_shim_dir:
            includes.append(w.avr_shim_dir)
    obj = w.directory / f"bench_model.{target}.o"
    if not obj.exists():
        toolchains.compile([w.directory / "bench_model.c"], obj, target=target, lang=w.lang, include_dirs=includes,
                           extra_flags=w.flags(), link=False)
    main = elf.with_suffix(".main.c")
    main.write_text(template.format(n_rows=len(X), n_features=w.n_features, rows=rows_literal(X)))
    sources = [main, obj, *(HARNESS_SOURCES if target == "avr" else ())]
    return toolchains.compile(sources, elf, target=target, lang=w.lang, include_dirs=includes,
                              extra_flags=(*w.flags(), *extra))


@dataclass
class Measure:
    """One target's figures for one (case, converter), or why there are none."""

    status: str = "ok"             # "ok" or what the cell shows instead of numbers
    values: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _delta(model: dict[str, int], stub: dict[str, int]) -> dict[str, int]:
    return {k: model[k] - stub[k] for k in ("text", "data", "bss", "flash", "ram")}


def measure_avr(w: Wrapped, X: np.ndarray, expected: np.ndarray, stubs: Stubs, log) -> Measure:
    """Flash/RAM by difference, then every test row through simavr: class, peak stack, cycles."""
    m = Measure()
    one = X[:1]
    stub = stubs.sizes("avr", w.lang, one)
    elf = w.directory / "avr-size.elf"
    try:
        build(w, "avr", one, elf)
    except ToolchainError as exc:
        if not _OVERFLOW.search(exc.output):
            m.status = "does not compile"
            m.notes.append(f"avr: {first_error(exc)}")
            return m
        try:
            big = build(w, "avr", one, w.directory / "avr-unlimited.elf", AVR_UNLIMITED)
        except ToolchainError as exc2:
            m.status = "does not fit"
            m.notes.append(f"avr: {first_error(exc2)}")
            return m
        sizes = toolchains.section_sizes(big, "avr")
        d = _delta(sizes, stub)
        m.values.update(flash=d["flash"], ram=d["ram"], data=d["data"], bss=d["bss"])
        over = []
        if sizes["flash"] > AVR_FLASH:
            over.append(f"firmware flash {sizes['flash']:,} B > 32 KB")
        if sizes["ram"] > AVR_RAM:
            over.append(f"firmware static RAM {sizes['ram']:,} B > 2 KB")
        m.status = "does not fit"
        m.notes.append("ATmega328P link fails (" + "; ".join(over or ["region overflow"]) +
                       f"); model alone needs {d['flash']:,} B flash, {d['ram']:,} B RAM (linked with enlarged regions)")
        return m
    sizes = toolchains.section_sizes(elf, "avr")
    d = _delta(sizes, stub)
    m.values.update(flash=d["flash"], ram=d["ram"], data=d["data"], bss=d["bss"])

    # As many test vectors per firmware as fit next to the model; several firmwares if needed.
    row_bytes = 4 * w.n_features
    per_chunk = max(1, min(len(X), (AVR_FLASH - sizes["flash"] - 64) // row_bytes + 1))
    predictions, stacks, cycles, painted = [], [], [], []
    start, index = 0, 0
    while start < len(X):
        chunk = X[start:start + per_chunk]
        elf = w.directory / f"avr-rows{index}.elf"
        try:
            build(w, "avr", chunk, elf)
        except ToolchainError as exc:
            if _OVERFLOW.search(exc.output) and per_chunk > 1:
                per_chunk = max(1, per_chunk * 9 // 10)
                continue
            m.status = "does not fit" if _OVERFLOW.search(exc.output) else "does not compile"
            m.notes.append(f"avr (with test vectors): {first_error(exc)}")
            return m
        log(f"simavr {elf.parent.name}/{elf.name}: rows {start}..{start + len(chunk) - 1}")
        try:
            text = run_avr(elf, freq=AVR_FREQ, timeout=600)
        except SimulationError as exc:
            m.status = "crashed"
            m.notes.append(f"avr: simavr: {str(exc).splitlines()[0]}")
            return m
        lines = text.split("\n")
        rows = [line.split() for line in lines if line and not line.startswith("painted")]
        if len(rows) != len(chunk):
            m.status = "crashed"
            m.notes.append(f"avr: firmware printed {len(rows)} of {len(chunk)} rows")
            return m
        for y, again, stack, cyc in rows:
            if y != again:
                m.notes.append("avr: two calls on the same row gave different classes")
            predictions.append(int(y))
            stacks.append(int(stack))
            cycles.append(int(cyc))
        painted += [int(line.split()[1]) for line in lines if line.startswith("painted")]
        start += len(chunk)
        index += 1

    predictions = np.array(predictions)
    agree = int(np.sum(predictions == np.asarray(expected)))
    stack = max(stacks)
    m.values.update(stack=stack, cycles=float(np.mean(cycles)), cycles_max=max(cycles), cycles_min=min(cycles),
                    agree=agree, rows=len(X), chunks=index, firmware_ram=sizes["ram"])
    if index > 1:
        m.notes.append(f"avr: the test vectors do not fit next to the model; they ran in {index} firmwares "
                       f"of up to {per_chunk} rows")
    if stack >= min(painted):
        m.status = "does not fit"
        m.notes.append(f"avr: the stack ran through all {min(painted)} free bytes of RAM")
    elif sizes["ram"] + stack > AVR_RAM:
        m.status = "does not fit"
        m.notes.append(f"avr: static RAM + stack = {sizes['ram'] + stack} B > 2 KB")
    return m


def measure_cortex(w: Wrapped, X: np.ndarray, stubs: Stubs) -> Measure:
    m = Measure()
    one = X[:1]
    stub = stubs.sizes("cortex-m4", w.lang, one)
    elf = w.directory / "m4-size.elf"
    try:
        build(w, "cortex-m4", one, elf)
    except ToolchainError as exc:
        m.status = "does not compile"
        m.notes.append(f"cortex-m4: {first_error(exc)}")
        return m
    d = _delta(toolchains.section_sizes(elf, "cortex-m4"), stub)
    m.values.update(flash=d["flash"], ram=d["ram"])
    return m


def build_host(w: Wrapped, X: np.ndarray) -> tuple[Path | None, Measure]:
    m = Measure()
    exe = w.directory / "host-bench"
    try:
        build(w, "host", X, exe)
    except ToolchainError as exc:
        m.status = "does not compile"
        m.notes.append(f"host: {first_error(exc)}")
        return None, m
    return exe, m


def run_host(exe: Path, m: Measure, expected: np.ndarray) -> None:
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        m.status = "crashed"
        m.notes.append(f"host: exit {result.returncode}")
        return
    lines = result.stdout.split("\n")
    predictions = np.array([int(v) for v in lines[:len(expected)]])
    ns = float(next(line for line in lines if line.startswith("ns ")).split()[1])
    m.values.update(ns=ns, agree=int(np.sum(predictions == np.asarray(expected))), rows=len(expected))

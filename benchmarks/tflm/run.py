"""TensorFlow Lite Micro's hello_world, cloned with MicroML: flash, RAM, stack, cycles and error, side by side.

    python benchmarks/tflm/run.py            # ~1-2 minutes; prints the table, writes results.md and the plot

Each clone in examples/tflm-hello-world/ (one microml.yaml each) is built through the normal
`microml build <yaml>` path, then compiled into firmware for three targets with the same minimal
start-up (our own vector table, reset handler and link script, no CMSIS; -Os, section GC,
newlib-nano on Arm, avr-libc on AVR):

  Cortex-M3   -mcpu=cortex-m3 -mthumb                                    (soft float)
  Cortex-M4F  -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
  ATmega328P  avr-gcc -mmcu=atmega328p -Os

and measured by three firmwares per clone and target:

  size   one inference, input and output volatile, no I/O:      flash (text) and RAM (data+bss),
         read with the target's `size`; the figures in the table.
  empty  the same start-up and link script, main() returns:     the baseline.
  probe  peak stack of one inference (painted: RAM below the stack pointer filled with a pattern
         before the call, scanned after it; the deepest of three inputs), then the model's output
         at the 2,001 grid points x_i = i * float(2π/2000), each printed as raw float bits (and, on
         AVR, the Timer1 cycles of that call). Runs under simavr (ATmega328P, 16 MHz) and
         qemu-system-arm (mps2-an385 for the Cortex-M3, mps2-an386 for the Cortex-M4F, semihosting).

The error against sin(x) is computed from the probe firmware's own outputs (sin in float64 on the
host, at the x the firmware printed). Without qemu-system-arm, the Arm error falls back to the
same header compiled for the host (gcc -ffp-contract=off), and the table says so. Every
firmware's outputs are also compared with that host build ("vs host C").

TensorFlow Lite Micro: with TFLM_DIR pointing at a TFLM checkout prepared for offline builds (see
build_tflm()), its hello_world int8 model is built with TFLM's own Makefile and measured the same
way, by the same size and probe firmware; the reference figures measured separately on this
project's machines are printed too, labelled as such (alone without TFLM_DIR).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, f32_from_hex, run_avr  # noqa: E402
from microml_build.toolchains import ToolchainError, compile, section_sizes  # noqa: E402

EXAMPLE = ROOT / "examples" / "tflm-hello-world"
FIRMWARE = HERE / "firmware"
CLONES = ("mlp", "svr", "tree", "dtree")           # <clone>.yaml in EXAMPLE, name sine_<clone>
# Built and measured like the clones, but not offered as one: why a single tree is not enough.
CONTRASTS = {"dtree": "contrast: a single tree, not one of the clones"}
GRID_POINTS = 2001
QEMU_MACHINES = {"cortex-m3": "mps2-an385", "cortex-m4": "mps2-an386"}
TARGET_LABEL = {"cortex-m3": "Cortex-M3", "cortex-m4": "Cortex-M4F", "avr": "ATmega328P"}
TARGETS = ("cortex-m4", "cortex-m3", "avr")
SECTION_GC = ("-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections")
ARM_LINK = ("-nostartfiles", f"-T{FIRMWARE / 'cortex_m.ld'}")
ATMEGA328P = {"flash": 32 * 1024, "ram": 2 * 1024}

# TFLM hello_world, measured separately on this project's machines: TFLM at commit 90b983c2b,
# Debian arm-none-eabi-gcc 12.2, release build, -Os, reference kernels, minimal
# single-inference firmware (runtime + FULLY_CONNECTED + the 2,704-byte int8 model).
TFLM_REFERENCE = [
    dict(name="TFLM hello_world int8", target="cortex-m4", text=21732, ram=3028, stack=852,
         rmse=0.032, max_err=0.129, note="3,000 B arena, 684 B used"),
    dict(name="TFLM hello_world int8", target="cortex-m3", text=22740, ram=3028, stack=844,
         rmse=0.032, max_err=0.129, note=""),
    dict(name="TFLM as shipped (default build, logging)", target="cortex-m4", text=42852, ram=3148,
         stack=None, rmse=None, max_err=None, note=""),
    dict(name="TFLM empty firmware", target="cortex-m4", text=752, ram=8, stack=None, rmse=None,
         max_err=None, note="same start-up and link script"),
]
TFLM_AVR = "does not fit: runtime ~10 KB of C++ plus a 3 KB arena, 2 KB of RAM"


@dataclass
class Row:
    clone: str                 # "mlp", ..., "empty", or a TFLM label
    target: str
    text: int | None = None
    data: int | None = None
    bss: int | None = None
    stack: int | None = None
    cycles_mean: float | None = None
    cycles_max: int | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    error_source: str = ""     # "qemu", "simavr", "host gcc"
    vs_host: str = ""          # agreement with the header compiled for the host
    summary: str = ""          # the estimator, from the header

    @property
    def ram(self) -> int | None:
        return None if self.data is None else self.data + self.bss

    @property
    def errors(self) -> np.ndarray | None:
        return None if self.y is None else self.y.astype(np.float64) - np.sin(self.x.astype(np.float64))

    @property
    def rmse(self) -> float | None:
        e = self.errors
        return None if e is None else float(np.sqrt(np.mean(e ** 2)))

    @property
    def max_err(self) -> float | None:
        e = self.errors
        return None if e is None else float(np.max(np.abs(e)))


def log(text: str) -> None:
    print(f"[tflm] {text}", file=sys.stderr, flush=True)


# --- building ------------------------------------------------------------------------------------

def build_headers(clones: tuple[str, ...]) -> dict[str, str]:
    """`microml build <clone>.yaml` for each clone; returns clone -> the header's one-line summary."""
    summaries = {}
    for clone in clones:
        yaml = EXAMPLE / f"{clone}.yaml"
        log(f"microml build {yaml.relative_to(ROOT)}")
        done = subprocess.run([sys.executable, "-m", "microml_build", "build", str(yaml), "-q"],
                              cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"microml build {yaml} failed:\n{done.stdout}{done.stderr}")
        first = (EXAMPLE / "include" / f"sine_{clone}.h").read_text().splitlines()[1]
        summaries[clone] = first.split(": ", 1)[1].strip()
    return summaries


def model_flags(clone: str) -> list[str]:
    return [f'-DMODEL_HEADER="sine_{clone}.h"', f"-DMODEL_PREDICT=sine_{clone}_predict_value"]


def build_firmware(kind: str, clone: str | None, target: str, out: Path) -> Path:
    """kind: size | empty | probe. The ELF path."""
    main = FIRMWARE / f"main_{kind}.c"
    sources, flags, includes = [main], list(SECTION_GC), [EXAMPLE / "include", FIRMWARE]
    if clone:
        flags += model_flags(clone)
    if target == "avr":
        if kind == "probe":
            sources += HARNESS_SOURCES
            includes.append(HARNESS_DIR)
    else:
        sources.insert(0, FIRMWARE / "startup.c")
        flags += ARM_LINK
        if kind == "probe":
            flags.append("-DFAULT_EXITS_QEMU")
    return compile(sources, out, target=target, extra_flags=flags, include_dirs=includes)


HOST_GRID = r"""
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include MODEL_HEADER
/* The probe firmware's grid, on the host: x bits, y bits per line. */
int main(void)
{
    for (int i = 0; i < 2001; i++) {
        float x = (float)i * 0.0031415927f, y = MODEL_PREDICT(&x);
        uint32_t xb, yb;
        memcpy(&xb, &x, 4);
        memcpy(&yb, &y, 4);
        printf("%08lx %08lx\n", (unsigned long)xb, (unsigned long)yb);
    }
    return 0;
}
"""


def host_grid(clone: str, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """The same header compiled for the host (gcc -O2 -ffp-contract=off), run on the same grid."""
    source = work / "host_grid.c"
    source.write_text(HOST_GRID)
    exe = compile([source], work / f"host_{clone}", target="host", extra_flags=model_flags(clone),
                  include_dirs=[EXAMPLE / "include"])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return parse_grid(out, firmware=False)[:2]


# --- running -------------------------------------------------------------------------------------

_GRID_LINE = re.compile(r"^([0-9a-f]{8}) ([0-9a-f]{8})(?: (\d+))?$")


def parse_grid(text: str, firmware: bool = True):
    """(x, y, cycles, stack) from a probe firmware's output (or the host build's, firmware=False)."""
    xs, ys, cycles, stack = [], [], [], None
    lines = [line.strip() for line in text.splitlines()]
    if firmware and "end" not in lines:
        raise RuntimeError("the probe firmware's output ended early:\n" + text[-2000:])
    for line in lines:
        if line.startswith("stack "):
            stack = int(line.split()[1])
            continue
        m = _GRID_LINE.match(line)
        if m:
            xs.append(f32_from_hex(m.group(1)))
            ys.append(f32_from_hex(m.group(2)))
            if m.group(3):
                cycles.append(int(m.group(3)))
    if len(xs) != GRID_POINTS:
        raise RuntimeError(f"expected {GRID_POINTS} grid lines, got {len(xs)}:\n" + text[-2000:])
    return np.array(xs, dtype=np.float32), np.array(ys, dtype=np.float32), np.array(cycles), stack


def run_qemu(elf: Path, target: str, timeout: float = 300) -> str:
    """Run Cortex-M firmware on an MPS2 board under qemu-system-arm; its semihosting console text."""
    command = ["qemu-system-arm", "-machine", QEMU_MACHINES[target], "-nographic", "-monitor", "none",
               "-serial", "none", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"firmware did not exit within {timeout:g} s under qemu", command) from None
    if done.returncode != 0:
        raise ToolchainError(f"qemu-system-arm exited with {done.returncode} (3: the firmware faulted)",
                             command, done.stdout + done.stderr)
    return done.stdout + done.stderr   # semihosting output lands on stderr


def probe(clone: str, target: str, elf: Path, use_qemu: bool) -> dict:
    if target == "avr":
        x, y, cycles, stack = parse_grid(run_avr(elf, timeout=600))
        return dict(x=x, y=y, stack=stack, cycles=cycles, source="simavr")
    if use_qemu:
        x, y, _, stack = parse_grid(run_qemu(elf, target))
        return dict(x=x, y=y, stack=stack, cycles=None, source="qemu")
    return dict(x=None, y=None, stack=None, cycles=None, source="host gcc")


def compare_with_host(y_fw: np.ndarray, y_host: np.ndarray) -> str:
    """Bit-exact, or the largest difference: expf differs by a few ulps between avr-libc, newlib and glibc."""
    differ = y_fw.view(np.uint32) != y_host.view(np.uint32)
    if not differ.any():
        return "bit-exact"
    diff = np.abs(y_fw.astype(np.float64) - y_host.astype(np.float64))
    return f"max abs diff {diff.max():.1e} ({int(differ.sum())} of {len(y_fw)} differ)"


# --- TFLM ------------------------------------------------------------------------------------------

TFLM_ARCH = {"cortex-m4": "cortex-m4+fp", "cortex-m3": "cortex-m3"}    # our target -> TFLM's TARGET_ARCH
TFLM_MODEL = "tensorflow/lite/micro/examples/hello_world/models/hello_world_int8.tflite"
TFLM_LABEL = "TFLM hello_world int8 (built from TFLM_DIR)"
# What TFLM's release build compiles its own C++ with (less its warnings), for tflm_hello_world.cc.
TFLM_CXXFLAGS = ("-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-fno-unwind-tables",
                 "-fno-asynchronous-unwind-tables", "-funsigned-char", "-DTF_LITE_STATIC_MEMORY", "-DNDEBUG",
                 "-DTF_LITE_STRIP_ERROR_STRINGS")
TFLM_MODEL_FLAGS = ('-DMODEL_HEADER="tflm_hello_world.h"', "-DMODEL_SETUP=tflm_hello_world_setup",
                    "-DMODEL_PREDICT=tflm_hello_world_predict_value")


def build_tflm(tflm_dir: Path, work: Path, use_qemu: bool) -> tuple[list[Row], dict[str, int]]:
    """TFLM's own Makefile builds the release library (cortex_m_generic, -Os, reference kernels) for
    each Cortex-M; hello_world's int8 model then goes behind a MicroML-like header (firmware/
    tflm_hello_world.*) into the clones' own size and probe firmware, with our start-up and link script.
    So flash, RAM, stack and error are measured exactly as for the clones, from TFLM's own outputs under
    qemu. Returns the rows and, per target, the peak stack of the set-up (AllocateTensors).

    The Makefile fetches third-party code on first use (wget, curl, git clone). Offline, put the exact
    versions its download scripts name where it looks, patched as they patch them; it then skips them
    (`<dir> already exists, skipping the download`). With clones of the repositories (here: the bare
    mirrors in /work/.mirror/<owner>+<name>/repo):

        git clone <tensorflow/tflite-micro> /work/tflm && git -C /work/tflm checkout 90b983c2b
        cd /work/tflm && D=tensorflow/lite/micro/tools/make/downloads && mkdir -p $D
        get() { mkdir -p $D/$1 && git --git-dir=$2 archive $3 | tar -x -C $D/$1; }   # GitHub's zip
        get gemmlowp         <google/gemmlowp>        719139ce755a0f31cbf1c37f7f98adcc7fc9f425
        get ruy              <google/ruy>             d37128311b445e758136b8602d1bbd2a755e115d
        get flatbuffers      <google/flatbuffers>     v25.9.23
        get kissfft          <mborgerding/kissfft>    v130
        get cmsis            <ARM-software/CMSIS_6>   5782d6f8057906d360f4b95ec08a2354afe5c9b9
        get cmsis/Cortex_DFP <ARM-software/Cortex_DFP> c2c70a97a20fb355815e2ead3d4a40e35a4a3cdf
        get pigweed          <google/pigweed>         47268dff45019863e20438ca3746c6c62df6ef09
        find $D \( -name BUILD -o -name BUILD.bazel \) -delete
        (cd $D/flatbuffers && patch -p1 < ../../flatbuffers.patch)
        (cd $D/kissfft && patch -p1 < ../../../../../../../third_party/kissfft/kissfft.patch)
        (cd $D/pigweed && patch -p1 < ../../pigweed.patch)

    (<owner/name>: the git dir of a clone, e.g. /work/.mirror/google+ruy/repo.) The first run builds
    each library, about 10 minutes per target on two cores; later runs reuse them.
    """
    compiler = shutil.which("arm-none-eabi-gcc")
    model_cc = work / "hello_world_int8_model.cc"
    model_cc.write_text('extern "C" alignas(16) const unsigned char g_hello_world_model[] = {'
                        + ",".join(str(b) for b in (tflm_dir / TFLM_MODEL).read_bytes()) + "};\n")
    downloads = tflm_dir / "tensorflow/lite/micro/tools/make/downloads"
    tflm_includes = [f"-isystem{d}" for d in (tflm_dir, downloads / "flatbuffers/include", downloads / "gemmlowp")]
    rows, setup_stack = [], {}
    for target, arch in TFLM_ARCH.items():
        make = ["make", "-f", "tensorflow/lite/micro/tools/make/Makefile", "TARGET=cortex_m_generic",
                f"TARGET_ARCH={arch}", "OPTIMIZED_KERNEL_DIR=", "BUILD_TYPE=release",
                f"TARGET_TOOLCHAIN_ROOT={Path(compiler).parent}/", "microlite", f"-j{os.cpu_count()}"]
        log(f"TFLM: {' '.join(make)} (in {tflm_dir}; ~10 minutes per target the first time)")
        done = subprocess.run(make, cwd=tflm_dir, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError("TFLM make failed (third-party code missing? see build_tflm()):\n"
                               + (done.stdout + done.stderr)[-3000:])
        libs = sorted(tflm_dir.glob(f"gen/cortex_m_generic_{arch}_release*/lib/libtensorflow-microlite.a"))
        if not libs:
            raise RuntimeError("TFLM make succeeded but libtensorflow-microlite.a was not found under gen/")
        elves = {}
        for kind in ("size", "probe"):
            # The start-up and main are C, as for the clones; g++ compiles the adapter and the model, and links.
            defines = [*TFLM_MODEL_FLAGS, "-DFAULT_EXITS_QEMU"] if kind == "probe" else list(TFLM_MODEL_FLAGS)
            objects = [compile([FIRMWARE / name], work / f"tflm_{kind}_{Path(name).stem}_{target}.o", target=target,
                               extra_flags=[*SECTION_GC, *defines], include_dirs=[FIRMWARE], link=False)
                       for name in ("startup.c", f"main_{kind}.c")]
            elves[kind] = compile([*objects, FIRMWARE / "tflm_hello_world.cc", model_cc, libs[-1]],
                                  work / f"tflm_{kind}_{target}.elf", target=target, lang="c++", std="c++17",
                                  extra_flags=[*TFLM_CXXFLAGS, *SECTION_GC, *ARM_LINK, *tflm_includes],
                                  include_dirs=[FIRMWARE])
        sizes = section_sizes(elves["size"], target)
        row = Row(TFLM_LABEL, target, sizes["text"], sizes["data"], sizes["bss"])
        if use_qemu:
            output = run_qemu(elves["probe"], target)
            row.x, row.y, _, row.stack = parse_grid(output)
            row.error_source = "qemu"
            setup_stack[target] = int(re.search(r"^setup stack (\d+)$", output, re.M).group(1))
        rows.append(row)
    return rows, setup_stack


def tflm_note(tflm_dir: Path, setup_stack: dict[str, int]) -> str:
    """How the TFLM rows built from TFLM_DIR were made, for the table's notes."""
    done = subprocess.run(["git", "-C", str(tflm_dir), "rev-parse", "--short=9", "HEAD"],
                          capture_output=True, text=True)
    commit = done.stdout.strip() if done.returncode == 0 else "unknown"
    measured = ("the set-up before it (AllocateTensors, once) peaks at "
                + " and ".join(f"{n} B ({TARGET_LABEL[t]})" for t, n in setup_stack.items())
                + ", painted apart. Error from its own int8 outputs under qemu."
                if setup_stack else "not measured, nor the error: no qemu-system-arm.")
    return (f"{TFLM_LABEL}: TFLM at {commit}, built in this run by its own Makefile (release microlite library, "
            "TARGET=cortex_m_generic, -Os, reference kernels: OPTIMIZED_KERNEL_DIR empty) with this machine's "
            "arm-none-eabi-gcc; hello_world_int8.tflite behind firmware/tflm_hello_world.h, in the clones' own "
            "size and probe firmware (same start-up, link script and flags). RAM includes the 3,000 B arena and "
            "the interpreter and op resolver objects (static storage). stack: one inference (quantize as TFLite's "
            f"QUANTIZE, Invoke, dequantize), as for the clones; {measured}")


# --- output ----------------------------------------------------------------------------------------

def fmt(value, spec: str = ",") -> str:
    if value is None:
        return "–"
    return format(value, spec)


def markdown(rows: list[Row], tflm_rows: list[dict], summaries: dict[str, str], notes: list[str]) -> str:
    head = ("| firmware | target | flash (text) | RAM (data+bss) | stack | AVR cycles (mean / max) | "
            "rmse vs sin(x) | max error | error from | vs host C |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        name = "empty firmware" if r.clone == "empty" else f"MicroML `{r.clone}.yaml`"
        cycles = (f"{r.cycles_mean:,.0f} / {r.cycles_max:,}" if r.cycles_mean is not None else "–")
        lines.append(f"| {name} | {TARGET_LABEL[r.target]} | {fmt(r.text)} B | {fmt(r.ram)} B | "
                     + (f"{r.stack} B" if r.stack is not None else "–") + f" | {cycles} | "
                     + (f"{r.rmse:.4f}" if r.rmse is not None else "–") + " | "
                     + (f"{r.max_err:.4f}" if r.max_err is not None else "–")
                     + f" | {r.error_source or '–'} | {r.vs_host or '–'} |")
    for t in tflm_rows:
        label = t["name"] + (" — reference (measured separately)" if t.get("reference") else "")
        digits = 3 if t.get("reference") else 4          # the reference was recorded to 3 decimals
        lines.append(f"| {label} | {TARGET_LABEL[t['target']]} | {fmt(t['text'])} B | {fmt(t['ram'])} B | "
                     + (f"{t['stack']} B" if t.get("stack") else "–") + " | – | "
                     + (f"{t['rmse']:.{digits}f}" if t.get("rmse") else "–") + " | "
                     + (f"{t['max_err']:.{digits}f}" if t.get("max_err") else "–")
                     + f" | {t.get('error_from') or '–'} | – |")
    lines.append(f"| TFLM hello_world | ATmega328P | {TFLM_AVR} | | | | | | | |")
    text = "\n".join(lines) + "\n"
    text += "\nClones (each `examples/tflm-hello-world/<clone>.yaml`, built with `microml build`):\n\n"
    text += "".join(f"- `{c}`: {s}\n" for c, s in summaries.items())
    if notes:
        text += "\n" + "".join(f"- {n}\n" for n in notes)
    return text


def goals(rows: list[Row], tflm_m4: dict) -> str:
    """The issue's bar, per clone: on Cortex-M4F at most 1/5 of TFLM's flash and 1/10 of its RAM+stack at
    equal or better error (rmse and max error), and it runs on the ATmega328P."""
    flash_cap = tflm_m4["text"] / 5
    mem_cap = (tflm_m4["ram"] + tflm_m4["stack"]) / 10
    lines = [f"| clone | M4F flash <= {flash_cap:,.0f} B (1/5 TFLM) | M4F RAM+stack <= {mem_cap:,.0f} B (1/10 TFLM) "
             f"| M4F rmse <= {tflm_m4['rmse']:.3g}, max error <= {tflm_m4['max_err']:.3g} | runs on ATmega328P | all |",
             "|---|---|---|---|---|---|"]
    for clone in dict.fromkeys(r.clone for r in rows if r.clone != "empty"):
        m4 = next(r for r in rows if r.clone == clone and r.target == "cortex-m4")
        avr = next((r for r in rows if r.clone == clone and r.target == "avr"), None)
        ok_flash = m4.text <= flash_cap
        ok_mem = m4.stack is not None and m4.ram + m4.stack <= mem_cap
        ok_err = m4.rmse is not None and m4.rmse <= tflm_m4["rmse"] and m4.max_err <= tflm_m4["max_err"]
        ok_avr = (avr is not None and avr.y is not None and avr.text + avr.data <= ATMEGA328P["flash"]
                  and avr.ram + (avr.stack or 0) <= ATMEGA328P["ram"])
        mem = f"{m4.ram + m4.stack:,} B" if m4.stack is not None else "–"
        err = f"{m4.rmse:.4f}, {m4.max_err:.4f}" if m4.rmse is not None else "–"
        mark = lambda ok: "yes" if ok else "**no**"  # noqa: E731
        label = f"`{clone}` ({CONTRASTS[clone]})" if clone in CONTRASTS else f"`{clone}`"
        lines.append(f"| {label} | {m4.text:,} B: {mark(ok_flash)} | {mem}: {mark(ok_mem)} | {err}: {mark(ok_err)} "
                     f"| {mark(ok_avr)} | {mark(ok_flash and ok_mem and ok_err and ok_avr)} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], tflm_m4: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [1.2, 1.2, 1]})
    clones = list(dict.fromkeys(r.clone for r in rows if r.clone != "empty"))
    colours = dict(zip(clones, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    smooth = [c for c in clones if c in ("mlp", "svr")]
    groups = [(axes[0], smooth, "MLP and SVR"), (axes[1], [c for c in clones if c not in smooth], "trees")]
    for ax, group, title in groups:
        for clone in group:
            for target, style in (("cortex-m4", "-"), ("avr", ":")):
                r = next((r for r in rows if r.clone == clone and r.target == target and r.y is not None), None)
                if r is None:
                    continue
                ax.plot(r.x, r.errors, style, color=colours[clone], lw=1.2 if style == "-" else 2,
                        label=f"{clone}, {TARGET_LABEL[target]}: rmse {r.rmse:.4f}, max {r.max_err:.3f}")
        if tflm_m4.get("errors") is not None:
            ax.plot(tflm_m4["x"], tflm_m4["errors"], color="grey", lw=0.6, alpha=0.7,
                    label=f"TFLM int8, Cortex-M4F: rmse {tflm_m4['rmse']:.4f}, max {tflm_m4['max_err']:.3f}")
        ax.axhline(0, color="black", lw=0.6)
        for bound in (tflm_m4["max_err"], -tflm_m4["max_err"]):
            ax.axhline(bound, color="grey", ls="--", lw=0.8)
        ax.text(0.05, tflm_m4["max_err"], f"TFLM int8: rmse {tflm_m4['rmse']:.3g}, max error {tflm_m4['max_err']:.3g}",
                va="bottom", fontsize=8, color="grey")
        ax.set_xlim(0, 2 * math.pi)
        ax.set_ylim(-0.17, 0.17)
        ax.set_xlabel("x")
        ax.set_ylabel("firmware output − sin(x)")
        ax.set_title(f"Firmware error on the 2,001-point grid: {title}", fontsize=10)
        ax.legend(fontsize=7.5, loc="lower right")

    ax_bar = axes[2]
    names = [f"MicroML\n{c}" for c in clones] + ["TFLM\nint8"]
    m4 = {r.clone: r for r in rows if r.target == "cortex-m4"}
    flash = [m4[c].text for c in clones] + [tflm_m4["text"]]
    mem = [m4[c].ram + (m4[c].stack or 0) for c in clones] + [tflm_m4["ram"] + tflm_m4["stack"]]
    pos = np.arange(len(names))
    bars1 = ax_bar.bar(pos - 0.2, [f / 1024 for f in flash], 0.4, label="flash (text)")
    bars2 = ax_bar.bar(pos + 0.2, [m / 1024 for m in mem], 0.4, label="RAM + stack")
    for bars, values in ((bars1, flash), (bars2, mem)):
        for bar, value in zip(bars, values):
            ax_bar.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{value:,}",
                        ha="center", va="bottom", fontsize=6.5)
    ax_bar.axhline(tflm_m4["text"] / 5 / 1024, color="C0", ls="--", lw=0.8)
    ax_bar.axhline((tflm_m4["ram"] + tflm_m4["stack"]) / 10 / 1024, color="C1", ls="--", lw=0.8)
    ax_bar.set_xticks(pos, names, fontsize=8)
    ax_bar.set_ylabel("KB (labels: bytes)")
    ax_bar.set_title("Cortex-M4F firmware; dashed: 1/5 and 1/10 of TFLM", fontsize=10)
    ax_bar.legend(fontsize=8)
    fig.text(0.005, 0.005, "Solid: Cortex-M4F under qemu; dotted: ATmega328P under simavr. TFLM: "
             + ("reference figures measured separately." if tflm_m4.get("reference") else
                "built from TFLM_DIR and measured in the same run, the same way."), fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", nargs="+", default=list(CLONES), choices=CLONES)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary one)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write results.md and the plot")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    missing = [tool for tool in ("avr-gcc", "simavr", "arm-none-eabi-gcc", "gcc") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)}; install the Debian packages gcc-avr avr-libc "
                         "simavr gcc-arm-none-eabi libnewlib-arm-none-eabi (see README.md)")
    use_qemu = shutil.which("qemu-system-arm") is not None
    notes = []
    if not use_qemu:
        notes.append("**qemu-system-arm not found: the Arm error columns are the same header compiled for the host "
                     "with gcc -ffp-contract=off, not the Arm firmware's output, and the Arm stack is not measured.** "
                     "Install the Debian package qemu-system-arm to measure them on the (simulated) chip.")
        log(notes[-1])

    clones = tuple(args.clones)
    summaries = build_headers(clones)
    work_ctx = tempfile.TemporaryDirectory(prefix="tflm-bench-") if args.keep is None else None
    work = Path(work_ctx.name) if work_ctx else args.keep.resolve()
    work.mkdir(parents=True, exist_ok=True)

    rows: list[Row] = []
    jobs = []
    for target in TARGETS:
        log(f"building for {TARGET_LABEL[target]}")
        empty = section_sizes(build_firmware("empty", None, target, work / f"empty_{target}.elf"), target)
        rows.append(Row("empty", target, empty["text"], empty["data"], empty["bss"]))
        for clone in clones:
            sizes = section_sizes(build_firmware("size", clone, target, work / f"size_{clone}_{target}.elf"), target)
            row = Row(clone, target, sizes["text"], sizes["data"], sizes["bss"], summary=summaries[clone])
            rows.append(row)
            elf = build_firmware("probe", clone, target, work / f"probe_{clone}_{target}.elf")
            jobs.append((row, elf))

    hosts = {clone: host_grid(clone, work) for clone in clones}
    log(f"running {len(jobs)} probe firmwares under " + ("simavr and qemu" if use_qemu else "simavr"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: probe(job[0].clone, job[0].target, job[1], use_qemu), jobs))
    for (row, _), result in zip(jobs, results):
        x_host, y_host = hosts[row.clone]
        row.stack = result["stack"]
        row.error_source = result["source"]
        if result["y"] is None:               # no qemu: the host build stands in for the Arm output
            row.x, row.y = x_host, y_host
            row.vs_host = "(is the host build)"
        else:
            row.x, row.y = result["x"], result["y"]
            row.vs_host = compare_with_host(row.y, y_host)
            if not np.array_equal(row.x.view(np.uint32), x_host.view(np.uint32)):
                row.vs_host += "; its grid x differs from the host's"
        if result["cycles"] is not None:
            row.cycles_mean = float(np.mean(result["cycles"]))
            row.cycles_max = int(np.max(result["cycles"]))

    notes += [
        "flash (text) = vector table + code + constants (the model's tables), as `size` reports it; "
        "RAM = data + bss. Both from the size firmware: one inference, volatile input and output, no I/O.",
        "stack: painted, in the probe firmware: RAM between the end of .bss and the stack pointer filled with a "
        "pattern before one call of the model (not inlined into main), scanned after; the deepest of x = 0.5, 3, 5.5.",
        "AVR cycles: Timer1 around each of the 2,001 grid calls under simavr at 16 MHz (mean / max).",
        "error: firmware output − sin(x) in float64 at the x the probe firmware printed, x_i = i · float(2π/2000), "
        f"i = 0..2000; Arm firmware runs under {'qemu-system-arm (mps2-an385 / mps2-an386, semihosting)' if use_qemu else 'nothing (see above)'}, "
        "AVR under simavr. vs host C: the same header built with gcc -O2 -ffp-contract=off on x86-64.",
        "TFLM reference: TFLM at 90b983c2b, Debian arm-none-eabi-gcc 12.2, release build, -Os, reference kernels, "
        "minimal single-inference firmware, measured separately on this project's machines; its empty firmware "
        "has a larger start-up than ours (752 B vs the empty rows above), compare the differences over empty too.",
    ]
    tflm_rows = [dict(t, reference=True) for t in TFLM_REFERENCE]
    tflm_m4 = tflm_rows[0]
    tflm_dir = os.environ.get("TFLM_DIR")
    if tflm_dir:
        try:
            measured, setup_stack = build_tflm(Path(tflm_dir).resolve(), work, use_qemu)
        except (RuntimeError, OSError, ToolchainError) as error:
            notes.append(f"TFLM_DIR={tflm_dir}: building TFLM failed, so only the reference figures are shown "
                         f"({str(error).splitlines()[0]})")
            log(notes[-1])
        else:
            tflm_rows[:0] = [dict(name=r.clone, target=r.target, text=r.text, ram=r.ram, stack=r.stack,
                                  rmse=r.rmse, max_err=r.max_err, error_from=r.error_source, x=r.x,
                                  errors=r.errors) for r in measured]
            measured_m4 = next(t for t in tflm_rows if t["target"] == "cortex-m4")
            if measured_m4["stack"] is not None:        # the goals need its stack and error: qemu ran it
                tflm_m4 = measured_m4
            notes.append(tflm_note(Path(tflm_dir), setup_stack))
    table = markdown(rows, tflm_rows, summaries, notes)
    goal_table = goals(rows, tflm_m4)
    elapsed = time.perf_counter() - start
    report = ("# TFLM hello_world vs MicroML clones\n\nGenerated by `python benchmarks/tflm/run.py` "
              "(about a minute; no timings in this file, so an unchanged run leaves it unchanged).\n\n" + table + "\n## The goal: 1/5 of TFLM's flash, 1/10 of its RAM + stack, "
              "error no worse, and the ATmega328P\n\n" + goal_table)
    print(report)
    if not args.no_write:
        (HERE / "results.md").write_text(report, encoding="utf-8")
        plot(rows, tflm_m4, HERE / "tflm_clones.png")
        log(f"wrote {(HERE / 'results.md').relative_to(ROOT)} and {(HERE / 'tflm_clones.png').relative_to(ROOT)}")
    if work_ctx:
        work_ctx.cleanup()
    log(f"done in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

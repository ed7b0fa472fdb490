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

TensorFlow Lite Micro: this project builds no third-party code, so TFLM's rows are recorded
figures (TFLM_REFERENCE), each labelled with how and when it was measured. The goal table compares
with the recorded row measured inside this benchmark's own firmware (same start-up, link script,
flags, stack painting and qemu run as the clones).
"""

from __future__ import annotations

import argparse
import math
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

# TFLM hello_world, recorded. All at TFLM commit 90b983c2b, Debian arm-none-eabi-gcc 12.2, release
# build, -Os, reference kernels (runtime + FULLY_CONNECTED + the 2,704-byte int8 model).
# "in this benchmark's firmware": measured on 2026-11-26 (commit 5231617) by an earlier version of
# this script, which built TFLM's library with TFLM's own Makefile and linked hello_world behind
# this benchmark's size and probe firmware; that path is gone (the project builds no third-party
# code), its figures are kept. The others: minimal single-inference firmware with TFLM's own
# start-up, measured separately on this project's machines.
TFLM_RECORDED = "TFLM hello_world int8 in this benchmark's firmware (recorded 2026-11-26)"
TFLM_REFERENCE = [
    dict(name=TFLM_RECORDED, target="cortex-m4", text=22404, ram=3284, stack=400, rmse=0.0321,
         max_err=0.1287, digits=4, error_from="qemu"),
    dict(name=TFLM_RECORDED, target="cortex-m3", text=23460, ram=3284, stack=408, rmse=0.0321,
         max_err=0.1287, digits=4, error_from="qemu"),
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
        label = t["name"] + ("" if t["name"] == TFLM_RECORDED else " — reference (measured separately)")
        digits = t.get("digits", 3)                      # most references were recorded to 3 decimals
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
    fig.text(0.005, 0.005, "Solid: Cortex-M4F under qemu; dotted: ATmega328P under simavr. TFLM: recorded "
             "figures (TFLM's library in this benchmark's firmware, measured 2026-11-26).", fontsize=7, color="grey")
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
        f"{TFLM_RECORDED}: recorded, not rebuilt (this project builds no third-party code). Measured on "
        "2026-11-26 (commit 5231617) by an earlier version of this benchmark: TFLM at 90b983c2b, its release "
        "microlite library built by TFLM's own Makefile (TARGET=cortex_m_generic, -Os, reference kernels) with "
        "Debian arm-none-eabi-gcc 12.2, hello_world_int8.tflite linked into this benchmark's size and probe "
        "firmware (same start-up, link script and flags as the clones). RAM includes the 3,000 B arena and the "
        "interpreter and op resolver objects (static storage). stack: one inference (quantize, Invoke, "
        "dequantize), as for the clones; the one-time set-up (AllocateTensors) peaked at 448 B (Cortex-M4F) and "
        "440 B (Cortex-M3), painted apart. Error from its own int8 outputs under qemu. The goal table uses its "
        "Cortex-M4F row.",
        "TFLM reference: TFLM at 90b983c2b, Debian arm-none-eabi-gcc 12.2, release build, -Os, reference kernels, "
        "minimal single-inference firmware, measured separately on this project's machines; its empty firmware "
        "has a larger start-up than ours (752 B vs the empty rows above), compare the differences over empty too.",
    ]
    tflm_rows = [dict(t) for t in TFLM_REFERENCE]
    tflm_m4 = next(t for t in tflm_rows if t["name"] == TFLM_RECORDED and t["target"] == "cortex-m4")
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

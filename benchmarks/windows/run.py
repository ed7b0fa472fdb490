"""Window features on the chip: flash, static RAM, peak stack and cycles per window, the feature stage apart.

    python benchmarks/windows/run.py            # ~1 min; prints the table, writes benchmarks/windows/results.md

Configurations (128 samples x 3 int16 channels, `target.input: int16`):
  - examples/gestures as shipped (its yaml, its data from make_data.py, `microml build`);
  - the same data, 4 segments x the 7 core statistics, and a 20-tree forest of depth <= 8 grown on labels with
    a fifth of them shuffled, so that the trees reach (nearly) their depth limit: a tree's cycles grow with the
    depth of the path walked, so this is the issue's goal configuration at its slowest;
  - 4 segments x the 7 core statistics and a linear SVM (StandardScaler + LinearSVC, 4 classes): the shape
    benchmarks/magic_wand recommends for the magic_wand clone (issue 17);
  - 2 segments x all 9 statistics with the magnitude channel, and the same forest: the most expensive stage.

Each is measured as three firmwares that differ only in one noinline call on a window already in RAM:
  stub      reads one sample                                   (the baseline)
  features  `<name>_features_ring(ring, head, f)`              (the window features the model reads)
  predict   `<name>_predict_ring(ring, head)`                  (features + model)
Flash and RAM are the differences from the stub (avr-size / arm-none-eabi-size, the window itself is in
every build and cancels); the feature stage's share is features - stub, the model's predict - features.
Peak stack is painted around one call (return address included) and cycles counted by Timer1 under
simavr at 16 MHz on the ATmega328P (avr-gcc -Os). The Cortex-M4F (arm-none-eabi-gcc -Os, hard float,
the start-up and link script of benchmarks/tflm/firmware) is run under qemu-system-arm (mps2-an386) for
the painted stack; qemu counts no cycles, so the Cortex-M4F has none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from microml_build import toolchains  # noqa: E402
from microml_build.config import load_config  # noqa: E402
from microml_build.emit.header import emit_header  # noqa: E402
from microml_build.ir.features import CORE_STATS, STATS, WindowStage, with_input  # noqa: E402
from microml_build.lower import lower  # noqa: E402
from microml_build.plan import plan  # noqa: E402
from microml_build.pipeline.build import Log, build  # noqa: E402
from microml_build.pipeline.dataset import load_dataset  # noqa: E402
from microml_build.pipeline.verify import verify  # noqa: E402
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr  # noqa: E402

EXAMPLE = ROOT / "examples" / "gestures"
CM_FIRMWARE = ROOT / "benchmarks" / "tflm" / "firmware"   # start-up, link script, cm_harness.h
BUILD = HERE / "build"
F_CPU = 16_000_000
GOAL_CYCLES = 320_000                                    # 20 ms at 16 MHz

FIRMWARE = """\
#include <stdint.h>
#include <string.h>
#include "model.h"
#ifdef __AVR__
#include <avr/pgmspace.h>
#include "avr_harness.h"
#define WINDOW_FLASH PROGMEM
#else
#include "cm_harness.h"
#define WINDOW_FLASH
#endif

/* One recorded window, oldest sample first; the ring holds it rotated so that the oldest sample is at slot HEAD. */
#define HEAD 17u
static const int16_t window[M_WINDOW_LENGTH * M_N_CHANNELS] WINDOW_FLASH = {{ {window} }};
int16_t ring[M_WINDOW_LENGTH * M_N_CHANNELS];
volatile float sink;

static __attribute__((noinline)) void run(unsigned head)
{{
#if defined(RUN_PREDICT)
    sink = (float)m_predict_ring(ring, head);
#elif defined(RUN_FEATURES)
    float f[M_N_WINDOW_FEATURES];
    m_features_ring(ring, head, f);
    for (uint16_t k = 0; k < M_N_WINDOW_FEATURES; k++) {{
        sink = f[k];
    }}
#else
    sink = (float)ring[head];
#endif
}}

int main(void)
{{
    for (uint16_t t = 0; t < M_WINDOW_LENGTH; t++) {{
        const uint16_t slot = (uint16_t)((HEAD + t) % M_WINDOW_LENGTH);
#ifdef __AVR__
        memcpy_P(&ring[slot * M_N_CHANNELS], &window[t * M_N_CHANNELS], M_N_CHANNELS * sizeof(int16_t));
#else
        memcpy(&ring[slot * M_N_CHANNELS], &window[t * M_N_CHANNELS], M_N_CHANNELS * sizeof(int16_t));
#endif
    }}
#ifdef __AVR__
    {{
        uint16_t stack;
        uint32_t cycles;
        harness_init();
        harness_stack_paint();
        run(HEAD);
        stack = harness_stack_used();
        harness_cycles_start();
        run(HEAD);
        cycles = harness_cycles_stop();
        printf("stack=%u cycles=%lu\\n", stack, (unsigned long)cycles);
        harness_exit();
    }}
#else
    {{
        char line[32] = "stack=";
        char *end;
        cm_stack_paint();
        run(HEAD);
        end = cm_hex32(line + 6, cm_stack_used());
        end[0] = '\\n';
        end[1] = 0;
        cm_print(line);
        cm_exit();
    }}
#endif
}}
"""

VARIANTS = {"stub": [], "features": ["-DRUN_FEATURES"], "predict": ["-DRUN_PREDICT"]}
TARGETS = {"avr": "ATmega328P", "cortex-m4": "Cortex-M4F"}


@dataclass
class Case:
    name: str
    header: str            # the header text, prefix m
    n_features: int        # window features computed
    n_all: int
    model: str
    agreement: str
    goal: bool = True      # the goal applies (<= 320,000 cycles on the ATmega328P)


@dataclass
class Measured:
    flash: dict            # variant -> bytes over the stub
    ram: dict
    stack: dict            # variant -> painted bytes (None: not run)
    cycles: dict           # variant -> cycles (AVR only)


def example_data() -> Path:
    csv = EXAMPLE / "data" / "gestures.csv"
    if not csv.exists():
        subprocess.run([sys.executable, str(EXAMPLE / "make_data.py")], check=True)
    return csv


def header_of(model, estimator) -> str:
    return emit_header(plan(model), name="m", file_name="model.h",
                       provenance=[("Benchmark", "benchmarks/windows")], feature_names=()).text


def cases() -> list[Case]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from microml_build.features import WindowFeatures

    example_data()
    out = []
    # The example, through `microml build` into a scratch copy of its header.
    result = build(EXAMPLE / "microml.yaml", output=BUILD / "gesture_model.h", force=True, log=Log(quiet=True))
    text = (BUILD / "gesture_model.h").read_text(encoding="utf-8").replace("gesture_", "m_").replace("GESTURE_", "M_")
    config = load_config(EXAMPLE / "microml.yaml")
    data = load_dataset(config)
    stage_line = next(line for line in text.splitlines() if "#define M_N_WINDOW_FEATURES" in line)
    out.append(Case("examples/gestures (6 statistics x 2 segments, 20 trees of depth <= 6)", text,
                    int(stage_line.split()[-1]), 36, result.summary.split(": ", 1)[1].split(";")[0],
                    result.summary.rsplit(", ", 2)[-2]))
    # Full-size forests: a fifth of the labels shuffled, so the trees grow to their depth limit.
    rng = np.random.default_rng(0)
    y = data.y.copy()
    noisy = rng.choice(len(y), len(y) // 5, replace=False)
    y[noisy] = rng.permutation(y[noisy])
    forest = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0)
    linear = make_pipeline(StandardScaler(), LinearSVC(C=0.01, max_iter=20000, random_state=0))
    for label, stats, segments, magnitude, final in (
            ("7 core statistics x 4 segments", CORE_STATS, 4, False, forest),
            ("7 core statistics x 4 segments", CORE_STATS, 4, False, linear),
            ("9 statistics + magnitude x 2 segments", STATS, 2, True, forest)):
        pipe = make_pipeline(WindowFeatures(length=128, channels=3, stats=list(stats), segments=segments,
                                            magnitude=magnitude, channel_names=["ax", "ay", "az"]), final)
        pipe.fit(data.X, y if final is forest else data.y)
        model = with_input(lower(pipe), "int16")
        text = header_of(model, pipe)
        check = verify(model, text, "m", pipe, data.X)
        stage: WindowStage = model.transforms[0]
        if final is forest:
            depths = [tree.get_depth() for tree in pipe[-1].estimators_]
            label += f", 20 trees of depth {min(depths)}-{max(depths)}"
        else:
            label += ", StandardScaler + LinearSVC(C=0.01)"
        out.append(Case(label, text, len(stage.computed), stage.n_all,
                        model.summary.split(";")[0], check.summary.split(",")[0], goal=not magnitude))
    return out


def measure(case: Case, target: str, window: np.ndarray, work: Path) -> Measured:
    work.mkdir(parents=True, exist_ok=True)
    (work / "model.h").write_text(case.header, encoding="utf-8")
    (work / "main.c").write_text(FIRMWARE.format(window=", ".join(str(int(v)) for v in window)), encoding="utf-8")
    sizes, stack, cycles = {}, {}, {}
    for variant, flags in VARIANTS.items():
        if target == "avr":
            sources, includes, extra = [work / "main.c", *HARNESS_SOURCES], [HARNESS_DIR, work], flags
        else:
            sources = [CM_FIRMWARE / "startup.c", work / "main.c"]
            includes = [CM_FIRMWARE, work]
            extra = [*flags, "-nostartfiles", f"-T{CM_FIRMWARE / 'cortex_m.ld'}", "-DFAULT_EXITS_QEMU"]
        elf = toolchains.compile(sources, work / f"{variant}.elf", target=target, include_dirs=includes,
                                 extra_flags=extra)
        sizes[variant] = toolchains.section_sizes(elf, target)
        if target == "avr" and shutil.which("simavr"):
            fields = dict(item.split("=") for item in run_avr(elf, timeout=300).split())
            stack[variant], cycles[variant] = int(fields["stack"]), int(fields["cycles"])
        elif target != "avr" and shutil.which("qemu-system-arm"):
            stack[variant] = _qemu_stack(elf)
    flash = {v: sizes[v]["flash"] - sizes["stub"]["flash"] for v in VARIANTS}
    ram = {v: sizes[v]["ram"] - sizes["stub"]["ram"] for v in VARIANTS}
    return Measured(flash, ram, stack, cycles)


def _qemu_stack(elf: Path) -> int:
    command = ["qemu-system-arm", "-machine", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"qemu exited with {done.returncode}: {done.stdout}{done.stderr}")
    line = next(line for line in (done.stdout + done.stderr).splitlines() if line.startswith("stack="))
    return int(line.split("=")[1], 16)


def _ms(cycles: int | None) -> str:
    return "–" if cycles is None else f"{cycles:,} ({1000 * cycles / F_CPU:.1f} ms)"


def table(results: list[tuple[Case, dict]]) -> str:
    lines = ["| configuration | target | part | flash (B) | static RAM (B) | stack (B) | cycles per window (16 MHz) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for case, by_target in results:
        for target, m in by_target.items():
            stub_stack = m.stack.get("stub")
            for part, variant in (("features", "features"), ("model", None), ("total: predict_ring", "predict")):
                if variant is None:      # the model's share: predict minus features
                    flash = m.flash["predict"] - m.flash["features"]
                    ram = m.ram["predict"] - m.ram["features"]
                    stack = "–"
                    cycles = (m.cycles["predict"] - m.cycles["features"]) if m.cycles else None
                else:
                    flash, ram = m.flash[variant], m.ram[variant]
                    stack = m.stack.get(variant, "–")
                    cycles = m.cycles.get(variant) if m.cycles else None
                label = f"{case.name}: {case.n_features} of {case.n_all} features" if part == "features" else ""
                lines.append(f"| {label} | {TARGETS[target] if part == 'features' else ''} | {part} | {flash:,} | "
                             f"{ram} | {stack} | {_ms(cycles)} |")
            del stub_stack
    return "\n".join(lines)


def main() -> int:
    BUILD.mkdir(exist_ok=True)
    all_cases = cases()
    data = load_dataset(load_config(EXAMPLE / "microml.yaml"))
    window = data.X[0]
    results = []
    for case in all_cases:
        by_target = {}
        for target in TARGETS:
            if toolchains.find_compiler(target) is None:
                print(f"skipping {TARGETS[target]}: no compiler", file=sys.stderr)
                continue
            by_target[target] = measure(case, target, window, BUILD / f"{len(results)}-{target}")
        results.append((case, by_target))
    text = table(results)
    notes = []
    goal_met = True
    for case, by_target in results:
        avr = by_target.get("avr")
        if avr and avr.cycles:
            per_feature = (avr.stack["features"] - avr.stack["stub"] - 4 * case.n_features)
            ok = avr.cycles["predict"] <= GOAL_CYCLES
            goal_met &= ok or not case.goal
            notes.append(f"- {case.name}: model `{case.model}`, {case.agreement}. ATmega328P: feature stage static RAM "
                         f"{avr.ram['features']} B, stack {avr.stack['features']} B = 4 B x {case.n_features} "
                         f"features + {per_feature + avr.stack['stub']} B; predict_ring "
                         f"{avr.cycles['predict']:,} cycles" + (f", goal {GOAL_CYCLES:,}: {'met' if ok else 'NOT met'}." if case.goal
                                                         else " (the magnitude's per-sample square root in soft "
                                                              "float: shown for its cost, no goal)."))
    report = text + "\n\n" + "\n".join(notes) + "\n"
    print(report)
    (HERE / "results.md").write_text("# Window features on the chip (`python benchmarks/windows/run.py`)\n\n" + report,
                                     encoding="utf-8")
    return 0 if goal_met else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

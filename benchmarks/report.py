"""Markdown for the benchmark results: one table per case, the issue's targets, the size sweep, versions."""

from __future__ import annotations

import sys

import cases as case_defs
from converters import raw_param_bytes

CORRECT = 0.99   # a peer agreeing with scikit-learn on fewer rows does not count as supporting the case
DASH = "–"


def _is_microml(r) -> bool:
    return r.key == "microml" or r.key.startswith("microml-")


def _n(v) -> str:
    return f"{int(round(v)):,}"


def _pct(agree: int, rows: int) -> str:
    if agree == rows:
        return "100%"
    return f"{100 * agree / rows:.1f}% ({agree}/{rows})"


class Notes:
    def __init__(self):
        self.items: list[str] = []

    def ref(self, text: str) -> str:
        if text not in self.items:
            self.items.append(text)
        return f"[{self.items.index(text) + 1}]"

    def render(self) -> list[str]:
        return [f"[{i}] {text}  " for i, text in enumerate(self.items, 1)]


def _columns(targets: list[str]) -> list[tuple[str, str, str]]:
    """(target, value key, heading)"""
    cols = []
    if "avr" in targets:
        cols += [("avr", "flash", "AVR flash B"), ("avr", "ram", "AVR RAM B"), ("avr", "stack", "AVR stack B"),
                 ("avr", "cycles", "AVR cycles"), ("avr", "agree", "AVR agreement")]
    if "cortex-m4" in targets:
        cols += [("m4", "flash", "M4 flash B"), ("m4", "ram", "M4 RAM B")]
    if "host" in targets:
        cols += [("host", "ns", "host ns"), ("host", "agree", "host agreement")]
    return cols


def _cell(m, key: str, first: bool, notes: Notes, label: str) -> str:
    if m is None:
        return DASH
    refs = "".join(notes.ref(f"{label}: {n}") for n in m.notes) if first else ""
    v = m.values
    if not m.ok:
        if first:
            known = f": {_n(v['flash'])}" if key == "flash" and "flash" in v else ""
            return f"{m.status}{known} {refs}".strip()
        if key == "ram" and "ram" in v:
            return _n(v["ram"])
        return DASH
    if key not in v:
        return DASH
    if key == "agree":
        text = _pct(v["agree"], v["rows"])
    elif key == "ns":
        text = f"{v['ns']:,.0f}" if v["ns"] >= 100 else f"{v['ns']:.1f}"
    else:
        text = _n(v[key])
    return f"{text} {refs}".strip() if first else text


def case_table(case, results, targets, notes: Notes) -> list[str]:
    cols = _columns(targets)
    lines = ["| converter | " + " | ".join(h for _, _, h in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for r in results:
        label = r.converter
        if r.status != "ok":
            ref = notes.ref(f"{label}: {r.reason}")
            cells = [f"{r.status} {ref}"] + [DASH] * (len(cols) - 1)
        else:
            cells = []
            seen = set()
            for target, key, _ in cols:
                m = getattr(r, target)
                cells.append(_cell(m, key, target not in seen, notes, label))
                seen.add(target)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _supported_peers(results):
    """Peers that ran on the ATmega328P, fit, and agree with scikit-learn on >= 99% of the rows."""
    good, excluded = [], []
    for r in results:
        if _is_microml(r) or r.status != "ok" or r.avr is None:
            continue
        m = r.avr
        if not m.ok:
            excluded.append(f"{r.converter}: {m.status}")
        elif m.values["agree"] < CORRECT * m.values["rows"]:
            v = m.values
            excluded.append(f"{r.converter}: agreement {_pct(v['agree'], v['rows'])} (flash {_n(v['flash'])}, "
                            f"SRAM+stack {_n(v['ram'] + v['stack'])}, cycles {_n(v['cycles'])})")
        else:
            good.append(r)
    return good, excluded


def targets_table(by_case, case_names) -> list[str]:
    lines = ["| case | MicroML on ATmega328P | model data in SRAM = 0 | flash vs best peer | SRAM+stack vs best peer "
             "| cycles vs best peer | peers not counted |",
             "|---|---|---|---|---|---|---|"]
    for name in case_names:
        results = by_case[name]
        mm = _best_form(results)
        if mm is None:
            continue
        lines += _target_rows(name, mm, results)
        speed = next((r for r in results if r.key == case_defs.SPEED), None)
        if speed is not None:
            lines += _target_rows(f"{name}, optimize: speed", speed, results)
    return lines


def _target_rows(name: str, mm, results) -> list[str]:
    """The targets row of MicroML's result `mm` against the peers in `results`."""
    if mm.status != "ok" or mm.avr is None or not mm.avr.ok:
        why = mm.status if mm.status != "ok" else (mm.avr.status if mm.avr else "not run")
        return [f"| {name} | {why} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |"]
    v = mm.avr.values
    good, excluded = _supported_peers(results)
    mine = {"flash": v["flash"], "mem": v["ram"] + v["stack"], "cycles": v["cycles"]}
    cells = []
    for fig, get in (("flash", lambda x: x["flash"]), ("mem", lambda x: x["ram"] + x["stack"]),
                     ("cycles", lambda x: x["cycles"])):
        if not good:
            cells.append(f"{_n(mine[fig])} (no peer runs it correctly)")
            continue
        best = min(good, key=lambda r: get(r.avr.values))
        b = get(best.avr.values)
        verdict = "met" if mine[fig] <= b else f"**missed** (+{100 * (mine[fig] - b) / b:.0f}%)"
        cells.append(f"{_n(mine[fig])} vs {_n(b)} ({best.converter.split()[0]}): {verdict}")
    ram = "met" if v["ram"] == 0 else f"**missed**: {v['ram']} B"
    form = "" if mm.key in ("microml", case_defs.SPEED) else f" ({mm.converter.split()[-1]}: float does not fit)"
    return [f"| {name} | agreement {_pct(v['agree'], v['rows'])}{form} | {ram} | " + " | ".join(cells) +
            f" | {'; '.join(excluded) or DASH} |"]


FORMS = ("microml", "microml-int16", "microml-fixed16")


def _best_form(results):
    """MicroML's float header, or when it does not fit the chip (or agree), its most exact lossy form that does."""
    forms = [r for key in FORMS for r in results if r.key == key]
    for r in forms:
        if r.status == "ok" and r.avr is not None and r.avr.ok and r.avr.values["agree"] >= CORRECT * r.avr.values["rows"]:
            return r
    return forms[0] if forms else None


def forms_table(by_case, case_names) -> list[str]:
    """The SVM cases in MicroML's float, int16-vectors and fixed16 forms next to the best peer, on the ATmega328P."""
    lines = ["| case | form | flash B | stack B | cycles | vs MicroML float | vs best peer | agreement |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in case_names:
        results = by_case[name]
        if not any(r.key in FORMS[1:] for r in results):
            continue
        good, _ = _supported_peers(results)
        best = min(good, key=lambda r: r.avr.values["cycles"]) if good else None
        base = next((r for r in results if r.key == "microml"), None)
        base_cycles = base.avr.values["cycles"] if base and base.status == "ok" and base.avr and base.avr.ok else None
        for r in (r for key in FORMS for r in results if r.key == key):
            form = "float" if r.key == "microml" else r.converter.split()[-1]
            m = r.avr
            if r.status != "ok" or m is None or not m.ok:
                why = r.status if r.status != "ok" else (m.status if m else "not run")
                flash = f": {_n(m.values['flash'])}" if m is not None and "flash" in m.values else ""
                lines.append(f"| {name} | {form} | {why}{flash} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |")
                continue
            v = m.values
            speed = f"{base_cycles / v['cycles']:.1f}x fewer" if base_cycles else "float does not fit"
            peer = (f"{_n(best.avr.values['cycles'])} ({best.converter.split()[0]})" if best else
                    "no peer runs it")
            lines.append(f"| {name} | {form} | {_n(v['flash'])} | {_n(v['stack'])} | {_n(v['cycles'])} | {speed} | "
                         f"{peer} | {_pct(v['agree'], v['rows'])} |")
    return lines


def headline(by_case, case_names) -> list[str]:
    name = next((n for n in case_names if case_defs.CASES[n].headline), None)
    if name is None:
        return []
    fitted = case_defs.CASES[name].data
    raw = raw_param_bytes(fitted.estimator)
    est = fitted.estimator
    out = [f"## Headline: {case_defs.CASES[name].title} on the ATmega328P", "",
           f"{len(est.support_vectors_)} support vectors x {est.support_vectors_.shape[1]} features; raw float32 "
           f"parameters (support vectors + dual coefficients + intercept) = {raw:,} B.", ""]
    out += ["| converter | model flash B | vs raw parameters (target <= +10%) | model RAM B (target 0) "
            "| peak stack B (target < 64) | cycles | ms at 16 MHz | agreement |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in by_case[name]:
        m = r.avr
        if r.status != "ok" or m is None:
            out.append(f"| {r.converter} | {r.status} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |")
            continue
        v = m.values
        if "flash" not in v:
            out.append(f"| {r.converter} | {m.status} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |")
            continue
        over = 100 * (v["flash"] - raw) / raw
        flash = _n(v["flash"]) if m.ok else f"{m.status}: {_n(v['flash'])}"
        mine = _is_microml(r)
        verdict = ("met" if over <= 10 else "**missed**") if mine else ""
        ram = _n(v["ram"]) + ((" (met)" if v["ram"] == 0 else " (**missed**)") if mine else "")
        if m.ok:
            stack = _n(v["stack"]) + ((" (met)" if v["stack"] < 64 else " (**missed**)")
                                      if mine else "")
            rest = f"{stack} | {_n(v['cycles'])} | {v['cycles'] / 16e3:.1f} | {_pct(v['agree'], v['rows'])}"
        else:
            rest = f"{DASH} | {DASH} | {DASH} | {DASH}"
        out.append(f"| {r.converter} | {flash} | {over:+.1f}% {verdict} | {ram} | {rest} |")
    return out + [""]


def sweep_table(rows) -> list[str]:
    if not rows:
        return []
    out = ["## MicroML: peak stack as the model grows (ATmega328P)", "",
           "Same family, growing model; 8 test rows each. Target: stack independent of model size.", "",
           "| family | model | size | model flash B | model RAM B | peak stack B |", "|---|---|---|---:|---:|---:|"]
    stacks: dict[str, list[int]] = {}
    for row in rows:
        m = row.get("measure")
        if row["status"] == "unsupported" or m is None:
            out.append(f"| {row['family']} | {row['model']} | {row['params']} | unsupported | {DASH} | {DASH} |")
            continue
        v = m.values
        stack = _n(v["stack"]) if "stack" in v else m.status
        if "stack" in v:
            stacks.setdefault(row["family"], []).append(v["stack"])
        out.append(f"| {row['family']} | {row['model']} | {row['params']} | {_n(v.get('flash', 0))} "
                   f"| {_n(v.get('ram', 0))} | {stack} |")
    out.append("")
    for family, values in stacks.items():
        verdict = (f"constant ({values[0]} B): met" if len(set(values)) == 1 else
                   f"not constant, {' / '.join(str(v) for v in values)} B: **missed**")
        out.append(f"- {family}: stack {verdict}")
    return out + [""]


def render(results, case_names, targets, sweep_rows, versions, command, elapsed, jobs) -> str:
    by_case = {name: [r for r in results if r.case == name] for name in case_names}
    out = ["# MicroML vs peer converters: benchmark results", "",
           f"Command: `{command}`  ", f"Run time: {elapsed:.0f} s on {jobs} parallel jobs; written by "
           f"benchmarks/run.py (method and findings: benchmarks/README.md).", ""]
    out += ["| tool | version |", "|---|---|"] + [f"| {k} | {v} |" for k, v in versions.items()] + [""]
    out += ["How to read the tables:", "",
            "- **flash / RAM B** = the model's own cost: (firmware with the model) - (the same firmware with a stub "
            "`bench_predict()` that does no arithmetic). The harness, printf, start-up code and the test vectors "
            "cancel out; the float routines the model pulls in (AVR soft-float, `expf`/`exp`, double emulation on "
            "the M4) count as the model's. RAM = .data + .bss.",
            "- **AVR**: `avr-gcc -Os -mmcu=atmega328p`; **stack** = peak stack of one inference, painted and scanned "
            "(includes the 2-byte return address; excludes the caller's float x[] buffer); **cycles** = Timer1 count "
            "of one inference, mean over the test rows, under simavr at 16 MHz. The test vectors are in PROGMEM and "
            "copied into a RAM buffer before each inference, identical for all converters (split across several "
            "firmwares when they do not fit next to the model).",
            "- **M4**: `arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16`, "
            "newlib-nano (`--specs=nano.specs --specs=nosys.specs`).",
            "- **host ns**: gcc -O2, fastest of 41 timed loops over all test rows (each calibrated to >= 5 ms), "
            "run one at a time.",
            "- **agreement** = rows where the C class equals scikit-learn's `predict()` on the same (float64) rows; "
            "the C code gets them as float32.",
            "- MicroML's header is compiled with `-Wall -Wextra -Werror`; peers with `-Wno-error` (their warnings "
            "are not shown). All builds add `-ffp-contract=off` (microml_build.toolchains).",
            "- unsupported = the converter refuses the estimator; does not fit = the ATmega328P link fails (region "
            "overflow) or RAM + stack exceed 2 KB: the number shown is the model's size linked with enlarged "
            "memory regions.", ""]
    out += headline(by_case, case_names)
    if "avr" in targets:
        out += ["## Issue targets (ATmega328P)", "",
                f"Best peer = the smallest figure among peers that fit the ATmega328P and agree with scikit-learn on "
                f">= {CORRECT:.0%} of the test rows; the others are listed as not counted.", ""]
        out += targets_table(by_case, case_names) + [""]
        forms = forms_table(by_case, case_names)
        if len(forms) > 2:
            out += ["## SVMs in MicroML's forms (ATmega328P)", "",
                    "MicroML's float header, its support vectors packed as int16 (`target.precision: int16-vectors`) "
                    "and its integer form (`fixed16`), each verified as `microml build` does; cycles of "
                    "`bench_predict(const float *x)` (fixed16 quantizes x first) against MicroML float and the "
                    "fastest peer that runs the case correctly; agreement on the test rows.", ""]
            out += forms + [""]
    for name in case_names:
        case = case_defs.CASES[name]
        fitted = case.data
        est = fitted.estimator
        out += [f"## {name}: {case.title}", "",
                f"{est.n_features_in_} {'raw' if case.raw else 'standardised'} features, {len(est.classes_)} classes, "
                f"{fitted.n_train} training rows, {len(fitted.X_test)} test rows, scikit-learn test accuracy "
                f"{fitted.accuracy:.3f}." + (f" {len(est.support_vectors_)} support vectors."
                                            if hasattr(est, "support_vectors_") else ""), ""]
        notes = Notes()
        out += case_table(case, by_case[name], targets, notes)
        out += [""] + notes.render() + [""]
    out += sweep_table(sweep_rows)
    out += ["## How each converter was called", "", "| converter | call |", "|---|---|"]
    calls: dict[str, list[str]] = {}
    for r in results:
        options = calls.setdefault(r.converter, [r.call] if r.call else [])
        if r.option and r.option not in options:
            options.append(r.option)
    for label, options in calls.items():
        out.append(f"| {label} | {'; '.join(options) or DASH} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit("run benchmarks/run.py")

"""MicroML vs the peer converters: flash, RAM, stack, cycles and agreement with scikit-learn, as Markdown.

    python benchmarks/run.py                  # every case, every converter, every target (~10 min)
    python benchmarks/run.py --cases bc_svc_rbf bc_tree
    python benchmarks/run.py --quick          # CI smoke test: one case, MicroML + micromlgen, AVR only

Prints the tables and (full runs, or with --output) writes them to benchmarks/results.md.
Method and findings: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases as case_defs  # noqa: E402
import converters as conv_defs  # noqa: E402
import firmware  # noqa: E402
import report  # noqa: E402

TARGETS = ["avr", "cortex-m4", "host"]
QUICK_PEER = "micromlgen"   # runs on the chip (m2cgen does not fit for this case), C++ path included
_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    case: str
    converter: str          # label with version, e.g. "m2cgen 0.10.0"
    key: str                # microml, microml-pipeline, micromlgen, ...
    status: str = "ok"      # "ok", "unsupported", "not installed", "does not work with scikit-learn X"
    reason: str = ""
    option: str = ""
    call: str = ""
    avr: firmware.Measure | None = None
    m4: firmware.Measure | None = None
    host: firmware.Measure | None = None
    host_exe: Path | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def run_one(case: case_defs.Case, key: str, targets: list[str], root: Path, stubs: firmware.Stubs) -> Result:
    if key == "microml-pipeline":
        conv = conv_defs.MicroML(pipeline=True)
    elif key in case_defs.VARIANTS:
        conv = conv_defs.MicroML(precision=case_defs.VARIANTS[key])
    elif key == case_defs.SPEED:
        conv = conv_defs.MicroML(optimize="speed")
    else:
        conv = conv_defs.converters([key])[0]
    result = Result(case.name, conv.label, key, call=conv.call)
    started = time.perf_counter()
    fitted = case.data
    pipeline = key == "microml-pipeline"
    estimator = fitted.pipeline if pipeline else fitted.estimator
    X = fitted.X_test_raw if pipeline else fitted.X_test
    expected = fitted.expected_pipeline if pipeline else fitted.expected
    try:
        port = (conv.port(estimator, X.shape[1], X_train=fitted.X_train) if isinstance(conv, conv_defs.MicroML)
                else conv.port(estimator, X.shape[1]))
    except conv_defs.Unsupported as exc:
        result.status, result.reason = "unsupported", str(exc)
        return result
    except conv_defs.NotAvailable as exc:
        text = str(exc)
        result.status = text.split(" (")[0]
        result.reason = text
        return result
    result.option = port.option
    directory = root / case.name / key
    shutil.rmtree(directory, ignore_errors=True)
    w = firmware.write_port(port, directory, X.shape[1])
    tag = f"{case.name} / {conv.name}"
    if "avr" in targets:
        log(f"{tag}: ATmega328P")
        result.avr = firmware.measure_avr(w, X, expected, stubs, lambda m: log(f"{tag}: {m}"))
    if "cortex-m4" in targets:
        log(f"{tag}: Cortex-M4")
        result.m4 = firmware.measure_cortex(w, X, stubs)
    if "host" in targets:
        result.host_exe, result.host = firmware.build_host(w, X)
    result.seconds = time.perf_counter() - started
    log(f"{tag}: built and simulated in {result.seconds:.1f} s")
    return result


def guarded(fn, *args) -> Result:
    try:
        return fn(*args)
    except Exception as exc:  # a bug in the benchmark itself: show it in the table, keep going
        case, key = args[0], args[1]
        traceback.print_exc()
        r = Result(case.name, key, key, status="benchmark error", reason=f"{type(exc).__name__}: {exc}"[:300])
        return r


def sweep(targets: list[str], root: Path, stubs: firmware.Stubs, jobs: int) -> list[dict]:
    """MicroML only: AVR flash and peak stack as the same family grows (stack should not)."""
    if "avr" not in targets:
        return []
    items = case_defs.size_sweep()
    for _, case in items:
        case.data

    def one(item):
        family, case = item
        fitted = case.data
        row = {"family": family, "model": case.title, "params": _size_desc(fitted.estimator)}
        try:
            port = conv_defs.MicroML().port(fitted.estimator, fitted.X_test.shape[1])
        except conv_defs.Unsupported as exc:
            row["status"], row["reason"] = "unsupported", str(exc)
            return row
        directory = root / "sweep" / case.name
        shutil.rmtree(directory, ignore_errors=True)
        w = firmware.write_port(port, directory, fitted.X_test.shape[1])
        X, expected = fitted.X_test[:8], fitted.expected[:8]    # stack and size only: 8 rows are enough
        m = firmware.measure_avr(w, X, expected, stubs, lambda msg: log(f"sweep {case.name}: {msg}"))
        row["status"], row["measure"] = m.status, m
        return row

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, items))


def _size_desc(est) -> str:
    if hasattr(est, "support_vectors_"):
        return f"{len(est.support_vectors_)} SV"
    if hasattr(est, "estimators_"):
        nodes = sum(t.tree_.node_count for t in est.estimators_)
        return f"{len(est.estimators_)} trees, {nodes} nodes"
    if hasattr(est, "coefs_"):
        return f"{sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)} weights"
    return ""


def versions() -> dict[str, str]:
    def first_line(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "not found"

    def avr_libc():
        try:
            out = subprocess.run(["avr-gcc", "-mmcu=atmega328p", "-E", "-dM", "-include", "avr/version.h", "-x", "c",
                                  "/dev/null"], capture_output=True, text=True, timeout=30).stdout
            return next(line.split()[2].strip('"') for line in out.splitlines()
                        if line.startswith("#define __AVR_LIBC_VERSION_STRING__"))
        except (OSError, StopIteration, subprocess.TimeoutExpired):
            return "?"

    def simavr():
        dpkg = shutil.which("dpkg-query")
        if dpkg:
            out = subprocess.run([dpkg, "-W", "-f=${Version}", "simavr"], capture_output=True, text=True).stdout
            if out:
                return f"simavr {out} (Debian package)"
        return "simavr (version unknown)" if shutil.which("simavr") else "not found"

    import importlib.metadata as md
    pkgs = {}
    for dist in ("microml-build", "scikit-learn", "numpy", "micromlgen", "emlearn", "m2cgen", "sklearn-porter"):
        try:
            pkgs[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pkgs[dist] = "not installed"
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "MicroML source": f"git {commit}" + (" + uncommitted changes" if dirty else ""),
        "avr-gcc": first_line(["avr-gcc", "--version"]) + f", avr-libc {avr_libc()}",
        "simavr": simavr(),
        "arm-none-eabi-gcc": first_line(["arm-none-eabi-gcc", "--version"]),
        "gcc (host)": first_line(["gcc", "--version"]),
        "python": platform.python_version(),
        "host CPU": f"{cpu}, {os.cpu_count()} cores",
        **{f"pip {k}": v for k, v in pkgs.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(case_defs.CASES), metavar="CASE",
                        help="cases to run (default: all): " + ", ".join(case_defs.CASES))
    parser.add_argument("--converters", nargs="+", choices=conv_defs.ALL, metavar="NAME",
                        help="converters (default: all): " + ", ".join(conv_defs.ALL))
    parser.add_argument("--targets", nargs="+", choices=TARGETS, help="targets (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {case_defs.QUICK_CASE}, MicroML + {QUICK_PEER}, AVR only, no sweep")
    parser.add_argument("--no-sweep", action="store_true",
                        help="skip the MicroML model-size sweep (it runs only when no --cases are given)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel builds (default 2)")
    parser.add_argument("--output", type=Path,
                        help="write the Markdown here (default: benchmarks/results.md for full runs, none for --quick)")
    parser.add_argument("--build-dir", type=Path, default=HERE / "build",
                        help="generated code and firmware, kept for inspection (default: benchmarks/build)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    case_names = args.cases or ([case_defs.QUICK_CASE] if args.quick else list(case_defs.CASES))
    keys = args.converters or (["microml", QUICK_PEER] if args.quick else conv_defs.ALL)
    targets = args.targets or (["avr"] if args.quick else TARGETS)
    output = args.output or (None if args.quick or args.cases or args.converters or args.targets
                             else HERE / "results.md")
    root = args.build_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    stubs = firmware.Stubs(root)

    for name in case_names:             # fit in this thread, before the workers share the cases
        case_defs.CASES[name].data
    jobs = []
    for name in case_names:
        case = case_defs.CASES[name]
        for key in keys:
            jobs.append((case, key))
            if key == "microml" and case.pipeline:
                jobs.append((case, "microml-pipeline"))
            if key == "microml" and not args.quick:
                jobs += [(case, variant) for variant in case_defs.variants(case)]
    # Longest first: the big SVMs dominate the simulation time.
    order = sorted(range(len(jobs)), key=lambda i: (not jobs[i][0].headline, i))
    log(f"{len(jobs)} jobs on {args.jobs} workers; build dir {root}")
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {i: pool.submit(guarded, run_one, jobs[i][0], jobs[i][1], targets, root, stubs) for i in order}
        results = [futures[i].result() for i in range(len(jobs))]

    # Host timing alone, one program at a time, so the other core's builds do not disturb it.
    for r in results:
        if r.host_exe is not None:
            log(f"{r.case} / {r.key}: host timing")
            firmware.run_host(r.host_exe, r.host, _expected(r))

    run_sweep = not (args.quick or args.no_sweep or args.cases) and "microml" in keys
    sweep_rows = sweep(targets, root, stubs, args.jobs) if run_sweep else []
    elapsed = time.perf_counter() - started
    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/run.py", *(argv if argv is not None
                                                                                      else sys.argv[1:])])
    text = report.render(results, case_names, targets, sweep_rows, versions(), command, elapsed, args.jobs)
    sys.stdout.write(text)
    if output:
        output.write_text(text)
        log(f"wrote {output}")
    log(f"done in {elapsed:.0f} s")
    return 0


def _expected(r: Result):
    fitted = case_defs.CASES[r.case].data
    return fitted.expected_pipeline if r.key == "microml-pipeline" else fitted.expected


if __name__ == "__main__":
    sys.exit(main())

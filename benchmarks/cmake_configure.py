"""How long CMake takes with many models: configure, full build and no-op build, per generator.

    python benchmarks/cmake_configure.py [--models 100] [--generators Ninja "Unix Makefiles"] [--jobs N]

Generates a project with N small, fast-training models (a depth-3 decision tree each on a shared
iris CSV, `verify.measure: false`, host target): one `microml_add_model()` per model on one
executable whose N sources each include one header. Then, per generator, in a fresh build folder:
`cmake -S -B -G` (configure), `cmake --build -j` (full build: N trainings and the compile), the same
again (no-op), and a touch of one yaml followed by a build (what an edit of one model costs). Also times
`python -m microml_build deps` on one yaml and on all of them (the fastest of 10 runs). Prints Markdown
tables; the figures in benchmarks/README.md and the README come from it.

`--cmake-dir` and `--python` measure another MicroML (an older checkout, for a before/after).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IRIS = ROOT / "examples" / "cmake-host" / "data" / "iris.csv"


def make_project(folder: Path, models: int) -> None:
    """`folder/CMakeLists.txt`, `main.c`, and `models/mNNN/{microml.yaml, use.c}` for each model."""
    (folder / "data").mkdir(parents=True)
    shutil.copy(IRIS, folder / "data" / "iris.csv")
    names = [f"m{i:03d}" for i in range(models)]
    lines = ["cmake_minimum_required(VERSION 3.19)", "project(many_models C)", "find_package(MicroML REQUIRED)",
             "add_executable(app main.c " + " ".join(f"models/{n}/use.c" for n in names) + ")",
             "if(NOT MSVC)", "  target_link_libraries(app PRIVATE m)", "endif()"]
    for i, name in enumerate(names):
        model = folder / "models" / name
        model.mkdir(parents=True)
        (model / "microml.yaml").write_text(
            f"name: {name}\n"
            "dataset: {path: ../../data/iris.csv, label: species}\n"
            f"train: {{estimator: DecisionTreeClassifier, params: {{max_depth: 3, random_state: {i}}}}}\n"
            "verify: {measure: false}\n"
            f"output: include/{name}.h\n")
        (model / "use.c").write_text(f'#include "{name}.h"\n\nint use_{name}(const float *x) '
                                     f"{{ return {name}_predict(x); }}\n")
        lines.append(f"microml_add_model(app CONFIG models/{name}/microml.yaml)")
    (folder / "CMakeLists.txt").write_text("\n".join(lines) + "\n")
    calls = "".join(f"    int use_{n}(const float *x);\n" for n in names)
    sums = "".join(f"    votes += use_{n}(x);\n" for n in names)
    (folder / "main.c").write_text(
        "#include <stdio.h>\n\n"
        f"int main(void) {{\n{calls}    const float x[4] = {{5.1f, 3.5f, 1.4f, 0.2f}};\n    int votes = 0;\n"
        f"{sums}    printf(\"%d\\n\", votes);\n    return 0;\n}}\n")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-4000:]}")
    return seconds, result.stdout


def measure(src: Path, build: Path, generator: str, jobs: int, cmake_dir: str, python: str,
            env: dict[str, str]) -> dict[str, float]:
    figures = {}
    figures["configure"], _ = timed(["cmake", "-S", str(src), "-B", str(build), "-G", generator,
                                     f"-DMicroML_DIR={cmake_dir}", f"-DMICROML_PYTHON={python}"], env)
    figures["build"], log = timed(["cmake", "--build", str(build), "-j", str(jobs)], env)
    figures["trained"] = log.count("[microml] Wrote")
    figures["noop"], log = timed(["cmake", "--build", str(build), "-j", str(jobs)], env)
    assert "[microml]" not in log, log
    yaml = src / "models" / "m000" / "microml.yaml"
    later = time.time() + 1
    os.utime(yaml, (later, later))
    figures["touch"], _ = timed(["cmake", "--build", str(build), "-j", str(jobs)], env)
    return figures


def fastest(command: list[str], env: dict[str, str], runs: int = 10) -> float | None:
    """The fastest of `runs` runs, in seconds: the cost of the command, not of a busy machine. (Not run in a
    checkout: its folder would come first on sys.path and shadow the Python package being measured.)"""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        if done.returncode != 0:
            return None                  # an older MicroML without this option
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--generators", nargs="*", default=["Ninja", "Unix Makefiles"],
                        help="CMake generators to time (none: only `microml deps`)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--python", default=sys.executable, help="the Python with microml_build (default: this one)")
    parser.add_argument("--cmake-dir", help="MicroML's CMake package folder (default: `microml cmake-dir` of --python)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    env.pop("CMAKE_BUILD_PARALLEL_LEVEL", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # as installed packages run: from cached bytecode
    cmake_dir = args.cmake_dir or subprocess.run([args.python, "-m", "microml_build", "cmake-dir"], env=env,
                                                 capture_output=True, text=True, check=True).stdout.strip()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="microml-cmake-bench-"))
    try:
        src = root / "src"
        make_project(src, args.models)
        yamls = sorted(str(p) for p in (src / "models").glob("*/microml.yaml"))
        deps = [args.python, "-m", "microml_build", "deps"]
        startup = fastest([args.python, "-c", "pass"], env)
        deps_one = fastest(deps + yamls[:1], env)
        deps_all = fastest(deps + ["--json"] + yamls, env)
        rows = []
        for generator in args.generators:
            build = root / ("build-" + generator.split()[0].lower())
            figures = measure(src, build, generator, args.jobs, cmake_dir, args.python, env)
            rows.append((generator, figures))
            print(f"{generator}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    version = subprocess.run(["cmake", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"{args.models} models, {version}, {args.jobs} jobs, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}\n")
    every = f"{deps_all:.3f} s with `--json` for all {args.models}" if deps_all else "no `--json` in this version"
    print(f"`python -m microml_build deps`: {deps_one:.3f} s for one yaml, {every} (the interpreter alone, "
          f"`python -c pass`: {startup:.3f} s); fastest of 10 runs.\n")
    print("| generator | configure | full build (trains every model) | no-op build | touch one yaml, build |")
    print("|---|---:|---:|---:|---:|")
    for generator, f in rows:
        print(f"| {generator} | {f['configure']:.1f} s | {f['build']:.1f} s ({f['trained']:.0f} headers) | "
              f"{f['noop']:.2f} s | {f['touch']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

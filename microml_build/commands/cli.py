"""`microml build|check|deps|cmake-dir|init|watch|...`: turns MicroMLError into one message and exit code 1."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from microml_build import __version__
from microml_build.config import located
from microml_build.errors import MicroMLError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microml", description="Train, convert and verify scikit-learn models "
                                     "as flash-resident C headers for microcontrollers.")
    parser.add_argument("--version", action="version", version=f"microml_build {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("build", help="train, convert, verify and write the header if an input changed")
    b.add_argument("config", nargs="?", default="microml.yaml", help="path to microml.yaml (default: ./microml.yaml)")
    b.add_argument("--force", action="store_true", help="rebuild even if the header is up to date")
    b.add_argument("--output", metavar="PATH", help="write the header here instead of the yaml's `output`")
    b.add_argument("--depfile", metavar="PATH", help="also write a Make-style depfile listing the inputs")
    b.add_argument("--touch", metavar="PATH", help="update PATH's mtime after every successful run (an output for "
                                                   "Make, which has no restat; the header keeps its mtime when the "
                                                   "model is unchanged)")
    b.add_argument("--board", help="also check the header against this board's flash and RAM (one build "
                                   "environment per board sharing one header)")
    b.add_argument("--mcu", help="also measure the header on this MCU family's toolchain")
    b.add_argument("-v", "--verbose", action="store_true", help="show timings and details of each stage")
    b.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    c = sub.add_parser("check", help="exit 1 if the header is missing or stale (for CI)")
    c.add_argument("config", nargs="?", default="microml.yaml")
    c.add_argument("--output", metavar="PATH", help="the header to check instead of the yaml's `output`")

    d = sub.add_parser("deps", help="print the input files of a config, one per line (for build systems)")
    d.add_argument("config", nargs="*", default=["microml.yaml"], help="one or more microml.yaml (default: "
                                                                       "./microml.yaml)")
    d.add_argument("--output-name", action="store_true", help="print the header's file name instead")
    d.add_argument("--json", action="store_true", help="print name, output and inputs of every config as one JSON "
                                                       "document (what the PlatformIO and CMake hooks read)")

    sub.add_parser("cmake-dir", help="print the folder of the CMake package (for -DMicroML_DIR=...)")

    r = sub.add_parser("report", help="write an HTML report: accuracy, agreement, margins, flash and RAM")
    r.add_argument("config", nargs="?", default="microml.yaml")
    r.add_argument("-o", "--output", metavar="HTML", help="where to write it (default: <name>_report.html next to "
                                                          "the yaml)")

    e = sub.add_parser("explain", help="say what a generated header is, from which inputs, and whether it is stale")
    e.add_argument("header", help="a header written by microml build")
    e.add_argument("--config", metavar="YAML", help="the microml.yaml that writes it (default: found next to or "
                                                    "above the header)")

    w = sub.add_parser("watch", help="rebuild the header whenever an input changes, until Ctrl-C (for builds "
                                     "without a pre-build hook, such as the Arduino IDE)")
    w.add_argument("configs", nargs="*", default=["microml.yaml"], metavar="CONFIG",
                   help="microml.yaml files to watch (default: ./microml.yaml)")
    w.add_argument("-v", "--verbose", action="store_true", help="show timings and details of each stage")
    w.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and the watch lines")

    i = sub.add_parser("init", help="scaffold a microml.yaml, train.py and build-system glue")
    i.add_argument("dir", nargs="?", default=".", help="project folder, or the sketch folder with --arduino "
                                                       "(default: .)")
    glue = i.add_mutually_exclusive_group()
    glue.add_argument("--platformio", action="store_true", help="add the PlatformIO hook to platformio.ini")
    glue.add_argument("--cmake", action="store_true", help="print the CMake lines to add")
    glue.add_argument("--arduino", action="store_true", help="an Arduino IDE / arduino-cli sketch folder: yaml, "
                                                             "train.py and the header beside DIR/DIR.ino")
    i.add_argument("--force", action="store_true", help="overwrite existing files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except MicroMLError as exc:
        configs = getattr(args, "config", None)
        configs = [configs] if isinstance(configs, str) else configs
        if configs and len(configs) == 1:   # several yamls: which one the file is beside is not known here
            exc = located(exc, configs[0])
        print(f"[microml] error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[microml] interrupted; the previous header was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:     # `microml deps | head -1`: the reader left; nothing more to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())     # Python's flush at exit would fail again
        return 1


def _build(args) -> int:
    from microml_build.pipeline.build import Log, build

    build(args.config, output=args.output, depfile=args.depfile, force=args.force,
          log=Log(verbose=args.verbose, quiet=args.quiet), board=args.board, mcu=args.mcu, touch_file=args.touch)
    return 0


def _check(args) -> int:
    from microml_build.pipeline.build import check

    ok, reason = check(args.config, output=args.output)
    print(f"[microml] {reason}", file=sys.stderr if not ok else sys.stdout)
    return 0 if ok else 1


def _deps(args) -> int:
    from microml_build.commands.deps import run

    print(run(args.config, as_json=args.json, output_name=args.output_name))
    return 0


def cmake_dir() -> Path:
    """The CMake package folder: the checkout's `cmake/` when run from source, else the installed copy."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "cmake", package.parent / "cmake"):
        if (candidate / "MicroMLConfig.cmake").is_file():
            return candidate
    raise MicroMLError("the CMake package files are missing from this installation",
                       fix="reinstall: pip install --force-reinstall microml-build")


def _cmake_dir(args) -> int:
    print(cmake_dir())
    return 0


def _report(args) -> int:
    from microml_build.commands.report import report

    report(args.config, args.output)
    return 0


def _explain(args) -> int:
    from microml_build.commands.explain import explain, render

    header, config = Path(args.header), Path(args.config) if args.config else None
    if header.is_dir() or header.suffix.lower() in (".yaml", ".yml"):     # the yaml (or its folder): its header
        from microml_build.commands.init_platformio import shell_arg
        from microml_build.config import load_config, located

        given = header
        try:
            loaded = load_config(header)
        except MicroMLError as exc:
            raise located(exc, given) from None
        shown = Path(loaded.display_here(loaded.output))     # as seen from here when the yaml is below
        header = shown if shown.absolute().resolve() == loaded.output.resolve() else loaded.output
        config = config or loaded.file
        if not header.exists():
            raise MicroMLError("not built yet: nothing to explain", file=str(header),
                               fix=f"run `microml build {shell_arg(given)}` first")
    result = explain(header, config)
    print(render(header, result))
    return 0 if result.up_to_date else 1


def _init(args) -> int:
    from microml_build.commands.scaffold import init

    if args.arduino:
        from microml_build.commands.init_arduino import init_arduino

        lines = init_arduino(Path(args.dir), force=args.force)
    else:
        lines = init(Path(args.dir), platformio=args.platformio, cmake=args.cmake, force=args.force)
    for line in lines:
        print(line)
    return 0


def _watch(args) -> int:
    from microml_build.commands.watch import watch
    from microml_build.pipeline.build import Log

    return watch(args.configs, log=Log(verbose=args.verbose, quiet=args.quiet))


COMMANDS = {"watch": _watch, "build": _build, "check": _check, "deps": _deps, "cmake-dir": _cmake_dir, "explain": _explain, "report": _report,
            "init": _init}

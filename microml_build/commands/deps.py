"""`microml deps`: what a config reads and writes, for build systems; the hooks' only way to read a yaml.

Fast on purpose (the CMake module and the PlatformIO hook run it at every configure): it reads the
yaml and the imports of the training code, and never imports numpy, scikit-learn or the lowerings.
"""

from __future__ import annotations

import json
from pathlib import Path

import microml_build
from microml_build.config import Config, load_config
from microml_build.errors import MicroMLError
from microml_build.pipeline.inputs import input_files
from microml_build.pipeline.stamp import read_record, recorded_modules


def inputs(config: Config) -> list[Path]:
    """Every input file that exists: yaml, dataset, script, `train.inputs`, the project modules the training
    imports, and those the last build of the yaml's `output:` saw loaded."""
    files = input_files(config, recorded_modules(config, read_record(config.output)))
    return [path for path in files if path.is_file()]


def _path(path: Path | None) -> str | None:
    """JSON paths use `/` on every system (Windows accepts it; CMake wants it)."""
    return path.as_posix() if path is not None else None


def load(path: str, several: bool) -> Config:
    """The config; with several, an error names the yaml by the path given, not just its file name."""
    try:
        return load_config(path)
    except MicroMLError as exc:
        if several and exc.file in (None, Path(path).name):
            exc.file = str(path)
        raise


def describe(paths: list[str]) -> dict:
    """The JSON document of `microml deps --json`."""
    configs = []
    for path in paths:
        config = load(path, len(paths) > 1)
        files = inputs(config)
        named = [p for p in config.input_files() if p in files]
        configs.append({
            "config": _path(config.file),
            "name": config.name,
            "output": _path(config.output),
            "inputs": [_path(p) for p in files],            # all of them: named, then the modules
            "named": [_path(p) for p in named],             # the yaml, dataset, script, train.inputs
            "modules": [_path(p) for p in files if p not in named],   # project modules the training imports
            "script": _path(config.train.script),
        })
    return {"microml_build": {"version": microml_build.__version__,
                              "module": _path(Path(microml_build.__file__).resolve())},
            "configs": configs}


def run(paths: list[str], *, as_json: bool = False, output_name: bool = False) -> str:
    if as_json:
        return json.dumps(describe(paths), indent=1)
    lines: list[str] = []
    for path in paths:
        config = load(path, len(paths) > 1)
        if output_name:
            lines.append(config.output.name)            # one per config
        else:
            lines += [str(p) for p in inputs(config) if str(p) not in lines]
    return "\n".join(lines)

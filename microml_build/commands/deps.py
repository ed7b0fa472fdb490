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
        configs.append({"config": str(config.file), "name": config.name, "output": str(config.output),
                        "inputs": [str(p) for p in inputs(config)]})
    return {"microml_build": {"version": microml_build.__version__, "module": str(Path(microml_build.__file__))},
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

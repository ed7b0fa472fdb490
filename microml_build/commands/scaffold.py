"""`microml init`: a working microml.yaml and train.py, plus PlatformIO or CMake glue, never overwriting.

Each scaffold builds as it is (the starter trains an SVM on scikit-learn's iris data, so no
dataset file is needed) and the printed next commands run it.
"""

from __future__ import annotations

from pathlib import Path

from microml_build.errors import MicroMLError
from microml_build.commands.init_platformio import (CONFIG_NAME, SCRIPT_NAME, STARTER_SCRIPT, init_platformio, shell_arg,
                                                   starter_yaml, yaml_output)

CMAKE_LISTS = """\
# A host program that classifies comma-separated feature rows from stdin with the MicroML model.
# Configure with: cmake -B build -DMicroML_DIR="$(microml cmake-dir)"
cmake_minimum_required(VERSION 3.20)
project(microml_model C)

find_package(MicroML REQUIRED)

add_executable(classify main.c)
target_link_libraries(classify PRIVATE m)
microml_add_model(classify CONFIG ${CMAKE_CURRENT_SOURCE_DIR}/microml.yaml)
"""

MAIN_C = """\
/* Reads rows of MODEL_N_FEATURES comma-separated numbers from stdin, prints each row's class. */
#include <stdio.h>

#include "model.h"

int main(void)
{
    float x[MODEL_N_FEATURES];
    for (;;) {
        for (int j = 0; j < MODEL_N_FEATURES; j++) {
            if (scanf(j == 0 ? " %f" : " ,%f", &x[j]) != 1) {
                return 0;
            }
        }
        printf("%s\\n", model_label(model_predict(x)));
    }
}
"""

CMAKE_LINES = """\
  find_package(MicroML REQUIRED)          # configure with -DMicroML_DIR="$(microml cmake-dir)"
  microml_add_model(<your target> CONFIG ${CMAKE_CURRENT_SOURCE_DIR}/microml.yaml)"""


def _write_new(path: Path, text: str, force: bool, lines: list[str]) -> None:
    if path.exists() and not force:
        lines.append(f"Kept {path.name} (exists; --force overwrites it)")
        return
    existed = path.exists()
    path.write_text(text, encoding="utf-8")
    lines.append(f"{'Replaced' if existed else 'Created'} {path.name}")


def init(directory: Path, *, platformio: bool = False, cmake: bool = False, force: bool = False) -> list[str]:
    """Scaffold `directory`; returns the lines to print, ending with the next two commands."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise MicroMLError("not a folder", file=str(directory), fix="pass a folder to create the project in")
    directory.mkdir(parents=True, exist_ok=True)
    if platformio:
        lines = init_platformio(directory, force=force)
        cd = [f"  cd {shell_arg(directory)}"] if str(directory) != "." else []
        return lines[:-1] + ["", "Next:", *cd, f"  pio run          # trains, verifies and writes "
                             f"{yaml_output(directory)}, then builds the firmware"]
    lines: list[str] = []
    _write_new(directory / CONFIG_NAME, starter_yaml(""), force, lines)
    _write_new(directory / SCRIPT_NAME, STARTER_SCRIPT, force, lines)
    if cmake:
        if (directory / "CMakeLists.txt").exists() and not force:
            lines += ["Kept CMakeLists.txt; add these lines to it:", CMAKE_LINES]
        else:
            _write_new(directory / "CMakeLists.txt", CMAKE_LISTS, force, lines)
            _write_new(directory / "main.c", MAIN_C, force, lines)
        return lines + ["", "Next:", f'  cmake -S {shell_arg(directory)} -B {shell_arg(directory / "build")} -DMicroML_DIR="$(microml cmake-dir)"',
                        f"  cmake --build {shell_arg(directory / 'build')}"]
    return lines + ["", "Next:", f"  microml build {shell_arg(directory / CONFIG_NAME)}      # writes include/model.h",
                    f"  microml report {shell_arg(directory / CONFIG_NAME)}     # accuracy, agreement, flash and RAM as HTML"]

"""`microml init --arduino SKETCH_DIR`: a MicroML model inside an Arduino IDE / arduino-cli sketch folder.

The IDE compiles only the files inside the sketch folder, and its main file must be
`SKETCH_DIR/SKETCH_DIR.ino`. So microml.yaml and train.py go beside that .ino and the yaml's `output`
is a header in the same folder (the IDE ignores the .yaml, the .py and a data/ folder). A starter
sketch that classifies features typed into the Serial Monitor is created when the folder has no
sketch yet. The starter trains on scikit-learn's iris data, so the project builds as written; the
yaml says how to point it at a CSV in data/. Nothing is overwritten without `force`.
"""

from __future__ import annotations

import re
from pathlib import Path

from microml_build.commands.init_platformio import CONFIG_NAME, SCRIPT_NAME, STARTER_SCRIPT, _write, shell_arg
from microml_build.errors import MicroMLError

HEADER = "model.h"

STARTER_YAML = f"""\
# MicroML model of this Arduino sketch. `microml build` (or `microml watch`, which rebuilds on every
# save) retrains and rewrites {HEADER} beside the .ino when this file, the dataset or {SCRIPT_NAME} changed;
# the Arduino IDE then compiles it with the sketch. The IDE ignores this file, {SCRIPT_NAME} and data/.
name: model                   # C prefix: model_predict(), MODEL_N_FEATURES, model_label_F()
dataset:
  path: sklearn:iris          # your data: a CSV in data/ with a header row, e.g.
  # path: data/samples.csv    #   one numeric column per feature (in the order the sketch fills x[])
  # label: label              #   and the column holding each row's class
train:
  script: {SCRIPT_NAME}            # defines train(X, y) -> fitted estimator
target:
  board: uno                  # uno, nano, mega, nano33ble, pico or esp32: the build fails if it would not fit
output: {HEADER}               # inside the sketch folder, where the IDE compiles it
"""

STARTER_SKETCH = f"""\
// A MicroML model in an Arduino sketch. Open the Serial Monitor at 115200 baud, send one sample per
// line as MODEL_N_FEATURES comma-separated numbers (e.g. 5.1,3.5,1.4,0.2 for the starter's iris
// model), and the sketch answers with the predicted class.
// {HEADER} is written by `microml build` (or `microml watch`) from microml.yaml in this folder.
#include "{HEADER}"

void setup() {{
  Serial.begin(115200);
  Serial.print(F("send "));
  Serial.print(MODEL_N_FEATURES);
  Serial.println(F(" comma-separated numbers per line"));
}}

void loop() {{
  float x[MODEL_N_FEATURES];
  for (int i = 0; i < MODEL_N_FEATURES; i++) {{
    while (!Serial.available()) {{
    }}
    x[i] = Serial.parseFloat();  // your sensors: x[i] = analogRead(A0 + i);
  }}
  // The class names are in flash on AVR: model_label_F() prints them from there.
  Serial.println(model_label_F(model_predict(x)));
}}
"""


def sketch_folder(path: Path) -> Path:
    """The sketch folder for SKETCH_DIR or SKETCH_DIR/SKETCH_DIR.ino."""
    path = Path(path)
    if path.suffix == ".ino" and not path.is_dir():
        return path.parent if path.parent != Path("") else Path(".")
    return path


# The Arduino Sketch Specification's names for a sketch folder and its .ino: a letter, digit or underscore, then
# those, dots and dashes; at most 63 characters; not ending in a dot; not a name Windows reserves.
SKETCH_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9_-])?")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def _check_sketch_name(name: str, folder: Path) -> None:
    """Refuse a folder the Arduino IDE would not open as a sketch, with a name it would."""
    if SKETCH_NAME.fullmatch(name) and name.upper() not in WINDOWS_RESERVED:
        return
    suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".")[:63] or "sketch"
    if not re.match(r"[A-Za-z0-9_]", suggestion):
        suggestion = "_" + suggestion[:62]
    if suggestion.upper() in WINDOWS_RESERVED:
        suggestion += "_sketch"
    raise MicroMLError(f"'{name}' is not a sketch name the Arduino IDE opens: a letter, digit or underscore, then "
                       "letters, digits, underscores, dots and dashes, at most 63 characters (Arduino Sketch "
                       "Specification)", file=str(folder), fix=f"name the sketch folder {suggestion} instead")


def init_arduino(path: Path, force: bool = False) -> list[str]:
    """Scaffold the sketch folder `path`; returns the lines to print, ending with the next commands."""
    folder = sketch_folder(path)
    if folder.exists() and not folder.is_dir():
        raise MicroMLError("not a folder", file=str(folder), fix="pass the sketch folder (it holds <folder>.ino)")
    name = folder.resolve().name
    _check_sketch_name(name, folder)
    sketch = folder / f"{name}.ino"
    others = sorted(p.name for p in folder.glob("*.ino")) if folder.is_dir() else []
    if not sketch.exists() and others:
        raise MicroMLError(f"the folder holds {', '.join(others)} but no {name}.ino: the Arduino IDE opens only "
                           "a sketch named after its folder", file=str(folder),
                           fix=f"rename the main sketch to {name}.ino (or the folder to match it), then run this again")
    folder.mkdir(parents=True, exist_ok=True)

    lines: list[str] = []
    for target, text, what in ((folder / CONFIG_NAME, STARTER_YAML, f"(dataset sklearn:iris, output {HEADER})"),
                               (folder / SCRIPT_NAME, STARTER_SCRIPT, ""),
                               (sketch, STARTER_SKETCH, "(a starter sketch: classifies numbers sent over Serial)")):
        if target.exists() and not force:
            lines.append(f"Kept {target.name} (exists; --force overwrites it)")
            continue
        existed = target.exists()
        _write(target, text)
        lines.append(f"{'Replaced' if existed else 'Created'} {target.name} {what}".rstrip())
    (folder / "data").mkdir(exist_ok=True)
    config = folder / CONFIG_NAME
    return lines + [
        "", f"Your data: put a CSV in {folder / 'data'} and set dataset.path and dataset.label in {config}.",
        "", "Next:",
        f"  microml build {shell_arg(config)}     # writes {folder / HEADER}",
        f"  microml watch {shell_arg(config)}     # or: rebuild it on every save while you work in the IDE",
        f"  then open {sketch} in the Arduino IDE, or: arduino-cli compile -b arduino:avr:uno {shell_arg(folder)}"]

"""Adds MicroML to an existing PlatformIO project: hook script, platformio.ini lines, starter model.

`init_platformio(project)`:
- copies the hook to `<project>/microml_pio.py` (the project root, next to platformio.ini,
  because that is where PlatformIO resolves `extra_scripts = pre:NAME` and where users look);
- adds `pre:microml_pio.py` to `extra_scripts` and `custom_microml_config = microml.yaml` to
  every `[env:*]`, editing the text so every other line and comment stays byte for byte
  (configparser would drop comments and reorder); a value an environment inherits from `[env]`
  or `extends` is extended where it is defined, so inherited scripts are not overridden;
- creates a starter `microml.yaml` (dataset `sklearn:iris`, no file to ship) and `train.py`
  if there is no microml.yaml yet.
Running it again changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from microml_build.errors import MicroMLError

HOOK_NAME = "microml_pio.py"
HOOK_ENTRY = "pre:" + HOOK_NAME
CONFIG_NAME = "microml.yaml"
SCRIPT_NAME = "train.py"
OUTPUT = "include/model.h"
NEXT_STEP = ("Next: `pio run` trains the model and writes the header; the Python that runs it needs "
             "microml_build (python3 on PATH, MICROML_PYTHON or custom_microml_python)")

# PlatformIO platform -> MicroML mcu family (config.MCUS); others get the portable default.
PLATFORM_MCU = {
    "atmelavr": "avr", "atmelmegaavr": "avr",
    "ststm32": "arm", "nordicnrf52": "arm", "raspberrypi": "arm", "atmelsam": "arm", "teensy": "arm",
    "espressif32": "esp32", "native": "host",
}
# PlatformIO board id -> MicroML board (config.BOARDS), for the flash/RAM budget check. The Nano with the new
# bootloader maps to `nano`, whose smaller budget (the old 2 KB bootloader's) is the safe side.
BOARD_IDS = {"uno": "uno", "nanoatmega328": "nano", "nanoatmega328new": "nano", "megaatmega2560": "mega",
             "nano33ble": "nano33ble", "pico": "pico", "rpipico": "pico", "esp32dev": "esp32",
             "esp32doit-devkit-v1": "esp32", "nodemcu-32s": "esp32"}

_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*(?:[;#].*)?$")
_OPTION_RE = re.compile(r"^([A-Za-z0-9_.\-]+)\s*[=:]\s?(.*)$")
_INLINE_COMMENT_RE = re.compile(r"\s+[;#]")

STARTER_SCRIPT = '''"""Training script for MicroML: `train(X, y)` returns a fitted scikit-learn estimator.

MicroML calls train() with the training split of the dataset named in microml.yaml:
  X  float ndarray, one row per sample, the feature columns in the order the C code takes them
  y  the labels (strings stay strings; the header carries them)
It converts whatever comes back into C, compiles it, and checks it against this estimator's
predict() on every row before writing the header.

Swap the model freely: SVC (any kernel), linear models, trees and forests, naive Bayes and
MLPs are supported, alone or after scalers/PCA/feature selection in a Pipeline
(`microml build` lists the supported estimators if you pick another one).
"""

from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def train(X, y):
    # The scaler is folded into the support vectors: the firmware passes raw feature values.
    model = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale"))
    return model.fit(X, y)
'''


def hook_source() -> Path:
    """The hook script: inside the installed package, else the checkout's `platformio_hook/`."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "platformio_hook" / HOOK_NAME, package.parent / "platformio_hook" / HOOK_NAME):
        if candidate.is_file():
            return candidate
    raise MicroMLError("the PlatformIO hook script is missing from this installation",
                       fix="reinstall: pip install --force-reinstall microml-build")


# ---------------------------------------------------------------------------------------------
# platformio.ini as text


@dataclass
class Option:
    name: str       # lower case, as configparser sees it
    start: int      # index of the `name = value` line
    end: int        # index after its last continuation line
    value: str      # the first line's value, inline comment included


@dataclass
class Section:
    name: str
    start: int      # index of the `[name]` line
    end: int        # index of the next section's line (or len(lines))
    options: dict[str, Option] = field(default_factory=dict)


def _parse_ini(lines: list[str]) -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    last: Option | None = None
    for index, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        match = _SECTION_RE.match(line)
        if match:
            if current:
                current.end = index
            current = Section(match.group(1).strip(), index, len(lines))
            sections.append(current)
            last = None
            continue
        if current is None or not line.strip():
            last = None
            continue
        if line[0] in " \t":
            if last is not None:
                last.end = index + 1  # continuation (or an indented comment inside the value)
            continue
        if line.lstrip().startswith((";", "#")):
            continue
        match = _OPTION_RE.match(line)
        if match:
            last = Option(match.group(1).lower(), index, index + 1, match.group(2))
            current.options.setdefault(last.name, last)
    return sections


def _values(lines: list[str], option: Option) -> list[str]:
    """The option's items as PlatformIO splits them (newlines, else ", "), comments removed."""
    text = "\n".join([option.value] + [lines[i].rstrip("\r\n") for i in range(option.start + 1, option.end)])
    items = text.split("\n") if "\n" in text else text.split(", ")
    result = []
    for item in items:
        item = item.strip()
        if not item or item.startswith((";", "#")):
            continue
        result.append(_INLINE_COMMENT_RE.split(" " + item, maxsplit=1)[0].strip())
    return [item for item in result if item]


def _inheritance(sections: dict[str, Section], lines: list[str], env: str) -> list[str]:
    """Sections an [env:*] reads options from, in PlatformIO's order (project/config.py walk_options)."""
    order, stack = [], ["env", env]
    while stack:
        name = stack.pop()
        if name in order:
            continue
        order.append(name)
        section = sections.get(name)
        if section and "extends" in section.options:
            stack.extend(_values(lines, section.options["extends"]))
    return order


def _defined_in(sections: dict[str, Section], lines: list[str], env: str, option: str,
                planned: set[tuple[str, str]] = frozenset()) -> Section | None:
    """The section whose `option` the environment uses (own, `extends`, then [env]), or None."""
    for name in _inheritance(sections, lines, env):
        section = sections.get(name)
        if section and (option in section.options or (name, option) in planned):
            return section
    return None


def _insert_point(lines: list[str], section: Section) -> int:
    """After the section's last option or value line: comments before the next section stay there."""
    point = section.start + 1
    for index in range(section.start + 1, section.end):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith((";", "#")):
            point = index + 1
    return point


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _add_script(lines: list[str], option: Option, newline: str) -> list[tuple[int, int, list[str]]]:
    """Edits that append HOOK_ENTRY to an existing extra_scripts option."""
    continued = [index for index in range(option.start + 1, option.end)
                 if lines[index].strip() and not lines[index].strip().startswith((";", "#"))]
    if continued:  # items one per line: one more line, indented like them
        indent = re.match(r"[ \t]*", lines[continued[0]]).group(0)
        last = lines[option.end - 1]
        fix_last = [] if last.endswith(("\n", "\r")) else [(option.end - 1, option.end, [last + newline])]
        return fix_last + [(option.end, option.end, [indent + HOOK_ENTRY + newline])]
    first = lines[option.start]
    body = first.rstrip("\r\n")
    ending = first[len(body):] or newline
    value_start = len(body) - len(option.value)
    comment = _INLINE_COMMENT_RE.search(body, max(value_start - 1, 0))
    head, tail = (body[:comment.start()], body[comment.start():]) if comment else (body, "")
    if _values(lines, option):
        head = head.rstrip() + ", " + HOOK_ENTRY  # a one-line list: PlatformIO splits it on ", "
    else:
        head = head.rstrip() + " " + HOOK_ENTRY
    return [(option.start, option.start + 1, [head + tail + ending])]


def _env_board(sections: dict[str, Section], lines: list[str], env: str) -> str | None:
    """The PlatformIO board id an environment builds for (its own or inherited `board`), or None."""
    section = _defined_in(sections, lines, env, "board")
    values = _values(lines, section.options["board"]) if section else []
    return values[0] if values else None


def _plan_ini(text: str, yaml_board: str | None = None) -> tuple[str, list[str]]:
    """The new platformio.ini text and one line per change.

    Every environment whose board MicroML knows gets `custom_microml_board` (the hook then checks the shared
    header against that board's flash and RAM), unless the yaml's own target.board is that board or the
    environment already sets the option.
    """
    lines = text.splitlines(keepends=True)
    newline = _newline(text)
    parsed = _parse_ini(lines)
    sections = {section.name: section for section in parsed}
    envs = [section for section in parsed if section.name.startswith("env:")]
    if not envs:
        raise MicroMLError("no [env:NAME] section", file="platformio.ini",
                           fix="add an environment, e.g. `pio project init --board uno`, then run this again")
    edits: list[tuple[int, int, list[str]]] = []
    changes: list[str] = []
    extended: set[str] = set()
    planned: set[tuple[str, str]] = set()  # (section, option) added by this run
    for env in envs:
        new_lines = []
        source = _defined_in(sections, lines, env.name, "extra_scripts", planned)
        if source is None:
            new_lines.append(f"extra_scripts = {HOOK_ENTRY}")
            planned.add((env.name, "extra_scripts"))
            changes.append(f"platformio.ini [{env.name}]: extra_scripts = {HOOK_ENTRY}")
        elif (source.name, "extra_scripts") in planned:
            pass
        elif not any(item.endswith(HOOK_NAME) for item in _values(lines, source.options["extra_scripts"])):
            if source.name not in extended:
                extended.add(source.name)
                edits.extend(_add_script(lines, source.options["extra_scripts"], newline))
                via = "" if source is env else f" (inherited by [{env.name}])"
                changes.append(f"platformio.ini [{source.name}]: added {HOOK_ENTRY} to extra_scripts{via}")
        if _defined_in(sections, lines, env.name, "custom_microml_config", planned) is None:
            new_lines.append(f"custom_microml_config = {CONFIG_NAME}")
            planned.add((env.name, "custom_microml_config"))
            changes.append(f"platformio.ini [{env.name}]: custom_microml_config = {CONFIG_NAME}")
        board_id = _env_board(sections, lines, env.name)
        board = BOARD_IDS.get(board_id or "")
        if _defined_in(sections, lines, env.name, "custom_microml_board") is None and board_id:
            if board is None:
                changes.append(f"platformio.ini [{env.name}]: board {board_id} is not one MicroML knows, so the "
                               "model is not checked against its flash and RAM; give them as target.budget.flash "
                               f"and target.budget.ram in {CONFIG_NAME}")
            elif board != yaml_board:
                new_lines.append(f"custom_microml_board = {board}")
                changes.append(f"platformio.ini [{env.name}]: custom_microml_board = {board} (the build checks "
                               "the model against this board's flash and RAM)")
        if new_lines:
            point = _insert_point(lines, env)
            if point > 0 and not lines[point - 1].endswith(("\n", "\r")):
                edits.append((point - 1, point, [lines[point - 1] + newline]))
            edits.append((point, point, [line + newline for line in new_lines]))
    # Apply bottom-up so indices stay valid. Of two insertions at one line, the one planned first
    # is applied last and so ends up first (a value's continuation line before a new option).
    ordered = sorted(((start, end, seq, text) for seq, (start, end, text) in enumerate(edits)), reverse=True)
    for start, end, _, replacement in ordered:
        lines[start:end] = replacement
    return "".join(lines), changes


# ---------------------------------------------------------------------------------------------
# Starter model


def starter_yaml(text: str) -> str:
    """A starter microml.yaml; its target comes from platformio.ini's `platform`/`board` if all envs agree."""
    mcu, board = _starter_target(text)

    def line(code: str, comment: str = "") -> str:
        return f"{code:<30}# {comment}\n" if comment else code + "\n"

    if board:
        target = line("target:") + line(f"  board: {board}", "bounds the model's flash and RAM")
    elif mcu:
        target = line("target:") + line(f"  mcu: {mcu}", "avr, arm, esp32 or host")
    else:
        target = line("# target: {mcu: avr}", "avr, arm, esp32 or host; the header compiles anywhere")
    return (
        "# MicroML model: builds retrain and rewrite the header only when this file, the dataset\n"
        "# or the training script changed.\n"
        + line("name: model", "C prefix: model_predict(), MODEL_N_FEATURES")
        + line("dataset:")
        + line("  path: sklearn:iris", "or a CSV: path: data/samples.csv, label: <column>")
        + line("train:")
        + line(f"  script: {SCRIPT_NAME}", "defines train(X, y) -> fitted estimator")
        + target
        + line(f"output: {OUTPUT}", '#include "model.h" in src/'))


def _starter_target(text: str) -> tuple[str | None, str | None]:
    """(mcu, board) for the starter yaml: the environments' common platform and board, where they agree."""
    lines = text.splitlines(keepends=True)
    sections = {section.name: section for section in _parse_ini(lines)}
    platforms, boards = set(), set()
    for name in sections:
        if not name.startswith("env:"):
            continue
        for option, found in (("platform", platforms), ("board", boards)):
            section = _defined_in(sections, lines, name, option)
            values = _values(lines, section.options[option]) if section else []
            found.add(values[0] if values else None)
    platform = platforms.pop() if len(platforms) == 1 else None
    mcu = PLATFORM_MCU.get((platform or "").split("@")[0].split("/")[-1].strip())
    board = BOARD_IDS.get(boards.pop()) if len(boards) == 1 else None
    return mcu, board


def existing_yaml(path: Path) -> dict:
    """The project's microml.yaml as plain data, or {} when it is missing or unreadable (init never fails on it)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def yaml_output(project: Path) -> str:
    """The header the project's microml.yaml writes, as written there (the starter's when it has none)."""
    output = existing_yaml(Path(project) / CONFIG_NAME).get("output")
    return output if isinstance(output, str) and output else OUTPUT


def _yaml_board(data: dict) -> str | None:
    target = data.get("target")
    board = target.get("board") if isinstance(target, dict) else None
    return board if isinstance(board, str) else None


def shell_arg(path) -> str:
    """`path` as one argument of a printed command: in double quotes (which sh, cmd and PowerShell all read) when
    it holds a space or a shell character, so a copy-paste of a "Next:" line works."""
    text = str(path)
    return f'"{text}"' if any(c.isspace() or c in "'\"$`&|;<>()*?[]#~!{}" for c in text) else text


def _write(path: Path, text: str) -> None:
    """Write next to the target and rename, so an interrupted init leaves no half file."""
    temp = path.with_name(f".{path.name}.microml-tmp")
    with open(temp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    temp.replace(path)


def init_platformio(project_dir: Path, force: bool = False) -> list[str]:
    """Add MicroML to the PlatformIO project in `project_dir`; returns lines to print, the last
    one always NEXT_STEP.

    `force` replaces a modified hook script and the starter files; platformio.ini is only ever
    extended. MicroMLError if there is no platformio.ini or it has no [env:NAME].
    """
    project = Path(project_dir)
    ini = project / "platformio.ini"
    if not project.is_dir():
        raise MicroMLError("not a folder", file=str(project), fix="pass the PlatformIO project's folder")
    if not ini.is_file():
        raise MicroMLError("no platformio.ini here, so this is not a PlatformIO project", file=str(project),
                           fix="run it in the folder holding platformio.ini, or create one with `pio project init`")
    lines: list[str] = []

    try:
        raw = ini.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MicroMLError(f"not UTF-8 text (byte {exc.start})", file="platformio.ini",
                           fix="save platformio.ini as UTF-8") from None
    config = project / CONFIG_NAME
    keep_yaml = config.exists() and not force
    yaml_board = _yaml_board(existing_yaml(config)) if keep_yaml else _starter_target(raw)[1]
    new_text, changes = _plan_ini(raw, yaml_board)  # raises before anything is written

    hook = hook_source()
    target = project / HOOK_NAME
    wanted = hook.read_bytes()
    if not target.exists():
        target.write_bytes(wanted)
        lines.append(f"Created {HOOK_NAME} (the PlatformIO hook that regenerates the model header)")
    elif target.read_bytes() != wanted:
        if force:
            target.write_bytes(wanted)
            lines.append(f"Replaced {HOOK_NAME} with this version's hook")
        else:
            lines.append(f"Kept {HOOK_NAME}: it differs from this version's hook (--force replaces it)")

    if new_text != raw:
        _write(ini, new_text)
    lines.extend(changes)

    if not keep_yaml:
        existed = config.exists()
        _write(config, starter_yaml(raw))
        lines.append(f"{'Replaced' if existed else 'Created'} {CONFIG_NAME} "
                     f"(dataset sklearn:iris, output {OUTPUT})")
        script = project / SCRIPT_NAME
        if not script.exists() or force:
            existed = script.exists()
            _write(script, STARTER_SCRIPT)
            lines.append(f"{'Replaced' if existed else 'Created'} {SCRIPT_NAME}")
        else:
            lines.append(f"Kept {SCRIPT_NAME}: {CONFIG_NAME} uses it, so it must define train(X, y)")

    if not lines:
        lines.append("Nothing to change: MicroML is already set up in this project")
    lines.append(NEXT_STEP)  # always last, so callers may replace it with their own
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m microml_build.commands.init_platformio [DIR] [--force]`."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m microml_build.commands.init_platformio",
                                     description="Add MicroML to an existing PlatformIO project.")
    parser.add_argument("dir", nargs="?", default=".", help="project folder (default: .)")
    parser.add_argument("--force", action="store_true", help="replace a modified hook and the starter files")
    args = parser.parse_args(argv)
    try:
        for line in init_platformio(Path(args.dir), force=args.force):
            print(line)
    except MicroMLError as exc:
        print(f"[microml] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`init_platformio`: adds the hook to an existing PlatformIO project, editing platformio.ini as text."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from platformio.project.config import ProjectConfig

from microml_build.config import load_config
from microml_build.errors import MicroMLError
from microml_build.commands.init_platformio import NEXT_STEP, init_platformio

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "platformio_hook" / "microml_pio.py"

USER_INI = """\
; PlatformIO Project Configuration File
;   Build options: build flags, source filter
;   https://docs.platformio.org/page/projectconf.html

[platformio]
default_envs = uno

[env]
framework = arduino
extra_scripts = pre:common.py, post:after.py  ; keep this comment
monitor_speed = 115200

[env:uno]
platform = atmelavr
board = uno
build_flags =
    -DFOO=1
    -DBAR="two words"

; comment that belongs to [env:mega]
[env:mega]
platform = atmelavr
board = megaatmega2560
extra_scripts =
    pre:mega.py
    ; pre:old.py
lib_deps = foo

[env:tiny]
extends = env:mega
board = uno
"""


def read_config(project: Path) -> ProjectConfig:
    return ProjectConfig(str(project / "platformio.ini"))


def added_lines(before: str, after: str) -> list[str]:
    """Lines the edit added or changed; fails if it removed or changed anything else."""
    diff = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    removed = [line[2:] for line in diff if line.startswith("- ")]
    added = [line[2:] for line in diff if line.startswith("+ ")]
    assert len(removed) <= 1, removed  # at most the one-line extra_scripts that got an item
    return added


@pytest.fixture
def project(tmp_path) -> Path:
    path = tmp_path / "my firmware"
    path.mkdir()
    (path / "platformio.ini").write_text(USER_INI)
    return path


def test_sets_up_a_project_and_keeps_every_user_line(project):
    lines = init_platformio(project)
    text = (project / "platformio.ini").read_text()

    changed = added_lines(USER_INI, text)
    assert changed == [
        "extra_scripts = pre:common.py, post:after.py, pre:microml_pio.py  ; keep this comment\n",
        "custom_microml_config = microml.yaml\n",
        "custom_microml_board = uno\n",
        "    pre:microml_pio.py\n",
        "custom_microml_config = microml.yaml\n",
        "custom_microml_board = mega\n",
        "custom_microml_board = uno\n",
    ]
    config = read_config(project)
    assert config.get("env:uno", "extra_scripts") == ["pre:common.py", "post:after.py", "pre:microml_pio.py"]
    assert config.get("env:mega", "extra_scripts") == ["pre:mega.py", "pre:microml_pio.py"]
    assert config.get("env:tiny", "extra_scripts") == ["pre:mega.py", "pre:microml_pio.py"]
    assert config.get("env:uno", "build_flags") == ["-DFOO=1", '-DBAR="two words"']
    for env in ("uno", "mega", "tiny"):
        assert config.get(f"env:{env}", "custom_microml_config") == "microml.yaml"
    # The environments' boards differ, so the starter yaml names none and each environment checks its own.
    assert [config.get(f"env:{env}", "custom_microml_board") for env in ("uno", "mega", "tiny")] == \
        ["uno", "mega", "uno"]

    assert (project / "microml_pio.py").read_bytes() == HOOK.read_bytes()
    assert (project / "train.py").is_file()
    starter = load_config(project / "microml.yaml")
    assert starter.dataset.path == "sklearn:iris"
    assert starter.target.mcu == "avr"
    assert starter.output == project / "include" / "model.h"
    assert any("Created microml.yaml" in line for line in lines)
    assert lines[-1] == NEXT_STEP


def test_second_run_changes_nothing(project):
    init_platformio(project)
    files = {path: path.read_bytes() for path in project.iterdir()}
    assert init_platformio(project)[:-1] == ["Nothing to change: MicroML is already set up in this project"]
    assert {path: path.read_bytes() for path in project.iterdir()} == files


def test_new_options_go_to_each_env_without_one(tmp_path):
    ini = "[env:a]\nplatform = native\n\n[env:b]\nplatform = native\n; trailing comment\n"
    (tmp_path / "platformio.ini").write_text(ini)
    init_platformio(tmp_path)
    assert (tmp_path / "platformio.ini").read_text() == (
        "[env:a]\nplatform = native\nextra_scripts = pre:microml_pio.py\ncustom_microml_config = microml.yaml\n\n"
        "[env:b]\nplatform = native\nextra_scripts = pre:microml_pio.py\ncustom_microml_config = microml.yaml\n"
        "; trailing comment\n")
    assert load_config(tmp_path / "microml.yaml").target.mcu == "host"


def test_crlf_and_a_missing_final_newline_are_kept(tmp_path):
    ini = "; windows\r\n[env:uno]\r\nplatform = atmelavr\r\nboard = uno"
    (tmp_path / "platformio.ini").write_bytes(ini.encode())
    init_platformio(tmp_path)
    assert (tmp_path / "platformio.ini").read_bytes() == (
        "; windows\r\n[env:uno]\r\nplatform = atmelavr\r\nboard = uno\r\n"
        "extra_scripts = pre:microml_pio.py\r\ncustom_microml_config = microml.yaml\r\n").encode()
    assert load_config(tmp_path / "microml.yaml").target.board == "uno"


def test_existing_model_files_are_kept(project):
    (project / "microml.yaml").write_text("name: mine\n")
    lines = init_platformio(project)
    assert (project / "microml.yaml").read_text() == "name: mine\n"
    assert not (project / "train.py").exists()
    assert not any("microml.yaml (" in line for line in lines)


def test_a_modified_hook_is_kept_unless_forced(project):
    init_platformio(project)
    (project / "microml_pio.py").write_text("# my local patch\n")
    assert any(line.startswith("Kept microml_pio.py") for line in init_platformio(project))
    assert (project / "microml_pio.py").read_text() == "# my local patch\n"
    init_platformio(project, force=True)
    assert (project / "microml_pio.py").read_bytes() == HOOK.read_bytes()


@pytest.mark.parametrize("ini, message", [
    (None, "no platformio.ini"),
    ("[platformio]\ndefault_envs = uno\n", "no [env:NAME] section"),
], ids=["not-a-project", "no-env"])
def test_bad_projects_are_refused(tmp_path, ini, message):
    if ini is not None:
        (tmp_path / "platformio.ini").write_text(ini)
    with pytest.raises(MicroMLError, match=re.escape(message)) as error:
        init_platformio(tmp_path)
    assert error.value.fix
    assert not (tmp_path / "microml_pio.py").exists()


@pytest.mark.parametrize("ini, scripts", [
    ("[env:a]\nextra_scripts = ; nothing yet\n", ["pre:microml_pio.py"]),
    ("[env:a]\nextra_scripts =\n    ; nothing\nboard = x\n", ["pre:microml_pio.py"]),
    ("[env:a]\nextra_scripts = pre:a.py\n    pre:b.py\n", ["pre:a.py", "pre:b.py", "pre:microml_pio.py"]),
    ("[env:a]\nextra_scripts =   pre:a.py   # why\n", ["pre:a.py", "pre:microml_pio.py"]),
    ("[env:a]\nextra_scripts =\n  pre:a.py\n  post:b.py", ["pre:a.py", "post:b.py", "pre:microml_pio.py"]),
    ("[env:a]\nextra_scripts = ${common.scripts}\n[common]\nscripts = pre:c.py\n", ["pre:c.py", "pre:microml_pio.py"]),
    ("[env:a]\nextra_scripts = post:x.py, pre:scripts/microml_pio.py\n", ["post:x.py", "pre:scripts/microml_pio.py"]),
], ids=["comment-only", "comment-continuation", "one-per-line", "inline-comment", "no-final-newline",
        "interpolated", "already-there"])
def test_extra_scripts_spellings(tmp_path, ini, scripts):
    (tmp_path / "platformio.ini").write_text(ini)
    init_platformio(tmp_path)
    text = (tmp_path / "platformio.ini").read_text()
    assert read_config(tmp_path).get("env:a", "extra_scripts") == scripts
    init_platformio(tmp_path)
    assert (tmp_path / "platformio.ini").read_text() == text


def test_an_existing_yaml_without_a_board_gets_the_per_environment_check(tmp_path):
    (tmp_path / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\nboard = uno\n\n"
                                             "[env:ble]\nplatform = nordicnrf52\nboard = nano33ble\n\n"
                                             "[env:nucleo]\nplatform = ststm32\nboard = nucleo_f411re\n")
    (tmp_path / "microml.yaml").write_text("name: gesture\ndataset: {path: data.csv, label: g}\n"
                                           "train: {script: train.py}\noutput: include/gesture_model.h\n")
    lines = init_platformio(tmp_path)
    config = read_config(tmp_path)
    assert config.get("env:uno", "custom_microml_board") == "uno"
    assert config.get("env:ble", "custom_microml_board") == "nano33ble"
    assert not config.has_option("env:nucleo", "custom_microml_board")
    assert any("nucleo_f411re" in line and "target.budget" in line for line in lines), lines


def test_a_yaml_board_is_not_checked_twice(tmp_path):
    (tmp_path / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\nboard = uno\n\n"
                                             "[env:mega]\nplatform = atmelavr\nboard = megaatmega2560\n")
    (tmp_path / "microml.yaml").write_text("name: m\ndataset: {path: 'sklearn:iris'}\ntrain: {script: train.py}\n"
                                           "target: {board: uno}\noutput: include/m.h\n")
    init_platformio(tmp_path)
    config = read_config(tmp_path)
    assert not config.has_option("env:uno", "custom_microml_board")
    assert config.get("env:mega", "custom_microml_board") == "mega"


def test_cli_prints_the_header_the_existing_yaml_writes(tmp_path):
    import subprocess
    import sys

    (tmp_path / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\nboard = uno\n")
    (tmp_path / "microml.yaml").write_text("name: gesture\ndataset: {path: data.csv, label: g}\n"
                                           "train: {script: train.py}\noutput: include/gesture_model.h\n")
    result = subprocess.run([sys.executable, "-m", "microml_build", "init", "--platformio", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "writes include/gesture_model.h" in result.stdout and "include/model.h" not in result.stdout
    assert read_config(tmp_path).get("env:uno", "custom_microml_board") == "uno"

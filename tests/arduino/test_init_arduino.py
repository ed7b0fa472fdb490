"""`microml init --arduino SKETCH_DIR`: yaml, train.py and a starter sketch in an Arduino IDE sketch folder, the
header written inside it; the project builds as written, and with a CSV of one's own, with the real core."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from arduino_support import arduino_parse_float, builder_elf, need_arduino_builder, repo_env, run_sketch, sklearn_labels
from microml_build.commands.init_arduino import init_arduino
from microml_build.config import load_config
from microml_build.errors import MicroMLError


def microml(*args, cwd):
    return subprocess.run([sys.executable, "-m", "microml_build", *args], cwd=cwd, env=repo_env(),
                          capture_output=True, text=True)


def test_scaffolds_beside_the_sketch_and_points_the_header_into_it(tmp_path):
    folder = tmp_path / "my projects" / "my_sketch"
    lines = init_arduino(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["data", "microml.yaml", "my_sketch.ino", "train.py"]
    assert lines[:3] == ["Created microml.yaml (dataset sklearn:iris, output model.h)", "Created train.py",
                         "Created my_sketch.ino (a starter sketch: classifies numbers sent over Serial)"]
    config = load_config(folder / "microml.yaml")
    assert config.output.resolve() == (folder / "model.h").resolve()
    assert config.target.board == "uno"
    assert any(f"microml build \"{folder / 'microml.yaml'}\"" in line for line in lines)


def test_the_printed_next_commands_work_when_pasted_into_a_shell(tmp_path):
    """A path with a space: the printed commands quote their paths, so a copy-paste passes one argument."""
    import shlex
    folder = tmp_path / "my projects" / "blink"
    lines = init_arduino(folder)
    commands = [shlex.split(line.split("#")[0]) for line in lines if line.startswith("  microml ")]
    assert [c[:2] for c in commands] == [["microml", "build"], ["microml", "watch"]]
    for command in commands:
        assert len(command) == 3 and (tmp_path / command[2]).resolve() == (folder / "microml.yaml").resolve()
    plain = init_arduino(tmp_path / "blink")
    assert f"  microml build {tmp_path / 'blink' / 'microml.yaml'}" in "\n".join(plain)   # quotes only when needed


def test_never_overwrites_without_force(tmp_path):
    folder = tmp_path / "blink"
    folder.mkdir()
    (folder / "blink.ino").write_text("// mine\n")
    (folder / "train.py").write_text("# mine\n")
    lines = init_arduino(folder)
    assert (folder / "blink.ino").read_text() == "// mine\n" and (folder / "train.py").read_text() == "# mine\n"
    assert "Kept blink.ino (exists; --force overwrites it)" in lines
    assert "Created microml.yaml (dataset sklearn:iris, output model.h)" in lines
    again = init_arduino(folder / "blink.ino")              # the .ino's path works too
    assert again[:3] == [f"Kept {name} (exists; --force overwrites it)"
                         for name in ("microml.yaml", "train.py", "blink.ino")]
    init_arduino(folder, force=True)
    assert "model_label_F" in (folder / "blink.ino").read_text()
    assert "def train(X, y)" in (folder / "train.py").read_text()


@pytest.mark.parametrize("name,suggested", [("my sketch", "my_sketch"), ("-blink", "_-blink"), ("blink.", "blink"),
                                            ("CON", "CON_sketch"), ("x" * 64, "x" * 63), ("café", "caf_")])
def test_refuses_a_folder_the_arduino_ide_would_not_open(tmp_path, name, suggested):
    folder = tmp_path / name
    with pytest.raises(MicroMLError) as error:
        init_arduino(folder)
    assert f"'{name}' is not a sketch name" in str(error.value)
    assert error.value.fix == f"name the sketch folder {suggested} instead"
    assert not folder.exists()
    for good in ("blink", "_blink", "2blink", "my-sketch.v2", "a" * 63):
        init_arduino(tmp_path / good)
        assert (tmp_path / good / f"{good}.ino").exists()


def test_refuses_a_folder_whose_sketch_has_another_name(tmp_path):
    folder = tmp_path / "robot"
    folder.mkdir()
    (folder / "main.ino").write_text("void setup() {}\nvoid loop() {}\n")
    with pytest.raises(MicroMLError) as error:
        init_arduino(folder)
    assert "main.ino but no robot.ino" in str(error.value) and "rename" in error.value.fix
    assert sorted(p.name for p in folder.iterdir()) == ["main.ino"]


def test_cli_and_the_starter_builds_as_written(tmp_path):
    done = microml("init", "--arduino", "starter", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Created starter.ino" in done.stdout
    built = microml("build", "starter/microml.yaml", "-q", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "#define MODEL_N_FEATURES 4" in (tmp_path / "starter" / "model.h").read_text()


@pytest.mark.arduino
@pytest.mark.avr
@pytest.mark.simavr
def test_own_csv_then_the_arduino_ide_build_runs_on_a_simulated_uno(tmp_path, uart_run, arduino_cache):
    """The user's path: init, a CSV in data/, the two yaml lines the comment shows, `microml build`,
    then the IDE's build engine with the real core; the sketch answers scikit-learn's labels."""
    need_arduino_builder()
    assert microml("init", "--arduino", "wine_sketch", cwd=tmp_path).returncode == 0
    folder = tmp_path / "wine_sketch"
    from sklearn.datasets import load_wine

    wine = load_wine()
    columns = ["alcohol", "malic_acid", "flavanoids", "color_intensity", "proline"]
    picked = [list(wine.feature_names).index(c) for c in columns]
    X = np.round(wine.data[:, picked], 2)
    labels = [f"cultivar_{t}" for t in wine.target]
    (folder / "data" / "wine.csv").write_text(",".join(columns) + ",cultivar\n" + "".join(
        ",".join(f"{v:g}" for v in row) + f",{label}\n" for row, label in zip(X, labels)))
    yaml = (folder / "microml.yaml").read_text()
    yaml = yaml.replace("  path: sklearn:iris", "  # path: sklearn:iris")
    yaml = yaml.replace("  # path: data/samples.csv", "  path: data/wine.csv").replace("  # label: label",
                                                                                        "  label: cultivar")
    (folder / "microml.yaml").write_text(yaml)
    built = microml("build", "microml.yaml", "-q", cwd=folder)
    assert built.returncode == 0, built.stderr

    elf = builder_elf(folder, tmp_path / "build", arduino_cache)
    typed = [",".join(f"{v:g}" for v in row) for row in X[::12]]
    parsed = np.array([[arduino_parse_float(cell) for cell in line.split(",")] for line in typed])
    expected = sklearn_labels(folder / "microml.yaml", parsed)
    assert len(set(expected)) == 3
    run = run_sketch(uart_run, elf, lines=len(typed) + 1, typed=typed, work=tmp_path)
    assert run.lines == ["send 5 comma-separated numbers per line", *expected]

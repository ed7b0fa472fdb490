"""microml init: each scaffold builds as it is, and nothing is overwritten without --force."""

import os
import shutil
import subprocess
import sys

import pytest

from support import need_tool, require_mark


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "microml_build", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_plain_init_builds_and_compiles(tmp_path):
    need_tool("host")
    result = cli("init", tmp_path / "proj")
    assert result.returncode == 0, result.stderr
    assert "Next:" in result.stdout and "microml build" in result.stdout
    built = cli("build", tmp_path / "proj" / "microml.yaml")
    assert built.returncode == 0, built.stderr
    header = tmp_path / "proj" / "include" / "model.h"
    main = tmp_path / "proj" / "main.c"
    main.write_text('#include "include/model.h"\nint main(void) { float x[MODEL_N_FEATURES] = {5.1f, 3.5f, 1.4f, 0.2f};'
                    ' return model_predict(x); }\n')
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "m"), str(main), "-lm"],
                   check=True)
    assert subprocess.run([str(tmp_path / "m")]).returncode == 0, "setosa is class 0"
    assert header.is_file()


def test_init_never_overwrites_without_force(tmp_path):
    (tmp_path / "microml.yaml").write_text("name: mine\n")
    kept = cli("init", tmp_path)
    assert "Kept microml.yaml" in kept.stdout
    assert (tmp_path / "microml.yaml").read_text() == "name: mine\n"
    forced = cli("init", tmp_path, "--force")
    assert "Replaced microml.yaml" in forced.stdout
    assert "sklearn:iris" in (tmp_path / "microml.yaml").read_text()


@pytest.mark.cmake
def test_cmake_init_configures_builds_and_classifies(tmp_path):
    need_tool("host")
    require_mark("cmake")
    if not shutil.which("cmake"):
        if os.environ.get("CI") == "true":
            pytest.fail("cmake missing (required in CI)")
        pytest.skip("cmake not installed")
    project = tmp_path / "cm"
    assert cli("init", project, "--cmake").returncode == 0
    cmake_dir = cli("cmake-dir").stdout.strip()
    configure = subprocess.run(["cmake", "-S", str(project), "-B", str(project / "build"), f"-DMicroML_DIR={cmake_dir}",
                                f"-DMICROML_PYTHON={sys.executable}"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    build = subprocess.run(["cmake", "--build", str(project / "build")], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    run = subprocess.run([str(project / "build" / "classify")], input="5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
                         capture_output=True, text=True)
    assert run.stdout.split() == ["setosa", "virginica"]


def test_platformio_init_needs_platformio_ini(tmp_path):
    result = cli("init", tmp_path, "--platformio")
    assert result.returncode == 1 and "no platformio.ini here" in result.stderr
    (tmp_path / "platformio.ini").write_text("; my project\n[env:uno]\nplatform = atmelavr\nboard = uno\n")
    result = cli("init", tmp_path, "--platformio")
    assert result.returncode == 0, result.stderr
    ini = (tmp_path / "platformio.ini").read_text()
    assert ini.startswith("; my project\n[env:uno]\n")
    assert "extra_scripts = pre:microml_pio.py" in ini and "custom_microml_config = microml.yaml" in ini
    assert "board: uno" in (tmp_path / "microml.yaml").read_text()
    assert "pio run" in result.stdout


def test_next_commands_quote_a_folder_with_a_space(tmp_path):
    """The printed "Next:" commands work when pasted into a shell, also for a folder named with a space."""
    import shlex
    from microml_build.commands.scaffold import init
    folder = tmp_path / "my proj"
    folder.mkdir()
    (folder / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\nboard = uno\nframework = arduino\n")
    for kind in ({}, {"cmake": True}, {"platformio": True}):
        lines = init(folder, force=True, **kind)
        commands = [shlex.split(line.split("#")[0]) for line in lines[lines.index("Next:") + 1:]]
        for command in commands:
            assert command == ["pio", "run"] or any(arg.startswith(str(folder)) for arg in command), command
            assert all(" " not in arg or arg.startswith((str(folder), "-D")) for arg in command), command

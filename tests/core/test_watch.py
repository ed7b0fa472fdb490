"""`microml watch`: one rebuild per change of an input, debounced; failures keep the header and the watch.

Three levels: the Watcher's state machine with a fake clock and a fake build (deterministic), the
real watchdog observer with real builds in a thread, and the `microml watch` command in a subprocess
stopped with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from microml_build.commands.watch import Watcher
from microml_build.errors import MicroMLError
from microml_build.pipeline.build import Log

REPO = Path(__file__).resolve().parents[2]

YAML = """\
name: {name}
dataset: {{path: {data}, label: species}}
train: {{script: {script}}}
verify: {{measure: false}}
output: {name}.h
"""
SCRIPT = """\
from sklearn.tree import DecisionTreeClassifier


def train(X, y):
    return DecisionTreeClassifier(max_depth={depth}, random_state=0).fit(X, y)
"""


def make_project(folder: Path, names=("iris",), shared_script: bool = True) -> list[Path]:
    """Configs in `folder` over one CSV; each its own script unless shared."""
    from sklearn.datasets import load_iris

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    iris = load_iris()
    (folder / "data" / "iris.csv").write_text("a,b,c,d,species\n" + "".join(
        ",".join(f"{v:g}" for v in row) + f",{iris.target_names[t]}\n" for row, t in zip(iris.data, iris.target)))
    configs = []
    for name in names:
        script = "train.py" if shared_script else f"train_{name}.py"
        (folder / script).write_text(SCRIPT.format(depth=2))
        config = folder / f"{name}.yaml"
        config.write_text(YAML.format(name=name, data="data/iris.csv", script=script))
        configs.append(config)
    return configs


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def fake_watcher(configs, fail=()):
    calls = []

    def build(path):
        calls.append(path.name)
        if path.name in fail:
            raise MicroMLError("train.py: train(X, y) raised SyntaxError", file=path.name)

    clock = FakeClock()
    watcher = Watcher(configs, build=build, debounce=0.3, clock=clock, log=Log(quiet=True))
    return watcher, calls, clock


# ---------------------------------------------------------------------------------------------
# The state machine


def test_a_burst_of_events_is_one_rebuild_after_the_quiet_period(tmp_path):
    [config] = make_project(tmp_path)
    watcher, calls, clock = fake_watcher([config])
    for step in range(5):                      # an editor's save: truncate, write, write, close, ...
        assert watcher.notify(tmp_path / "train.py")
        clock.now += 0.05
    assert watcher.build_due() == [] and calls == []    # 0.05 s after the last event: still waiting
    clock.now += 0.26
    assert watcher.build_due() == [config.absolute()]
    assert calls == ["iris.yaml"]
    clock.now += 10
    assert watcher.build_due() == [] and calls == ["iris.yaml"]


def test_only_inputs_count(tmp_path):
    [config] = make_project(tmp_path)
    watcher, calls, clock = fake_watcher([config])
    for other in ("iris.h", ".iris.h.tmp", "notes.txt", "data/other.csv", ".train.py.swp"):
        assert not watcher.notify(tmp_path / other)
    assert watcher.notify(tmp_path / "data" / "iris.csv")
    assert watcher.notify(tmp_path / "data" / ".." / "iris.yaml")     # any spelling of the path
    clock.now += 1
    assert watcher.build_due() == [config.absolute()] and calls == ["iris.yaml"]
    assert watcher.folders() == {tmp_path.resolve(), (tmp_path / "data").resolve()}


def test_two_configs_rebuild_independently_and_share_an_input(tmp_path):
    first, second = make_project(tmp_path, ("one", "two"), shared_script=False)
    watcher, calls, clock = fake_watcher([first, second, first])       # a repeated config counts once
    assert watcher.configs == [first.absolute(), second.absolute()]
    watcher.notify(tmp_path / "train_two.py")
    clock.now += 1
    assert watcher.build_due() == [second.absolute()] and calls == ["two.yaml"]
    watcher.notify(tmp_path / "data" / "iris.csv")                     # both read it
    clock.now += 1
    assert watcher.build_due() == [first.absolute(), second.absolute()]
    assert calls == ["two.yaml", "one.yaml", "two.yaml"]


def test_a_failed_build_is_reported_and_the_next_change_rebuilds(tmp_path):
    [config] = make_project(tmp_path)
    watcher, calls, clock = fake_watcher([config], fail={"iris.yaml"})
    watcher.notify(tmp_path / "train.py")
    clock.now += 1
    watcher.build_due()
    assert watcher.builds == [(config.absolute(), False)]
    watcher.notify(tmp_path / "train.py")
    clock.now += 1
    watcher.build_due()
    assert len(calls) == 2


def test_the_inputs_follow_the_yaml(tmp_path):
    [config] = make_project(tmp_path)
    (tmp_path / "data" / "more.csv").write_text((tmp_path / "data" / "iris.csv").read_text())
    watcher, calls, clock = fake_watcher([config])
    config.write_text(config.read_text().replace("data/iris.csv", "data/more.csv"))
    watcher.notify(config)
    clock.now += 1
    watcher.build_due()
    assert not watcher.notify(tmp_path / "data" / "iris.csv")
    assert watcher.notify(tmp_path / "data" / "more.csv")
    config.write_text("name: [broken\n")                    # invalid yaml: keep watching what we had
    watcher.notify(config)
    clock.now += 1
    watcher.build_due()
    assert watcher.notify(tmp_path / "data" / "more.csv") and watcher.notify(config)


def test_a_missing_config_is_an_error(tmp_path):
    with pytest.raises(MicroMLError) as error:
        Watcher([tmp_path / "nope.yaml"])
    assert "no such file" in str(error.value)


# ---------------------------------------------------------------------------------------------
# Real file events, real builds


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_real_events_edit_break_and_fix(tmp_path, capsys):
    """An edit rebuilds once; a syntax error keeps the header and the watch; the fix rebuilds."""
    [config] = make_project(tmp_path)
    header = tmp_path / "iris.h"
    built = []

    def build(path):
        from microml_build.pipeline.build import build as build_header

        result = build_header(path, log=Log(quiet=True))
        built.append(result.built)

    watcher = Watcher([config], build=build, debounce=0.2, log=Log(quiet=True))
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=watcher.run, kwargs={"stop": stop, "ready": ready.set}, daemon=True)
    thread.start()
    try:
        assert ready.wait(120), "the first build did not finish"
        assert built == [True] and header.is_file()
        first = header.read_bytes()

        script = tmp_path / "train.py"
        script.write_text(SCRIPT.format(depth=3))                    # an edit
        wait_for(lambda: len(watcher.builds) == 2, what="the rebuild after an edit")
        time.sleep(0.6)                                              # 3x the debounce: nothing else follows
        assert built == [True, True] and len(watcher.builds) == 2
        second = header.read_bytes()
        assert second != first and "max_depth" in second.decode()

        script.write_text(SCRIPT.format(depth=3).replace("def train(X, y):", "def train(X, y)"))   # broken
        wait_for(lambda: len(watcher.builds) == 3, what="the failed rebuild")
        assert watcher.builds[-1] == (config.absolute(), False)
        assert header.read_bytes() == second
        err = capsys.readouterr().err
        assert "[microml] error: train.py: syntax error on line 4" in err
        assert "the previous header was kept; watching" in err

        script.write_text(SCRIPT.format(depth=4))                    # fixed: watching went on
        wait_for(lambda: len(watcher.builds) == 4, what="the rebuild after the fix")
        assert watcher.builds[-1] == (config.absolute(), True)
        assert header.read_bytes() not in (first, second)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_the_command_runs_until_ctrl_c(tmp_path):
    first, second = make_project(tmp_path, ("one", "two"), shared_script=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "microml_build", "watch", first.name, second.name],
                               cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("Ctrl-C stops" in line for line in lines), 120, "the watch line")
        assert sum("[microml] Wrote " in line for line in lines) == 2        # both headers, once each
        (tmp_path / "train_two.py").write_text(SCRIPT.format(depth=3))
        wait_for(lambda: sum("[microml] Wrote " in line for line in lines) == 3, 60, "the rebuild of two.yaml")
        assert any(line.startswith("[microml] train_two.py changed: rebuilding two.yaml") for line in lines)
        time.sleep(0.8)
        assert sum("[microml] Wrote " in line for line in lines) == 3
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(30)
        finally:
            process.kill()
    reader.join(5)
    assert code == 0, "".join(lines)
    assert lines[-1].strip() == "[microml] stopped watching (Ctrl-C)"


def test_a_folder_stands_for_its_microml_yaml(tmp_path):
    """`microml watch gesture`, as `microml build gesture`: the folder's microml.yaml."""
    [config] = make_project(tmp_path / "gesture")
    config.rename(config.with_name("microml.yaml"))
    watcher, calls, clock = fake_watcher([tmp_path / "gesture"])
    assert watcher.configs == [(tmp_path / "gesture" / "microml.yaml").absolute()]
    assert watcher.notify(tmp_path / "gesture" / "train.py")
    clock.now += 1
    assert watcher.build_due() and calls == ["microml.yaml"]

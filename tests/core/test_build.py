"""microml build: incremental, atomic, deterministic; failures keep the last good header."""

import errno
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from microml_build.pipeline.build import Log, build, check
from microml_build.errors import MicroMLError
from microml_build.pipeline import stamp
from microml_build.pipeline.stamp import read_stamp

QUIET = Log(quiet=True)


def run_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "microml_build", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_build_writes_verified_header(project):
    result = build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    assert result.built and header.is_file()
    text = header.read_text()
    assert "static inline int iris_predict(const float *x)" in text
    assert "#define IRIS_N_FEATURES 4" in text and "#define IRIS_N_CLASSES 3" in text
    assert '"setosa"' in text and "#define IRIS_CLASS_VERSICOLOR 1" in text
    assert "agreement 150/150" in text
    assert read_stamp(header)


def test_second_build_is_a_no_op_and_keeps_mtime(project):
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    os.utime(header, ns=(1_000_000_000, 1_000_000_000))
    result = build(project / "microml.yaml", log=QUIET)
    assert not result.built
    assert header.stat().st_mtime_ns == 1_000_000_000


@pytest.mark.parametrize("edit", ["dataset", "script", "yaml"])
def test_each_input_change_rebuilds(project, edit):
    build(project / "microml.yaml", log=QUIET)
    before = read_stamp(project / "include" / "iris_model.h")
    if edit == "dataset":
        with open(project / "data.csv", "a") as f:
            f.write("5.0,3.0,1.5,0.2,setosa\n")
    elif edit == "script":
        (project / "train.py").write_text((project / "train.py").read_text().replace("C=10", "C=3"))
    else:
        (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace("random_state: 0",
                                                                                             "random_state: 1"))
    assert not check(project / "microml.yaml")[0]
    assert build(project / "microml.yaml", log=QUIET).built
    assert read_stamp(project / "include" / "iris_model.h") != before
    assert check(project / "microml.yaml")[0]


def test_force_rebuilds_byte_identical(project):
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    first = header.read_bytes()
    assert build(project / "microml.yaml", force=True, log=QUIET).built
    assert header.read_bytes() == first


def test_output_is_independent_of_checkout_path_cwd_and_hash_seed(project, tmp_path):
    copy = tmp_path / "another place with spaces" / "fw"
    copy.parent.mkdir()
    subprocess.run(["cp", "-r", str(project), str(copy)], check=True)
    a = run_cli("build", "microml.yaml", cwd=project, env={"PYTHONHASHSEED": "1"})
    b = run_cli("build", str(copy / "microml.yaml"), cwd=tmp_path, env={"PYTHONHASHSEED": "2"})
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert (project / "include/iris_model.h").read_bytes() == (copy / "include/iris_model.h").read_bytes()
    assert str(tmp_path) not in (copy / "include/iris_model.h").read_text()


def test_failed_training_keeps_previous_header(project):
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    good = header.read_bytes()
    (project / "train.py").write_text("def train(X, y):\n    raise RuntimeError('boom in user code')\n")
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", log=QUIET)
    assert "boom in user code" in str(err.value) and "train.py" in str(err.value)
    assert header.read_bytes() == good
    assert sorted(p.name for p in header.parent.iterdir()) == ["iris_model.h"]


@pytest.mark.parametrize("fault", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_write_fault_keeps_previous_header_and_leaves_no_temp(project, monkeypatch, fault):
    """Disk full / read-only / permission denied while writing: old header intact, nothing left over."""
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    good = header.read_bytes()
    (project / "train.py").write_text((project / "train.py").read_text().replace("C=10", "C=2"))
    real_write = stamp._write_all

    def failing_write(fd, data):
        real_write(fd, data[:100])
        raise OSError(fault, os.strerror(fault))

    monkeypatch.setattr(stamp, "_write_all", failing_write)
    with pytest.raises(MicroMLError, match="cannot write the header"):
        build(project / "microml.yaml", log=QUIET)
    monkeypatch.undo()
    assert header.read_bytes() == good
    assert [p.name for p in header.parent.iterdir()] == ["iris_model.h"]


def test_cli_exit_codes_and_messages(project):
    ok = run_cli("build", str(project / "microml.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert "[microml] Wrote include/iris_model.h" in ok.stderr
    again = run_cli("build", str(project / "microml.yaml"))
    assert "[microml] Skipping include/iris_model.h (up to date)" in again.stderr
    assert run_cli("check", str(project / "microml.yaml")).returncode == 0
    (project / "data.csv").write_text((project / "data.csv").read_text() + "5.1,3.5,1.4,0.3,setosa\n")
    stale = run_cli("check", str(project / "microml.yaml"))
    assert stale.returncode == 1 and "stale" in stale.stderr
    bad = run_cli("build", str(project / "missing.yaml"))
    assert bad.returncode == 1 and "config file not found" in bad.stderr
    assert run_cli("--version").stdout.startswith("microml_build ")


def test_deps_and_depfile(project):
    deps = run_cli("deps", str(project / "microml.yaml"))
    assert deps.stdout.split() == [str(project / n) for n in ("microml.yaml", "data.csv", "train.py")]
    depfile = project / "build dir" / "model.d"
    out = project / "build dir" / "model.h"
    r = run_cli("build", str(project / "microml.yaml"), "--output", str(out), "--depfile", str(depfile))
    assert r.returncode == 0, r.stderr
    text = depfile.read_text()
    assert text.startswith(str(out).replace(" ", "\\ ") + ": ")
    assert str(project / "train.py") in text
    assert out.is_file() and not (project / "include").exists()


def test_inline_estimator_and_sklearn_dataset(tmp_path):
    (tmp_path / "microml.yaml").write_text(
        "name: wine\ndataset: {path: 'sklearn:wine'}\ntrain:\n  estimator: sklearn.svm.SVC\n"
        "  params: {kernel: linear, C: 0.1}\noutput: wine.h\n")
    result = build(tmp_path / "microml.yaml", log=QUIET)
    assert "SVC(linear)" in result.summary and "agreement 178/178" in result.summary


def test_script_prints_do_not_reach_stdout(project):
    (project / "train.py").write_text(TRAIN := (project / "train.py").read_text().replace(
        "    return", "    print('hello from train')\n    return"))
    r = run_cli("build", str(project / "microml.yaml"))
    assert r.returncode == 0 and "hello from train" not in r.stdout and "hello from train" in r.stderr
    assert TRAIN


def test_parallel_builds_are_serialised(project):
    procs = [subprocess.Popen([sys.executable, "-m", "microml_build", "build", str(project / "microml.yaml")],
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    logs = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    assert sum("Wrote" in log for log in logs) == 1
    assert sum("Skipping" in log for log in logs) == 2
    assert check(project / "microml.yaml")[0]


def test_model_over_flash_budget_fails_with_figures_and_keeps_header(project):
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    good = header.read_bytes()
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  mcu: avr\n  budget: {flash: 512}\n"))
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", log=QUIET)
    assert "bytes of flash" in str(err.value) and "the budget is 512 bytes" in str(err.value)
    assert err.value.key == "target.budget.flash"
    assert header.read_bytes() == good


@pytest.mark.avr
@pytest.mark.simavr
def test_budget_uses_measured_avr_footprint(project):
    from support import need_simavr, need_tool

    need_tool("avr")
    need_simavr()
    yaml = (project / "microml.yaml").read_text().replace("measure: false", "measure: true")
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  mcu: avr\n  budget: {ram: 16}\n"))
    with pytest.raises(MicroMLError, match=r"bytes of RAM \+ \d+ of stack \(measured\); the budget is 16 bytes"):
        build(project / "microml.yaml", log=QUIET)
    (project / "microml.yaml").write_text(yaml)
    result = build(project / "microml.yaml", log=QUIET)
    assert "B stack" in result.summary and "cycles (avr, measured)" in result.summary


def test_board_override_checks_the_shared_header_against_another_board(project):
    """Two environments, one header: --board adds that board's budget check without changing the header."""
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    before = header.read_bytes()
    result = build(project / "microml.yaml", board="esp32", log=QUIET)
    assert not result.built and header.read_bytes() == before
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  mcu: avr\n  budget: {flash: 100K}\n"))
    with pytest.raises(MicroMLError, match="unknown board 'unoo'"):
        build(project / "microml.yaml", board="unoo", log=QUIET)
    tiny = run_cli("build", str(project / "microml.yaml"), "--board", "uno")
    assert tiny.returncode == 0, tiny.stderr
    assert "Fits uno" in tiny.stderr


def test_verification_mismatch_fails_loudly_and_keeps_previous_header(project, monkeypatch):
    """A header that disagrees with scikit-learn is never written: the build fails with the row and figures."""
    from microml_build.emit import header as header_module

    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    good = header.read_bytes()
    (project / "train.py").write_text((project / "train.py").read_text().replace("C=10", "C=5"))
    real_emit = header_module.emit_header

    def wrong_emit(*args, **kwargs):
        emitted = real_emit(*args, **kwargs)
        broken = emitted.text.replace("decision[pair] += MICROML_READ_FLOAT(&iris_intercept[pair]);",
                                      "decision[pair] += MICROML_READ_FLOAT(&iris_intercept[pair]) + 0.5f;")
        assert broken != emitted.text
        return header_module.Emitted(broken, emitted.table_bytes)

    monkeypatch.setattr(header_module, "emit_header", wrong_emit)
    with pytest.raises(MicroMLError, match=r"the C code disagrees with scikit-learn on row \d+: C says class"):
        build(project / "microml.yaml", log=QUIET)
    assert header.read_bytes() == good


def test_gamma_scale_on_constant_features(tmp_path):
    """gamma='scale' with zero variance (scikit-learn then uses gamma=1) and constant columns: still exact."""
    import numpy as np

    rng = np.random.RandomState(0)
    X = np.column_stack([rng.randn(120), np.full(120, 3.0), rng.randn(120)])
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] + X[:, 2] > 0).astype(int))
    np.savez(tmp_path / "flat.npz", X=np.ones((120, 2)), y=np.arange(120) % 2)
    for data in ("d.npz", "flat.npz"):
        (tmp_path / "microml.yaml").write_text(
            f"name: m\ndataset: {{path: {data}}}\ntrain: {{estimator: sklearn.svm.SVC}}\noutput: m.h\n"
            "verify: {measure: false}\n")
        result = build(tmp_path / "microml.yaml", log=QUIET, force=True)
        assert "agreement 120/120" in result.summary


def test_a_changed_generator_rebuilds_even_at_the_same_version(project, monkeypatch):
    from microml_build.pipeline import stamp

    build(project / "microml.yaml", log=QUIET)
    stamp.generator_digest.cache_clear()
    monkeypatch.setattr(stamp, "generator_digest", lambda: "0" * 64)
    assert not check(project / "microml.yaml")[0]
    assert build(project / "microml.yaml", log=QUIET).built


BIG_FOREST = """\
from sklearn.ensemble import RandomForestClassifier


def train(X, y):
    return RandomForestClassifier(n_estimators={n}, random_state=0).fit(X, y)
"""


def big_model(project, n_trees: int, target: str, measure: bool) -> None:
    """Unpruned trees on 2,000 rows of noise: about 3 KB of tables per tree."""
    rng = np.random.RandomState(0)
    rows = [",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in
            zip(rng.rand(2000, 6), rng.choice(["a", "b"], 2000))]
    (project / "data.csv").write_text("f0,f1,f2,f3,f4,f5,species\n" + "\n".join(rows) + "\n")
    (project / "train.py").write_text(BIG_FOREST.format(n=n_trees))
    yaml = (project / "microml.yaml").read_text().replace("  mcu: avr\n", target)
    (project / "microml.yaml").write_text(yaml.replace("measure: false", f"measure: {str(measure).lower()}"))


def test_budget_errors_name_the_key_the_limit_came_from(project):
    """A board's own limit cites target.board, an explicit budget its key, --board the command line; and the
    estimate is checked before verification, so a model far too big fails at once."""
    big_model(project, 14, "  board: uno\n", measure=False)
    with pytest.raises(MicroMLError, match=r"needs \d+ bytes of flash \(estimated, not measured\); the budget "
                                           r"is 32256 bytes") as err:
        build(project / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "target.board")
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  board: uno\n", "  board: mega\n  budget: {flash: 20K}\n"))
    with pytest.raises(MicroMLError, match="the budget is 20480 bytes") as err:
        build(project / "microml.yaml", log=QUIET)
    assert err.value.key == "target.budget.flash"
    (project / "microml.yaml").write_text(yaml.replace("  board: uno\n", "  board: mega\n"))
    build(project / "microml.yaml", log=QUIET)
    with pytest.raises(MicroMLError, match="the budget is 30720 bytes") as err:
        build(project / "microml.yaml", board="nano", log=QUIET)
    assert (err.value.file, err.value.key) == ("command line", "--board")


def test_avr_tables_must_fit_the_first_64_kb(project):
    """pgm_read_* reach the first 64 KB of flash: an ATmega2560 model with more tables is refused by name, not
    written to fail silently on the chip."""
    big_model(project, 24, "  board: mega\n", measure=False)
    with pytest.raises(MicroMLError, match=r"tables take \d+ bytes; on AVR they must fit in the first 64 KB") as err:
        build(project / "microml.yaml", log=QUIET)
    assert err.value.key == "target.board" and "63 KB" in err.value.fix
    assert not (project / "include" / "iris_model.h").exists()


@pytest.mark.avr
@pytest.mark.simavr
def test_mega_is_measured_on_an_atmega2560(project):
    """A model too big for an ATmega328P builds, and is measured, on the Mega's own chip under simavr."""
    from support import need_simavr, need_tool

    need_tool("avr")
    need_simavr()
    big_model(project, 14, "  board: mega\n", measure=True)
    result = build(project / "microml.yaml", log=QUIET)
    flash = int(re.search(r"flash ([\d.]+) KB", result.summary).group(1).split(".")[0])
    assert flash > 32 and "cycles (atmega2560, measured)" in result.summary, result.summary


@pytest.mark.avr
def test_an_avr_model_that_overflows_the_measuring_chip_is_a_size_error_not_a_bug(project):
    """mcu: avr without a board has no budget; the ATmega328P it is measured on is too small: say so."""
    from support import need_tool

    need_tool("avr")
    big_model(project, 14, "  mcu: avr\n", measure=True)
    with pytest.raises(MicroMLError, match=r"does not fit the flash of the avr it is measured on: the linker "
                                           r"reports \d+ bytes too many") as err:
        build(project / "microml.yaml", log=QUIET)
    assert err.value.key == "target.mcu" and "target.board" in err.value.fix and "bug" not in str(err.value)


@pytest.mark.arm
def test_pico_is_measured_on_a_cortex_m0plus(project):
    """The RP2040 has no FPU: its figures come from a Cortex-M0+ build (soft float), not a Cortex-M4F one."""
    from support import need_tool

    need_tool("cortex-m0plus")
    yaml = (project / "microml.yaml").read_text().replace("measure: false", "measure: true")
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  board: pico\n"))
    result = build(project / "microml.yaml", log=QUIET)
    assert "(cortex-m0plus, measured)" in result.summary, result.summary


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unseeded_estimators_give_the_same_header_every_build(project):
    """random_state left at None (a forest, an MLP): training is seeded, so rebuilding gives the same bytes."""
    yaml = (project / "microml.yaml").read_text()
    for estimator in ("RandomForestClassifier\n  params: {n_estimators: 5}", "MLPClassifier\n  params: {max_iter: 50}"):
        (project / "microml.yaml").write_text(yaml.replace("  script: train.py", f"  estimator: {estimator}"))
        header = project / "include" / "iris_model.h"
        build(project / "microml.yaml", force=True, log=QUIET)
        first = header.read_bytes()
        build(project / "microml.yaml", force=True, log=QUIET)
        assert header.read_bytes() == first, estimator


def test_a_class_held_out_entirely_is_an_error_not_a_missing_class(project):
    """One 'warm' row lands in the test split: the model cannot predict it, so the build says so."""
    text = (project / "data.csv").read_text().splitlines()
    text.append("5.0,3.0,1.6,0.2,warm")
    (project / "data.csv").write_text("\n".join(text) + "\n")
    yaml = (project / "microml.yaml").read_text().replace("  random_state: 0", "  random_state: 1")
    (project / "microml.yaml").write_text(yaml)
    for seed in range(1, 40):      # find a split that holds the row out
        (project / "microml.yaml").write_text(yaml.replace("random_state: 1", f"random_state: {seed}"))
        try:
            build(project / "microml.yaml", force=True, log=QUIET)
        except MicroMLError as err:
            assert "class 'warm' has 1 row, all held out for testing" in str(err) and err.key == "dataset.label"
            return
        header = (project / "include" / "iris_model.h").read_text()
        assert "#define IRIS_N_CLASSES 4" in header      # learned when it was in the training rows
    pytest.fail("no split held the single row out")


def test_an_uno_model_over_64_kb_gets_the_uno_budget_not_the_64_kb_rule(project):
    """The board's own budget (32 KB) is the limit that matters on an Uno, and it is checked first."""
    big_model(project, 24, "  board: uno\n", measure=False)
    with pytest.raises(MicroMLError, match="the budget is 32256 bytes") as err:
        build(project / "microml.yaml", log=QUIET)
    assert err.value.key == "target.board"


@pytest.mark.parametrize("precision", ["float", "fixed16", "fixed8"])
def test_board_check_reports_the_figures_the_build_reported(project, precision):
    """`--board` (PlatformIO's custom_microml_board) reads the header's facts: the same flash figure the build
    line gave, for every precision, where it once summed the header's comments into another number."""
    (project / "train.py").write_text("from sklearn.ensemble import RandomForestClassifier\n\n\n"
                                      "def train(X, y):\n"
                                      "    return RandomForestClassifier(n_estimators=5, max_depth=4, "
                                      "random_state=0).fit(X, y)\n")
    yaml = (project / "microml.yaml").read_text().replace("  mcu: avr\n", f"  mcu: avr\n  precision: {precision}\n")
    (project / "microml.yaml").write_text(yaml)
    built = run_cli("build", str(project / "microml.yaml"))
    assert built.returncode == 0, built.stderr
    cost = re.search(r"features, (model data .*?RAM 0 B)", built.stderr).group(1)
    board = run_cli("build", str(project / "microml.yaml"), "--board", "mega")
    assert board.returncode == 0, board.stderr
    assert f"Fits mega: {cost}" in board.stderr
    facts = stamp.read_header(project / "include" / "iris_model.h").facts
    assert facts["precision"] == precision and facts["tables"] > 0
    assert f"{facts['tables']} B" in cost or f"{facts['tables'] / 1024:.1f} KB" in cost


@pytest.mark.avr
@pytest.mark.simavr
def test_board_check_on_the_measured_chip_reports_the_measured_figures(project):
    """The build measures a real row; `--board uno` (the same ATmega328P) reports those figures, cycles
    included, not a second measurement on another input. A board on another chip is measured on its own."""
    from support import need_simavr, need_tool

    need_tool("avr")
    need_simavr()
    yaml = (project / "microml.yaml").read_text().replace("measure: false", "measure: true")
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  mcu: avr\n  board: uno\n"))
    built = run_cli("build", str(project / "microml.yaml"))
    assert built.returncode == 0, built.stderr
    cost = re.search(r"(flash \S+ \S+, RAM .*?cycles \(avr, measured\))", built.stderr).group(1)
    same = run_cli("build", str(project / "microml.yaml"), "--board", "uno")
    assert same.returncode == 0, same.stderr
    assert f"Fits uno: {cost}" in same.stderr
    other = run_cli("build", str(project / "microml.yaml"), "--board", "mega")
    assert other.returncode == 0, other.stderr
    assert re.search(r"Fits mega: flash .* cycles \(atmega2560, measured\)", other.stderr), other.stderr


def test_errors_name_files_from_the_folder_the_command_runs_in(project):
    """`microml build fw/microml.yaml` from fw's parent: the error says fw/train.py and fw/microml.yaml, the
    paths a user can open from there; run inside fw, it says train.py, as before."""
    (project / "train.py").write_text("def train(X, y):\n    return 1 / 0\n")
    parent = run_cli("build", "fw/microml.yaml", cwd=project.parent)
    assert parent.returncode == 1 and "error: fw/train.py:" in parent.stderr, parent.stderr
    inside = run_cli("build", "microml.yaml", cwd=project)
    assert inside.returncode == 1 and "error: train.py:" in inside.stderr, inside.stderr
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text() + "bogus: 1\n")
    yaml = run_cli("build", "fw/microml.yaml", cwd=project.parent)
    assert "error: fw/microml.yaml: bogus: unknown key" in yaml.stderr, yaml.stderr


def test_build_and_check_name_the_header_from_the_folder_the_command_runs_in(project):
    """From fw's parent, `Wrote`/`Skipping`/`check` name fw/include/iris_model.h (what a user can open from
    there), as errors do; inside fw, include/iris_model.h, as before."""
    header = "fw/include/iris_model.h"
    missing = run_cli("check", "fw/microml.yaml", cwd=project.parent)
    assert missing.returncode == 1 and f"{header} is missing: run `microml build fw/microml.yaml`" in missing.stdout \
        + missing.stderr, missing.stdout + missing.stderr
    first = run_cli("build", "fw/microml.yaml", cwd=project.parent)
    assert first.returncode == 0 and f"Wrote {header}:" in first.stderr, first.stderr
    again = run_cli("build", "fw/microml.yaml", cwd=project.parent)
    assert f"Skipping {header} (up to date)" in again.stderr, again.stderr
    checked = run_cli("check", "fw/microml.yaml", cwd=project.parent)
    assert checked.returncode == 0 and f"{header} is up to date" in checked.stdout + checked.stderr
    inside = run_cli("build", "microml.yaml", cwd=project)
    assert "Skipping include/iris_model.h (up to date)" in inside.stderr, inside.stderr


def test_output_on_the_command_line_must_be_a_header_as_in_the_yaml(project):
    """`--output model.txt` wrote a header under that name, where `output: model.txt` is refused."""
    result = run_cli("build", str(project / "microml.yaml"), "--output", str(project / "model.txt"))
    assert result.returncode == 1 and "--output: 'model.txt' is not a header file name" in result.stderr, result.stderr
    assert "fix: end the name in .h" in result.stderr and not (project / "model.txt").exists()


@pytest.mark.avr
def test_an_input_too_big_for_the_measuring_chips_ram_is_a_size_error_not_a_bug(tmp_path):
    """520 float inputs (2,080 B) do not fit the ATmega328P's 2 KB of RAM: avr-ld says the section is 'not within
    region data', which is the user's size problem, not a MicroML bug."""
    from support import need_tool

    need_tool("avr")
    rng = np.random.RandomState(0)
    X = rng.rand(60, 520)
    np.savez(tmp_path / "d.npz", X=X, y=X[:, 0] * 2.0)
    (tmp_path / "microml.yaml").write_text("name: w\ndataset: {path: d.npz}\ntrain: {estimator: Ridge}\n"
                                           "target: {mcu: avr}\noutput: w.h\n")
    with pytest.raises(MicroMLError, match=r"does not fit the RAM of the avr it is measured on") as err:
        build(tmp_path / "microml.yaml", log=QUIET)
    assert err.value.key == "target.mcu" and "bug" not in str(err.value) and "2080 B of input" in str(err.value)
    assert not (tmp_path / "w.h").exists()

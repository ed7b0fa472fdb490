"""The magic_wand clone: its generated C against scikit-learn on every test window, and the Uno firmware under simavr
on a recorded stream (its classes, its post-processing against TensorFlow's rule replayed in Python, its budget)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from microml_build.emit.header import emit_header
from microml_build.ir.features import with_input
from microml_build.lower import lower
from microml_build.pipeline.verify import verify
from microml_build.plan import plan
from support import need_simavr, need_tool

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "magic_wand"))

import wand_firmware as firmware  # noqa: E402
import postprocess  # noqa: E402
import wand_data  # noqa: E402


def _example_train():
    spec = importlib.util.spec_from_file_location("wand_train", ROOT / "examples" / "magic-wand" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train


@pytest.fixture(scope="module")
def clone(splits):
    """The example's pipeline (examples/magic-wand/train.py) fitted on the training people, lowered for int16 input,
    and its header (prefix `wand`, as the firmware includes it)."""
    train = splits["train"]
    pipe = _example_train()(train.X.reshape(len(train.X), -1).astype(np.float64), train.y)
    model = with_input(lower(pipe), "int16")
    header = emit_header(plan(model), name="wand", file_name="wand_model.h", provenance=[("Test", "magic_wand")],
                         feature_names=()).text
    return pipe, model, header


def test_the_clone_is_the_fused_84_feature_linear_svm(clone):
    _, model, header = clone
    assert plan(model).inputs.fused and len(model.transforms[0].computed) == 84
    assert "int wand_predict_ring(const int16_t *ring, unsigned head)" in header
    assert [str(label) for label in model.labels] == ["negative", "ring", "slope", "wing"]


def test_parity_of_the_generated_c_on_every_test_window(clone, splits):
    """Each of the 270 test windows: the C's class is scikit-learn's, a difference excused only as verification
    allows (a float32 near-tie, or a flip the C's own in-bound features explain)."""
    need_tool("host")
    pipe, model, header = clone
    test = splits["test"]
    X = test.X.reshape(len(test.X), -1).astype(np.float64)
    result = verify(model, header, "wand", pipe, X)
    assert result.rows == 270
    assert result.agree + len(result.near_ties) + len(result.feature_flips) == 270
    assert result.agree >= 268, result.summary
    assert result.feature_bound_use <= 1


@pytest.mark.avr
@pytest.mark.simavr
def test_the_uno_firmware_on_a_recorded_stream(clone, archive, tmp_path_factory):
    """600 samples of liucx's recordings typed into the firmware under simavr: every window's class is
    scikit-learn's, the gestures it reports are TensorFlow's rule replayed in Python on its own classes, and it
    stays within 16 KB of flash, 1 KB of RAM + stack and 40 ms per inference."""
    need_tool("avr")
    need_simavr()
    from arduino_support import build_uart_run

    pipe, model, header = clone
    work = tmp_path_factory.mktemp("wand-firmware")
    elf = firmware.build(header, work)
    runner = build_uart_run(work / "runner")
    samples = wand_data.streams(archive, "test")["liucx"].samples[:600]
    labels = [str(label) for label in model.labels]
    run = firmware.stream(runner, elf, samples, work, labels)

    ends = postprocess.window_ends(len(samples))
    assert np.array_equal(run.ends, ends)
    windows = postprocess.sliding_windows(samples, ends).reshape(len(ends), -1).astype(np.float64)
    expected = np.array([labels.index(c) for c in pipe.predict(windows)])
    assert np.array_equal(run.classes, expected)

    votes = np.zeros((len(ends), len(wand_data.LABELS)), dtype=np.float32)
    votes[np.arange(len(ends)), [wand_data.LABELS.index(labels[c]) for c in run.classes]] = 1
    replay = postprocess.detect(votes, ends)
    reported = [(end, wand_data.LABELS.index(labels[c])) for end, c in run.detections]
    assert reported == replay and len(reported) >= 3, (reported, replay)

    size = firmware.sizes(elf)
    assert size["flash"] <= 16 * 1024, size
    assert size["ram"] == run.ram and run.ram + run.stack <= 1024, (run.ram, run.stack)
    assert run.cycles.max() < firmware.F_CPU // 25, run.cycles.max()


@pytest.mark.avr
@pytest.mark.simavr
def test_the_firmware_answers_a_bad_line_with_an_error_and_keeps_going(clone, tmp_path_factory):
    need_tool("avr")
    need_simavr()
    from arduino_support import build_uart_run, run_sketch

    _, _, header = clone
    work = tmp_path_factory.mktemp("wand-errors")
    elf = firmware.build(header, work)
    typed = ["1,2", "1,2,3,4", "40000,0,0", "1,x,3", "-32768,32767,0", "?"]
    run = run_sketch(build_uart_run(work / "runner"), elf, lines=len(typed) + 1, typed=typed, work=work)
    assert run.lines[:6] == ["magic_wand ready", "error", "error", "error", "error", "-"]
    assert run.lines[6].startswith("ram=") and run.lines[6].endswith(" inferences=0")

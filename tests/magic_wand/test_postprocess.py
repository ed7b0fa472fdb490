"""benchmarks/magic_wand/postprocess.py: TensorFlow's gesture post-processing, and how its reports are scored."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "magic_wand"))

import postprocess  # noqa: E402

LABELS = ("wing", "ring", "slope", "negative")
WING = [1.0, 0.0, 0.0, 0.0]
RING = [0.0, 1.0, 0.0, 0.0]
NEG = [0.0, 0.0, 0.0, 1.0]


def run(rows):
    post = postprocess.PostProcessor()
    return [post(np.asarray(r, dtype=np.float32)) for r in rows]


def test_a_gesture_needs_an_average_of_08_over_the_last_five():
    # The history starts at zeros: 4 of 5 is the first average to reach 0.8.
    assert run([WING] * 4) == [3, 3, 3, 0]
    assert run([[0.79, 0.0, 0.0, 0.21]] * 10) == [3] * 10
    assert run([[0.8, 0.0, 0.0, 0.2]] * 5) == [3, 3, 3, 3, 0]


def test_reports_are_25_inferences_apart():
    # gesture_predictor.cc sets the count to 25 and counts down before testing it: 24 suppressed between.
    out = run([WING] * 60)
    assert [i for i, g in enumerate(out) if g != 3] == [3, 28, 53]


def test_negative_never_reports_and_does_not_break_the_suppression():
    out = run([NEG] * 10 + [RING] * 4 + [NEG] * 20 + [RING] * 8)
    assert out.index(1) == 13
    # 25 suppressed after 13: the next ring window at 34..41 reports at 38 = 13 + 25.
    assert [i for i, g in enumerate(out) if g != 3] == [13, 38]


def test_sliding_windows_end_at_each_inferred_sample():
    samples = np.arange(300 * 3, dtype=np.int16).reshape(300, 3)
    ends = postprocess.window_ends(len(samples), step=5)
    assert ends[0] == 127 and ends[-1] == 297 and np.all(np.diff(ends) == 5)
    windows = postprocess.sliding_windows(samples, ends)
    assert windows.shape == (len(ends), 128, 3)
    assert np.array_equal(windows[3], samples[ends[3] - 127: ends[3] + 1])


def test_scoring_matches_each_gesture_once_and_sorts_the_false_alarms():
    gestures = [(0, 100, "wing"), (100, 200, "wing"), (200, 300, "ring")]
    reports = [
        (120, 0),     # covers wing 0 fully: hit
        (140, 0),     # covers wing 0 (88%), already matched; wing 1 only 41%: duplicate
        (199, 0),     # covers wing 1 fully: hit
        (280, 0),     # covers the ring 81%: wrong label
        (279, 1),     # ring: hit
        (1000, 1),    # nothing there: spurious
    ]
    s = postprocess.score(reports, gestures, LABELS)
    assert (s.truth, s.hits, s.missed, s.duplicate, s.wrong, s.spurious) == (3, 3, 0, 1, 1, 1)
    s = postprocess.score([(60, 0)], gestures, LABELS)                  # 61% of wing 0 is enough
    assert (s.hits, s.missed) == (1, 2)
    s = postprocess.score([(40, 0)], gestures, LABELS)                  # 41%: not
    assert (s.hits, s.spurious) == (0, 1)

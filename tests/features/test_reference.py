"""WindowFeatures and its float64 reference: every statistic against plain per-window Python, and the scikit-learn API."""

import math
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from microml_build.features import CORE_STATS, STATS, WindowFeatures
from microml_build.ir.features import WindowStage, segment_bounds


def naive(window, stat):
    """One statistic of one list of samples, written out as the docs define it."""
    n = len(window)
    mean = math.fsum(window) / n
    if stat == "mean":
        return mean
    if stat == "std":
        return math.sqrt(math.fsum((v - mean) ** 2 for v in window) / n)
    if stat == "min":
        return min(window)
    if stat == "max":
        return max(window)
    if stat == "ptp":
        return max(window) - min(window)
    if stat == "rms":
        return math.sqrt(math.fsum(v * v for v in window) / n)
    if stat == "mean_crossings":
        signs = [int(v > mean) - int(v < mean) for v in window]
        signs = [s for s in signs if s != 0]
        return sum(1 for a, b in zip(signs, signs[1:]) if a != b)
    if stat == "slope":
        if n == 1:
            return 0.0
        centre = (n - 1) / 2
        return math.fsum((t - centre) * v for t, v in enumerate(window)) / math.fsum((t - centre) ** 2 for t in range(n))
    if stat == "diff_std":
        if n == 1:
            return 0.0
        return naive([b - a for a, b in zip(window, window[1:])], "std")
    raise ValueError(stat)


def naive_features(row, length, channels, stats, segments, magnitude):
    samples = [[float(row[t * channels + c]) for c in range(channels)] for t in range(length)]
    if magnitude:
        samples = [s + [math.sqrt(math.fsum(v * v for v in s))] for s in samples]
    out = []
    for s in range(segments):
        part = samples[s * length // segments:(s + 1) * length // segments]
        for c in range(len(samples[0])):
            out += [naive([sample[c] for sample in part], stat) for stat in stats]
    return out


def windows(kind, n, length, channels, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "int16":
        X = rng.integers(-32768, 32768, (n, length * channels)).astype(np.float64)
        X[0] = 7                                           # constant
        X[1] = -32768                                      # constant at the extremes
        X[2] = 32767
        X[3, ::2], X[3, 1::2] = -32768, 32767              # alternating extremes
        X[4] = np.round(rng.normal(0, 3, length * channels))   # small values: many samples equal the mean
        return X
    X = rng.normal(0, 2.5, (n, length * channels))
    X[0] = 0.1
    X[1] = -3e4
    X[2, ::3] = 0.0
    return X.astype(np.float32).astype(np.float64)           # what a float32 window holds


CASES = [  # (length, channels, segments)
    (1, 1, 1), (1, 3, 1), (2, 1, 2), (7, 2, 3), (10, 3, 3), (13, 1, 5), (16, 3, 4), (5, 2, 5), (128, 3, 4),
]


@pytest.mark.parametrize("kind", ["int16", "float"])
@pytest.mark.parametrize("length,channels,segments", CASES)
def test_every_statistic_against_plain_python(kind, length, channels, segments):
    for magnitude in (False, True):
        X = windows(kind, 6, length, channels, seed=length)
        got = WindowFeatures(length=length, channels=channels, stats=STATS, segments=segments,
                             magnitude=magnitude).fit_transform(X)
        want = np.array([naive_features(list(row), length, channels, STATS, segments, magnitude) for row in X])
        assert got.shape == want.shape == (6, segments * (channels + magnitude) * len(STATS))
        exact = np.array([s in ("min", "max", "ptp", "mean_crossings") for s in STATS] *
                         (segments * (channels + magnitude)))
        if not magnitude and kind == "int16":
            np.testing.assert_array_equal(got[:, exact], want[:, exact])
        scale = np.abs(X).max() + 1
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)


def test_mean_crossings_skips_samples_equal_to_the_mean():
    # Each row has mean 0: "+ 0 0 +" has no change and "+ -" one; leading zeros have no sign; a constant
    # window has none.
    X = np.array([[1, 0, 0, 1, -2, 0, 0], [0, 0, 2, 0, -2, 2, -2], [3, 3, 3, 3, 3, 3, 3]], dtype=float)
    got = WindowFeatures(length=7, channels=1, stats=["mean_crossings"]).fit_transform(X)[:, 0]
    assert got.tolist() == [1.0, 3.0, 0.0]


def test_segment_boundaries():
    assert segment_bounds(10, 3) == ((0, 3), (3, 6), (6, 10))
    assert segment_bounds(7, 7) == tuple((t, t + 1) for t in range(7))
    assert segment_bounds(128, 1) == ((0, 128),)
    # The transformer uses them: a window 0..9 has segment means 1, 4, 7.5.
    X = np.arange(10, dtype=float)[None, :]
    assert WindowFeatures(length=10, stats=["mean"], segments=3).fit_transform(X).tolist() == [[1.0, 4.0, 7.5]]


def test_output_order_and_names():
    X = np.arange(2 * 4 * 2, dtype=float).reshape(2, 8)          # 4 samples x 2 channels, interleaved
    wf = WindowFeatures(length=4, channels=2, stats=["min", "max"], segments=2).fit(X)
    names = wf.get_feature_names_out().tolist()
    assert names == ["seg0_ch0_min", "seg0_ch0_max", "seg0_ch1_min", "seg0_ch1_max",
                     "seg1_ch0_min", "seg1_ch0_max", "seg1_ch1_min", "seg1_ch1_max"]
    # Row 0: channel 0 is 0, 2, 4, 6 and channel 1 is 1, 3, 5, 7.
    assert wf.transform(X)[0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    named = WindowFeatures(length=4, channels=2, stats=["std"], channel_names=["ax", "ay"], magnitude=True).fit(X)
    assert named.get_feature_names_out().tolist() == ["ax_std", "ay_std", "mag_std"]


def test_sklearn_api_pickle_clone_determinism():
    X = windows("int16", 40, 16, 3)
    y = np.arange(40) % 2
    wf = WindowFeatures(length=16, channels=3, stats=CORE_STATS, segments=2)
    assert clone(wf).get_params() == wf.get_params()
    model = make_pipeline(wf, RandomForestClassifier(5, random_state=0)).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    first = wf.transform(X)
    assert first.tobytes() == wf.transform(X).tobytes() == clone(wf).fit(X).transform(X).tobytes()
    assert wf.n_features_in_ == 48
    # Anywhere a transformer may go: after a scaler of the raw samples, inside a FeatureUnion.
    union = FeatureUnion([("a", WindowFeatures(length=16, channels=3, stats=["mean"])),
                          ("b", WindowFeatures(length=16, channels=3, stats=["max"], segments=2))])
    assert union.fit_transform(X).shape == (40, 3 + 6)
    scaled = make_pipeline(StandardScaler(), WindowFeatures(length=16, channels=3), RandomForestClassifier(3))
    assert scaled.fit(X, y).predict(X).shape == (40,)


@pytest.mark.parametrize("params,message", [
    (dict(length=5, channels=2), "takes rows of 10 values"),
    (dict(length=12, channels=1, segments=13), "segments=13"),
    (dict(length=12, stats=["mean", "median"]), "unknown statistic 'median'"),
    (dict(length=12, stats=[]), "at least one statistic"),
    (dict(length=12, stats="mean"), "list of statistic names"),
    (dict(length=12, stats=["std", "std"]), "listed twice"),
    (dict(length=0), "length=0"),
    (dict(length=12.5), "length=12.5"),
    (dict(length=6, channels=2, channel_names=["x"]), "2 non-empty names"),
    (dict(length=6, channels=2, channel_names=["x", "x"]), "distinct"),
])
def test_clear_errors(params, message):
    X = np.zeros((3, 12))
    with pytest.raises(ValueError, match=message):
        WindowFeatures(**params).fit(X)


def test_transform_checks_width_too():
    wf = WindowFeatures(length=4, channels=2).fit(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="X has 9 columns"):
        wf.transform(np.zeros((2, 9)))


def test_stage_input_problems():
    stage = WindowStage(4, 1, ("mean",), 1, input="int16")
    assert stage.input_problem(np.array([[1, -32768, 32767, 0]])) is None
    assert stage.input_problem(np.array([[1, 2, 3, 4], [1, 2.5, 3, 4]]))[:2] == (1, 1)
    assert stage.input_problem(np.array([[1, 2, 32768, 4]]))[:2] == (0, 2)
    floats = WindowStage(4, 1, ("mean",), 1, input="float")
    assert floats.input_problem(np.array([[1.5, -2e3, 0, 1e9]])) is None
    assert floats.input_problem(np.array([[1.5, np.nan, 0, 1]]))[:2] == (0, 1)
    assert floats.input_problem(np.array([[1.5, 0, 0, 1e30]]))[:2] == (0, 3)


def test_missing_samples_are_named():
    """A NaN sample (a CSV gap kept by dataset.missing: nan) is named by row, sample and channel, with a fix,
    instead of scikit-learn's bare "Input contains NaN"."""
    X = np.zeros((3, 8))
    X[2, 5] = np.nan                                      # row 2, sample 2, channel 1 of 4 x 2
    features = WindowFeatures(length=4, channels=2)
    with pytest.raises(ValueError, match=r"row 2, sample 2 of channel 1 \(ch1\) is nan") as info:
        features.fit(X)
    assert "fill the gaps" in str(info.value)
    features.fit(X[:2])
    X[2, 5] = np.inf
    with pytest.raises(ValueError, match=r"row 2, sample 2 of channel 1 \(ch1\) is inf"):
        features.transform(X)

"""The generated feature C against the float64 reference, within each feature's proven bound; ring = straight for every head."""

import numpy as np
import pytest

from feature_c import avr_features, header, host_features
from microml_build import toolchains
from microml_build.plan.features import plan_features
from microml_build.ir.features import CORE_STATS, STATS, WindowStage
from support import need_tool
from test_reference import windows

CASES = [(1, 1, 1), (1, 3, 1), (2, 1, 2), (7, 2, 3), (13, 1, 5), (5, 2, 5), (16, 3, 4), (128, 3, 4)]
EXACT = ("min", "max", "ptp", "mean_crossings")


def check(stage, X, tmp_path, lang="c"):
    """Run the C on X: every feature within its bound of the reference, every ring head the same bits."""
    got, rings = host_features(stage, X, tmp_path, lang)
    assert set(rings) == {"ok"}, f"ring differs from the straight window at head {rings}"
    want = stage.apply(X)
    bound = stage.bounds(X)
    error = np.abs(got - want)
    bad = np.argwhere(~(error <= bound))
    assert len(bad) == 0, [(int(r), stage.names()[k], got[r, k], want[r, k], bound[r, k]) for r, k in bad[:5]]
    return got, want, bound


@pytest.mark.parametrize("kind", ["int16", "float"])
@pytest.mark.parametrize("length,channels,segments", CASES)
def test_every_statistic_within_its_bound(kind, length, channels, segments, tmp_path):
    X = windows(kind, 12 if length > 16 else 30, length, channels, seed=length + channels)
    for magnitude in (False, True):
        stage = WindowStage(length, channels, STATS, segments, magnitude, input=kind)
        got, want, bound = check(stage, X, tmp_path / str(magnitude))
        names = stage.names()
        exact = [k for k, name in enumerate(names) if name.endswith(EXACT) and "mag_" not in name]
        if kind == "int16":
            # Integer statistics of integer samples are exact, and the rest a few roundings from exact.
            np.testing.assert_array_equal(got[:, exact], want[:, exact])
            assert (bound[:, exact] == 0).all()
        raw = [k for k, name in enumerate(names) if "mag" not in name]
        relative = bound[:, raw] / np.maximum(np.abs(want[:, raw]), 1.0)
        if kind == "int16":
            assert relative.max() < 2.0 ** -20


def test_constant_and_extreme_int16_windows_are_exact_where_they_can_be(tmp_path):
    X = np.array([[v] * 24 for v in (-32768, 32767, 0, 5)] + [[-32768, 32767] * 12], dtype=np.float64)
    stage = WindowStage(8, 3, STATS, 3, input="int16")
    got, want, _ = check(stage, X, tmp_path)
    names = stage.names()
    for k, name in enumerate(names):
        if name.endswith(("_std", "_slope", "_mean_crossings", "_ptp")):
            assert (got[:4, k] == 0).all(), name             # constant windows: no spread, no slope, no crossing
    mean = [k for k, name in enumerate(names) if name.endswith("_mean")]
    np.testing.assert_array_equal(got[:4, mean], want[:4, mean])     # whole means are exact


def test_float_windows_with_large_offsets(tmp_path):
    """A large offset makes the float sums round: the bounds follow the row's own values."""
    rng = np.random.default_rng(3)
    X = (1e4 + rng.normal(0, 1e-2, (20, 64 * 2))).astype(np.float32).astype(np.float64)
    stage = WindowStage(64, 2, STATS, 2, True, input="float")
    _, _, bound = check(stage, X, tmp_path)
    assert bound.max() > 0


def test_only_the_needed_features_are_computed(tmp_path):
    full = WindowStage(20, 3, CORE_STATS, 2)
    needed = (1, 9, 10, 30, 36)          # seg0 ch0 std, seg0 ch1 min, seg0 ch1 max, seg1 ch1 min, seg1 ch2 std
    stage = WindowStage(20, 3, CORE_STATS, 2, needed=needed, input="int16")
    X = windows("int16", 20, 20, 3)
    got, want, _ = check(stage, X, tmp_path)
    np.testing.assert_allclose(want, full.apply(X)[:, list(needed)])
    assert stage.names() == ("seg0_ch0_std", "seg0_ch1_min", "seg0_ch1_max", "seg1_ch1_min", "seg1_ch2_std")
    assert [(g.segment, g.channel) for g in plan_features(stage).groups] == [(0, 0), (0, 1), (1, 1), (1, 2)]
    text = header(stage)
    assert text.count("m_impl_window_int_pass(&a,") == 4
    assert "#define M_N_WINDOW_FEATURES 5" in text
    assert "crossings" not in text and "prefix" not in text      # nothing collected for unused statistics


def test_a_wrong_statistic_is_caught(tmp_path):
    """The comparison can fail: a mean divided by n + 1 is outside its bound."""
    stage = WindowStage(16, 1, ("mean", "std"), 2, input="int16")
    text = header(stage).replace("return (float)a->sum / (float)a->n;", "return (float)a->sum / (float)(a->n + 1);")
    X = windows("int16", 10, 16, 1)
    got, _ = host_features(stage, X, tmp_path, text=text)
    assert not (np.abs(got - stage.apply(X)) <= stage.bounds(X)).all()


@pytest.mark.parametrize("kind", ["int16", "float"])
def test_cplusplus(kind, tmp_path):
    stage = WindowStage(9, 3, STATS, 2, True, input=kind)
    check(stage, windows(kind, 10, 9, 3), tmp_path, lang="c++")


@pytest.mark.parametrize("target", [pytest.param("avr", marks=pytest.mark.avr),
                                    pytest.param("cortex-m4", marks=pytest.mark.arm)])
@pytest.mark.parametrize("lang", ["c", "c++"])
def test_cross_compiles_strict(target, lang, tmp_path):
    need_tool(target, lang)
    for kind in ("int16", "float"):
        (tmp_path / "window_model.h").write_text(header(WindowStage(128, 3, STATS, 4, True, input=kind)))
        T = "int16_t" if kind == "int16" else "float"
        (tmp_path / "main.c").write_text(
            '#include "window_model.h"\n'
            f"{T} ring[M_WINDOW_LENGTH * M_N_CHANNELS];\nvolatile float sink;\n"
            "int main(void)\n{\n    float f[M_N_WINDOW_FEATURES];\n    m_features_ring(ring, 5, f);\n"
            "    sink = f[0];\n    m_features(ring, f);\n    sink = f[M_N_WINDOW_FEATURES - 1];\n    return 0;\n}\n")
        toolchains.compile([tmp_path / "main.c"], tmp_path / f"{kind}.elf", target=target, lang=lang,
                           include_dirs=[tmp_path])


@pytest.mark.avr
@pytest.mark.simavr
@pytest.mark.parametrize("kind", ["int16", "float"])
def test_avr_under_simavr(kind, tmp_path):
    """The ATmega328P (avr-libc's float) within the same bounds, the window as a ring at head 5."""
    stage = WindowStage(11, 3, STATS, 3, True, input=kind)
    X = windows(kind, 6, 11, 3, seed=5)
    got = avr_features(stage, X, tmp_path, head=5)
    error = np.abs(got - stage.apply(X))
    assert (error <= stage.bounds(X)).all()

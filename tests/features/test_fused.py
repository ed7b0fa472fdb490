"""A linear head fused with the window features: chosen by the planner, the same bits as the buffered form, verified,
compiled for every target, and on an ATmega328P a stack of the head's sums instead of the feature vector."""

import subprocess
import warnings

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from microml_build import toolchains
from microml_build.emit.header import emit_header
from microml_build.features import STATS, WindowFeatures
from microml_build.ir.features import with_input
from microml_build.lower import lower
from microml_build.pipeline.measure import measure
from microml_build.pipeline.verify import run_header_all, verify
from microml_build.plan import plan
from support import need_simavr, need_tool
from test_models import CHANNELS, LENGTH, gestures

HEADS = {
    "linear_svc": (LinearSVC(max_iter=20000), 3),
    "logistic": (LogisticRegression(max_iter=3000), 3),
    "logistic_binary": (LogisticRegression(max_iter=3000), 2),
    "logistic_ovr": (OneVsRestClassifier(LogisticRegression(max_iter=3000)), 3),
    "svc_linear": (SVC(kernel="linear"), 3),
    "svc_linear_binary": (SVC(kernel="linear"), 2),
    "ridge": (Ridge(), 0),
    "ridge_two_outputs": (Ridge(), -2),
}


def fitted(name, segments=3, scale=1.0):
    """Windows (int16 counts, or scaled by `scale`, exact in float32) and the pipe fitted on them."""
    X, y = gestures()
    X = X * scale
    estimator, classes = HEADS[name]
    spread = X.reshape(len(X), LENGTH, CHANNELS)[:, :, 1].std(1)
    target = {2: y % 2, 0: spread, -2: np.c_[spread, -0.5 * spread + X[:, 0]]}.get(classes, y)
    pipe = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, stats=STATS, segments=segments),
                         StandardScaler(), estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, target)
    return X, pipe


def text(model, form=None, name="w"):
    chosen = plan(model, {"window": form} if form else None)
    return chosen, emit_header(chosen, name=name, file_name="w.h", provenance=[("Test", "fused")],
                               feature_names=()).text


def test_the_planner_fuses_linear_heads_and_nothing_else():
    X, pipe = fitted("linear_svc")
    model = with_input(lower(pipe), "int16")
    chosen, header = text(model)
    assert chosen.inputs.fused and "w_impl_window_sums(const int16_t *ring, unsigned head, float *sums)" in header
    assert "the 3 sums of the model (12 B)" in chosen.stack and "window features (" not in chosen.stack
    assert "float f[W_N_WINDOW_FEATURES];\n    w_features_ring(ring, head, f);" not in header
    buffered, header = text(model, "buffer")
    assert not buffered.inputs.fused and "window_sums" not in header and "the 81 window features" in buffered.stack
    forest = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, segments=2),
                           RandomForestClassifier(3, max_depth=3, random_state=0)).fit(X, np.arange(len(X)) % 3)
    assert not plan(with_input(lower(forest), "int16")).inputs.fused
    with pytest.raises(ValueError, match="linear head"):
        plan(with_input(lower(forest), "int16"), {"window": "fused"})
    # As many sums as features: nothing to gain, the buffered form stays.
    three = make_pipeline(WindowFeatures(length=LENGTH, channels=CHANNELS, stats=["mean"]), LinearSVC()).fit(
        X, np.arange(len(X)) % 3)
    assert not plan(with_input(lower(three), "int16")).inputs.fused


@pytest.mark.parametrize("name", sorted(HEADS))
@pytest.mark.parametrize("input", ["int16", "float"])
def test_fused_is_verified_and_equals_the_buffered_form_bit_for_bit(name, input):
    need_tool("host")
    X, pipe = fitted(name, scale=1.0 if input == "int16" else 1 / 64)
    model = with_input(lower(pipe), input)
    fused, fused_text = text(model)
    assert fused.inputs.fused
    result = verify(model, fused_text, "w", pipe, X)
    assert result.agree + len(result.near_ties) + len(result.feature_flips) == len(X)
    _, buffer_text = text(model, "buffer")
    a = run_header_all(fused_text, "w", X, integers=input == "int16")
    b = run_header_all(buffer_text, "w", X, integers=input == "int16")
    np.testing.assert_array_equal(a[0], b[0])                              # classes (0 for regressors)
    np.testing.assert_array_equal(a[1].view(np.uint64), b[1].view(np.uint64))   # decisions or outputs, bits
    if name != "ridge_two_outputs":                                      # predict_ring, bits
        np.testing.assert_array_equal(a[3].view(np.uint64), b[3].view(np.uint64))


@pytest.mark.parametrize("target", ["host", pytest.param("avr", marks=pytest.mark.avr),
                                    pytest.param("cortex-m4", marks=pytest.mark.arm)])
@pytest.mark.parametrize("lang", ["c", "c++"])
def test_fused_headers_compile_strictly_everywhere(target, lang, tmp_path):
    need_tool(target, lang)
    for name in ("logistic", "logistic_binary", "svc_linear", "ridge"):
        _, pipe = fitted(name)
        _, header = text(with_input(lower(pipe), "int16"))
        (tmp_path / "w.h").write_text(header)
        source = tmp_path / ("main.c" if lang == "c" else "main.cpp")
        call = "w_predict_ring(ring, 5u)" if name != "ridge" else "(int)w_predict_ring(ring, 5u)"
        source.write_text('#include "w.h"\nint16_t ring[W_N_FEATURES];\nint probe(void);\n'
                          f"int probe(void) {{ return {call}; }}\n")
        toolchains.compile([source], tmp_path / f"{name}.o", target=target, lang=lang, include_dirs=[tmp_path],
                           link=False)


@pytest.mark.avr
@pytest.mark.simavr
def test_on_an_atmega328p_the_stack_holds_the_sums_not_the_features():
    need_tool("avr")
    need_simavr()
    X, pipe = fitted("linear_svc", segments=4)        # 108 features, 3 sums
    model = with_input(lower(pipe), "int16")
    width = len(model.transforms[0].computed)
    measured = {}
    for form in ("fused", "buffer"):
        _, header = text(model, form)
        measured[form] = measure(header, "w", X[7], "avr", "uno")
    fused, buffer = measured["fused"], measured["buffer"]
    assert fused.ram == buffer.ram == 0
    # The buffered form keeps 4 bytes per feature on the stack; the fused one 4 per sum.
    assert buffer.stack - fused.stack >= 4 * (width - 3) - 16, (buffer, fused)
    assert fused.stack < 120, fused
    # Same arithmetic, so about the same work: the fused form is not slower by more than the calls it adds.
    assert fused.cycles < 1.1 * buffer.cycles, (buffer, fused)


PROBA_RING = """\
#include <stdio.h>
#include <string.h>
#include "w.h"

/* Every window of stdin (int16 counts): predict_proba(x) and predict_proba_ring() of the same window in a
 * ring whose oldest sample is at slot (row % W_WINDOW_LENGTH); prints 1 where the bits are equal. */
int main(void)
{
    static int16_t x[W_N_FEATURES], ring[W_N_FEATURES];
    float a[W_N_CLASSES], b[W_N_CLASSES];
    for (unsigned row = 0;; row++) {
        for (int j = 0; j < W_N_FEATURES; j++) {
            int v;
            if (scanf("%d", &v) != 1) {
                return 0;
            }
            x[j] = (int16_t)v;
        }
        const unsigned head = row % W_WINDOW_LENGTH;
        for (unsigned t = 0; t < W_WINDOW_LENGTH; t++) {
            memcpy(&ring[((head + t) % W_WINDOW_LENGTH) * W_N_CHANNELS], &x[t * W_N_CHANNELS],
                   W_N_CHANNELS * sizeof x[0]);
        }
        w_predict_proba(x, a);
        w_predict_proba_ring(ring, head, b);
        printf("%d %a\\n", memcmp(a, b, sizeof a) == 0, (double)a[0]);
    }
}
"""


@pytest.mark.parametrize("name", ["logistic", "logistic_binary", "logistic_ovr"])
@pytest.mark.parametrize("form", ["fused", "buffer"])
def test_predict_proba_ring_equals_predict_proba_at_every_head(name, form, tmp_path):
    """`<name>_predict_proba_ring` (and, in the verify harness of every build, `_decision_function_ring`): the
    probabilities of the window in a ring equal those of the copied-out window, bit for bit, at every head."""
    need_tool("host")
    X, pipe = fitted(name)
    chosen, header = text(with_input(lower(pipe), "int16"), form)
    assert chosen.inputs.fused == (form == "fused")
    assert "void w_predict_proba_ring(const int16_t *ring, unsigned head, float *proba)" in header
    (tmp_path / "w.h").write_text(header)
    (tmp_path / "main.c").write_text(PROBA_RING)
    program = toolchains.compile([tmp_path / "main.c"], tmp_path / "main", include_dirs=[tmp_path])
    rows = X.astype(int)[: 3 * LENGTH]
    out = subprocess.run([str(program)], input="\n".join(" ".join(map(str, row)) for row in rows), text=True,
                         capture_output=True, check=True).stdout.split("\n")[: len(rows)]
    assert [line.split()[0] for line in out] == ["1"] * len(rows)
    proba = np.array([float.fromhex(line.split()[1]) for line in out])
    np.testing.assert_allclose(proba, pipe.predict_proba(X[: len(rows)])[:, 0], atol=1e-5)

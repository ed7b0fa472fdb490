"""MLPClassifier and MLPRegressor: every activation, host parity, predict_proba, refusals, strict cross compiles,
and proof that the near-tie band excuses float32 rounding but not a wrong weight."""

from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from avr_run import avr_outputs
from microml_build import toolchains
from microml_build.emit.header import emit_header
from microml_build.plan import plan
from microml_build.errors import MicroMLError
from microml_build.ir import NEAR_TIE
from microml_build.lower import lower
from microml_build.pipeline.verify import to_float32, verify
from model_check import CROSS_PARAMS, cross_compile, emit, host_parity
from model_check import PROBA_CALLER, c_predict_proba
from support import need_simavr, need_tool

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
ACTIVATIONS = ["relu", "tanh", "logistic", "identity"]


@lru_cache(maxsize=None)
def dataset(name):
    """Standardised features (an MLP needs them) and labels; digits is cut to 400 rows, diabetes is regression."""
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if name == "multi_output":
        return make_regression(n_samples=200, n_features=6, n_targets=3, noise=5.0, random_state=0)
    X, y = LOADERS[name](return_X_y=True)
    return StandardScaler().fit_transform(X[:400]), y[:400]


@lru_cache(maxsize=None)
def classifier(name, activation="relu", hidden=(16,)):
    X, y = dataset(name)
    return MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=100, random_state=0).fit(X, y)


@lru_cache(maxsize=None)
def regressor(name, activation="relu", hidden=(16,), loss="squared_error"):
    X, y = dataset(name)
    return MLPRegressor(hidden_layer_sizes=hidden, activation=activation, loss=loss, solver="lbfgs", max_iter=100,
                        random_state=0).fit(X, y)


def assert_parity(est, X):
    result = host_parity(est, X)
    assert result.rows == len(X)
    assert result.agree == len(X) and not result.near_ties
    assert result.max_decision_error < 1e-5
    return result


@pytest.mark.parametrize("name", sorted(LOADERS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_classifier_host_parity(activation, name):
    """breast_cancer is binary (one logistic output), the others multiclass (softmax)."""
    assert_parity(classifier(name, activation), dataset(name)[0])


@pytest.mark.parametrize("activation,name", [("relu", "iris"), ("tanh", "breast_cancer"), ("logistic", "digits"),
                                             ("identity", "wine")])
def test_two_hidden_layers(activation, name):
    """Two hidden layers: the first in one stack buffer, the second added into the outputs neuron by neuron."""
    est = classifier(name, activation, (16, 16))
    _, emitted = emit(est)
    code = " ".join(emitted.text.split())
    assert "float hidden[M_MAX_HIDDEN_WIDTH];" in code and "m_impl_last_hidden(hidden, M_HIDDEN1_WIDTH," in code
    assert_parity(est, dataset(name)[0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_hidden_layer_needs_no_buffer(activation):
    est = classifier("wine", activation, (24,))
    _, emitted = emit(est)
    assert "hidden[" not in emitted.text and "M_MAX_HIDDEN_WIDTH" not in emitted.text
    assert_parity(est, dataset("wine")[0])


def test_three_hidden_layers_of_different_widths():
    est = classifier("wine", "tanh", (12, 20, 8))
    _, emitted = emit(est)
    assert "#define M_MAX_HIDDEN_WIDTH 20" in emitted.text
    code = " ".join(emitted.text.split())
    second = "m_impl_dense(hidden[0], M_HIDDEN1_WIDTH, m_layer2_weights[0], m_layer2_bias, M_HIDDEN2_WIDTH, hidden[1]);"
    third = ("m_impl_last_hidden(hidden[1], M_HIDDEN2_WIDTH, m_layer3_weights[0], m_layer3_bias, M_HIDDEN3_WIDTH, "
             "m_layer4_weights[0], m_layer4_bias, M_N_DECISIONS, decision);")
    assert "float hidden[2][M_MAX_HIDDEN_WIDTH];" in code and second in code and third in code
    assert_parity(est, dataset("wine")[0])


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_no_hidden_layer(name):
    """hidden_layer_sizes=(): one dense layer straight to the output, no buffers."""
    est = classifier(name, "relu", ())
    _, emitted = emit(est)
    assert "hidden[" not in emitted.text
    assert_parity(est, dataset(name)[0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_regressor_host_parity(activation):
    est = regressor("diabetes", activation, (16, 16))
    result = assert_parity(est, dataset("diabetes")[0])
    assert result.max_abs_error < 1e-3             # targets in the 25..346 range


def test_poisson_regressor():
    """loss='poisson': the output is exp(z)."""
    X, y = dataset("diabetes")
    est = regressor("diabetes", "tanh", (8,), "poisson")
    _, emitted = emit(est)
    assert "return expf(z);" in emitted.text
    assert_parity(est, X)


def test_multi_output_regressor():
    est = regressor("multi_output", "relu", (16,))
    _, emitted = emit(est)
    assert "#define M_N_OUTPUTS 3" in emitted.text
    assert "static inline void m_predict_value(const float *x, float *y)" in emitted.text
    assert_parity(est, dataset("multi_output")[0])


@pytest.mark.parametrize("n_classes", [2, 4])
def test_string_labels(n_classes):
    X, y = dataset("digits")
    keep = y < n_classes
    names = np.array(["zero", "one", "two", "three"])
    est = MLPClassifier((16,), max_iter=200, random_state=0).fit(X[keep], names[y[keep]])
    model, _ = emit(est)
    assert model.labels == tuple(sorted(names[:n_classes]))
    assert model.head.output == ("logistic" if n_classes == 2 else "softmax")
    assert_parity(est, X[keep])


def test_multi_label_is_refused():
    X, _ = dataset("iris")
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0])
    with pytest.raises(MicroMLError, match="multi-label") as error:
        lower(MLPClassifier((4,), max_iter=50, random_state=0).fit(X, Y))
    assert "one MLPClassifier per label" in error.value.fix


def test_single_class_is_refused():
    X, _ = dataset("iris")
    with pytest.raises(MicroMLError, match="single class"):
        lower(MLPClassifier((4,), max_iter=20, random_state=0).fit(X, np.full(len(X), "only")))


# The near-tie band must excuse float32 rounding and nothing more. Each test below builds an input whose
# decision margin is 3 bands wide, then a header whose weights are off by 2 margins for exactly that margin:
# a wrong header by 1e-4 or so. Verification must fail on that row.

def _margin(model, X, i, j):
    """(v_i - v_j) and the near-tie band of that difference, per row; j = None: the binary logit."""
    values, scales = model.decisions(to_float32(X))
    if j is None:
        return values[:, 0], NEAR_TIE * scales[:, 0]
    return values[:, i] - values[:, j], NEAR_TIE * (scales[:, i] + scales[:, j])


def boundary_point(model, a, b, i, j=None, bands=3.0):
    """A float32 point on the segment from a to b where the margin of class i over j (falling from a to b) is
    `bands` near-tie bands."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        t = (lo + hi) / 2
        margin, band = _margin(model, (a + t * (b - a))[None, :], i, j)
        lo, hi = (t, hi) if margin[0] > bands * band[0] else (lo, t)
    return to_float32((a + lo * (b - a))[None, :])


def verify_wrong_header(est, X, head):
    """Verify `est` against a header emitted from a wrong head."""
    model = lower(est)
    wrong = replace(model, head=head)
    names = tuple(f"f{k}" for k in range(model.n_features))
    text = emit_header(plan(wrong), name="m", file_name="model.h", provenance=[("Test", "wrong")], feature_names=names).text
    return verify(model, text, "m", est, X)


def shifted_output_bias(head, output, delta):
    biases = list(head.biases)
    biases[-1] = biases[-1].copy()
    biases[-1][output] += delta
    return replace(head, biases=tuple(biases))


def test_wrong_binary_bias_is_not_excused():
    est = classifier("breast_cancer", "tanh")
    model = lower(est)
    X, y = dataset("breast_cancer")
    a, b = X[est.predict(X) == 1][0], X[est.predict(X) == 0][0]
    point = boundary_point(model, a, b, 0, bands=-3.0)         # z = -3 bands: class 0, clearly outside the band
    z, band = _margin(model, point, 0, None)
    assert -3.5 * band[0] < z[0] < -2.5 * band[0] and band[0] < 1e-3
    X = np.concatenate([X, point])
    assert verify_wrong_header(est, X, model.head).agree == len(X)       # the right weights pass, boundary row too
    with pytest.raises(MicroMLError, match=f"disagrees with scikit-learn on row {len(X) - 1}"):
        verify_wrong_header(est, X, shifted_output_bias(model.head, 0, -2.0 * z[0]))


def test_rounding_sized_difference_is_excused():
    """The other side: a point a quarter band from the boundary, flipped by a header off by half a band (what
    float32 rounding may do), is reported as a near-tie, not a failure."""
    est = classifier("breast_cancer", "tanh")
    model = lower(est)
    X, y = dataset("breast_cancer")
    a, b = X[est.predict(X) == 1][0], X[est.predict(X) == 0][0]
    point = boundary_point(model, a, b, 0, bands=0.25)
    z, band = _margin(model, point, 0, None)
    assert 0 < z[0] < 0.3 * band[0]
    X = np.concatenate([X, point])
    result = verify_wrong_header(est, X, shifted_output_bias(model.head, 0, -2.0 * z[0]))
    assert len(X) - 1 in result.near_ties
    assert result.agree + len(result.near_ties) == len(X)


def test_wrong_multiclass_bias_is_not_excused():
    est = classifier("iris", "relu", (16, 16))
    model = lower(est)
    X, y = dataset("iris")
    predicted = est.predict(X)
    a, b = X[predicted == 1][0], X[predicted == 2][0]
    point = boundary_point(model, a, b, 1, 2)                  # class 1 ahead of class 2 by 3 bands
    margin, band = _margin(model, point, 1, 2)
    values, _ = model.decisions(point)
    assert np.argsort(-values[0])[:2].tolist() == [1, 2] and 2.5 * band[0] < margin[0] < 3.5 * band[0]
    X = np.concatenate([X, point])
    assert verify_wrong_header(est, X, model.head).agree == len(X)
    with pytest.raises(MicroMLError, match=f"disagrees with scikit-learn on row {len(X) - 1}"):
        verify_wrong_header(est, X, shifted_output_bias(model.head, 1, -2.0 * margin[0]))


def test_wrong_regressor_bias_is_not_excused():
    """An output bias off by 4 bands of the row with the narrowest band (about 0.02 on outputs near 150):
    caught on every row whose band it exceeds."""
    est = regressor("diabetes", "tanh", (16, 16))
    model = lower(est)
    X, y = dataset("diabetes")
    values, scales = model.decisions(to_float32(X))
    row = int(np.argmin(scales[:, 0]))
    delta = 4.0 * NEAR_TIE * scales[row, 0]
    assert delta < 2e-4 * np.abs(values).mean()
    assert verify_wrong_header(est, X, model.head).agree == len(X)
    exceeded = int((NEAR_TIE * scales[:, 0] < delta).sum())
    with pytest.raises(MicroMLError, match=f"disagrees with scikit-learn on {exceeded} row"):
        verify_wrong_header(est, X, shifted_output_bias(model.head, 0, delta))


@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
def test_predict_proba(name, tmp_path):
    """Logistic (binary) and softmax (multiclass) as scikit-learn's, also on inputs scaled 100x, where the
    logits reach the hundreds and a naive exp overflows. The float32 logits are off by a few roundings of
    their magnitude (the IR's scale), the probabilities by as much: within 1e-5 on the real rows."""
    est = classifier(name, "relu")
    model, emitted = emit(est)
    X = dataset(name)[0]
    X = to_float32(np.concatenate([X, X[:40] * 100.0]))
    got = c_predict_proba(emitted.text, X, tmp_path)
    expected = est.predict_proba(X)
    _, scales = model.decisions(X)
    assert got.shape == expected.shape and np.isfinite(got).all()
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got[:-40], expected[:-40], atol=1e-5)
    tolerance = 1e-6 + 2.0 ** -22 * scales.max(axis=1)      # 4 float32 roundings of the largest magnitude
    assert (np.abs(got - expected).max(axis=1) <= tolerance).all()


CROSS_CASES = {
    "multiclass-relu-16x16": lambda: classifier("iris", "relu", (16, 16)),
    "binary-tanh": lambda: classifier("breast_cancer", "tanh"),
    "multiclass-logistic-no-hidden": lambda: classifier("wine", "logistic", ()),
    "regressor-identity": lambda: regressor("diabetes", "identity", (16, 16)),
    "regressor-poisson-multi-output": lambda: MLPRegressor(
        hidden_layer_sizes=(8,), loss="poisson", max_iter=100, random_state=0).fit(
        dataset("multi_output")[0], np.abs(dataset("multi_output")[1])),
}


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
@pytest.mark.parametrize("case", sorted(CROSS_CASES))
def test_strict_cross_compile(case, target, lang, tmp_path):
    _, emitted = emit(CROSS_CASES[case]())
    assert cross_compile(emitted.text, tmp_path, target, lang).exists()
    if "m_predict_proba" in emitted.text:
        (tmp_path / "proba.c").write_text(PROBA_CALLER)
        assert toolchains.compile([tmp_path / "proba.c"], tmp_path / f"proba-{target}-{lang}.elf",
                                  target=target, lang=lang).exists()


@pytest.mark.parametrize("hidden,buffer", [((16,), None), ((16, 16), "float hidden[M_MAX_HIDDEN_WIDTH];"),
                                           ((16, 8, 16), "float hidden[2][M_MAX_HIDDEN_WIDTH];")])
def test_ram_is_the_hidden_layers_but_the_last(hidden, buffer):
    """Weights stay in flash: the only arrays are the outputs and a buffer for each hidden layer but the last
    (two in turn from three hidden layers on), as wide as the widest of those."""
    est = classifier("digits", "logistic", hidden)
    _, emitted = emit(est)
    code = emitted.text[emitted.text.index("static inline"):]
    arrays = sorted({line.strip() for line in code.splitlines() if line.strip().startswith("float ") and "[" in line})
    assert arrays == ["float decision[M_N_CLASSES];"] + ([buffer] if buffer else [])
    if len(hidden) > 1:
        assert f"#define M_MAX_HIDDEN_WIDTH {max(hidden[:-1])}" in emitted.text


AVR_CASES = {
    "multiclass-tanh-16x16": lambda: (classifier("iris", "tanh", (16, 16)), dataset("iris")[0]),
    "binary-relu": lambda: (classifier("breast_cancer", "relu"), dataset("breast_cancer")[0][:200]),
    "regressor-logistic-16x16": lambda: (regressor("diabetes", "logistic", (16, 16)), dataset("diabetes")[0][:150]),
}


@pytest.mark.avr
@pytest.mark.simavr
@pytest.mark.parametrize("case", sorted(AVR_CASES))
def test_on_avr_matches_sklearn(case, tmp_path):
    """On a simulated ATmega328P: the layer tables are read from flash through pointers, and avr-libc's
    expf/tanhf stand in for glibc's. Same classes as scikit-learn; regression within the near-tie band."""
    est, X = AVR_CASES[case]()
    model, emitted = emit(est)
    got = avr_outputs(emitted.text, X, tmp_path, model_flash=emitted.table_bytes)
    X32 = to_float32(X)
    values, scales = model.decisions(X32)
    if model.task == "classifier":
        expected = np.searchsorted(est.classes_, est.predict(X32))
        assert (got == expected).all(), np.flatnonzero(got != expected)
    else:
        assert (np.abs(got - est.predict(X32)) <= NEAR_TIE * scales[:, 0]).all()


@pytest.mark.avr
@pytest.mark.simavr
def test_avr_stack_does_not_grow_with_the_last_hidden_layer():
    """Measured under simavr: a network's stack does not depend on the width of its last hidden layer (it is
    never stored), and one hidden layer of 64 takes less than one buffer of 16 floats would."""
    from microml_build.pipeline.measure import measure

    need_tool("avr")
    need_simavr()
    X, _ = dataset("iris")
    stacks = {}
    for hidden in [(8,), (64,), (8, 8), (8, 64)]:
        _, emitted = emit(classifier("iris", "tanh", hidden))
        stacks[hidden] = measure(emitted.text, "m", X[0], "avr").stack
    assert stacks[(8,)] == stacks[(64,)] < 16 * 4, stacks
    assert stacks[(8, 8)] == stacks[(8, 64)] < stacks[(8,)] + 8 * 4 + 16, stacks

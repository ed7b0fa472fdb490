"""Fixed-point precision (fixed16, fixed8): the compiled C equals its integer reference on every row and agrees
with scikit-learn above the threshold on several data sets; extreme inputs and large feature ranges cannot
overflow (checked with UBSan); strict cross compiles; the ATmega328P computes what the host does; the yaml
path records and enforces the agreement; float precision is unchanged."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn import linear_model as lm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.ensemble import (GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from microml_build import toolchains
from microml_build.pipeline.build import Log, build
from microml_build.emit.header import emit_header
from microml_build.plan import plan
from microml_build.errors import MicroMLError
from microml_build.lower import lower
from microml_build.passes.quantize import Q_MAX, Q_MISSING, quantize
from microml_build.pipeline.verify import FIXED_HARNESS, to_float32, verify
from support import need_tool

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
CLASSIFIERS = {
    "LogisticRegression": lambda: lm.LogisticRegression(max_iter=5000),
    "DecisionTree": lambda: DecisionTreeClassifier(random_state=0),
    "RandomForest": lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0),
    "HistGradientBoosting": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0),
    "MLP-relu": lambda: make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=1500, random_state=0)),
    "MLP-tanh": lambda: make_pipeline(StandardScaler(), MLPClassifier((12, 8), activation="tanh", max_iter=1500,
                                                                      random_state=0)),
    "SVC-linear": lambda: make_pipeline(StandardScaler(), SVC(kernel="linear")),
    "MLP-3-layers": lambda: make_pipeline(StandardScaler(), MLPClassifier((10, 12, 6), max_iter=1500,
                                                                          random_state=0)),
}
# (data set, model): every family on at least one data set, every data set on several families.
CLASSIFIER_CASES = [("iris", "RandomForest"), ("iris", "MLP-tanh"), ("iris", "SVC-linear"),
                    ("wine", "LogisticRegression"), ("wine", "HistGradientBoosting"), ("wine", "MLP-relu"),
                    ("breast_cancer", "LogisticRegression"), ("breast_cancer", "DecisionTree"),
                    ("breast_cancer", "RandomForest"), ("breast_cancer", "MLP-relu"),
                    ("digits", "LogisticRegression"), ("digits", "RandomForest"), ("digits", "MLP-tanh"),
                    ("wine", "MLP-3-layers")]
FIXED8_CASES = [("breast_cancer", "RandomForest"), ("digits", "LogisticRegression"), ("wine", "MLP-relu")]
REGRESSORS = {
    "LinearRegression": lm.LinearRegression,
    "RandomForest": lambda: RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0),
    "GradientBoosting": lambda: GradientBoostingRegressor(n_estimators=50, random_state=0),
    "MLP": lambda: make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), max_iter=3000,
                                                                random_state=0)),
}
QUIET = Log(quiet=True)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with threadpool_limits(1):
        yield


def split(X, y):
    """Train on three quarters (the rows quantize.py scales from), verify on all, as `microml build` does."""
    order = np.random.RandomState(0).permutation(len(X))
    train = order[: 3 * len(X) // 4]
    return X[train], y[train]


def fixed_header(est, X, y, precision="fixed16", name="m"):
    X_train, y_train = split(X, y)
    est.fit(X_train, y_train)
    model = quantize(lower(est), X_train, precision, tuple(f"f{j}" for j in range(X.shape[1])))
    text = emit_header(plan(model), name=name, file_name="model.h", provenance=[("Test", "fixed")],
                       feature_names=tuple(f"f{j}" for j in range(X.shape[1]))).text
    return model, model.head, text


def data(name):
    X, y = LOADERS[name](return_X_y=True)
    return (X[:600], y[:600]) if name == "digits" else (X, y)


@pytest.mark.parametrize("dataset, family", CLASSIFIER_CASES, ids=[f"{d}-{f}" for d, f in CLASSIFIER_CASES])
def test_fixed16_classifier_agreement(dataset, family):
    need_tool("host")
    X, y = data(dataset)
    est = CLASSIFIERS[family]()
    model, fixed, text = fixed_header(est, X, y)
    result = verify(model, text, "m", est, X, min_agreement=0.99)   # also: C == reference
    assert result.agree >= 0.99 * len(X), result.summary
    assert "fixed16 agreement" in result.summary


@pytest.mark.parametrize("dataset, family", FIXED8_CASES, ids=[f"{d}-{f}" for d, f in FIXED8_CASES])
def test_fixed8_classifier_agreement(dataset, family):
    need_tool("host")
    X, y = data(dataset)
    est = CLASSIFIERS[family]()
    model, fixed, text = fixed_header(est, X, y, "fixed8")
    assert "static const int8_t" in text
    result = verify(model, text, "m", est, X, min_agreement=0.99)
    assert result.agree >= 0.99 * len(X), result.summary


@pytest.mark.parametrize("family", sorted(REGRESSORS))
def test_fixed16_regressor_agreement_on_diabetes(family):
    need_tool("host")
    X, y = load_diabetes(return_X_y=True)
    est = REGRESSORS[family]()
    model, fixed, text = fixed_header(est, X, y)
    result = verify(model, text, "m", est, X, min_agreement=0.99)
    assert result.rmse < 0.01 * np.std(y), result.summary
    assert "RMSE" in result.summary and "max abs error" in result.summary


def test_agreement_below_the_threshold_fails_with_the_figures():
    need_tool("host")
    X, y = load_diabetes(return_X_y=True)
    est = lm.LinearRegression()
    model, fixed, text = fixed_header(est, X, y, "fixed8")        # int8 weights: coarse
    with pytest.raises(MicroMLError) as err:
        verify(model, text, "m", est, X, min_agreement=0.99)
    assert err.value.key == "verify.min_agreement"
    assert re.search(r"agrees with scikit-learn on \d+ of 442 rows \(\d+\.\d\d%\), below verify.min_agreement 0.99",
                     str(err.value))
    assert "fixed16" in err.value.fix and "RMSE" in str(err.value)


def test_a_header_that_differs_from_its_integer_reference_is_a_bug():
    need_tool("host")
    X, y = load_breast_cancer(return_X_y=True)
    est = lm.LogisticRegression(max_iter=5000)
    model, fixed, text = fixed_header(est, X, y)
    table = re.search(r"m_weights\[30\] MICROML_FLASH = \{\n\s+(-?\d+),", text)
    tampered = text[:table.start(1)] + str(int(table.group(1)) + 1000) + text[table.end(1):]
    with pytest.raises(MicroMLError, match="differs from its integer reference"):
        verify(model, tampered, "m", est, X)


# Overflow: large feature ranges and extreme inputs, run with UBSan so any int overflow or bad shift aborts.


def wide_ranges(n=400):
    """Features spanning 1e9, 1e-6, a narrow band around 1e4, +-3e5 and 0/1: raw, unscaled."""
    rng = np.random.RandomState(7)
    X = np.stack([rng.rand(n) * 1e9, rng.randn(n) * 1e-6, 1e4 + rng.rand(n) * 10, rng.randn(n) * 3e5,
                  rng.randint(0, 2, n).astype(float)], axis=1)
    score = X[:, 0] / 1e9 - 0.5 + X[:, 1] * 3e5 + (X[:, 2] - 1e4 - 5) / 5 + X[:, 3] / 3e5 + X[:, 4] - 0.5
    return X, score


def extreme_rows(fixed, n_features):
    """Saturating, missing and special values, plus for each linear output the inputs that push its sum furthest."""
    special = [0.0, -0.0, 1e-45, -1e-45, 1e38, -1e38, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e9, -1e9]
    rows = [np.full(n_features, v) for v in special]
    rng = np.random.RandomState(1)
    rows += [rng.choice(special, n_features) for _ in range(40)]
    weights = getattr(getattr(fixed, "core", None), "weights", None)
    if weights is not None:     # xq = -32768 (NaN) or +32767 (inf) with the weight's sign, both ways
        for row in np.atleast_2d(weights):
            rows.append(np.where(row > 0, np.inf, np.nan))
            rows.append(np.where(row > 0, np.nan, np.inf))
    return np.array(rows, dtype=np.float64)


def run_sanitized(text: str, X: np.ndarray, n_outputs: int, tmp_path: Path):
    """FIXED_HARNESS compiled with -fsanitize=undefined (no recovery): (xq, fixed results, float results)."""
    need_tool("host")
    (tmp_path / "model.h").write_text(text)
    (tmp_path / "harness.c").write_text(FIXED_HARNESS.format(header="model.h", p="m", P="M"))
    exe = tmp_path / "harness"
    compiled = subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined",
                               "-fno-sanitize-recover=all", "-o", str(exe), str(tmp_path / "harness.c"), "-lm"],
                              capture_output=True, text=True)
    if compiled.returncode != 0 and "sanitize" in compiled.stderr:
        pytest.skip("gcc without UBSan")
    assert compiled.returncode == 0, compiled.stderr
    rows = "\n".join(" ".join(float(v).hex() for v in row) for row in np.asarray(X, dtype=np.float32))
    ran = subprocess.run([str(exe)], input=rows + "\n", capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and not ran.stderr, ran.stderr[-2000:]
    xq, fixed, floats = [], [], []
    for line in ran.stdout.strip().split("\n"):
        inputs, results = line.split("|")
        xq.append([int(v) for v in inputs.split()])
        values = results.split()
        fixed.append([int(v) for v in values[: max(n_outputs, 1)]])
        floats.append([float.fromhex(v) for v in values[max(n_outputs, 1):]] if n_outputs else [int(values[1])])
    return np.array(xq), np.array(fixed), np.array(floats)


WIDE = {
    "LogisticRegression": lambda: lm.LogisticRegression(max_iter=5000),
    "LinearRegression": lm.LinearRegression,
    "MLPRegressor": lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
    "GradientBoosting": lambda: GradientBoostingRegressor(n_estimators=30, random_state=0),
}


@pytest.mark.parametrize("family", sorted(WIDE))
def test_large_feature_ranges_and_extreme_inputs_cannot_overflow(family, tmp_path):
    X, score = wide_ranges()
    y = (score > 0).astype(int) if family == "LogisticRegression" else score
    est = WIDE[family]()
    model, fixed, text = fixed_header(est, X, y)
    if family != "MLPRegressor":      # an MLP on raw 1e9-range features is a poor model; overflow is the point
        result = verify(model, text, "m", est, X, min_agreement=0.95)
        assert result.agree >= 0.95 * len(X)
    extreme = extreme_rows(fixed, X.shape[1])
    n_outputs = 0 if model.task == "classifier" else fixed.core.n_outputs
    got_xq, got_fixed, got_float = run_sanitized(text, extreme, n_outputs, tmp_path)
    xq, want = fixed.run(to_float32(extreme))
    assert np.array_equal(got_xq, xq)
    assert set(np.unique(xq)) <= set(range(-Q_MAX, Q_MAX + 1)) | {Q_MISSING}
    assert (xq == Q_MAX).any() and (xq == -Q_MAX).any() and (xq == Q_MISSING).any()
    assert np.array_equal(got_fixed.reshape(want.shape) if want.ndim == 1 else got_fixed, want)
    if n_outputs:
        assert np.array_equal(got_float, fixed.core.values(want).astype(np.float32))


# Cross compiles and the chip


CALLER = """\
#include "model.h"

float features[M_N_FEATURES];
int16_t quantized[M_N_FEATURES];
volatile float sink;

int main(void)
{
    m_quantize(features, quantized);
#ifdef M_N_CLASSES
    char name[M_LABEL_SIZE];
    sink = (float)m_predict(features) + (float)m_predict_fixed(quantized) + (m_label(0) != 0)
           + (float)m_label_copy(m_predict_fixed(quantized), name, sizeof name) + (float)name[0];
#elif M_N_OUTPUTS == 1
    sink = m_predict_value(features) + m_predict(features) + (float)m_predict_fixed(quantized);
#else
    float y[M_N_OUTPUTS];
    int32_t yq[M_N_OUTPUTS];
    m_predict_value(features, y);
    m_predict_fixed(quantized, yq);
    sink = y[0] + (float)yq[0];
#endif
    return 0;
}
"""


def cross_cases():
    X, y = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    return {
        "tree-code": (DecisionTreeClassifier(max_depth=4, random_state=0), X, y),
        "forest-tables": (RandomForestClassifier(n_estimators=200, random_state=0), X, y),   # > CODE_LIMIT
        "mlp-tanh": (make_pipeline(StandardScaler(), MLPClassifier((6, 5), activation="tanh", max_iter=2000,
                                                                   random_state=0)), X, y),
        "linear-multi-output": (lm.Ridge(), Xd, np.stack([yd, -yd / 7], axis=1)),
    }


@pytest.mark.avr
@pytest.mark.arm
@pytest.mark.parametrize("case", ["tree-code", "forest-tables", "mlp-tanh", "linear-multi-output"])
def test_fixed_headers_compile_strictly_everywhere(case, tmp_path):
    est, X, y = cross_cases()[case]
    _, fixed, text = fixed_header(est, X, y, "fixed8" if case == "forest-tables" else "fixed16")
    assert ("m_impl_leaf(const int16_t *xq" in text) == (case == "forest-tables")
    compile_everywhere(text, tmp_path)


def compile_everywhere(text: str, tmp_path: Path) -> None:
    """CALLER over the fixed-point header, built strictly as C and C++ for the host, AVR and Cortex-M4."""
    (tmp_path / "model.h").write_text(text)
    (tmp_path / "main.c").write_text(CALLER)
    for target in ("host", "avr", "cortex-m4"):
        for lang in ("c", "c++"):
            need_tool(target, lang)
            toolchains.compile([tmp_path / "main.c"], tmp_path / f"{target}-{lang}.elf", target=target, lang=lang,
                               include_dirs=[tmp_path])


AVR_FIRMWARE = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"
#include "model.h"

/* The rows as float bits: inf and NaN included. */
static const uint32_t rows[{n_rows}][M_N_FEATURES] PROGMEM = {{
{rows}
}};

int main(void)
{{
    float x[M_N_FEATURES];
    int16_t xq[M_N_FEATURES];
    harness_init();
    for (uint16_t r = 0; r < {n_rows}; r++) {{
        uint16_t check = 0;
        memcpy_P(x, rows[r], sizeof x);
        m_quantize(x, xq);
        for (uint8_t j = 0; j < M_N_FEATURES; j++)
            check = (uint16_t)(check * 31u + (uint16_t)xq[j]);
        printf("%d %d %u\\n", m_predict(x), m_predict_fixed(xq), check);
    }}
    harness_exit();
}}
"""


@pytest.mark.avr
@pytest.mark.simavr
def test_the_atmega328p_computes_what_the_host_does(tmp_path):
    """Trees as code with NaN routing, a tanh MLP (table, shifts) and a linear model, on the chip: both entry
    points and the quantized features (a checksum) equal the host's integer reference, extreme inputs included."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.concatenate([X[::12], extreme_rows(None, X.shape[1])[:13]]).astype(np.float32)
    for name, est in [("forest", RandomForestClassifier(n_estimators=4, max_depth=5, random_state=0)),
                      ("mlp", make_pipeline(StandardScaler(), MLPClassifier((8,), activation="tanh", max_iter=1500,
                                                                            random_state=0))),
                      ("logreg", lm.LogisticRegression(max_iter=5000))]:
        model, fixed, text = fixed_header(est, X, y)
        xq, want = fixed.run(rows)
        check = np.zeros(len(rows), dtype=np.int64)
        for j in range(xq.shape[1]):
            check = (check * 31 + (xq[:, j] & 0xFFFF)) & 0xFFFF
        got = run_on_avr(text, rows, tmp_path / name)
        assert np.array_equal(got[:, 2], check), name
        assert np.array_equal(got[:, 0], want) and np.array_equal(got[:, 1], want), name


def run_on_avr(text: str, rows: np.ndarray, folder: Path) -> np.ndarray:
    """AVR_FIRMWARE over the fixed-point header on a simulated ATmega328P: per row, predict, predict_fixed and the
    checksum of the quantized features."""
    from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr
    from support import need_simavr

    need_tool("avr")
    need_simavr()
    literal = ",\n".join("    { " + ", ".join(f"0x{v:08X}UL" for v in row.view(np.uint32)) + " }"
                         for row in np.asarray(rows, dtype=np.float32))
    folder.mkdir()
    (folder / "model.h").write_text(text)
    (folder / "fw.c").write_text(AVR_FIRMWARE.format(n_rows=len(rows), rows=literal))
    elf = toolchains.compile([folder / "fw.c", *HARNESS_SOURCES], folder / "fw.elf", target="avr",
                             include_dirs=[HARNESS_DIR, folder])
    return np.array([[int(v) for v in line.split()] for line in run_avr(elf, timeout=120).split("\n") if line])


# The yaml path


YAML = """\
name: cancer
dataset:
  path: sklearn:breast_cancer
train:
  estimator: {estimator}
  params: {params}
verify:
  measure: false
{verify}target:
  mcu: avr
{precision}output: include/cancer_model.h
"""


def project(tmp_path, estimator="sklearn.ensemble.RandomForestClassifier",
            params="{n_estimators: 5, max_depth: 4, random_state: 0}", precision="fixed16", verify_extra="",
            folder="fw"):
    root = tmp_path / folder
    root.mkdir(exist_ok=True)
    (root / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\n")
    (root / "microml.yaml").write_text(YAML.format(estimator=estimator, params=params, verify=verify_extra,
                                                   precision=f"  precision: {precision}\n" if precision else ""))
    return root


def test_yaml_build_records_precision_and_agreement(tmp_path):
    root = project(tmp_path)
    result = build(root / "microml.yaml", log=QUIET)
    text = (root / "include" / "cancer_model.h").read_text()
    assert "fixed16 agreement" in result.summary
    assert re.search(r"\* Target: +avr, fixed16", text)
    assert re.search(r"\* Verified: +fixed16 agreement \d+/569 = \d+\.\d\d% \(minimum 99%\) on all 569 rows", text)
    assert "static inline int cancer_predict_fixed(const int16_t *xq)" in text
    assert "static inline int cancer_predict(const float *x)" in text


def test_yaml_build_below_min_agreement_keeps_the_previous_header(tmp_path):
    root = project(tmp_path, estimator="sklearn.linear_model.LogisticRegression", params="{max_iter: 5000}",
                   precision="fixed8", verify_extra="  min_agreement: 1.0\n")
    header = root / "include" / "cancer_model.h"
    header.parent.mkdir()
    header.write_text("/* previous */\n")
    with pytest.raises(MicroMLError) as err:
        build(root / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "verify.min_agreement")
    assert header.read_text() == "/* previous */\n"


def test_yaml_build_refuses_models_without_a_fixed_form(tmp_path):
    root = project(tmp_path, estimator="sklearn.naive_bayes.GaussianNB", params="{}")
    with pytest.raises(MicroMLError) as err:
        build(root / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "target.precision")
    assert "GaussianNB has no fixed-point form" in str(err.value) and "SVC, NuSVC, SVR and NuSVR" in err.value.fix


def test_yaml_build_refuses_a_meaningless_feature_range_by_name(tmp_path):
    root = project(tmp_path, estimator="sklearn.linear_model.LogisticRegression", params="{}")
    X, y = load_iris(return_X_y=True)
    lines = ["timestamp_ms,petal_length,species"] + [f"{1.7e12 + 1000 * i:.0f},{x[2]},{t}" for i, (x, t) in
                                                     enumerate(zip(X, y))]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    text = (root / "microml.yaml").read_text().replace("sklearn:breast_cancer", "data.csv\n  label: species")
    (root / "microml.yaml").write_text(text)
    with pytest.raises(MicroMLError) as err:
        build(root / "microml.yaml", log=QUIET)
    assert (err.value.file, err.value.key) == ("microml.yaml", "target.precision")
    assert "timestamp_ms" in str(err.value) and "subtract a constant" in err.value.fix


def test_float_precision_is_unchanged(tmp_path):
    """precision: float emits the float header, with or without min_agreement, as before fixed point existed."""
    texts = []
    for folder, extra, precision in (("a", "", ""), ("b", "  min_agreement: 0.5\n", "float")):
        root = project(tmp_path, verify_extra=extra, precision=precision, folder=folder)
        result = build(root / "microml.yaml", log=QUIET)
        assert re.search(r"agreement \d+/569", result.summary) and "fixed" not in result.summary
        texts.append((root / "include" / "cancer_model.h").read_text())
    for text in texts:
        assert "cancer_decision_function(const float *x, float *decision)" in text
        assert "_predict_fixed" not in text and "cancer_quantize" not in text and "#define CANCER_N_DECISIONS" in text
    keep = [[line for line in text.splitlines() if not re.search(r"sha256|microml-stamp|Config:", line)]
            for text in texts]
    assert keep[0] == keep[1]

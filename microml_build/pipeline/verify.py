"""Proves the header right: compile it with the host C compiler, run it on every row, compare with scikit-learn.

The C code computes in float32, scikit-learn in float64, so a point whose decision
value sits within float32 rounding of the boundary may legitimately land on the other
side. Such points are counted and reported as near-ties; any other difference fails
the build. The inputs are the float32 values the chip will see, given to both sides.

Models a pass approximated (`model.lossy`) promise no parity, so they are checked in two steps.
First the C must equal the IR the pass made: integer heads (`target.precision: fixed16 | fixed8`,
`verify_integer`) its exact integer reference on every row (quantized inputs, both entry points,
results); float heads with packed tables (`int16-vectors | int8-vectors`, `verify_packed`) its float64
reference, float32 near-ties excused as above. A difference there is a bug. Then the agreement with
scikit-learn's predict is measured: classifiers agree on a row when the class is the same, regressors
when every output is within `REGRESSION_TOLERANCE` (1%) of the standard deviation of scikit-learn's
predictions over the rows; below `verify.min_agreement` the build fails with the figures.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import NEAR_TIE, Model
from microml_build.ir.features import WindowStage, input_stage

HARNESS = """\
#include <stdio.h>
#include "{header}"

#ifdef {P}_INPUT_INT16
typedef int16_t verify_input_t;
#else
typedef float verify_input_t;
#endif

/* Reads rows of {P}_N_FEATURES inputs (hex floats, or integers for int16 input) from stdin; prints what the
 * model computes for each. A model with window features also prints " |" and the features, then " |" and
 * predict_ring() (and a classifier's decision_function_ring()) of the same window held in a ring whose oldest
 * sample is at slot (row % WINDOW_LENGTH). */
int main(void)
{{
    static verify_input_t x[{P}_N_FEATURES];
#ifdef {P}_N_CLASSES
    float out[{P}_N_DECISIONS];
    const int n_out = {P}_N_DECISIONS;
#else
    float out[{P}_N_OUTPUTS];
    const int n_out = {P}_N_OUTPUTS;
#endif
#ifdef {P}_WINDOW_LENGTH
    float f[{P}_N_WINDOW_FEATURES];
#if defined({P}_N_CLASSES) || {P}_N_OUTPUTS == 1
    static verify_input_t ring[{P}_N_FEATURES];
    unsigned row = 0;
#endif
#endif
    for (;;) {{
        for (int j = 0; j < {P}_N_FEATURES; j++) {{
#ifdef {P}_INPUT_INT16
            int v;
            if (scanf("%d", &v) != 1) {{
                return 0;
            }}
            x[j] = (int16_t)v;
#else
            if (scanf("%a", &x[j]) != 1) {{
                return 0;
            }}
#endif
        }}
#ifdef {P}_N_CLASSES
        {p}_decision_function(x, out);
        printf("%d", {p}_predict(x));
#elif {P}_N_OUTPUTS == 1
        out[0] = {p}_predict_value(x);
        printf("0");
#else
        {p}_predict_value(x, out);
        printf("0");
#endif
        for (int k = 0; k < n_out; k++) {{
            printf(" %a", (double)out[k]);
        }}
#ifdef {P}_WINDOW_LENGTH
        {p}_features(x, f);
        printf(" |");
        for (int k = 0; k < {P}_N_WINDOW_FEATURES; k++) {{
            printf(" %a", (double)f[k]);
        }}
#if defined({P}_N_CLASSES) || {P}_N_OUTPUTS == 1
        {{
            const unsigned head = row++ % {P}_WINDOW_LENGTH;
            for (unsigned t = 0; t < {P}_WINDOW_LENGTH; t++) {{
                for (unsigned c = 0; c < {P}_N_CHANNELS; c++) {{
                    ring[((head + t) % {P}_WINDOW_LENGTH) * {P}_N_CHANNELS + c] = x[t * {P}_N_CHANNELS + c];
                }}
            }}
            printf(" | %a", (double){p}_predict_ring(ring, head));
#ifdef {P}_N_CLASSES
            {p}_decision_function_ring(ring, head, out);
            for (int k = 0; k < n_out; k++) {{
                printf(" %a", (double)out[k]);
            }}
#endif
        }}
#endif
#endif
        printf("\\n");
    }}
}}
"""


@dataclass
class Verification:
    rows: int
    agree: int
    near_ties: list[int] = field(default_factory=list)
    max_decision_error: float = 0.0      # largest |C - float64 reference| relative to the term magnitude
    max_abs_error: float | None = None   # regressors: largest |C - scikit-learn|
    precision: str = "float"
    min_agreement: float | None = None   # fixed point: the agreement the build required
    rmse: float | None = None            # fixed-point regressors: RMSE against scikit-learn
    feature_flips: list[int] = field(default_factory=list)   # window models: classes flipped by feature rounding
    feature_bound_use: float | None = None   # window models: largest |C feature - float64| / its proven bound

    @property
    def summary(self) -> str:
        if self.precision != "float":
            text = (f"{self.precision} agreement {self.agree}/{self.rows} = {100 * self.agree / self.rows:.2f}% "
                    f"(minimum {100 * self.min_agreement:g}%")
            if self.rmse is not None:
                text += (f"; within {100 * REGRESSION_TOLERANCE:g}% of the predictions' std, max abs error "
                         f"{self.max_abs_error:.3g}, RMSE {self.rmse:.3g}")
            if self.near_ties:
                text += f"; {len(self.near_ties)} float32 near-tie{'s' if len(self.near_ties) > 1 else ''}"
            return text + ")"
        text = f"agreement {self.agree}/{self.rows}"
        if self.max_abs_error is not None:
            text += f" (max abs error {self.max_abs_error:.3g})"
        if self.near_ties:
            text += f" ({len(self.near_ties)} float32 near-tie{'s' if len(self.near_ties) > 1 else ''} excused)"
        if self.feature_bound_use is not None:
            flips = len(self.feature_flips)
            text += (f", window features within {100 * self.feature_bound_use:.0f}% of their float32 bounds"
                     + (f" ({flips} class flip{'s' if flips > 1 else ''} from feature rounding excused)" if flips
                        else ""))
        return text


def to_float32(X: np.ndarray) -> np.ndarray:
    """The values the firmware sees, back in float64 for scikit-learn."""
    return np.asarray(X, dtype=np.float32).astype(np.float64)


def run_header(header_text: str, name: str, X: np.ndarray, compiler: str = "cc") -> tuple[np.ndarray, np.ndarray]:
    """Compile the header into a harness, run it on the rows of X, return (classes, decisions)."""
    classes, decisions, _, _ = run_header_all(header_text, name, X, compiler)
    return classes, decisions


def run_header_all(header_text: str, name: str, X: np.ndarray, compiler: str = "cc", integers: bool = False):
    """(classes, decisions, window features or None, predict_ring results or None) of the header on the rows of X.

    `integers`: the header takes int16 input (X holds whole numbers)."""
    stdout = _compile_and_run(header_text, HARNESS.format(header="model.h", p=name, P=name.upper()), X, compiler,
                              integers)
    parts = [line.split("|") for line in stdout.split("\n")[: len(X)]]
    classes = np.array([int(part[0].split()[0]) for part in parts])
    decisions = np.array([[float.fromhex(v) for v in part[0].split()[1:]] for part in parts])
    features = np.array([[float.fromhex(v) for v in part[1].split()] for part in parts]) \
        if parts and len(parts[0]) > 1 else None
    ring = None
    if parts and len(parts[0]) > 2:
        ring = np.array([float.fromhex(part[2].split()[0]) for part in parts])
        ring_decisions = np.array([[float.fromhex(v) for v in part[2].split()[1:]] for part in parts])
        if ring_decisions.size and not np.array_equal(ring_decisions.view(np.uint64), decisions.view(np.uint64)):
            row = int(np.argmax(np.any(ring_decisions.view(np.uint64) != decisions.view(np.uint64), axis=1)))
            raise MicroMLError("decision_function_ring() differs from decision_function() on the same window (this "
                               "is a MicroML bug)", fix="report it with the model's yaml",
                               details=f"row {row}: {ring_decisions[row]!r} != {decisions[row]!r}")
    return classes, decisions, features, ring


def verify(model: Model, header_text: str, name: str, estimator, X: np.ndarray, compiler: str = "cc",
           min_agreement: float = 0.99) -> Verification:
    """Compare the compiled header with estimator.predict on every row of X; raise on a real mismatch.

    A head that computes in integers (`head.integer`) must equal its integer reference exactly, see
    `verify_integer`; the rest must equal scikit-learn up to float32 near-ties.
    """
    if getattr(model.head, "integer", False):
        return verify_integer(model, header_text, name, estimator, X, compiler, min_agreement)
    stage = input_stage(model)
    if stage is not None:
        check_input(stage, X)
    if model.lossy:
        return verify_packed(model, header_text, name, estimator, X, compiler, min_agreement, stage)
    result = Verification(rows=len(X), agree=0)
    X32, reference, scale, got, values, own = _run(model, header_text, name, X, compiler, stage, result)
    compare = own if own is not None else (reference, scale)
    check_lowering(model, estimator, X32, reference)
    if model.task == "regressor":
        return _verify_regressor(model, estimator, X32, values, *compare, result)
    expected = _class_index(model, estimator.predict(X32))
    result.agree = int((got == expected).sum())
    near = model.head.near_tie(reference, scale)
    if own is not None:     # the head on the C's own window features: where feature rounding may send a row
        own_class, own_near = model.head.predict_index(own[0]), model.head.near_tie(*own)
    for row in np.flatnonzero(got != expected):
        if near[row]:
            result.near_ties.append(int(row))
            continue
        if own is not None and (own_class[row] == got[row] or own_near[row]):
            result.feature_flips.append(int(row))
            continue
        raise MicroMLError(
            f"the C code disagrees with scikit-learn on row {row}: C says class {got[row]} "
            f"({model.labels[got[row]]!r}), scikit-learn {expected[row]} ({model.labels[expected[row]]!r}); "
            f"decision values C {values[row].tolist()} vs float64 {reference[row].tolist()}",
            fix="this is a MicroML bug unless the features are extreme; report it with the yaml and dataset; "
                "the previous header was kept")
    return result


def check_lowering(model: Model, estimator, X32: np.ndarray, reference: np.ndarray | None = None) -> None:
    """The float IR computes exactly what scikit-learn does (in float64), before any C or pass is involved."""
    if reference is None:
        reference, _ = model.decisions(X32)
    if model.task == "classifier":
        expected = _class_index(model, estimator.predict(X32))
        wrong = model.head.predict_index(reference) != expected
    else:
        expected = np.asarray(estimator.predict(X32), dtype=np.float64).reshape(len(X32), -1)
        atol = 1e-9 * float(np.abs(expected).max(initial=1.0))
        wrong = ~np.isclose(reference, expected, rtol=1e-9, atol=atol).all(1)
    if wrong.any():
        raise MicroMLError(f"internal check failed: the lowered model disagrees with scikit-learn on row "
                           f"{int(np.flatnonzero(wrong)[0])} before any C is involved (this is a MicroML bug)",
                           fix="report it with the model's yaml")


def _verify_regressor(model, estimator, X32, values, reference, scale, result: Verification) -> Verification:
    """Regressors: every output within float32 rounding (|error| <= 2^-16 x magnitude) of scikit-learn's, or for a
    window model of the model on the C's own window features (`reference`, checked within their bounds); the
    distance to scikit-learn is reported."""
    expected = np.asarray(estimator.predict(X32), dtype=np.float64).reshape(len(X32), -1)
    windowed = result.feature_bound_use is not None
    target = reference if windowed else expected
    against = "the model on the C's own window features" if windowed else "scikit-learn"
    result.max_abs_error = float(np.abs(values - expected).max())
    error = np.abs(values - target)
    allowed = NEAR_TIE * scale + np.finfo(np.float32).tiny
    bad_rows = np.flatnonzero((error > allowed).any(1))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise MicroMLError(
            f"the C code disagrees with {against} on {len(bad_rows)} row(s), first row {row}: "
            f"C {values[row].tolist()} vs {target[row].tolist()} (allowed {allowed[row].max():.3g})",
            fix="this is a MicroML bug unless the features are extreme; report it with the yaml and dataset; "
                "the previous header was kept")
    result.agree = len(X32)
    return result

def check_input(stage, X: np.ndarray) -> None:
    """Every row is an input the C can take (`target.input: int16`: whole numbers in range), else a clear error."""
    problem = stage.input_problem(X)
    if problem is not None:
        row, column, what = problem
        raise MicroMLError(f"row {row}, value {column}: {what}", key="target.input",
                           fix="scale the data to whole int16 counts (as the sensor gives them), or use target.input: "
                               "float")


def _check_window(model: Model, stage: WindowStage, X32, got, values, features, ring, result: Verification):
    """The C's window features within their proven float32 bounds on every row, predict_ring equal to predict;
    returns the head's float64 decisions and scales on the C's own features (what its rounding can change)."""
    bug = "the window features computed in C are outside their float32 error bounds (this is a MicroML bug)"
    want, bound = stage.apply(X32), stage.bounds(X32)
    error = np.abs(features - want)
    bad = np.argwhere(~(error <= bound))
    if len(bad):
        row, k = (int(v) for v in bad[0])
        raise MicroMLError(bug, fix="report it with the model's yaml and dataset; the previous header was kept",
                           details=f"row {row}, feature f[{k}] {stage.names()[k]}: C {features[row, k]!r}, float64 "
                                   f"{want[row, k]!r}, bound {bound[row, k]:.3g} ({len(bad)} values outside)")
    result.feature_bound_use = float(np.max(np.where(bound > 0, error / np.where(bound > 0, bound, 1), 0.0),
                                            initial=0.0))
    if ring is not None:
        same = ring == (got if model.task == "classifier" else values[:, 0])
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            raise MicroMLError("predict_ring() differs from predict() on the same window (this is a MicroML bug)",
                               fix="report it with the model's yaml", details=f"row {row}: predict_ring {ring[row]!r}, "
                                                                              f"predict {got[row]!r}")
    X = features
    for transform in model.transforms[1:]:
        X = transform.apply(X)
    return model.head.decisions(X)


def _class_index(model: Model, predicted: np.ndarray) -> np.ndarray:
    index = {label: i for i, label in enumerate(model.labels)}
    return np.array([index[label] for label in predicted.tolist()])


REGRESSION_TOLERANCE = 0.01   # fixed-point regressors: a row agrees within this fraction of the predictions' std

FIXED_HARNESS = """\
#include <stdio.h>
#include "{header}"

/* Reads rows of {P}_N_FEATURES hex floats from stdin; prints the quantized features, then what both entry
 * points compute: "xq... | fixed float" (classifiers: two classes; regressors: the int32 outputs, then the
 * float values). */
int main(void)
{{
    float x[{P}_N_FEATURES];
    int16_t xq[{P}_N_FEATURES];
#ifndef {P}_N_CLASSES
    int32_t yq[{P}_N_OUTPUTS];
    float y[{P}_N_OUTPUTS];
#endif
    for (;;) {{
        for (int j = 0; j < {P}_N_FEATURES; j++) {{
            if (scanf("%a", &x[j]) != 1) {{
                return 0;
            }}
        }}
        {p}_quantize(x, xq);
        for (int j = 0; j < {P}_N_FEATURES; j++) {{
            printf("%d ", xq[j]);
        }}
#ifdef {P}_N_CLASSES
        printf("| %d %d\\n", {p}_predict_fixed(xq), {p}_predict(x));
#else
#if {P}_N_OUTPUTS == 1
        yq[0] = {p}_predict_fixed(xq);
        y[0] = {p}_predict_value(x);
#else
        {p}_predict_fixed(xq, yq);
        {p}_predict_value(x, y);
#endif
        printf("|");
        for (int k = 0; k < {P}_N_OUTPUTS; k++) {{
            printf(" %ld", (long)yq[k]);
        }}
        for (int k = 0; k < {P}_N_OUTPUTS; k++) {{
            printf(" %a", (double)y[k]);
        }}
        printf("\\n");
#endif
    }}
}}
"""


def run_fixed_header(header_text: str, name: str, X: np.ndarray, n_outputs: int, compiler: str = "cc"):
    """Compile a fixed-point header into FIXED_HARNESS and run it on the rows of X.

    Returns (xq, fixed results, float-entry results): classifiers' results are class indices,
    regressors' (rows, n_outputs) int32 outputs and float values.
    """
    text = _compile_and_run(header_text, FIXED_HARNESS.format(header="model.h", p=name, P=name.upper()), X,
                            compiler)
    lines = text.split("\n")[: len(X)]
    xq, fixed, floats = [], [], []
    for line in lines:
        inputs, results = line.split("|")
        xq.append([int(v) for v in inputs.split()])
        values = results.split()
        if n_outputs == 0:
            fixed.append(int(values[0]))
            floats.append(int(values[1]))
        else:
            fixed.append([int(v) for v in values[:n_outputs]])
            floats.append([float.fromhex(v) for v in values[n_outputs:]])
    return np.array(xq, dtype=np.int64), np.array(fixed, dtype=np.int64), np.array(floats)


def _compile_and_run(header_text: str, harness: str, X: np.ndarray, compiler: str, integers: bool = False) -> str:
    """Compile `harness` (which includes model.h) with the host compiler, feed it the rows of X, return its output."""
    if shutil.which(compiler) is None:
        raise MicroMLError(f"the host C compiler '{compiler}' is not on PATH", key="verify.compiler",
                           fix="install gcc (Debian: apt-get install gcc) or set verify.compiler to your compiler")
    _check_host_compiler(compiler)
    with tempfile.TemporaryDirectory(prefix="microml-verify-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.h").write_text(header_text, encoding="utf-8")
        (tmp / "harness.c").write_text(harness, encoding="utf-8")
        command = [compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp / "harness"),
                   str(tmp / "harness.c"), "-lm"]
        compiled = subprocess.run(command, capture_output=True, text=True)
        if compiled.returncode != 0:
            raise MicroMLError("the generated header does not compile on the host (this is a MicroML bug)",
                               fix="report it with the model's yaml; the compiler said:",
                               details=compiled.stderr[-4000:])
        if integers:
            rows = "\n".join(" ".join(str(int(v)) for v in row) for row in np.asarray(X, dtype=np.float64))
        else:
            rows = "\n".join(" ".join(float(v).hex() for v in row) for row in np.asarray(X, dtype=np.float32))
        ran = subprocess.run([str(tmp / "harness")], input=rows + "\n", capture_output=True, text=True, timeout=600)
    if ran.returncode != 0:
        raise MicroMLError(f"the verification program crashed (exit {ran.returncode})",
                           fix="report it as a MicroML bug", details=ran.stderr[-2000:])
    return ran.stdout


@functools.lru_cache(maxsize=None)
def _check_host_compiler(compiler: str) -> None:
    """`compiler` builds a C99 program that runs here; otherwise the fault is the setting, not the header."""
    with tempfile.TemporaryDirectory(prefix="microml-cc-") as tmp:
        source, program = Path(tmp) / "hello.c", Path(tmp) / "hello"
        source.write_text("#include <math.h>\n#include <stdio.h>\n"
                          "int main(void) { printf(\"%g\\n\", sqrt(4.0)); return 0; }\n", encoding="utf-8")
        built = subprocess.run([compiler, "-std=c99", "-Werror", "-o", str(program), str(source), "-lm"],
                               capture_output=True, text=True)
        ran = subprocess.run([str(program)], capture_output=True, text=True) if built.returncode == 0 else None
    if ran is None or ran.returncode != 0 or ran.stdout.strip() != "2":
        raise MicroMLError(f"'{compiler}' cannot build and run a C99 program on this machine",
                           key="verify.compiler", fix="set verify.compiler to the host's C compiler (cc, gcc or "
                           "clang): verification runs the header here; cross compilers are for your firmware",
                           details=(built.stdout + built.stderr)[-2000:])


def verify_integer(model: Model, header_text: str, name: str, estimator, X: np.ndarray, compiler: str = "cc",
                   min_agreement: float = 0.99) -> Verification:
    """The C equals the integer reference on every row (else a bug), then its agreement with scikit-learn
    (`model.lossy`: the float model it approximates is checked against scikit-learn first)."""
    fixed = model.head
    X32 = to_float32(X)
    classifier = model.task == "classifier"
    n_outputs = 0 if classifier else fixed.core.n_outputs
    got_xq, got_fixed, got_float = run_fixed_header(header_text, name, X, n_outputs, compiler)
    xq, want = fixed.run(X32)
    bug = "the fixed-point C code differs from its integer reference (this is a MicroML bug)"
    fix = "report it with the model's yaml; use target.precision: float meanwhile; the previous header was kept"
    if not np.array_equal(got_xq, xq):
        row, j = (int(v[0]) for v in np.nonzero(got_xq != xq))
        raise MicroMLError(bug, fix=fix, details=f"row {row}, feature {j}: {X32[row, j]!r} quantized to "
                                                 f"{got_xq[row, j]} in C, {xq[row, j]} in the reference")
    want = want if classifier else want.reshape(len(X32), -1)
    if not np.array_equal(got_fixed, want):
        row = int(np.flatnonzero((got_fixed != want).reshape(len(X32), -1).any(1))[0])
        raise MicroMLError(bug, fix=fix, details=f"row {row}: <name>_predict_fixed gives {got_fixed[row].tolist()} "
                                                 f"in C, {want[row].tolist()} in the reference")
    result = Verification(rows=len(X32), agree=0, precision=model.lossy, min_agreement=min_agreement)
    if classifier:
        if not np.array_equal(got_float, got_fixed):
            row = int(np.flatnonzero(got_float != got_fixed)[0])
            raise MicroMLError(bug, fix=fix, details=f"row {row}: <name>_predict gives {got_float[row]}, "
                                                     f"<name>_predict_fixed {got_fixed[row]}")
        return _agreement(model, estimator, X32, got_fixed, result, min_agreement)
    values = fixed.core.values(want)
    exp = getattr(fixed.core, "link", "") == "log" or getattr(fixed.core, "output", "") == "exp"
    same = np.isclose(got_float, values, rtol=1e-5, atol=0) if exp else got_float == values.astype(np.float32)
    if not np.all(same):
        row = int(np.flatnonzero(~same.all(1))[0])
        raise MicroMLError(bug, fix=fix, details=f"row {row}: <name>_predict_value gives {got_float[row].tolist()} "
                                                 f"in C, {values[row].tolist()} in the reference")
    return _agreement(model, estimator, X32, got_float, result, min_agreement)


def _run(model: Model, header_text: str, name: str, X: np.ndarray, compiler: str, stage, result: Verification):
    """Run the header on the rows of X: (X32, the model's float64 decisions and their scale, the C's classes and
    values, and for window features the head's decisions on the C's own features, else None). Checks the window
    features (`_check_window`) and sets `result.max_decision_error` against the reference they call for."""
    X32 = to_float32(X)
    reference, scale = model.decisions(X32)
    got, values, features, ring = run_header_all(header_text, name, X, compiler,
                                                 stage is not None and stage.input == "int16")
    own = _check_window(model, stage, X32, got, values, features, ring, result) if isinstance(stage, WindowStage) \
        else None
    compare = own if own is not None else (reference, scale)
    result.max_decision_error = float(np.max(np.abs(values - compare[0]) / np.maximum(compare[1], 1e-30)))
    return X32, reference, scale, got, values, own


def verify_packed(model: Model, header_text: str, name: str, estimator, X: np.ndarray, compiler: str = "cc",
                  min_agreement: float = 0.99, stage=None) -> Verification:
    """A float head with packed tables (`passes/compress.py`): the C equals the packed model's float64 reference up
    to float32 near-ties (else a bug), then its agreement with scikit-learn is measured against `min_agreement`.
    `stage`: the model's input stage (window features are checked within their bounds, as `verify` does)."""
    result = Verification(rows=len(X), agree=0, precision=model.lossy, min_agreement=min_agreement)
    X32, reference, scale, got, values, own = _run(model, header_text, name, X, compiler, stage, result)
    reference, scale = own if own is not None else (reference, scale)
    bug = "the C code differs from the packed model's float64 reference (this is a MicroML bug)"
    fix = "report it with the model's yaml; use target.precision: float meanwhile; the previous header was kept"
    if model.task == "regressor":
        allowed = NEAR_TIE * scale + np.finfo(np.float32).tiny
        bad = np.flatnonzero((np.abs(values - reference) > allowed).any(1))
        if len(bad):
            row = int(bad[0])
            raise MicroMLError(bug, fix=fix, details=f"row {row}: C {values[row].tolist()}, reference "
                                                     f"{reference[row].tolist()}")
        return _agreement(model, estimator, X32, values, result, min_agreement)
    want = model.head.predict_index(reference)
    near = model.head.near_tie(reference, scale)
    for row in np.flatnonzero(got != want):
        if not near[row]:
            raise MicroMLError(bug, fix=fix, details=f"row {row}: C class {got[row]}, reference {want[row]}; decision "
                                                     f"values C {values[row].tolist()} vs {reference[row].tolist()}")
        result.near_ties.append(int(row))
    return _agreement(model, estimator, X32, got, result, min_agreement)


# The finer form to suggest when a coarse one misses verify.min_agreement.
FINER = {"fixed8": "fixed16 (fixed8's 8-bit tables are coarse)", "int8-vectors": "int16-vectors (int8 codes are coarse)"}


def _agreement(model: Model, estimator, X32: np.ndarray, got: np.ndarray, result: Verification,
               min_agreement: float) -> Verification:
    """Level 2 of a lossy model: the rows on which `got` (C classes, or values) agrees with scikit-learn's predict;
    below `min_agreement` an error with the figures."""
    classifier = model.task == "classifier"
    if classifier:
        expected = _class_index(model, estimator.predict(X32))
        agree = got == expected
        examples = [f"row {r}: C class {got[r]} ({model.labels[got[r]]!r}), scikit-learn "
                    f"{expected[r]} ({model.labels[expected[r]]!r})" for r in np.flatnonzero(~agree)[:5]]
    else:
        expected = np.asarray(estimator.predict(X32), dtype=np.float64).reshape(len(X32), -1)
        error = np.abs(got - expected)
        spread = expected.std(0)
        tolerance = REGRESSION_TOLERANCE * np.where(spread > 0, spread, np.maximum(np.abs(expected).max(0), 1e-30))
        agree = (error <= tolerance).all(1)
        result.max_abs_error = float(error.max())
        result.rmse = float(np.sqrt(np.mean(error ** 2)))
        examples = [f"row {r}: C {got[r].tolist()}, scikit-learn {expected[r].tolist()}"
                    for r in np.flatnonzero(~agree)[:5]]
    result.agree = int(agree.sum())
    if result.agree < min_agreement * result.rows:
        raise MicroMLError(
            f"the {result.precision} header agrees with scikit-learn on {result.agree} of {result.rows} rows "
            f"({100 * result.agree / result.rows:.2f}%), below verify.min_agreement {min_agreement:g}"
            + (f" (a row agrees when within {100 * REGRESSION_TOLERANCE:g}% of the predictions' standard deviation; "
               f"max abs error {result.max_abs_error:.3g}, RMSE {result.rmse:.3g})" if not classifier else ""),
            key="verify.min_agreement",
            fix=(f"use target.precision: {FINER[result.precision]} or float, " if result.precision in FINER
                 else "use target.precision: float, ")
                + "or lower verify.min_agreement if this agreement is good enough; the previous header was kept",
            details="\n".join(examples))
    return result

"""Proves the header right: compile it with the host C compiler, run it on every row, compare with scikit-learn.

The C code computes in float32, scikit-learn in float64, so a point whose decision
value sits within float32 rounding of the boundary may legitimately land on the other
side. Such points are counted and reported as near-ties; any other difference fails
the build. The inputs are the float32 values the chip will see, given to both sides.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import NEAR_TIE, Model

HARNESS = """\
#include <stdio.h>
#include "{header}"

/* Reads rows of {P}_N_FEATURES hex floats from stdin; prints what the model computes for each. */
int main(void)
{{
    float x[{P}_N_FEATURES];
#ifdef {P}_N_CLASSES
    float out[{P}_N_DECISIONS];
    const int n_out = {P}_N_DECISIONS;
#else
    float out[{P}_N_OUTPUTS];
    const int n_out = {P}_N_OUTPUTS;
#endif
    for (;;) {{
        for (int j = 0; j < {P}_N_FEATURES; j++) {{
            if (scanf("%a", &x[j]) != 1) {{
                return 0;
            }}
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

    @property
    def summary(self) -> str:
        text = f"agreement {self.agree}/{self.rows}"
        if self.max_abs_error is not None:
            text += f" (max abs error {self.max_abs_error:.3g})"
        if self.near_ties:
            text += f" ({len(self.near_ties)} float32 near-tie{'s' if len(self.near_ties) > 1 else ''} excused)"
        return text


def to_float32(X: np.ndarray) -> np.ndarray:
    """The values the firmware sees, back in float64 for scikit-learn."""
    return np.asarray(X, dtype=np.float32).astype(np.float64)


def run_header(header_text: str, name: str, X: np.ndarray, compiler: str = "cc") -> tuple[np.ndarray, np.ndarray]:
    """Compile the header into a harness, run it on the rows of X, return (classes, decisions)."""
    if shutil.which(compiler) is None:
        raise MicroMLError(f"the host C compiler '{compiler}' is not on PATH", key="verify.compiler",
                           fix="install gcc (Debian: apt-get install gcc) or set verify.compiler to your compiler")
    with tempfile.TemporaryDirectory(prefix="microml-verify-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.h").write_text(header_text, encoding="utf-8")
        (tmp / "harness.c").write_text(HARNESS.format(header="model.h", p=name, P=name.upper()), encoding="utf-8")
        command = [compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp / "harness"),
                   str(tmp / "harness.c"), "-lm"]
        compiled = subprocess.run(command, capture_output=True, text=True)
        if compiled.returncode != 0:
            raise MicroMLError("the generated header does not compile on the host (this is a MicroML bug)",
                               fix="report it with the model's yaml; the compiler said:",
                               details=compiled.stderr[-4000:])
        rows = "\n".join(" ".join(float(v).hex() for v in row) for row in np.asarray(X, dtype=np.float32))
        ran = subprocess.run([str(tmp / "harness")], input=rows + "\n", capture_output=True, text=True, timeout=600)
    if ran.returncode != 0:
        raise MicroMLError(f"the verification program crashed (exit {ran.returncode})",
                           fix="report it as a MicroML bug", details=ran.stderr[-2000:])
    lines = ran.stdout.split("\n")[: len(X)]
    classes = np.array([int(line.split()[0]) for line in lines])
    decisions = np.array([[float.fromhex(v) for v in line.split()[1:]] for line in lines])
    return classes, decisions


def verify(model: Model, header_text: str, name: str, estimator, X: np.ndarray, compiler: str = "cc") -> Verification:
    """Compare the compiled header with estimator.predict on every row of X; raise on a real mismatch."""
    X32 = to_float32(X)
    reference, scale = model.decisions(X32)
    got, values = run_header(header_text, name, X, compiler)
    result = Verification(rows=len(X), agree=0)
    result.max_decision_error = float(np.max(np.abs(values - reference) / np.maximum(scale, 1e-30)))
    if model.task == "regressor":
        return _verify_regressor(model, estimator, X32, values, reference, scale, result)
    expected = _class_index(model, estimator.predict(X32))
    lowered = model.head.predict_index(reference)
    if not np.array_equal(lowered, expected):
        bad = int(np.flatnonzero(lowered != expected)[0])
        raise MicroMLError(f"internal check failed: the lowered model disagrees with scikit-learn on row {bad} "
                           "before any C is involved (this is a MicroML bug)", fix="report it with the model's yaml")
    result.agree = int((got == expected).sum())
    near = model.head.near_tie(reference, scale)
    for row in np.flatnonzero(got != expected):
        if near[row]:
            result.near_ties.append(int(row))
            continue
        raise MicroMLError(
            f"the C code disagrees with scikit-learn on row {row}: C says class {got[row]} "
            f"({model.labels[got[row]]!r}), scikit-learn {expected[row]} ({model.labels[expected[row]]!r}); "
            f"decision values C {values[row].tolist()} vs float64 {reference[row].tolist()}",
            fix="this is a MicroML bug unless the features are extreme; report it with the yaml and dataset; "
                "the previous header was kept")
    return result


def _verify_regressor(model, estimator, X32, values, reference, scale, result: Verification) -> Verification:
    """Regressors: every output within float32 rounding of scikit-learn's (|error| <= 2^-16 x magnitude)."""
    expected = np.asarray(estimator.predict(X32), dtype=np.float64).reshape(len(X32), -1)
    if not np.allclose(reference, expected, rtol=1e-9, atol=1e-9 * float(np.abs(expected).max(initial=1.0))):
        bad = int(np.flatnonzero(~np.isclose(reference, expected, rtol=1e-9).all(1))[0])
        raise MicroMLError(f"internal check failed: the lowered model disagrees with scikit-learn on row {bad} "
                           "before any C is involved (this is a MicroML bug)", fix="report it with the model's yaml")
    error = np.abs(values - expected)
    result.max_abs_error = float(error.max())
    allowed = NEAR_TIE * scale + np.finfo(np.float32).tiny
    bad_rows = np.flatnonzero((error > allowed).any(1))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise MicroMLError(
            f"the C code disagrees with scikit-learn on {len(bad_rows)} row(s), first row {row}: "
            f"C {values[row].tolist()} vs scikit-learn {expected[row].tolist()} (allowed {allowed[row].max():.3g})",
            fix="this is a MicroML bug unless the features are extreme; report it with the yaml and dataset; "
                "the previous header was kept")
    result.agree = len(X32)
    return result


def _class_index(model: Model, predicted: np.ndarray) -> np.ndarray:
    index = {label: i for i, label in enumerate(model.labels)}
    return np.array([index[label] for label in predicted.tolist()])

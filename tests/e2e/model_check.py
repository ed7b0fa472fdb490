"""Shared end-to-end checks: lower + emit a fitted estimator, prove parity on the host, compile everywhere."""

from __future__ import annotations

from pathlib import Path

import subprocess

import numpy as np
import pytest

from microml_build import toolchains
from microml_build.emit.header import Emitted, emit_header
from microml_build.ir import Model
from microml_build.lower import lower
from microml_build.plan import plan
from microml_build.pipeline.verify import Verification, verify
from support import need_tool, target_marks

CROSS = [("host", "c"), ("host", "c++"), ("avr", "c"), ("avr", "c++"), ("cortex-m4", "c"), ("cortex-m4", "c++")]
# For @pytest.mark.parametrize("target,lang", CROSS_PARAMS): each carries its toolchain's mark (avr, arm).
CROSS_PARAMS = [pytest.param(target, lang, id=f"{target}-{lang}", marks=target_marks(target)) for target, lang in CROSS]

CALLER = """\
#include "model.h"

float features[{P}_N_FEATURES];
volatile float sink;

int main(void)
{{
#ifdef {P}_N_CLASSES
    float decision[{P}_N_DECISIONS];
    char name[{P}_LABEL_SIZE];
    {p}_decision_function(features, decision);
    sink = decision[0] + (float){p}_predict(features) + ({p}_label(0) != 0)
           + (float){p}_label_copy({p}_predict(features), name, sizeof name) + (float)name[0];
#elif {P}_N_OUTPUTS == 1
    sink = {p}_predict_value(features) + {p}_predict(features);
#else
    float y[{P}_N_OUTPUTS];
    {p}_predict_value(features, y);
    sink = y[0];
#endif
    return 0;
}}
"""


def emit(estimator, name: str = "m", n_features: int | None = None, prefer: dict | None = None) -> tuple[Model, Emitted]:
    """Lower and emit `estimator`; `prefer` asks the planner for a form (`microml_build.plan.plan`)."""
    model = lower(estimator)
    names = tuple(f"feature_{i}" for i in range(n_features or model.n_features))
    emitted = emit_header(plan(model, prefer), name=name, file_name="model.h", provenance=[("Test", "e2e")],
                          feature_names=names)
    return model, emitted


def host_parity(estimator, X: np.ndarray, name: str = "m", prefer: dict | None = None) -> Verification:
    """Compile on the host and compare with scikit-learn on every row (raises MicroMLError on a mismatch)."""
    need_tool("host")
    model, emitted = emit(estimator, name, X.shape[1], prefer)
    return verify(model, emitted.text, name, estimator, X)


def cross_compile(header_text: str, tmp_path: Path, target: str, lang: str, name: str = "m") -> Path:
    """Compile and link a caller of every API function with -Wall -Wextra -Werror for `target`."""
    need_tool(target, lang)
    (tmp_path / "model.h").write_text(header_text)
    main = tmp_path / "main.c"
    main.write_text(CALLER.format(p=name, P=name.upper()))
    return toolchains.compile([main], tmp_path / f"fw-{target}-{lang}.elf", target=target, lang=lang)


PROBA_HARNESS = """\
#include <stdio.h>
#include "model.h"

int main(void)
{
    float x[M_N_FEATURES], proba[M_N_CLASSES];
    for (;;) {
        for (int j = 0; j < M_N_FEATURES; j++) {
            if (scanf("%a", &x[j]) != 1) {
                return 0;
            }
        }
        m_predict_proba(x, proba);
        for (int c = 0; c < M_N_CLASSES; c++) {
            printf("%a ", (double)proba[c]);
        }
        printf("\\n");
    }
}
"""


def c_predict_proba(header_text, X, tmp_path):
    """Run `m_predict_proba` from the header on every row of X (host, one process)."""
    need_tool("host")
    (tmp_path / "model.h").write_text(header_text)
    (tmp_path / "proba.c").write_text(PROBA_HARNESS)
    program = toolchains.compile([tmp_path / "proba.c"], tmp_path / "proba", target="host", lang="c")
    rows = "\n".join(" ".join(float(v).hex() for v in row) for row in np.asarray(X, dtype=np.float32))
    out = subprocess.run([str(program)], input=rows + "\n", capture_output=True, text=True, check=True).stdout
    return np.array([[float.fromhex(v) for v in line.split()] for line in out.splitlines()])


PROBA_CALLER = """\
#include "model.h"

float features[M_N_FEATURES];
volatile float sink;

int main(void)
{
    float proba[M_N_CLASSES];
    m_predict_proba(features, proba);
    sink = proba[0];
    return 0;
}
"""

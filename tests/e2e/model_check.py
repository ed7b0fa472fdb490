"""Shared end-to-end checks: lower + emit a fitted estimator, prove parity on the host, compile everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microml_build import toolchains
from microml_build.emit.header import Emitted, emit_header
from microml_build.ir import Model
from microml_build.lower import lower
from microml_build.verify import Verification, verify
from support import need_tool

CROSS = [("host", "c"), ("host", "c++"), ("avr", "c"), ("avr", "c++"), ("cortex-m4", "c"), ("cortex-m4", "c++")]

CALLER = """\
#include "model.h"

float features[{P}_N_FEATURES];
volatile float sink;

int main(void)
{{
#ifdef {P}_N_CLASSES
    float decision[{P}_N_DECISIONS];
    {p}_decision_function(features, decision);
    sink = decision[0] + (float){p}_predict(features) + ({p}_label(0) != 0);
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


def emit(estimator, name: str = "m", n_features: int | None = None) -> tuple[Model, Emitted]:
    model = lower(estimator)
    names = tuple(f"feature_{i}" for i in range(n_features or model.n_features))
    emitted = emit_header(model, name=name, file_name="model.h", provenance=[("Test", "e2e")], feature_names=names)
    return model, emitted


def host_parity(estimator, X: np.ndarray, name: str = "m") -> Verification:
    """Compile on the host and compare with scikit-learn on every row (raises MicroMLError on a mismatch)."""
    need_tool("host")
    model, emitted = emit(estimator, name, X.shape[1])
    return verify(model, emitted.text, name, estimator, X)


def cross_compile(header_text: str, tmp_path: Path, target: str, lang: str, name: str = "m") -> Path:
    """Compile and link a caller of every API function with -Wall -Wextra -Werror for `target`."""
    need_tool(target, lang)
    (tmp_path / "model.h").write_text(header_text)
    main = tmp_path / "main.c"
    main.write_text(CALLER.format(p=name, P=name.upper()))
    return toolchains.compile([main], tmp_path / f"fw-{target}-{lang}.elf", target=target, lang=lang)

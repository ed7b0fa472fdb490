"""`target.precision` -> the pass that makes it, and the order `precision: auto` tries them in.

From the most exact to the smallest: float32 (no pass), float arithmetic over support vectors packed as int16 or int8
(`compress.py`, SVMs only), integers only with int16 or int8 tables (`quantize.py`). A family without a form for a
precision is refused by its pass with a MicroMLError on `target.precision`; `auto` skips it.
"""

from __future__ import annotations

import numpy as np

from microml_build.ir import Model
from microml_build.passes.compress import PACKED, compress
from microml_build.passes.quantize import quantize

ORDER = ("float", "int16-vectors", "int8-vectors", "fixed16", "fixed8")


def apply_precision(model: Model, precision: str, X_train: np.ndarray, feature_names=()) -> Model:
    """The lowered (float) model in `precision`: itself for float, else the pass's output (lossy)."""
    if precision == "float":
        return model
    if precision in PACKED:
        return compress(model, precision)
    return quantize(model, X_train, precision, feature_names)


def pass_name(precision: str) -> str:
    """What the build log calls the pass."""
    return f"Packing support vectors as {precision.split('-')[0]}" if precision in PACKED else \
        f"Quantizing to {precision}"

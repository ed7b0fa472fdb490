"""The compression pass (`target.precision: int16-vectors | int8-vectors`): a kernel SVM's support vectors stored as
int16 or int8 codes with a per-feature affine scale, the arithmetic left in float32.

Column j of the support vectors is stored as c_sj = round((sv_sj - o_j) / s_j), with o_j the centre of the support
vectors' range in that column and s_j the step that maps its half range to 32767 (int16) or 127 (int8); both are
float32 numbers. The pass returns the model with the decoded vectors o_j + s_j c_sj in place of the originals (so its
float64 reference is what the C computes, up to float32 rounding) and marks it lossy: the verification then proves
the C equal to that reference, near-ties excused, and measures its agreement with scikit-learn against
`verify.min_agreement`.

The C folds the scale into the kernel arithmetic (emit/svm.py): for the RBF kernel |x - sv|^2 = sum_j w_j (u_j -
c_sj)^2 with u_j = (x_j - o_j) / s_j computed once per prediction and w_j = s_j^2 (times a folded scaler's weight);
for the dot-product kernels <x, sv> = sum_j x_j o_j + sum_j (x_j s_j) c_sj, the first sum and x_j s_j computed once.
Every term then reads 2 (or 1) bytes of flash instead of 4.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.svm import KernelSvm, KernelSvr, PackedVectors

PACKED = {"int16-vectors": ("int16_t", 32767), "int8-vectors": ("int8_t", 127)}

# Folded scales outside this range would lose float32 precision (or overflow) in the C's per-feature constants.
SCALE_RANGE = (1e-30, 1e30)


def compress(model: Model, precision: str) -> Model:
    """`model` with its support vectors packed as `precision` says ("int16-vectors" or "int8-vectors")."""
    ctype, q = PACKED[precision]
    head = model.head
    if not isinstance(head, (KernelSvm, KernelSvr)):
        raise MicroMLError(f"{model.family} has no support vectors to pack (precision {precision})",
                           key="target.precision",
                           fix="int16-vectors and int8-vectors apply to SVC, NuSVC, SVR and NuSVR with the rbf, poly or "
                               "sigmoid kernel; use target.precision: float, fixed16 or fixed8")
    packed = pack(head.support_vectors, ctype, q)
    weights = packed.scale ** 2 * (1.0 if head.feature_weights is None else head.feature_weights)
    constants = [1.0 / packed.scale, weights] if head.kernel == "rbf" else [packed.scale]
    for values in constants:
        values = np.abs(np.asarray(values, dtype=np.float64))
        if (values < SCALE_RANGE[0]).any() or (values > SCALE_RANGE[1]).any():
            raise MicroMLError(f"the support vectors' columns span ranges too far apart to pack as {ctype} with "
                               "float32 scales", key="target.precision",
                               fix="rescale the features in the dataset (or add a StandardScaler to the Pipeline), or "
                                   "use target.precision: float")
    head = replace(head, support_vectors=packed.decoded(), packed=packed)
    summary = f"{model.summary}, support vectors as {ctype}"
    return replace(model, head=head, summary=summary, lossy=precision)


def pack(vectors: np.ndarray, ctype: str, q: int) -> PackedVectors:
    """Codes, offsets and steps of `vectors`, column by column (see the module docstring)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    low, high = vectors.min(0), vectors.max(0)
    offset = ((low + high) / 2).astype(np.float32).astype(np.float64)
    half = np.maximum(np.abs(high - offset), np.abs(low - offset))
    scale = np.where(half > 0, half / q, 1.0).astype(np.float32).astype(np.float64)
    # float32 rounding may leave half / scale a hair above q: widen the step until every code fits.
    while True:
        codes = np.round((vectors - offset) / scale)
        over = (np.abs(codes) > q).any(0)
        if not over.any():
            break
        scale = np.where(over, np.nextafter(scale.astype(np.float32), np.float32(np.inf)).astype(np.float64), scale)
    return PackedVectors(codes.astype(np.int64), offset, scale, ctype)

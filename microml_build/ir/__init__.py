"""The intermediate representation between scikit-learn and C.

A `Model` is plain data: the feature count, the class labels (for classifiers), the
input transforms a Pipeline could not fold away, and one inference head. Lowerings
(`microml_build.lower`) build it from fitted estimators; emitters (`microml_build.emit`)
turn it into C. Nothing here imports scikit-learn, so emitters and their tests work on
hand-built IR. One module per family (`ir/svm.py`, ...) defines its head classes.

Every head is a frozen dataclass with:
  task        "classifier" or "regressor"
  n_outputs   values written by `<name>_decision_function` (classifiers) or predicted (regressors)
  decisions(X) -> (values, scales)
              float64 NumPy reference of what the C computes: the decision values (or
              regression outputs), and the magnitude of the terms summed into each, which
              bounds float32 rounding
  predict_index(values) -> class indices   (classifiers) -- predict() from the values
  near_tie(values, scales) -> bool mask    (classifiers) -- rows whose class float32
              rounding could flip
Verification relies on these to tell true float32 near-ties from real mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

Label = Union[int, float, str, bool]

# A value within this fraction of the magnitude of the terms summed into it is within float32
# rounding: float32 keeps 24 bits and summing n terms loses up to ~log2(n) more; 2^-16 leaves room
# for a few hundred terms plus exp/tanh rounding, and no more.
NEAR_TIE = 2.0 ** -16


@dataclass(frozen=True, eq=False)
class Model:
    """What the header computes, independent of scikit-learn and of C."""

    n_features: int
    head: Any
    estimator: str                      # e.g. "SVC(C=10, gamma=0.001)"
    summary: str                        # e.g. "SVC(rbf) 57 SV x 30 features"
    labels: tuple[Label, ...] = ()      # classes_, in predict()'s index order; () for regressors
    transforms: tuple = ()              # input transforms before the head (see ir/preprocessing.py)
    params: dict = field(default_factory=dict)
    family: str = ""                    # the final estimator's class, e.g. "SVC" (a Pipeline's last step)
    lossy: str = ""                     # set by a pass that approximates the model ("fixed16"): the header then
                                        # agrees with scikit-learn on a measured share of rows, not on every row

    @property
    def task(self) -> str:
        return self.head.task

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float64 reference of the whole model: transforms, then the head."""
        for transform in self.transforms:
            X = transform.apply(X)
        return self.head.decisions(X)


def pairs(n_classes: int) -> list[tuple[int, int]]:
    """Class pairs (i, j), i < j, in libsvm's order."""
    return [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]


def sign_near_tie(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Rows where any decision value is within rounding of zero."""
    return np.any(np.abs(values) <= NEAR_TIE * scales, axis=1)


def argmax_near_tie(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Rows where the best and second-best values are within rounding of each other."""
    if values.shape[1] < 2:
        return sign_near_tie(values, scales)
    order = np.argsort(-values, axis=1, kind="stable")
    rows = np.arange(len(values))
    first, second = order[:, 0], order[:, 1]
    gap = values[rows, first] - values[rows, second]
    return gap <= NEAR_TIE * (scales[rows, first] + scales[rows, second])

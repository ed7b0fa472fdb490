"""Input transforms a Pipeline applies before its head: Affine (scalers), Clip, Select, Project (PCA), Normalize,
Polynomial (PolynomialFeatures).

Each is a frozen dataclass with `apply(X)`, the float64 reference of what the C computes,
and `width(n_in)`, the number of values it produces from `n_in` inputs. A lowering folds
as many as it can into the head (`microml_build.lower.preprocessing`); what is left stays
in `Model.transforms` and becomes `<name>_impl_transform` in C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Affine:
    """z_j = (x_j - offset_j) * scale_j: every per-feature scaler, with scale_j > 0."""

    offset: np.ndarray            # (n,)
    scale: np.ndarray             # (n,)

    def apply(self, X: np.ndarray) -> np.ndarray:
        return (X - self.offset) * self.scale

    def width(self, n_in: int) -> int:
        return n_in


@dataclass(frozen=True, eq=False)
class Clip:
    """z_j = min(max(x_j, low), high): MinMaxScaler(clip=True) and MaxAbsScaler(clip=True) after their Affine."""

    low: float
    high: float

    def apply(self, X: np.ndarray) -> np.ndarray:
        return np.clip(X, self.low, self.high)

    def width(self, n_in: int) -> int:
        return n_in


@dataclass(frozen=True, eq=False)
class Select:
    """z_k = x[indices[k]]: a feature selector; the caller still passes every feature."""

    indices: tuple[int, ...]

    def apply(self, X: np.ndarray) -> np.ndarray:
        return X[:, list(self.indices)]

    def width(self, n_in: int) -> int:
        return len(self.indices)


@dataclass(frozen=True, eq=False)
class Project:
    """z = (x - mean) @ components.T + bias: PCA (whitening folded into the components) and its compositions."""

    mean: np.ndarray              # (n_in,)
    components: np.ndarray        # (n_out, n_in)
    bias: np.ndarray              # (n_out,), zero for a plain PCA

    def apply(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) @ self.components.T + self.bias

    def width(self, n_in: int) -> int:
        return len(self.components)


@dataclass(frozen=True, eq=False)
class Normalize:
    """z = x / |x| per row, |x| the l1, l2 or max norm; a row of zeros stays zeros (scikit-learn's Normalizer)."""

    norm: str                     # "l1" | "l2" | "max"

    def apply(self, X: np.ndarray) -> np.ndarray:
        if self.norm == "l1":
            norms = np.abs(X).sum(1)
        elif self.norm == "l2":
            norms = np.sqrt((X * X).sum(1))
        elif self.norm == "max":
            norms = np.abs(X).max(1)
        else:
            raise ValueError(self.norm)
        return X / np.where(norms == 0, 1.0, norms)[:, None]

    def width(self, n_in: int) -> int:
        return n_in


@dataclass(frozen=True, eq=False)
class Polynomial:
    """z_k = prod_j x_j ** powers[k, j]: PolynomialFeatures' powers_, one product per output (1 for the bias).

    The factors are multiplied in increasing input order, one at a time, as scikit-learn builds each
    degree from the one below; a product of two float32 inputs is exact in float64, so up to degree 2
    the C's float32 product is scikit-learn's value rounded once.
    """

    powers: np.ndarray            # (n_out, n_in) int

    def factors(self) -> list[list[int]]:
        """The inputs multiplied into each output, in order, an input repeated for its power."""
        return [[j for j in range(self.powers.shape[1]) for _ in range(int(row[j]))] for row in self.powers]

    @property
    def degree(self) -> int:
        return int(self.powers.sum(1).max(initial=0))

    def apply(self, X: np.ndarray) -> np.ndarray:
        out = np.ones((len(X), len(self.powers)))
        for k, factors in enumerate(self.factors()):
            for j in factors:
                out[:, k] = out[:, k] * X[:, j]
        return out

    def width(self, n_in: int) -> int:
        return len(self.powers)

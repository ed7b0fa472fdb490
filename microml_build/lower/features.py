"""WindowFeatures -> the IR window stage (`ir/features.py`), and pruning: the C computes only the features the head reads.

A Pipeline whose first step is `microml_build.features.WindowFeatures` lowers to a WindowStage
first in `Model.transforms`; the steps after it lower and fold into the head as in any Pipeline
(`lower/preprocessing.py`). When nothing but the stage is left before the head, the head is
rewritten to read a compact vector of the features it uses (a tree reads only the features it
splits on, a linear model only those with a non-zero weight) and the stage computes only those.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir.features import WindowStage
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor


def window_stage(est, n_in: int) -> list:
    """The Pipeline step WindowFeatures as the IR stage (its parameters were checked when it was fitted)."""
    names = est.channel_names
    stage = WindowStage(length=int(est.length), channels=int(est.channels), stats=tuple(est.stats),
                        segments=int(est.segments), magnitude=bool(est.magnitude),
                        channel_names=tuple(str(n) for n in names) if names is not None else None)
    if stage.n_inputs != n_in:
        raise MicroMLError(f"WindowFeatures(length={stage.length}, channels={stage.channels}) takes {stage.n_inputs} "
                           f"values per row but receives {n_in}", fix="fit the Pipeline on windows of that size")
    return [stage]


def check_position(steps) -> None:
    """The window stage runs on the raw window: no Pipeline step may come before WindowFeatures."""
    for i, (name, step) in enumerate(steps):
        if i > 0 and (type(step).__module__, type(step).__name__) == ("microml_build.features", "WindowFeatures"):
            raise MicroMLError(f"WindowFeatures (step '{name}') follows {type(steps[i - 1][1]).__name__} in the "
                               "Pipeline: the C computes window features only from the raw window",
                               fix="make WindowFeatures the Pipeline's first step (scale the features after it, not "
                                   "the raw samples before it)")


def prune(stage: WindowStage, head) -> tuple[WindowStage, object]:
    """(stage computing only what `head` reads, head reading them as a compact vector)."""
    pruner = next((f for cls, f in PRUNERS if isinstance(head, cls)), None)
    if pruner is None:
        return stage, head
    used, pruned = pruner(head, stage.width(stage.n_inputs))
    if used is None:
        return stage, head
    return stage.select(used), pruned


def _compact(used) -> tuple[list[int], dict[int, int]]:
    used = sorted({int(i) for i in used})
    return used, {old: new for new, old in enumerate(used)}


def _trees(head, n: int):
    used, where = _compact(head.trees.feature)
    feature = np.array([where[int(f)] for f in head.trees.feature], dtype=head.trees.feature.dtype)
    return used, replace(head, trees=replace(head.trees, feature=feature))


def _indexed(head, n: int):
    """Heads with `feature_index` (a folded selection) or linear weights: the columns they read."""
    index = getattr(head, "feature_index", None)
    if index is not None:
        used, where = _compact(index)
        return used, replace(head, feature_index=tuple(where[i] for i in index))
    weights = getattr(head, "weights", None)
    if isinstance(weights, np.ndarray) and weights.ndim == 2 and weights.shape[1] == n:
        used = [j for j in range(n) if weights[:, j].any()] or [0]
        if len(used) < n:
            return used, replace(head, weights=weights[:, used])
    return None, head


def _mlp(head: Mlp, n: int):
    first = head.weights[0]
    used = [j for j in range(n) if first[:, j].any()] or [0]
    if len(used) == n:
        return None, head
    return used, replace(head, weights=(first[:, used], *head.weights[1:]))


def _has_index(cls) -> bool:
    return "feature_index" in {f.name for f in fields(cls)}


def _pruners():
    return [(cls, _trees) for cls in (ForestClassifier, ForestRegressor, BoostedClassifier, BoostedRegressor)] + \
        [(cls, _indexed) for cls in (LinearClassifier, LinearRegressor, LinearOvo, KernelSvm, KernelSvr)
         if _has_index(cls)] + [(Mlp, _mlp)]


# head class -> (head, its input width) -> (inputs it reads, increasing, or None for all; the head reading
# only those, in that order). Heads not listed read every input.
PRUNERS = _pruners()

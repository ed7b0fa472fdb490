"""magic_wand's on-device post-processing, simulated on streamed recordings, and the scoring of what it reports.

TensorFlow's firmware (magic_wand/gesture_predictor.cc, constants.h) runs the model on the last
128 samples as new ones arrive, keeps the last 5 score vectors, averages each class over them,
and reports the best class when it is a gesture, its average is at least 0.8, and no gesture was
reported recently: a report sets a count to 25, and every inference first counts it down, then
reports only at zero, so two reports are at least 25 inferences apart (24 suppressed between
them, where the README's summary says 25). `PostProcessor` is that logic; `detect` runs it over a
stream's scores.

Scoring (`score`): the stream's true gestures are known (wand_data.streams). A report at the
inference whose window ends at sample t matches the not-yet-matched true gesture with the same
label whose samples that window covers most, if the window covers at least half of it. Reports
matching nothing are false alarms: "duplicate" when the window covers half of an already matched
gesture of that label, "wrong" when it covers half of a gesture of another label, "spurious" otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLD = np.float32(0.8)     # kDetectionThreshold (a float, compared with float averages)
HISTORY = 5             # kPredictionHistoryLength
SUPPRESSION = 25        # kPredictionSuppressionDuration
NO_GESTURE = 3          # kNoGesture: the "negative" class index
WINDOW = 128


class PostProcessor:
    """gesture_predictor.cc's PredictGesture: scores in, a gesture index or NO_GESTURE out."""

    def __init__(self, n_classes: int = 4):
        self.history = np.zeros((HISTORY, n_classes), dtype=np.float32)   # zero-initialised, as on the chip
        self.slot = 0
        self.suppression = 0

    def __call__(self, scores) -> int:
        self.history[self.slot] = scores
        self.slot = (self.slot + 1) % HISTORY
        average = self.history.sum(axis=0, dtype=np.float32) / np.float32(HISTORY)
        best = int(np.argmax(average))          # the first of equal maxima, as the C loop's strict '>'
        if self.suppression > 0:
            self.suppression -= 1
        if best == NO_GESTURE or average[best] < THRESHOLD or self.suppression > 0:
            return NO_GESTURE
        self.suppression = SUPPRESSION
        return best


def window_ends(n_samples: int, step: int = 1) -> np.ndarray:
    """Index of the last sample of each window inferred on: from the first full window, every `step` samples."""
    return np.arange(WINDOW - 1, n_samples, step)


def sliding_windows(samples: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(len(ends), 128, channels) views: the 128 samples up to and including each end."""
    view = np.lib.stride_tricks.sliding_window_view(samples, WINDOW, axis=0)   # (n-127, channels, 128)
    return view[ends - (WINDOW - 1)].transpose(0, 2, 1)


def detect(scores: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """(end sample, class index) of every gesture the post-processing reports."""
    post = PostProcessor(scores.shape[1])
    reports = []
    for end, row in zip(ends, scores):
        found = post(row)
        if found != NO_GESTURE:
            reports.append((int(end), found))
    return reports


@dataclass
class Score:
    truth: int = 0          # true gestures in the stream(s)
    hits: int = 0           # reported with the right label
    duplicate: int = 0      # reported again over a gesture already matched
    wrong: int = 0          # reported over a gesture of another label
    spurious: int = 0       # reported over no gesture (e.g. in a negative recording)

    @property
    def missed(self) -> int:
        return self.truth - self.hits

    def __iadd__(self, other: "Score") -> "Score":
        self.truth += other.truth
        self.hits += other.hits
        self.duplicate += other.duplicate
        self.wrong += other.wrong
        self.spurious += other.spurious
        return self


def score(reports: list[tuple[int, int]], gestures, labels) -> Score:
    """Match reports (end, class index) to true gestures ((start, stop, label) tuples)."""
    result = Score(truth=len(gestures))
    matched = set()
    for end, found in reports:
        lo, hi = end - WINDOW + 1, end + 1
        covers = [(min(hi, stop) - max(lo, start)) / (stop - start) for start, stop, _ in gestures]
        best, best_cover = None, 0.5
        for i, (cover, (_, _, label)) in enumerate(zip(covers, gestures)):
            if i not in matched and label == labels[found] and cover >= best_cover:
                best, best_cover = i, cover
        if best is not None:
            matched.add(best)
            result.hits += 1
        elif any(cover >= 0.5 and label == labels[found] for cover, (_, _, label) in zip(covers, gestures)):
            result.duplicate += 1
        elif any(cover >= 0.5 for cover in covers):
            result.wrong += 1
        else:
            result.spurious += 1
    return result

"""The window feature stage: raw sensor windows -> statistics per time segment and channel, and its error bounds.

Rows are windows flattened interleaved, `x[t * channels + c]` for sample t of channel c (the
layout of a C ring buffer of samples). The window is cut into `segments` consecutive parts:
segment s holds samples floor(s * L / S) .. floor((s + 1) * L / S) - 1, so segment lengths
differ by at most one and every segment is non-empty (S <= L). The features are, for each
segment in order, for each channel in order (the `magnitude` channel sqrt(sum_c x_c^2)
last when asked for), each statistic in the order given: index ((s * n_channels_out) + c)
* n_stats + k.

Statistics of the samples x_0 .. x_{n-1} of one channel in one segment:
  mean            sum x / n
  std             population standard deviation, sqrt(sum (x - mean)^2 / n)
  min, max, ptp   smallest, largest, largest minus smallest
  rms             sqrt(sum x^2 / n)
  mean_crossings  sign changes of x - mean along the segment; samples equal to the mean have no
                  sign and are skipped (+ 0 + counts one change, + 0 0 + none)
  slope           least-squares slope of x against the sample index, per sample:
                  sum (t - tc) x_t / sum (t - tc)^2 with tc = (n - 1) / 2; 0 when n = 1
  diff_std        population standard deviation of the n - 1 first differences x_t - x_{t-1}
                  inside the segment; 0 when n = 1

`window_features` is the float64 reference (`microml_build.features.WindowFeatures`
computes with it). `WindowStage` is the IR node: the features the model needs (`needed`),
the C input type, and `bounds(X)`, per row and feature, the largest difference between what
the generated C computes in float32 and the float64 reference. For int16 input the C sums in
integers (exact), so min, max, ptp and mean_crossings are exact and the others are a few
roundings of an exact integer; for float input the bounds follow the sums' rounding on the
row's own values (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., sec. 4.2,
gamma_n = n u / (1 - n u)). Every float operation is allowed one ulp (2^-23 relative), not
half, so targets whose float library is not correctly rounded (avr-libc) are covered, and
underflow to zero (flush-to-zero) adds 2^-126 per operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CORE_STATS = ("mean", "std", "min", "max", "ptp", "rms", "mean_crossings")
EXTRA_STATS = ("slope", "diff_std")
STATS = CORE_STATS + EXTRA_STATS
INPUTS = ("float", "int16")
INT16_MIN, INT16_MAX = -32768, 32767
# Longest window: integer sums of a segment stay exact in 32 and 64 bits, the C counts samples in uint16.
MAX_LENGTH = 32767
MAX_CHANNELS = 255

ULP = 2.0 ** -23                # one float32 operation: at most one ulp of relative error
TINY = 2.0 ** -126              # ... plus an underflow to zero (FLT_MIN) per operation
REFERENCE = 2.0 ** -44          # the float64 reference's own rounding, relative to the window's magnitude


def gamma(k) -> np.ndarray:
    """Higham's gamma_k: k operations, each off by at most ULP, are off by at most gamma_k relative."""
    k = np.asarray(k, dtype=np.float64)
    return k * ULP / (1.0 - k * ULP)


def segment_bounds(length: int, segments: int) -> tuple[tuple[int, int], ...]:
    """(start, stop) of each segment: floor(s * L / S) .. floor((s + 1) * L / S)."""
    return tuple((s * length // segments, (s + 1) * length // segments) for s in range(segments))


def channel_labels(channels: int, magnitude: bool, channel_names=None) -> tuple[str, ...]:
    names = tuple(channel_names) if channel_names is not None else tuple(f"ch{c}" for c in range(channels))
    return names + (("mag",) if magnitude else ())


def feature_names(length: int, channels: int, stats, segments: int, magnitude: bool = False,
                  channel_names=None) -> tuple[str, ...]:
    """`<channel>_<stat>`, prefixed `seg<s>_` when there is more than one segment: `ch1_std`, `seg0_ax_mean`."""
    labels = channel_labels(channels, magnitude, channel_names)
    prefix = [f"seg{s}_" if segments > 1 else "" for s in range(segments)]
    return tuple(f"{prefix[s]}{label}_{stat}" for s in range(segments) for label in labels for stat in stats)


def windows(X: np.ndarray, length: int, channels: int, magnitude: bool = False) -> np.ndarray:
    """Rows of X as (n, length, channels) float64 windows, with the magnitude appended as a last channel."""
    W = np.asarray(X, dtype=np.float64).reshape(len(X), length, channels)
    if magnitude:
        W = np.concatenate([W, np.sqrt(np.sum(W * W, axis=2, keepdims=True))], axis=2)
    return W


def window_features(X: np.ndarray, length: int, channels: int, stats, segments: int,
                    magnitude: bool = False) -> np.ndarray:
    """The float64 reference: (n, length * channels) windows -> (n, segments * channels_out * len(stats))."""
    W = windows(X, length, channels, magnitude)
    blocks = []
    for start, stop in segment_bounds(length, segments):
        for c in range(W.shape[2]):
            x = W[:, start:stop, c]
            blocks += [_statistic(name, x) for name in stats]
    return np.column_stack(blocks) if blocks else np.zeros((len(X), 0))


def _statistic(name: str, x: np.ndarray) -> np.ndarray:
    """Statistic `name` of each row of x (rows, n), in float64."""
    n = x.shape[1]
    if name == "mean":
        return x.mean(axis=1)
    if name == "std":
        return x.std(axis=1)
    if name == "min":
        return x.min(axis=1)
    if name == "max":
        return x.max(axis=1)
    if name == "ptp":
        return x.max(axis=1) - x.min(axis=1)
    if name == "rms":
        return np.sqrt(np.mean(x * x, axis=1))
    if name == "mean_crossings":
        return crossings(x - x.mean(axis=1, keepdims=True))
    if name == "slope":
        t = np.arange(n) - (n - 1) / 2.0
        return x @ t / np.sum(t * t) if n > 1 else np.zeros(len(x))
    if name == "diff_std":
        return np.diff(x, axis=1).std(axis=1) if n > 1 else np.zeros(len(x))
    raise ValueError(f"unknown statistic {name!r}")


def crossings(d: np.ndarray) -> np.ndarray:
    """Sign changes along each row of d, zeros skipped: the sign of each sample against the last non-zero one."""
    sign = np.sign(d)
    index = np.where(sign != 0, np.arange(d.shape[1]), -1)
    last = np.maximum.accumulate(index, axis=1)            # last non-zero position at or before t
    rows = np.arange(len(d))[:, None]
    previous = np.where(last[:, :-1] >= 0, sign[rows, np.maximum(last[:, :-1], 0)], 0)
    changes = (sign[:, 1:] != 0) & (previous != 0) & (sign[:, 1:] != previous)
    return changes.sum(axis=1).astype(np.float64)


@dataclass(frozen=True, eq=False)
class WindowStage:
    """Window features computed on the chip from the raw window, the model's first stage.

    `needed` lists, increasing, the indices into the full feature vector (`feature_names`) that the
    model reads: the C computes only those, in that order, into `float f[len(needed)]`.
    `input` is the C type of the window: "float" or "int16" (raw sensor counts, summed exactly).
    """

    length: int
    channels: int
    stats: tuple[str, ...]
    segments: int
    magnitude: bool = False
    channel_names: tuple[str, ...] | None = None
    needed: tuple[int, ...] | None = None      # None: every feature
    input: str = "float"

    @property
    def n_inputs(self) -> int:
        return self.length * self.channels

    @property
    def n_channels_out(self) -> int:
        return self.channels + int(self.magnitude)

    @property
    def n_all(self) -> int:
        return self.segments * self.n_channels_out * len(self.stats)

    @property
    def computed(self) -> tuple[int, ...]:
        return tuple(range(self.n_all)) if self.needed is None else self.needed

    def names(self) -> tuple[str, ...]:
        """Names of the features the C computes, in the order of f[]."""
        every = feature_names(self.length, self.channels, self.stats, self.segments, self.magnitude,
                              self.channel_names)
        return tuple(every[i] for i in self.computed)

    def locate(self, index: int) -> tuple[int, int, str]:
        """(segment, channel, statistic) of feature `index` of the full vector."""
        k = index % len(self.stats)
        c = index // len(self.stats) % self.n_channels_out
        return index // (len(self.stats) * self.n_channels_out), c, self.stats[k]

    def select(self, indices) -> "WindowStage":
        """The stage followed by a selection of its outputs: it computes only the selected ones."""
        from dataclasses import replace

        return replace(self, needed=tuple(self.computed[i] for i in indices))

    def apply(self, X: np.ndarray) -> np.ndarray:
        full = window_features(X, self.length, self.channels, self.stats, self.segments, self.magnitude)
        return full if self.needed is None else full[:, list(self.needed)]

    def width(self, n_in: int) -> int:
        return len(self.computed)

    def input_problem(self, X: np.ndarray) -> tuple[int, int, str] | None:
        """(row, column, what is wrong) for the first value the C cannot take as this stage's input, or None.

        int16: whole numbers in -32768..32767. float: finite, and small enough that a segment's sum of
        squares (and a sample's, for the magnitude) stays far below FLT_MAX.
        """
        X = np.asarray(X, dtype=np.float64)
        if self.input == "int16":
            bad = ~np.isfinite(X) | (X != np.round(X)) | (X < INT16_MIN) | (X > INT16_MAX)
            what = "is not a whole number in -32768..32767 (target.input: int16)"
        else:
            limit = float(np.sqrt(1e37 / (self.length + self.channels)))
            bad = ~np.isfinite(X) | (np.abs(X) > limit)
            what = f"is not a finite number of magnitude up to {limit:.3g} (larger values overflow float32 sums " \
                   "of squares)"
        if not bad.any():
            return None
        row, column = (int(v) for v in np.argwhere(bad)[0])
        return row, column, f"{float(X[row, column])!r} {what}"

    def bounds(self, X: np.ndarray) -> np.ndarray:
        """(rows, width) bound on |C float32 feature - float64 reference| for each row of X (the C's input values)."""
        W = windows(X, self.length, self.channels, self.magnitude)
        spans = segment_bounds(self.length, self.segments)
        out = np.zeros((len(X), len(self.computed)))
        slack = self._magnitude_error()
        for j, index in enumerate(self.computed):
            s, c, stat = self.locate(index)
            start, stop = spans[s]
            x = W[:, start:stop, c]
            if c == self.channels:                    # the magnitude, computed per sample in float
                out[:, j] = _float_bound(stat, x, slack * np.abs(x))
            elif self.input == "int16":
                out[:, j] = _integer_bound(stat, x)
            else:
                out[:, j] = _float_bound(stat, x, np.zeros_like(x))
        return out

    def _magnitude_error(self) -> float:
        """Relative error of one magnitude sample: int16 sums its squares exactly, then converts (1) and takes
        the root (1); float rounds each square and sum (gamma_channels) before the root."""
        inner = gamma(2) if self.input == "int16" else gamma(self.channels)
        return float(max(np.sqrt(1 + inner) * (1 + ULP) - 1, 1 - np.sqrt(1 - inner) * (1 - ULP)))


def _integer_bound(stat: str, x: np.ndarray) -> np.ndarray:
    """int16 input: the C's sums are exact integers; what is left is converting them to float and a few operations."""
    n = x.shape[1]
    value = np.abs(_statistic(stat, x))
    reference = REFERENCE * (np.abs(x).max(axis=1) + value)
    if stat in ("min", "max", "ptp", "mean_crossings"):
        return np.zeros(len(x))                       # integers, and integer counts: exact on both sides
    operations = {"mean": 2,                          # (float)sum / n
                  "rms": 3,                           # sqrtf((float)squares / n)
                  "std": 3, "diff_std": 3,            # sqrtf((float)(n * squares - sum * sum)) / n
                  "slope": 3}[stat]                   # (float)weighted_sum * constant (a rounded literal)
    if stat in ("slope",) and n < 2:
        return reference
    return gamma(operations) * value + reference


def _float_bound(stat: str, x: np.ndarray, perturbation: np.ndarray) -> np.ndarray:
    """float input, or a value computed per sample (the magnitude): the C sees y with |y - x| <= perturbation,
    and sums in float32 in sample order, starting from zero.
    """
    rows, n = x.shape
    P = perturbation
    ax = np.abs(x)
    M = ax.max(axis=1)
    value = np.abs(_statistic(stat, x))
    reference = REFERENCE * (M + value)
    tiny = 4 * (n + 4) * TINY
    mean_y = (ax + P).mean(axis=1)                    # bounds mean |y|
    # |fl(sum y) / n - mean y| <= gamma_n mean |y| (n - 1 additions and one division), and |mean y - mean x|.
    mean_error = gamma(n) * mean_y + P.mean(axis=1) + tiny
    if stat == "mean":
        return mean_error + reference
    if stat in ("min", "max"):
        return P.max(axis=1) + tiny + reference       # comparisons are exact
    if stat == "ptp":
        spread = x.max(axis=1) - x.min(axis=1) + 2 * P.max(axis=1)
        return 2 * P.max(axis=1) + ULP * spread + tiny + reference
    if stat == "rms":
        r = np.sqrt(np.mean(x * x, axis=1))
        shift = np.sqrt(np.mean(P * P, axis=1))       # |rms y - rms x| <= rms(y - x)
        # n squares and n - 1 additions of non-negative terms, a division, a root.
        relative = 1 - np.sqrt(1 - gamma(n + 1)) * (1 - ULP)
        return shift + relative * (r + shift) + np.sqrt(tiny) + reference
    if stat == "std":
        return _std_bound(x, P, gamma(n) * mean_y + tiny) + reference
    if stat == "mean_crossings":
        m = x.mean(axis=1, keepdims=True)
        # The C decides the sign of y_t - fl(mean): it agrees with sign(x_t - mean) unless x_t is this close.
        band = P + mean_error[:, None] + REFERENCE * M[:, None] + tiny
        return 2.0 * np.sum(np.abs(x - m) <= band, axis=1)    # each doubtful sample changes the count by <= 2
    if stat == "slope":
        if n < 2:
            return reference
        t = np.abs(np.arange(n) - (n - 1) / 2.0)
        K = 1.0 / np.sum(t * t)
        # sum c_t y_t: n products with exact weights, n - 1 additions; then one product with a rounded constant.
        return K * (P @ t + gamma(n + 2) * ((ax + P) @ t)) + tiny + reference
    if stat == "diff_std":
        if n < 2:
            return reference
        d = np.diff(x, axis=1)
        # fl(y_t - y_{t-1}): one rounding on top of both samples' errors.
        Q = P[:, 1:] + P[:, :-1] + ULP * (np.abs(d) + P[:, 1:] + P[:, :-1])
        # The mean of the differences is (y_last - y_first) / (n - 1), two roundings.
        ends = np.abs(x[:, -1] - x[:, 0]) + P[:, -1] + P[:, 0]
        computed_mean = (gamma(2) * ends + P[:, -1] + P[:, 0]) / (n - 1) + Q.mean(axis=1) + tiny
        return _std_bound(d, Q, computed_mean) + reference
    raise ValueError(f"unknown statistic {stat!r}")


def _std_bound(x: np.ndarray, P: np.ndarray, computed_mean_error: np.ndarray) -> np.ndarray:
    """The C's two-pass std of y (|y - x| <= P) against std(x).

    `computed_mean_error` bounds |C's mean - mean(y)|. The deviations fl(y - mean) and their squares
    and sum are each off by gamma_{n+2} at most (Higham sec. 4.2), and using a mean off by b adds n b^2
    to the sum of squares; then a division and a root. |std(y) - std(x)| <= rms(y - x).
    """
    n = x.shape[1]
    s = x.std(axis=1)
    shift = np.sqrt(np.mean(P * P, axis=1))
    b = computed_mean_error
    variance = (s + shift) ** 2
    dv = (b * b + gamma(n + 2) * (variance + b * b)) * (1 + ULP) + ULP * variance + 4 * (n + 4) * TINY
    low = s - shift
    with np.errstate(divide="ignore", invalid="ignore"):
        ds = np.minimum(np.sqrt(dv), np.where(low > 0, dv / np.where(low > 0, low, 1.0), np.inf))
    return shift + ds + ULP * (s + shift + ds) + 1e-30


@dataclass(frozen=True, eq=False)
class Widen:
    """`target.input: int16` for a model without window features: the C takes int16 values and converts each to
    float (exactly) before the model; `apply` is the identity."""

    input: str = "int16"

    def apply(self, X: np.ndarray) -> np.ndarray:
        return X

    def width(self, n_in: int) -> int:
        return n_in

    def input_problem(self, X: np.ndarray) -> tuple[int, int, str] | None:
        return WindowStage(1, X.shape[1], ("mean",), 1, input="int16").input_problem(X)


def input_stage(model):
    """The model's first transform when it takes the raw input (a WindowStage or a Widen), else None."""
    first = model.transforms[0] if model.transforms else None
    return first if isinstance(first, (WindowStage, Widen)) else None


def with_channel_names(model, names):
    """The model whose window stage names its channels `names` (the dataset's columns), where WindowFeatures
    was given no `channel_names`: the header and the report then say `ax`, not `channel 0`. Names only;
    nothing computed changes."""
    from dataclasses import replace

    stage = input_stage(model)
    if not isinstance(stage, WindowStage) or stage.channel_names is not None or names is None:
        return model
    names = tuple(str(name) for name in names)
    if (len(names) != stage.channels or len(set(names)) != len(names) or not all(names)
            or (stage.magnitude and "mag" in names) or names == channel_labels(stage.channels, False)):
        return model
    return replace(model, transforms=(replace(stage, channel_names=names), *model.transforms[1:]))


def with_input(model, input: str):
    """The model taking `input` ("float" or "int16", `target.input`) in C."""
    from dataclasses import replace

    stage = input_stage(model)
    if isinstance(stage, WindowStage):
        return replace(model, transforms=(replace(stage, input=input), *model.transforms[1:]))
    if input == "int16":
        return replace(model, transforms=(Widen(), *model.transforms))
    return model

"""`WindowFeatures`: a scikit-learn transformer from raw sensor windows to per-segment statistics, which MicroML
generates in C (`<name>_predict` then takes the raw window).

    from sklearn.pipeline import make_pipeline
    from sklearn.ensemble import RandomForestClassifier
    from microml_build.features import WindowFeatures

    model = make_pipeline(WindowFeatures(length=128, channels=3, stats=["mean", "std", "min", "max"],
                                         segments=2, channel_names=["ax", "ay", "az"]),
                          RandomForestClassifier(20))
    model.fit(X, y)      # X: (n_windows, 128 * 3), each row x[t * 3 + c] (sample t, channel c)

Definitions (segment boundaries, output order, what each statistic is) are in
`microml_build.ir.features`, whose float64 reference this transformer computes with, so the
Python model and the generated C share one definition.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from microml_build.ir.features import (CORE_STATS, MAX_CHANNELS, MAX_LENGTH, STATS, feature_names,
                                       window_features)

__all__ = ["WindowFeatures", "STATS", "CORE_STATS"]


class WindowFeatures(TransformerMixin, BaseEstimator):
    """Statistics of each channel in each time segment of a window of sensor samples.

    Parameters
    ----------
    length : int
        Samples per window (1 .. 32767).
    channels : int
        Values per sample (an accelerometer: 3). Rows are flattened interleaved: x[t * channels + c].
    stats : sequence of str
        Statistics, in output order, from: mean, std (population), min, max, ptp, rms, mean_crossings
        (sign changes of x - segment mean, samples equal to the mean skipped), slope (least-squares,
        per sample), diff_std (std of the first differences). Default: the first seven.
    segments : int
        The window is cut into this many consecutive parts (1 .. length); segment s holds samples
        floor(s * length / segments) .. floor((s + 1) * length / segments) - 1.
    channel_names : sequence of str, optional
        Names used by get_feature_names_out (default ch0, ch1, ...).
    magnitude : bool
        Add a channel sqrt(sum of the channels' squares) after the others (orientation-free).

    Output: for each segment, each channel, each statistic (in that nesting), float64. Feature names are
    `<channel>_<stat>`, prefixed `seg<s>_` when segments > 1.
    """

    def __init__(self, length=None, channels=1, stats=CORE_STATS, segments=1, channel_names=None, magnitude=False):
        self.length = length
        self.channels = channels
        self.stats = stats
        self.segments = segments
        self.channel_names = channel_names
        self.magnitude = magnitude

    # -- validation ------------------------------------------------------------------------------

    def _check_params(self) -> None:
        def whole(name, value, low, high):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
                raise ValueError(f"WindowFeatures({name}={value!r}): expected a whole number from {low} to {high}")

        whole("length", self.length, 1, MAX_LENGTH)
        whole("channels", self.channels, 1, MAX_CHANNELS)
        whole("segments", self.segments, 1, self.length)
        stats = self.stats
        if isinstance(stats, str) or not hasattr(stats, "__iter__"):
            raise ValueError(f"WindowFeatures(stats={stats!r}): expected a list of statistic names, e.g. "
                             "['mean', 'std']")
        stats = list(stats)
        if not stats:
            raise ValueError("WindowFeatures(stats=[]): name at least one statistic: " + ", ".join(STATS))
        for name in stats:
            if name not in STATS:
                raise ValueError(f"WindowFeatures: unknown statistic {name!r}; known: {', '.join(STATS)}")
        if len(set(stats)) != len(stats):
            raise ValueError(f"WindowFeatures(stats={stats!r}): a statistic is listed twice")
        if not isinstance(self.magnitude, (bool, np.bool_)):
            raise ValueError(f"WindowFeatures(magnitude={self.magnitude!r}): expected True or False")
        if self.channel_names is not None:
            names = self.channel_names
            if isinstance(names, str) or len(list(names)) != self.channels or \
                    not all(isinstance(n, str) and n for n in names):
                raise ValueError(f"WindowFeatures(channel_names={names!r}): expected {self.channels} non-empty "
                                 "names, one per channel")
            if len(set(names)) != len(list(names)) or (self.magnitude and "mag" in names):
                raise ValueError(f"WindowFeatures(channel_names={names!r}): names must be distinct (and not "
                                 "'mag', the magnitude channel's name)")

    def _check_X(self, X) -> np.ndarray:
        try:
            values = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):          # sparse or not numeric: check_array says what is wrong
            values = None
        if values is not None and values.ndim == 2 and values.shape[1] == self.length * self.channels \
                and not np.isfinite(values).all():
            row, column = (int(v) for v in np.argwhere(~np.isfinite(values))[0])
            channel = column % self.channels
            name = self.channel_names[channel] if self.channel_names is not None else f"ch{channel}"
            raise ValueError(f"WindowFeatures: row {row}, sample {column // self.channels} of channel {channel} "
                             f"({name}) is {values[row, column]}: window statistics take no missing or infinite "
                             "samples; fill the gaps (interpolate, or repeat the previous sample) or drop those "
                             "windows")
        X = check_array(X, dtype=np.float64)
        expected = self.length * self.channels
        if X.shape[1] != expected:
            raise ValueError(
                f"WindowFeatures(length={self.length}, channels={self.channels}) takes rows of {expected} values "
                f"({self.length} samples x {self.channels} channels, interleaved: x[t * {self.channels} + c]); "
                f"X has {X.shape[1]} columns")
        return X

    # -- scikit-learn API ----------------------------------------------------------------------

    def fit(self, X, y=None):
        """Check the parameters and the width of X (length x channels); nothing is learned."""
        self._check_params()
        X = self._check_X(X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """(n, length * channels) windows -> (n, n_features_out) float64 statistics."""
        check_is_fitted(self, "n_features_in_")
        self._check_params()
        X = self._check_X(X)
        return window_features(X, self.length, self.channels, tuple(self.stats), self.segments,
                               bool(self.magnitude))

    def get_feature_names_out(self, input_features=None):
        """`seg0_ch1_std`, or `ax_std` with channel_names and one segment: see the class docstring."""
        check_is_fitted(self, "n_features_in_")
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features has {len(input_features)} names, X had {self.n_features_in_} columns")
        names = feature_names(self.length, self.channels, tuple(self.stats), self.segments, bool(self.magnitude),
                              self.channel_names)
        return np.asarray(names, dtype=object)

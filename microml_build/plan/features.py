"""Planning of a model's input stage: the window features (which passes over which samples collect what, and in
which C types) and the API of a model taking the raw input (`const int16_t *x` or `const float *x`, the ring).

`plan_inputs(model, api)` returns an InputPlan when the model starts with a WindowStage or a Widen
(`ir/features.py`), else None; `emit/features.py` prints it and decides nothing.

Two forms of a window model (`InputPlan.fused`):
  buffer  `<name>_features_ring` fills `float f[<NAME>_N_WINDOW_FEATURES]` on the stack, then the model reads
          it: the stack holds every feature the model reads (4 bytes each).
  fused   a linear head (LinearClassifier, LinearRegressor, LinearOvo: after the scalers fold into its
          weights, one dot product per output) adds each feature into its K sums as the feature is computed:
          the stack holds K sums instead of every feature. Same float operations in the same order as the
          buffered dot product (the sums start at zero, features are added in f[] order, the intercept last),
          so the same bits. Chosen when the head has fewer outputs than it reads features.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from microml_build.ir.features import WindowStage, input_stage, segment_bounds
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.svm import LinearOvo

# Heads whose whole computation is one dot product per output over the window features: the fused form applies.
FUSABLE = (LinearClassifier, LinearRegressor, LinearOvo)

INPUT_TYPES = {"float": "float", "int16": "int16_t"}

# What each statistic needs collected, by arithmetic ("int": int16 samples summed exactly; "float": float
# samples, or the magnitude). Deviations, crossings and differences of float samples come from a second pass.
NEEDS = {
    "int": {"mean": {"sum"}, "std": {"sum", "squares"}, "min": {"range"}, "max": {"range"},
            "ptp": {"range"}, "rms": {"squares"}, "mean_crossings": {"sum", "crossings"},
            "slope": {"sum", "prefix"}, "diff_std": {"diff"}},
    "float": {"mean": {"sum"}, "std": {"sum", "deviation"}, "min": {"range"}, "max": {"range"},
              "ptp": {"range"}, "rms": {"squares"}, "mean_crossings": {"sum", "crossings"},
              "slope": {"slope"}, "diff_std": {"diff"}},
}
SECOND_PASS = {"deviation", "crossings", "diff"}


@dataclass(frozen=True)
class Group:
    """One channel of one segment that the model needs something from."""

    segment: int
    channel: int               # == stage.channels: the magnitude
    start: int
    count: int
    outputs: tuple             # ((position in f, statistic, feature name), ...)
    kind: str                  # "int" (int16 samples), "float" (float samples), "mag" (the magnitude)


@dataclass(frozen=True)
class FeaturePlan:
    stage: WindowStage
    groups: tuple[Group, ...]
    needs: dict                # kind -> frozenset of what its passes collect
    longest: int               # longest segment
    prefix_t: str              # C type of the slope's sum of running sums (int16 input)
    magnitude_t: str           # C type of a sample's exact sum of squares (int16 input, magnitude)

    def arith(self, kind: str) -> str:
        return "int" if kind == "int" else "float"

    def second_pass(self, kind: str) -> bool:
        return bool(self.needs[kind] & (SECOND_PASS if kind != "int" else {"crossings"}))


@dataclass(frozen=True)
class InputPlan:
    """A model taking the raw input: its C type, the window features (None for int16 inputs widened to float),
    and the API of the model proper (`<name>_core_*`, on float features) that the public functions call."""

    stage: object              # WindowStage | Widen
    ctype: str                 # "int16_t" | "float"
    features: FeaturePlan | None
    core_api: tuple            # plan.Function of the model proper
    width: int                 # values the model proper takes
    fused: bool = False        # the head's sums are fed feature by feature (see the module docstring)

    @property
    def window(self) -> bool:
        return self.features is not None


def plan_features(stage: WindowStage) -> FeaturePlan:
    """Which passes run over which samples, collecting what."""
    spans = segment_bounds(stage.length, stage.segments)
    names = stage.names()
    by_group: dict[tuple[int, int], list] = {}
    for j, index in enumerate(stage.computed):
        s, c, stat = stage.locate(index)
        by_group.setdefault((s, c), []).append((j, stat, names[j]))
    groups, needs = [], {}
    for (s, c), outputs in sorted(by_group.items()):
        kind = "mag" if c == stage.channels else ("int" if stage.input == "int16" else "float")
        start, stop = spans[s]
        groups.append(Group(s, c, start, stop - start, tuple(outputs), kind))
        for _, stat, _ in outputs:
            needs.setdefault(kind, set()).update(NEEDS["int" if kind == "int" else "float"][stat])
    longest = max(stop - start for start, stop in spans)
    # Sum over t of the sum of the samples before t: |.| <= n^2 / 2 * 32768, int32 up to 362 samples.
    prefix_t = "int32_t" if longest * longest * 16384 < 2 ** 31 else "int64_t"
    magnitude_t = "uint32_t" if stage.channels <= 3 else "uint64_t"   # 3 x 32768^2 < 2^32
    return FeaturePlan(stage, tuple(groups), {k: frozenset(v) for k, v in needs.items()}, longest, prefix_t,
                       magnitude_t)


def plan_inputs(model, api: tuple, prefer: str | None = None) -> InputPlan | None:
    """The input stage's plan, or None when the model takes float features directly.

    `prefer` ("fused" or "buffer") forces the form of a window model; "fused" is refused (ValueError) where it
    does not apply."""
    stage = input_stage(model)
    if stage is None:
        return None
    features = plan_features(stage) if isinstance(stage, WindowStage) else None
    width = stage.width(model.n_features)
    fusable = features is not None and fusable_head(model)
    if prefer == "fused" and not fusable:
        raise ValueError("the fused form needs window features followed directly by a linear head")
    fused = fusable and (prefer == "fused" or (prefer is None and model.head.n_outputs < width))
    return InputPlan(stage, INPUT_TYPES[stage.input], features, api, width, fused)


def fusable_head(model) -> bool:
    """The window features feed a linear head directly (no transform left between them, every weight column
    read in order), so each feature can go into the head's sums as it is computed."""
    head = model.head
    return len(model.transforms) == 1 and isinstance(head, FUSABLE) and head.feature_index is None


# Functions of x with a `_ring` twin on a window model (predict_ring is written above them).
RING_TOO = ("decision_function", "predict_proba")


def input_api(api: tuple, inputs: InputPlan) -> tuple:
    """The public API of a model taking the raw input: every `const float *x` becomes the input's type, and a
    window model adds `<name>_predict_ring` after `<name>_predict` and its feature functions last."""
    from microml_build.plan import _fn

    T = inputs.ctype
    out = []
    for f in api:
        params = tuple((f"const {T} *" if name == "x" and ctype == "const float *" else ctype, name)
                       for ctype, name in f.params)
        doc = tuple(line.replace("(const float *x", f"(const {T} *x") for line in f.doc)
        out.append(replace(f, params=params, doc=doc))
        if f.name == "predict" and inputs.window:
            gap = "  " if f.returns == "int" else " "
            out.append(_fn("predict_ring", f.returns, f"const {T} *ring, unsigned head",
                           f"  {f.returns}{gap}{{p}}_predict_ring(const {T} *ring, unsigned head)",
                           "                                    the same for the window in a ring buffer whose",
                           "                                    oldest sample is at slot head: call it per sample"))
        if f.name in RING_TOO and inputs.window:
            out_name = f.params[1][1]
            out.append(_fn(f"{f.name}_ring", "void", f"const {T} *ring, unsigned head, float *{out_name}",
                           f"  void {{p}}_{f.name}_ring(const {T} *ring, unsigned head, float *{out_name})",
                           f"                                    {f.name} of the window in the ring"))
    if inputs.window:
        out.append(_fn("features", "void", f"const {T} *x, float *f",
                       f"  void {{p}}_features(const {T} *x, float *f)   the {{P}}_N_WINDOW_FEATURES features below"))
        out.append(_fn("features_ring", "void", f"const {T} *ring, unsigned head, float *f",
                       f"  void {{p}}_features_ring(const {T} *ring, unsigned head, float *f)   the same from a ring"))
    return tuple(out)

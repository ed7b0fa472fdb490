"""Planning of a model's input stage: the window features (which passes over which samples collect what, and in
which C types) and the API of a model taking the raw input (`const int16_t *x` or `const float *x`, the ring).

`plan_inputs(model, api)` returns an InputPlan when the model starts with a WindowStage or a Widen
(`ir/features.py`), else None; `emit/features.py` prints it and decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from microml_build.ir.features import WindowStage, input_stage, segment_bounds

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


def plan_inputs(model, api: tuple) -> InputPlan | None:
    """The input stage's plan, or None when the model takes float features directly."""
    stage = input_stage(model)
    if stage is None:
        return None
    features = plan_features(stage) if isinstance(stage, WindowStage) else None
    return InputPlan(stage, INPUT_TYPES[stage.input], features, api, stage.width(model.n_features))


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
    if inputs.window:
        out.append(_fn("features", "void", f"const {T} *x, float *f",
                       f"  void {{p}}_features(const {T} *x, float *f)   the {{P}}_N_WINDOW_FEATURES features below"))
        out.append(_fn("features_ring", "void", f"const {T} *ring, unsigned head, float *f",
                       f"  void {{p}}_features_ring(const {T} *ring, unsigned head, float *f)   the same from a ring"))
    return tuple(out)

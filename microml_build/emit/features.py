"""C for the window feature stage: `<name>_features(x, f)` and `<name>_features_ring(ring, head, f)`.

The window is read where it lies, never copied. Each (segment, channel) that the model needs
gets one pass over its samples collecting only the sums the model's statistics need, and a
second pass for what needs the mean first (mean_crossings; with float input also std and
diff_std, as deviations from the mean, which is more accurate than a sum of squares). A
segment of the ring is at most two runs of consecutive slots, [slot, WINDOW_LENGTH) and
[0, ...): the loops walk each run with a pointer and a counter, no modulo and no compare per
sample. The straight window is the ring with head 0, so both give the same bits.

int16 input sums exactly in integers: int32 sums, sums of squares as a uint32 plus a count of
its wrap-arounds (exact for any window up to 32767 samples; avr-gcc 5.4 calls a library
routine for every 64-bit addition, four times slower here), int16 min/max, and
mean_crossings compares each sample with floor/ceil of the mean computed once per segment.
Only the final statistic is a float: one conversion and at most three operations, which
`WindowStage.bounds` accounts for. Float input sums in float, in sample order.

A linear head planned fused with the stage (`InputPlan.fused`) gets `<name>_impl_window_sums(ring,
head, sums)`: the same passes, each feature multiplied into the head's sums as soon as it is
computed instead of stored in f[], so the stack holds the head's sums, not the feature vector.
"""

from __future__ import annotations

from dataclasses import replace

from microml_build.cnames import comment_text
from microml_build.emit.c_writer import CWriter, Prefix, float_literal
from microml_build.emit.linear import emit_linear_classifier_fused, emit_linear_regressor_fused
from microml_build.emit.preprocessing import PUBLIC, core_macros, emit_transformed
from microml_build.emit.svm import emit_linear_ovo_fused
from microml_build.ir.features import WindowStage
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.svm import LinearOvo
from microml_build.plan import feature_label
from microml_build.plan.features import NEEDS, SECOND_PASS, FeaturePlan, Group

# A linear head fused with the window features (plan/features.py FUSABLE): head class -> its emitter, given
# (w, head, p, T, window_sums) where window_sums(count=, weight=, intercept=) prints `<p>_impl_window_sums`.
FUSED = {LinearClassifier: emit_linear_classifier_fused, LinearRegressor: emit_linear_regressor_fused,
         LinearOvo: emit_linear_ovo_fused}


def emit_features(w: CWriter, fp: FeaturePlan, p: Prefix, T: str) -> None:
    """Macros, helpers, `<p>_features_ring` and `<p>_features`, as planned; no tables."""
    p = p if isinstance(p, Prefix) else Prefix(p)
    P = p.upper()
    stage = fp.stage
    w.comment(f"Window features: the model's {len(stage.computed)} inputs, computed from a window of "
              f"{P}_WINDOW_LENGTH samples x {P}_N_CHANNELS channels, interleaved x[t * {P}_N_CHANNELS + c] "
              f"({T}). Segment s of {stage.segments} holds samples floor(s * {stage.length} / {stage.segments}) .. "
              f"floor((s + 1) * {stage.length} / {stage.segments}) - 1.")
    w.line(f"#define {P}_WINDOW_LENGTH {stage.length}")
    w.line(f"#define {P}_N_CHANNELS {stage.channels}")
    w.line(f"#define {P}_N_WINDOW_FEATURES {len(stage.computed)}")
    w.line()
    _slot(w, p, P)
    _sqrt(w, p)
    if "mag" in fp.needs:
        _magnitude(w, p, P, stage, fp.magnitude_t)
    for arith in ("int", "float"):
        kinds = [k for k in ("int", "float", "mag") if k in fp.needs and fp.arith(k) == arith]
        if not kinds:
            continue
        needs = frozenset().union(*(fp.needs[k] for k in kinds))
        _accumulator(w, p, arith, needs, fp.prefix_t, T)
        for kind in kinds:
            _first_pass(w, p, P, kind, fp.needs[kind], T, fp.prefix_t)
        if any(fp.second_pass(k) for k in kinds):
            _second_pass_state(w, p, arith, needs)
            for kind in kinds:
                if fp.second_pass(kind):
                    _second_pass(w, p, P, kind, fp.needs[kind], T)
        _statistics(w, p, arith, needs)
    _features_function(w, p, P, fp, T)


# ---------------------------------------------------------------------------------------------
# Helpers


def _slot(w: CWriter, p: Prefix, P: str) -> None:
    w.comment("Slot of the ring holding sample `start` of the window whose oldest sample is at slot `head`.")
    with w.block(f"static inline uint16_t {p.impl}_window_slot(uint16_t head, uint16_t start)"):
        w.line("const uint16_t slot = (uint16_t)(head + start);")
        w.line(f"return slot >= {P}_WINDOW_LENGTH ? (uint16_t)(slot - {P}_WINDOW_LENGTH) : slot;")
    w.line()


def _sqrt(w: CWriter, p: Prefix) -> None:
    w.comment("sqrtf of a value that is never negative here. On an Arm FPU the instruction itself: newlib's sqrtf "
              "would keep about 100 bytes of errno state in RAM for the negative case that cannot happen.")
    with w.block(f"static inline float {p.impl}_window_sqrt(float v)"):
        w.line("#if defined(__GNUC__) && defined(__ARM_FP) && (__ARM_FP & 4)")
        w.line("float r;")
        w.line('__asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(v));')
        w.line("return r;")
        w.line("#else")
        w.line("return sqrtf(v);")
        w.line("#endif")
    w.line()


def _magnitude(w: CWriter, p: Prefix, P: str, stage: WindowStage, wide: str) -> None:
    if stage.input == "int16":
        w.comment(f"sqrt(sum of the squares of one sample's channels): the sum is exact in {wide}, then one "
                  "conversion and one root.")
        with w.block(f"static inline float {p.impl}_window_magnitude(const int16_t *s)"):
            w.line(f"{wide} squares = 0;")
            with w.block(f"for (uint8_t c = 0; c < {P}_N_CHANNELS; c++)"):
                w.line(f"squares += {'' if wide == 'uint32_t' else '(uint64_t)'}(uint32_t)((int32_t)s[c] * s[c]);")
            w.line(f"return {p.impl}_window_sqrt((float)squares);")
    else:
        w.comment("sqrt(sum of the squares of one sample's channels).")
        with w.block(f"static inline float {p.impl}_window_magnitude(const float *s)"):
            w.line("float squares = 0.0f;")
            with w.block(f"for (uint8_t c = 0; c < {P}_N_CHANNELS; c++)"):
                w.line("squares += s[c] * s[c];")
            w.line(f"return {p.impl}_window_sqrt(squares);")
    w.line()


def _fields(arith: str, needs: frozenset, prefix_t: str) -> list[tuple[str, str, str, str]]:
    """(C type, name, initial value, comment) of what the first pass keeps, for the statistics in `needs`: one list
    for the struct, the loop's locals and the initialisation."""
    if arith == "int":
        table = [("sum", "int32_t", "sum", "0", "sum of the samples"),
                 ("squares", "uint32_t", "squares", "0", "sum of their squares, modulo 2^32,"),
                 ("squares", "uint16_t", "squares_high", "0", "and how often it wrapped"),
                 ("range", "int16_t", "low", "INT16_MAX", ""), ("range", "int16_t", "high", "INT16_MIN", ""),
                 ("prefix", prefix_t, "prefix", "0", "sum over t of the sum of the samples before t"),
                 ("diff", "int16_t", "last", "*a->start", "the previous sample: the first one's difference is 0"),
                 ("diff", "uint32_t", "diff_squares", "0", "sum of the squared first differences, modulo 2^32,"),
                 ("diff", "uint16_t", "diff_squares_high", "0", "")]
    else:
        table = [("sum", "float", "sum", "0.0f", ""), ("squares", "float", "squares", "0.0f", ""),
                 ("range", "float", "low", "INFINITY", ""), ("range", "float", "high", "-INFINITY", ""),
                 ("slope", "float", "weighted", "0.0f", "sum of (t - (n - 1) / 2) * x_t"),
                 ("slope", "float", "weight", "-0.5f * (float)(count - 1)", "exact: t - (n - 1) / 2 for t = 0")]
    return [(ctype, name, init, doc) for need, ctype, name, init, doc in table if need in needs]


# What the second pass keeps (float samples): (what needs it, C type, name, comment).
DEV_FIELDS = (("deviation", "float", "squares", "sum of (x - mean)^2"), ("crossings", "uint16_t", "changes", ""),
              ("crossings", "int8_t", "side", ""),
              ("diff", "float", "diff_squares", "sum of (x_t - x_{t-1} - mean difference)^2"),
              ("diff", "float", "last", ""))


def _declare(w: CWriter, ctype: str, name: str, doc: str) -> None:
    w.line(f"{ctype} {name};" + (f"   /* {doc} */" if doc else ""))


def _accumulator(w: CWriter, p: Prefix, arith: str, needs: frozenset, prefix_t: str, T: str) -> None:
    w.comment("What the first pass over one channel of one segment collects"
              + (" (exact integers)." if arith == "int" else " (float, in sample order).")
              + " The segment is `n` samples: `first` from `start` on, the rest from `wrap` on (the ring's "
              "slot 0).")
    with w.block("typedef struct", tail=f"}} {p.impl}_window_{arith};"):
        w.line(f"const {T} *start;")
        w.line(f"const {T} *wrap;")
        w.line("uint16_t n;")
        w.line("uint16_t first;")
        for ctype, name, _, doc in _fields(arith, needs, prefix_t):
            _declare(w, ctype, name, doc)
    w.line()


def _reader(kind: str, p: Prefix):
    """(C type of a value, function of a pointer expression giving the C that reads the value there)."""
    if kind == "mag":
        return "float", lambda at: f"{p.impl}_window_magnitude({at})"
    return ("int16_t" if kind == "int" else "float"), lambda at: f"*{at}" if at.isidentifier() else f"*({at})"


def _first_pass(w: CWriter, p: Prefix, P: str, kind: str, needs: frozenset, T: str, prefix_t: str) -> None:
    arith = "int" if kind == "int" else "float"
    acc = f"{p.impl}_window_{arith}"
    V, read = _reader(kind, p)
    fields = [(ctype, name) for ctype, name, _, _ in _fields(arith, needs, prefix_t)]
    what = "the magnitude of " if kind == "mag" else ""
    w.comment(f"Add {what}`count` samples p[0], p[{P}_N_CHANNELS], ... to the accumulator; locals keep the sums in "
              "registers.")
    with w.block(f"static inline void {p.impl}_window_{kind}_add({acc} *a, const {T} *p, uint16_t count)"):
        for ctype, name in fields:
            w.line(f"{ctype} {name} = a->{name};")
        with w.block(f"for (; count != 0; count--, p += {P}_N_CHANNELS)"):
            w.line(f"const {V} v = {read('p')};")
            if "prefix" in needs:
                w.line("prefix += sum;")
            if "sum" in needs:
                w.line("sum += v;")
            if "squares" in needs:
                if arith == "int":
                    with w.block(""):
                        w.line("const uint32_t s = (uint32_t)((int32_t)v * v);")
                        w.line("squares += s;")
                        w.line("squares_high += squares < s;   /* the carry */")
                else:
                    w.line("squares += v * v;")
            if "range" in needs:
                w.line("low = v < low ? v : low;")
                w.line("high = v > high ? v : high;")
            if "slope" in needs:
                w.line("weighted += weight * v;")
                w.line("weight += 1.0f;")
            if "diff" in needs and arith == "int":
                with w.block(""):
                    w.line("/* |v - last| <= 65535: its square fits uint32 */")
                    w.line("const int32_t d = (int32_t)v - last;")
                    w.line("const uint16_t m = (uint16_t)(d < 0 ? -d : d);")
                    w.line("const uint32_t s = (uint32_t)m * m;")
                    w.line("diff_squares += s;")
                    w.line("diff_squares_high += diff_squares < s;")
                    w.line("last = v;")
        for ctype, name in fields:
            w.line(f"a->{name} = {name};")
    w.line()
    channel = "" if kind == "mag" else ", uint8_t channel"
    offset = "" if kind == "mag" else " + channel"
    w.comment(f"First pass over the {'magnitude' if kind == 'mag' else 'channel'} in `count` samples from ring slot "
              "`slot` on: up to the end of the ring, then from slot 0.")
    with w.block(f"static inline void {p.impl}_window_{kind}_pass({acc} *a, const {T} *ring, uint16_t slot, "
                 f"uint16_t count{channel})"):
        w.line(f"const uint16_t tail = (uint16_t)({P}_WINDOW_LENGTH - slot);")
        w.line(f"a->start = ring + (size_t)slot * {P}_N_CHANNELS{offset};")
        w.line(f"a->wrap = ring{offset};")
        w.line("a->n = count;")
        w.line("a->first = count < tail ? count : tail;")
        for _, name, init, _ in _fields(arith, needs, prefix_t):
            w.line(f"a->{name} = {init};")
        w.line(f"{p.impl}_window_{kind}_add(a, a->start, a->first);")
        w.line(f"{p.impl}_window_{kind}_add(a, a->wrap, (uint16_t)(count - a->first));")
    w.line()


def _second_pass_state(w: CWriter, p: Prefix, arith: str, needs: frozenset) -> None:
    if arith == "int":
        return
    w.comment("What the second pass collects: deviations from the mean, sign changes, and deviations of the first "
              "differences from their mean.")
    with w.block("typedef struct", tail=f"}} {p.impl}_window_dev;"):
        for need, ctype, name, doc in DEV_FIELDS:
            if need in needs:
                _declare(w, ctype, name, doc)
    w.line()


def _second_pass(w: CWriter, p: Prefix, P: str, kind: str, needs: frozenset, T: str) -> None:
    V, read = _reader(kind, p)
    acc = f"{p.impl}_window_{'int' if kind == 'int' else 'float'}"
    if kind == "int":
        w.comment("Sign changes of x - mean over `count` samples; whole x: x > mean exactly when x > floor(mean), "
                  "x < mean when x < ceil(mean). A sample equal to the mean has no sign.")
        with w.block(f"static inline uint16_t {p.impl}_window_int_cross(const int16_t *p, uint16_t count, int16_t below, "
                     "int16_t above, int8_t *side)"):
            w.line("uint16_t changes = 0;")
            w.line("int8_t s = *side;")
            with w.block(f"for (; count != 0; count--, p += {P}_N_CHANNELS)"):
                w.line("const int16_t v = *p;")
                _sign_change(w, "v > below", "v < above", "s")
            w.line("*side = s;")
            w.line("return changes;")
        w.line()
        w.comment("mean_crossings of the segment collected in `a` (second pass).")
        with w.block(f"static inline float {p.impl}_window_int_mean_crossings(const {acc} *a)"):
            w.line("const int32_t n = a->n;")
            w.line("int32_t below = a->sum / n;        /* floor(mean): C division truncates towards zero */")
            w.line("int32_t above;")
            w.line("int8_t side = 0;")
            w.line("uint16_t changes;")
            with w.block("if (below * n > a->sum)"):
                w.line("below--;")
            w.line("above = below * n == a->sum ? below : below + 1;   /* ceil(mean) */")
            w.line(f"changes = {p.impl}_window_int_cross(a->start, a->first, (int16_t)below, (int16_t)above, &side);")
            w.line(f"changes += {p.impl}_window_int_cross(a->wrap, (uint16_t)(a->n - a->first), (int16_t)below, "
                   "(int16_t)above, &side);")
            w.line("return (float)changes;")
        w.line()
        return
    fields = [(ctype, name) for need, ctype, name, _ in DEV_FIELDS if need in needs]
    what = "the magnitude of " if kind == "mag" else ""
    w.comment(f"Second pass over {what}`count` samples: deviations from `mean` and of the differences from `step`.")
    params = ", float mean" if needs & {"deviation", "crossings"} else ""
    params += ", float step" if "diff" in needs else ""
    with w.block(f"static inline void {p.impl}_window_{kind}_dev({p.impl}_window_dev *d, const {T} *p, uint16_t count{params})"):
        for ctype, name in fields:
            w.line(f"{ctype} {name} = d->{name};")
        with w.block(f"for (; count != 0; count--, p += {P}_N_CHANNELS)"):
            w.line(f"const float v = {read('p')};")
            if needs & {"deviation", "crossings"}:
                w.line("const float e = v - mean;")
            if "deviation" in needs:
                w.line("squares += e * e;")
            if "crossings" in needs:
                _sign_change(w, "e > 0.0f", "e < 0.0f", "side")
            if "diff" in needs:
                with w.block(""):
                    w.line("const float e2 = (v - last) - step;")
                    w.line("diff_squares += e2 * e2;")
                    w.line("last = v;")
        for ctype, name in fields:
            w.line(f"d->{name} = {name};")
    w.line()
    w.comment("Second pass over the segment collected in `a`." + (
        " The first sample has no difference: the sum of squared differences starts at -q, q what the loop adds "
        "for it ((x0 - x0) - step)^2, so it is exactly 0 after it." if "diff" in needs else ""))
    args = ", mean" if needs & {"deviation", "crossings"} else ""
    args += ", step" if "diff" in needs else ""
    with w.block(f"static inline void {p.impl}_window_{kind}_check({p.impl}_window_dev *d, const {acc} *a{params})"):
        for ctype, name in fields:
            if name == "diff_squares":
                w.line("const float e0 = 0.0f - step;")
                w.line("d->diff_squares = -(e0 * e0);")
            else:
                w.line(f"d->{name} = {read('a->start') if name == 'last' else '0'};")
        w.line(f"{p.impl}_window_{kind}_dev(d, a->start, a->first{args});")
        w.line(f"{p.impl}_window_{kind}_dev(d, a->wrap, (uint16_t)(a->n - a->first){args});")
    w.line()
    if "diff" in needs:
        w.comment("Mean of the segment's first differences: (last - first) / (n - 1), 0 for one sample.")
        with w.block(f"static inline float {p.impl}_window_{kind}_step(const {acc} *a)"):
            w.line(f"const {T} *end = a->n > a->first ? a->wrap + (size_t)(a->n - a->first - 1) * {P}_N_CHANNELS")
            w.line(f"                                 : a->start + (size_t)(a->first - 1) * {P}_N_CHANNELS;")
            w.line(f"return a->n > 1 ? ({read('end')} - {read('a->start')}) / (float)(a->n - 1) : 0.0f;")
        w.line()


def _sign_change(w: CWriter, positive: str, negative: str, side: str) -> None:
    """Count a change when the sample's side of the mean differs from the last one's; on the mean: no side."""
    with w.block(f"if ({positive})"):
        w.line(f"changes += {side} < 0;")
        w.line(f"{side} = 1;")
    with w.block(f"else if ({negative})"):
        w.line(f"changes += {side} > 0;")
        w.line(f"{side} = -1;")


def _statistics(w: CWriter, p: Prefix, arith: str, needs: frozenset) -> None:
    acc = f"{p.impl}_window_{arith}"
    one = f"static inline float {p.impl}_window_{arith}_"
    integer = arith == "int"
    if integer and needs & {"squares", "diff"}:
        w.comment("A sum kept as its low 32 bits and the number of carries out of them.")
        with w.block(f"static inline uint64_t {p.impl}_window_wide(uint32_t low, uint16_t high)"):
            w.line("return ((uint64_t)high << 32) | low;")
    squares = f"(float){p.impl}_window_wide(a->squares, a->squares_high)" if integer else "a->squares"
    # (statistic, what it needs collected, its value from the accumulator `a`)
    simple = [("mean", "sum", "(float)a->sum / (float)a->n" if integer else "a->sum / (float)a->n"),
              ("rms", "squares", f"{p.impl}_window_sqrt({squares} / (float)a->n)"),
              ("min", "range", "(float)a->low" if integer else "a->low"),
              ("max", "range", "(float)a->high" if integer else "a->high"),
              ("ptp", "range", "(float)((int32_t)a->high - a->low)" if integer else "a->high - a->low")]
    for name, need, value in simple:
        if need in needs:
            with w.block(f"{one}{name}(const {acc} *a)"):
                w.line(f"return {value};")
    if integer:
        if "sum" in needs and "squares" in needs:
            w.comment("n^2 variance = n sum x^2 - (sum x)^2, exact in 64 bits (n <= 32767, |x| <= 32768).")
            with w.block(f"{one}std(const {acc} *a)"):
                w.line("const int64_t n = a->n;")
                w.line(f"const int64_t d = n * (int64_t){p.impl}_window_wide(a->squares, a->squares_high) - "
                       "(int64_t)a->sum * a->sum;")
                w.line(f"return {p.impl}_window_sqrt((float)d) / (float)a->n;")
        if "prefix" in needs:
            w.comment("2 sum (t - (n - 1) / 2) x_t = (n - 1) sum x - 2 sum_t (sum of the samples before t), exact; "
                      "`scale` = 6 / (n (n^2 - 1)).")
            with w.block(f"{one}slope(const {acc} *a, float scale)"):
                w.line("const int64_t twice = (int64_t)(a->n - 1) * a->sum - 2 * (int64_t)a->prefix;")
                w.line("return (float)twice * scale;")
        if "diff" in needs:
            w.comment("Std of the n - 1 first differences: their sum is last - first, so (n - 1)^2 variance = "
                      "(n - 1) sum d^2 - (last - first)^2, exact.")
            with w.block(f"{one}diff_std(const {acc} *a)"):
                w.line("const int64_t m = (int64_t)a->n - 1;")
                w.line("const int64_t total = (int64_t)a->last - *a->start;")
                with w.block("if (m == 0)"):
                    w.line("return 0.0f;")
                w.line(f"const uint64_t squares = {p.impl}_window_wide(a->diff_squares, a->diff_squares_high);")
                w.line(f"return {p.impl}_window_sqrt((float)(m * (int64_t)squares - total * total)) / (float)m;")
        w.line()
        return
    if "slope" in needs:
        w.comment("`scale` = 1 / sum (t - (n - 1) / 2)^2 = 12 / (n (n^2 - 1)).")
        with w.block(f"{one}slope(const {acc} *a, float scale)"):
            w.line("return a->weighted * scale;")
    dev = f"static inline float {p.impl}_window_float_"
    if "deviation" in needs:
        with w.block(f"{dev}std(const {p.impl}_window_dev *d, const {acc} *a)"):
            w.line(f"return {p.impl}_window_sqrt(d->squares / (float)a->n);")
    if "crossings" in needs:
        with w.block(f"{dev}mean_crossings(const {p.impl}_window_dev *d)"):
            w.line("return (float)d->changes;")
    if "diff" in needs:
        with w.block(f"{dev}diff_std(const {p.impl}_window_dev *d, const {acc} *a)"):
            w.line(f"return a->n > 1 ? {p.impl}_window_sqrt(d->diff_squares / (float)(a->n - 1)) : 0.0f;")
    w.line()


def _features_function(w: CWriter, p: Prefix, P: str, fp: FeaturePlan, T: str) -> None:
    w.comment(f"The model's inputs f[0 .. {P}_N_WINDOW_FEATURES - 1] from the window held in a ring of "
              f"{P}_WINDOW_LENGTH samples whose oldest sample is at slot `head` (taken modulo "
              f"{P}_WINDOW_LENGTH): sample t of the window is ring[((head + t) % {P}_WINDOW_LENGTH) * "
              f"{P}_N_CHANNELS + c]. Reads the ring in place.")
    with w.block(f"static inline void {p}_features_ring(const {T} *ring, unsigned head, float *f)"):
        _window_passes(w, p, P, fp, lambda j, value: f"f[{j}] = {value};")
    w.line()
    w.comment(f"The model's inputs from a window x[t * {P}_N_CHANNELS + c], t < {P}_WINDOW_LENGTH: the ring with "
              "head 0.")
    with w.block(f"static inline void {p}_features(const {T} *x, float *f)"):
        w.line(f"{p}_features_ring(x, 0, f);")


def _window_passes(w: CWriter, p: Prefix, P: str, fp: FeaturePlan, store, setup=None) -> None:
    """The body that computes every feature from the ring: the accumulators, `setup(w)` if given, then each
    group's passes; `store(j, value)` is the C statement that takes feature j (f[j] = value, or adds it into
    the sums)."""
    arith_used = sorted({fp.arith(g.kind) for g in fp.groups})
    for arith in arith_used:
        w.line(f"{p.impl}_window_{arith} {'a' if arith == 'int' else 'b'};")
    if any(fp.second_pass(g.kind) and g.kind != "int" for g in fp.groups):
        w.line(f"{p.impl}_window_dev d;")
    w.line(f"const uint16_t h = (uint16_t)(head % {P}_WINDOW_LENGTH);")
    if setup is not None:
        setup(w)
    for g in fp.groups:
        _group(w, p, P, fp, g, store)


def _group(w: CWriter, p: Prefix, P: str, fp: FeaturePlan, g: Group, store) -> None:
    stage = fp.stage
    label = "magnitude" if g.kind == "mag" else (
        stage.channel_names[g.channel] if stage.channel_names else f"channel {g.channel}")
    w.comment(f"Segment {g.segment} (samples {g.start}..{g.start + g.count - 1}), {comment_text(label, 60)}.")
    arith = fp.arith(g.kind)
    a = "a" if arith == "int" else "b"
    channel = "" if g.kind == "mag" else f", {g.channel}"
    w.line(f"{p.impl}_window_{g.kind}_pass(&{a}, ring, {p.impl}_window_slot(h, {g.start}), {g.count}{channel});")
    stats = [stat for _, stat, _ in g.outputs]
    n = g.count
    if g.kind != "int" and fp.second_pass(g.kind) and \
            any(NEEDS["float"][s] & SECOND_PASS for s in stats):
        needs = fp.needs[g.kind]
        args = ""
        if needs & {"deviation", "crossings"}:
            args += f", {p.impl}_window_float_mean(&b)" if "sum" in needs else ", 0.0f"
        if "diff" in needs:
            args += f", {p.impl}_window_{g.kind}_step(&b)"
        w.line(f"{p.impl}_window_{g.kind}_check(&d, &b{args});")
    for j, stat, name in g.outputs:
        if arith == "int":
            call = {"mean_crossings": f"{p.impl}_window_int_mean_crossings(&a)",
                    "slope": f"{p.impl}_window_int_slope(&a, {float_literal(_slope_scale(n, 6))})"}.get(
                stat, f"{p.impl}_window_int_{stat}(&a)")
        else:
            call = {"std": f"{p.impl}_window_float_std(&d, &b)",
                    "mean_crossings": f"{p.impl}_window_float_mean_crossings(&d)",
                    "diff_std": f"{p.impl}_window_float_diff_std(&d, &b)",
                    "slope": f"{p.impl}_window_float_slope(&b, {float_literal(_slope_scale(n, 12))})"}.get(
                stat, f"{p.impl}_window_float_{stat}(&b)")
        w.line(f"{store(j, call)}   /* {comment_text(name, 60)} */")


def _slope_scale(n: int, numerator: int) -> float:
    return numerator / (n * (n * n - 1)) if n > 1 else 0.0


def emit_window_sums(w: CWriter, fp: FeaturePlan, p: Prefix, T: str, count, weight: str, intercept: str) -> None:
    """`<p>_impl_window_add` and `<p>_impl_window_sums(ring, head, sums)` of a linear head fused with the features.

    `count`: the number of sums (1, or the macro of the head's outputs); `weight` and `intercept`: C expressions
    of the weight of sum {k} for feature {j} and of sum {k}'s intercept. Each sum starts at 0.0f, takes
    feature j times its weight in the order of f[], then the intercept: the operations of the buffered dot
    product `sum += f[j] * w[j]` then `sum + intercept`, in the same order, so the same bits.
    """
    P = p.upper()
    one = count == 1
    n_t = "uint8_t" if len(fp.stage.computed) <= 0xFF else "uint16_t"

    def each(statement: str) -> None:
        """`statement` ({k}: the sum's index) for every sum."""
        if one:
            w.line(statement.format(k="0"))
        else:
            with w.block(f"for (uint8_t k = 0; k < {count}; k++)"):
                w.line(statement.format(k="k"))

    w.comment(f"Adds window feature j, of value v, into the model's {'sum' if one else 'sums'}: "
              + ("sums[0] += v * weight[j]." if one else "sums[k] += v * weight[k][j] for each k."))
    with w.block(f"static inline void {p.impl}_window_add(float *sums, {n_t} j, float v)"):
        each("sums[{k}] += v * " + weight.replace("{j}", "j") + ";")
    w.line()
    sums = "sum" if one else "sums"
    w.comment(f"The model's {'sum' if one else f'{count} sums'} for the window held in a ring of {P}_WINDOW_LENGTH "
              f"samples whose oldest sample is at slot `head`: each of the {P}_N_WINDOW_FEATURES features of "
              f"{p}_features_ring() goes into {'it' if one else 'them'} as soon as it is computed, so no feature "
              f"vector is kept (the stack holds the {sums}, not {P}_N_WINDOW_FEATURES floats).")
    with w.block(f"static inline void {p.impl}_window_sums(const {T} *ring, unsigned head, float *sums)"):
        _window_passes(w, p, P, fp, lambda j, value: f"{p.impl}_window_add(sums, {j}, {value});",
                       lambda _: each("sums[{k}] = 0.0f;"))
        each("sums[{k}] = sums[{k}] + " + intercept + ";")
    w.line()


def emit_windowed(w: CWriter, plan, p: Prefix, emit_head) -> None:
    """A model behind its input stage (window features, or int16 inputs widened to float): the stage, the model
    proper as `<p>_impl_core_*` (its own Pipeline transforms included), and the public functions of the plan's
    API."""
    model, inputs = plan.model, plan.inputs
    classes = tuple(str(label) for label in model.labels)
    p = Prefix(p, annotate=plan.annotate, classes=classes)
    P, T = p.upper(), inputs.ctype
    # The model proper: its inputs are the window features (or the widened inputs), its head's are the plan's.
    stage_names = tuple(f"f[{j}] {name}" for j, name in enumerate(inputs.stage.names())) if inputs.window else \
        tuple(feature_label(j, name) for j, name in enumerate(plan.feature_names))
    core = Prefix(f"{p.impl}_core", impl=f"{p.impl}_core", annotate=plan.annotate, api=p, classes=classes,
                  inputs=plan.head_inputs if plan.transform is None else stage_names)
    C = core.upper()
    if T == "int16_t":
        w.comment(f"The input is int16_t (raw sensor counts): {p}_predict() and friends take const int16_t *.")
        w.line(f"#define {P}_INPUT_INT16 1")
        w.line()
    if inputs.fused:
        emit_features(w, inputs.features, p, T)
        w.line()
        w.comment(f"The model, fused with the window features: its sums are fed feature by feature by "
                  f"{p.impl}_window_sums() (no feature vector on the stack).")
        head_p = Prefix(p, impl=p.impl, annotate=plan.annotate, classes=classes, inputs=plan.head_inputs)
        FUSED[type(plan.head)](w, plan.head, head_p, T,
                               lambda **sums: emit_window_sums(w, inputs.features, head_p, T, **sums))
        w.line()
        return
    if inputs.window:
        emit_features(w, inputs.features, p, T)
        buffer, fill, what = f"{P}_N_WINDOW_FEATURES", f"{p}_features", \
            f"the {inputs.width} window features {p}_features() computes"
    else:
        buffer, fill, what = f"{P}_N_FEATURES", f"{p.impl}_widen", f"the {inputs.width} inputs as float"
        w.comment("The int16 inputs as float: exact, every int16 is a float.")
        with w.block(f"static inline void {p.impl}_widen(const int16_t *x, float *f)"):
            with w.block(f"for (uint16_t j = 0; j < {P}_N_FEATURES; j++)"):
                w.line("f[j] = (float)x[j];")
    w.line()
    w.comment(f"The model proper ({core}_*) takes {what}; the {p}_* functions below do both.")
    core_macros(w, model, C, inputs.width)
    if plan.transform is not None:
        core_model = replace(model, n_features=inputs.width, transforms=tuple(model.transforms[1:]))
        emit_transformed(w, replace(plan, model=core_model, api=inputs.core_api, inputs=None), core, emit_head)
    else:
        emit_head(w, plan.head, core, inputs.width)
    w.line()
    for function in plan.api:
        if function.name in PUBLIC:
            rest = [name for _, name in function.params[1:]]
            compute, call = f"{fill}(x, f);", f"{core}_{function.name}(" + ", ".join(["f"] + rest) + ");"
            w.comment(f"{function.name} of the raw input: {fill}(x, f), then {core}_{function.name}.")
        elif function.name == "predict_ring":
            compute, call = f"{p}_features_ring(ring, head, f);", f"{core}_predict(f);"
            w.comment(f"{p}_predict() of the window held in a ring buffer of {P}_WINDOW_LENGTH samples x "
                      f"{P}_N_CHANNELS channels whose oldest sample is at slot `head`: no copy, call it on every "
                      "new sample.")
        elif function.name.endswith("_ring") and function.name[:-5] in PUBLIC:
            of_x, out = function.name[:-5], function.params[2][1]
            compute, call = f"{p}_features_ring(ring, head, f);", f"{core}_{of_x}(f, {out});"
            w.comment(f"{p}_{of_x}() of the window in the ring (oldest sample at slot `head`).")
        else:
            continue
        with w.block(f"static inline {function.signature(p)}"):
            w.line(f"float f[{buffer}];")
            w.line(compute)
            w.line(call if function.returns == "void" else f"return {call}")
        w.line()

"""Planning: every choice about the C, made once between the passes and the emitters.

`plan(model)` decides the form of the head (node tables or code, a step table, integer sum widths:
`plan/trees.py`), the buffers of a Pipeline's unfolded transforms, the public functions the header
defines, the shared C helpers it needs and what it costs beyond its tables (code, stack), and how the
header reads: what each input of the head is called in the tables' comments, and whether the tables
get a comment per entry. Emitters print a Plan and decide nothing; a test that wants a form asks for it
here: `plan(model, prefer=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from microml_build.config import OPTIMIZE
from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.fixed import FixedForestClassifier, FixedLinear, FixedMlp, FixedTreeSum, Quantized
from microml_build.ir.forms import (FixedForm, FixedTreeForm, KernelForm, LinearForm, StepForm, TransformPlan,
                                    TreeForm)
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.preprocessing import Normalize, Polynomial, Project, Select
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor
from microml_build.ir.features import Widen, WindowStage
from microml_build.plan.features import input_api, plan_inputs
from microml_build.plan.trees import code_bytes, plan_fixed_trees, plan_trees

TREE_HEADS = (ForestClassifier, ForestRegressor, BoostedClassifier, BoostedRegressor)


@dataclass(frozen=True)
class Function:
    """A public function of the header: `<prefix>_<name>(params)`, and its lines in the header's API comment."""

    name: str
    returns: str
    params: tuple[tuple[str, str], ...]   # (C type, name)
    doc: tuple[str, ...]                  # API comment lines; {p} and {P} stand for the prefix

    def signature(self, prefix: str) -> str:
        args = ", ".join(f"{ctype}{'' if ctype.endswith('*') else ' '}{name}" for ctype, name in self.params)
        return f"{self.returns}{'' if self.returns.endswith('*') else ' '}{prefix}_{self.name}({args})"


@dataclass(frozen=True)
class Plan:
    """What the header holds: the model, the form of its head, and the facts the emitters print."""

    model: Model
    head: object                    # the IR head, or its form: TreeForm, StepForm, FixedForm
    transform: TransformPlan | None  # a Pipeline's unfolded transforms; the head then runs on their output
    api: tuple[Function, ...]       # public functions, in the API comment's order
    notes: tuple[str, ...]          # paragraphs after the API comment (fixed point: how it computes)
    helpers: tuple[str, ...]        # shared C helpers the header needs (`emit/helpers.py` SHARED)
    code_bytes: int                 # estimated flash of code no table holds (trees written out), AVR
    stack: str                      # what inference keeps on the stack, for the header's Memory line
    inputs: object = None           # plan.features.InputPlan: the model takes raw int16 or a window, else None
    feature_names: tuple[str, ...] = ()   # the dataset's feature columns: what x[0], x[1] ... are
    head_inputs: tuple[str, ...] = ()     # what each input of the head is, for the tables' comments: "x[6] radius"
    annotate: bool = True           # a comment on every entry of the entry-by-entry tables (`ANNOTATE_ENTRIES`)
    unused: tuple[int, ...] = ()    # features of x the model never reads (trees that never test them)

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.api)


def plan(model: Model, prefer: dict | None = None, feature_names: tuple[str, ...] = (),
         optimize: str = "balanced") -> Plan:
    """The plan for `model`, whose inputs are the columns `feature_names` (the dataset's header; `x[j]` when
    empty). `prefer` forces a form (tests use it to reach every one): {"trees": "steps" | "nodes" | "tables" |
    "code"} for float trees, {"forest_sums": "float"} for a forest classifier's predict(), {"fixed_trees":
    "tables" | "code"} for integer trees, {"annotate": True | False} for the comment on every table entry,
    {"window": "fused" | "buffer"} for a linear head behind window features (plan/features.py).

    `optimize` (`target.optimize`) is where flash may buy cycles: "balanced" takes a faster form when it saves
    at least EXP_SAVING of a prediction (the RBF kernel's exp) or costs a few bytes (thresholds in halves for
    several trees); "speed" takes every faster form (float linear heads written out: `LinearForm`; the kernel exp;
    halves for single trees too); "size" the smallest everywhere."""
    if optimize not in OPTIMIZE:
        raise ValueError(f"optimize {optimize!r} is not one of {OPTIMIZE}")
    prefer = prefer or {}
    feature_names = tuple(str(name) for name in feature_names)
    if feature_names and len(feature_names) != model.n_features:
        raise ValueError(f"{len(feature_names)} feature names for {model.n_features} features")
    if model.task == "classifier":
        _check_labels([str(label) for label in model.labels])
    head = model.head
    width = _width(model.transforms, model.n_features)
    code = 0
    if isinstance(head, TREE_HEADS):
        form = plan_trees(head, width, prefer.get("trees"), prefer.get("forest_sums") == "float")
        if isinstance(form, TreeForm) and not form.layout.code and optimize != "balanced":
            form = replace(form, layout=replace(form.layout, halves=optimize == "speed"))
        code = code_bytes(form.layout) if isinstance(form, TreeForm) else 0
    elif isinstance(head, (KernelSvm, KernelSvr)):
        form = KernelForm(head, plan_exp(head, prefer.get("exp"), optimize))
    elif isinstance(head, Quantized):
        core = head.core
        used = None
        if isinstance(core, (FixedForestClassifier, FixedTreeSum)):
            core = plan_fixed_trees(core, head.precision, prefer.get("fixed_trees"))
            code = core.code_bytes if core.nodes is None else 0
            tested = sorted(set(head.core.trees.feature.tolist()))
            used = tuple(tested) if len(tested) < head.n_features else None
        offset_t = "int32_t" if np.abs(head.inputs.offset).max(initial=0) > 32767 else "int16_t"
        form = FixedForm(head, core, used, offset_t)
    else:
        form = head
    api = _api(model, form)
    inputs = plan_inputs(model, api, prefer.get("window"))
    if optimize == "speed" and isinstance(head, (LinearClassifier, LinearRegressor, LinearOvo)) and not (
            inputs is not None and inputs.fused):
        form = LinearForm(head)
        code = UNROLLED_TERM_BYTES * head.weights.size
    transforms, n_in = model.transforms, model.n_features
    if inputs is not None:          # the input stage is printed apart; the transforms after it run on its output
        transforms, n_in = model.transforms[1:], inputs.width
        api = input_api(api, inputs)
    transform = plan_transform(transforms, n_in) if transforms else None
    return Plan(model, form, transform, api, _notes(head), _helpers(form), code,
                _stack(model, head, transform, inputs), inputs, feature_names=feature_names,
                head_inputs=input_names(model, feature_names), annotate=prefer.get("annotate", _entries(
                    form) <= ANNOTATE_ENTRIES), unused=_unused(model))


MAX_LABEL_BYTES = 64

# Tables whose every entry a reviewer may ask about (a split node's threshold, a fixed-point weight, a leaf)
# get one line and one comment per entry up to this many entries in all; a bigger model's header would run to
# thousands of lines nobody reads one by one, so its tables are then packed, each with its one comment.
ANNOTATE_ENTRIES = 2048


def _check_labels(labels: list[str]) -> None:
    """Class names become C strings in flash: short enough, and each printed differently."""
    for label in labels:
        if len(label.encode("utf-8")) > MAX_LABEL_BYTES:
            raise MicroMLError(f"class label '{label[:40]}...' is longer than {MAX_LABEL_BYTES} bytes",
                               key="dataset.label", fix="shorten the class names in the dataset")
    if len(set(labels)) != len(labels):
        raise MicroMLError("two classes print the same label: " + ", ".join(labels), key="dataset.label",
                           fix="give the classes distinct names")


# ---------------------------------------------------------------------------------------------
# The API


def _fn(name: str, returns: str, params: str, *doc: str) -> Function:
    pairs = []
    for param in params.split(", "):
        ctype, _, pname = param.rpartition("*") if "*" in param else param.rpartition(" ")
        pairs.append((ctype + ("*" if "*" in param else ""), pname))
    return Function(name, returns, tuple(pairs), doc)


PREDICT_CLASS = _fn("predict", "int", "const float *x", "  int  {p}_predict(const float *x)      class index of x[{P}_N_FEATURES]")
PROBA = _fn("predict_proba", "void", "const float *x, float *proba",
            "  void {p}_predict_proba(const float *x, float *proba)",
            "                                    writes {P}_N_CLASSES probabilities")
DECISION = _fn("decision_function", "void", "const float *x, float *decision",
               "  void {p}_decision_function(const float *x, float *decision)",
               "                                    writes {P}_N_DECISIONS values")
LABEL = _fn("label", "const char *", "int index",
            "  const char *{p}_label(int index)   class name (in flash on AVR), NULL if out of range")
LABEL_COPY = _fn("label_copy", "size_t", "int index, char *buffer, size_t size",
                 "  size_t {p}_label_copy(int index, char *buffer, size_t size)",
                 "                                    copies the class name into RAM, returns its length")
LABEL_F = _fn("label_F", "const __FlashStringHelper *", "int index",
              "  const __FlashStringHelper *{p}_label_F(int index)   C++ on Arduino: for Serial.print()")
LABELS = (LABEL, LABEL_COPY, LABEL_F)
PREDICT_VALUE = _fn("predict", "float", "const float *x", "  float {p}_predict(const float *x)    predicted value for x[{P}_N_FEATURES]")
VALUE = _fn("predict_value", "float", "const float *x", "  float {p}_predict_value(const float *x)   the same")
VALUES = _fn("predict_value", "void", "const float *x, float *y",
             "  void {p}_predict_value(const float *x, float *y)   writes {P}_N_OUTPUTS values")


def has_proba(head) -> bool:
    """Whether the family offers scikit-learn's predict_proba in C."""
    if isinstance(head, LinearClassifier):
        return bool(head.proba)
    if isinstance(head, Mlp):
        return head.task == "classifier"
    return isinstance(head, (ForestClassifier, BoostedClassifier, GaussianNb, DiscreteNb))


def _api(model: Model, form) -> tuple[Function, ...]:
    head = model.head
    if isinstance(head, Quantized):
        return _fixed_api(head)
    if model.task == "classifier":
        return (PREDICT_CLASS, *((PROBA,) if has_proba(head) else ()), DECISION, *LABELS)
    if head.n_outputs == 1:
        return PREDICT_VALUE, VALUE
    return (VALUES,)


def _fixed_api(q: Quantized) -> tuple[Function, ...]:
    log = ", then exp()" if getattr(q.core, "link", "") == "log" or getattr(q.core, "output", "") == "exp" else ""
    quantize = _fn("quantize", "void", "const float *x, int16_t *xq",
                   "  void {p}_quantize(const float *x, int16_t *xq)   xq[{P}_N_FEATURES] from x (see Features below)")
    if q.task == "classifier":
        return (quantize,
                _fn("predict_fixed", "int", "const int16_t *xq",
                    "  int  {p}_predict_fixed(const int16_t *xq)   class index from quantized features"),
                _fn("predict", "int", "const float *x",
                    "  int  {p}_predict(const float *x)            the same from x: {p}_quantize, then the above"),
                *LABELS)
    if q.core.n_outputs == 1:
        return (quantize,
                _fn("predict_fixed", "int32_t", "const int16_t *xq",
                    "  int32_t {p}_predict_fixed(const int16_t *xq)   y in fixed point, from quantized features:",
                    "      y = yq * {P}_OUTPUT_SCALE + {P}_OUTPUT_OFFSET" + log),
                _fn("predict", "float", "const float *x",
                    "  float {p}_predict(const float *x)   predicted value for x[{P}_N_FEATURES] (also "
                    "{p}_predict_value)"),
                _fn("predict_value", "float", "const float *x"))
    return (quantize,
            _fn("predict_fixed", "void", "const int16_t *xq, int32_t *yq",
                "  void {p}_predict_fixed(const int16_t *xq, int32_t *yq)   {P}_N_OUTPUTS values in fixed point:",
                "      y[k] = yq[k] * {p}_output_scale[k] + {p}_output_offset[k]" + log),
            _fn("predict_value", "void", "const float *x, float *y",
                "  void {p}_predict_value(const float *x, float *y)   writes {P}_N_OUTPUTS values"))


def _notes(head) -> tuple[str, ...]:
    if not isinstance(head, Quantized):
        return ()
    return ("", (
        f"Arithmetic: {head.precision.name}, integers only ({head.precision.weight_type} tables, int32 sums that no "
        "int16 input can overflow), so the results are not bit-equal to scikit-learn's: Verified gives the measured "
        "agreement. The features are quantized as listed below (saturating at +-32767, NaN is -32768); "
        "{p}_predict_fixed takes them so, {p}_predict quantizes x itself."))


def _helpers(form) -> tuple[str, ...]:
    if isinstance(form, FixedForm):
        return ("quantize",)
    return (form.exp,) if isinstance(form, KernelForm) and form.exp else ()


# ---------------------------------------------------------------------------------------------
# The RBF kernel's exp

# Cycles on the ATmega328P (avr-gcc -Os, measured under simavr): a float term of the squared distance (flash read,
# subtract, multiply, add), with a folded scaler's weight, a packed term (int to float, subtract, two multiplies, add),
# what each class pair a kernel value feeds costs (read, multiply, add), microml_exp_neg with the multiply by gamma,
# and microml_kernel_exp, whose code takes ~600 B more flash (iris: 2,692 -> 3,296 B, wine: 5,280 -> 5,884 B).
TERM, WEIGHTED_TERM, PACKED_TERM, PAIR, EXP_NEG, KERNEL_EXP = 380, 500, 560, 260, 2660, 1300
# The faster exp is worth its flash when it saves at least this share of a prediction's cycles.
EXP_SAVING = 0.12

# Flash of one term of a float linear head written out (`LinearForm`): load x[j] (past x[15] beyond ldd's 6-bit
# displacement), load the weight as immediates, call the soft-float multiply and add, move the sum. Measured on
# the ATmega328P (avr-gcc 5.4 -Os), each term adds 44 B (LogisticRegression, 8 to 256 features: the written-out
# form adds 40 B a weight over the table's 4, less ~100 B of loop); an upper bound, so a model over its budget
# fails the estimated check too (tests/e2e/test_optimize.py).
UNROLLED_TERM_BYTES = 44


def plan_exp(head, prefer: str | None = None, optimize: str = "balanced") -> str:
    """The exp an RBF kernel calls: microml_kernel_exp where the exp weighs most (few features per support vector),
    microml_exp_neg (smaller) where the distance does; "" for the dot-product kernels. `optimize` "speed" takes
    microml_kernel_exp wherever it can, "size" never."""
    if head.kernel != "rbf":
        return ""
    c = head.gamma * 1.4426950408889634
    if not 2.0 ** -60 <= c <= 2.0 ** 60:        # beyond the shifts microml_kernel_exp takes
        return "exp_neg"
    if prefer:
        return prefer
    if optimize != "balanced":
        return "kernel_exp" if optimize == "speed" else "exp_neg"
    n = len(head.support_vectors[0]) if len(head.support_vectors) else 0
    term = PACKED_TERM if head.packed is not None else WEIGHTED_TERM if head.feature_weights is not None else TERM
    pairs = 1 if isinstance(head, KernelSvr) else max(head.n_classes - 1, 1)
    per_vector = n * term + pairs * PAIR + EXP_NEG
    return "kernel_exp" if (EXP_NEG - KERNEL_EXP) >= EXP_SAVING * per_vector else "exp_neg"


# ---------------------------------------------------------------------------------------------
# How the header reads


def feature_label(j: int, name: str = "") -> str:
    """`x[6] radius`: input j of x and its column name (at most 40 characters), or `x[6]` without one."""
    name = name if len(name) <= 40 else name[:37] + "..."
    return f"x[{j}] {name}" if name and name != f"x[{j}]" else f"x[{j}]"


def input_names(model: Model, feature_names: tuple[str, ...]) -> tuple[str, ...]:
    """What each input of the head is: `x[j] name`; after unfolded transforms, `z[k]` and where it comes from."""
    names = [feature_label(j, feature_names[j] if feature_names else "") for j in range(model.n_features)]
    if not model.transforms:
        return tuple(names)
    stages = list(model.transforms)
    if stages and isinstance(stages[0], (WindowStage, Widen)):   # the raw input's stage, printed apart
        if isinstance(stages[0], WindowStage):                   # its features, f[] in the C, feed the rest
            names = [f"f[{j}] {name}" for j, name in enumerate(stages[0].names())]
        stages.pop(0)
        if not stages:
            return tuple(names)
    projected = False
    for stage in stages:
        if isinstance(stage, Select):
            names = [names[i] for i in stage.indices]
        elif isinstance(stage, Project):
            names, projected = [f"projection output {k}" for k in range(len(stage.components))], True
        elif isinstance(stage, Polynomial):
            names, projected = polynomial_names(stage, names), True
    return tuple(f"z[{k}] ({name})" if projected else f"z[{k}] (from {name})" for k, name in enumerate(names))


def polynomial_names(stage: Polynomial, names: list[str]) -> list[str]:
    """What each output of PolynomialFeatures multiplies: `x[0] a * x[1] b`, `1` for the bias."""
    return [" * ".join(names[j].split(" (")[0] if len(factors) > 1 else names[j] for j in factors) or "1"
            for factors in stage.factors()]


def with_feature_names(planned: Plan, feature_names: tuple[str, ...]) -> Plan:
    """`planned` for inputs named `feature_names` (for callers that name the features after planning)."""
    names = tuple(str(name) for name in feature_names)
    return replace(planned, feature_names=names, head_inputs=input_names(planned.model, names))


def _unused(model: Model) -> tuple[int, ...]:
    """The features no split node tests, for tree models that read x directly."""
    head = model.head.core if isinstance(model.head, Quantized) else model.head
    trees = getattr(head, "trees", None)
    if trees is None or model.transforms:
        return ()
    return tuple(sorted(set(range(model.n_features)) - set(np.asarray(trees.feature).tolist())))


def _entries(form) -> int:
    """Entries of the tables that get a comment each: split nodes and leaves, breaks, fixed-point weights."""
    if isinstance(form, TreeForm):
        return len(form.layout.feature) + (len(form.layout.leaf_value) if form.layout.leaf_value.shape[1] == 1 else 0)
    if isinstance(form, StepForm):
        return len(form.steps.breaks)
    if isinstance(form, FixedForm):
        core = form.core
        if isinstance(core, FixedTreeForm):
            return len(core.core.trees.feature) + len(core.sums.table)
        if isinstance(core, FixedLinear):
            return core.weights.size
    return 0


# ---------------------------------------------------------------------------------------------
# Transforms


def plan_transform(transforms, n_features: int) -> TransformPlan:
    """(stage, source buffer, destination buffer, input width) per stage, and the scratch row's length.

    Elementwise stages work in place; the first reads x; a projection writes z when only
    elementwise stages follow it, the scratch row t otherwise. A leading selection is read in place.
    """
    stages = list(transforms)
    selection = stages.pop(0).indices if stages and isinstance(stages[0], Select) else None
    n = len(selection) if selection is not None else n_features
    planned, src, scratch = [], "x", 0
    for i, stage in enumerate(stages):
        rest_in_place = not any(isinstance(s, (Project, Polynomial)) for s in stages[i + 1:])
        if isinstance(stage, (Project, Polynomial)):
            dst = "z" if rest_in_place else "t" if src != "t" else None
        else:
            dst = src if src != "x" else "z" if rest_in_place else "t"
        if dst is None:
            raise MicroMLError("this Pipeline applies two projections separated by a Normalizer, "
                               "which needs more than one scratch row", fix="drop one of the projections")
        planned.append((stage, src, dst, n))
        n = stage.width(n)
        if dst == "t":
            scratch = max(scratch, n)
        src = dst
    return TransformPlan(tuple(transforms), selection, tuple(planned), scratch, _width(transforms, n_features))


def _width(transforms, n: int) -> int:
    for t in transforms:
        n = t.width(n)
    return n


# ---------------------------------------------------------------------------------------------
# Stack


def _stack(model: Model, head, transform: TransformPlan | None, inputs=None) -> str:
    """What one inference keeps on the stack beyond a few locals: true for this model, not a constant."""
    parts = []
    if inputs is not None and inputs.fused:
        k = head.n_outputs
        parts.append(f"{'the sum' if k == 1 else f'the {k} sums'} of the model ({4 * k} B), each window feature "
                     f"added into {'it' if k == 1 else 'them'} as it is computed")
    elif inputs is not None:
        what = "window features" if inputs.window else "inputs as float"
        parts.append(f"the {inputs.width} {what} ({4 * inputs.width} B)")
    if transform is not None:
        parts.append(f"the {transform.width} transformed inputs ({4 * transform.width} B)")
        if transform.scratch:
            parts.append(f"a scratch row of {transform.scratch} floats")
        if any(isinstance(t, Normalize) for t in transform.transforms):
            parts.append("the norm")
    if isinstance(head, Mlp):
        stored = head.hidden_widths[:-1]
        if stored:
            buffers = 1 if len(stored) == 1 else 2
            parts.append(f"{buffers} buffer{'s' if buffers > 1 else ''} of the widest hidden layer but the last "
                         f"({buffers * max(stored) * 4} B)")
    if isinstance(head, Quantized):
        parts.append(f"the quantized features ({2 * head.n_features} B, {head.n_features} int16)")
        if isinstance(head.core, FixedMlp):
            stored = [len(layer.bias) for layer in head.core.layers[:-2]]
            if stored:
                buffers = 1 if len(stored) == 1 else 2
                parts.append(f"{buffers} int16 buffer{'s' if buffers > 1 else ''} of the widest hidden layer but "
                             f"the last ({buffers * max(stored) * 2} B)")
    outputs = model.head.n_outputs if model.task == "classifier" and not isinstance(head, Quantized) else 0
    if outputs > 1 and not (inputs is not None and inputs.fused):     # fused: the sums are the decision values
        parts.append(f"{outputs} decision values ({4 * outputs} B) in predict()")
    if not parts:
        return "a few locals, whatever the model's size"
    return "a few locals plus " + ", ".join(parts)

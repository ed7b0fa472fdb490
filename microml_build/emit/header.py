"""Assembles the one self-contained header: provenance, flash access, tables, functions, labels.

One header serves every target: AVR keeps tables in program memory through `PROGMEM`
(read with `pgm_read_*`), every other target gets plain `static const` data that the
linker places in flash.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from microml_build.cnames import c_string, comment_text, macro_suffix
from microml_build.emit.bayes import emit_discrete_nb, emit_gaussian_nb
from microml_build.emit.c_writer import CWriter, Prefix
from microml_build.emit.features import emit_windowed
from microml_build.emit.fixed import emit_fixed, scaling_lines
from microml_build.emit.linear import emit_linear_classifier, emit_linear_form, emit_linear_regressor
from microml_build.emit.mlp import emit_mlp
from microml_build.emit.preprocessing import emit_transformed
from microml_build.emit.step_tables import emit_steps
from microml_build.emit.helpers import FLASH, SHARED
from microml_build.emit.svm import emit_kernel_form, emit_linear_ovo
from microml_build.emit.trees import emit_tree_form
from microml_build.errors import MicroMLError
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.fixed import Quantized
from microml_build.ir.forms import FixedForm, KernelForm, LinearForm, StepForm, TreeForm
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.svm import LinearOvo
from microml_build.plan import Plan, with_feature_names

# Planned head (an IR head, or its form) -> emitter. An emitter writes the head's tables and its functions
# (`<name>_decision_function` and `<name>_predict` for classifiers, `<name>_predict` and
# `<name>_predict_value` for regressors: the plan's API) using `<NAME>_N_FEATURES` for its input width.
HEADS = {KernelForm: emit_kernel_form, LinearOvo: emit_linear_ovo,
         LinearClassifier: emit_linear_classifier, LinearRegressor: emit_linear_regressor,
         GaussianNb: emit_gaussian_nb, DiscreteNb: emit_discrete_nb, Mlp: emit_mlp, FixedForm: emit_fixed,
         TreeForm: emit_tree_form, StepForm: emit_steps, LinearForm: emit_linear_form}


@dataclass(frozen=True)
class Emitted:
    text: str
    table_bytes: int      # model data in flash


def emit_header(plan: Plan, *, name: str, file_name: str, provenance: list[tuple[str, str]],
                feature_names: tuple[str, ...] | None = None) -> Emitted:
    """The complete header text for the planned model with C prefix `name`. The features are named by the
    plan (`plan(model, feature_names=...)`); `feature_names` here renames them."""
    if feature_names is not None and tuple(feature_names) != plan.feature_names:
        plan = with_feature_names(plan, tuple(feature_names))
    feature_names = plan.feature_names or ("",) * plan.model.n_features
    model = plan.model
    p, P = name, name.upper()
    classifier = model.task == "classifier"
    labels = [str(label) for label in model.labels]
    guard = _guard(file_name, P)
    w = CWriter()
    _preamble(w, plan, p, file_name, provenance, feature_names)
    w.line(f"#ifndef {guard}")
    w.line(f"#define {guard}")
    w.line()
    for include in ("math.h", "stddef.h", "stdint.h", "string.h"):
        w.line(f"#include <{include}>")
    w.line()
    w.lines.extend(FLASH.c().splitlines())
    for helper in plan.helpers:
        w.line()
        w.lines.extend(SHARED[helper].c().splitlines())
    w.line()
    w.line("#ifdef __cplusplus")
    w.line('extern "C" {')
    w.line("#endif")
    w.line()
    w.line(f"#define {P}_N_FEATURES {model.n_features}")
    if classifier:
        w.line(f"#define {P}_N_CLASSES {model.n_classes}")
        if plan.has("decision_function"):
            w.line(f"#define {P}_N_DECISIONS {model.head.n_outputs}")
        w.line()
        _class_macros(w, labels, P)
    else:
        w.line(f"#define {P}_N_OUTPUTS {model.head.n_outputs}")
        w.line()
    emitter = HEADS.get(type(plan.head))
    if emitter is None:
        raise MicroMLError(f"no C emitter for {type(plan.head).__name__} (this is a MicroML bug)")
    if plan.inputs is not None:      # window features or int16 input: <name>_features, <name>_impl_core_*, wrappers
        emit_windowed(w, plan, p, emitter)
    elif plan.transform is not None:   # a Pipeline's unfolded steps: <name>_impl_transform, the head as <name>_impl_core
        emit_transformed(w, plan, p, emitter)
    else:
        emitter(w, plan.head, Prefix(p, inputs=plan.head_inputs, annotate=plan.annotate, classes=labels),
                model.n_features)
    w.line()
    if classifier:
        _labels(w, labels, p, P)
        w.line()
        _label_copy(w, p, P, utf8=any(not label.isascii() for label in labels))
        w.line()
    w.line("#ifdef __cplusplus")
    w.line("}")
    w.line("#endif")
    w.line()
    if classifier:
        _label_flash_string(w, p, P)
        w.line()
    w.line(f"#endif /* {guard} */")
    return Emitted(w.text(), w.table_bytes)


def _preamble(w: CWriter, plan: Plan, p: str, file_name: str, provenance, feature_names) -> None:
    model = plan.model
    P = p.upper()
    w.line("/*")
    w.line(f" * {comment_text(file_name)}: {comment_text(model.summary)}")
    w.line(" * Generated by microml_build; do not edit. Change the inputs below and run `microml build`.")
    w.line(" *")
    width = max(len(k) for k, _ in provenance)
    for key, value in provenance:     # machine-read lines (microml-facts, microml-stamp) whole: cut, they do not parse
        limit = len(str(value)) * 10 + 300 if key.startswith("microml-") else 300
        w.line(f" * {key + ':':<{width + 1}} {comment_text(value, limit=limit)}".rstrip())
    w.line(" *")
    w.line(" * API (all static inline: include it in as many files as you like):")
    notes = [line for note in plan.notes for line in (textwrap.wrap(note.format(p=p, P=P), width=95) or [""])]
    for line in [line.format(p=p, P=P) for function in plan.api for line in function.doc] + notes:
        w.line(f" * {comment_text(line, limit=300)}".rstrip())
    w.line(" *")
    w.line(f" * Internal, not for your code: the functions named {p}_impl_* and the tables below.")
    w.line(" *")
    if plan.inputs is not None and plan.inputs.window:
        _window_lines(w, plan.inputs.stage, p, P)
        w.line(" */")
        w.line()
        return
    w.line(" * Features, in the order x[] takes them:")
    unused = " (never read: no split tests it)"
    if isinstance(model.head, Quantized):
        for i, line in enumerate(scaling_lines(model.head, feature_names)):
            w.line(f" *   {comment_text(line, limit=200)}" + (unused if i in plan.unused else ""))
    else:
        for i, feature in enumerate(feature_names):
            w.line(f" *   x[{i}] {comment_text(feature, limit=80)}".rstrip() + (unused if i in plan.unused else ""))
    w.line(" */")
    w.line()


def _window_lines(w: CWriter, stage, p: str, P: str) -> None:
    """The input of a window model: the window's layout and the features computed from it."""
    names = stage.channel_names or tuple(f"channel {c}" for c in range(stage.channels))
    w.line(f" * Input: a window of {P}_WINDOW_LENGTH = {stage.length} samples x {P}_N_CHANNELS = {stage.channels} "
           f"channels ({comment_text(', '.join(names), limit=120)}),")
    w.line(f" * interleaved: x[t * {P}_N_CHANNELS + c] is sample t (oldest first) of channel c; "
           f"{P}_N_FEATURES = {stage.n_inputs}.")
    w.line(f" * Window features the model reads, f[k] of {p}_features() ({stage.width(stage.n_inputs)} of "
           f"{stage.n_all}, {stage.segments} segment{'s' if stage.segments > 1 else ''}):")
    for k, name in enumerate(stage.names()):
        w.line(f" *   f[{k}] {comment_text(name, limit=80)}")


def _guard(file_name: str, P: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", file_name).strip("_").upper()
    guard = stem if stem.startswith(P) else f"{P}_{stem}"
    return guard


def _class_macros(w: CWriter, labels: list[str], P: str) -> None:
    """`<P>_CLASS_<LABEL> index` for every label with a C name of its own; a comment names the ones without."""
    suffixes = [macro_suffix(label) for label in labels]
    clashing: dict[str, list[int]] = {}
    for index, suffix in enumerate(suffixes):
        if suffix is not None:
            clashing.setdefault(suffix, []).append(index)
    w.comment(f"Class indices returned by {P.lower()}_predict().")
    for index, suffix in enumerate(suffixes):
        if suffix is not None and len(clashing[suffix]) == 1:
            w.line(f"#define {P}_CLASS_{suffix} {index}")
    for index, suffix in enumerate(suffixes):
        if suffix is None:
            w.comment(f"No macro for '{comment_text(labels[index], 60)}' (index {index}): it has no letters or "
                      "digits; use the index.")
    for suffix, indices in clashing.items():
        if len(indices) > 1:
            named = " and ".join(f"'{comment_text(labels[i], 60)}' (index {i})" for i in indices)
            w.comment(f"No macro for {named}: {'both' if len(indices) == 2 else 'all'} would be {P}_CLASS_{suffix}; "
                      "use the indices.")
    w.line()


def _labels(w: CWriter, labels: list[str], p: str, P: str) -> None:
    width = max(len(label.encode("utf-8")) for label in labels) + 1
    w.comment(f"Bytes of the longest class name plus its NUL: a char buffer of this size holds any {p}_label_copy().")
    w.line(f"#define {P}_LABEL_SIZE {width}")
    w.line()
    w.comment(f"Class names, indexed like {p}_predict()'s result.")
    with w.block(f"static const char {p}_label_text[{P}_N_CLASSES][{P}_LABEL_SIZE] MICROML_FLASH =", tail="};"):
        for label in labels:
            w.line(c_string(label) + ",")
    w.table_bytes += width * len(labels)
    w.line()
    w.comment(f"Name of a class index, or NULL when out of range. On AVR the text stays in flash, so printf(\"%s\") "
              f"or Serial.print(const char *) would read RAM instead: use {p}_label_copy() or, in an Arduino "
              f"sketch, {p}_label_F().")
    with w.block(f"static inline const char *{p}_label(int index)"):
        with w.block(f"if (index < 0 || index >= {P}_N_CLASSES)"):
            w.line("return NULL;")
        w.line(f"return {p}_label_text[index];")


def _label_copy(w: CWriter, p: str, P: str, utf8: bool = False) -> None:
    """`<name>_label_copy`: the class name copied out of flash (AVR) or const data into a caller's buffer. With
    `utf8` (a name beyond ASCII) a name cut short ends before the character the buffer could not hold whole."""
    cut = (" at a whole UTF-8 character, at most size - 1 bytes" if utf8 else " to size - 1 bytes")
    w.comment(f"Copies the name of class `index` into buffer[size], reading it from flash on AVR, and returns its "
              f"length. It always ends the text with a NUL (when size > 0) and cuts it{cut}: "
              f"{P}_LABEL_SIZE bytes hold every name. Out of range: \"\" and 0.")
    with w.block(f"static inline size_t {p}_label_copy(int index, char *buffer, size_t size)"):
        w.line("size_t length = 0;")
        with w.block("if (buffer == NULL || size == 0)"):
            w.line("return 0;")
        with w.block(f"if (index >= 0 && index < {P}_N_CLASSES)"):
            w.line(f"const char *text = {p}_label_text[index];")
            if utf8:
                w.line("size_t end = 0;")
                with w.block("while (end + 1 < size && MICROML_READ_U8(&text[end]) != 0)"):
                    w.line("end++;")
                w.comment("Cut short inside a character (the byte after the cut continues it, 10xxxxxx): end "
                          "before its first byte.")
                with w.block("while (end > 0 && (MICROML_READ_U8(&text[end]) & 0xC0u) == 0x80u)"):
                    w.line("end--;")
                with w.block("for (; length < end; length++)"):
                    w.line("buffer[length] = (char)MICROML_READ_U8(&text[length]);")
            else:
                with w.block("while (length + 1 < size)"):
                    w.line("const char c = (char)MICROML_READ_U8(&text[length]);")
                    with w.block("if (c == '\\0')"):
                        w.line("break;")
                    w.line("buffer[length++] = c;")
        w.line("buffer[length] = '\\0';")
        w.line("return length;")


def _label_flash_string(w: CWriter, p: str, P: str) -> None:
    """`<name>_label_F` for Arduino's Print: C++ only, outside the extern "C" block."""
    w.line("#if defined(__cplusplus) && defined(ARDUINO)")
    w.line("class __FlashStringHelper;")
    w.line()
    w.comment(f"The name of class `index` as Arduino's flash-string type, so Serial.print({p}_label_F(i)) reads it "
              f"from flash as Serial.print(F(\"...\")) does; \"\" when out of range.")
    with w.block(f"static inline const __FlashStringHelper *{p}_label_F(int index)"):
        w.line(f"const char *text = {p}_label(index);")
        with w.block("if (text == NULL)"):
            w.line(f"text = &{p}_label_text[0][{P}_LABEL_SIZE - 1]; /* a NUL: every row ends with one */")
        w.line("return reinterpret_cast<const __FlashStringHelper *>(text);")
    w.line("#endif /* __cplusplus && ARDUINO */")

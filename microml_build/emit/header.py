"""Assembles the one self-contained header: provenance, flash access, tables, functions, labels.

One header serves every target: AVR keeps tables in program memory through `PROGMEM`
(read with `pgm_read_*`), every other target gets plain `static const` data that the
linker places in flash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from microml_build.cnames import c_string, comment_text, macro_suffix
from microml_build.emit.bayes import emit_discrete_nb, emit_gaussian_nb
from microml_build.emit.c_writer import CWriter
from microml_build.emit.linear import emit_kernel_svr, emit_linear_classifier, emit_linear_regressor
from microml_build.emit.mlp import emit_mlp
from microml_build.emit.preprocessing import emit_transformed
from microml_build.emit.steps import or_step_form
from microml_build.emit.svm import EXP_NEG_C, emit_kernel_svm, emit_linear_ovo
from microml_build.emit.trees import (emit_boosted_classifier, emit_boosted_regressor, emit_forest_classifier,
                                    emit_forest_regressor)
from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.linear import KernelSvr, LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.svm import KernelSvm, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor

MAX_LABEL_BYTES = 64

FLASH_ACCESS = """\
/* Flash access, shared by every MicroML header in the build. */
#ifndef MICROML_FLASH
#ifdef __AVR__
#include <avr/pgmspace.h>
#define MICROML_FLASH PROGMEM
#define MICROML_READ_FLOAT(address) pgm_read_float(address)
#define MICROML_READ_U8(address) pgm_read_byte(address)
#define MICROML_READ_U16(address) pgm_read_word(address)
#define MICROML_READ_U32(address) pgm_read_dword(address)
#else
#define MICROML_FLASH
#define MICROML_READ_FLOAT(address) (*(address))
#define MICROML_READ_U8(address) (*(address))
#define MICROML_READ_U16(address) (*(address))
#define MICROML_READ_U32(address) (*(address))
#endif
#endif"""

# Shared C helpers, pasted once after FLASH_ACCESS into headers whose functions call them (each guarded
# by its own macro, like FLASH_ACCESS, so several MicroML headers can share a translation unit).
SHARED_HELPERS = {"microml_exp_neg(": EXP_NEG_C}

# IR head class -> emitter. An emitter writes the head's tables and its functions
# (`<name>_decision_function` and `<name>_predict` for classifiers, `<name>_predict` and
# `<name>_predict_value` for regressors) using `<NAME>_N_FEATURES` for its input width, and
# returns the bytes of flash tables it wrote.
HEADS = {KernelSvm: emit_kernel_svm, LinearOvo: emit_linear_ovo,
         LinearClassifier: emit_linear_classifier, LinearRegressor: emit_linear_regressor, KernelSvr: emit_kernel_svr,
         GaussianNb: emit_gaussian_nb, DiscreteNb: emit_discrete_nb, Mlp: emit_mlp,
         ForestClassifier: or_step_form(emit_forest_classifier), ForestRegressor: or_step_form(emit_forest_regressor),
         BoostedClassifier: or_step_form(emit_boosted_classifier), BoostedRegressor: or_step_form(emit_boosted_regressor)}


@dataclass(frozen=True)
class Emitted:
    text: str
    table_bytes: int      # model data in flash


def emit_header(model: Model, *, name: str, file_name: str, provenance: list[tuple[str, str]],
                feature_names: tuple[str, ...], quantized=None) -> Emitted:
    """The complete header text for `model` with C prefix `name`.

    `quantized` (a `quantize.FixedModel`) emits its integer form instead (`emit/fixed.py`).
    """
    p, P = name, name.upper()
    classifier = model.task == "classifier"
    labels = [str(label) for label in model.labels]
    if classifier:
        _check_labels(labels)
    guard = _guard(file_name, P)
    w = CWriter()
    _preamble(w, model, p, file_name, provenance, feature_names, quantized)
    w.line(f"#ifndef {guard}")
    w.line(f"#define {guard}")
    w.line()
    for include in ("math.h", "stddef.h", "stdint.h", "string.h"):
        w.line(f"#include <{include}>")
    w.line()
    w.lines.extend(FLASH_ACCESS.splitlines())
    helpers_at = len(w.lines)
    w.line()
    w.line("#ifdef __cplusplus")
    w.line('extern "C" {')
    w.line("#endif")
    w.line()
    w.line(f"#define {P}_N_FEATURES {model.n_features}")
    if classifier:
        w.line(f"#define {P}_N_CLASSES {model.n_classes}")
        if quantized is None:
            w.line(f"#define {P}_N_DECISIONS {model.head.n_outputs}")
        w.line()
        _class_macros(w, labels, P)
    else:
        w.line(f"#define {P}_N_OUTPUTS {model.head.n_outputs}")
        w.line()
    emitter = HEADS.get(type(model.head))
    if emitter is None:
        raise MicroMLError(f"no C emitter for {type(model.head).__name__} (this is a MicroML bug)")
    if quantized is not None:
        from microml_build.emit.fixed import emit_fixed

        table_bytes = emit_fixed(w, quantized, p)
    elif model.transforms:   # a Pipeline's unfolded steps: <name>_transform, the head as <name>_core, wrappers
        table_bytes = emit_transformed(w, model, p, emitter)
    else:
        table_bytes = emitter(w, model.head, p, model.n_features)
    w.line()
    if classifier:
        table_bytes += _labels(w, labels, p, P)
        w.line()
    w.line("#ifdef __cplusplus")
    w.line("}")
    w.line("#endif")
    w.line()
    w.line(f"#endif /* {guard} */")
    _insert_helpers(w, helpers_at)
    return Emitted(_list_predict_proba(w.text(), p), table_bytes)


def _list_predict_proba(text: str, p: str) -> str:
    """Add predict_proba to the API comment when the head emitted one (not every family has it)."""
    if f"void {p}_predict_proba(const float *x" not in text:
        return text
    anchor = " * API (all static inline: include it in as many files as you like):\n"
    line = (f" *   void {p}_predict_proba(const float *x, float *proba)\n"
            f" *                                     writes {p.upper()}_N_CLASSES probabilities\n")
    head, tail = text.split(anchor, 1)
    first, rest = tail.split("\n", 1)
    return head + anchor + first + "\n" + line + rest


def _insert_helpers(w: CWriter, at: int) -> None:
    """Paste at line `at` (after the flash access block) each shared helper that the emitted functions call."""
    body = "\n".join(w.lines[at:])
    pasted = []
    for call, text in SHARED_HELPERS.items():   # a dict literal: always the same order
        if call in body:
            pasted += ["", *text.rstrip("\n").splitlines()]
    w.lines[at:at] = pasted


def _preamble(w: CWriter, model: Model, p: str, file_name: str, provenance, feature_names, quantized=None) -> None:
    w.line("/*")
    w.line(f" * {comment_text(file_name)}: {comment_text(model.summary)}")
    w.line(" * Generated by microml_build; do not edit. Change the inputs below and run `microml build`.")
    w.line(" *")
    width = max(len(k) for k, _ in provenance)
    for key, value in provenance:
        w.line(f" * {key + ':':<{width + 1}} {comment_text(value, limit=300)}".rstrip())
    w.line(" *")
    w.line(" * API (all static inline: include it in as many files as you like):")
    P = p.upper()
    if quantized is not None:
        from microml_build.emit.fixed import api_lines

        for line in api_lines(quantized, p):
            w.line(f" * {comment_text(line, limit=300)}".rstrip())
    elif model.task == "classifier":
        w.line(f" *   int  {p}_predict(const float *x)      class index of x[{P}_N_FEATURES]")
        w.line(f" *   void {p}_decision_function(const float *x, float *decision)")
        w.line(f" *                                     writes {P}_N_DECISIONS values")
        w.line(f" *   const char *{p}_label(int index)   class name (in flash on AVR), NULL if out of range")
    elif model.head.n_outputs == 1:
        w.line(f" *   float {p}_predict(const float *x)    predicted value for x[{P}_N_FEATURES]")
        w.line(f" *   float {p}_predict_value(const float *x)   the same")
    else:
        w.line(f" *   void {p}_predict_value(const float *x, float *y)   writes {P}_N_OUTPUTS values")
    w.line(" *")
    w.line(" * Features, in the order x[] takes them:")
    if quantized is not None:
        from microml_build.emit.fixed import scaling_lines

        feature_names = scaling_lines(quantized, feature_names)
    for i, feature in enumerate(feature_names):
        w.line(f" *   x[{i}] {comment_text(feature, limit=80)}" if quantized is None else
               f" *   {comment_text(feature, limit=200)}")
    w.line(" */")
    w.line()


def _guard(file_name: str, P: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", file_name).strip("_").upper()
    guard = stem if stem.startswith(P) else f"{P}_{stem}"
    return guard


def _check_labels(labels: list[str]) -> None:
    for label in labels:
        if len(label.encode("utf-8")) > MAX_LABEL_BYTES:
            raise MicroMLError(f"class label '{label[:40]}...' is longer than {MAX_LABEL_BYTES} bytes",
                               key="dataset.label", fix="shorten the class names in the dataset")
    if len(set(labels)) != len(labels):
        raise MicroMLError("two classes print the same label: " + ", ".join(labels), key="dataset.label",
                           fix="give the classes distinct names")


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


def _labels(w: CWriter, labels: list[str], p: str, P: str) -> int:
    width = max(len(label.encode("utf-8")) for label in labels) + 1
    w.comment(f"Class names, indexed like {p}_predict()'s result.")
    with w.block(f"static const char {p}_label_text[{P}_N_CLASSES][{width}] MICROML_FLASH =", tail="};"):
        for label in labels:
            w.line(c_string(label) + ",")
    w.line()
    w.comment(f"Name of a class index, or NULL when out of range. On AVR the text stays in flash: print it with "
              f"Serial.print((const __FlashStringHelper *){p}_label(i)) or copy it with strcpy_P().")
    with w.block(f"static inline const char *{p}_label(int index)"):
        with w.block(f"if (index < 0 || index >= {P}_N_CLASSES)"):
            w.line("return NULL;")
        w.line(f"return {p}_label_text[index];")
    return width * len(labels)

"""What makes a header reviewable, checked on every golden fixture: public API vs internals by name, names C and
C++ both allow, one brace style, a note on every table entry, and the planner's call on per-entry notes."""

from __future__ import annotations

import re

import pytest

from ir_fixtures import FIXTURES, tree_tables
from microml_build import plan as plan_module
from microml_build.emit.header import emit_header
from microml_build.plan import plan

FUNCTION = re.compile(r"^static inline [\w *]+?\b(\w+)\(", re.M)
TABLE = re.compile(r"^static const [\w ]+?\b(\w+)\[[^=]*MICROML_FLASH = \{\n(.*?)^\};", re.M | re.S)


def header(fixture_name: str, prefer: dict | None = None) -> tuple[object, str]:
    fixture = FIXTURES[fixture_name]()
    planned = plan(fixture.model, {**fixture.prefer, **(prefer or {})}, feature_names=fixture.feature_names,
                   optimize=fixture.optimize)
    return planned, emit_header(planned, name="weather", file_name="w.h", provenance=[("Test", "readable")]).text


@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_functions_are_the_plans_api_or_named_impl(fixture_name):
    planned, text = header(fixture_name)
    public = {f"weather_{function.name}" for function in planned.api}
    defined = FUNCTION.findall(text)
    internal = [name for name in defined if name not in public]
    assert public <= set(defined)
    assert all(name.startswith(("weather_impl_", "microml_")) for name in internal), internal
    assert f"the functions named weather_impl_*" in text


@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_no_reserved_identifier_and_one_brace_style(fixture_name):
    _, text = header(fixture_name)
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # The names a header defines (the compiler's own macros and Arduino's class are only tested, not defined).
    outside = {"__AVR__", "__cplusplus", "__FAST_MATH__", "__FlashStringHelper", "__GNUC__", "__ARM_FP", "__asm__"}
    names = set(re.findall(r"\b[A-Za-z_]\w*\b", code)) - outside
    assert not [n for n in names if "__" in n or re.match(r"_[A-Z_]", n)]
    lines = re.sub(r"/\*.*?\*/", "", TABLE.sub("", text), flags=re.S).splitlines()    # the code, no tables
    assert not [line for line in lines if re.search(r"\}\s*else", line)], "else on its own line, after the }"
    assert not [line for line in lines if line.strip() == "{"], "an opening brace ends its line"
    assert not [line for line in lines if re.match(r"\s*(if|for|while)\b.*\)\s*$", line)
                and not line.rstrip().endswith("||")], "every if, for and while has braces"


@pytest.mark.parametrize("fixture_name", sorted(FIXTURES))
def test_every_table_entry_or_row_says_what_it_encodes(fixture_name):
    """Tables of per-item values (nodes, support vectors, neurons, weights, leaves) note each entry; the packed
    tables that remain are described by their own comment and by the noted table they go with."""
    _, text = header(fixture_name)
    packed = ("_feature", "_threshold_low", "_left", "_right", "_activation_table", "_label_text", "_exp_table", "_tanh_table")
    for name, body in TABLE.findall(text):
        if name.endswith(packed):
            continue
        wrapped = False
        for line in body.splitlines():
            if wrapped:                              # the values of a row noted on its opening `{ /* ... */`
                wrapped = line.strip() != "},"
                continue
            assert "/*" in line, f"{name}: an entry without a note: {line!r}"
            wrapped = line.strip().startswith("{ /*")


def test_tree_notes_read_each_split_as_floats():
    _, text = header("tree_tables")
    assert "/* node 1: x[1] humidity <= -0.25, NaN right ? leaf 0 (dry) : node 2 */" in text
    assert "4 * 0 + 1, 4 * 1, 4 * 2 + 1, 4 * 1, 4 * 2," in text      # x[0] NaN left, x[1], ...
    assert "} while (node < WEATHER_N_SPLITS);" in text


def test_the_planner_drops_entry_notes_beyond_its_limit(monkeypatch):
    """Entry-by-entry notes stop beyond ANNOTATE_ENTRIES (a header nobody reads line by line); row notes stay."""
    planned, text = header("tree_tables")
    assert planned.annotate and "/* node 0: " in text
    monkeypatch.setattr(plan_module, "ANNOTATE_ENTRIES", len(tree_tables().model.head.trees.feature) - 1)
    planned, text = header("tree_tables")
    assert not planned.annotate and "/* node 0: " not in text and "/* leaf 0: class 0 (dry) */" in text
    forced, text = header("svc_rbf", {"annotate": False})
    assert not forced.annotate and "/* support vector 2: class 1 (mid) */" in text


def test_fixed_point_splits_and_leaves_in_x_and_y_units():
    _, text = header("fixed16_trees_code")
    assert "/* x[0] temperature < 14.501 (xq[0] <= -256), NaN right */" in text
    assert "if ((uint16_t)((uint16_t)xq[0] + WEATHER_Q_MAX) <= (uint16_t)(-256L + WEATHER_Q_MAX)) {" in text
    assert "sum += 4096;  /* leaf 1: +0.5 */" in text


def test_unread_features_are_marked():
    _, text = header("tree_steps")
    assert " *   x[0] temperature (never read: no split tests it)" in text and " *   x[1] humidity\n" in text

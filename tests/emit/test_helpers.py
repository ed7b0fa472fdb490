"""The shared C helpers are guarded by version: two headers of one version share them, two of different
versions (or a header from before the versions) stop the compile with the fix; a changed helper text
cannot ship without a new version."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from ir_fixtures import FIXTURES
from microml_build.emit import header as header_module
from microml_build.emit import helpers
from microml_build.emit.header import emit_header
from microml_build.plan import plan
from support import need_tool

ALL = (helpers.FLASH, *helpers.SHARED.values())
FIX = "regenerate every MicroML header of this firmware with one microml_build version (microml build --force)"


@pytest.mark.parametrize("helper", ALL, ids=[h.source for h in ALL])
def test_a_changed_helper_text_needs_a_new_version(helper):
    assert len(set(helper.hashes)) == len(helper.hashes)
    assert helper.digest == helper.hashes[-1], (
        f"microml_build/c/{helper.source} changed: append its hash {helper.digest!r} to {helper.macro}'s hashes in "
        f"microml_build/emit/helpers.py (version {helper.version + 1}), so a header of the new text can never "
        "share a translation unit with one of the old")


def header(fixture_name: str, name: str, exp: str | None = None) -> str:
    """The fixture's header under prefix `name`; `exp` forces the RBF kernel's exp helper."""
    fixture = FIXTURES[fixture_name]()
    prefer = dict(fixture.prefer, **({"exp": exp} if exp else {}))
    planned = plan(fixture.model, prefer, feature_names=fixture.feature_names, optimize=fixture.optimize)
    return emit_header(planned, name=name, file_name=f"{name}.h", provenance=[("Test", "helpers")]).text


MAIN = """\
#include "a.h"
#include "b.h"
#include "c.h"
#include "d.h"

int main(void)
{
    const float x[3] = {20.0f, 40.0f, 6.0f};
    return a_predict(x) + b_predict(x) + c_predict(x) + d_predict(x) > -1e30f ? 0 : 1;
}
"""
# Two users of each helper: the RBF kernels' exp (a, d: microml_kernel_exp as planned, or microml_exp_neg when
# forced), microml_quantize (b, c: fixed point).
MODELS = {"a": "svc_rbf", "b": "fixed16_linear", "c": "fixed8_mlp", "d": "svr"}
SECOND_USER = {"flash": "d", "exp_neg": "d", "kernel_exp": "d", "quantize": "c"}


def headers(exp: str | None = None) -> dict[str, str]:
    return {name: header(fixture, name, exp) for name, fixture in MODELS.items()}


def compile_and_run(tmp_path, texts: dict[str, str], lang: str = "c") -> subprocess.CompletedProcess:
    compiler = need_tool("host", lang)
    for name, text in texts.items():
        (tmp_path / f"{name}.h").write_text(text)
    (tmp_path / "main.c").write_text(MAIN)
    command = [compiler, *(["-x", "c++", "-std=c++11"] if lang == "c++" else ["-std=c99"]), "-Wall", "-Wextra",
               "-Werror", str(tmp_path / "main.c"), "-o", str(tmp_path / "main"), "-lm"]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        return built
    return subprocess.run([str(tmp_path / "main")], capture_output=True, text=True)


@pytest.mark.parametrize("exp", ["kernel_exp", "exp_neg"])
@pytest.mark.parametrize("lang", ["c", "c++"])
def test_headers_of_one_version_share_the_helpers(tmp_path, lang, exp):
    """Two RBF SVMs (either exp helper) and two fixed-point models (microml_quantize) in one translation unit."""
    texts = headers(exp)
    assert all((f"#define MICROML_{exp.upper()}_VERSION" in texts[name]) for name in ("a", "d"))
    result = compile_and_run(tmp_path, texts, lang)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("helper", ["flash", "exp_neg", "kernel_exp", "quantize"])
def test_headers_of_different_versions_stop_the_compile(tmp_path, monkeypatch, helper):
    exp = helper if helper in ("exp_neg", "kernel_exp") else None
    old = headers(exp)
    current = helpers.FLASH if helper == "flash" else helpers.SHARED[helper]
    newer = dataclasses.replace(current, hashes=current.hashes + ("0123456789abcdef",))
    if helper == "flash":
        monkeypatch.setattr(header_module, "FLASH", newer)
    else:
        monkeypatch.setitem(helpers.SHARED, helper, newer)
    second = SECOND_USER[helper]
    result = compile_and_run(tmp_path, dict(old, **{second: header(MODELS[second], second, exp)}))
    message = (f"Two MicroML headers in this translation unit need different versions of {current.defines} "
               f"(this one has version {current.version + 1})")
    assert result.returncode != 0 and message in result.stderr and FIX in result.stderr, result.stderr


def test_a_header_from_before_the_versions_stops_the_compile(tmp_path):
    """Headers of earlier releases guarded the helpers by name only (#ifndef MICROML_FLASH ...)."""
    legacy = "#ifndef MICROML_FLASH\n#define MICROML_FLASH\n#define MICROML_READ_FLOAT(address) (*(address))\n#endif\n"
    texts = headers()
    result = compile_and_run(tmp_path, dict(texts, a=legacy + texts["a"]))
    assert result.returncode != 0 and "A MicroML header older than this one defined MICROML_FLASH" in result.stderr

"""Faults and hostile input: killed builds, labels that try to break out of C, random configs."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microml_build.pipeline.build import Log, build
from microml_build.errors import MicroMLError
from support import need_tool

QUIET = Log(quiet=True)

NASTY_LABELS = ['say "hi"', "back\\slash", "new\nline", "end */ comment", "caf\u00e9 \u2615", "??=trigraph",
                "x" * 64]


def test_nasty_labels_are_escaped_and_compile(project):
    """Labels reach C as escaped string literals; the header compiles and round-trips every label."""
    need_tool("host")
    rng = np.random.RandomState(0)
    X = rng.randn(210, 2) + np.repeat(np.arange(7), 30)[:, None] * 3
    y = np.repeat(np.arange(7), 30)
    lines = ["a,b,label"]
    for row, cls in zip(X, y):
        label = NASTY_LABELS[cls].replace('"', '""')
        lines.append(f'{row[0]},{row[1]},"{label}"')
    (project / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace("label: species",
                                                                                         "label: label"))
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    main = project / "print_labels.c"
    main.write_text('#include <stdio.h>\n#include "include/iris_model.h"\nint main(void) {\n'
                    '    for (int i = 0; i < IRIS_N_CLASSES; i++) printf("%s|", iris_label(i));\n'
                    '    return iris_label(IRIS_N_CLASSES) != NULL;\n}\n')
    exe = project / "print_labels"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wtrigraphs", "-o", str(exe), str(main), "-lm"],
                   check=True)
    out = subprocess.run([str(exe)], capture_output=True, check=True).stdout.decode("utf-8")
    assert out.split("|")[:-1] == sorted(NASTY_LABELS)
    assert "No macro for" not in header.read_text() and header.read_text().count("#define IRIS_CLASS_") == 7


def test_numeric_labels_make_valid_macros_without_double_underscores(project):
    """Labels 0, 1, 2 and 10: IRIS_CLASS_10, never IRIS_CLASS__10 (a double underscore is reserved in C++)."""
    import re

    text = (project / "data.csv").read_text()
    text = text.replace(",setosa", ",0").replace(",versicolor", ",1").replace(",virginica", ",10")
    (project / "data.csv").write_text(text)
    build(project / "microml.yaml", log=QUIET)
    header = (project / "include" / "iris_model.h").read_text()
    assert "#define IRIS_CLASS_0 0" in header and "#define IRIS_CLASS_10 2" in header
    assert not [name for name in re.findall(r"#define (\w+)", header) if "__" in name]


def test_nasty_feature_names_are_readable_and_compile(project):
    """Column names reach only comments: non-ASCII as \\u escapes, comment ends broken up, a trailing backslash
    harmless; strict C99 and C++ with -pedantic accept the header."""
    need_tool("host")
    need_tool("host", "c++")
    lines = (project / "data.csv").read_text().splitlines()
    lines[0] = "temp_\u00b0C,end */ here,back\\,\u2615 level,species"
    (project / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build(project / "microml.yaml", log=QUIET)
    header = (project / "include" / "iris_model.h").read_text()
    assert "x[0] temp_\\u00b0C" in header and "x[1] end * / here" in header and "x[3] \\u2615 level" in header
    main = project / "main.c"
    main.write_text('#include "include/iris_model.h"\nfloat f[4];\nint main(void) { return iris_predict(f); }\n')
    for compiler in (["cc", "-std=c99"], ["c++", "-x", "c++", "-std=c++11"]):
        subprocess.run([*compiler, "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", str(main), "-o", os.devnull],
                       check=True)


def test_label_too_long_is_refused(project):
    text = (project / "data.csv").read_text().replace("setosa", "s" * 65)
    (project / "data.csv").write_text(text)
    with pytest.raises(MicroMLError, match="longer than 64 bytes"):
        build(project / "microml.yaml", log=QUIET)


def test_labels_colliding_after_sanitising_keep_the_other_macros(project):
    """`a-b` and `a b` would both be IRIS_CLASS_A_B: those two get none, and a comment says so; virginica keeps
    its macro, and the header compiles."""
    need_tool("host")
    text = (project / "data.csv").read_text().replace("setosa", "a-b").replace("versicolor", "a b")
    (project / "data.csv").write_text(text)
    build(project / "microml.yaml", log=QUIET)
    header = (project / "include" / "iris_model.h").read_text()
    assert "#define IRIS_CLASS_VIRGINICA 2" in header
    assert "#define IRIS_CLASS_A_B" not in header
    assert "No macro for 'a b' (index 0) and 'a-b' (index 1): both would be IRIS_CLASS_A_B" in header
    main = project / "main.c"
    main.write_text('#include "include/iris_model.h"\nfloat f[4];\n'
                    "int main(void) { return iris_predict(f) == IRIS_CLASS_VIRGINICA; }\n")
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", str(main), "-o", os.devnull], check=True)


def test_a_label_without_letters_or_digits_gets_no_macro_but_the_others_do(project):
    text = (project / "data.csv").read_text().replace("setosa", "\u2615")
    (project / "data.csv").write_text(text, encoding="utf-8")
    build(project / "microml.yaml", log=QUIET)
    header = (project / "include" / "iris_model.h").read_text()
    assert "#define IRIS_CLASS_VERSICOLOR 0" in header and "#define IRIS_CLASS_VIRGINICA 1" in header
    assert "No macro for '\\u2615' (index 2): it has no letters or digits" in header


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.3, 1.8, 2.3])
def test_sigkill_at_any_stage_keeps_header_whole(project, delay):
    """Kill -9 a rebuild at several points: the header is the old one or the new one, never torn; no temp files."""
    build(project / "microml.yaml", log=QUIET)
    header = project / "include" / "iris_model.h"
    old = header.read_bytes()
    (project / "train.py").write_text((project / "train.py").read_text().replace("C=10", "C=4"))
    proc = subprocess.Popen([sys.executable, "-m", "microml_build", "build", str(project / "microml.yaml")],
                            stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    now = header.read_bytes()
    assert now == old or (now.endswith(b"#endif /* IRIS_MODEL_H */\n") and b"C=4" in now)
    assert sorted(os.listdir(header.parent)) == ["iris_model.h"]
    # and the next build completes normally
    build(project / "microml.yaml", log=QUIET)
    assert b"C=4" in header.read_bytes()


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-2, 2, allow_nan=False),
                         st.sampled_from(["data.csv", "train.py", "iris", "x.h", "sklearn:iris", "rbf", "avr",
                                          "uno", "float", "sklearn.svm.SVC", "species", ""]))
yaml_keys = st.sampled_from(["name", "dataset", "path", "label", "features", "train", "script", "estimator",
                             "params", "verify", "test_size", "random_state", "target", "mcu", "board",
                             "output", "precision", "kernel", "C", "bogus"])
yaml_docs = st.recursive(yaml_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                               st.dictionaries(yaml_keys, inner, max_size=6)),
                         max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=yaml_docs)
def test_fuzz_random_yaml_gives_clean_error_or_verified_header(project, doc):
    """Random yaml documents: either a MicroMLError with a message, or a header that compiled and agreed."""
    import yaml

    (project / "microml.yaml").write_text(yaml.safe_dump(doc))
    try:
        result = build(project / "microml.yaml", log=QUIET)
    except MicroMLError as err:
        assert str(err).strip()
        return
    assert "agreement" in result.summary
    assert result.output.read_text().rstrip().endswith("*/")


csv_cells = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, width=32).map(lambda v: f"{v:g}"),
                      st.sampled_from(["", "nan", "x", "1e40", "-0", "3"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(csv_cells, csv_cells, st.sampled_from(["a", "b", "c", "1", "\u00e9"])),
                     min_size=0, max_size=40))
def test_fuzz_random_csv_gives_clean_error_or_verified_header(project, rows):
    lines = ["f1,f2,species"] + [f"{a},{b},{label}" for a, b, label in rows]
    (project / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        result = build(project / "microml.yaml", force=True, log=QUIET)
    except MicroMLError as err:
        assert str(err).strip()
        return
    assert "agreement" in result.summary


spreadsheet_cells = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, width=32).map(lambda v: f"{v:.3f}".replace(".", ",")),
    st.integers(0, 10 ** 7).map(lambda v: f"{v:,}".replace(",", ".")),
    st.integers(0, 10 ** 7).map(lambda v: f"{v:,}".replace(",", "\u00a0") + ",5"),
    st.sampled_from(["", "NA", "n/a", "null", "None", "nan", "x", "12,5 %", "1.5", "1.45.3", "-0", "1,5E-3",
                     "1.001,5", "1'453"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(spreadsheet_cells, spreadsheet_cells, st.sampled_from(["a", "b", "c"])),
                     min_size=0, max_size=40), delimiter=st.sampled_from([";", "\t"]))
def test_fuzz_spreadsheet_exports_give_clean_error_or_verified_header(project, rows, delimiter):
    """Decimal commas, thousands separators, percentages and missing-value tokens in `;`/tab files: a clean
    error naming the file, or a header verified on every row."""
    lines = [delimiter.join(["f1", "f2", "species"])] + [delimiter.join(row) for row in rows]
    (project / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        result = build(project / "microml.yaml", force=True, log=QUIET)
    except MicroMLError as err:
        assert str(err).strip() and err.fix
        return
    assert f"agreement {len(rows)}/{len(rows)}" in result.summary

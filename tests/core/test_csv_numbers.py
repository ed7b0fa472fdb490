"""How CSV cells read as numbers: decimal marks and thousands separators decided per file and per column,
missing-value tokens, and files without a header row. Every cell is read exactly or refused by line and column."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microml_build.config import load_config
from microml_build.errors import MicroMLError
from microml_build.pipeline.build import Log, build
from microml_build.pipeline.dataset import load_dataset

QUIET = Log(quiet=True)


def read(project, text: str, label: str = "species"):
    (project / "data.csv").write_text(text, encoding="utf-8")
    yaml = (project / "microml.yaml").read_text().replace("label: species", f"label: {label}")
    (project / "microml.yaml").write_text(yaml)
    return load_dataset(load_config(project / "microml.yaml"))


def refused(project, text: str, *parts: str) -> MicroMLError:
    with pytest.raises(MicroMLError) as err:
        read(project, text)
    message = str(err.value)
    for part in parts:
        assert part in message, message
    assert err.value.file == "data.csv" and err.value.fix, message
    return err.value


# ---------------------------------------------------------------------------------------------
# Thousands separators and decimal marks


def test_thousands_point_in_a_decimal_comma_file_is_a_thousands_separator(project):
    """The issue's case: 1.453 ppm in a `;` export whose other column writes 20,5."""
    data = read(project, "ppm;temp;species\n1.453;20,5;x\n997;21;y\n1.001;19,5;x\n")
    np.testing.assert_array_equal(data.X, [[1453, 20.5], [997, 21], [1001, 19.5]])


def test_a_column_decides_from_all_its_cells(project):
    """`1.453`, `997` and `1.001,5` in one column: the last shows the column writes decimal commas."""
    data = read(project, "ppm;b;species\n1.453;1;x\n997;2;y\n1.001,5;3;x\n")
    np.testing.assert_array_equal(data.X[:, 0], [1453, 997, 1001.5])


def test_without_any_decimal_comma_a_point_is_a_decimal_point(project):
    data = read(project, "a;b;species\n1.453;1;x\n997;2;y\n1.001;3;x\n")
    np.testing.assert_array_equal(data.X[:, 0], [1.453, 997, 1.001])


def test_point_decimal_file_with_quoted_thousands_commas(project):
    """A comma-separated file can only hold `1,453.5` quoted; the comma there groups thousands."""
    data = read(project, 'a,b,species\n"1,453.5",2,x\n"12,000",-0.5,y\n"-1,234,567",3,x\n')
    np.testing.assert_array_equal(data.X[:, 0], [1453.5, 12000, -1234567])


def test_quoted_ambiguous_comma_in_a_point_decimal_file_is_a_thousands_separator(project):
    data = read(project, 'a,b,species\n"1,453",0.5,x\n"2,000",1,y\n')
    np.testing.assert_array_equal(data.X[:, 0], [1453, 2000])


def test_quoted_decimal_commas_in_a_comma_separated_file(project):
    data = read(project, 'a,b,species\n"1,5",1,x\n"1.234,25",2,y\n"0,125",3,x\n')
    np.testing.assert_array_equal(data.X[:, 0], [1.5, 1234.25, 0.125])


def test_negative_numbers_and_exponents(project):
    data = read(project, "a;b;species\n-1.453;1,5E-3;x\n+2,25;-2,5e+2;y\n-0,5;3e2;x\n")
    np.testing.assert_array_equal(data.X, [[-1453, 0.0015], [2.25, -250], [-0.5, 300]])


@pytest.mark.parametrize("separator", [" ", "'", "\u2019", "\u00a0", "\u202f"])
def test_space_apostrophe_and_no_break_space_group_thousands(project, separator):
    data = read(project, f"a;b;species\n1{separator}453,5;1;x\n12{separator}345{separator}678;2;y\n7;3;x\n")
    np.testing.assert_array_equal(data.X[:, 0], [1453.5, 12345678, 7])


def test_a_column_that_mixes_decimal_marks_is_refused(project):
    err = refused(project, "a;b;species\n1,5;1;x\n2.5;2;y\n",
                  "column 'a' mixes decimal commas and decimal points", "'1,5' on line 2", "'2.5' on line 3")
    assert "same" in err.fix


def test_a_decimal_point_in_a_decimal_comma_file_is_refused(project):
    refused(project, "a;b;species\n1,5;0.25;x\n2;3;y\n",
            "line 2, column 'b': '0.25'", "decimal commas", "column 'a', line 2: '1,5'")


def test_groups_that_are_not_three_digits_are_refused(project):
    refused(project, "a;b;species\n1.45.3;1;x\n2;3;y\n", "line 2, column 'a': '1.45.3' is not a number")
    refused(project, "a;b;species\n1 45;1;x\n2;3;y\n", "line 2, column 'a': '1 45' is not a number")
    refused(project, "a;b;species\n1.453,5,5;1;x\n2;3;y\n", "'1.453,5,5' is not a number")


def test_percent_signs_are_refused_with_a_fix(project):
    err = refused(project, "a;b;species\n12,5 %;1;x\n2;3;y\n", "line 2, column 'a': '12,5 %' is a percentage")
    assert "0.125" in err.fix or "12.5" in err.fix


def test_thousands_separators_in_a_regression_label(project):
    data = read(project, "a;b;price\n1;2;1.250,5\n2;3;999\n3;1;2.000\n", label="price")
    np.testing.assert_array_equal(data.y, [1250.5, 999, 2000])


def test_thousands_separators_reach_the_model(project):
    """End to end: 1.453 (1,453 ppm) trains the model as 1453; the header's tree splits between the classes."""
    rng = np.random.RandomState(0)
    rows = ["ppm;temp;species"]
    for _ in range(80):
        ppm = int(rng.randint(400, 2500))
        text = f"{ppm // 1000}.{ppm % 1000:03d}" if ppm >= 1000 else str(ppm)
        rows.append(f"{text};{rng.randint(150, 300) // 10},{rng.randint(0, 9)};{'high' if ppm > 1200 else 'low'}")
    (project / "data.csv").write_text("\n".join(rows) + "\n")
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace(
        "  script: train.py\n", "  estimator: DecisionTreeClassifier\n"))
    data = load_dataset(load_config(project / "microml.yaml"))
    assert data.X[:, 0].min() >= 400 and data.X[:, 0].max() >= 1000
    result = build(project / "microml.yaml", log=QUIET)
    assert "agreement 80/80" in result.summary


# ---------------------------------------------------------------------------------------------
# Missing-value tokens (item 5)


@pytest.mark.parametrize("token", ["", "nan", "NaN", "NA", "n/a", "N/A", "null", "NULL", "None", "none"])
def test_every_missing_value_token_gets_the_same_advice(project, token):
    err = refused(project, f"a,b,species\n1,2,x\n1,{token},y\n", "line 3, column 'b'")
    assert "dataset.missing: nan" in err.fix, str(err)
    assert "encode categories" not in err.fix


@pytest.mark.parametrize("token", ["NA", "n/a", "null", "None", "nan", ""])
def test_every_missing_value_token_is_read_as_nan_when_allowed(project, token):
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace(
        "  label: species\n", "  label: species\n  missing: nan\n"))
    data = read(project, f"a;b;species\n1,5;2;x\n1;{token};y\n")
    assert data.X[0, 0] == 1.5 and np.isnan(data.X[1, 1])


def test_a_word_is_still_not_a_number(project):
    err = refused(project, "a,b,species\n1,2,x\n1,oops,y\n", "line 3, column 'b': 'oops' is not a number")
    assert "encode categories" in err.fix


# ---------------------------------------------------------------------------------------------
# No header row (item 6)


def test_no_header_row_is_detected_with_text_labels(project):
    """The first row is data (numbers and a class name): say so, never invite `label: setosa`."""
    err = refused(project, "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,versicolor\n", "no header row")
    assert "setosa" not in err.fix and "header row" in err.fix


def test_no_header_row_is_detected_when_the_label_names_a_data_value(project):
    """`label: setosa` after the first error: the 'header' is still the first data row."""
    (project / "data.csv").write_text("5.1,3.5,setosa\n4.9,3.0,versicolor\n4.7,3.2,setosa\n")
    (project / "microml.yaml").write_text((project / "microml.yaml").read_text().replace("label: species",
                                                                                         "label: setosa"))
    with pytest.raises(MicroMLError, match="no header row"):
        load_dataset(load_config(project / "microml.yaml"))


def test_no_header_row_in_a_decimal_comma_file(project):
    refused(project, "5,1;3,5;setosa\n4,9;3,0;versicolor\n", "no header row")


def test_header_of_wavelengths_is_still_a_header(project):
    data = read(project, "410;435;kind\n0,1;0,2;x\n0,3;0,4;y\n", label="kind")
    assert data.feature_names == ("410", "435")


# ---------------------------------------------------------------------------------------------
# Property tests: a file written in one convention reads back exactly


GROUPS = {".": [",", "'", " ", "\u00a0", ""], ",": [".", "'", " ", "\u00a0", "\u202f", ""]}


def formatted(whole: int, fraction: str, negative: bool, mark: str, group: str, exponent: str) -> str:
    digits = str(whole)
    if group and not exponent:
        head = len(digits) % 3 or 3
        digits = digits[:head] + "".join(group + digits[i:i + 3] for i in range(head, len(digits), 3))
    text = ("-" if negative else "") + digits + (mark + fraction if fraction else "") + exponent
    return text


number = st.tuples(st.integers(0, 10 ** 9), st.text("0123456789", max_size=4), st.booleans(),
                   st.sampled_from(["", "", "", "e3", "E-2"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mark=st.sampled_from([".", ","]), data=st.data(),
       cells=st.lists(st.tuples(number, number), min_size=2, max_size=12))
def test_fuzz_one_convention_reads_back_exactly(project, mark, data, cells):
    """Any file whose numbers are written in one locale's style (with one cell that shows the decimal mark)
    reads back as exactly the numbers written."""
    group = data.draw(st.sampled_from(GROUPS[mark]))
    delimiter = ";" if mark == "," or data.draw(st.booleans()) else ","
    lines = [delimiter.join(["a", "b", "species"]), delimiter.join(["0" + mark + "5", "1", "x"])]  # the witness
    expected = [[0.5, 1.0]]
    for i, pair in enumerate(cells):
        texts, values = [], []
        for whole, fraction, negative, exponent in pair:
            text = formatted(whole, fraction, negative, mark, group, exponent)
            texts.append(f'"{text}"' if delimiter in text else text)
            values.append(float(("-" if negative else "") + str(whole) + ("." + fraction if fraction else "")
                                + exponent))
        lines.append(delimiter.join(texts + ["xy"[i % 2]]))
        expected.append(values)
    (project / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    read_back = load_dataset(load_config(project / "microml.yaml"))
    np.testing.assert_array_equal(read_back.X, np.array(expected))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(whole=st.integers(1, 999), fraction=st.text("0123456789", min_size=1, max_size=3),
       row=st.integers(0, 5), delimiter=st.sampled_from([";", "\t"]))
def test_fuzz_a_column_against_the_files_convention_is_refused(project, whole, fraction, row, delimiter):
    """A decimal point in a file that writes decimal commas is never read silently: refused by line and column."""
    values = ["1,5", "2", "3,25", "4", "5", "6"]
    other = [str(i) for i in range(6)]
    other[row] = f"{whole}.{fraction}"
    if len(fraction) == 3:        # `12.345` would be a valid thousands separator here: make it unambiguous
        other[row] = f"{whole}.{fraction}5"
    lines = [delimiter.join(["a", "b", "species"])] + [delimiter.join([v, o, "xy"[i % 2]])
                                                       for i, (v, o) in enumerate(zip(values, other))]
    (project / "data.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(MicroMLError) as err:
        load_dataset(load_config(project / "microml.yaml"))
    assert f"line {row + 2}, column 'b'" in str(err.value)


# ---------------------------------------------------------------------------------------------
# Encoding and float32 range: refused with the file's line


@pytest.mark.parametrize("line", [1, 4])
def test_a_file_that_is_not_utf8_is_refused_naming_the_line(project, line):
    """A spreadsheet's Latin-1 export (`café` as one 0xE9 byte) was a UnicodeDecodeError traceback."""
    rows = ["a,b,species", "1,2,x", "2,3,y", "3,4,x", "4,5,y"]
    rows[line - 1] = rows[line - 1].replace("x", "caf\xe9").replace("species", "esp\xe8ce")
    (project / "data.csv").write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    with pytest.raises(MicroMLError) as err:
        load_dataset(load_config(project / "microml.yaml"))
    message = str(err.value)
    assert err.value.file == "data.csv" and f"line {line}" in message and "not UTF-8" in message, message
    assert "UTF-8" in err.value.fix


def test_a_value_beyond_float32_names_its_file_line(project):
    """Line 5 (a blank line before it), not the 0-based row 2 of the data."""
    err = refused(project, "a,b,species\n1,2,x\n\n2,3,y\n3,1e39,x\n4,5,y\n", "line 5, column 'b'", "overflows float32")
    assert "row 2" not in str(err)

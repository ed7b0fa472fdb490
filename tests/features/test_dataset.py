"""Datasets of windows: CSV recordings grouped by dataset.window, 3-D .npz, target.input: int16; errors that name the
file, the key, the recording and the line."""

import re

import numpy as np
import pytest

from microml_build.config import load_config
from microml_build.errors import MicroMLError
from microml_build.pipeline.build import Log, build, split
from microml_build.pipeline.dataset import load_dataset

QUIET = Log(quiet=True)

YAML = """\
name: wave
dataset:
  path: {path}
  label: gesture
{window}train:
  script: train.py
verify:
  measure: false
target:
  input: {input}
output: include/wave.h
"""

TRAIN = """\
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from microml_build.features import WindowFeatures


def train(X, y):
    return make_pipeline(WindowFeatures(length={length}, channels=2, stats=["mean", "std", "max"], segments=2),
                         DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
"""


def recordings(lengths, seed=0):
    """CSV text: take, gesture, ax, ay; `lengths` samples per take; two gestures alternating."""
    rng = np.random.default_rng(seed)
    lines = ["take,gesture,ax,ay"]
    for k, n in enumerate(lengths):
        gesture = ("up", "flat")[k % 2]
        for t in range(n):
            ax = int(rng.integers(-50, 50)) + (400 if gesture == "up" else 0)
            lines.append(f"t{k},{gesture},{ax},{int(rng.integers(-50, 50)) + 3 * t}")
    return "\n".join(lines) + "\n"


def project(tmp_path, csv_text, window="  window: {id: take, length: 8}\n", input="int16", length=8):
    (tmp_path / "platformio.ini").write_text("[env:x]\n")
    (tmp_path / "data.csv").write_text(csv_text)
    (tmp_path / "train.py").write_text(TRAIN.format(length=length))
    (tmp_path / "microml.yaml").write_text(YAML.format(path="data.csv", window=window, input=input))
    return tmp_path / "microml.yaml"


def loaded(tmp_path, csv_text, **kw):
    return load_dataset(load_config(project(tmp_path, csv_text, **kw)))


def test_recordings_become_windows_interleaved(tmp_path):
    text = "take,gesture,ax,ay\n" + "".join(f"a,up,{t},{-t}\n" for t in range(8)) + \
           "".join(f"b,flat,{10 + t},{20 + t}\n" for t in range(8))
    data = loaded(tmp_path, text)
    assert data.window == (8, 2) and data.channel_names == ("ax", "ay")
    assert data.X.shape == (2, 16) and data.y.tolist() == ["up", "flat"]
    assert data.X[0].tolist() == [v for t in range(8) for v in (t, -t)]       # x[t * channels + c]
    assert data.feature_names[:3] == ("ax[0]", "ay[0]", "ax[1]")
    assert data.groups.tolist() == ["a", "b"] and data.lines.tolist() == [2, 10]


@pytest.mark.parametrize("pad,expected", [("last", [0, 1, 2, 2, 2, 2, 2, 2]), ("zero", [0, 1, 2, 0, 0, 0, 0, 0])])
def test_short_recordings_are_padded(tmp_path, pad, expected):
    text = "take,gesture,ax,ay\n" + "".join(f"a,up,{t},0\n" for t in range(3)) + \
           "".join(f"b,flat,{t},0\n" for t in range(8))
    data = loaded(tmp_path, text, window=f"  window: {{id: take, length: 8, pad: {pad}}}\n")
    assert data.X[0, ::2].tolist() == expected


@pytest.mark.parametrize("cut,first", [("first", 0), ("last", 4), ("middle", 2)])
def test_long_recordings_are_cut(tmp_path, cut, first):
    text = "take,gesture,ax,ay\n" + "".join(f"a,up,{t},0\n" for t in range(12)) + \
           "".join(f"b,flat,{t},0\n" for t in range(8))
    data = loaded(tmp_path, text, window=f"  window: {{id: take, length: 8, cut: {cut}}}\n")
    assert data.X[0, ::2].tolist() == list(range(first, first + 8))
    assert data.lines[0] == 2 + first


def test_drop_policies(tmp_path):
    text = "take,gesture,ax,ay\n" + "".join(f"a,up,{t},0\n" for t in range(3)) + \
           "".join(f"b,flat,{t},0\n" for t in range(12)) + "".join(f"c,up,{t},0\n" for t in range(8)) + \
           "".join(f"d,flat,{t},0\n" for t in range(8))
    data = loaded(tmp_path, text, window="  window: {id: take, length: 8, pad: drop, cut: drop}\n")
    assert data.groups.tolist() == ["c", "d"]


def test_sliding_windows_and_a_split_by_recording(tmp_path):
    data = loaded(tmp_path, recordings([20, 21, 9, 5, 30, 20, 20, 20]),
                  window="  window: {id: take, length: 8, step: 4}\n")
    # 20 samples -> starts 0, 4, 8, 12; 21 -> 4; 9 -> 1 (0); 5 -> 1 (padded); 30 -> 6 (0..20)
    assert np.unique(data.groups, return_counts=True)[1].tolist() == [4, 4, 1, 1, 6, 4, 4, 4]
    config = load_config(tmp_path / "microml.yaml")
    X_train, X_test, _, _ = split(config, data.X, data.y, data.groups)
    train_rows = {tuple(r) for r in X_train}
    test_groups = {g for g, row in zip(data.groups, data.X) if tuple(row) not in train_rows}
    train_groups = {g for g, row in zip(data.groups, data.X) if tuple(row) in train_rows}
    assert test_groups and train_groups and not test_groups & train_groups


CSV_ERRORS = {
    "label_changes": ("take,gesture,ax,ay\na,up,1,2\na,up,1,2\na,flat,1,2\nb,flat,1,2\n", "data.csv",
                      "recording 'a' (lines 2-4) changes label on line 4: 'up' then 'flat'", "dataset.label"),
    "recording_resumes": ("take,gesture,ax,ay\na,up,1,2\nb,flat,1,2\na,up,3,4\n", "data.csv",
                          "recording 'a' continues on line 4 after other recordings (it started on line 2)",
                          "dataset.window.id"),
    "empty_id": ("take,gesture,ax,ay\na,up,1,2\n,up,1,2\n", "data.csv", "line 3: the recording column 'take' is empty",
                 None),
    "misspelt_id": ("tak,gesture,ax,ay\na,up,1,2\n", "microml.yaml", "did you mean 'tak'", "dataset.window.id"),
    "everything_dropped": ("take,gesture,ax,ay\na,up,1,2\nb,flat,1,2\n", "microml.yaml", "the policy drops it",
                           "dataset.window.pad"),
}


@pytest.mark.parametrize("case", sorted(CSV_ERRORS))
def test_csv_grouping_errors(tmp_path, case):
    text, file, message, key = CSV_ERRORS[case]
    window = "  window: {id: take, length: 8, pad: drop}\n" if case == "everything_dropped" else \
        "  window: {id: take, length: 8}\n"
    with pytest.raises(MicroMLError) as info:
        loaded(tmp_path, text, window=window)
    assert message in str(info.value), str(info.value)
    assert info.value.file == file and info.value.key == key and info.value.fix


CONFIG_ERRORS = {
    "length_missing": ("  window: {id: take}\n", "dataset.window.length", "the window length is missing"),
    "length_too_long": ("  window: {id: take, length: 40000}\n", "dataset.window.length", "outside 1 .. 32767"),
    "no_id": ("  window: {length: 8}\n", "dataset.window.id", "needs dataset.window.id"),
    "id_is_label": ("  window: {id: gesture, length: 8}\n", "dataset.window.id", "is the label column"),
    "bad_pad": ("  window: {id: take, length: 8, pad: repeat}\n", "dataset.window.pad", "unknown value 'repeat'"),
    "misspelt_key": ("  window: {id: take, lenght: 8}\n", "dataset.window.lenght", "did you mean"),
    "bad_step": ("  window: {id: take, length: 8, step: 0}\n", "dataset.window.step", "outside 1 .. 32767"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_window_config_errors(tmp_path, case):
    window, key, message = CONFIG_ERRORS[case]
    with pytest.raises(MicroMLError) as info:
        load_config(project(tmp_path, recordings([8, 8]), window=window))
    assert info.value.key == key and message in str(info.value), str(info.value)
    assert info.value.file == "microml.yaml"


def test_unknown_input_type(tmp_path):
    with pytest.raises(MicroMLError, match="unknown value 'int8'") as info:
        load_config(project(tmp_path, recordings([8, 8]), input="int8"))
    assert info.value.key == "target.input"


def test_npz_with_3d_windows(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(-100, 100, (30, 8, 2))
    np.savez(tmp_path / "w.npz", X=X, y=np.arange(30) % 2)
    (tmp_path / "platformio.ini").write_text("[env:x]\n")
    (tmp_path / "train.py").write_text(TRAIN.format(length=8))
    (tmp_path / "microml.yaml").write_text(YAML.format(path="w.npz", window="", input="int16").replace(
        "  label: gesture\n", ""))
    data = load_dataset(load_config(tmp_path / "microml.yaml"))
    assert data.window == (8, 2) and data.X.shape == (30, 16)
    assert data.X[3].tolist() == X[3].reshape(-1).tolist()
    (tmp_path / "microml.yaml").write_text(YAML.format(path="w.npz", window="  window: {id: take, length: 8}\n",
                                                       input="int16").replace("  label: gesture\n", ""))
    with pytest.raises(MicroMLError, match="groups the rows of a CSV file") as info:
        load_config(tmp_path / "microml.yaml")
    assert info.value.key == "dataset.window"


def test_build_of_windows_with_int16_input(tmp_path):
    yaml = project(tmp_path, recordings([8, 10, 7, 8, 12, 8, 9, 8, 8, 11, 8, 8]))
    result = build(yaml, log=QUIET)
    text = (tmp_path / "include" / "wave.h").read_text()
    assert "int wave_predict(const int16_t *x)" in text and "int wave_predict_ring(const int16_t *ring, unsigned " \
                                                            "head)" in text
    assert "#define WAVE_WINDOW_LENGTH 8" in text and "#define WAVE_N_FEATURES 16" in text
    assert "windows of 8 samples x 2 channels (ax, ay)" in text
    assert "agreement 12/12" in result.summary and "window features within" in result.summary


def test_int16_input_names_the_recording_and_line(tmp_path):
    text = recordings([8, 8, 8, 8]).replace("t2,up,", "t2,up,0.5", 1).replace("0.5-", "0.5")
    yaml = project(tmp_path, text)
    with pytest.raises(MicroMLError) as info:
        build(yaml, log=QUIET)
    assert info.value.key == "target.input" and info.value.file == "microml.yaml"
    assert ("line 18, column 'ax' (recording 't2', sample 0 of the window from line 18):" in str(info.value)), \
        str(info.value)
    assert "not a whole number in -32768..32767" in str(info.value)


def test_int16_input_names_the_line_of_a_plain_csv(tmp_path):
    (tmp_path / "platformio.ini").write_text("[env:x]\n")
    (tmp_path / "data.csv").write_text("a,b,c\n" + "1,2,x\n3,4,y\n" * 6 + "1,40000,x\n")
    (tmp_path / "microml.yaml").write_text("name: m\ndataset: {path: data.csv, label: c}\n"
                                           "train: {estimator: SVC}\nverify: {measure: false}\n"
                                           "target: {input: int16}\noutput: m.h\n")
    with pytest.raises(MicroMLError, match="line 14, column 'b': 40000.0 is not a whole number") as info:
        build(tmp_path / "microml.yaml", log=QUIET)
    assert info.value.key == "target.input"


def test_fixed_point_with_window_features_is_refused(tmp_path):
    yaml = project(tmp_path, recordings([8] * 12))
    yaml.write_text(yaml.read_text().replace("  input: int16\n", "  input: int16\n  precision: fixed16\n"))
    with pytest.raises(MicroMLError, match="precision fixed16 does not take window features") as info:
        build(yaml, log=QUIET)
    assert info.value.key == "target.precision" and "target.precision: float" in info.value.fix


def test_report_of_windows(tmp_path):
    """The report shows raw traces per class and the window features the chip computes, not 16 raw columns."""
    pytest.importorskip("matplotlib")
    from microml_build.commands.report import report

    yaml = project(tmp_path, recordings([8, 10, 7, 8, 12, 8, 9, 8, 8, 11, 8, 8]))
    page = report(yaml, tmp_path / "r.html", log=QUIET).read_text()
    assert "Each row is a window of 8 samples x 2 channels (ax, ay)" in page
    assert 'alt="raw windows per class"' in page
    assert "window feature (computed on the chip)" in page and "<th>importance</th>" in page
    assert "ax[3]" not in page                       # no table of the flattened samples
    features = page.split("window feature (computed on the chip)")[1].split("</table>")[0]
    assert features.count("<tr>") >= 1 and "seg" in features


@pytest.mark.parametrize("source", ["csv", "npz"])
def test_window_features_of_another_shape_than_the_dataset_are_refused(tmp_path, source):
    """Windows of 8 samples x 2 channels read by WindowFeatures(length=4, channels=4): the same 16 values per row,
    so scikit-learn trains, but every feature would mix samples and channels (and the firmware's ring of
    WAVE_WINDOW_LENGTH samples would hold the wrong ones): the build names the mismatch instead of a header."""
    yaml = project(tmp_path, recordings([8] * 12))
    if source == "npz":
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "w.npz", X=rng.integers(-100, 100, (30, 8, 2)), y=np.arange(30) % 2)
        yaml.write_text(YAML.format(path="w.npz", window="", input="int16").replace("  label: gesture\n", ""))
    (tmp_path / "train.py").write_text(TRAIN.format(length=4).replace("channels=2", "channels=4"))
    with pytest.raises(MicroMLError) as info:
        build(yaml, log=QUIET)
    assert info.value.file == "microml.yaml" and info.value.key == "train.script", str(info.value)
    assert "WindowFeatures(length=4, channels=4)" in info.value.message
    assert "8 samples x 2 channels" in info.value.message
    assert "length=8, channels=2" in info.value.fix
    assert not (tmp_path / "include" / "wave.h").exists()


@pytest.mark.parametrize("input", ["int16", "float"])
def test_fixed_point_refusal_of_window_features_suggests_what_helps(tmp_path, input):
    """target.input: float does not make fixed16 take window features: the fix says only what works."""
    yaml = project(tmp_path, recordings([8] * 12), input=input)
    yaml.write_text(yaml.read_text().replace(f"  input: {input}\n", f"  input: {input}\n  precision: fixed8\n"))
    with pytest.raises(MicroMLError, match="precision fixed8 does not take window features") as info:
        build(yaml, log=QUIET)
    assert "target.precision: float" in info.value.fix and "target.input" not in info.value.fix, info.value.fix


def test_float_window_too_large_says_a_float_fix(tmp_path):
    """A float window whose squares would overflow float32 sums: the fix is about float input, not int16."""
    text = re.sub(r"^t2,up,-?\d+,", "t2,up,1e30,", recordings([8] * 12), count=1, flags=re.MULTILINE)
    assert "t2,up,1e30," in text
    yaml = project(tmp_path, text, input="float")
    with pytest.raises(MicroMLError, match="larger values overflow float32") as info:
        build(yaml, log=QUIET)
    assert info.value.key == "target.input" and "int16" not in info.value.fix, info.value.fix


def test_channels_first_npz_is_named(tmp_path):
    """X saved as (windows, channels, length), PyTorch's layout: the refusal says to transpose it."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", X=rng.integers(-100, 100, (30, 2, 8)), y=np.arange(30) % 2)
    yaml = project(tmp_path, recordings([8] * 12))
    yaml.write_text(YAML.format(path="w.npz", window="", input="int16").replace("  label: gesture\n", ""))
    with pytest.raises(MicroMLError, match="2 samples x 8 channels") as info:
        build(yaml, log=QUIET)
    assert "X.transpose(0, 2, 1)" in info.value.fix, info.value.fix


@pytest.mark.parametrize("window,line", [("  window: {id: take, length: 8}\n", 23),
                                         ("  window: {id: take, length: 4, step: 2}\n", 23),
                                         ("  window: {id: take, length: 6, cut: last}\n", 23)])
def test_int16_input_names_the_line_of_the_sample(tmp_path, window, line):
    """The bad sample's own CSV line, not only its window's first one (blank lines counted, windows cut or slid)."""
    lines = recordings([8, 8, 8, 8]).split("\n")
    lines.insert(5, "")                                  # a blank line inside recording t0
    cells = lines[22].split(",")                         # line 23 of the file: recording t2, its 6th sample
    assert cells[0] == "t2"
    lines[22] = ",".join([*cells[:2], "0.5", *cells[3:]])
    yaml = project(tmp_path, "\n".join(lines), window=window, length=int(window.split("length: ")[1][0]))
    with pytest.raises(MicroMLError) as info:
        build(yaml, log=QUIET)
    assert info.value.key == "target.input"
    assert f"line {line}, column 'ax' (recording 't2', sample " in str(info.value), str(info.value)
    assert "): 0.5 is not a whole number" in str(info.value), str(info.value)


def test_explain_of_a_window_header_lists_only_input_files(tmp_path):
    """The header's "Input: a window of ..." comment is no input file: explain does not list it (cut at its
    first line) among the hashed inputs."""
    from microml_build.commands.explain import explain, render

    yaml = project(tmp_path, recordings([8, 10, 7, 8, 12, 8, 9, 8, 8, 11, 8, 8]))
    build(yaml, log=QUIET)
    header = tmp_path / "include" / "wave.h"
    assert " * Input: a window of WAVE_WINDOW_LENGTH" in header.read_text()
    text = render(header, explain(header))
    assert "a window of" not in text and "status:         up to date" in text, text


def test_the_header_names_channels_by_the_csv_columns(tmp_path):
    """WindowFeatures without channel_names: the header's input line, feature list and per-group comments
    say the CSV's column names (ax, ay), not channel 0 / ch0; a 3-D .npz, which has no names, keeps ch0."""
    yaml = project(tmp_path, recordings([8, 10, 7, 8, 12, 8, 9, 8, 8, 11, 8, 8]))
    build(yaml, log=QUIET)
    text = (tmp_path / "include" / "wave.h").read_text()
    assert "= 2 channels (ax, ay)," in text and "channel 0" not in text and "ch0" not in text, text[:3000]
    assert re.search(r"f\[\d+\] seg\d_ax_mean", text) and re.search(r"Segment \d .*, ax\.", text)
    # The names are names only: the header computes what the unnamed model computes.
    (tmp_path / "data.csv").write_text(recordings([8, 10, 7, 8, 12, 8, 9, 8, 8, 11, 8, 8]).replace(
        "take,gesture,ax,ay", "take,gesture,ch0,ch1"))
    build(yaml, log=QUIET)
    unnamed = (tmp_path / "include" / "wave.h").read_text()
    assert "= 2 channels (channel 0, channel 1)," in unnamed and re.search(r"Segment \d .*, channel 0\.", unnamed)

    def code(header):
        return [re.sub(r"/\*.*?\*/", "", line).rstrip() for line in header.splitlines()
                if not line.lstrip().startswith(("/*", "*")) and "microml" not in line]
    assert code(unnamed) == code(text)


def test_a_bad_int16_sample_is_refused_before_training(tmp_path):
    """The data's error is found when the data is read: training (here it leaves a file behind) never runs."""
    lines = recordings([8, 8, 8, 8]).split("\n")
    lines[10] = ",".join([*lines[10].split(",")[:2], "40000", lines[10].split(",")[3]])   # recording t1: ax
    yaml = project(tmp_path, "\n".join(lines))
    (tmp_path / "train.py").write_text("from pathlib import Path\n\n\ndef train(X, y):\n"
                                       "    Path(__file__).with_name('trained').write_text('yes')\n")
    with pytest.raises(MicroMLError) as info:
        build(yaml, log=QUIET)
    assert info.value.key == "target.input" and "recording 't1'" in str(info.value), str(info.value)
    assert not (tmp_path / "trained").exists()


def test_an_npz_header_does_not_contradict_the_models_channel_names(tmp_path):
    """A 3-D .npz names no channels: the Rows line gives the shape only, and the names are WindowFeatures'."""
    rng = np.random.default_rng(0)
    X = rng.integers(-100, 100, (30, 8, 2))
    np.savez(tmp_path / "w.npz", X=X, y=np.arange(30) % 2)
    (tmp_path / "platformio.ini").write_text("[env:x]\n")
    (tmp_path / "train.py").write_text(TRAIN.format(length=8).replace("segments=2)", "segments=2, channel_names="
                                                                                     "['x', 'y'])"))
    (tmp_path / "microml.yaml").write_text(YAML.format(path="w.npz", window="", input="int16").replace(
        "  label: gesture\n", ""))
    build(tmp_path / "microml.yaml", log=QUIET)
    text = (tmp_path / "include" / "wave.h").read_text()
    assert "windows of 8 samples x 2 channels\n" in text and "ch0" not in text, text[:1500]
    assert "= 2 channels (x, y)," in text

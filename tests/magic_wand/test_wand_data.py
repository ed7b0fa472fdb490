"""examples/magic-wand/wand_data.py: parsing as TensorFlow's train/ scripts do, its person split, padding, and where the data comes from."""

import collections
import hashlib
import io
import shutil
import tarfile
import urllib.request

import numpy as np
import pytest

import wand_data
from wand_data import DataError

# --- parsing, on hand-written captures ---------------------------------------------------------

CAPTURE = (
    "Script started on Mon Jan  1 00:00:00 2024\r\n"      # made-up terminal noise, in the recordings' style
    "\x1b[?25h$ screen /dev/ttyUSB0 115200\x1b[K\r\n"
    "\r\n"
    "1.0,2.0,3.0\r\n"                  # before the first marker: a gesture of its own, as in TensorFlow
    "-,-,-\r\n"
    "-,-,-\r\n"                        # a marker with nothing before it starts nothing
    "10.0,-20.0,30.0\r\n"
    "11.0,-21.0\r\n"                   # two fields: noise
    "\x1b[H\x1b[2J\r\n"
    "12.0,-22.0,32.0,5\r\n"            # four fields: noise
    "13.0,-23.0,33.0\r\n"
    "-,-,-\r\n"
    "100.0,200.0,-300.0\r\n"
    "[terminated]\r\n"
    "$ exit\r\n"
)


def test_gestures_split_at_markers_and_skip_terminal_noise():
    segments = wand_data.parse_gestures(CAPTURE, "capture.txt")
    assert [s.tolist() for s in segments] == [
        [[1, 2, 3]],
        [[10, -20, 30], [13, -23, 33]],
        [[100, 200, -300]],
    ]
    assert all(s.dtype == np.int16 for s in segments)


def test_gestures_read_lone_cr_and_lf_lines_as_crlf():
    lf = wand_data.parse_gestures(CAPTURE.replace("\r\n", "\n"))
    cr = wand_data.parse_gestures(CAPTURE.replace("\r\n", "\r"))
    crlf = wand_data.parse_gestures(CAPTURE)
    assert [s.tolist() for s in lf] == [s.tolist() for s in crlf] == [s.tolist() for s in cr]


def test_three_fields_that_are_not_samples_name_the_line():
    with pytest.raises(DataError, match=r"w\.txt:2: three fields but not numbers"):
        wand_data.parse_gestures("1,2,3\nx,y,z\n", "w.txt")
    with pytest.raises(DataError, match=r"w\.txt:1: not an int16"):
        wand_data.parse_gestures("1.5,2,3\n", "w.txt")
    with pytest.raises(DataError, match=r"w\.txt:1: not an int16"):
        wand_data.parse_gestures("40000,2,3\n", "w.txt")


def test_negative_chunks_drop_the_sample_at_a_full_chunk_and_keep_the_short_last_one():
    lines = ["-,-,-", "noise line"] + [f"{i}.0,{-i}.0,{2 * i}.0" for i in range(250)]
    chunks = wand_data.parse_negative("\n".join(lines) + "\n")
    # 0..119, then 120 dropped; 121..240, then 241 dropped; 242..249.
    assert [len(c) for c in chunks] == [120, 120, 8]
    assert chunks[0][:, 0].tolist() == list(range(0, 120))
    assert chunks[1][:, 0].tolist() == list(range(121, 241))
    assert chunks[2][:, 0].tolist() == list(range(242, 250))
    assert chunks[1][:, 2].tolist() == [2 * i for i in range(121, 241)]


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_mac_resource_forks_and_checkpoints_are_not_recordings(tmp_path):
    fork = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \xff\xfe\x80"      # not UTF-8 either
    archive = _tar(tmp_path / "a.tar.gz", {
        "./wing/output_wing_a.txt": b"-,-,-\r\n1.0,2.0,3.0\r\n",
        "./wing/._output_wing_a.txt": fork,
        "./._wing": fork,
        "./slope/.ipynb_checkpoints/output_angle_a-checkpoint.txt": b"-,-,-\r\n9.0,9.0,9.0\r\n",
        "./slope/._.ipynb_checkpoints": fork,
    })
    texts = wand_data.read_recordings(archive)
    assert list(texts) == ["wing/output_wing_a.txt"]
    assert texts["wing/output_wing_a.txt"] == "-,-,-\r\n1.0,2.0,3.0\r\n"


def test_the_real_archive_holds_forks_and_a_checkpoint_that_are_skipped(archive):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert sum("/._" in n or n.startswith("./._") for n in names) >= 38
    assert any(".ipynb_checkpoints/output_angle_liucx" in n for n in names)
    texts = wand_data.read_recordings(archive)
    assert not any("._" in n or "ipynb" in n for n in texts)
    people10 = wand_data.PEOPLE + ("lsj",)
    expected = {wand_data.gesture_member(g, p) for g in wand_data.GESTURES for p in people10}
    expected |= {f"negative/output_negative_{k}.txt" for k in ("1", "2", "3", "4", "5", "ccw_1", "ccw_2", "jiangyh")}
    assert set(texts) == expected


# --- counts and split, on TensorFlow's archive -------------------------------------------------

def test_segment_counts_match_tensorflows_preparation(archive, segments):
    every_person = wand_data.load_segments(archive, wand_data.PEOPLE + ("lsj",))
    counts = collections.Counter(s.label for s in every_person)
    assert counts == {"wing": 223, "ring": 218, "slope": 228}          # all ten people
    lengths = {g: [len(s.samples) for s in every_person if s.label == g] for g in wand_data.GESTURES}
    assert [np.median(lengths[g]) for g in wand_data.GESTURES] == [82, 79.5, 64]
    assert min(map(min, lengths.values())) == 33 and max(map(max, lengths.values())) == 175

    # What data_prepare.py reads: nine people (not lsj) and negative1..5 in 120-sample chunks.
    counts = collections.Counter(s.label for s in segments)
    assert counts == {"wing": 223 - 22, "ring": 218 - 22, "slope": 228 - 24, "negative": 80}
    chunks = collections.Counter(s.person for s in segments if s.label == "negative")
    assert chunks == {"negative1": 8, "negative2": 17, "negative3": 19, "negative4": 16, "negative5": 20}
    assert {len(s.samples) for s in segments if s.label == "negative"} == {120, 48, 74, 47, 88, 96}
    assert "lsj" not in {s.person for s in segments}


def test_person_split_is_tensorflows(splits):
    people = {name: set(split.person) for name, split in splits.items()}
    assert people["train"] == {"hyw", "shiyun", "tangsy", "dengyl", "jiangyh", "xunkai",
                               "negative3", "negative4", "negative5", "negative6"}
    assert people["valid"] == {"pengxl", "negative2"}
    assert people["test"] == {"liucx", "zhangxy", "negative1"}
    counts = {name: collections.Counter(split.y) for name, split in splits.items()}
    assert counts["test"] == {"wing": 82, "ring": 84, "slope": 88, "negative": 16}
    assert counts["valid"] == {"wing": 38, "ring": 40, "slope": 40, "negative": 34}
    assert counts["train"] == {"wing": 282, "ring": 268, "slope": 280, "negative": 2 * (55 + 183)}


def test_synthetic_negatives_follow_the_option(archive, splits):
    none = wand_data.load_splits(archive, synthetic="none")
    every = wand_data.load_splits(archive, synthetic="all")
    for name, extra in (("train", 3 * 61), ("valid", 3 * 20), ("test", 3 * 19)):
        assert np.sum(every[name].y == "negative") - np.sum(none[name].y == "negative") == 2 * extra
    assert np.array_equal(splits["test"].X, none["test"].X)                    # default: train only
    assert "negative6" in set(splits["train"].person) and "negative6" not in set(none["train"].person)
    made = wand_data.synthetic_negatives(0)
    assert np.array_equal(made[5].samples, wand_data.synthetic_negatives(0)[5].samples)
    assert not np.array_equal(made[5].samples, wand_data.synthetic_negatives(1)[5].samples)
    with pytest.raises(ValueError, match="synthetic"):
        wand_data.load_splits(archive, synthetic="some")


# --- padding --------------------------------------------------------------------------------

def test_padding_puts_the_segment_at_the_end_then_at_the_start():
    segment = np.array([[100, -200, 1000], [5, 6, 7], [-300, 400, -500]], dtype=np.int16)
    before, after = wand_data.pad(segment, np.random.default_rng(0))
    assert before.shape == after.shape == (128, 3) and before.dtype == np.int16
    assert before[-3:].tolist() == segment.tolist() and after[:3].tolist() == segment.tolist()
    lead, tail = before[:-3].astype(int) - segment[0], after[3:].astype(int) - segment[-1]
    for noise in (lead, tail):
        assert noise.min() >= -10 and noise.max() <= 10
        assert noise.min() < -5 and noise.max() > 5           # noise, both ways, not a constant copy
        assert len(np.unique(noise)) > 15


def test_segments_longer_than_a_window_keep_their_first_128_samples():
    segment = np.arange(175 * 3, dtype=np.int16).reshape(175, 3)
    before, after = wand_data.pad(segment, np.random.default_rng(0))
    assert np.array_equal(before, segment[:128]) and np.array_equal(after, segment[:128])


def test_padding_is_deterministic_per_segment(archive, segments, splits):
    again = wand_data.load_splits(archive)
    assert all(np.array_equal(splits[k].X, again[k].X) for k in splits)
    # A segment's windows do not depend on which other segments are windowed with it.
    alone = wand_data.windows([s for s in segments if s.person == "liucx"])
    mask = splits["test"].person == "liucx"
    assert np.array_equal(alone.X, splits["test"].X[mask])
    # Another seed changes the padding only.
    other = wand_data.windows(segments[:20], seed=1).X
    first = wand_data.windows(segments[:20], seed=0).X
    assert not np.array_equal(other, first)
    short = [i for i, s in enumerate(segments[:20]) if len(s.samples) < 128]
    for i in short:
        n = len(segments[i].samples)
        assert np.array_equal(other[2 * i, 128 - n:], first[2 * i, 128 - n:])
        assert np.array_equal(other[2 * i + 1, :n], first[2 * i + 1, :n])


def test_export_writes_npz_that_numpy_reads_without_pickle(archive, splits, tmp_path):
    written = wand_data.export(archive, tmp_path / "data")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["test.npz", "train.npz", "valid.npz"]
    with np.load(written["test"], allow_pickle=False) as data:
        assert data["X"].dtype == np.int16 and data["X"].shape == (270, 128, 3)
        assert np.array_equal(data["X"], splits["test"].X)
        assert data["y"].dtype.kind == "U" and set(data["y"]) == set(wand_data.LABELS)
        assert data["person"].shape == data["y"].shape == data["segment"].shape == data["copy"].shape


# --- streams ----------------------------------------------------------------------------------

def test_streams_hold_each_test_persons_recordings_and_true_gestures(archive, segments):
    streams = wand_data.streams(archive)
    assert list(streams) == ["liucx", "zhangxy", "negative1"]
    for person in ("liucx", "zhangxy"):
        stream = streams[person]
        mine = [s for s in segments if s.person == person]
        assert [label for _, _, label in stream.gestures] == [s.label for s in mine]
        for (start, stop, _), segment in zip(stream.gestures, mine):
            assert np.array_equal(stream.samples[start:stop], segment.samples)
        assert stream.gestures[0][0] == 0 and stream.gestures[-1][1] == len(stream.samples)
        assert [m for _, _, m in stream.recordings] == [wand_data.gesture_member(g, person)
                                                         for g in wand_data.GESTURES]
    assert len(streams["liucx"].gestures) == 63 and len(streams["zhangxy"].gestures) == 64
    negative = streams["negative1"]
    assert negative.gestures == () and negative.samples.shape == (895, 3)
    chunks = [s.samples for s in segments if s.person == "negative1"]
    assert np.array_equal(negative.samples[121:241], chunks[1])   # the stream keeps the sample chunking drops


# --- where the data comes from ----------------------------------------------------------------

def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no download expected")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_a_path_or_the_environment_variable_names_the_archive_or_its_folder(archive, tmp_path, monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.delenv(wand_data.ENV_VAR, raising=False)
    assert wand_data.locate(archive) == archive
    assert wand_data.locate(archive.parent) == archive.parent / "data.tar.gz"
    monkeypatch.setenv(wand_data.ENV_VAR, str(archive.parent))
    assert wand_data.locate(cache=tmp_path / "cache") == archive.parent / "data.tar.gz"
    monkeypatch.setenv(wand_data.ENV_VAR, str(archive))
    assert wand_data.locate(cache=tmp_path / "cache") == archive
    # An explicit path wins over the variable.
    copy = tmp_path / "mine" / "data.tar.gz"
    copy.parent.mkdir()
    shutil.copy(archive, copy)
    assert wand_data.locate(copy.parent) == copy
    monkeypatch.setenv(wand_data.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"nowhere \(from MAGIC_WAND_DATA\) does not exist"):
        wand_data.locate(cache=tmp_path / "cache")


def test_a_corrupted_copy_is_refused(archive, tmp_path, monkeypatch):
    _no_network(monkeypatch)
    bad = tmp_path / "data.tar.gz"
    data = bytearray(archive.read_bytes())
    data[1000] ^= 0x01
    bad.write_bytes(bytes(data))
    found = hashlib.sha1(bytes(data)).hexdigest()
    with pytest.raises(DataError) as caught:
        wand_data.locate(tmp_path)
    message = str(caught.value)
    assert str(bad) in message and found in message and wand_data.DATA_SHA1 in message
    assert wand_data.DATA_URL in message
    monkeypatch.setenv(wand_data.ENV_VAR, str(bad))
    with pytest.raises(DataError, match="from MAGIC_WAND_DATA"):
        wand_data.locate()


def test_without_a_path_the_cache_is_used_then_filled_by_a_checked_download(archive, tmp_path, monkeypatch):
    monkeypatch.delenv(wand_data.ENV_VAR, raising=False)
    cache = tmp_path / "cache"
    good = archive.read_bytes()
    fetched = []

    def serve(payload):
        def urlopen(url, timeout=None):
            fetched.append(url)
            return io.BytesIO(payload)
        monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    serve(good[:-1] + bytes([good[-1] ^ 1]))                   # an altered download
    with pytest.raises(DataError, match="downloaded from http://download.tensorflow.org"):
        wand_data.locate(cache=cache)
    assert list(cache.iterdir()) == []                            # nothing half-written left behind
    with pytest.raises(DataError, match="allow the download"):
        wand_data.locate(cache=cache, allow_download=False)

    serve(good)
    assert wand_data.locate(cache=cache) == cache / "data.tar.gz"
    assert fetched == [wand_data.DATA_URL] * 2
    _no_network(monkeypatch)
    assert wand_data.locate(cache=cache) == cache / "data.tar.gz"   # cached: no second download
    assert sorted(p.name for p in cache.iterdir()) == ["data.tar.gz"]

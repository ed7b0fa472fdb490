"""TensorFlow's magic_wand recordings: fetched and checked, parsed and split by person as TensorFlow's train/ scripts do, cut into int16 windows.

    python examples/magic-wand/wand_data.py [--data PATH] [--out DIR]   # writes train/valid/test .npz

Where the data comes from (`locate`): a path given as argument, else the environment variable
MAGIC_WAND_DATA (either may name `data.tar.gz` itself or a folder holding it), else a cache folder
(`$XDG_CACHE_HOME/microml/magic_wand`, default `~/.cache/...`), downloading TensorFlow's published
archive there on first use. Every copy is checked against TensorFlow's SHA-1 before it is read; a
mismatch is refused. The archive is read in place with `tarfile`; nothing is extracted.

What it reproduces (TensorFlow Lite Micro, examples/magic_wand/train/: data_prepare.py,
data_split_person.py, data_load.py):

- Gesture files `<gesture>/output_<gesture>_<person>.txt`: a terminal capture. Only lines with
  exactly three comma-separated fields count; a line whose third field is `-` starts a new gesture.
  Everything else (escape sequences, prompts, blank lines) is terminal noise and skipped.
- Negative files `negative/output_negative_<k>.txt` (people negative1..negative5): no gestures;
  cut into chunks of 120 samples. TensorFlow's loop drops the sample that arrives when a chunk is
  full, so its chunks start 121 samples apart, and it keeps the short last chunk: so do we, so
  the chunks are TensorFlow's.
- The 9 people data_prepare.py reads (lsj is not among them), and data_split_person.py's split:
  train hyw, shiyun, tangsy, dengyl, jiangyh, xunkai, negative3-5; valid pengxl, negative2;
  test liucx, zhangxy, negative1.
- Windows of 128 samples x 3 axes, two per segment: the segment at the end of the window with its
  first sample repeated before it ("before"), and at the start with its last sample repeated after
  it ("after"), the repeated samples plus uniform noise of +-10 milli-g; segments longer than 128
  keep their first 128 samples. As int16 milli-g, the noise is an integer drawn uniformly from
  -10..10, from a generator seeded by (seed, label, person, segment index): a segment's windows do
  not depend on which other segments are loaded.

TensorFlow also adds 300 synthetic negative windows (people negative6..8: straight lines, uniform
noise, standing still) from an unseeded generator, so they cannot be reproduced. We generate our
own of the same three kinds and proportions from a seeded generator (`synthetic_negatives`), and
by default put only negative6's share (183 segments of 128 samples) into train: validation and test hold only
recorded data, so their figures measure recordings, not our stand-ins for TensorFlow's (which are
trivially separable). `synthetic="all"` adds the negative7 and negative8 shares to valid and test
as TensorFlow did; `synthetic="none"` leaves them all out.

Streams (`streams`): for the firmware benchmark, each person's recordings as one continuous
sample stream (the gesture files in the order wing, ring, slope, concatenated; or a negative
file), with where each true gesture starts and ends.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

DATA_URL = "http://download.tensorflow.org/models/tflite/magic_wand/data.tar.gz"
DATA_SHA1 = "5f130f7a65db62e17e7de62d635ab7ae0f929047"
DATA_BYTES = 451_862
ARCHIVE_NAME = "data.tar.gz"
ENV_VAR = "MAGIC_WAND_DATA"

GESTURES = ("wing", "ring", "slope")
LABELS = ("wing", "ring", "slope", "negative")      # TensorFlow's label ids 0..3, the model's output order
# data_prepare.py's people (lsj, recorded too, is not read), and its negative files as people.
PEOPLE = ("hyw", "shiyun", "tangsy", "dengyl", "zhangxy", "pengxl", "liucx", "jiangyh", "xunkai")
NEGATIVE_PEOPLE = tuple(f"negative{k}" for k in range(1, 6))
SPLITS = {
    "train": ("hyw", "shiyun", "tangsy", "dengyl", "jiangyh", "xunkai", "negative3", "negative4", "negative5"),
    "valid": ("pengxl", "negative2"),
    "test": ("liucx", "zhangxy", "negative1"),
}
# TensorFlow's synthetic negatives by person, and the split each went to.
SYNTHETIC_SPLIT = {"negative6": "train", "negative7": "valid", "negative8": "test"}

WINDOW = 128            # samples per window (TensorFlow's seq_length)
CHANNELS = 3            # x, y, z in milli-g
NEGATIVE_CHUNK = 120    # samples per negative chunk (data_prepare.py)
PAD_NOISE = 10          # padding noise: uniform in +-10 milli-g (data_load.py: noise_level 20, centred)
SAMPLE_HZ = 25          # the firmware's kTargetHz


class DataError(Exception):
    """The data cannot be found, fails its checksum, or does not parse as TensorFlow's recordings."""


@dataclass(frozen=True)
class Segment:
    """One gesture, or one negative chunk, as TensorFlow's data_prepare.py cuts it."""

    label: str              # wing | ring | slope | negative
    person: str             # hyw, ..., negative1, ...
    index: int              # order within its file (or within the synthetic set)
    samples: np.ndarray     # (n, 3) int16 milli-g


@dataclass(frozen=True)
class Split:
    """Windows of one split: X (n, 128, 3) int16, y labels, and where each window came from."""

    X: np.ndarray
    y: np.ndarray           # str labels
    person: np.ndarray      # str
    segment: np.ndarray     # int: the segment's index within its person and label
    copy: np.ndarray        # str: "before" (segment at the end, padded before) | "after"


@dataclass(frozen=True)
class Stream:
    """A person's recordings as one continuous stream, with the true gestures in it."""

    person: str
    samples: np.ndarray                             # (n, 3) int16 milli-g, at 25 Hz
    gestures: tuple[tuple[int, int, str], ...]      # (start, stop, label): samples[start:stop] is one gesture
    recordings: tuple[tuple[int, int, str], ...]    # (start, stop, archive member): where each file lies


# --- finding and checking the archive -------------------------------------------------------

def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, source: str = "") -> Path:
    """`path` if it is TensorFlow's data.tar.gz (by SHA-1), else DataError saying what it is and what to do."""
    found = sha1_of(path)
    if found != DATA_SHA1:
        size = path.stat().st_size
        raise DataError(
            f"{path}{' (' + source + ')' if source else ''} is not TensorFlow's magic_wand data.tar.gz: "
            f"SHA-1 {found}, {size:,} bytes; expected SHA-1 {DATA_SHA1}, {DATA_BYTES:,} bytes. "
            f"Fix: download it again from {DATA_URL}, or point {ENV_VAR} at an intact copy.")
    return path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "microml" / "magic_wand"


def _given(path: Path, source: str) -> Path:
    path = path.expanduser()
    if path.is_dir():
        path = path / ARCHIVE_NAME
    if not path.is_file():
        raise DataError(f"{path} ({source}) does not exist. Fix: give data.tar.gz, or a folder holding it; "
                        f"TensorFlow publishes it at {DATA_URL}.")
    return verify(path, source)


def download(dest_dir: Path, url: str = DATA_URL) -> Path:
    """Download the archive into dest_dir, check it, and only then move it into place."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".data.", suffix=".part", dir=dest_dir)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
        verify(Path(tmp), f"downloaded from {url}")
        final = dest_dir / ARCHIVE_NAME
        os.replace(tmp, final)
        return final
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def locate(path: str | os.PathLike | None = None, *, cache: Path | None = None,
           allow_download: bool = True) -> Path:
    """The verified data.tar.gz: `path`, else $MAGIC_WAND_DATA, else the cache (downloading into it)."""
    if path is not None:
        return _given(Path(path), "given path")
    if os.environ.get(ENV_VAR):
        return _given(Path(os.environ[ENV_VAR]), f"from {ENV_VAR}")
    cache = cache if cache is not None else cache_dir()
    cached = cache / ARCHIVE_NAME
    if cached.is_file():
        return verify(cached, "cached copy")
    if not allow_download:
        raise DataError(f"no data: give a path, set {ENV_VAR}, or allow the download from {DATA_URL}")
    return download(cache)


# --- reading and parsing ----------------------------------------------------------------------

def _skipped(name: str) -> bool:
    """Mac resource forks (`._*`) and the stray Jupyter checkpoint folder are not recordings."""
    parts = PurePosixPath(name).parts
    return any(part.startswith("._") or part == ".ipynb_checkpoints" for part in parts)


def read_recordings(archive: Path) -> dict[str, str]:
    """Text of every recording in the archive, by member name without a leading './'."""
    texts = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if not member.isfile() or _skipped(name) or not name.endswith(".txt"):
                continue
            raw = tar.extractfile(member).read()
            try:
                texts[name] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{name}: not UTF-8 text ({exc})") from None
    return texts


def _rows(text: str):
    """(line number, fields) of the lines with exactly three fields; the rest is terminal noise."""
    # Universal newlines, as TensorFlow's open(..., "r") reads these CRLF captures.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(fields) == 3:
            yield number, fields


def _sample(fields: list[str], name: str, number: int) -> list[int]:
    try:
        values = [float(v) for v in fields]
    except ValueError:
        raise DataError(f"{name}:{number}: three fields but not numbers: {','.join(fields)!r}") from None
    if any(v != round(v) or not -32768 <= v <= 32767 for v in values):
        raise DataError(f"{name}:{number}: not an int16 milli-g sample: {','.join(fields)!r}")
    return [int(v) for v in values]


def _array(rows: list[list[int]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.int16).reshape(-1, CHANNELS)


def parse_gestures(text: str, name: str = "<text>") -> list[np.ndarray]:
    """The gestures of one gesture file: a line whose third field is '-' starts the next one.

    Samples before the first marker form a gesture too, and a marker with nothing before it starts
    nothing, as in data_prepare.py. (Its last gesture would be empty if a file ended with a marker;
    none does, and empty gestures are dropped here.)
    """
    segments, current = [], []
    for number, fields in _rows(text):
        if fields[2] == "-":
            if current:
                segments.append(_array(current))
                current = []
        else:
            current.append(_sample(fields, name, number))
    if current:
        segments.append(_array(current))
    return segments


def parse_negative(text: str, name: str = "<text>") -> list[np.ndarray]:
    """Chunks of a negative file: 120 samples each; the sample arriving at a full chunk is dropped (as TensorFlow does)."""
    chunks, current = [], []
    for number, fields in _rows(text):
        if fields[2] == "-":
            continue
        if len(current) == NEGATIVE_CHUNK:
            chunks.append(_array(current))
            current = []
        else:
            current.append(_sample(fields, name, number))
    if current:
        chunks.append(_array(current))
    return chunks


def _stream_samples(text: str, name: str) -> np.ndarray:
    """Every sample of a file, markers dropped: what the sensor delivered, in order."""
    return _array([_sample(f, name, n) for n, f in _rows(text) if f[2] != "-"])


def gesture_member(gesture: str, person: str) -> str:
    return f"{gesture}/output_{gesture}_{person}.txt"


def negative_member(person: str) -> str:
    return f"negative/output_negative_{person.removeprefix('negative')}.txt"


def _text(texts: dict[str, str], member: str) -> str:
    if member not in texts:
        raise DataError(f"the archive has no {member}")
    return texts[member]


def load_segments(archive: Path, people: tuple[str, ...] = PEOPLE + NEGATIVE_PEOPLE) -> list[Segment]:
    """The segments data_prepare.py makes of the recordings of `people` (default: all it reads)."""
    texts = read_recordings(archive)
    segments = []
    for gesture in GESTURES:
        for person in people:
            if person in NEGATIVE_PEOPLE:
                continue
            member = gesture_member(gesture, person)
            for index, samples in enumerate(parse_gestures(_text(texts, member), member)):
                segments.append(Segment(gesture, person, index, samples))
    for person in people:
        if person in NEGATIVE_PEOPLE:
            member = negative_member(person)
            for index, samples in enumerate(parse_negative(_text(texts, member), member)):
                segments.append(Segment("negative", person, index, samples))
    return segments


def synthetic_negatives(seed: int = 0) -> list[Segment]:
    """Our seeded stand-ins for TensorFlow's synthetic negatives: the same three kinds, amplitudes and shares.

    100 windows of each kind (a straight line from a random start with a random slope and +-3 mg
    noise; uniform noise of +-500 mg; standing still at a random attitude with +-20 mg noise), the
    first 61 of each kind as negative6, the next 20 as negative7, the last 19 as negative8,
    as data_prepare.py assigns them. Each is 128 samples, int16 milli-g.
    """
    rng = np.random.default_rng([seed, zlib.crc32(b"synthetic negatives")])
    t = np.arange(WINDOW)[:, None]
    kinds = []
    for _ in range(100):
        start, slope = rng.uniform(-1000, 1000, 3), rng.uniform(-5, 5, 3)
        kinds.append(("line", start + t * slope + rng.uniform(-3, 3, (WINDOW, 3))))
    for _ in range(100):
        kinds.append(("noise", rng.uniform(-500, 500, (WINDOW, 3))))
    for _ in range(100):
        kinds.append(("still", rng.uniform(-1000, 1000, 3) + rng.uniform(-20, 20, (WINDOW, 3))))
    segments = []
    for n, (_, values) in enumerate(kinds):
        i = n % 100
        person = "negative8" if i > 80 else "negative7" if i > 60 else "negative6"
        segments.append(Segment("negative", person, n, np.rint(values).astype(np.int16)))
    return segments


# --- windows --------------------------------------------------------------------------------

def segment_rng(seed: int, segment: Segment) -> np.random.Generator:
    key = zlib.crc32(f"{segment.label}/{segment.person}/{segment.index}".encode())
    return np.random.default_rng([seed, key])


def pad(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The two windows TensorFlow makes of one segment: (2, 128, 3) int16, "before" then "after"."""
    samples = np.asarray(samples, dtype=np.int16)
    if samples.ndim != 2 or samples.shape[1] != CHANNELS or len(samples) == 0:
        raise ValueError(f"a segment is (n >= 1, {CHANNELS}) samples, got {samples.shape}")
    kept = samples[:WINDOW].astype(np.int32)
    m = len(kept)
    out = np.empty((2, WINDOW, CHANNELS), dtype=np.int32)
    out[0] = samples[0].astype(np.int32) + rng.integers(-PAD_NOISE, PAD_NOISE + 1, (WINDOW, CHANNELS))
    out[0, WINDOW - m:] = kept
    out[1] = samples[-1].astype(np.int32) + rng.integers(-PAD_NOISE, PAD_NOISE + 1, (WINDOW, CHANNELS))
    out[1, :m] = kept
    return np.clip(out, -32768, 32767).astype(np.int16)


def windows(segments: list[Segment], seed: int = 0) -> Split:
    """Two padded windows per segment, in the order of `segments`."""
    X = np.empty((2 * len(segments), WINDOW, CHANNELS), dtype=np.int16)
    for i, segment in enumerate(segments):
        X[2 * i: 2 * i + 2] = pad(segment.samples, segment_rng(seed, segment))
    def twice(values, dtype):
        return np.repeat(np.asarray(values, dtype=dtype), 2)
    return Split(X=X,
                 y=twice([s.label for s in segments], "U8"),
                 person=twice([s.person for s in segments], "U9"),
                 segment=twice([s.index for s in segments], np.int32),
                 copy=np.tile(np.array(["before", "after"], dtype="U6"), len(segments)))


def load_splits(archive: Path, *, synthetic: str = "train", seed: int = 0) -> dict[str, Split]:
    """TensorFlow's person split as windows: {"train", "valid", "test"} -> Split.

    synthetic: "train" (default) adds our seeded negative6 share to train only; "all" also adds
    negative7 to valid and negative8 to test, as TensorFlow did; "none" adds none.
    """
    if synthetic not in ("train", "all", "none"):
        raise ValueError(f"synthetic must be 'train', 'all' or 'none', not {synthetic!r}")
    recorded = load_segments(archive)
    made = synthetic_negatives(seed) if synthetic != "none" else []
    splits = {}
    for split, people in SPLITS.items():
        chosen = [s for s in recorded if s.person in people]
        if synthetic == "all" or (synthetic == "train" and split == "train"):
            chosen += [s for s in made if SYNTHETIC_SPLIT[s.person] == split]
        splits[split] = windows(chosen, seed)
    return splits


def export(archive: Path, out_dir: Path, *, synthetic: str = "train", seed: int = 0) -> dict[str, Path]:
    """Write <out_dir>/{train,valid,test}.npz (X int16 (n, 128, 3), y, person, segment, copy); atomic per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, data in load_splits(archive, synthetic=synthetic, seed=seed).items():
        final = out_dir / f"{split}.npz"
        fd, tmp = tempfile.mkstemp(prefix=f".{split}.", suffix=".npz", dir=out_dir)
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, X=data.X, y=data.y, person=data.person, segment=data.segment,
                                copy=data.copy)
        os.replace(tmp, final)
        written[split] = final
    return written


# --- streams --------------------------------------------------------------------------------

def streams(archive: Path, split: str = "test") -> dict[str, Stream]:
    """Each person of `split` as one continuous stream with the true gesture positions.

    A person's gesture files are concatenated in the order wing, ring, slope; a gesture runs from
    the first sample after its marker to the last before the next. A negative person's stream is
    its whole file, with no gesture in it. The joins between files are not in the recordings
    (`recordings` says where they are).
    """
    texts = read_recordings(archive)
    result = {}
    for person in SPLITS[split]:
        parts, gestures, recordings, at = [], [], [], 0
        if person in NEGATIVE_PEOPLE:
            members = [(negative_member(person), None)]
        else:
            members = [(gesture_member(g, person), g) for g in GESTURES]
        for member, gesture in members:
            text = _text(texts, member)
            samples = _stream_samples(text, member)
            if gesture is not None:
                for segment in parse_gestures(text, member):
                    # parse_gestures keeps the samples in file order, so the gestures tile the file.
                    gestures.append((at, at + len(segment), gesture))
                    at += len(segment)
                if at != sum(len(p) for p in parts) + len(samples):
                    raise DataError(f"{member}: gestures do not cover the file's samples")
            else:
                at += len(samples)
            recordings.append((at - len(samples), at, member))
            parts.append(samples)
        result[person] = Stream(person, np.concatenate(parts), tuple(gestures), tuple(recordings))
    return result


# --- command line ---------------------------------------------------------------------------

def _summary(splits: dict[str, Split]) -> str:
    lines = [f"{'split':<6} {'windows':>7}  " + "  ".join(f"{label:>8}" for label in LABELS) + "  people"]
    for split, data in splits.items():
        counts = "  ".join(f"{int(np.sum(data.y == label)):>8}" for label in LABELS)
        lines.append(f"{split:<6} {len(data.y):>7}  {counts}  {', '.join(sorted(set(data.person)))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"data.tar.gz or a folder holding it (default: ${ENV_VAR}, else the "
                        f"cache, downloading {DATA_URL})")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "data"),
                        help="folder for train.npz, valid.npz, test.npz (default: %(default)s)")
    parser.add_argument("--synthetic", choices=("train", "all", "none"), default="train",
                        help="where our seeded synthetic negatives go (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="padding and synthetic-negative seed")
    args = parser.parse_args(argv)
    try:
        archive = locate(args.data)
        written = export(archive, Path(args.out), synthetic=args.synthetic, seed=args.seed)
        print(_summary({split: _load_npz(path) for split, path in written.items()}))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for split, path in written.items():
        print(f"wrote {path}")
    return 0


def _load_npz(path: Path) -> Split:
    with np.load(path, allow_pickle=False) as data:
        return Split(**{key: data[key] for key in ("X", "y", "person", "segment", "copy")})


if __name__ == "__main__":
    sys.exit(main())

"""TensorFlow Lite Micro's shipped magic_wand model, run by TFLM's own interpreter on our windows: accuracy, recall, arena.

    pip install -e '.[bench]'     # brings the tflite-micro package (TFLM's interpreter, reference kernels)
    MAGIC_WAND_DATA=<data.tar.gz or its folder> python benchmarks/magic_wand/tflm_model.py [--model magic_wand.tflite]

The model file is TFLM's `tensorflow/lite/micro/examples/magic_wand/magic_wand.tflite` (in the
tflite-micro history up to the commit that removed the example; 19,616 bytes, SHA-256 below). It
is taken from --model, else $MAGIC_WAND_MODEL, else `magic_wand.tflite` next to the data archive.

What the model is fed: exactly what TensorFlow trained and ran it on. train.py reshapes each
padded window to [128, 3, 1] with no scaling or normalisation, and the firmware's
accelerometer handler writes milli-g (`x * 1000`) into the float32 input tensor, oldest sample
first. So each int16 milli-g window (wand_data.py) goes in as float32 [1, 128, 3, 1], unchanged.
The 4 outputs are softmax scores in wing, ring, slope, negative order.

The arena, two ways, both from the interpreter itself:
  recorded  TFLM's RecordingMicroAllocator report after an inference (`print_allocations`, which
            prints to the C stderr: captured here), its "Arena allocation total".
  smallest  the smallest arena_size (bytes) with which the interpreter allocates and runs the model
            (bisection).
Both are measured by the host build of TFLM in the wheel (x86-64): tensor buffers are the same on a
32-bit MCU, but TFLM's own structures there use 4-byte pointers, so this is an upper bound of the
Cortex-M figure. The example firmware declares a 60 KiB arena.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "examples" / "magic-wand"))

import postprocess  # noqa: E402
import wand_data  # noqa: E402

MODEL_NAME = "magic_wand.tflite"
MODEL_SHA256 = "b85416603fd118a9448a92ce3d02d3cdcf5154c7564fe0e70ea3c468198465a3"
MODEL_ENV = "MAGIC_WAND_MODEL"
DECLARED_ARENA = 60 * 1024          # kTensorArenaSize in the example's main_functions.cc


def find_model(model: str | None, archive: Path) -> Path:
    """The model file (checked by SHA-256): --model, else $MAGIC_WAND_MODEL, else next to the archive."""
    path = Path(model or os.environ.get(MODEL_ENV) or archive.parent / MODEL_NAME).expanduser()
    if not path.is_file():
        raise wand_data.DataError(
            f"{path} does not exist. Fix: give TFLM's magic_wand.tflite with --model or {MODEL_ENV} "
            "(tensorflow/lite/micro/examples/magic_wand/magic_wand.tflite in tflite-micro's history).")
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    if found != MODEL_SHA256:
        raise wand_data.DataError(f"{path} is not TFLM's shipped magic_wand model: SHA-256 {found}, "
                                  f"expected {MODEL_SHA256}")
    return path


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise SystemExit("this benchmark needs TFLM's interpreter: pip install -e '.[bench]' "
                         "(or pip install --pre tflite-micro)") from None
    return runtime


@contextmanager
def _c_stderr(sink):
    """Send the process's file descriptor 2 (where TFLM's C++ writes) into `sink` for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TflmModel:
    """TFLM's interpreter around the model: scores of int16 milli-g windows."""

    def __init__(self, model: bytes, arena_size: int = DECLARED_ARENA):
        self.model = model
        self.interpreter = _runtime().Interpreter.from_bytes(model, arena_size=arena_size)
        details = self.interpreter.get_input_details(0)
        if list(details["shape"]) != [1, wand_data.WINDOW, wand_data.CHANNELS, 1] or details["dtype"] != np.float32:
            raise ValueError(f"unexpected input tensor {details}")

    def scores(self, windows: np.ndarray) -> np.ndarray:
        """(n, 4) float32 softmax scores of (n, 128, 3) windows, fed as float32 milli-g, one inference each."""
        out = np.empty((len(windows), len(wand_data.LABELS)), dtype=np.float32)
        for i, window in enumerate(windows):
            self.interpreter.set_input(window.astype(np.float32).reshape(1, wand_data.WINDOW, wand_data.CHANNELS, 1), 0)
            self.interpreter.invoke()
            out[i] = self.interpreter.get_output(0)[0]
        return out

    def recorded_arena(self) -> dict[str, int]:
        """TFLM's RecordingMicroAllocator figures (bytes) after one inference."""
        self.scores(np.zeros((1, wand_data.WINDOW, wand_data.CHANNELS), dtype=np.int16))
        with tempfile.TemporaryFile(mode="w+") as sink:
            with _c_stderr(sink):
                self.interpreter.print_allocations()
            sink.seek(0)
            text = sink.read()
        found = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
        if "total" not in found:
            raise RuntimeError(f"no arena figure in TFLM's allocation report:\n{text}")
        return {key: int(value) for key, value in found.items()}


def smallest_arena(model: bytes, high: int = DECLARED_ARENA) -> int:
    """The smallest arena_size with which TFLM allocates the tensors and runs one inference."""
    runtime = _runtime()
    window = np.zeros((1, wand_data.WINDOW, wand_data.CHANNELS, 1), dtype=np.float32)

    def runs(size: int) -> bool:
        try:
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=size)
            interpreter.set_input(window, 0)
            interpreter.invoke()
            return True
        except (RuntimeError, ValueError):
            return False

    with open(os.devnull, "w") as sink, _c_stderr(sink):     # failed allocations complain on stderr
        if not runs(high):
            raise RuntimeError(f"the model does not run in {high} bytes")
        low = 0
        while high - low > 1:
            middle = (low + high) // 2
            if runs(middle):
                high = middle
            else:
                low = middle
    return high


def metrics(y_true: np.ndarray, y_pred: np.ndarray, labels=wand_data.LABELS) -> dict:
    """Accuracy, per-class recall and the confusion matrix (rows: truth, columns: prediction, in `labels` order)."""
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(y_true, y_pred):
        confusion[index[t], index[p]] += 1
    recall = {label: confusion[i, i] / confusion[i].sum() if confusion[i].sum() else float("nan")
              for i, label in enumerate(labels)}
    return {"n": int(len(y_true)), "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
            "recall": recall, "confusion": confusion}


def format_metrics(name: str, m: dict, labels=wand_data.LABELS) -> str:
    recall = "  ".join(f"{label} {m['recall'][label]:.3f}" for label in labels)
    lines = [f"{name}: {m['n']} windows, accuracy {m['accuracy']:.4f}; recall {recall}",
             "  confusion (rows truth, columns predicted): " + " ".join(f"{label:>8}" for label in labels)]
    for label, row in zip(labels, m["confusion"]):
        lines.append(f"  {label:>42} " + " ".join(f"{v:>8}" for v in row))
    return "\n".join(lines)


def stream_scores(score_windows, streams: dict[str, wand_data.Stream], step: int = 1):
    """Post-processing over every stream: {person: Score}, scores from score_windows((n,128,3)) -> (n,4)."""
    results = {}
    for person, stream in streams.items():
        ends = postprocess.window_ends(len(stream.samples), step)
        scores = score_windows(postprocess.sliding_windows(stream.samples, ends))
        reports = postprocess.detect(scores, ends)
        results[person] = postprocess.score(reports, stream.gestures, wand_data.LABELS)
    return results


def format_streams(name: str, results: dict) -> str:
    lines = [f"{name}: streamed recordings, TensorFlow's post-processing (avg of 5 >= 0.8, then 25 suppressed)",
             f"  {'person':<10} {'gestures':>8} {'detected':>8} {'missed':>6} {'duplicate':>9} {'wrong':>5} {'spurious':>8}"]
    total = postprocess.Score()
    for person, s in results.items():
        total += s
        lines.append(f"  {person:<10} {s.truth:>8} {s.hits:>8} {s.missed:>6} {s.duplicate:>9} {s.wrong:>5} {s.spurious:>8}")
    lines.append(f"  {'all':<10} {total.truth:>8} {total.hits:>8} {total.missed:>6} {total.duplicate:>9} "
                 f"{total.wrong:>5} {total.spurious:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"data.tar.gz or its folder (default: ${wand_data.ENV_VAR}, else the cache)")
    parser.add_argument("--model", help=f"TFLM's magic_wand.tflite (default: ${MODEL_ENV}, else next to the data)")
    parser.add_argument("--step", type=int, default=1, help="stream: infer every STEP new samples (default 1)")
    args = parser.parse_args(argv)
    try:
        archive = wand_data.locate(args.data)
        model_path = find_model(args.model, archive)
    except wand_data.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model = model_path.read_bytes()
    tflm = TflmModel(model)
    splits = wand_data.load_splits(archive)
    print(f"TFLM's magic_wand.tflite ({len(model):,} B) through TFLM's interpreter (tflite-micro "
          f"{_version()}, reference kernels); input float32 [1,128,3,1] = the int16 milli-g window, unscaled")
    for split in ("valid", "test"):
        data = splits[split]
        predicted = np.asarray(wand_data.LABELS)[tflm.scores(data.X).argmax(axis=1)]
        print(format_metrics(f"{split} ({', '.join(wand_data.SPLITS[split])})", metrics(data.y, predicted)))
    seeds = []
    for seed in range(1, 6):
        test = wand_data.windows([s for s in wand_data.load_segments(archive)
                                  if s.person in wand_data.SPLITS["test"]], seed=seed)
        seeds.append(np.mean(np.asarray(wand_data.LABELS)[tflm.scores(test.X).argmax(axis=1)] == test.y))
    print(f"test accuracy with padding seeds 1..5 instead of 0: {' '.join(f'{a:.4f}' for a in seeds)}")
    print(format_streams(f"TFLM model, inference every {args.step} sample(s)",
                         stream_scores(tflm.scores, wand_data.streams(archive), args.step)))
    recorded = tflm.recorded_arena()
    print(f"arena: {recorded['total']:,} B recorded by TFLM's RecordingMicroAllocator (head {recorded['head']:,} B "
          f"tensors, tail {recorded['tail']:,} B TFLM structures); smallest arena_size that runs: "
          f"{smallest_arena(model):,} B; x86-64 host build (64-bit pointers); the example declares "
          f"{DECLARED_ARENA:,} B")
    return 0


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("tflite-micro")
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())

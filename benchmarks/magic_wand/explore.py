"""Which window features and which classical models clone magic_wand best, within an Uno's means: a seeded exploration.

    MAGIC_WAND_DATA=<data.tar.gz or its folder> python benchmarks/magic_wand/explore.py [--quick]

1. Window features computed by `microml_build.features.WindowFeatures(length, channels, stats,
   segments, magnitude)`, the transformer the clone ships with: the 128-sample window cut into
   `segments` consecutive parts (part k is samples [k*128//S, (k+1)*128//S)), and for each part
   and each channel (x, y, z, optionally the magnitude sqrt(x²+y²+z²)) the statistics asked for.
   Only the DFT band energies, which WindowFeatures does not offer, are a numpy prototype here.
2. A grid of feature sets x segments 1..4 x models of an Uno's size, trained on TensorFlow's train
   people (with our seeded synthetic negatives, wand_data's default), scored on TensorFlow's
   validation people only. Ranked by validation accuracy, then by model size.
3. Finalists, chosen on validation only: a small hyperparameter sweep of the best feature set per
   family, then the test people, once: accuracy, per-class recall, confusion, next to TFLM's
   shipped model on the same windows (if the tflite-micro package and the model are available).
4. TensorFlow's on-device post-processing on streamed recordings, for the finalists, with
   predict_proba scores and with one-hot votes of predict: on the validation people (where a
   choice may be made), then on the test people, once.
5. Each finalist's model (its feature vector in, the feature stage not included) through
   `microml build` for an Uno: flash, RAM, stack and cycles as microml measures them.

Deterministic: fixed seeds everywhere (random_state=0), one process, no timings printed.
"""

from __future__ import annotations

import argparse
import pickle
import re
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from microml_build.features import WindowFeatures

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "examples" / "magic-wand"))

import postprocess  # noqa: E402
import tflm_model  # noqa: E402
import wand_data  # noqa: E402

LABELS = wand_data.LABELS
N_BANDS = 4
UNO_TABLE_BYTES = 16 * 1024        # the issue's flash budget for the whole firmware; the model's tables alone


# --- features --------------------------------------------------------------------------------------

def bounds(length: int, segments: int) -> list[tuple[int, int]]:
    return [(k * length // segments, (k + 1) * length // segments) for k in range(segments)]


def _stat(name: str, x: np.ndarray) -> list[np.ndarray]:
    """The prototype of a statistic WindowFeatures does not offer, of x (n, samples) along axis 1, as (n,) columns."""
    n = x.shape[1]
    if name == "bands":                                 # DFT energy of bins 1..n//2 in N_BANDS equal groups
        power = np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)[:, 1:]) ** 2 / (n * n)
        return [power[:, lo:hi].sum(axis=1) for lo, hi in bounds(power.shape[1], N_BANDS)]
    raise ValueError(name)


def window_features(X: np.ndarray, stats: tuple[str, ...], segments: int, magnitude: bool = False) -> np.ndarray:
    """(n, 128, 3) int16 windows -> (n, features): per segment, per channel, per statistic, in that order.

    WindowFeatures computes every statistic it offers; the DFT bands (not one of them) come from the
    prototype `_stat` and are put in their place, last of each (segment, channel)."""
    n, length, channels = X.shape
    flat = X.reshape(n, -1).astype(np.float64)
    known = tuple(name for name in stats if name != "bands")
    out = WindowFeatures(length=length, channels=channels, stats=list(known), segments=segments,
                         magnitude=magnitude).fit_transform(flat).reshape(n, segments, channels + magnitude, len(known))
    if "bands" not in stats:
        return out.reshape(n, -1)
    if stats[-1] != "bands":
        raise ValueError("the DFT bands come last in a feature set")
    W = X.astype(np.float64)
    if magnitude:
        W = np.concatenate([W, np.sqrt(np.sum(W * W, axis=2, keepdims=True))], axis=2)
    bands = np.stack([np.stack([np.column_stack(_stat("bands", W[:, lo:hi, c])) for c in range(W.shape[2])], axis=1)
                      for lo, hi in bounds(length, segments)], axis=1)      # (n, segments, channels, N_BANDS)
    return np.concatenate([out, bands], axis=3).reshape(n, -1)


ISSUE16 = ("mean", "std", "min", "max", "ptp", "rms", "mean_crossings")


@dataclass(frozen=True)
class FeatureSet:
    name: str
    stats: tuple[str, ...]
    magnitude: bool = False

    def n_features(self, segments: int) -> int:
        per = sum(N_BANDS if s == "bands" else 1 for s in self.stats)
        return segments * (4 if self.magnitude else 3) * per

    def __call__(self, X: np.ndarray, segments: int) -> np.ndarray:
        return window_features(X, self.stats, segments, self.magnitude)


FEATURE_SETS = [
    FeatureSet("mean,std", ("mean", "std")),
    FeatureSet("mean,std,min,max", ("mean", "std", "min", "max")),
    FeatureSet("issue16 (mean,std,min,max,ptp,rms,crossings)", ISSUE16),
    FeatureSet("issue16 + magnitude", ISSUE16, magnitude=True),
    FeatureSet("issue16 + slope,diff_std", ISSUE16 + ("slope", "diff_std")),
    FeatureSet(f"issue16 + {N_BANDS} DFT bands", ISSUE16 + ("bands",)),
    FeatureSet("mean,std,min,max,slope,diff_std", ("mean", "std", "min", "max", "slope", "diff_std")),
    FeatureSet("everything + magnitude", ISSUE16 + ("slope", "diff_std", "bands"), magnitude=True),
]
SEGMENTS = (1, 2, 3, 4)


# --- models and their size ---------------------------------------------------------------------------

def models() -> dict[str, object]:
    """The grid's models, each about an Uno's size (plus one unconstrained forest as a yardstick)."""
    return {
        "RF 20 trees depth 8": RandomForestClassifier(20, max_depth=8, random_state=0),
        "ExtraTrees 20 depth 8": ExtraTreesClassifier(20, max_depth=8, random_state=0),
        "GB 30 rounds depth 3": GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        "SVC rbf C=10": make_pipeline(StandardScaler(), SVC(C=10, gamma="scale", random_state=0)),
        "LinearSVC C=1": make_pipeline(StandardScaler(), LinearSVC(C=1.0, max_iter=20000, random_state=0)),
        "LogReg C=1": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)),
        "MLP 16": make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=3000, random_state=0)),
        "(yardstick) RF 200 unbounded": RandomForestClassifier(200, random_state=0),
    }


def size(model) -> tuple[int, str]:
    """(stored numbers, description) of a fitted model: what its tables hold, scalers not counted
    (they fold into what follows). Trees: a threshold and a feature index per split, per leaf one
    value per class (forests average class fractions) or one value (boosting)."""
    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if hasattr(est, "estimators_"):
        trees = np.ravel(est.estimators_)
        splits = sum(int(np.sum(t.tree_.children_left >= 0)) for t in trees)
        leaves = sum(int(np.sum(t.tree_.children_left < 0)) for t in trees)
        per_leaf = 1 if isinstance(est, GradientBoostingClassifier) else len(LABELS)
        return 2 * splits + per_leaf * leaves, f"{len(trees)} trees, {splits} splits, {leaves} leaves"
    if isinstance(est, SVC):
        n_sv, n_f = est.support_vectors_.shape
        return n_sv * n_f + est.dual_coef_.size + est.intercept_.size, f"{n_sv} SV x {n_f}"
    if isinstance(est, (LinearSVC, LogisticRegression)):
        return est.coef_.size + est.intercept_.size, f"{est.coef_.shape[0]} x {est.coef_.shape[1]} weights"
    if isinstance(est, MLPClassifier):
        n = sum(w.size for w in est.coefs_) + sum(b.size for b in est.intercepts_)
        return n, "-".join(str(w.shape[0]) for w in est.coefs_) + f"-{est.coefs_[-1].shape[1]}"
    raise TypeError(type(est))


def fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clone(model).fit(X, y)


def accuracy(model, X, y) -> float:
    return float(np.mean(model.predict(X) == y))


# --- the exploration ------------------------------------------------------------------------------

@dataclass
class Result:
    features: FeatureSet
    segments: int
    model_name: str
    model: object
    numbers: int
    shape: str
    valid: float


def grid(splits, feature_sets, segments, model_set) -> list[Result]:
    train, valid = splits["train"], splits["valid"]
    results = []
    for fs in feature_sets:
        for s in segments:
            Xt, Xv = fs(train.X, s), fs(valid.X, s)
            for name, model in model_set.items():
                fitted = fit(model, Xt, train.y)
                numbers, shape = size(fitted)
                results.append(Result(fs, s, name, fitted, numbers, shape, accuracy(fitted, Xv, valid.y)))
    return results


def print_grid(results: list[Result], n_valid: int) -> None:
    print(f"\n## Validation accuracy (TensorFlow's validation people: {n_valid} windows; one window = "
          f"{100 / n_valid:.2f} points)\n")
    models_ = list(dict.fromkeys(r.model_name for r in results))
    print("| features | segments | features per window | " + " | ".join(models_) + " |")
    print("|---|---|---|" + "---|" * len(models_))
    rows = dict.fromkeys((r.features, r.segments) for r in results)
    for fs, s in rows:
        cells = {r.model_name: r for r in results if r.features == fs and r.segments == s}
        print(f"| {fs.name} | {s} | {fs.n_features(s)} | "
              + " | ".join(f"{cells[m].valid:.3f}" for m in models_) + " |")
    print("\nModel sizes in stored numbers (median over the grid; trees vary with the features):")
    for m in models_:
        sizes = [r.numbers for r in results if r.model_name == m]
        print(f"- {m}: median {int(np.median(sizes)):,}, range {min(sizes):,}..{max(sizes):,}")


def sweep(splits, fs: FeatureSet, s: int) -> list[Result]:
    """Hyperparameters of each family on one feature set, validation only."""
    candidates = {}
    for trees in (10, 20, 30):
        for depth in (6, 8, 10):
            candidates[f"RF {trees} trees depth {depth}"] = RandomForestClassifier(trees, max_depth=depth, random_state=0)
            candidates[f"ExtraTrees {trees} depth {depth}"] = ExtraTreesClassifier(trees, max_depth=depth, random_state=0)
    for rounds in (20, 30, 50):
        for depth in (2, 3):
            candidates[f"GB {rounds} rounds depth {depth}"] = GradientBoostingClassifier(
                n_estimators=rounds, max_depth=depth, random_state=0)
    for c in (1, 10, 100):
        candidates[f"SVC rbf C={c}"] = make_pipeline(StandardScaler(), SVC(C=c, gamma="scale", random_state=0))
    for c in (0.01, 0.1, 1):
        candidates[f"LinearSVC C={c}"] = make_pipeline(StandardScaler(), LinearSVC(C=c, max_iter=20000, random_state=0))
        candidates[f"LogReg C={c}"] = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    for hidden in ((8,), (16,), (32,), (16, 16)):
        candidates[f"MLP {'-'.join(map(str, hidden))}"] = make_pipeline(
            StandardScaler(), MLPClassifier(hidden, max_iter=3000, random_state=0))
    return grid(splits, [fs], [s], candidates)


def family(name: str) -> str:
    return name.split(" ")[0]


def proba_or_votes(model, X, mode: str) -> np.ndarray:
    """Scores in LABELS order: predict_proba, or one-hot votes of predict."""
    classes = list(model.classes_)
    order = [classes.index(label) for label in LABELS]
    if mode == "proba":
        return model.predict_proba(X)[:, order]
    votes = np.zeros((len(X), len(LABELS)), dtype=np.float32)
    votes[np.arange(len(X)), [LABELS.index(p) for p in model.predict(X)]] = 1
    return votes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"data.tar.gz or its folder (default: ${wand_data.ENV_VAR}, else the cache)")
    parser.add_argument("--model", help="TFLM's magic_wand.tflite, for the comparison (default: next to the data)")
    parser.add_argument("--quick", action="store_true",
                        help="two feature sets, segments 1 and 3, validation only: a smoke run")
    parser.add_argument("--no-measure", dest="measure", action="store_false",
                        help="do not build the finalists with microml build for an Uno (needs avr-gcc, simavr)")
    args = parser.parse_args(argv)
    archive = wand_data.locate(args.data)
    splits = wand_data.load_splits(archive)
    print("# magic_wand: window features x classical models (benchmarks/magic_wand/explore.py)\n")
    for name, split in splits.items():
        counts = ", ".join(f"{label} {int(np.sum(split.y == label))}" for label in LABELS)
        print(f"- {name}: {len(split.y)} windows ({counts}); people {', '.join(wand_data.SPLITS[name])}"
              + (" + our seeded synthetic negative6" if name == "train" else ""))

    feature_sets = FEATURE_SETS[1:3] if args.quick else FEATURE_SETS
    segments = (1, 3) if args.quick else SEGMENTS
    results = grid(splits, feature_sets, segments, models())
    print_grid(results, len(splits["valid"].y))

    # Best feature set and segments per model family (validation; ties: fewer features, then smaller).
    uno = [r for r in results if not r.model_name.startswith("(yardstick)")]
    best = {}
    for r in sorted(uno, key=lambda r: (-r.valid, r.features.n_features(r.segments), r.numbers)):
        best.setdefault(r.model_name, r)
    print("\n## Best features per model (validation)\n")
    print("| model | features | segments | validation |")
    print("|---|---|---|---|")
    for name, r in best.items():
        print(f"| {name} | {r.features.name} | {r.segments} | {r.valid:.3f} |")

    # Sweep hyperparameters on the two best (features, segments) pairs over all Uno-sized models.
    pair_score = {}
    for r in uno:
        pair_score.setdefault((r.features, r.segments), []).append(r.valid)
    pairs = sorted(pair_score, key=lambda p: (-np.mean(pair_score[p]), p[0].n_features(p[1])))[:2]
    swept = []
    for fs, s in pairs:
        swept += sweep(splits, fs, s)
    print("\n## Hyperparameters, on the two feature pairs with the best mean validation accuracy\n")
    print("| features | segments | model | size (numbers) | shape | validation |")
    print("|---|---|---|---|---|---|")
    for r in sorted(swept, key=lambda r: (-r.valid, r.numbers)):
        print(f"| {r.features.name} | {r.segments} | {r.model_name} | {r.numbers:,} | {r.shape} | {r.valid:.3f} |")

    # Finalists: the best of each family from the sweep (validation; ties: smaller) among the models
    # whose tables would fit an Uno's 16 KB budget at 4 bytes a number.
    finalists, too_big = {}, {}
    for r in sorted(swept, key=lambda r: (-r.valid, r.numbers)):
        if 4 * r.numbers <= UNO_TABLE_BYTES:
            finalists.setdefault(family(r.model_name), r)
        else:
            too_big.setdefault(family(r.model_name), r)
    print(f"\nFinalists: the best of each family on validation among models of at most "
          f"{UNO_TABLE_BYTES // 4:,} numbers ({UNO_TABLE_BYTES // 1024} KB at 4 B each).")
    for fam, r in too_big.items():
        if fam not in finalists or r.valid > finalists[fam].valid:
            print(f"- left out as too big: {r.model_name} ({r.shape}, {r.numbers:,} numbers), validation {r.valid:.3f}")

    tflm = None
    try:
        tflm = tflm_model.TflmModel(tflm_model.find_model(args.model, archive).read_bytes())
    except (SystemExit, wand_data.DataError) as exc:
        print(f"\n(TFLM's model not run: {exc})")

    measured = measure_finalists(list(finalists.values()), splits["train"]) if args.measure else {}
    recommend(list(finalists.values()), measured, archive)

    print("\n## Post-processing on the validation people's streamed recordings (choose the scores here)\n")
    report_streams(list(finalists.values()), tflm, wand_data.streams(archive, "valid"))
    if args.quick:
        print("\n--quick: the test people are not touched.")
        return 0

    test = splits["test"]
    print("\n## Finalists on the test people (touched once)\n")
    print("| features | segments | model | size (numbers) | validation | test | " +
          " | ".join(f"recall {label}" for label in LABELS) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(LABELS))
    tested = []
    for r in finalists.values():
        predicted = r.model.predict(r.features(test.X, r.segments))
        m = tflm_model.metrics(test.y, predicted)
        tested.append((r, m))
        print(f"| {r.features.name} | {r.segments} | {r.model_name} | {r.numbers:,} | {r.valid:.3f} | "
              f"{m['accuracy']:.3f} | " + " | ".join(f"{m['recall'][label]:.3f}" for label in LABELS) + " |")
    if tflm is not None:
        figures = {}
        for name in ("valid", "test"):
            split = splits[name]
            figures[name] = tflm_model.metrics(split.y, np.asarray(LABELS)[tflm.scores(split.X).argmax(axis=1)])
        m = figures["test"]
        print(f"| TFLM magic_wand.tflite | | CNN, float32 | 19,616 B file | {figures['valid']['accuracy']:.3f} | "
              f"{m['accuracy']:.3f} | " + " | ".join(f"{m['recall'][label]:.3f}" for label in LABELS) + " |")

    print("\n## Confusion matrices on the test people (rows truth, columns predicted)\n")
    for r, m in tested:
        print(tflm_model.format_metrics(f"{r.model_name}, {r.features.name}, {r.segments} segments", m))
    if tflm is not None:
        print(tflm_model.format_metrics("TFLM magic_wand.tflite", figures["test"]))

    print("\n## Post-processing on the test people's streamed recordings (touched once)\n")
    report_streams([r for r, _ in tested], tflm, wand_data.streams(archive, "test"))
    return 0


def report_streams(results: list[Result], tflm, streams) -> None:
    """TensorFlow's post-processing, inference at every new sample, with predict_proba and with votes."""
    for r in results:
        for mode in ("proba", "votes") if hasattr(r.model, "predict_proba") else ("votes",):
            def scores(windows, r=r, mode=mode):
                return proba_or_votes(r.model, r.features(windows, r.segments), mode)
            print(tflm_model.format_streams(f"{r.model_name}, {r.features.name}, {r.segments} segments, {mode}",
                                            tflm_model.stream_scores(scores, streams)))
    if tflm is not None:
        print(tflm_model.format_streams("TFLM magic_wand.tflite, softmax scores",
                                        tflm_model.stream_scores(tflm.scores, streams)))


MEASURED = re.compile(r"measuring took [^:]*: (.*\(avr, measured\))")


def measure_finalists(results: list[Result], train) -> dict[str, int]:
    """Each finalist's model (features excluded) through `microml build` for an Uno: flash, RAM, stack, cycles.
    Returns the AVR cycles of one inference by model name."""
    print("\n## The finalists' models on an ATmega328P (microml build, board uno; the feature stage not included)\n")
    cycles = {}
    for r in results:
        with tempfile.TemporaryDirectory(prefix="wand-measure-") as tmp:
            work = Path(tmp)
            np.savez(work / "features.npz", X=r.features(train.X, r.segments), y=train.y)
            (work / "model.pkl").write_bytes(pickle.dumps(r.model))
            (work / "train.py").write_text(
                "import pathlib, pickle\n\n\ndef train(X, y):\n"
                "    # the finalist as explore.py fitted it on the same rows\n"
                "    return pickle.loads((pathlib.Path(__file__).parent / 'model.pkl').read_bytes())\n")
            (work / "microml.yaml").write_text(
                "name: wand\ndataset: {path: features.npz}\ntrain: {script: train.py}\n"
                "target: {board: uno}\noutput: include/wand.h\n")
            done = subprocess.run([sys.executable, "-m", "microml_build", "build", "microml.yaml", "-v"],
                                  cwd=work, capture_output=True, text=True)
            found = MEASURED.search(done.stdout + done.stderr)
            if done.returncode != 0 or found is None:
                last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
                print(f"- {r.model_name}, {r.features.name}, {r.segments} segments: not measured ({last[0]})")
            else:
                print(f"- {r.model_name}, {r.features.name}, {r.segments} segments ({r.shape}): {found.group(1)}")
                cycles[r.model_name] = int(re.search(r"(\d+) cycles", found.group(1)).group(1))
    return cycles


CYCLE_BUDGET = 16_000_000 // wand_data.SAMPLE_HZ      # one sample period at 16 MHz: 640,000 cycles


def recommend(finalists: list[Result], cycles: dict[str, int], archive) -> None:
    """The finalist to build first, from validation and Uno cost only (before the test people are seen)."""
    fits = [r for r in finalists if cycles.get(r.model_name, CYCLE_BUDGET) < CYCLE_BUDGET]
    if not fits:
        print("\nNo finalist measured under the cycle budget (run without --no-measure).")
        return
    best = max(fits, key=lambda r: (r.valid, -cycles[r.model_name], -r.numbers))
    print(f"\n## Recommendation (validation, then Uno cost; the model alone under {CYCLE_BUDGET:,} cycles)\n")
    print(f"{best.model_name} on {best.features.name}, {best.segments} segments "
          f"({best.features.n_features(best.segments)} features): validation {best.valid:.3f}, "
          f"model {cycles[best.model_name]:,} AVR cycles.")
    # Does training with our synthetic negatives matter? Validation only.
    plain = wand_data.load_splits(archive, synthetic="none")
    refit = fit(best.model, best.features(plain["train"].X, best.segments), plain["train"].y)
    print(f"Trained without the synthetic negatives: validation "
          f"{accuracy(refit, best.features(plain['valid'].X, best.segments), plain['valid'].y):.3f}.")


if __name__ == "__main__":
    sys.exit(main())

"""Reads the dataset named in microml.yaml: features X (float64), labels y, and their names."""

from __future__ import annotations

import csv
import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microml_build.config import Config
from microml_build.errors import MicroMLError

MAX_DATASET_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray                      # (n_samples, n_features) float64
    y: np.ndarray                      # (n_samples,) int, float or str labels; (n_samples, n_outputs) float
    feature_names: tuple[str, ...]
    label_name: str
    source: str                        # as written in the yaml
    window: tuple[int, int] | None = None       # windows of raw samples: (length, channels); rows are flattened
                                                # interleaved, x[t * channels + c]
    channel_names: tuple[str, ...] | None = None
    groups: np.ndarray | None = None   # CSV recordings: the recording (dataset.window.id) of each window
    lines: np.ndarray | None = None    # CSV: the file line of each row (of each window's first sample)


def load_dataset(config: Config) -> Dataset:
    ds = config.dataset
    if ds.file is None:
        data = _load_sklearn(ds.path.split(":", 1)[1])
    elif ds.file.suffix.lower() == ".npz":
        data = _load_npz(config)
    else:
        data = _load_csv(config)
    _check(data, config)
    return data


def _shown(config: Config) -> str:
    return config.display(config.dataset.file)


def _load_sklearn(name: str) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    if y.ndim != 1:          # several targets (linnerud): a regressor with one output each
        y = y.astype(np.float64)
    names = tuple(str(n) for n in getattr(bunch, "feature_names", [f"x{i}" for i in range(X.shape[1])]))
    target_names = getattr(bunch, "target_names", None)
    if target_names is not None and y.dtype.kind in "iu" and len(target_names) == len(np.unique(y)):
        y = np.asarray(target_names)[y].astype(str)
    return Dataset(X, y, names, "target", f"sklearn:{name}")


def _load_npz(config: Config) -> Dataset:
    shown = _shown(config)
    label = config.dataset.label or "y"
    try:
        archive = np.load(config.dataset.file, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a bad file
        raise MicroMLError(f"cannot read as .npz: {exc}", file=shown,
                           fix="save it with numpy.savez(path, X=features, y=labels)") from None
    with archive:
        for key in ("X", label):
            if key not in archive.files:
                raise MicroMLError(f"array '{key}' missing (has: {', '.join(archive.files) or 'nothing'})",
                                   file=shown, key="dataset.label" if key == label else "dataset.path",
                                   fix="save it with numpy.savez(path, X=features, y=labels)")
        X, y = archive["X"], archive[label]
    window = None
    if X.ndim == 3 and len(X) == len(y) and X.shape[1] >= 1 and X.shape[2] >= 1:   # windows of raw samples
        window = (int(X.shape[1]), int(X.shape[2]))
        X = X.reshape(len(X), -1)             # row-major: x[t * channels + c], as WindowFeatures takes them
    if X.ndim != 2 or y.ndim not in (1, 2) or len(X) != len(y):
        raise MicroMLError(f"X must be 2-D (or 3-D windows: windows x samples x channels) and {label} 1-D (or 2-D, "
                           f"one column per output) of the same length (got {X.shape} and {y.shape})", file=shown,
                           fix="X: (n_samples, n_features) or (n_windows, length, channels), y: (n_samples,) or "
                               "(n_samples, n_outputs)")
    if y.ndim == 2:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise MicroMLError(f"{label} is 2-D, so its columns are regression targets, but it is not numeric",
                               file=shown, fix="store numbers, or one column of classes as a 1-D array") from None
    try:
        X = X.astype(np.float64)
    except (TypeError, ValueError):
        raise MicroMLError("X is not numeric", file=shown, fix="store features as numbers") from None
    names = tuple(f"x{i}" for i in range(X.shape[1]))
    if config.dataset.features is not None:
        raise MicroMLError("feature names only apply to CSV data sets", file=config.file.name,
                           key="dataset.features", fix="remove the key, or select columns before saving the .npz")
    channels = None
    if window is not None:
        channels = tuple(f"ch{c}" for c in range(window[1]))
        names = _window_names(window[0], channels)
    return Dataset(X, _tidy_labels(y) if y.ndim == 1 else y, names, label, config.dataset.path, window, channels)


def _window_names(length: int, channels: tuple[str, ...]) -> tuple[str, ...]:
    """`ax[0]`, `ay[0]`, ..., `az[127]`: the flattened window's values, sample-major."""
    return tuple(f"{c}[{t}]" for t in range(length) for c in channels)


def _load_csv(config: Config) -> Dataset:
    shown = _shown(config)
    path: Path = config.dataset.file
    size = path.stat().st_size
    if size > MAX_DATASET_BYTES:
        raise MicroMLError(f"the dataset is {size / 2**20:.0f} MB; MicroML reads CSV files up to "
                           f"{MAX_DATASET_BYTES // 2**20} MB", file=shown,
                           fix="subsample it (a microcontroller model rarely gains from more rows), or save a .npz")
    if size == 0:
        raise MicroMLError("the file is empty", file=shown, fix="write a header row and one row per sample")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        delimiter = _delimiter(handle)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise MicroMLError("the file is empty", file=shown, fix="write a header row and one row per sample") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise MicroMLError(f"cannot read the header row: {exc}", file=shown, fix="save the file as UTF-8 CSV") from None
        blank = [i + 1 for i, h in enumerate(header) if not h]
        if blank:
            raise MicroMLError(f"column {blank[0]} of the header row has no name" +
                               (" (a comma at the end of the line?)" if blank[-1] == len(header) else ""),
                               file=shown, fix="name every column, or remove the empty one")
        named = config.dataset.label if isinstance(config.dataset.label, tuple) else (config.dataset.label,)
        if all(_is_number(h) for h in header if h) and not all(c in header for c in named):
            raise MicroMLError("the first row is numbers, not column names: no header row", file=shown,
                               fix="add a header row naming each column, e.g. f1,f2,label")
        label = config.dataset.label
        label_columns = list(label) if isinstance(label, tuple) else [label]
        for column in label_columns:
            if column not in header:
                close = difflib.get_close_matches(column, header, n=1)
                raise MicroMLError(f"label column '{column}' not in the header ({', '.join(header[:12])}"
                                   f"{', ...' if len(header) > 12 else ''})", file=config.file.name,
                                   key="dataset.label", fix=f"did you mean '{close[0]}'?" if close else
                                   "set dataset.label to one of the columns")
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise MicroMLError(f"column name(s) appear twice in the header: {', '.join(duplicates)}", file=shown,
                               fix="give every column a distinct name")
        window = config.dataset.window
        if window is not None and window.id not in header:
            close = difflib.get_close_matches(window.id, header, n=1)
            raise MicroMLError(f"recording column '{window.id}' not in the header ({', '.join(header[:12])}"
                               f"{', ...' if len(header) > 12 else ''})", file=config.file.name,
                               key="dataset.window.id", fix=f"did you mean '{close[0]}'?" if close else
                               "set dataset.window.id to the column naming each recording")
        id_columns = [window.id] if window is not None else []
        features = config.dataset.features or tuple(h for h in header if h not in label_columns + id_columns)
        missing = [f for f in features if f not in header]
        if missing:
            raise MicroMLError(f"feature column(s) not in the header: {', '.join(missing)}", file=config.file.name,
                               key="dataset.features", fix="use names from the header row: " + ", ".join(header[:12]))
        both = [c for c in label_columns if c in features]
        if both:
            raise MicroMLError(f"the label '{both[0]}' is also listed as a feature", file=config.file.name,
                               key="dataset.features", fix="remove it from features")
        if not features:
            raise MicroMLError("no feature columns", file=shown, fix="the CSV needs columns besides the label")
        columns = [header.index(f) for f in features]
        allow_missing = config.dataset.missing == "nan"
        label_at = [header.index(c) for c in label_columns]
        id_at = header.index(window.id) if window is not None else None
        rows, labels, label_lines, ids = [], [], [], []
        try:
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise MicroMLError(f"line {line_no}: {len(row)} fields, the header has {len(header)}",
                                       file=shown, fix="every row needs one value per column")
                values = []
                for col in columns:
                    cell = row[col].strip()
                    if allow_missing and cell.lower() in MISSING:
                        values.append(math.nan)
                        continue
                    try:
                        value = float(cell if delimiter == "," else _decimal_point(cell))
                    except ValueError:
                        if not cell:
                            raise MicroMLError(f"line {line_no}, column '{header[col]}': empty (a missing value)",
                                               file=shown, fix="fill in the missing values or drop those rows, or "
                                               "set dataset.missing: nan for a model that handles them (trees, "
                                               "HistGradientBoosting)") from None
                        raise MicroMLError(f"line {line_no}, column '{header[col]}': '{cell[:40]}' is not a number",
                                           file=shown, fix="features must be numeric; encode categories as numbers "
                                           "or drop the column with dataset.features") from None
                    if not math.isfinite(value):
                        raise MicroMLError(f"line {line_no}, column '{header[col]}': {cell} is not a finite number",
                                           file=shown, fix="remove or impute NaN/inf values before training" + (
                                               ", or set dataset.missing: nan for a model that handles missing "
                                               "values (trees, HistGradientBoosting)" if math.isnan(value) else ""))
                    values.append(value)
                rows.append(values)
                labels.append([_decimal_point(row[at].strip()) if delimiter != "," else row[at].strip()
                               for at in label_at])
                label_lines.append(line_no)
                if id_at is not None:
                    ids.append(row[id_at].strip())
        except csv.Error as exc:
            raise MicroMLError(f"malformed CSV near line {reader.line_num}: {exc}", file=shown,
                               fix="check the quoting on that line") from None
        except UnicodeDecodeError as exc:
            raise MicroMLError(f"not UTF-8 text ({exc.reason})", file=shown, fix="save the file as UTF-8") from None
    if not rows:
        raise MicroMLError("the file has a header row but no data rows", file=shown, fix="add one row per sample")
    empty = next((i for i, cells in enumerate(labels) if any(c.lower() in MISSING_LABEL for c in cells)), None)
    if empty is not None:
        cell = next(c for c in labels[empty] if c.lower() in MISSING_LABEL)
        what = "empty label" if not cell else f"missing label ('{cell}')"
        raise MicroMLError(f"{what} on line {label_lines[empty]}", file=shown,
                           fix="every row needs a label: fill it in or drop the row")
    X = np.asarray(rows, dtype=np.float64)
    if len(label_columns) == 1:
        y = _tidy_labels(np.asarray([cells[0] for cells in labels]))
    else:
        y = _regression_targets(labels, label_columns, shown)
    if window is not None:
        return _recordings(config, X, y, tuple(features), ", ".join(label_columns), ids, label_lines)
    return Dataset(X, y, tuple(features), ", ".join(label_columns), config.dataset.path,
                   lines=np.asarray(label_lines))


def _recordings(config: Config, X: np.ndarray, y: np.ndarray, channels: tuple[str, ...], label_name: str,
                ids: list[str], lines: list[int]) -> Dataset:
    """CSV rows (samples) grouped by recording into windows of dataset.window.length samples, flattened."""
    shown = _shown(config)
    window = config.dataset.window
    L, C = window.length, len(channels)
    spans: list[tuple[str, int, int]] = []          # (recording, first row, end row)
    seen: dict[str, int] = {}
    for row, name in enumerate(ids):
        if not name:
            raise MicroMLError(f"line {lines[row]}: the recording column '{window.id}' is empty", file=shown,
                               fix="name the recording of every row")
        if spans and spans[-1][0] == name:
            spans[-1] = (name, spans[-1][1], row + 1)
            continue
        if name in seen:
            raise MicroMLError(f"recording '{name}' continues on line {lines[row]} after other recordings (it started "
                               f"on line {lines[seen[name]]})", file=shown, key="dataset.window.id",
                               fix="keep the rows of each recording together, in time order, or give the second part "
                                   "its own name")
        seen[name] = row
        spans.append((name, row, row + 1))
    windows, labels, groups, first_lines = [], [], [], []
    for name, start, end in spans:
        rows_y = y[start:end]
        differs = np.flatnonzero(np.any((rows_y != rows_y[0]).reshape(end - start, -1), axis=1))
        if len(differs):
            other = start + int(differs[0])
            raise MicroMLError(f"recording '{name}' (lines {lines[start]}-{lines[end - 1]}) changes label on line "
                               f"{lines[other]}: {_shown_label(y[start])} then {_shown_label(y[other])}", file=shown,
                               key="dataset.label", fix="give every row of a recording the same label, or split it "
                                                        "into recordings with their own names")
        for offset, samples in _cut(X[start:end], window):
            windows.append(samples.reshape(-1))
            labels.append(y[start])
            groups.append(name)
            first_lines.append(lines[start + min(offset, end - start - 1)])
    if not windows:
        raise MicroMLError(f"every recording is shorter or longer than {L} samples and the policy drops it",
                           file=config.file.name, key="dataset.window.pad", fix="use pad: last and cut: first "
                                                                                "(the defaults)")
    X_windows = np.asarray(windows, dtype=np.float64).reshape(len(windows), L * C)
    y_windows = np.asarray(labels) if y.ndim == 1 else np.asarray(labels, dtype=np.float64)
    return Dataset(X_windows, y_windows, _window_names(L, channels), label_name, config.dataset.path, (L, C),
                   channels, np.asarray(groups), np.asarray(first_lines))


def _cut(samples: np.ndarray, window) -> list[tuple[int, np.ndarray]]:
    """(first sample's offset, window) pairs of one recording (samples x channels), by the yaml's policies."""
    L, n = window.length, len(samples)
    if n < L:
        if window.pad == "drop":
            return []
        fill = samples[-1] if window.pad == "last" else np.zeros(samples.shape[1])
        return [(0, np.vstack([samples, np.tile(fill, (L - n, 1))]))]
    if window.step is not None:
        return [(start, samples[start:start + L]) for start in range(0, n - L + 1, window.step)]
    if n == L:
        return [(0, samples)]
    start = {"first": 0, "last": n - L, "middle": (n - L) // 2, "drop": None}[window.cut]
    return [] if start is None else [(start, samples[start:start + L])]


def _shown_label(label) -> str:
    return repr(label.tolist() if isinstance(label, np.ndarray) else label.item() if hasattr(label, "item") else label)


def _regression_targets(labels: list[list[str]], columns: list[str], shown: str) -> np.ndarray:
    """Several label columns: one regression output each, so every cell must be a number."""
    for line, cells in enumerate(labels, start=2):
        for column, cell in zip(columns, cells):
            if not _is_number(cell):
                raise MicroMLError(f"line {line}, label column '{column}': '{cell[:40]}' is not a number", file=shown,
                                   fix="several label columns are the outputs of a regressor and must be numeric; "
                                   "for classes use one label column")
    return np.asarray(labels, dtype=np.float64)


# What a spreadsheet or pandas writes for a missing value (read as NaN with dataset.missing: nan).
MISSING = ("", "nan", "na", "n/a", "null", "none")
# A label cell that is missing rather than a class of its own ("none" may well be a class).
MISSING_LABEL = ("", "nan", "na", "n/a")


def _delimiter(handle) -> str:
    """The separator that splits the header row into the most fields: `,`, or `;` or a tab (spreadsheet exports in
    many locales use `;`)."""
    first = handle.readline()
    handle.seek(0)
    if handle.name.lower().endswith(".tsv"):
        return "\t"

    def fields(delimiter: str) -> int:      # counted as the csv module splits, so quoted names may hold any
        try:
            return len(next(csv.reader([first], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            return 0

    return max((",", ";", "\t"), key=fields)     # the most fields; a tie keeps the first, the comma


def _decimal_point(cell: str) -> str:
    """`1,5` as `1.5`: with `;` or tab between fields, a comma inside a number is a decimal comma."""
    return cell.replace(",", ".", 1) if re.fullmatch(r"[-+]?\d*,\d+([eE][-+]?\d+)?", cell) else cell


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _tidy_labels(y: np.ndarray) -> np.ndarray:
    """Text labels that are all integers become ints, all numbers floats; others stay strings."""
    if y.dtype.kind in "iub":
        return y.astype(np.int64) if y.dtype.kind != "b" else y
    if y.dtype.kind == "f":
        return y.astype(np.int64) if np.all(np.isfinite(y)) and np.all(y == np.round(y)) else y
    text = y.astype(str)
    try:
        as_int = np.array([int(v) for v in text], dtype=np.int64)
        return as_int
    except ValueError:
        pass
    try:
        return np.array([float(v) for v in text], dtype=np.float64)
    except ValueError:
        return text


def _check(data: Dataset, config: Config) -> None:
    shown = _shown(config) if config.dataset.file else config.dataset.path
    bad = np.isinf(data.X) if config.dataset.missing == "nan" else ~np.isfinite(data.X)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise MicroMLError(f"row {row}, feature '{data.feature_names[col]}' is {data.X[row, col]}", file=shown,
                           fix="remove or impute NaN/inf values before training")
    magnitude = np.nan_to_num(np.abs(data.X))
    if magnitude.max(initial=0.0) > np.finfo(np.float32).max:
        row, col = map(int, np.unravel_index(np.argmax(magnitude), data.X.shape))
        raise MicroMLError(f"row {row}, feature '{data.feature_names[col]}' = {data.X[row, col]:g} overflows float32",
                           file=shown, fix="rescale that feature: the C code computes in 32-bit float")
    if data.y.dtype.kind == "f" and not np.all(np.isfinite(data.y)):
        raise MicroMLError("the labels contain NaN or inf", file=shown, fix="remove those rows")
    if data.y.ndim == 2:
        flat = [j for j in range(data.y.shape[1]) if len(np.unique(data.y[:, j])) < 2]
        if flat:
            raise MicroMLError(f"output {flat[0]} has the same value in every row: nothing to learn", file=shown,
                               fix="drop that label column")
        return
    if len(np.unique(data.y)) < 2:
        raise MicroMLError(f"every row has the same label ({data.y[0]!s}): nothing to learn", file=shown,
                           fix="the dataset needs at least two classes (or two distinct target values)")

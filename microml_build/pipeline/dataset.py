"""Reads the dataset named in microml.yaml: features X (float64), labels y, and their names."""

from __future__ import annotations

import csv
import difflib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microml_build.config import Config
from microml_build.errors import MicroMLError
from microml_build.ir.features import channel_labels
from microml_build.pipeline import numbers

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
    sample_lines: np.ndarray | None = None  # CSV recordings: (windows, length) the file line of each sample
                                            # (a padded one: its recording's last line)


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
        channels = channel_labels(window[1], False)
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
    header, rows = _read_rows(path, shown)
    label = config.dataset.label
    label_columns = list(label) if isinstance(label, tuple) else [label]
    _check_header_row(header, rows, label_columns, shown)
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
    if not rows:
        raise MicroMLError("the file has a header row but no data rows", file=shown, fix="add one row per sample")
    lines = [line_no for line_no, _ in rows]
    by_column = dict(zip(header, zip(*(row for _, row in rows))))
    numeric_labels = [c for c in label_columns if numbers.numeric_column(by_column[c], MISSING)]
    mark = _decimal_mark(header, by_column, lines, [*features, *numeric_labels], shown)
    allow_missing = config.dataset.missing == "nan"
    columns, bad = [], []
    for j, name in enumerate(features):
        try:
            columns.append(_feature_column(by_column[name], lines, mark, allow_missing, name, shown))
        except _BadCell as exc:
            bad.append((exc.row, j, exc.error))
    if bad:
        raise min(bad, key=lambda found: found[:2])[2]     # the first bad cell in reading order
    X = np.column_stack(columns)
    labels = [list(row) for row in zip(*(
        [_label_text(cell, mark) for cell in by_column[c]] if c in numeric_labels else by_column[c]
        for c in label_columns))]
    empty = next((i for i, cells in enumerate(labels) if any(c.lower() in MISSING_LABEL for c in cells)), None)
    if empty is not None:
        cell = next(c for c in labels[empty] if c.lower() in MISSING_LABEL)
        what = "empty label" if not cell else f"missing label ('{cell}')"
        raise MicroMLError(f"{what} on line {lines[empty]}", file=shown,
                           fix="every row needs a label: fill it in or drop the row")
    if len(label_columns) == 1:
        y = _tidy_labels(np.asarray([cells[0] for cells in labels]))
    else:
        y = _regression_targets(labels, label_columns, shown)
    if window is not None:
        ids = [cell.strip() for cell in by_column[window.id]]
        return _recordings(config, X, y, tuple(features), ", ".join(label_columns), ids, lines)
    return Dataset(X, y, tuple(features), ", ".join(label_columns), config.dataset.path, lines=np.asarray(lines))


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
    windows, labels, groups, first_lines, sample_lines = [], [], [], [], []
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
            sample_lines.append([lines[min(start + offset + t, end - 1)] for t in range(L)])
    if not windows:
        raise MicroMLError(f"every recording is shorter or longer than {L} samples and the policy drops it",
                           file=config.file.name, key="dataset.window.pad", fix="use pad: last and cut: first "
                                                                                "(the defaults)")
    X_windows = np.asarray(windows, dtype=np.float64).reshape(len(windows), L * C)
    y_windows = np.asarray(labels) if y.ndim == 1 else np.asarray(labels, dtype=np.float64)
    return Dataset(X_windows, y_windows, _window_names(L, channels), label_name, config.dataset.path, (L, C),
                   channels, np.asarray(groups), np.asarray(first_lines), np.asarray(sample_lines))


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




def _read_rows(path: Path, shown: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's names and every non-blank row's stripped cells with its line number."""
    with _utf8(path, shown) as handle:
        delimiter = _delimiter(handle)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise MicroMLError("the file is empty", file=shown, fix="write a header row and one row per sample") from None
        except csv.Error as exc:
            raise MicroMLError(f"cannot read the header row: {exc}", file=shown, fix="check the quoting on that line") from None
        blank = [i + 1 for i, h in enumerate(header) if not h]
        if blank:
            raise MicroMLError(f"column {blank[0]} of the header row has no name" +
                               (" (a comma at the end of the line?)" if blank[-1] == len(header) else ""),
                               file=shown, fix="name every column, or remove the empty one")
        rows = []
        try:
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise MicroMLError(f"line {line_no}: {len(row)} fields, the header has {len(header)}",
                                       file=shown, fix="every row needs one value per column")
                rows.append((line_no, [cell.strip() for cell in row]))
        except csv.Error as exc:
            raise MicroMLError(f"malformed CSV near line {reader.line_num}: {exc}", file=shown,
                               fix="check the quoting on that line") from None
    return header, rows


def _utf8(path: Path, shown: str) -> io.StringIO:
    """The file's text (a UTF-8 BOM dropped); a byte that is not UTF-8 is refused with its line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise MicroMLError(f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}: {exc.reason}; a Latin-1 or "
                           "Windows-1252 export?)", file=shown,
                           fix="save the file as UTF-8 (a spreadsheet's \"CSV UTF-8\"), or correct that character") from None
    handle = io.StringIO(text, newline="")
    handle.name = path.name
    return handle


def _check_header_row(header: list[str], rows, label_columns: list[str], shown: str) -> None:
    """Refuse a first row that is data: numbers where names go, or a 'label name' that is one of its own values.

    Columns named by numbers (wavelengths `410,435,...`) stay a header when the label is one of them.
    """
    named_by_numbers = [h for h in header if numbers.is_number(h)]
    if not named_by_numbers:
        return
    absent = [c for c in label_columns if c not in header]
    data_like = bool(absent) and 2 * len(named_by_numbers) >= len(header)
    if not data_like and not absent and all(numbers.is_number(h) for h in header if h not in label_columns):
        for label in label_columns:
            at = header.index(label)
            if not numbers.is_number(label) and any(row[at] == label for _, row in rows):
                data_like = True
    if data_like:
        shape = ",".join("f%d" % (i + 1) if numbers.is_number(h) else "label" for i, h in enumerate(header))
        raise MicroMLError(f"the first row holds data ({', '.join(header[:8])}{', ...' if len(header) > 8 else ''}), "
                           "not column names: no header row", file=shown,
                           fix=f"add a header row naming each column (e.g. {shape[:80]}), and set dataset.label "
                           "to the label column's name")


def _decimal_mark(header: list[str], cells: dict, lines: list[int], used: list[str], shown: str) -> str:
    """The file's decimal mark; refuses a used column that mixes marks or goes against the file's.

    Only a column with a comma or two points in a cell can show a decimal comma, so only those are
    examined cell by cell, and the used columns too once the file turns out to write decimal commas.
    """
    found = {name: numbers.evidence_of(cells[name], lines, MISSING) for name in header
             if any("," in cell or cell.count(".") > 1 for cell in cells[name])}
    rule = numbers.convention(found)
    if rule.mark == ",":
        found.update({name: numbers.evidence_of(cells[name], lines, MISSING) for name in used if name not in found})
    for name in used:
        first = found[name].first if name in found else {}
        if "." in first and "," in first:
            (l1, c1), (l2, c2) = sorted(first.values())
            raise MicroMLError(f"column '{name}' mixes decimal commas and decimal points: '{c1}' on line {l1}, "
                               f"'{c2}' on line {l2}", file=shown,
                               fix="write every number of a column the same way: export the file again with one "
                               "number format (the spreadsheet's locale), or correct those cells")
    if rule.mark == ",":
        clashes = sorted((found[name].first["."][0], name) for name in used if "." in found[name].first)
        if clashes:
            line, name = clashes[0]
            cell = found[name].first["."][1]
            raise MicroMLError(f"line {line}, column '{name}': '{cell}' has a decimal point, but this file writes "
                               f"decimal commas ({rule.witness()}), where a '.' can only separate groups of three "
                               "digits", file=shown, fix="write the number with a decimal comma, or export the "
                               "whole file again with one number format")
    return rule.mark


def _feature_column(cells, lines: list[int], mark: str, allow_missing: bool, column: str, shown: str) -> np.ndarray:
    """A feature column as floats. `float()` reads a cell directly where that is provably its reading under the
    file's mark (no comma, no underscore, and under decimal commas no point either); the rest go cell by cell."""
    values = np.empty(len(cells), dtype=np.float64)
    point = mark == "."
    for i, cell in enumerate(cells):
        if "," not in cell and "_" not in cell and (point or "." not in cell):
            try:
                value = float(cell)
            except ValueError:
                pass
            else:
                if math.isfinite(value):
                    values[i] = value
                    continue
        try:
            values[i] = _feature_value(cell, mark, allow_missing, lines[i], column, shown)
        except MicroMLError as exc:
            raise _BadCell(i, exc) from None
    return values


class _BadCell(Exception):
    """The first cell of a column that cannot be read: its row, and the error to report if it comes first."""

    def __init__(self, row: int, error: MicroMLError):
        super().__init__(str(error))
        self.row, self.error = row, error


MISSING_FIX = ("fill in the missing values or drop those rows, or set dataset.missing: nan for a model that handles "
               "them (trees, HistGradientBoosting)")


def _feature_value(cell: str, mark: str, allow_missing: bool, line_no: int, column: str, shown: str) -> float:
    """One feature cell as a float under the file's decimal mark, or an error naming its line and column."""
    if cell.lower() in MISSING:
        if allow_missing:
            return math.nan
        where = f"line {line_no}, column '{column}'"
        if not cell:
            raise MicroMLError(f"{where}: empty (a missing value)", file=shown, fix=MISSING_FIX)
        if cell.lower() == "nan":
            raise MicroMLError(f"{where}: {cell} is not a finite number", file=shown, fix=MISSING_FIX)
        raise MicroMLError(f"{where}: '{cell}' is a missing value", file=shown, fix=MISSING_FIX)
    text = numbers.readings(cell).get(mark)
    if text is None:
        where = f"line {line_no}, column '{column}'"
        if numbers.is_non_finite(cell):
            raise MicroMLError(f"{where}: {cell} is not a finite number", file=shown,
                               fix="remove or impute NaN/inf values before training")
        if numbers.is_percentage(cell):
            found = numbers.readings(cell[:-1].rstrip())
            number = float(found.get(mark) or next(iter(found.values())))
            raise MicroMLError(f"{where}: '{cell[:40]}' is a percentage", file=shown,
                               fix=f"write the number without the % sign, as a fraction ({number / 100:g}) or in "
                               f"percent units ({number:g}): MicroML does not guess which the model should see")
        if any(c.isdigit() for c in cell) and all(c.isdigit() or c in ".,-+" + numbers.GROUPING for c in cell):
            raise MicroMLError(f"{where}: '{cell[:40]}' is not a number", file=shown,
                               fix="a number has one decimal mark and may group its digits in threes (1.453,5 or "
                               "1,453.5 or 1 453,5); correct the cell, or drop the column with dataset.features")
        raise MicroMLError(f"{where}: '{cell[:40]}' is not a number", file=shown,
                           fix="features must be numeric; encode categories as numbers or drop the column with "
                           "dataset.features")
    value = float(text)
    if not math.isfinite(value):
        raise MicroMLError(f"line {line_no}, column '{column}': {cell} is not a finite number", file=shown,
                           fix="remove or impute NaN/inf values before training")
    return value


def _label_text(cell: str, mark: str) -> str:
    """A numeric label cell as plain number text (`1.250,5` -> `1250.5`, `2.000` -> `2000`); others unchanged."""
    text = numbers.readings(cell).get(mark)
    if text is None:
        return cell
    return text[:-1] if text.endswith(".") else text


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
    many locales use `;`). A tie (a file without a header row: `5,1;3,5;x`) goes to the one whose fields are
    numbers more often, then to the comma."""
    first = handle.readline()
    handle.seek(0)
    if handle.name.lower().endswith(".tsv"):
        return "\t"

    def fields(delimiter: str) -> list[str]:      # split as the csv module splits, so quoted names may hold any
        try:
            return next(csv.reader([first], delimiter=delimiter))
        except (csv.Error, StopIteration):
            return []

    def rank(delimiter: str) -> tuple[int, int]:
        cells = fields(delimiter)
        return len(cells), sum(numbers.is_number(cell.strip()) for cell in cells)

    return max((",", ";", "\t"), key=rank)     # max keeps the first of equals: the comma


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
        whole = np.all(np.isfinite(y)) and np.all(y == np.round(y)) and np.abs(y).max(initial=0) < 2.0 ** 53
        return y.astype(np.int64) if whole else y      # past 2**53 (and int64's range) they stay floats
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


def where(data: Dataset, row: int, col: int) -> str:
    """Where X[row, col] came from, for errors: the CSV's line and column (and the recording and window of a grouped
    CSV), else the row and feature (an .npz, a scikit-learn dataset)."""
    if data.window is not None and data.sample_lines is not None and data.channel_names:
        channels = data.window[1]
        text = f"line {int(data.sample_lines[row, col // channels])}, column '{data.channel_names[col % channels]}'"
        if data.groups is not None and data.lines is not None:
            text += f" (recording '{data.groups[row]}', sample {col // channels} of the window from line " \
                    f"{int(data.lines[row])})"
        return text
    if data.window is None and data.lines is not None:
        return f"line {int(data.lines[row])}, column '{data.feature_names[col]}'"
    return f"row {row}, feature '{data.feature_names[col]}'"


def _check(data: Dataset, config: Config) -> None:
    shown = _shown(config) if config.dataset.file else config.dataset.path
    bad = np.isinf(data.X) if config.dataset.missing == "nan" else ~np.isfinite(data.X)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise MicroMLError(f"{where(data, row, col)} is {data.X[row, col]}", file=shown,
                           fix="remove or impute NaN/inf values before training")
    magnitude = np.nan_to_num(np.abs(data.X))
    if magnitude.max(initial=0.0) > np.finfo(np.float32).max:
        row, col = map(int, np.unravel_index(np.argmax(magnitude), data.X.shape))
        raise MicroMLError(f"{where(data, row, col)} = {data.X[row, col]:g} overflows float32",
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

"""Loads and validates `microml.yaml` into frozen dataclasses.

The schema below is the single source of truth: validation, defaults and the
generated yaml reference (`microml_build.commands.docs`) all read it, so they cannot drift.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import yaml

from microml_build.cnames import check_c_identifier
from microml_build.errors import MicroMLError

REQUIRED = object()

SKLEARN_DATASETS = ("breast_cancer", "diabetes", "digits", "iris", "linnerud", "wine")
MCUS = ("avr", "arm", "esp32", "host")
PRECISIONS = ("float", "int16-vectors", "int8-vectors", "fixed16", "fixed8", "auto")
INPUTS = ("float", "int16")
OPTIMIZE = ("balanced", "speed", "size")
PAD_POLICIES = ("last", "zero", "drop")
CUT_POLICIES = ("first", "last", "middle", "drop")
MAX_WINDOW = 32767

# Supported estimators by class name -> the import path users write. A copy of what
# `microml_build.lower.public_paths()` derives from the lowering registry, kept here so that reading a
# yaml (`microml deps`, run by the build hooks at configure time) never imports scikit-learn or the
# lowerings; tests/core/test_config.py checks that the two are equal.
ESTIMATOR_PATHS = {
    "ARDRegression": "sklearn.linear_model.ARDRegression",
    "BayesianRidge": "sklearn.linear_model.BayesianRidge",
    "BernoulliNB": "sklearn.naive_bayes.BernoulliNB",
    "CalibratedClassifierCV": "sklearn.calibration.CalibratedClassifierCV",
    "DecisionTreeClassifier": "sklearn.tree.DecisionTreeClassifier",
    "DecisionTreeRegressor": "sklearn.tree.DecisionTreeRegressor",
    "ElasticNet": "sklearn.linear_model.ElasticNet",
    "ElasticNetCV": "sklearn.linear_model.ElasticNetCV",
    "ExtraTreesClassifier": "sklearn.ensemble.ExtraTreesClassifier",
    "ExtraTreesRegressor": "sklearn.ensemble.ExtraTreesRegressor",
    "GaussianNB": "sklearn.naive_bayes.GaussianNB",
    "GradientBoostingClassifier": "sklearn.ensemble.GradientBoostingClassifier",
    "GradientBoostingRegressor": "sklearn.ensemble.GradientBoostingRegressor",
    "GridSearchCV": "sklearn.model_selection.GridSearchCV",
    "HalvingGridSearchCV": "sklearn.model_selection.HalvingGridSearchCV",
    "HalvingRandomSearchCV": "sklearn.model_selection.HalvingRandomSearchCV",
    "HistGradientBoostingClassifier": "sklearn.ensemble.HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor": "sklearn.ensemble.HistGradientBoostingRegressor",
    "HuberRegressor": "sklearn.linear_model.HuberRegressor",
    "Lars": "sklearn.linear_model.Lars",
    "Lasso": "sklearn.linear_model.Lasso",
    "LassoCV": "sklearn.linear_model.LassoCV",
    "LassoLars": "sklearn.linear_model.LassoLars",
    "LinearRegression": "sklearn.linear_model.LinearRegression",
    "LinearSVC": "sklearn.svm.LinearSVC",
    "LinearSVR": "sklearn.svm.LinearSVR",
    "LogisticRegression": "sklearn.linear_model.LogisticRegression",
    "LogisticRegressionCV": "sklearn.linear_model.LogisticRegressionCV",
    "MLPClassifier": "sklearn.neural_network.MLPClassifier",
    "MLPRegressor": "sklearn.neural_network.MLPRegressor",
    "MultiTaskElasticNet": "sklearn.linear_model.MultiTaskElasticNet",
    "MultiTaskElasticNetCV": "sklearn.linear_model.MultiTaskElasticNetCV",
    "MultiTaskLasso": "sklearn.linear_model.MultiTaskLasso",
    "MultiTaskLassoCV": "sklearn.linear_model.MultiTaskLassoCV",
    "MultinomialNB": "sklearn.naive_bayes.MultinomialNB",
    "NuSVC": "sklearn.svm.NuSVC",
    "NuSVR": "sklearn.svm.NuSVR",
    "OneVsRestClassifier": "sklearn.multiclass.OneVsRestClassifier",
    "OrthogonalMatchingPursuit": "sklearn.linear_model.OrthogonalMatchingPursuit",
    "PassiveAggressiveClassifier": "sklearn.linear_model.PassiveAggressiveClassifier",
    "PassiveAggressiveRegressor": "sklearn.linear_model.PassiveAggressiveRegressor",
    "Perceptron": "sklearn.linear_model.Perceptron",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "RandomForestClassifier": "sklearn.ensemble.RandomForestClassifier",
    "RandomForestRegressor": "sklearn.ensemble.RandomForestRegressor",
    "RandomizedSearchCV": "sklearn.model_selection.RandomizedSearchCV",
    "Ridge": "sklearn.linear_model.Ridge",
    "RidgeCV": "sklearn.linear_model.RidgeCV",
    "RidgeClassifier": "sklearn.linear_model.RidgeClassifier",
    "RidgeClassifierCV": "sklearn.linear_model.RidgeClassifierCV",
    "SGDClassifier": "sklearn.linear_model.SGDClassifier",
    "SGDRegressor": "sklearn.linear_model.SGDRegressor",
    "SVC": "sklearn.svm.SVC",
    "SVR": "sklearn.svm.SVR",
    "TransformedTargetRegressor": "sklearn.compose.TransformedTargetRegressor",
    "VotingClassifier": "sklearn.ensemble.VotingClassifier",
    "VotingRegressor": "sklearn.ensemble.VotingRegressor",
}


@dataclass(frozen=True)
class Board:
    """A board's MCU family and its usable memory, for the budget check."""

    mcu: str
    flash: int
    ram: int
    description: str


BOARDS = {
    "uno": Board("avr", 32256, 2048, "Arduino Uno (ATmega328P, 32 KB flash minus 0.5 KB bootloader)"),
    "nano": Board("avr", 30720, 2048, "Arduino Nano (ATmega328P, old 2 KB bootloader)"),
    "mega": Board("avr", 253952, 8192, "Arduino Mega 2560 (ATmega2560)"),
    "nano33ble": Board("arm", 983040, 262144, "Arduino Nano 33 BLE (nRF52840, Cortex-M4F)"),
    "pico": Board("arm", 2097152, 270336, "Raspberry Pi Pico (RP2040, Cortex-M0+)"),
    "esp32": Board("esp32", 1310720, 327680, "ESP32 dev board (default app partition)"),
}


@dataclass(frozen=True)
class Key:
    """One yaml key: where it lives, what it takes, its default and what it means."""

    path: str
    types: tuple
    default: Any
    doc: str
    choices: tuple = ()
    example: str = ""


def _k(path, types, default, doc, choices=(), example=""):
    return Key(path, types if isinstance(types, tuple) else (types,), default, doc, choices, example)


SCHEMA: tuple[Key, ...] = (
    _k("name", str, REQUIRED, "C prefix of everything the header defines: `<name>_predict()`, "
       "`<NAME>_N_FEATURES`. A C identifier that is not a C or C++ keyword.", example="cancer"),
    _k("dataset.path", str, REQUIRED, "CSV file with a header row (comma-, `;`- or tab-separated, as spreadsheets "
       "export; numbers with a decimal point or a decimal comma and thousands separators in groups of three, the "
       "decimal mark being the file's: a file that shows a decimal comma anywhere reads `1.453` as 1453, one that "
       "never does as 1.453, and a column that mixes them is refused), `.npz` file with arrays `X` and `y`, "
       "or `sklearn:<loader>` for a scikit-learn built-in (" + ", ".join(SKLEARN_DATASETS) + ").",
       example="data/cancer.csv"),
    _k("dataset.label", (str, list), None, "CSV: the label column (required for CSV), or a list of numeric "
       "columns for a regressor with several outputs (`[speed, angle]`). `.npz`: the label array (default `y`; "
       "2-D for several outputs). Ignored for `sklearn:` data sets.", example="diagnosis"),
    _k("dataset.features", list, None, "Feature columns, in the order the C function takes them. "
       "Default: every column but the label, in file order."),
    _k("dataset.missing", str, "error", "Empty feature cells (and `nan`, `NA`, `n/a`, `null`, `none`, in any case) "
       "in a CSV: `error` stops the "
       "build at the first one; `nan` keeps them as NaN, for models that handle missing values (trees, forests "
       "and HistGradientBoosting send them where they learned to; the C takes NaN the same way).",
       choices=("error", "nan")),
    _k("dataset.window.id", str, None, "CSV recordings of raw samples: the column naming the recording (take) each "
       "row belongs to. Rows are samples in time order, the feature columns are the channels; each recording "
       "becomes a window of `dataset.window.length` samples, flattened interleaved (`x[t * channels + c]`, what "
       "`WindowFeatures` takes). Its label must be the same on every row.", example="take"),
    _k("dataset.window.length", int, None, "Samples per window (1 .. 32767); required with `dataset.window.id`.",
       example="128"),
    _k("dataset.window.pad", str, "last", "A recording shorter than the window: `last` repeats its last sample, "
       "`zero` pads with zeros, `drop` leaves the recording out.", choices=PAD_POLICIES),
    _k("dataset.window.cut", str, "first", "A recording longer than the window (without `step`): `first` keeps its "
       "first samples, `last` its last, `middle` the middle ones, `drop` leaves it out.", choices=CUT_POLICIES),
    _k("dataset.window.step", int, None, "Slide the window along each recording: one window every `step` samples, "
       "as many as fit (a recording shorter than the window gives one, padded). Default: one window per recording. "
       "Windows of one recording stay on one side of the train/test split.", example="32"),
    _k("train.script", str, None, "Python file defining `train(X, y)` that returns a fitted scikit-learn "
       "estimator. Give either this or `train.estimator`.", example="train.py"),
    _k("train.estimator", str, None, "Class to fit inline: a supported estimator's name (`SVC`, "
       "`RandomForestClassifier`), or a dotted path (`sklearn.svm.SVC`; or a class of your own, imported with "
       "the yaml's folder on the path, whose fit() returns a supported estimator).",
       example="sklearn.svm.SVC"),
    _k("train.params", dict, {}, "Constructor parameters for `train.estimator`. A meta-estimator's "
       "sub-estimators are named: `estimator: SVC` or `estimator: {SVC: {kernel: linear}}` (also `regressor:`, "
       "`transformer:`), `estimators: [RandomForestClassifier, ExtraTreesClassifier]` for voting.",
       example="{kernel: rbf, C: 10}"),
    _k("train.timeout", (int, float), 600, "Seconds training may take before the build fails."),
    _k("train.refit", bool, False, "After scoring the model on the held-out split, train it again on every row "
       "and ship that one (verified on every row like any other). The trade-off: the shipped model learns from "
       "all the data (a small dataset gains most), but it has no held-out score of its own; the header, the build "
       "line and the report give the test score of the first fit and say the shipped model is the refit. "
       "Training runs twice."),
    _k("train.inputs", (list, str), None, "Other files the training reads (a lookup table, a second CSV): paths or "
       "globs relative to the yaml (`*` within a folder, `**` across subfolders). Their bytes count as inputs, "
       "as the script's do: an edit retrains. A pattern that matches no file is an error. Python modules the "
       "training imports from the project are found without this.", example="[data/calibration.json]"),
    _k("verify.test_size", float, 0.25, "Held-out fraction of the data (0 < test_size < 1). The model is "
       "trained on the rest; the header is checked against scikit-learn on both parts."),
    _k("verify.random_state", int, 0, "Seed of the train/test split (0 .. 4294967295)."),
    _k("verify.stratify", bool, True, "Stratify the split by class (classifiers only)."),
    _k("verify.compiler", str, "cc", "Host C compiler used to compile and run the header for verification."),
    _k("verify.min_agreement", float, 0.99, "Lossy precisions only (`int16-vectors`, `int8-vectors`, `fixed16`, "
       "`fixed8`, or what `auto` picks): the fraction of rows (0 < f <= 1) on which the header must agree with "
       "scikit-learn's predict, else the build fails (a classifier row agrees on the class, a regressor row within 1% "
       "of the standard deviation of scikit-learn's predictions). `float` is exact and ignores it."),
    _k("verify.measure", bool, True, "Measure flash, RAM, stack and (AVR, with simavr) cycles with the target's "
       "toolchain when it is installed; the budget check uses the measured figures, else an estimate."),
    _k("target.mcu", str, None, "MCU family: " + ", ".join(MCUS) + ". Default: the board's, else `host`.",
       MCUS, example="avr"),
    _k("target.board", str, None, "Board whose flash/RAM bound the model: " + ", ".join(sorted(BOARDS)) + ".",
       tuple(sorted(BOARDS)), example="uno"),
    _k("target.precision", str, "float", "Numeric type of tables and arithmetic. `float`: float32, verified "
       "equal to scikit-learn. `int16-vectors` / `int8-vectors` (SVC, NuSVC, SVR, NuSVR with rbf, poly or sigmoid "
       "kernels): support vectors stored as int16 / int8 codes with a per-feature offset and step, float "
       "arithmetic: half / a quarter of the support vectors' flash. `fixed16`: integers only, for MCUs without an FPU (linear "
       "models, kernel SVMs, trees, forests, boosting, MLP): int16 inputs, weights, support vectors and leaves, int32 "
       "sums, 4-7x fewer AVR cycles given quantized inputs (`<name>_predict_fixed`; rbf SVMs 5-7x with float "
       "inputs); `fixed8`: int8 weights and leaves, less flash, coarser. These are verified to agree with "
       "scikit-learn on at least `verify.min_agreement` of the rows. `auto` (needs `target.board` or "
       "`target.budget.flash`): the most exact of float, int16-vectors, int8-vectors, fixed16, fixed8 that fits the "
       "budget and meets `verify.min_agreement`; the build line says what it chose and why.",
       PRECISIONS),
    _k("target.input", str, "float", "C type of the model's input: `float`, or `int16` for raw sensor counts "
       "(`<name>_predict(const int16_t *x)`, half the RAM of float; window features then sum exactly in "
       "integers). With `int16` every value in the dataset must be a whole number in -32768..32767.", INPUTS),
    _k("target.optimize", str, "balanced", "Where the C may trade flash for cycles. `balanced`: the smallest form, "
       "unless a faster one saves at least 12% of a prediction (the RBF kernel's exp) or costs a few bytes (forests "
       "compare thresholds in halves). `speed`: the faster form wherever there is one: float linear models (linear-"
       "kernel SVMs too) written out as one expression whose weights the compiler loads as immediates (not those "
       "fused with window features; each weight takes up to ~44 B of AVR flash where the table holds 4 B: the "
       "breast-cancer LogisticRegression on the "
       "ATmega328P takes 7,914 cycles and 1,802 B instead of 8,445 and 858 B), the RBF kernel's faster exp "
       "(breast-cancer SVC: 1,400,729 cycles and 14,376 B instead of 1,539,042 and 13,754 B), a single tree's "
       "thresholds compared in halves. `size`: the smallest form everywhere. Linear and tree decision values are "
       "identical in all three (the two RBF exps differ in the last bit); every form is verified the same way.",
       OPTIMIZE),
    _k("target.budget.flash", (int, str), None, "Flash the model may use, bytes (`32K` works). "
       "Default: the board's flash."),
    _k("target.budget.ram", (int, str), None, "Static RAM + stack the model may use, bytes. "
       "Default: the board's RAM. Checked when the build measures the model (`verify.measure`): static RAM on "
       "every toolchain, the stack on AVR only (painted under simavr; Arm firmware is not run at build time)."),
    _k("output", str, REQUIRED, "Header to write, relative to the yaml; it may lie outside the yaml's folder "
       "(`../firmware/include/model.h`). Must end in `.h` (or `.hpp`).", example="include/cancer_model.h"),
)

_BY_PATH = {key.path: key for key in SCHEMA}
_SECTIONS = sorted({".".join(k.path.split(".")[:i]) for k in SCHEMA for i in range(1, k.path.count(".") + 1)})


@dataclass(frozen=True)
class DatasetConfig:
    path: str            # as written; `sklearn:<name>` or a path relative to the yaml
    file: Path | None    # resolved local file, None for sklearn built-ins
    label: str | tuple[str, ...] | None   # a tuple: several label columns, one output each (regression)
    features: tuple[str, ...] | None
    missing: str = "error"                # "nan": empty cells are missing values
    window: "WindowConfig | None" = None  # CSV recordings grouped into windows


@dataclass(frozen=True)
class WindowConfig:
    """`dataset.window`: CSV rows grouped by recording into windows of `length` samples."""

    id: str
    length: int
    pad: str = "last"
    cut: str = "first"
    step: int | None = None


@dataclass(frozen=True)
class TrainConfig:
    script: Path | None
    estimator: str | None
    params: dict = field(hash=False)
    timeout: float = 600
    refit: bool = False           # ship a model refitted on every row after scoring the split one
    inputs: tuple[Path, ...] = ()     # train.inputs, resolved: every file the patterns match


@dataclass(frozen=True)
class VerifyConfig:
    test_size: float
    random_state: int
    stratify: bool
    compiler: str
    measure: bool = True
    min_agreement: float = 0.99


@dataclass(frozen=True)
class TargetConfig:
    mcu: str
    board: str | None
    precision: str
    flash_budget: int | None
    ram_budget: int | None
    flash_budget_key: str = "target.budget.flash"   # where each limit came from, for the error that cites it
    ram_budget_key: str = "target.budget.ram"
    input: str = "float"                            # C type of the input: float | int16
    optimize: str = "balanced"                      # balanced | speed | size: the plan's flash-for-cycles trade


@dataclass(frozen=True)
class Config:
    """A validated microml.yaml. Paths are absolute; `file` is the yaml itself."""

    file: Path
    name: str
    dataset: DatasetConfig
    train: TrainConfig
    verify: VerifyConfig
    target: TargetConfig
    output: Path

    @property
    def root(self) -> Path:
        return self.file.parent

    def input_files(self) -> list[Path]:
        """The files the yaml names, whose bytes decide the header: yaml, dataset, script, `train.inputs`.
        (`microml_build.pipeline.inputs` adds the project modules the training imports.)"""
        files = [self.file]
        if self.dataset.file is not None:
            files.append(self.dataset.file)
        if self.train.script is not None:
            files.append(self.train.script)
        files += [path for path in self.train.inputs if path not in files]
        return files

    def display(self, path: Path) -> str:
        """A path as the user wrote it: relative to the yaml's folder where possible."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def display_here(self, path: Path) -> str:
        """`path` as a user opens it from the current folder when the yaml lies below it (`fw/include/model.h`
        after `microml build fw/microml.yaml`), else as `display` shows it; the rule errors follow (`located`)."""
        return from_here(self.file, self.display(path))


def from_here(yaml_file: Path, name: str) -> str:
    """`name`, a path relative to the yaml's folder (as `Config.display` and errors name files), as seen from the
    current folder when the yaml lies below it; else `name` as it is (absolute, or a yaml elsewhere)."""
    if Path(name).is_absolute():
        return name
    try:
        here = Path(os.path.relpath(Path(yaml_file).absolute().parent))
    except ValueError:      # another Windows drive
        return name
    return name if here.parts[:1] == ("..",) else (here / name).as_posix()


def located(exc: MicroMLError, config) -> MicroMLError:
    """`exc` with its file named from the current folder (`from_here`) when it is the yaml of `config` or a file
    beside it: `microml build gesture/microml.yaml` then says `gesture/train.py`, not `train.py`."""
    if not exc.file or Path(exc.file).is_absolute():
        return exc
    try:
        yaml_file = config_file(config)
    except MicroMLError:
        return exc
    if (yaml_file.parent / exc.file).exists():      # not a name the user gave relative to elsewhere
        exc.file = from_here(yaml_file, exc.file)
    return exc


def config_file(path: str | Path) -> Path:
    """The microml.yaml `path` names, absolute: the file, or the one in the folder (`microml build fw`, the
    folder `microml init fw` wrote into)."""
    file = Path(path).absolute()
    if file.is_dir():
        if not (file / "microml.yaml").is_file():
            raise MicroMLError("no microml.yaml in this folder", file=str(path),
                               fix=f"run `microml init {path}` to create one, or pass the yaml's path")
        file = file / "microml.yaml"
    return file


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise MicroMLError(
                f"duplicate key '{key}' (line {key_node.start_mark.line + 1}; first at line {seen[key]})",
                fix="keep one of them: YAML would silently use the last")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_size(value, file: str, key: str) -> int:
    """Bytes from `2048`, `"2K"`, `"32KB"` or `"1M"`."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)[bB]?\s*", str(value)) if value is not None else None
    if not match:
        raise MicroMLError(f"'{value}' is not a size", file=file, key=key,
                           fix="write bytes as a number (2048) or with K/M (2K, 1M)")
    scale = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def read_yaml(path: Path) -> dict:
    """The yaml's top-level mapping, or an error naming the line that is wrong."""
    shown = path.name
    if not path.is_file():
        raise MicroMLError("config file not found", file=str(path),
                           fix="run `microml init` to create one, or pass the path: microml build path/to/microml.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MicroMLError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=shown,
                           fix="save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except MicroMLError as exc:
        exc.file = shown
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MicroMLError(f"not valid YAML: {where}{problem}", file=shown,
                           fix="check the indentation and quoting at that line") from None
    if data is None:
        raise MicroMLError("the file is empty", file=shown,
                           fix="add at least name, dataset.path, train and output (see `microml init`)")
    if not isinstance(data, dict):
        raise MicroMLError(f"expected a mapping of keys (name:, dataset:, ...), found a {type(data).__name__}",
                           file=shown, fix="write `key: value` lines at the top level, not a list or scalar")
    return data


def _flatten(data: dict, file: str, prefix: str = "") -> dict[str, Any]:
    """{'dataset': {'path': x}} -> {'dataset.path': x}, rejecting unknown keys with a suggestion."""
    flat: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = f"{prefix}{raw_key}"
        if not isinstance(raw_key, str):
            raise MicroMLError(f"key {raw_key!r} is not a name", file=file, key=key,
                               fix="keys are words such as name, dataset, train, output")
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise MicroMLError(f"expected a mapping of keys, found {_describe(value)}", file=file, key=key,
                                   fix=f"indent its keys under `{raw_key}:`, e.g. "
                                       + ", ".join(k.path for k in SCHEMA if k.path.startswith(key + "."))[:120])
            flat.update(_flatten(value, file, key + "."))
        elif key in _BY_PATH:
            flat[key] = value
        else:
            siblings = [k.path for k in SCHEMA if k.path.startswith(prefix)] + [s for s in _SECTIONS if s.startswith(prefix)]
            close = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "known keys here: " + ", ".join(
                sorted({s[len(prefix):].split(".")[0] for s in siblings}))
            raise MicroMLError(f"unknown key '{raw_key}'", file=file, key=key, fix=hint)
    return flat


def _describe(value) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__) + (
        f" ({value!r})" if isinstance(value, (str, int, float)) and not isinstance(value, bool) else "")


def _typed(key: Key, value, file: str):
    if float in key.types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in key.types:
        ok = False
    else:
        ok = isinstance(value, key.types)
    if not ok:
        wanted = " or ".join({str: "a string", int: "a whole number", float: "a number", bool: "true or false",
                              list: "a list", dict: "a mapping"}[t] for t in key.types)
        raise MicroMLError(f"expected {wanted}, found {_describe(value)}", file=file, key=key.path,
                           fix=f"{key.path}: {key.example}" if key.example else
                           f"use one of: {', '.join(key.choices)}" if key.choices else key.doc)
    if key.choices and value not in key.choices:
        raise MicroMLError(f"unknown value '{value}'", file=file, key=key.path, fix=suggest(key.path, str(value)))
    return value


# What users write for a choice, by meaning: name prefixes (lower case, letters and digits only) -> the value.
# Longer prefixes win, so `nano33` is the Nano 33 BLE and `nano` the ATmega328P Nano.
ALIASES = {
    "target.mcu": {
        **dict.fromkeys(("stm32", "nrf5", "nordic", "samd", "same5", "sam3", "atsam", "rp20", "rp23", "pico",
                         "teensy", "cortex", "arm", "imxrt", "lpc", "kinetis", "efm32", "mbed", "nano33", "portenta",
                         "bluepill", "blackpill", "nucleo", "discovery"), "arm"),
        **dict.fromkeys(("atmega", "attiny", "atxmega", "avr", "arduino", "uno", "nano", "mega", "leonardo",
                         "micro"), "avr"),
        **dict.fromkeys(("esp32", "espressif"), "esp32"),
        **dict.fromkeys(("x86", "x64", "amd64", "i386", "i686", "linux", "windows", "win32", "macos", "darwin",
                         "native", "desktop", "pc", "host", "local"), "host"),
    },
    "target.board": {
        **dict.fromkeys(("uno", "arduinouno", "atmega328p"), "uno"),
        **dict.fromkeys(("nano", "arduinonano", "nanoatmega328"), "nano"),
        **dict.fromkeys(("mega", "arduinomega", "atmega2560", "megaatmega2560"), "mega"),
        **dict.fromkeys(("nano33", "arduinonano33", "nrf52840"), "nano33ble"),
        **dict.fromkeys(("pico", "raspberrypipico", "rpipico", "rp2040"), "pico"),
        **dict.fromkeys(("esp32dev", "esp32devkit", "esp32wroom", "nodemcu32", "esp32"), "esp32"),
    },
    "target.precision": {
        **dict.fromkeys(("float", "fp32", "f32", "single", "double", "fp64", "f64", "real", "fixed32", "int32",
                         "q31"), "float"),
        **dict.fromkeys(("fixed16", "int16", "i16", "q15", "q16", "fixed", "int", "integer", "16"), "fixed16"),
        **dict.fromkeys(("fixed8", "int8", "i8", "q7", "q8", "byte", "8", "fixed4", "int4", "i4", "q3", "nibble", "4"),
                        "fixed8"),
        **dict.fromkeys(("int16vec", "i16vec", "vectors16", "sv16", "packed16", "compressed16", "packed",
                         "compressed"), "int16-vectors"),
        **dict.fromkeys(("int8vec", "i8vec", "vectors8", "sv8", "packed8", "compressed8", "int4vec", "i4vec",
                         "vectors4", "sv4", "packed4", "compressed4"), "int8-vectors"),
        **dict.fromkeys(("auto", "best", "budget", "fit", "smallest"), "auto"),
    },
    "target.optimize": {
        **dict.fromkeys(("speed", "fast", "cycles", "time", "performance", "perf", "latency", "o1", "o2", "o3",
                         "ofast", "throughput"), "speed"),
        **dict.fromkeys(("size", "small", "flash", "space", "memory", "compact", "os", "oz", "minsize"), "size"),
        **dict.fromkeys(("balanced", "balance", "default", "both", "auto", "normal"), "balanced"),
    },
}


def _meaning(path: str, value: str) -> str | None:
    """The choice `value` means, from ALIASES (the longest matching prefix), or None."""
    norm = re.sub(r"[^a-z0-9]", "", value.lower())
    table = ALIASES.get(path, {})
    hits = [prefix for prefix in table if prefix and norm.startswith(prefix)]
    return table[max(hits, key=len)] if hits else None


def suggest(path: str, value: str) -> str:
    """The fix for an unknown value of a key with choices: a suggestion by meaning, else by spelling."""
    choices = _BY_PATH[path].choices
    listed = "choose one of: " + ", ".join(choices)
    meant = _meaning(path, value)
    if meant is None and path == "target.board":
        family = _meaning("target.mcu", value)
        if family is not None:
            article = "an" if family[0] in "aeiou" else "a"
            return (f"'{value}' is not a board MicroML knows; for {article} {family} board set `mcu: {family}` (without "
                    "board) and give its memory as target.budget.flash and target.budget.ram; or " + listed)
    if meant is None:
        close = difflib.get_close_matches(value, choices, n=1)
        meant = close[0] if close else None
    return (f"did you mean '{meant}'? " if meant else "") + listed


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a microml.yaml. Raises MicroMLError naming the key and the fix."""
    file = config_file(path)
    shown = file.name
    flat = _flatten(read_yaml(file), shown)
    values = {}
    for key in SCHEMA:
        if key.path in flat and flat[key.path] is None:
            # `board:` with nothing after it is a value left out, not a choice of the default: say so.
            fix = f"write `{key.path}: {key.example}`" if key.example else f"give it a value ({key.doc})"
            if key.default is not REQUIRED:
                fix += ", or delete the line to use the default" + (
                    "" if key.default is None else f" ({key.default!r})")
            raise MicroMLError("no value after the colon", file=shown, key=key.path, fix=fix)
        if key.path in flat:
            values[key.path] = _typed(key, flat[key.path], shown)
        elif key.default is REQUIRED:
            raise MicroMLError(f"required key '{key.path}' is missing", file=shown, key=key.path,
                               fix=f"add `{key.path}: {key.example}` ({key.doc})")
        else:
            values[key.path] = key.default
    root = file.parent

    def local_file(key_path: str, what: str) -> Path:
        raw = values[key_path]
        resolved = (root / raw).resolve()
        if not resolved.is_file():
            raise MicroMLError(f"{what} '{raw}' does not exist (looked for {resolved})", file=shown, key=key_path,
                               fix="paths are relative to the yaml's folder; check the spelling")
        return resolved

    name = values["name"]
    check_c_identifier(name, file=shown, key="name")

    data_path = values["dataset.path"].strip()
    if data_path.startswith("sklearn:"):
        loader = data_path.split(":", 1)[1]
        if loader not in SKLEARN_DATASETS:
            close = difflib.get_close_matches(loader, SKLEARN_DATASETS, n=1)
            raise MicroMLError(f"unknown scikit-learn data set '{loader}'", file=shown, key="dataset.path",
                               fix=(f"did you mean 'sklearn:{close[0]}'? " if close else "")
                               + "known: " + ", ".join("sklearn:" + d for d in SKLEARN_DATASETS))
        data_file = None
    else:
        data_file = local_file("dataset.path", "dataset")
        if data_file.suffix.lower() not in (".csv", ".tsv", ".npz"):
            raise MicroMLError(f"unsupported dataset type '{data_file.suffix}'", file=shown, key="dataset.path",
                               fix="use a .csv file with a header row, a .npz with arrays X and y, or sklearn:<name>")
        if data_file.suffix.lower() in (".csv", ".tsv") and not values["dataset.label"]:
            raise MicroMLError("a CSV dataset needs its label column", file=shown, key="dataset.label",
                               fix="add `label: <column name>` under dataset")
    label = values["dataset.label"]
    if isinstance(label, list):
        if not label or not all(isinstance(c, str) and c for c in label):
            raise MicroMLError("expected a column name or a non-empty list of column names", file=shown,
                               key="dataset.label", fix="label: y   or   label: [y1, y2] (quote names that look "
                               "like numbers)")
        if len(set(label)) != len(label):
            raise MicroMLError("a label column is listed twice", file=shown, key="dataset.label",
                               fix="list each label column once")
        if data_file is None or data_file.suffix.lower() == ".npz":
            raise MicroMLError("a list of label columns applies to CSV files", file=shown, key="dataset.label",
                               fix="save the outputs as one 2-D array in the .npz and name it here")
        label = tuple(label) if len(label) > 1 else label[0]
    features = values["dataset.features"]
    if features is not None:
        if features and all(isinstance(f, (str, int, float)) and not isinstance(f, bool) for f in features) \
                and not all(isinstance(f, str) for f in features):
            raise MicroMLError("column names that look like numbers must be quoted in YAML", file=shown,
                               key="dataset.features", fix="features: [" + ", ".join(f'"{f}"' for f in features) + "]")
        if not features or not all(isinstance(f, str) for f in features):
            raise MicroMLError("expected a non-empty list of column names", file=shown, key="dataset.features",
                               fix="features: [col_a, col_b]")
        duplicates = sorted({f for f in features if features.count(f) > 1})
        if duplicates:
            raise MicroMLError(f"column(s) listed twice: {', '.join(duplicates)}", file=shown,
                               key="dataset.features", fix="list each feature once")
        features = tuple(features)

    script = values["train.script"]
    estimator = values["train.estimator"]
    if bool(script) == bool(estimator):
        raise MicroMLError("give exactly one of train.script and train.estimator", file=shown, key="train",
                           fix="train: {script: train.py}  or  train: {estimator: sklearn.svm.SVC, params: {C: 10}}")
    if values["train.params"] and not estimator:
        raise MicroMLError("params only apply to train.estimator", file=shown, key="train.params",
                           fix="pass the parameters inside your script, or use train.estimator")
    if estimator and re.fullmatch(r"[A-Za-z_]\w*", estimator):
        estimator = _supported_path(estimator, shown)
    if estimator and not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+", estimator):
        raise MicroMLError(f"'{estimator}' is not a dotted class name", file=shown, key="train.estimator",
                           fix="write the full path, e.g. sklearn.svm.SVC, or the name of a supported estimator")
    if values["train.timeout"] <= 0:
        raise MicroMLError("timeout must be positive", file=shown, key="train.timeout", fix="train: {timeout: 600}")
    script_file = local_file("train.script", "training script") if script else None
    extra_inputs = _extra_inputs(values["train.inputs"], root, shown) if values["train.inputs"] is not None else ()

    min_agreement = values["verify.min_agreement"]
    if not 0.0 < min_agreement <= 1.0:
        raise MicroMLError(f"min_agreement {min_agreement} is outside (0, 1]", file=shown, key="verify.min_agreement",
                           fix="use a fraction such as 0.99")

    test_size = values["verify.test_size"]
    if not 0.0 < test_size < 1.0:
        raise MicroMLError(f"test_size {test_size} is outside (0, 1)", file=shown, key="verify.test_size",
                           fix="use a fraction such as 0.25")
    random_state = values["verify.random_state"]
    if not 0 <= random_state <= 2**32 - 1:      # scikit-learn's seeds are 32-bit unsigned
        raise MicroMLError(f"random_state {random_state} is outside 0 .. {2**32 - 1}", file=shown,
                           key="verify.random_state", fix="use a whole number such as 0 or 42")

    board = values["target.board"]
    mcu = values["target.mcu"] or (BOARDS[board].mcu if board else "host")
    if board and values["target.mcu"] and BOARDS[board].mcu != mcu:
        raise MicroMLError(f"board '{board}' is an {BOARDS[board].mcu} board, not {mcu}", file=shown,
                           key="target.mcu", fix=f"set mcu: {BOARDS[board].mcu}, or drop one of the two keys")
    flash = values["target.budget.flash"]
    ram = values["target.budget.ram"]
    flash = parse_size(flash, shown, "target.budget.flash") if flash is not None else (BOARDS[board].flash if board else None)
    ram = parse_size(ram, shown, "target.budget.ram") if ram is not None else (BOARDS[board].ram if board else None)

    if values["target.precision"] == "auto" and flash is None:
        raise MicroMLError("precision auto picks the most exact form that fits a budget, and there is none",
                           file=shown, key="target.precision",
                           fix="set target.board (e.g. uno) or target.budget.flash, or choose a precision: "
                               + ", ".join(p for p in PRECISIONS if p != "auto"))
    window = _window(values, data_file, label, features, shown)

    output = _output_path(values["output"], root, shown)
    inputs = [file, data_file, script_file, *extra_inputs]
    if output in [p for p in inputs if p is not None]:
        raise MicroMLError("output would overwrite an input file", file=shown, key="output",
                           fix="write the header to its own file, e.g. include/model.h")

    return Config(
        file=file,
        name=name,
        dataset=DatasetConfig(data_path, data_file, label, features, values["dataset.missing"], window),
        train=TrainConfig(script_file, estimator, dict(values["train.params"]), float(values["train.timeout"]),
                          values["train.refit"], extra_inputs),
        verify=VerifyConfig(test_size, values["verify.random_state"], values["verify.stratify"],
                            values["verify.compiler"], values["verify.measure"], min_agreement),
        target=TargetConfig(mcu, board, values["target.precision"], flash, ram,
                            "target.budget.flash" if values["target.budget.flash"] is not None else "target.board",
                            "target.budget.ram" if values["target.budget.ram"] is not None else "target.board",
                            values["target.input"], values["target.optimize"]),
        output=output,
    )


def _window(values: dict, data_file: Path | None, label, features, shown: str) -> WindowConfig | None:
    """`dataset.window`, checked: CSV only, an id column that is neither the label nor a feature, sizes in range."""
    keys = [k.path for k in SCHEMA if k.path.startswith("dataset.window.")]
    given = [k for k in keys if values[k] is not None and values[k] != _BY_PATH[k].default]
    if values["dataset.window.id"] is None:
        if given:
            raise MicroMLError(f"{given[0]} needs dataset.window.id, the column naming each recording",
                               file=shown, key="dataset.window.id", fix="window: {id: take, length: 128}")
        return None
    if data_file is None or data_file.suffix.lower() == ".npz":
        raise MicroMLError("dataset.window groups the rows of a CSV file into windows", file=shown,
                           key="dataset.window", fix="for a .npz, save X as a 3-D array (windows, samples, channels) "
                           "and drop dataset.window")
    column = values["dataset.window.id"]
    length = values["dataset.window.length"]
    if length is None:
        raise MicroMLError("the window length is missing", file=shown, key="dataset.window.length",
                           fix="window: {id: " + column + ", length: 128}")
    if not 1 <= length <= MAX_WINDOW:
        raise MicroMLError(f"length {length} is outside 1 .. {MAX_WINDOW}", file=shown, key="dataset.window.length",
                           fix="use the number of samples per window, e.g. 128")
    step = values["dataset.window.step"]
    if step is not None and not 1 <= step <= MAX_WINDOW:
        raise MicroMLError(f"step {step} is outside 1 .. {MAX_WINDOW}", file=shown, key="dataset.window.step",
                           fix="use a number of samples, e.g. a quarter of the length")
    labels = label if isinstance(label, tuple) else (label,)
    if column in labels:
        raise MicroMLError(f"'{column}' is the label column", file=shown, key="dataset.window.id",
                           fix="name the column that identifies each recording")
    if features is not None and column in features:
        raise MicroMLError(f"the recording column '{column}' is also listed as a feature", file=shown,
                           key="dataset.features", fix="remove it from features: it names recordings, not a channel")
    return WindowConfig(column, length, values["dataset.window.pad"], values["dataset.window.cut"], step)


PROJECT_MARKERS = (".git", "platformio.ini", "CMakeLists.txt", "pyproject.toml")


def project_root(start: Path) -> Path:
    """The firmware project holding the yaml: the nearest folder with a project marker, else the yaml's."""
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return start


def _output_path(raw: str, root: Path, shown: str) -> Path:
    if not raw.endswith((".h", ".hpp")):
        raise MicroMLError(f"'{raw}' is not a header file name", file=shown, key="output",
                           fix="end the name in .h, e.g. include/model.h")
    if _absolute(raw):
        raise MicroMLError(f"'{raw}' is an absolute path", file=shown, key="output",
                           fix="write it relative to the yaml's folder, e.g. include/model.h or "
                               "../firmware/include/model.h, so the project builds on every machine; build systems "
                               "pass --output for build trees")
    return (root / raw).resolve()


def _absolute(raw: str) -> bool:
    """Absolute here or on Windows (a drive `C:`, `\\\\server\\share`, a leading slash): tied to one machine."""
    return Path(raw).is_absolute() or bool(PureWindowsPath(raw).drive) or raw.startswith(("/", "\\"))


GLOB_CHARS = re.compile(r"[*?[]")


def _extra_inputs(raw, root: Path, shown: str) -> tuple[Path, ...]:
    """`train.inputs`: every file each pattern names, in the order given (a glob's matches sorted)."""
    patterns = [raw] if isinstance(raw, str) else raw
    if not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise MicroMLError("expected a list of file names or glob patterns", file=shown, key="train.inputs",
                           fix="inputs: [data/calibration.json, tables/*.csv]")
    files: list[Path] = []
    for pattern in (p.strip() for p in patterns):
        if _absolute(pattern):
            raise MicroMLError(f"'{pattern}' is an absolute path", file=shown, key="train.inputs",
                               fix="write it relative to the yaml's folder, e.g. data/calibration.json")
        if GLOB_CHARS.search(pattern):
            found = [(root / match).resolve() for match in sorted(glob.glob(pattern, root_dir=root, recursive=True))]
            found = [path for path in found if path.is_file()]
            if not found:
                raise MicroMLError(f"'{pattern}' matches no file (looked in {root})", file=shown, key="train.inputs",
                                   fix="check the pattern: it is relative to the yaml's folder; `*` stays within a "
                                       "folder, `**/` spans subfolders")
        else:
            path = (root / pattern).resolve()
            if path.is_dir():
                raise MicroMLError(f"'{pattern}' is a folder", file=shown, key="train.inputs",
                                   fix=f"name its files, e.g. {pattern.rstrip('/')}/*.csv or {pattern.rstrip('/')}/**/*")
            if not path.is_file():
                raise MicroMLError(f"'{pattern}' does not exist (looked for {path})", file=shown, key="train.inputs",
                                   fix="paths are relative to the yaml's folder; check the spelling")
            found = [path]
        files += [path for path in found if path not in files]
    return tuple(files)


def _supported_path(name: str, shown: str) -> str:
    """The import path of a supported estimator given by its bare class name (`SVC` -> `sklearn.svm.SVC`)."""
    paths = ESTIMATOR_PATHS
    if name in paths:
        return paths[name]
    supported = "supported estimators: " + ", ".join(sorted(paths))
    same = [known for known in paths if known.lower() == name.lower()]
    if same:
        raise MicroMLError(f"'{name}' is not the name of a supported estimator", file=shown, key="train.estimator",
                           fix=f"did you mean '{same[0]}'? (class names are case-sensitive)")
    if name in _sklearn_estimator_names():
        from microml_build.lower.preprocessing import supported_steps

        if name in supported_steps():
            raise MicroMLError(f"{name} is a preprocessing step, not a model", file=shown, key="train.estimator",
                               fix="write a train.script that returns a Pipeline, e.g. make_pipeline(" + name +
                               "(), SVC()).fit(X, y)")
        raise MicroMLError(f"{name} is not supported yet", file=shown, key="train.estimator", fix=supported)
    close = difflib.get_close_matches(name, list(paths), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise MicroMLError(f"'{name}' is not the name of a supported estimator", file=shown, key="train.estimator",
                       fix=hint + supported + "; or give the dotted import path of a class")


def _sklearn_estimator_names() -> set[str]:
    from sklearn.utils import all_estimators

    return {name for name, _ in all_estimators()}

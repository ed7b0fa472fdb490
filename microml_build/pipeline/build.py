"""Runs the steps in order: config -> dataset -> train -> lower -> passes -> plan -> emit -> verify -> measure ->
atomic write.

Nothing changed: nothing is written (the header keeps its mtime). Any step fails: the last good header
stays and a MicroMLError says why, naming the yaml file unless it names another (`about`). The header
records its figures as facts (`header_facts`), which `--board`, `check`, `explain` and `report` read back.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from microml_build.config import Config, load_config
from microml_build.errors import MicroMLError
from microml_build.ir.forms import LinearForm
from microml_build.ir.features import WindowStage, Widen, channel_labels, input_stage, with_channel_names, with_input
from microml_build.pipeline.measure import Footprint, can_measure, describe_cost, measure, measure_target
from microml_build.pipeline.inputs import imported_modules, input_files, loaded_project_modules
from microml_build.pipeline.stamp import (FACTS_KEY, atomic_write, build_lock, changed_inputs, file_digest,
                                          input_digest, provenance_inputs, read_header, read_record, read_stamp,
                                          recorded_modules, remove_stale_temps, remove_stamp_file, same_model,
                                          stamp_file, tool_versions, touch, write_depfile, write_stamp_file)


@dataclass
class BuildResult:
    output: Path
    built: bool                # False: up to date, nothing written
    summary: str = ""
    kept: bool = False         # built, but the model came out identical: the header kept its bytes and mtime


class Log:
    """`[microml]` lines on stderr: a line per stage by default, details with verbose, nothing when quiet."""

    def __init__(self, verbose: bool = False, quiet: bool = False, stream=None):
        self.verbose, self.quiet = verbose, quiet
        self.stream = stream or sys.stderr

    def info(self, text: str) -> None:
        if not self.quiet:
            print(f"[microml] {text}", file=self.stream, flush=True)

    def detail(self, text: str) -> None:
        if self.verbose and not self.quiet:
            print(f"[microml]   {text}", file=self.stream, flush=True)


def build(config_path: str | Path = "microml.yaml", *, output: str | Path | None = None,
          depfile: str | Path | None = None, force: bool = False, log: Log | None = None,
          board: str | None = None, mcu: str | None = None, touch_file: str | Path | None = None) -> BuildResult:
    """Build the header if an input changed.

    `board`/`mcu` check the header against another target's budget as well (one PlatformIO
    environment per board sharing one header): they do not change the header, only add a check.
    `depfile` lists every input afterwards; `touch_file` gets a new mtime after every success (for Make,
    which has no restat: the header itself keeps its mtime when the model did not change).
    """
    log = log or Log()
    config = load_config(config_path)
    with about(config):
        return _build(config, output, depfile, force, log, board, mcu, touch_file)


def _build(config: Config, output, depfile, force: bool, log: Log, board, mcu, touch_file) -> BuildResult:
    extra_target = override_target(config, board, mcu) if (board or mcu) else None
    if output and not str(output).endswith((".h", ".hpp")):     # the rule the yaml's `output:` follows
        raise MicroMLError(f"'{Path(output).name}' is not a header file name", file="command line", key="--output",
                           fix="end the name in .h, e.g. --output build/model.h")
    out = Path(output).absolute() if output else config.output
    shown = config.display_here(out)
    overrides: dict[str, str] = {}
    record = read_record(out)
    files = input_files(config, recorded_modules(config, record))
    digest = input_digest(config, overrides, files)
    if not force and record is not None and record.stamp == digest:
        log.info(f"Skipping {shown} (up to date)")
        result = BuildResult(out, built=False)
    else:
        with build_lock(out):
            if not force and read_stamp(out) == digest:  # a parallel build just wrote it
                log.info(f"Skipping {shown} (up to date)")
                result = BuildResult(out, built=False)
            else:
                remove_stale_temps(out.parent, out.name)
                result, files = _build_locked(config, out, shown, overrides, log)
    if depfile:
        write_depfile(Path(depfile).absolute(), out, [path for path in files if path.is_file()])
    if touch_file:
        touch(Path(touch_file).absolute())
    if extra_target is not None:
        _check_existing_header(extra_target, out, log)
    return result


def override_target(config: Config, board: str | None, mcu: str | None) -> Config:
    """The config with its target replaced by `board`/`mcu`, validated like the yaml's own keys."""
    import dataclasses

    from microml_build.config import BOARDS, MCUS

    source = "command line"
    from microml_build.config import suggest

    if board is not None and board not in BOARDS:
        raise MicroMLError(f"unknown board '{board}'", file=source, key="--board", fix=suggest("target.board", board))
    if mcu is not None and mcu not in MCUS:
        raise MicroMLError(f"unknown mcu '{mcu}'", file=source, key="--mcu", fix=suggest("target.mcu", mcu))
    if board and mcu and BOARDS[board].mcu != mcu:
        raise MicroMLError(f"board '{board}' is an {BOARDS[board].mcu} board, not {mcu}", file=source, key="--mcu",
                           fix="give only --board")
    spec = BOARDS.get(board)
    target = dataclasses.replace(config.target, board=board, mcu=spec.mcu if spec else mcu,
                                 flash_budget=spec.flash if spec else None, ram_budget=spec.ram if spec else None,
                                 flash_budget_key="--board", ram_budget_key="--board")
    return dataclasses.replace(config, target=target)


def _check_existing_header(config: Config, header: Path, log: Log) -> None:
    """The budget check of `config.target` for the header on disk (measured, when the toolchain is there),
    from the facts the header records: the same figures `build` reported."""
    facts = read_header(header).facts
    target = config.target
    if config.verify.measure and facts.get("measured") == measure_target(target.mcu, target.board):
        # The build measured this chip already, on a real row: its figures, not a second run on another row.
        footprint = Footprint.from_facts(facts)
    else:
        text = header.read_text(encoding="utf-8")
        footprint = _measure(config, text, np.zeros(facts["n_features"]), log)
    estimate = facts["tables"] + facts["code"]
    _check_budget(config, estimate, facts["tables"], footprint)
    where = config.target.board or config.target.mcu
    log.info(f"Fits {where}: " + (footprint.describe() if footprint else describe_cost(facts)))


def _stage(log: Log, label: str) -> Callable[[], None]:
    """Announce a stage; the returned `done(extra)` reports its time (and details with -v)."""
    start = time.perf_counter()
    log.info(label + " ...")

    def done(extra: str = "") -> None:
        elapsed = f"{time.perf_counter() - start:.2f} s"
        if log.verbose:
            log.detail(f"{label.split()[0].lower()} took {elapsed}{extra}")
        else:
            log.info(f"  {label.split()[0].lower()} took {elapsed}")

    return done


@dataclass
class Artifacts:
    """Everything one run of the steps produced: what `build` writes and `report` shows."""

    config: Config
    data: object                 # dataset.Dataset
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    estimator: object
    model: object                # ir.Model, after the passes
    lowered: object              # ir.Model as lowered, before any pass approximated it (the report's margins)
    verification: object         # verify.Verification
    emitted: object              # emit.header.Emitted
    footprint: object | None     # measure.Footprint
    score: str                   # "test accuracy 0.951" / "test R2 0.981, RMSE 0.1"
    facts: dict                  # the header's machine-readable facts (`header_facts`)
    held_out: object = None      # the estimator the score belongs to: `estimator`, or with train.refit its split fit
    unmeasured: str = ""         # why the model could not be measured although a toolchain is there (report only)
    modules: list = field(default_factory=list)   # project modules the training imported (pipeline.inputs)
    digest: str = ""             # the input digest recorded in the header

    def __post_init__(self):
        if self.held_out is None:
            self.held_out = self.estimator


def produce(config: Config, header_name: str, digest: str | Callable[[list[Path]], str], log: Log,
            enforce_budget: bool = True) -> Artifacts:
    """Load, train, lower, run the passes, plan, emit, verify and measure; write nothing. `digest` may be a
    function of the project modules the training imported (known only after training) giving the stamp to record.

    `enforce_budget=False` (the report) keeps going with a model over its budget, or too big for the chip it
    is measured on (then `unmeasured` says by how much), so that it can be shown.
    """
    with about(config):
        return _produce(config, header_name, digest, log, enforce_budget)


def _produce(config: Config, header_name: str, digest, log: Log, enforce_budget: bool) -> Artifacts:
    # The heavy stages (scikit-learn, NumPy C, the emitters) load only when something is built:
    # `check` and the skip path stay fast.
    from microml_build.emit.c_writer import Float32Range
    from microml_build.emit.header import emit_header
    from microml_build.lower import lower
    from microml_build.passes.precision import ORDER, apply_precision, pass_name
    from microml_build.pipeline.dataset import load_dataset
    from microml_build.pipeline.training import train
    from microml_build.pipeline.verify import check_lowering, to_float32, verify
    from microml_build.plan import plan

    done = _stage(log, f"Loading {config.dataset.path}")
    data = load_dataset(config)
    X_train, X_test, y_train, y_test = split(config, data.X, data.y, data.groups)
    done(f": {len(data.X)} rows x {data.X.shape[1]} features"
         + (f" (windows of {data.window[0]} samples x {data.window[1]} channels)" if data.window else ""))
    if config.target.input == "int16":      # before training: a bad sample is the data's, whatever the model
        _check_input(config, data, Widen())

    what = config.display(config.train.script) if config.train.script else config.train.estimator
    done = _stage(log, f"Training {what} on {len(X_train)} rows")
    with loaded_project_modules(config) as loaded:
        estimator = held_out = train(config, X_train, y_train, quiet=log.quiet)
    done()
    modules = sorted(set(imported_modules(config)) | set(loaded), key=lambda path: path.as_posix())
    digest = digest(modules) if callable(digest) else digest
    X_all = np.concatenate([X_train, X_test])
    if config.train.refit:
        done = _stage(log, f"Refitting {what} on all {len(X_all)} rows (train.refit)")
        estimator = train(config, X_all, np.concatenate([y_train, y_test]), quiet=log.quiet)
        done()

    done = _stage(log, f"Lowering {type(estimator).__name__}")
    try:
        model = with_input(lower(estimator), config.target.input)
    except MicroMLError as exc:     # a refusal of what the training returned: the yaml names where it came from
        if exc.file is None:
            exc.file, exc.key = config.file.name, exc.key or ("train.script" if config.train.script
                                                              else "train.estimator")
        raise
    done(f": {model.summary}")
    _check_window_shape(config, data, model)
    model = with_channel_names(model, data.channel_names)
    if config.target.input != "int16":      # int16 was checked before training; float windows have a check of their own
        _check_input(config, data, input_stage(model))
    _check_classes_learned(config, model, data.y, y_test)
    score = _score(model, held_out, X_test, y_test)
    if config.train.refit:
        score += (f" (of the model fitted on {len(X_train)} rows; the header's model is refitted on all "
                  f"{len(X_all)} rows)")
    lowered = model
    auto = config.target.precision == "auto"
    if config.target.precision != "float":
        check_lowering(model, estimator, to_float32(X_all))    # exact before a pass approximates it
    fitted_on = X_all if config.train.refit else X_train      # the ranges the shipped model was trained on

    def render(planned, verified: str, facts: dict):
        provenance = _provenance(config, data, estimator, planned, score, len(X_test), verified, digest, facts,
                                 modules)
        try:
            return emit_header(planned, name=config.name, file_name=header_name, provenance=provenance)
        except Float32Range as exc:
            raise MicroMLError(f"the trained model holds a number that {exc} (beyond +-3.4e38)",
                               file=config.file.name, key="train",
                               fix="scale the data so the model's weights fit float32: the features with a "
                               "StandardScaler in a Pipeline, a huge regression target with "
                               "TransformedTargetRegressor(transformer=StandardScaler())") from None

    def realize(precision: str, optimize: str):
        """The header in `precision` planned for `optimize`, verified and measured; with `auto`, _Skip says why it
        does not do."""
        model = lowered
        if precision != "float":
            if input_stage(model) is not None:
                windows = isinstance(input_stage(model), WindowStage)
                raise MicroMLError(f"precision {precision} does not take " + (
                    "window features yet: they are computed in float" if windows
                    else "int16 input yet: its fixed-point form quantizes float inputs itself"), file=config.file.name,
                    key="target.precision", fix="use target.precision: float (int16 window features already sum in "
                                                "integers)" if windows else "use target.input: float, or "
                                                "target.precision: float")
            done = _stage(log, pass_name(precision))
            model = apply_precision(lowered, precision, fitted_on, data.feature_names)
            done()
        planned = plan(model, feature_names=data.feature_names, optimize=optimize)
        done = _stage(log, "Emitting C")
        draft = render(planned, "pending", {})
        estimate = draft.table_bytes + planned.code_bytes
        done(f": {draft.text.count(chr(10))} lines, {_kb(draft.table_bytes)} of flash tables")
        if auto:
            _skip_if_over(config, estimate, draft.table_bytes, None)
        if enforce_budget:
            _check_budget(config, estimate, draft.table_bytes, None)     # fail early, before verifying and measuring
        done = _stage(log, f"Verifying on {len(X_all)} rows with {config.verify.compiler}")
        wanted = config.verify.min_agreement
        check = verify(model, draft.text, config.name, estimator, X_all, config.verify.compiler,
                       min_agreement=0.0 if auto else wanted)
        check.min_agreement = wanted if model.lossy else check.min_agreement
        done(f": {check.summary}" if model.lossy else f": max decision error {check.max_decision_error:.2e} of the "
             "term magnitude")
        if auto and check.agree < wanted * check.rows:
            raise _Skip(f"agreement {check.agree}/{check.rows} is below verify.min_agreement {wanted:g}")
        for row in check.near_ties:
            log.detail(f"row {row} is a float32 near-tie: the C result may differ from scikit-learn there")
        unmeasured = ""
        try:
            footprint = _measure(config, draft.text, X_test[0], log)
        except MicroMLError as exc:
            if auto or enforce_budget or "does not fit" not in exc.message:
                raise
            footprint, unmeasured = None, exc.message
        if auto:
            _skip_if_over(config, estimate, draft.table_bytes, footprint)
        return planned, draft, check, footprint, unmeasured

    tried: list[tuple[str, str]] = []          # precision: auto, what each form did not meet
    candidates = _candidates(config)
    several_forms = len({optimize for _, optimize in candidates}) > 1
    for precision, optimize in candidates:
        name = f"{precision} (optimize: {optimize})" if several_forms else precision
        try:
            planned, draft, check, footprint, unmeasured = realize(precision, optimize)
            break
        except _Skip as exc:
            tried.append((name, str(exc)))
        except MicroMLError as exc:
            if not auto or exc.key not in _SKIPPABLE:
                raise
            tried.append((name, exc.message))
        log.info(f"  precision auto: {name} {tried[-1][1]}")
    else:
        rows = "\n".join(f"  {name:<14} {why}" for name, why in tried)
        raise MicroMLError("none of the forms precision auto tries fits the budget and meets verify.min_agreement",
                           key="target.precision",
                           fix="raise target.budget or pick a bigger board (target.board), shrink the model (SVM: fewer "
                               "support vectors via a larger C or smaller gamma; trees: lower max_depth or n_estimators; "
                               "MLP: fewer units), or lower verify.min_agreement; the previous header was kept",
                           details="tried, most exact first:\n" + rows)
    facts = header_facts(config, planned, draft.table_bytes, footprint, check)
    if auto:
        facts["choice"] = _choice(tried, name, draft.table_bytes + planned.code_bytes, footprint, check)
    emitted = render(planned, f"{check.summary} on all {check.rows} rows (train + test), host {config.verify.compiler}",
                     facts)
    return Artifacts(config, data, X_train, X_test, y_train, y_test, estimator, planned.model, lowered, check,
                     emitted, footprint, score, facts, held_out, unmeasured, modules, digest)


def _candidates(config: Config) -> list[tuple[str, str]]:
    """(precision, optimize) to build, in order. `precision: auto` tries each precision most exact first and, with
    `optimize: speed`, its faster form before its smaller one: a float model too big written out still fits as a
    table before auto gives up exactness for it."""
    from microml_build.passes.precision import ORDER

    optimize = config.target.optimize
    if config.target.precision != "auto":
        return [(config.target.precision, optimize)]
    forms = (optimize, "balanced") if optimize == "speed" else (optimize,)
    return [(precision, form) for precision in ORDER for form in forms]


class _Skip(Exception):
    """precision: auto: this form misses the budget or verify.min_agreement (the message says how)."""


# Errors that mean "this precision does not do here" to `precision: auto` (no form, too big), not a failure.
_SKIPPABLE = ("target.precision", "target.board", "target.mcu", "target.budget.flash", "target.budget.ram")


def _skip_if_over(config: Config, estimate: int, tables: int, footprint) -> None:
    """precision: auto: _Skip when the flash (measured, else estimated) or RAM exceeds the target's budget."""
    target = config.target
    flash, how = (footprint.flash, "measured") if footprint else (estimate, "estimated")
    if target.flash_budget is not None and flash > target.flash_budget:
        raise _Skip(f"needs {_kb(flash)} of flash > {_kb(target.flash_budget)} ({how})")
    if target.mcu == "avr" and tables > AVR_NEAR_FLASH:
        raise _Skip(f"has {_kb(tables)} of tables, beyond the 63 KB pgm_read_* reaches on AVR")
    if footprint and target.ram_budget is not None and footprint.ram + (footprint.stack or 0) > target.ram_budget:
        raise _Skip(f"needs {footprint.ram + (footprint.stack or 0)} B of RAM and stack > {target.ram_budget} B")


_SKIP_VERBS = ("needs ", "has ", "agreement ")


def _choice(tried: list[tuple[str, str]], chosen: str, estimate: int, footprint, check) -> str:
    """precision: auto's reason, for the build line and the header: what the more exact forms missed, what fits."""
    missed = [f"{name}{' ' if why.startswith(_SKIP_VERBS) else ': '}{why}"     # _Skip's "needs ..." or an error's text
              for name, why in tried if "has no" not in why]                      # not the forms the family lacks
    flash = f"{_kb(footprint.flash)} measured" if footprint else f"{_kb(estimate)} estimated"
    return "; ".join(missed + [f"{chosen}: {flash}, agreement {check.agree}/{check.rows}"])


@contextlib.contextmanager
def about(config: Config):
    """Every error raised while building `config` names its yaml file unless it names another file."""
    try:
        yield
    except MicroMLError as exc:
        if exc.file is None:
            exc.file = config.file.name
        raise


def header_facts(config: Config, planned, tables: int, footprint, check) -> dict:
    """What the header records about itself, read back by `stamp.read_header`: the same figures everywhere."""
    facts = {"name": config.name, "n_features": planned.model.n_features,
             "precision": planned.model.lossy or "float", "tables": tables, "code": planned.code_bytes,
             "agreement": f"{check.agree}/{check.rows}"}
    if footprint is not None:
        facts.update(measured=footprint.target, flash=footprint.flash, ram=footprint.ram)
        if footprint.stack is not None:
            facts.update(stack=footprint.stack, cycles=footprint.cycles)
    return facts


def _check_window_shape(config: Config, data, model) -> None:
    """A dataset of windows (CSV recordings, a 3-D .npz) read by WindowFeatures of another length x channels
    with the same product trains without complaint but mixes samples and channels: refuse it."""
    stage = input_stage(model)
    if data.window is None or not isinstance(stage, WindowStage) or (stage.length, stage.channels) == data.window:
        return
    length, channels = data.window
    raise MicroMLError(
        f"the Pipeline's WindowFeatures(length={stage.length}, channels={stage.channels}) reads windows of "
        f"{stage.length} samples x {stage.channels} channels, but the dataset's windows are {length} samples x "
        f"{channels} channels ({', '.join(data.channel_names)})", file=config.file.name,
        key="train.script" if config.train.script else "train.estimator",
        fix=(f"save the .npz's X as (windows, length, channels): X.transpose(0, 2, 1); it looks channels-first"
             if (stage.length, stage.channels) == (channels, length) and not config.dataset.window else
             f"use WindowFeatures(length={length}, channels={channels}) in the training script, or change the "
             "dataset's windows (dataset.window.length, the channel columns, the .npz's X shape)"))


def _check_input(config: Config, data, stage) -> None:
    """With `target.input: int16` every value must be a whole number in range (float windows: finite and small
    enough for float32 sums): the error names the row (the CSV line, the recording). `stage`: the model's input
    stage (`input_stage`), or None."""
    problem = stage.input_problem(data.X) if stage is not None else None
    if problem is None:
        return
    from microml_build.pipeline.dataset import where

    row, column, what = problem
    raise MicroMLError(f"{where(data, row, column)}: {what}", file=config.file.name, key="target.input",
                       fix="int16 takes raw sensor counts: whole numbers in -32768..32767; scale the data to them, or "
                           "use target.input: float" if config.target.input == "int16" else
                           "fix or drop that value, or scale the data to a smaller unit (e.g. g instead of mg)")


def _check_classes_learned(config: Config, model, y: np.ndarray, y_test: np.ndarray) -> None:
    """Every class of the dataset is one the model can predict: a class too rare for the split is an error,
    not a header that silently never predicts it."""
    if model.task != "classifier":
        return
    unseen = [label for label in np.unique(y) if label not in set(model.labels)]
    if unseen:
        label = unseen[0]
        count = int(np.sum(y == label))
        raise MicroMLError(f"class '{label}' has {count} row{'s' if count != 1 else ''}, all held out for testing "
                           "(verify.test_size), so the model never learned it", file=config.file.name,
                           key="dataset.label", fix="add rows of that class (a few at least) or remove it from the "
                           "dataset")


def _score(model, estimator, X_test, y_test) -> str:
    predicted = estimator.predict(X_test)
    if model.task == "classifier":
        return f"test accuracy {float(np.mean(predicted == y_test)):.4f}"
    y = np.asarray(y_test, dtype=np.float64).reshape(len(y_test), -1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(len(y_test), -1)
    rmse = float(np.sqrt(np.mean((predicted - y) ** 2)))
    total = float(np.sum((y - y.mean(0)) ** 2))
    r2 = 1 - float(np.sum((predicted - y) ** 2)) / total if total else float("nan")
    return f"test R2 {r2:.4f}, RMSE {rmse:.4g}"


def _build_locked(config: Config, out: Path, shown: str, overrides: dict[str, str],
                  log: Log) -> tuple[BuildResult, list[Path]]:
    """Run the steps and write the header, or keep it (bytes and mtime) when the model came out identical
    and only the recorded input hashes differ: then the stamp file beside it takes the new hashes."""
    art = produce(config, out.name, lambda modules: input_digest(config, overrides, input_files(config, modules)),
                  log)
    files = input_files(config, art.modules)
    with about(config):
        _check_budget(config, art.facts["tables"] + art.facts["code"], art.facts["tables"], art.footprint)
    try:
        old = out.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        old = None
    kept = old is not None and same_model(old, art.emitted.text)
    if kept:
        write_stamp_file(out, config, art.digest, files, art.modules)
    else:
        atomic_write(out, art.emitted.text)
        if out.resolve() != config.output:    # a build-tree header: its stamp file names the yaml, for explain
            write_stamp_file(out, config, art.digest, files, art.modules)
        else:
            remove_stamp_file(out)
    if kept:
        summary = (f"kept {shown}: the model is unchanged ({art.model.summary}, {art.verification.summary}); "
                   f"new input hashes recorded in {stamp_file(out).name}")
    else:
        summary = (f"wrote {shown}: {art.model.summary}, {describe_cost(art.facts)}, {art.score}, "
                   f"{art.verification.summary}")
    if "choice" in art.facts:
        summary += f"; precision auto chose {art.model.lossy or 'float'} ({art.facts['choice']})"
    log.info(summary[0].upper() + summary[1:])
    return BuildResult(out, built=True, summary=summary, kept=kept), files


def split(config: Config, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None):
    """The verification split; stratified for classification when every class can be split.

    `groups` (the recording of each window): when a recording gives several windows (dataset.window.step),
    whole recordings go to one side, so overlapping windows of one take cannot make the test score look better.
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    v = config.verify
    if groups is not None and len(np.unique(groups)) < len(groups):
        if len(np.unique(groups)) < 2:
            raise MicroMLError("every window comes from one recording, so no recording is left for testing",
                               file=config.file.name, key="dataset.window.id",
                               fix="record more takes (a few per class at least)")
        train, test = next(GroupShuffleSplit(n_splits=1, test_size=v.test_size,
                                             random_state=v.random_state).split(X, y, groups))
        return X[train], X[test], y[train], y[test]
    n_test = int(np.ceil(v.test_size * len(X)))
    classes, counts = np.unique(y, return_counts=True)
    if n_test < 1 or len(X) - n_test < 2:
        raise MicroMLError(f"{len(X)} rows are too few to hold out {v.test_size:g} for testing",
                           file=config.file.name, key="verify.test_size",
                           fix="add rows to the dataset (a few dozen at least) or change test_size")
    classify = y.dtype.kind not in "f"
    stratify = y if (classify and v.stratify and counts.min() >= 2 and n_test >= len(classes)
                     and len(X) - n_test >= len(classes)) else None
    return train_test_split(X, y, test_size=v.test_size, random_state=v.random_state, stratify=stratify)


def _provenance(config: Config, data, estimator, planned, score: str, n_test: int, verified: str,
                digest: str, facts: dict, modules: list[Path] = ()) -> list[tuple[str, str]]:
    model = planned.model
    versions = tool_versions()
    lines = [
        ("Generator", f"microml_build {versions['microml_build']} (scikit-learn {versions.get('scikit-learn', '?')}, "
                      f"numpy {versions.get('numpy', '?')})"),
        ("Config", config.display(config.file) + f"  sha256 {file_digest(config.file)[:16]}"),
    ]
    if config.dataset.file:
        lines.append(("Dataset", f"{config.display(config.dataset.file)}  sha256 {file_digest(config.dataset.file)[:16]}"))
    else:
        lines.append(("Dataset", config.dataset.path))
    n_train = len(data.X) - n_test
    split = f"{n_train} train, {n_test} test" + (f"; the model is refitted on all {len(data.X)}"
                                                 if config.train.refit else "")
    named = data.window and data.channel_names != channel_labels(data.window[1], False)
    lines.append(("Rows", f"{len(data.X)} ({split}), label '{data.label_name}'"
                  + (f"; windows of {data.window[0]} samples x {data.window[1]} channels" if data.window else "")
                  # a 3-D .npz names no channels: its ch0, ch1 would contradict the model's own names below
                  + (f" ({', '.join(data.channel_names)})" if named else "")))
    if config.train.script:
        lines.append(("Script", f"{config.display(config.train.script)}  sha256 {file_digest(config.train.script)[:16]}"))
    lines += provenance_inputs(config, list(modules))
    lines += [
        ("Estimator", model.estimator),
        ("Parameters", ", ".join(f"{k}={_short(v)}" for k, v in model.params.items())),
        ("Target", f"{config.target.mcu}" + (f", board {config.target.board}" if config.target.board else "")
                   + f", {config.target.precision}" + (f" -> {model.lossy or 'float'}" if config.target.precision ==
                                                       "auto" else "")
                   + (", int16 input" if config.target.input == "int16" else "")
                   + (f", optimize {config.target.optimize}" if config.target.optimize != "balanced" else "")),
        ("Test score", f"{score.split(' (of the model')[0].replace('test ', '')} on {n_test} held-out rows" +
                       (f", of the model fitted on the other {n_train}; this header's model is refitted on all "
                        f"{len(data.X)} rows (train.refit) and has no held-out score" if config.train.refit else "")),
        ("Verified", verified),
        ("Memory", ("model weights in the code (flash)" if isinstance(planned.head, LinearForm) else
                    "model tables in flash (PROGMEM on AVR)") + f", no RAM; stack: {planned.stack}"),
        (FACTS_KEY, json.dumps(facts, sort_keys=True, separators=(",", ":"))),
        ("microml-stamp", digest),
    ]
    return lines


def _measure(config: Config, header_text: str, x, log: Log):
    """The model's measured cost on the target's toolchain, or None when it is not installed."""
    from microml_build.toolchains import ToolchainError

    target = config.target
    if not config.verify.measure or not can_measure(target.mcu, target.board):
        if config.verify.measure and target.mcu in ("avr", "arm"):
            log.detail(f"no {target.mcu} toolchain installed: flash and RAM are estimated, not measured")
        return None
    chip = measure_target(target.mcu, target.board)
    done = _stage(log, f"Measuring on {chip}")
    try:
        footprint = measure(header_text, config.name, x, target.mcu, target.board)
    except ToolchainError as exc:
        overflow = re.search(r"region [`']?(\w+)'? overflowed by (\d+) bytes", str(exc))
        if overflow:
            memory = "flash" if overflow.group(1) == "text" else "RAM"
            raise MicroMLError(f"the model does not fit the {memory} of the {chip} it is measured on: the linker "
                               f"reports {overflow.group(2)} bytes too many", file=config.file.name,
                               key="target.board" if target.board else "target.mcu",
                               fix="shrink the model, pick a board with a bigger chip (target.board), or set "
                               "verify.measure: false to skip measuring; the previous header was kept") from None
        if re.search(r"section [`']\.(data|bss)' is not within region [`']data'", str(exc)):
            # avr-ld's word for static RAM past the chip's end (the harness holds the input vector in RAM too)
            width = 2 if f"#define {config.name.upper()}_INPUT_INT16" in header_text else 4
            raise MicroMLError(f"the model does not fit the RAM of the {chip} it is measured on: its "
                               f"{width * len(x)} B of input, the model's static RAM and the measuring harness "
                               "exceed the chip's RAM", file=config.file.name,
                               key="target.board" if target.board else "target.mcu",
                               fix="use fewer features (or target.input: int16), pick a board with more RAM "
                               "(target.board), or set verify.measure: false to skip measuring; the previous header "
                               "was kept") from None
        raise MicroMLError(f"the header does not build for {chip} (this is a MicroML bug)",
                           fix="report it with the model's yaml, or set verify.measure: false to skip this step",
                           details=str(exc)[-3000:]) from None
    done(": " + footprint.describe())
    return footprint


# AVR reads tables in program memory with 16-bit addresses (pgm_read_*): they must lie in the first 64 KB,
# after the interrupt vectors (0.25 KB on the ATmega2560) and beside whatever PROGMEM data the firmware has.
AVR_NEAR_FLASH = 63 * 1024


def _check_budget(config: Config, estimate: int, table_bytes: int, footprint) -> None:
    """Fail before the firmware link would: the model alone must fit the board's (or the given) budget.

    `estimate` is the flash the plan expects (tables and written-out code), used until `footprint` measures it.
    """
    target = config.target
    flash_budget, ram_budget = target.flash_budget, target.ram_budget
    fix = ("shrink the model (SVM: fewer support vectors via a larger C or smaller gamma, or a linear kernel; "
           "trees: lower max_depth or n_estimators; MLP: fewer units) or raise the budget; the previous header was kept")
    flash_fix = fix
    if target.optimize == "speed":      # the faster forms cost flash: the same model is smaller without them
        flash_fix = ("set target.optimize: balanced (or size), which keeps the same model in its smaller form (a "
                     "linear model's weights in a table, not written out), or " + fix)
    flash = footprint.flash if footprint else estimate
    how = "measured" if footprint else "estimated, not measured"
    def source(key: str) -> str:
        return "command line" if key.startswith("--") else config.file.name

    if flash_budget is not None and flash > flash_budget:
        raise MicroMLError(f"the model needs {flash} bytes of flash ({how}); the budget is {flash_budget} bytes",
                           file=source(target.flash_budget_key), key=target.flash_budget_key, fix=flash_fix)
    if target.mcu == "avr" and table_bytes > AVR_NEAR_FLASH:
        smaller = "fewer trees or support vectors" + (", or precision: fixed8" if target.precision != "fixed8" else "")
        raise MicroMLError(f"the model's tables take {table_bytes} bytes; on AVR they must fit in the first 64 KB "
                           "of flash, which pgm_read_* (16-bit addresses) can reach", file=config.file.name,
                           key="target.board" if target.board else "target.mcu",
                           fix=f"shrink the model to under about 63 KB of tables ({smaller}); the previous header "
                           "was kept")
    if footprint and ram_budget is not None and footprint.ram + (footprint.stack or 0) > ram_budget:
        raise MicroMLError(f"the model needs {footprint.ram} bytes of RAM + {footprint.stack or 0} of stack "
                           f"(measured); the budget is {ram_budget} bytes",
                           file=source(target.ram_budget_key), key=target.ram_budget_key, fix=fix)


def _short(value) -> str:
    return f"{value:.7g}" if isinstance(value, float) else str(value)


def _kb(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def check(config_path: str | Path = "microml.yaml", *, output: str | Path | None = None) -> tuple[bool, str]:
    """(up to date?, reason) without building: for CI."""
    config = load_config(config_path)
    out = Path(output).absolute() if output else config.output
    shown = config.display_here(out)
    if not out.exists():
        return False, f"{shown} is missing: run `microml build {config.display_here(config.file)}`"
    record = read_record(out)
    if record is None or record.stamp is None:
        return False, f"{shown} has no microml stamp: it was not generated by microml build"
    files = input_files(config, recorded_modules(config, record))
    if record.stamp != input_digest(config, {}, files):
        changed = changed_inputs(config, record, files)
        what = f"inputs changed: {', '.join(changed)}" if changed else "its inputs or tool versions changed"
        return False, f"{shown} is stale: {what}; run `microml build`"
    return True, f"{shown} is up to date"

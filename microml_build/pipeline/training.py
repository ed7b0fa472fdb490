"""Runs the user's training (a script's `train(X, y)` or an inline estimator) and checks what comes back."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import random
import re
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import numpy as np

from microml_build.config import Config
from microml_build.errors import MicroMLError
from microml_build.pipeline.inputs import search_folders


def train(config: Config, X: np.ndarray, y: np.ndarray, quiet: bool = False):
    """Fit and return the estimator. The user's prints go to stderr so they never mix with our output;
    `quiet` captures them instead (Python's streams and file descriptors 1 and 2, so C extensions and
    warnings too) and attaches them to the error only when training fails.

    The global random generators are seeded first: an estimator left at random_state=None (an MLP, a
    forest) then trains the same model on every build, so the same inputs give the same header.
    """
    random.seed(0)
    np.random.seed(0)
    with (_captured(config) if quiet else contextlib.redirect_stdout(sys.stderr)):
        with _deadline(config.train.timeout, config):
            if config.train.script is not None:
                estimator = _run_script(config, X, y)
            else:
                estimator = _fit_inline(config, X, y)
        _check_fitted(estimator, config)
    return estimator


MAX_SHOWN_OUTPUT = 200      # lines of captured training output shown with an error


@contextlib.contextmanager
def _captured(config: Config):
    """Everything written to stdout and stderr goes to one temporary file; a MicroMLError leaving the block
    gets the file's last lines as details."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    fd, path = tempfile.mkstemp(prefix="microml-train-", suffix=".log")
    os.close(fd)
    saved = [os.dup(1), os.dup(2)]
    sink = os.open(path, os.O_WRONLY | os.O_APPEND)
    text = open(path, "a", encoding="utf-8", errors="replace", buffering=1)   # appends too: one ordered log
    try:
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            yield
    except MicroMLError as exc:
        text.flush()
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        if lines:
            what = config.display(config.train.script) if config.train.script else config.train.estimator
            cut = len(lines) - MAX_SHOWN_OUTPUT
            shown = (f"[... {cut} earlier lines]\n" if cut > 0 else "") + "\n".join(lines[-MAX_SHOWN_OUTPUT:])
            exc.details = ((exc.details.rstrip() + "\n") if exc.details else "") + \
                f"Output of {what} while training (captured by -q):\n{shown}"
        raise
    finally:
        text.close()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in (*saved, sink):
            os.close(descriptor)
        os.unlink(path)


class _Timeout(BaseException):
    """BaseException so a user's broad `except Exception` cannot swallow the deadline."""


# SIGALRM is POSIX (Linux, macOS). Windows has none: a timer thread interrupts the main thread there.
ALARM = hasattr(signal, "SIGALRM")


@contextlib.contextmanager
def _deadline(seconds: float, config: Config):
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread; no deadline elsewhere
        return
    try:
        with (_alarm if ALARM else _watchdog)(seconds):
            yield
    except _Timeout:
        raise MicroMLError(f"training took longer than {seconds:g} s", file=config.file.name, key="train.timeout",
                           fix="raise train.timeout, or make training faster (fewer rows, smaller model)") from None


@contextlib.contextmanager
def _alarm(seconds: float):
    def expire(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _watchdog(seconds: float):
    """Without SIGALRM: a timer thread raises SIGINT in the main thread (`_thread.interrupt_main`), which the
    handler here turns into the deadline; a real Ctrl-C stays a KeyboardInterrupt. The main thread sees it
    at its next Python instruction: a sleep or a long call inside a C extension finishes first."""
    import _thread

    expired = threading.Event()

    def interrupt(signum, frame):
        if expired.is_set():
            raise _Timeout()
        raise KeyboardInterrupt

    def fire():
        expired.set()
        _thread.interrupt_main(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, interrupt)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


def _run_script(config: Config, X, y):
    script = config.train.script
    shown = config.display(script)
    spec = importlib.util.spec_from_file_location(f"microml_user_train_{abs(hash(str(script)))}", script)
    module = importlib.util.module_from_spec(spec)
    folders = [str(folder) for folder in search_folders(config)]   # the script's folder, then the yaml's
    sys.path[0:0] = folders
    try:
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise MicroMLError(f"syntax error on line {exc.lineno}: {exc.msg}", file=shown,
                               fix="fix the script; `python " + shown + "` shows the same error") from None
        except (Exception, SystemExit) as exc:
            raise MicroMLError(f"the script failed while loading: {type(exc).__name__}: {exc}", file=shown,
                               fix="fix the error in your script (traceback below)",
                               details=_user_traceback(exc, script)) from None
        train_fn = getattr(module, "train", None)
        if not callable(train_fn):
            raise MicroMLError("no function train(X, y) defined", file=shown,
                               fix="define `def train(X, y):` that returns a fitted scikit-learn estimator")
        try:
            return train_fn(X, y)
        except SystemExit as exc:
            raise MicroMLError(f"train(X, y) tried to exit the process (sys.exit({exc.code!r}))", file=shown,
                               fix="return the fitted estimator from train() instead of exiting; raise an "
                               "exception to report a problem", details=_user_traceback(exc, script)) from None
        except Exception as exc:
            raise MicroMLError(f"train(X, y) raised {type(exc).__name__}: {exc}", file=shown,
                               fix="fix the error in your script (traceback below)",
                               details=_user_traceback(exc, script)) from None
    finally:
        for folder in folders:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


def _user_traceback(exc: BaseException, script: Path) -> str:
    """The traceback from the first frame in the user's script on: our frames are noise to them."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, f in enumerate(frames) if Path(f.filename) == script), 0)
    lines = traceback.format_list(frames[start:]) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


def _fit_inline(config: Config, X, y):
    dotted = config.train.estimator
    class_name = dotted.rpartition(".")[2]
    cls = _import_class(dotted, config, "train.estimator",
                        "check the spelling, e.g. sklearn.svm.SVC or sklearn.linear_model.LogisticRegression")
    from microml_build.lower import LOWERINGS, supported_estimators

    if cls.__module__.split(".")[0] == "sklearn" and (cls.__module__, cls.__name__) not in LOWERINGS:
        raise MicroMLError(f"{cls.__name__} is not supported yet", file=config.file.name, key="train.estimator",
                           fix="supported estimators: " + ", ".join(supported_estimators()))
    params = _with_sub_estimators(config)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise MicroMLError(f"{class_name} does not take these parameters: {exc}", file=config.file.name,
                           key="train.params", fix=_parameter_hint(cls, config.train.params)) from None
    _check_label_kind(estimator, y, config)
    _check_missing(estimator, X, config)
    try:
        return estimator.fit(X, y)
    except Exception as exc:
        if y.ndim == 2:
            raise MicroMLError(f"{class_name} could not fit {y.shape[1]} outputs ({type(exc).__name__}: {exc})",
                               file=config.file.name, key="dataset.label",
                               fix="use one label column, or a regressor that predicts several outputs (Ridge, "
                               "LinearRegression, MultiTaskLasso, DecisionTreeRegressor, RandomForestRegressor, "
                               "ExtraTreesRegressor, MLPRegressor)") from None
        raise MicroMLError(f"{class_name}.fit failed: {type(exc).__name__}: {exc}", file=config.file.name,
                           key="train.params", fix="check the parameter values") from None


# Parameters of meta-estimators (searches, one-vs-rest, calibration, voting, target transforms) that take an
# estimator: in the yaml they name it (`estimator: SVC`, or `estimator: {SVC: {kernel: linear}}` with its own
# parameters), `estimators:` a list of such names.
SUB_ESTIMATORS = ("estimator", "regressor", "transformer")


def _with_sub_estimators(config: Config) -> dict:
    """train.params with every estimator named in a meta-estimator's parameters built."""
    params = dict(config.train.params)
    for key in SUB_ESTIMATORS:
        if key in params and isinstance(params[key], (str, dict)):
            params[key] = _build_named(params[key], config, f"train.params.{key}")
    if isinstance(params.get("estimators"), list):
        built = [_build_named(item, config, f"train.params.estimators[{i}]")
                 for i, item in enumerate(params["estimators"])]
        names = [type(e).__name__.lower() for e in built]
        params["estimators"] = [(name if names.count(name) == 1 else f"{name}{i}", e)
                                for i, (name, e) in enumerate(zip(names, built))]
    return params


def _build_named(spec, config: Config, key: str):
    """`SVC`, `sklearn.svm.SVC` or `{SVC: {kernel: linear}}` -> the estimator, constructed."""
    from microml_build.config import _supported_path
    from microml_build.lower.preprocessing import STEPS

    shown = config.file.name
    if isinstance(spec, dict):
        if len(spec) != 1 or not isinstance(next(iter(spec)), str) or not isinstance(next(iter(spec.values())),
                                                                                     (dict, type(None))):
            raise MicroMLError("expected an estimator's name, or one name mapped to its parameters", file=shown,
                               key=key, fix="e.g. estimator: SVC   or   estimator: {SVC: {kernel: linear}}")
        name, params = next(iter(spec.items()))
    else:
        name, params = spec, None
    steps = {cls_name: module for module, cls_name in STEPS}
    if re.fullmatch(r"[A-Za-z_]\w*", name):
        if name in steps:
            name = f"{steps[name].split('._')[0]}.{name}"
        else:
            try:
                name = _supported_path(name, shown)
            except MicroMLError as exc:
                exc.key = key
                raise
    cls = _import_class(name, config, key, "name a supported estimator (SVC, LogisticRegression, ...) or give its "
                        "dotted path")
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        raise MicroMLError(f"{cls.__name__} does not take these parameters: {exc}", file=shown, key=key,
                           fix=_parameter_hint(cls, params or {})) from None


def _import_class(dotted: str, config: Config, key: str, fix: str) -> type:
    """The class at `dotted`, imported with the yaml's folder on the path (a class of the user's own, as for
    train.script), or an error naming the yaml key."""
    module_name, _, class_name = dotted.rpartition(".")
    folder = str(config.file.parent)
    sys.path.insert(0, folder)
    try:
        if class_name.startswith("Halving") and module_name == "sklearn.model_selection":
            importlib.import_module("sklearn.experimental.enable_halving_search_cv")   # still experimental
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        raise MicroMLError(f"cannot import '{dotted}'", file=config.file.name, key=key, fix=fix) from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    if not isinstance(cls, type):
        raise MicroMLError(f"'{dotted}' is not a class", file=config.file.name, key=key,
                           fix="name an estimator class, e.g. sklearn.svm.SVC")
    return cls


def _parameter_hint(cls, params: dict) -> str:
    """Did-you-mean for a misspelt parameter, from the class's own parameter names."""
    import difflib
    import inspect

    try:
        known = [name for name in inspect.signature(cls).parameters if name not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        known = []
    for name in params:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                return f"did you mean '{close[0]}'? {cls.__name__} takes: {', '.join(known)}"
    return (f"{cls.__name__} takes: {', '.join(known)}" if known else
            f"see the {cls.__name__} documentation for its parameter names")


def _check_label_kind(estimator, y: np.ndarray, config: Config) -> None:
    """Classes for a classifier, numbers for a regressor: say so against the label, not the parameters."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils.multiclass import type_of_target

    name = type(estimator).__name__
    try:
        regressor, classifier = is_regressor(estimator), is_classifier(estimator)
    except Exception:     # not a scikit-learn estimator (a class of the user's own): its fit() will tell
        return
    kind = type_of_target(y)
    if regressor and y.dtype.kind in "USOb":
        raise MicroMLError(f"{name} is a regressor, but the labels are classes (e.g. {y[0]!s})",
                           file=config.file.name, key="dataset.label",
                           fix="pick a classifier for train.estimator, or a numeric label column")
    if classifier and kind in ("continuous", "continuous-multioutput"):
        raise MicroMLError(f"{name} is a classifier, but the labels are continuous numbers (e.g. {y[0]!s})",
                           file=config.file.name, key="dataset.label",
                           fix="pick a regressor for train.estimator, or a label column of classes")


def _check_missing(estimator, X: np.ndarray, config: Config) -> None:
    """NaN in X (dataset.missing: nan) only for an estimator that takes it."""
    if not np.isnan(X).any():
        return
    try:
        from sklearn.utils import get_tags

        allow_nan = get_tags(estimator).input_tags.allow_nan
    except Exception:      # scikit-learn < 1.6, or not a scikit-learn estimator: fit() will say
        return
    if not allow_nan:
        raise MicroMLError(f"{type(estimator).__name__} does not accept missing values (NaN)", file=config.file.name,
                           key="dataset.missing", fix="pick one that does (DecisionTree*, RandomForest*, ExtraTrees*, "
                           "HistGradientBoosting*), or fill in the missing values and set dataset.missing: error")


def _check_fitted(estimator, config: Config) -> None:
    where = config.display(config.train.script) if config.train.script else config.file.name
    key = None if config.train.script else "train.estimator"
    if estimator is None:
        raise MicroMLError("train(X, y) returned None", file=where, key=key,
                           fix="end train() with `return model` after `model.fit(X, y)`")
    if hasattr(estimator, "cv_results_") and not hasattr(estimator, "best_estimator_"):
        name = type(estimator).__name__
        raise MicroMLError(f"{name}(refit=False) keeps no best_estimator_, so it has no fitted model to convert",
                           file=where, key=key, fix=f"fit the {name} with refit=True (the default)")
    if not (hasattr(estimator, "predict") and hasattr(estimator, "get_params")):
        raise MicroMLError(f"train(X, y) returned a {type(estimator).__name__}, not a scikit-learn estimator",
                           file=where, key=key, fix="return the fitted estimator itself, e.g. `return model.fit(X, y)`")
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise MicroMLError(f"the returned {type(estimator).__name__} is not fitted", file=where, key=key,
                           fix="call model.fit(X, y) before returning it") from None

"""`microml watch [CONFIG...]`: rebuild a config's header whenever one of its inputs changes, until Ctrl-C.

For builds without a pre-build hook (the Arduino IDE, arduino-cli): leave it running beside the
editor and the header in the sketch folder follows the yaml, the dataset and the training script.
The inputs are what `microml deps` prints (`Config.input_files()`), re-read after every build, so
pointing the yaml at another CSV moves the watch with it.

File events come from watchdog (inotify, FSEvents, ReadDirectoryChangesW): one observer on the
folders holding the inputs, its events filtered to the inputs themselves (the header the build
writes, editors' swap files and reads of the inputs are not changes). Editors save with several
events (truncate and write, or write a temporary file and rename it over the old one), so a config
is rebuilt once its inputs have been quiet for `debounce` seconds: one build per save. A failing
build is reported and watching goes on; `microml build` never replaces the last good header with a
failed one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from microml_build.config import config_file, located
from microml_build.errors import MicroMLError

DEBOUNCE = 0.3               # seconds of quiet after the last event before a rebuild
# watchdog event types that mean the bytes (or the existence) of a file changed; "opened" and
# "closed_no_write" are reads, which every build does to its own inputs.
CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed"})


class Watcher:
    """The watch loop's state, driven by file events (`notify`) and time (`build_due`).

    `build(config_path)` builds one config (default: `microml build` with `log`) and raises
    MicroMLError on failure. `run()` wires it to a watchdog observer; tests may drive
    `notify`/`build_due` directly with their own clock.
    """

    def __init__(self, configs: list[str | Path], *, build: Callable[[Path], object] | None = None, log=None,
                 debounce: float = DEBOUNCE, clock: Callable[[], float] = time.monotonic):
        from microml_build.pipeline.build import Log, build as build_header

        self.log = log or Log()
        self._build = build or (lambda path: build_header(path, log=self.log))
        self.debounce = debounce
        self.clock = clock
        self.configs: list[Path] = []
        for config in configs:
            path = config_file(config)      # a folder stands for its microml.yaml, as in build
            if not path.is_file():
                raise MicroMLError("no such file", file=str(config),
                                   fix="pass the microml.yaml to watch (microml watch path/to/microml.yaml)")
            if path not in self.configs:
                self.configs.append(path)
        self.inputs: dict[Path, frozenset[Path]] = {c: self._inputs_of(c, frozenset()) for c in self.configs}
        self.pending: dict[Path, tuple[float, Path]] = {}   # config -> (build after, the file that changed)
        self.builds: list[tuple[Path, bool]] = []           # (config, succeeded), in order
        self._lock = threading.Lock()
        self.wakeup = threading.Event()

    # -- what is watched ----------------------------------------------------------------------

    @staticmethod
    def _inputs_of(config: Path, previous: frozenset[Path]) -> frozenset[Path]:
        """The config's input files, resolved; the previous set (plus the yaml) while the yaml is invalid."""
        from microml_build.config import load_config

        try:
            files = load_config(config).input_files()
        except MicroMLError:
            return previous | {config.resolve()}
        return frozenset(Path(os.path.realpath(p)) for p in files) | {config.resolve()}

    def folders(self) -> set[Path]:
        """The folders the observer must watch (non-recursively)."""
        return {path.parent for inputs in self.inputs.values() for path in inputs if path.parent.is_dir()}

    # -- events and builds --------------------------------------------------------------------

    def notify(self, path: str | Path) -> bool:
        """A file changed (called from the observer's thread); True if it is an input of a config."""
        path = Path(os.path.realpath(path))
        now = self.clock()
        hit = False
        with self._lock:
            for config, inputs in self.inputs.items():
                if path in inputs:
                    self.pending[config] = (now + self.debounce, path)
                    hit = True
        if hit:
            self.wakeup.set()
        return hit

    def next_due(self) -> float | None:
        with self._lock:
            return min((due for due, _ in self.pending.values()), default=None)

    def build_due(self, now: float | None = None) -> list[Path]:
        """Rebuild every config whose inputs have been quiet for `debounce` seconds; returns them."""
        now = self.clock() if now is None else now
        with self._lock:
            due = [(config, changed) for config, (when, changed) in self.pending.items() if when <= now]
            for config, _ in due:
                del self.pending[config]
        for config, changed in sorted(due, key=lambda item: self.configs.index(item[0])):
            self.rebuild(config, changed)
        return [config for config, _ in due]

    def rebuild(self, config: Path, changed: Path | None = None) -> bool:
        """Build one config now; report a failure and carry on. Returns whether it succeeded."""
        if changed is not None:
            self.log.info(f"{_shown(changed)} changed: rebuilding {_shown(config)}")
        ok = False
        try:
            self._build(config)
            ok = True
        except MicroMLError as exc:
            print(f"[microml] error: {located(exc, config)}", file=self.log.stream, flush=True)
        except Exception:  # a MicroML bug: show it, keep watching
            print("[microml] error: the build crashed (a MicroML bug, please report it):\n"
                  + traceback.format_exc().rstrip(), file=self.log.stream, flush=True)
        if not ok:
            print(f"[microml] the previous header was kept; watching {_shown(config)} for the next change",
                  file=self.log.stream, flush=True)
        with self._lock:
            self.inputs[config] = self._inputs_of(config, self.inputs[config])
        self.builds.append((config, ok))
        return ok

    # -- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, ready: Callable[[], None] | None = None) -> None:
        """Build every config once (up-to-date ones are skipped), then rebuild on changes until `stop`
        is set or Ctrl-C (KeyboardInterrupt propagates, after the observer is stopped)."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.is_directory or event.event_type not in CHANGES:
                    return
                watcher.notify(os.fsdecode(event.src_path))
                if getattr(event, "dest_path", ""):
                    watcher.notify(os.fsdecode(event.dest_path))

        stop = stop or threading.Event()
        observer = Observer()
        handler = Handler()
        scheduled: set[Path] = set()

        def schedule() -> None:
            for folder in sorted(self.folders() - scheduled):
                observer.schedule(handler, str(folder), recursive=False)
                scheduled.add(folder)

        schedule()
        observer.start()
        try:
            for config in self.configs:
                self.rebuild(config)
            schedule()
            files = sorted({p for inputs in self.inputs.values() for p in inputs})
            self.log.info(f"watching {len(files)} input{'s' if len(files) != 1 else ''} of "
                          f"{', '.join(_shown(c) for c in self.configs)}; Ctrl-C stops")
            if ready is not None:
                ready()
            while not stop.is_set():
                due = self.next_due()
                wait = 0.5 if due is None else min(0.5, max(0.0, due - self.clock()))
                self.wakeup.wait(wait)
                self.wakeup.clear()
                if self.build_due():
                    schedule()
        finally:
            observer.stop()
            observer.join()


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is inside it, else absolute."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def watch(configs: list[str], log=None) -> int:
    """`microml watch`: runs until Ctrl-C, then exits 0 with a line saying so."""
    watcher = Watcher(configs, log=log)
    try:
        watcher.run()
    except KeyboardInterrupt:
        print("[microml] stopped watching (Ctrl-C)", file=watcher.log.stream, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(watch(sys.argv[1:] or ["microml.yaml"]))

"""Input hashing, the stamp a header is current for, the build lock, atomic writes and depfiles.

The header records a hash of everything that decides its bytes (our code and version, the library
versions, the yaml, the dataset, the script, the project modules the training imported, `train.inputs`,
the command-line overrides). Same hash: nothing to do, and the file is not touched.

When inputs change but the model does not (a comment in train.py, a touched CSV), the header keeps its
bytes and mtime, so nothing that includes it recompiles, and the new hashes go to a small stamp file
beside it, `<header>.stamp` (JSON). `read_stamp`/`read_record` read that file when it belongs to the
header's current bytes, else the header's own provenance. A header written somewhere other than the
yaml's `output:` (a build tree) always gets a stamp file, naming the yaml for `microml explain`.

Writes go to a temp file in the target folder, renamed over the target in one step, so a reader (or a
killed build) sees the old file or the new one, never half of one. Portable: Linux, macOS and Windows,
each platform-specific piece with a fallback that tests force on Linux (see tests/core/test_portable.py).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from microml_build import __version__
from microml_build.config import Config
from microml_build.errors import MicroMLError

try:                                    # POSIX: advisory locks the kernel drops when the holder dies
    import fcntl
except ImportError:                     # pragma: no cover -- Windows
    fcntl = None
try:                                    # Windows: byte-range locks, also dropped with the process
    import msvcrt
except ImportError:
    msvcrt = None

FACTS_KEY = "microml-facts"
TEMP_MARK = ".microml-tmp-"
STAMP_SUFFIX = ".stamp"
STAMP_FORMAT = 1
HEAD_CHARS = 16384                      # the provenance comment lives at the top of the header

# Provenance lines that record an input: "Config:  microml.yaml  sha256 c4a94e9476fadd86".
PROVENANCE_LINE = re.compile(r"^ \* ([A-Za-z][A-Za-z -]*?):\s+(.*)$")
HASHED = re.compile(r"^(?P<path>.+?)\s+sha256 (?P<digest>[0-9a-f]{16})$")
INPUT_KEYS = ("Config", "Dataset", "Script", "Module", "Input")
# What differs between two headers of the same model built from differently-hashed inputs.
_MASKED = re.compile(r"^( \* (?:%s):\s+.*?\s+sha256 )[0-9a-f]{16}$|(microml-stamp: )[0-9a-f]{64}" % "|".join(INPUT_KEYS),
                     re.M)


# ---------------------------------------------------------------------------------------------
# Hashing


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    """Versions that can change the trained model or the generated C."""
    from importlib import metadata      # here, not at the top: `microml deps` never needs it (0.02 s)

    versions = {"microml_build": __version__, "python": "%d.%d" % sys.version_info[:2]}
    for dist in ("scikit-learn", "numpy", "scipy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return versions


@functools.lru_cache(maxsize=1)
def generator_digest() -> str:
    """A hash of MicroML's own code (Python and C helpers), so a changed emitter regenerates even
    without a version bump (editable installs, development checkouts)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".c", ".h") and p.is_file()
                       and p.relative_to(package).parts[0] not in ("cmake", "platformio_hook")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def relative(path: Path, root: Path) -> str:
    """`path` as seen from the folder `root` (with `..` where needed), `/`-separated: the same on every
    machine and checkout. Absolute only across Windows drives."""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return path.as_posix()


def input_digest(config: Config, overrides: dict[str, str], files: list[Path] | None = None) -> str:
    """One hash over the tool versions, MicroML's code, the overrides and the bytes of every input file
    (`files`, default: those the yaml names), each named relative to the yaml; no absolute paths or times."""
    digest = hashlib.sha256()
    digest.update(f"generator={generator_digest()}\n".encode())
    for key, value in sorted(tool_versions().items()) + sorted(overrides.items()):
        digest.update(f"{key}={value}\n".encode())
    digest.update(f"dataset={config.dataset.path}\n".encode())
    for path in config.input_files() if files is None else files:
        try:
            content = file_digest(path)
        except OSError:
            content = "missing"
        digest.update(f"{relative(path, config.root)}:{content}\n".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# What a header is current for: its stamp file, else its own provenance


@dataclass
class Record:
    """What was recorded when a header was last built or confirmed."""

    stamp: str | None                        # the input digest the header is current for
    inputs: dict[str, str] = field(default_factory=dict)   # input (relative to the yaml) -> sha256 or its prefix
    modules: list[str] = field(default_factory=list)       # project modules the training imported (relative)
    config: Path | None = None               # the yaml that writes the header, when a stamp file names it
    stamp_file: Path | None = None           # where the record came from; None: the header's provenance


def stamp_file(header: Path) -> Path:
    """The header's stamp file: beside it, `<name>.stamp`."""
    return header.with_name(header.name + STAMP_SUFFIX)


def read_stamp(header: Path) -> str | None:
    """The input digest this header is current for (from its stamp file if that belongs to the header's
    bytes, else the header's own stamp line), or None."""
    record = read_record(header)
    return record.stamp if record else None


@dataclass(frozen=True)
class HeaderInfo:
    """What a generated header says about itself: its provenance lines, its facts and its stamp."""

    lines: tuple[tuple[str, str], ...]   # (key, value) of each ` * Key:  value` line, in order (Module repeats)
    facts: dict                           # `build.header_facts`: name, n_features, tables, code, measured figures
    stamp: str | None                     # the input digest it was generated from

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.lines)


def parse_header(text: str) -> HeaderInfo:
    """The one parser of a header's opening comment: provenance lines, the facts JSON, the stamp."""
    lines = []
    for line in text.split("*/", 1)[0].splitlines():
        match = PROVENANCE_LINE.match(line)
        if match:
            lines.append((match.group(1), match.group(2).strip()))
    fields = dict(lines)
    try:
        facts = json.loads(fields.get(FACTS_KEY, "{}"))
    except ValueError:
        facts = {}
    stamp = re.match(r"[0-9a-f]{64}", fields.get("microml-stamp", ""))
    return HeaderInfo(tuple(lines), facts if isinstance(facts, dict) else {}, stamp.group(0) if stamp else None)


def read_header(header: Path) -> HeaderInfo:
    """`parse_header` of the header on disk; empty when it cannot be read."""
    try:
        with header.open("r", encoding="utf-8", errors="replace") as handle:
            return parse_header(handle.read(HEAD_CHARS))
    except OSError:
        return HeaderInfo((), {}, None)


def read_record(header: Path) -> Record | None:
    """The header's record: its valid stamp file, else its provenance comment; None if it cannot be read."""
    try:
        data = header.read_bytes()
    except OSError:
        return None
    sidecar = _read_stamp_file(stamp_file(header), hashlib.sha256(data).hexdigest())
    if sidecar is not None:
        return sidecar
    info = parse_header(data[:HEAD_CHARS * 4].decode("utf-8", errors="replace")[:HEAD_CHARS])
    inputs, modules = {}, []
    for key, value in info.lines:
        hashed = HASHED.match(value)
        if key in INPUT_KEYS and hashed:
            path = _unescape(hashed.group("path"))
            inputs[path] = hashed.group("digest")
            if key == "Module":
                modules.append(path)
    return Record(info.stamp, inputs, modules)


def _unescape(text: str) -> str:
    """Undo `cnames.comment_text`'s \\uXXXX escapes of non-ASCII path characters."""
    return re.sub(r"\\u([0-9a-f]{4})|\\U([0-9a-f]{8})", lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _read_stamp_file(path: Path, header_sha256: str) -> Record | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != STAMP_FORMAT or data.get("header_sha256") != header_sha256:
        return None              # another header's (or an older build's) record: the header speaks for itself
    config = data.get("config")
    return Record(stamp=data.get("stamp"), inputs=dict(data.get("inputs", {})), modules=list(data.get("modules", [])),
                  config=(path.parent / config).resolve() if isinstance(config, str) else None, stamp_file=path)


def recorded_modules(config: Config, record: Record | None) -> list[Path]:
    """The project modules a header's last build loaded, as files (resolved against the yaml's folder)."""
    return [(config.root / module).resolve() for module in record.modules] if record else []


def changed_inputs(config: Config, record: Record, files: list[Path]) -> list[str]:
    """Inputs whose bytes differ from the record ('x (missing)' if gone, 'x (new)' if not recorded)."""
    recorded = {(config.root / name).resolve(): digest for name, digest in record.inputs.items()}
    changed = []
    for path, digest in recorded.items():
        try:
            now = file_digest(path)
        except OSError:
            changed.append(f"{relative(path, config.root)} (missing)")
            continue
        if not now.startswith(digest):
            changed.append(relative(path, config.root))
    changed += [f"{relative(path, config.root)} (new)" for path in files if path.resolve() not in recorded]
    return changed


def provenance_inputs(config: Config, modules: list[Path]) -> list[tuple[str, str]]:
    """Header lines for the inputs beyond yaml, dataset and script: one `Module` line per project module
    the training imported (so the next build hashes even those loaded dynamically), one `Input` line per
    `train.inputs` file."""
    lines = [("Module", f"{relative(path, config.root)}  sha256 {file_digest(path)[:16]}") for path in modules]
    lines += [("Input", f"{relative(path, config.root)}  sha256 {file_digest(path)[:16]}")
              for path in config.train.inputs]
    return lines


def same_model(old: str, new: str) -> bool:
    """Whether two header texts differ only in the input hashes they record (so the model, the C and every
    other provenance line are the same)."""
    return _MASKED.sub(_mask, old) == _MASKED.sub(_mask, new)


def _mask(match: re.Match) -> str:
    return (match.group(1) or match.group(2)) + "#"


def write_stamp_file(header: Path, config: Config, digest: str, files: list[Path], modules: list[Path]) -> Path:
    """Record that `header`'s current bytes are up to date for these inputs (written only if it changes)."""
    path = stamp_file(header)
    record = {
        "format": STAMP_FORMAT,
        "header": header.name,
        "header_sha256": file_digest(header),
        "stamp": digest,
        "config": relative(config.file, header.parent),
        "inputs": {relative(p, config.root): file_digest(p) for p in files if p.is_file()},
        "modules": [relative(p, config.root) for p in modules],
        "generator": f"microml_build {__version__}",
    }
    write_if_changed(path, json.dumps(record, indent=2, sort_keys=True) + "\n", what="stamp file")
    return path


def remove_stamp_file(header: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        stamp_file(header).unlink()


def touch(path: Path) -> None:
    """A file whose mtime says "the generator last succeeded now", for build tools without restat (Make)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
        os.utime(path, None)
    except OSError as exc:
        raise _write_error(path, exc, "stamp file") from None


# ---------------------------------------------------------------------------------------------
# The build lock


def _lock_method() -> str:
    """flock on POSIX, msvcrt.locking on Windows, else an exclusive-create lock file."""
    if fcntl is not None:
        return "flock"
    if msvcrt is not None:
        return "msvcrt"
    return "lockfile"


@contextlib.contextmanager
def build_lock(output: Path):
    """Serialise builds of one header across processes (two PlatformIO envs, make -j).

    The lock lives in the system temp folder, keyed by the header's absolute path, so the source tree
    stays clean. flock and msvcrt locks die with their holder; the lock-file fallback removes a lock
    whose owner is gone.
    """
    folder = lock_folder()
    folder.mkdir(exist_ok=True)
    key = hashlib.sha256(os.path.normcase(str(output.resolve())).encode()).hexdigest()[:24]
    path = folder / f"{key}.lock"
    method = _lock_method()
    if method == "lockfile":
        with _lockfile(path.with_suffix(".owner")):
            yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if method == "flock":
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            _msvcrt_lock(fd)
        try:
            yield
        finally:
            if method == "flock":
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)


def lock_folder() -> Path:
    """Where build locks live: the system temp folder (`%TEMP%` on Windows), never the source tree."""
    import tempfile

    return Path(tempfile.gettempdir()) / "microml-locks"


LOCK_POLL = 0.05


def _msvcrt_lock(fd: int) -> None:
    """Block until byte 0 of the lock file is ours. (LK_LOCK gives up after 10 s; builds take longer.)"""
    while True:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            time.sleep(LOCK_POLL)


STALE_LOCK_SECONDS = 24 * 3600


@contextlib.contextmanager
def _lockfile(path: Path):
    """A lock held by whoever created `path` (O_EXCL); it names its owner's pid, so a dead owner's lock is
    removed. Where a pid cannot be checked, a lock older than a day counts as abandoned."""
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            if _abandoned(path):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            time.sleep(LOCK_POLL)
            continue
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        break
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _abandoned(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8").strip()
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False                    # just released (or not yet written): try again
    if os.name == "posix" and text.isdigit():
        try:
            os.kill(int(text), 0)       # signal 0: existence check only (on Windows os.kill terminates)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return age > STALE_LOCK_SECONDS


def remove_stale_temps(folder: Path, target_name: str) -> None:
    """Temp files a killed build left behind. Call with the build lock held: then no live process is
    writing this target, so every temp file of it is stale."""
    if not folder.is_dir():
        return
    for stale in folder.glob(f".{target_name}{TEMP_MARK}*"):
        with contextlib.suppress(OSError):
            stale.unlink()


# ---------------------------------------------------------------------------------------------
# Atomic writes


def atomic_write(path: Path, text: str, *, what: str = "header") -> None:
    """Replace `path` with `text` in one rename; on any failure the old file is untouched."""
    data = text.encode("utf-8")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(path, exc, what) from None
    temp = folder / f".{path.name}{TEMP_MARK}{os.getpid()}"
    try:
        if not _write_unnamed_then_link(folder, temp, data):
            _write_named(temp, data)
        os.chmod(temp, 0o666 & ~_umask())
        _replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise _write_error(path, exc, what) from None


def write_if_changed(path: Path, text: str, *, what: str) -> bool:
    """atomic_write unless `path` already holds `text` (then its mtime stays). True if written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text, what=what)
    return True


def _unnamed_temp_files() -> bool:
    """Linux: O_TMPFILE plus linkat through /proc. Elsewhere (macOS, Windows, no /proc) a named temp."""
    return hasattr(os, "O_TMPFILE") and sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


def _write_unnamed_then_link(folder: Path, temp: Path, data: bytes) -> bool:
    """Write into an O_TMPFILE inode (invisible until linked) so a kill mid-write leaves nothing; False
    when this system cannot (the caller writes a named temp file instead)."""
    if not _unnamed_temp_files():
        return False
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
    except OSError:
        return False                     # a file system without O_TMPFILE
    try:
        _write_all(fd, data)
        os.fsync(fd)
        try:
            _link_fd(fd, temp)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                raise
            return False                 # no linkat, or /proc not usable: fall back
    finally:
        os.close(fd)
    return True


def _write_named(temp: Path, data: bytes) -> None:
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _link_fd(fd: int, path: Path) -> None:
    """linkat(/proc/self/fd/N, path, AT_SYMLINK_FOLLOW): give an O_TMPFILE inode a name.

    Through libc because os.link on Python < 3.13 calls link(), which does not follow the
    /proc magic link (bpo-41355).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    if libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, os.fsencode(path), at_symlink_follow) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(path))


# Windows refuses to replace a file another process has open without FILE_SHARE_DELETE (an editor,
# a virus scanner, the compiler reading the header): wait a little and retry.
RETRY_REPLACE = os.name == "nt"
REPLACE_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def _replace(temp: Path, path: Path) -> None:
    for delay in (*REPLACE_DELAYS, None) if RETRY_REPLACE else (None,):
        try:
            os.replace(temp, path)
            return
        except PermissionError:
            if delay is None:
                raise
            time.sleep(delay)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_error(path: Path, exc: OSError, what: str) -> MicroMLError:
    reason = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
              errno.EROFS: "the file system is read-only", errno.EDQUOT: "the disk quota is exceeded"}.get(
        exc.errno, exc.strerror or str(exc))
    if isinstance(exc, PermissionError) and RETRY_REPLACE:
        reason += " (another program keeps the file open)"
    return MicroMLError(f"cannot write the {what}: {reason}", file=str(path),
                        fix="free space or fix the folder's permissions; the previous file was kept")


# ---------------------------------------------------------------------------------------------
# Depfiles


def depfile_text(output: Path, inputs: list[Path], windows: bool | None = None) -> str:
    """A Make-style depfile, `output: input ...`. Spaces, `#`, `$` and (POSIX) backslashes escaped; on
    Windows paths are written with `/`, which Ninja, CMake and Make all read, so no backslash is ambiguous."""
    windows = os.name == "nt" if windows is None else windows

    def escape(path) -> str:
        text = PureWindowsPath(path).as_posix() if windows else str(path)
        return text.replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")

    return escape(output) + ": " + " ".join(escape(p) for p in inputs) + "\n"


def write_depfile(depfile: Path, output: Path, inputs: list[Path]) -> None:
    """The depfile for Ninja/Make DEPFILE support; rewritten only when it changes."""
    write_if_changed(depfile, depfile_text(output, inputs), what="depfile")

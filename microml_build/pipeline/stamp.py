"""Input hashing, the stamp line in the header, the build lock, and atomic writes.

The header records a hash of everything that decides its bytes (our version, the
library versions, the yaml, the dataset, the script, the command-line overrides).
Same hash: nothing to do, and the file is not touched. Writes go to an unnamed temp
file in the target folder that is linked in and renamed over the header in one step,
so a reader (or a killed build) sees the old header or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import json
import re
import sys
import tempfile
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path

from microml_build import __version__
from microml_build.config import Config
from microml_build.errors import MicroMLError

FACTS_KEY = "microml-facts"
FIELD = re.compile(r"^ \* ([A-Za-z][A-Za-z -]*?):\s+(.*)$")
TEMP_MARK = ".microml-tmp-"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    """Versions that can change the trained model or the generated C."""
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


def input_digest(config: Config, overrides: dict[str, str]) -> str:
    """One hash over the tool versions, MicroML's code, every input file's bytes and the overrides;
    no paths or times."""
    digest = hashlib.sha256()
    digest.update(f"generator={generator_digest()}\n".encode())
    for key, value in sorted(tool_versions().items()) + sorted(overrides.items()):
        digest.update(f"{key}={value}\n".encode())
    digest.update(f"dataset={config.dataset.path}\n".encode())
    for path in config.input_files():
        digest.update(f"{path.name}:{file_digest(path)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class HeaderInfo:
    """What a generated header says about itself: its provenance fields, its facts and its stamp."""

    fields: dict           # provenance: "Config" -> "microml.yaml  sha256 ...", ...
    facts: dict            # `build.header_facts`: name, n_features, tables, code, measured figures, ...
    stamp: str | None      # the input digest it was generated from


def parse_header(text: str) -> HeaderInfo:
    """The one parser of a header's opening comment (provenance lines, facts JSON, stamp)."""
    fields: dict[str, str] = {}
    for line in text.split("*/", 1)[0].splitlines():
        match = FIELD.match(line)
        if match:
            fields[match.group(1)] = match.group(2).strip()
    try:
        facts = json.loads(fields.get(FACTS_KEY, "{}"))
    except ValueError:
        facts = {}
    stamp = re.match(r"[0-9a-f]{64}", fields.get("microml-stamp", ""))
    return HeaderInfo(fields, facts if isinstance(facts, dict) else {}, stamp.group(0) if stamp else None)


def read_header(header: Path) -> HeaderInfo:
    """`parse_header` of the header on disk (its first 16 KB); empty when it cannot be read."""
    try:
        with header.open("r", encoding="utf-8", errors="replace") as handle:
            return parse_header(handle.read(16384))
    except OSError:
        return HeaderInfo({}, {}, None)


def read_stamp(header: Path) -> str | None:
    """The stamp recorded in an existing header, or None."""
    return read_header(header).stamp


@contextlib.contextmanager
def build_lock(output: Path):
    """Serialise builds of one header across processes (two PlatformIO envs, make -j).

    The lock file lives in the system temp folder, keyed by the header's absolute path,
    so the source tree stays clean; the kernel drops the lock if the holder dies.
    """
    folder = Path(tempfile.gettempdir()) / "microml-locks"
    folder.mkdir(exist_ok=True)
    key = hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:24]
    with open(folder / f"{key}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temps(folder: Path, target_name: str) -> None:
    """Temp files a killed build left behind (only the named fallback can leave any)."""
    if not folder.is_dir():
        return
    for stale in folder.glob(f".{target_name}{TEMP_MARK}*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                stale.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        _write_unnamed_then_link(folder, temp, data)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise _write_error(path, exc, what) from None


def _write_unnamed_then_link(folder: Path, temp: Path, data: bytes) -> None:
    """Write into an O_TMPFILE inode (invisible until linked) so a kill mid-write leaves nothing."""
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
    except (AttributeError, OSError):
        fd = None
    if fd is None:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        linked = True
    else:
        linked = False
    try:
        _write_all(fd, data)
        os.fsync(fd)
        if not linked:
            _link_fd(fd, temp)
    finally:
        os.close(fd)
    mode = 0o666 & ~_umask()
    os.chmod(temp, mode)


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_error(path: Path, exc: OSError, what: str) -> MicroMLError:
    reason = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
              errno.EROFS: "the file system is read-only", errno.EDQUOT: "the disk quota is exceeded"}.get(
        exc.errno, exc.strerror or str(exc))
    return MicroMLError(f"cannot write the {what}: {reason}", file=str(path),
                        fix="free space or fix the folder's permissions; the previous file was kept")


def write_depfile(depfile: Path, output: Path, inputs: list[Path]) -> None:
    """A Make-style depfile (`output: input ...`) for Ninja/Make DEPFILE support; spaces escaped."""
    def escape(path: Path) -> str:
        return str(path).replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")

    text = escape(output) + ": " + " ".join(escape(p) for p in inputs) + "\n"
    try:
        if depfile.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    atomic_write(depfile, text, what="depfile")

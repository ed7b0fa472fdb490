"""The Windows and macOS code paths of the build lock, atomic writes and depfiles, forced on Linux.

Linux takes flock + O_TMPFILE; macOS has flock but no O_TMPFILE (a named temp file); Windows has
neither fcntl nor O_TMPFILE (msvcrt.locking, a named temp file, and os.replace that may meet a file
another program holds open). Each branch is taken here by hiding what Linux has. msvcrt does not
exist on Linux: a stand-in with its interface, backed by POSIX record locks, runs the Windows
locking code.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path, PureWindowsPath

import pytest

from microml_build.errors import MicroMLError
from microml_build.pipeline import stamp
from microml_build.pipeline.build import Log, build

REPO = Path(__file__).resolve().parents[2]

# Runs in a child process: take the lock with the given method, report when it was held.
LOCKER = """
import fcntl, json, os, sys, time, types
from pathlib import Path
from microml_build.pipeline import stamp

method, target = sys.argv[1], Path(sys.argv[2])
if method != "flock":
    stamp.fcntl = None
if method == "msvcrt":
    fake = types.SimpleNamespace(LK_UNLCK=0, LK_NBLCK=2)
    def locking(fd, mode, nbytes):          # msvcrt.locking semantics: from the current position
        start = os.lseek(fd, 0, os.SEEK_CUR)
        op = fcntl.LOCK_UN if mode == fake.LK_UNLCK else fcntl.LOCK_EX | fcntl.LOCK_NB
        fcntl.lockf(fd, op, nbytes, start, os.SEEK_SET)   # raises OSError when held elsewhere
    fake.locking = locking
    stamp.msvcrt = fake
else:
    stamp.msvcrt = None
assert stamp._lock_method() == method
with stamp.build_lock(target):
    start = time.time()
    time.sleep(0.4)
    end = time.time()
print(json.dumps([start, end]))
"""


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize("method", ["flock", "msvcrt", "lockfile"])
def test_the_build_lock_excludes_other_processes(tmp_path, method):
    target = tmp_path / f"model {method}.h"
    children = [subprocess.Popen([sys.executable, "-c", LOCKER, method, str(target)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=child_env()) for _ in range(3)]
    spans = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        spans.append(json.loads(out))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, f"{method}: two processes held the lock at once: {spans}"


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(stamp, "fcntl", None)
    monkeypatch.setattr(stamp, "msvcrt", None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "model.h"
    with stamp.build_lock(target):                 # learn where the lock lives
        [owner] = [p for p in stamp.lock_folder().glob("*.owner") if p.read_text().strip() == str(os.getpid())]
    owner.write_text(f"{dead.pid}\n")
    start = time.monotonic()
    with stamp.build_lock(target):
        assert owner.read_text().strip() == str(os.getpid())
    assert time.monotonic() - start < 5
    assert not owner.exists()


def test_a_lock_file_of_a_live_process_is_respected(tmp_path, monkeypatch):
    monkeypatch.setattr(stamp, "fcntl", None)
    monkeypatch.setattr(stamp, "msvcrt", None)
    owner = tmp_path / "x.owner"
    owner.write_text(f"{os.getppid()}\n")
    assert not stamp._abandoned(owner)
    os.utime(owner, (time.time() - 2 * stamp.STALE_LOCK_SECONDS,) * 2)
    monkeypatch.setattr(stamp.os, "name", "nt")        # no pid check: only the age counts
    assert stamp._abandoned(owner)


@pytest.mark.parametrize("how", ["no O_TMPFILE (macOS, Windows)", "linkat fails (no /proc)"])
def test_atomic_write_without_unnamed_temp_files(tmp_path, monkeypatch, how):
    if how.startswith("no"):
        monkeypatch.setattr(stamp, "_unnamed_temp_files", lambda: False)
    else:
        def no_proc(fd, path):
            raise OSError(errno.ENOENT, "No such file or directory", "/proc/self/fd")
        monkeypatch.setattr(stamp, "_link_fd", no_proc)
    target = tmp_path / "out" / "model.h"
    stamp.atomic_write(target, "first\n")
    stamp.atomic_write(target, "second\n")
    assert target.read_text() == "second\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.h"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~stamp._umask()


def test_a_failed_named_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    monkeypatch.setattr(stamp, "_unnamed_temp_files", lambda: False)
    target = tmp_path / "model.h"
    stamp.atomic_write(target, "good\n")
    real = stamp._write_all

    def full_disk(fd, data):
        real(fd, data[:3])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(stamp, "_write_all", full_disk)
    with pytest.raises(MicroMLError, match="the disk is full"):
        stamp.atomic_write(target, "bad\n")
    assert target.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.h"]


def test_a_build_killed_mid_write_leaves_a_temp_the_next_build_removes(project, monkeypatch):
    """Without O_TMPFILE a killed build can leave `.<header>.microml-tmp-<pid>`; the next build (holding the
    lock, so no live writer) removes it."""
    monkeypatch.setattr(stamp, "_unnamed_temp_files", lambda: False)
    header = project / "include" / "iris_model.h"
    header.parent.mkdir()
    leftover = header.parent / f".iris_model.h{stamp.TEMP_MARK}99999999"
    leftover.write_text("half a hea")
    build(project / "microml.yaml", log=Log(quiet=True))
    assert sorted(p.name for p in header.parent.iterdir()) == ["iris_model.h"]


def test_replace_retries_while_windows_holds_the_file_open(tmp_path, monkeypatch):
    monkeypatch.setattr(stamp, "RETRY_REPLACE", True)
    monkeypatch.setattr(stamp, "REPLACE_DELAYS", (0.01, 0.01, 0.01))
    target = tmp_path / "model.h"
    target.write_text("old\n")
    real, attempts = os.replace, []

    def busy_twice(src, dst):
        attempts.append(dst)
        if len(attempts) <= 2:
            raise PermissionError(errno.EACCES, "The process cannot access the file")
        real(src, dst)

    monkeypatch.setattr(stamp.os, "replace", busy_twice)
    stamp.atomic_write(target, "new\n")
    assert target.read_text() == "new\n" and len(attempts) == 3

    def always_busy(src, dst):
        raise PermissionError(errno.EACCES, "The process cannot access the file")

    monkeypatch.setattr(stamp.os, "replace", always_busy)
    with pytest.raises(MicroMLError, match="another program keeps the file open"):
        stamp.atomic_write(target, "newer\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.h"]


def test_posix_permission_errors_are_not_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(stamp, "RETRY_REPLACE", False)
    calls = []

    def denied(src, dst):
        calls.append(dst)
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(stamp.os, "replace", denied)
    with pytest.raises(MicroMLError, match="permission denied"):
        stamp.atomic_write(tmp_path / "model.h", "x\n")
    assert len(calls) == 1


def test_depfiles_with_windows_paths():
    """Drive letters and spaces; written with `/` so no backslash is ambiguous to Ninja, CMake or Make."""
    output = PureWindowsPath(r"C:\Users\Jo Doe\build dir\microml\iris\iris_model.h")
    inputs = [PureWindowsPath(r"C:\Users\Jo Doe\fw\microml.yaml"), PureWindowsPath(r"D:\data\#1 iris$.csv")]
    text = stamp.depfile_text(output, inputs, windows=True)
    assert text == ("C:/Users/Jo\\ Doe/build\\ dir/microml/iris/iris_model.h: "
                    "C:/Users/Jo\\ Doe/fw/microml.yaml D:/data/\\#1\\ iris$$.csv\n")
    # POSIX: a backslash is part of a name, escaped as Make reads it
    assert stamp.depfile_text(Path("/b/m.h"), [Path("/a/odd\\name.csv")], windows=False) == "/b/m.h: /a/odd\\\\name.csv\n"


def test_a_depfile_with_spaces_is_read_by_ninja(tmp_path):
    """The depfile the generator writes, read by the real Ninja: every input is tracked, spaces and all."""
    import shutil

    if shutil.which("ninja") is None:
        from support import _missing
        _missing("ninja not found on PATH (Debian package: ninja-build)")
    folder = tmp_path / "a dir"
    folder.mkdir()
    inputs = [folder / "in put.csv", folder / "#hash.py", folder / "dollar$.yaml"]
    for path in inputs:
        path.write_text("x")
    out = folder / "out.h"
    depfile = folder / "out.h.d"
    writer = tmp_path / "write.py"
    writer.write_text("import sys\nfrom pathlib import Path\nfrom microml_build.pipeline.stamp import write_depfile\n"
                      "out = Path(sys.argv[1]); out.write_text('x')\n"
                      "write_depfile(Path(sys.argv[2]), out, [Path(p) for p in sys.argv[3:]])\n")

    def quote(path) -> str:          # for the shell (single quotes), then for ninja ($ -> $$)
        return ("'" + str(path) + "'").replace("$", "$$")

    (tmp_path / "build.ninja").write_text(
        f"rule gen\n  command = {sys.executable} {quote(writer)} {quote(out)} {quote(depfile)} "
        + " ".join(quote(p) for p in inputs) + f"\n  depfile = {str(depfile).replace(' ', '$ ')}\n  deps = gcc\n"
        f"build {str(out).replace(' ', '$ ')}: gen\n")
    env = child_env()
    first = subprocess.run(["ninja"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    deps = subprocess.run(["ninja", "-t", "deps"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert all(str(path) in deps for path in inputs), deps
    assert "no work to do" in subprocess.run(["ninja"], cwd=tmp_path, capture_output=True, text=True).stdout
    later = time.time() + 2
    os.utime(inputs[1], (later, later))
    again = subprocess.run(["ninja"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert "[1/1]" in again.stdout, again.stdout

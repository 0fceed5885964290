"""A bench run folder on disk: its lock, link-free reads and atomic writes.

Files of a run folder are written the way a database writes them: a temporary file in the same
folder, flushed and fsynced, then ``os.replace`` over the old one, so a reader (or a killed
writer) sees the old file or the new one, never half of one. Nothing inside a run folder is
opened through a symbolic link: the whole folder is checked up front (one
:class:`RunDirError` naming the link) and every open uses ``O_NOFOLLOW`` besides, so a link
planted later is refused too. The folder itself may be a link (``runs -> /scratch/runs``).

>>> import tempfile
>>> run = Path(tempfile.mkdtemp())
>>> write_atomic(run / "report.md", "# report\\n")
>>> read_bytes(run / "report.md"), read_bytes(run / "missing.json")
(b'# report\\n', None)
>>> (run / "runs.jsonl").symlink_to(run / "report.md")
>>> check_run_dir(run)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
lrkit.bench.execution.rundir.RunDirError: bench: ...runs.jsonl' is a symbolic link; ...
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "IN_PLACE",
    "LOCK_NAME",
    "RunDirError",
    "check_run_dir",
    "lock_run_dir",
    "open_file",
    "read_bytes",
    "write_atomic",
]

#: The lock file of a run folder (held with ``flock`` while a bench runs).
LOCK_NAME = ".lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class RunDirError(ValueError):
    """A run folder holds something lrkit will not open: a symbolic link or a special file."""


#: The files of a run folder written in place (the others are replaced whole).
IN_PLACE = (LOCK_NAME, "runs.jsonl")


def _link_error(path: Path) -> RunDirError:
    return RunDirError(
        f"bench: {str(path)!r} is a symbolic link; lrkit never reads or writes through a link "
        f"inside a run folder: remove it (or pick another --name)"
    )


def _hard_link_error(path: Path, links: int) -> RunDirError:
    return RunDirError(
        f"bench: {str(path)!r} has {links - 1} other hard link(s); lrkit never writes through "
        f"a link inside a run folder: remove it (or pick another --name)"
    )


def check_run_dir(run_dir: str | os.PathLike[str]) -> None:
    """Raise :class:`RunDirError` naming the first symbolic link directly inside ``run_dir``,
    or a file written in place (:data:`IN_PLACE`) that has other hard links.

    A missing folder passes (there is nothing in it yet).
    """
    try:
        entries = sorted(os.scandir(run_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_symlink():
            raise _link_error(Path(entry.path))
        if entry.name in IN_PLACE and entry.stat(follow_symlinks=False).st_nlink > 1:
            raise _hard_link_error(Path(entry.path), entry.stat(follow_symlinks=False).st_nlink)


def open_file(path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
    """``os.open`` of a regular file, never through a symbolic link: a file descriptor.

    :class:`RunDirError` when ``path`` is a link or not a regular file (a FIFO, a device),
    or, opened for writing, has other hard links (writing in place would change them too);
    other errors (missing file, permissions) are the usual ``OSError``.
    """
    p = Path(path)
    try:
        fd = os.open(p, flags | _NOFOLLOW | _CLOEXEC | _NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and p.is_symlink()):
            raise _link_error(p) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RunDirError(
                f"bench: {str(p)!r} is not a regular file; remove it (or pick another --name)"
            )
        if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
            raise _hard_link_error(p, st.st_nlink)
        if _NONBLOCK:  # only there so that opening a FIFO cannot block
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """The content of a file of a run folder (never through a link), or None when missing."""
    try:
        fd = open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Replace ``path`` by ``data`` atomically: a temporary file in the same folder, fsynced,
    then ``os.replace`` (which replaces a link itself, never its target).

    ``str`` data is written as UTF-8; characters it cannot encode (a surrogate from a
    non-UTF-8 command line) are written as backslash escapes.
    """
    p = Path(path)
    raw = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(p.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: not every platform opens folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def lock_run_dir(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` (``fcntl.flock`` on ``run_dir/.lock``).

    A second bench on the same folder gets a RuntimeError naming the holder's pid. The lock
    goes away with the process that holds it, even after ``kill -9`` (no stale lock files).
    A ``.lock`` that is a symbolic link is refused (:class:`RunDirError`). Without ``fcntl``
    (Windows) no lock is taken.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = open_file(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise RuntimeError(
                f"bench: the run folder {str(run_dir)!r} is in use by another `lrkit bench` "
                f"(pid {holder}); wait for it to finish or pick another --name"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

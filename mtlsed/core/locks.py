"""The one lock of the package: a lock file that keeps a second writer out and names the one holding it.

A run folder's writer (:meth:`mtlsed.runs.runfolder.RunFolder.writing`) is refused while another holds the
lock; a feature cache being built (:func:`mtlsed.features.cache.build_feature_cache`) is waited for
instead (``wait``), then reused.

The lock is an ``flock`` on the file, which the kernel releases when its process dies (``kill -9``
included), so a dead writer never blocks the next one; where the file system has no ``flock`` (some network
mounts), the file's existence is the lock and a lock whose process is gone from this host is taken over.
The file holds its holder's PID, host, command and start time, and is removed when the lock is let go.
Re-entrant within a process.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mtlsed.core.errors import UserError

_HELD: dict[str, list] = {}  # resolved lock path -> [file handle, depth]
_POLL_S = 0.5  # how often a waiter without flock looks again


class Busy(UserError):
    """Another process holds the lock."""


def is_held(path: Path) -> bool:
    """Whether this process holds the lock ``path``."""
    return str(Path(path).resolve()) in _HELD


@contextmanager
def held(path: Path, command: str, wait: bool = False, busy: type[Exception] = Busy) -> Iterator[None]:
    """Hold the lock file ``path`` while ``command`` writes; ``busy`` (with the holder's PID and command) is
    raised when another process holds it, unless ``wait``: then it is waited for."""
    path = Path(path)
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    fh = _acquire(path, command, wait, busy)
    _HELD[key] = [fh, 1]
    try:
        yield
    finally:
        del _HELD[key]
        _release(path, fh)


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _busy_message(path: Path, info: dict) -> str:
    who = f"PID {info.get('pid', '?')}"
    if info.get("command"):
        who += f" (mtlsed {info['command']}"
        who += f", since {info['since']})" if info.get("since") else ")"
    host = f" on {info['host']}" if info.get("host") and info["host"] != socket.gethostname() else ""
    return (
        f"{path.parent} is being written by {who}{host}; wait for it to finish or stop it. "
        f"If no such process is running any more, delete {path} and run the command again."
    )


def _stamp(command: str) -> str:
    return json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
    )


def _acquire(path: Path, command: str, wait: bool, busy: type[Exception]):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fh = open(path, "a+")  # noqa: SIM115 - held until _release
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise busy(_busy_message(path, _holder(path))) from None
        except OSError as err:  # no flock on this file system: the file's existence is the lock
            fh.close()
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            return _acquire_exclusive(path, command, wait, busy)
        try:
            same = os.fstat(fh.fileno()).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the file was removed by its last holder between our open and our lock: again
            fh.close()
            continue
        fh.seek(0)
        fh.truncate()
        fh.write(_stamp(command))
        fh.flush()
        return fh


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire_exclusive(path: Path, command: str, wait: bool, busy: type[Exception]):
    takeovers = 0
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = _holder(path)
            mine = info.get("host") == socket.gethostname()
            if mine and isinstance(info.get("pid"), int) and not _alive(info["pid"]):
                path.unlink(missing_ok=True)  # its writer is gone: a stale lock, taken over
                takeovers += 1
                if takeovers < 2 or wait:
                    continue
                raise busy(_busy_message(path, _holder(path))) from None
            if wait:
                time.sleep(_POLL_S)
                continue
            raise busy(_busy_message(path, info)) from None
        os.write(fd, _stamp(command).encode())
        os.close(fd)
        return None


def _release(path: Path, fh) -> None:
    try:
        path.unlink(missing_ok=True)
    finally:
        if fh is not None:
            fh.close()

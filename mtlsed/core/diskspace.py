"""Free space before a long write, and one message for a full or read-only disk.

A write that runs out of space half way wastes the time spent on it and, into a memory map, kills the
process with SIGBUS and no word. So the long writers (the feature cache, ``import --copy``, downloads,
checkpoints) call :func:`ensure_free` with the bytes they need before they start, and the feature cache
:func:`reserve`\\ s its file's blocks before it maps it: a disk that fills up meanwhile fails the
reservation with ``ENOSPC``, never a page fault. What still fails mid-write (another process filled the
disk) is an ``OSError`` that :func:`disk_message` turns into the CLI's message; every file is written
atomically (:mod:`mtlsed.core.atomic`), so a rerun after freeing space resumes.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from mtlsed.core.errors import UserError

FULL = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded"}
READ_ONLY = {errno.EROFS: "read-only file system"}
AGAIN = "free some space (or choose another folder) and run the command again: it continues where it stopped"


class DiskSpaceError(UserError):
    """Too little free space for a write; the message names the folder, the bytes needed and those free."""


def human_size(n: int | None) -> str:
    """``1657811579`` -> ``'1.66 GB'`` (decimal units, as Zenodo shows them); None -> ``'unknown'``."""
    if n is None:
        return "unknown"
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def free_bytes(folder: str | Path) -> int:
    """Bytes free to this user on the file system of ``folder`` (its nearest existing parent when it is
    not made yet)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def ensure_free(folder: str | Path, needed: int, what: str) -> None:
    """Refuse, before anything is written, a write of ``needed`` bytes into ``folder`` that cannot fit."""
    free = free_bytes(folder)
    if needed > free:
        raise DiskSpaceError(
            f"{what} needs {human_size(needed)} in {folder}, {human_size(free)} free there; {AGAIN}"
        )


def reserve(path: str | Path, what: str) -> None:
    """Allocate every block of the file at ``path`` (its whole size) now.

    A memory map that writes into a hole of a sparse file on a full disk gets SIGBUS, which no
    ``except`` can catch; reserved blocks cannot run out. A file system that cannot reserve keeps the
    free-space check alone.
    """
    path = Path(path)
    stat = path.stat()
    ensure_free(path.parent, max(0, stat.st_size - stat.st_blocks * 512), what)
    if not hasattr(os, "posix_fallocate"):  # pragma: no cover - macOS, Windows
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, stat.st_size)
    except OSError as err:
        if err.errno in FULL:
            raise DiskSpaceError(
                f"{what}: {FULL[err.errno]} for {human_size(stat.st_size)} in {path.parent}; {AGAIN}"
            ) from None
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def disk_message(err: OSError) -> str | None:
    """What to tell the user about ``err`` when the disk is full or read-only (naming the path, the free
    space and what to do); None for any other error."""
    where = Path(err.filename) if err.filename else None
    if err.errno in FULL:
        if where is None:
            return f"{FULL[err.errno]}; {AGAIN}"
        free = human_size(free_bytes(where.parent))
        return f"cannot write {where}: {FULL[err.errno]} ({free} free in {where.parent}); {AGAIN}"
    if err.errno in READ_ONLY:
        return (
            f"cannot write {where or 'here'}: it is on a {READ_ONLY[err.errno]}; "
            "choose a writable folder (or remount it writable) and run the command again"
        )
    return None

"""Atomic file writes: a kill at any moment leaves either the old file or the new one, never half a file.

Every file mtlsed writes for later reading (configs, identities, checkpoints, scores, metrics, tables,
label files, caches' bookkeeping) goes through :func:`atomic_path`: the content is written to a
temporary file in the same folder (its name carries the writer's PID, so two writers never share one),
flushed to disk, and renamed over the target, which POSIX makes atomic. A write that fails on a full or
read-only disk names the target (a ``write`` that fails names no file), so the message says where.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on an error it is removed.

    ``suffix`` keeps an extension for writers that insist on one (``numpy.savez`` adds ``.npz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is None or str(err.filename) == str(tmp):
            err.filename = str(path)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a written file to the disk (a power cut after the rename keeps the new content)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - a writer that left nothing
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without fsync
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data, indent: int | None = 1) -> Path:
    """Write strict JSON atomically: NaN and infinities are refused (they are not JSON)."""
    return write_text(path, json.dumps(data, indent=indent, allow_nan=False) + "\n")

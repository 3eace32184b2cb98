"""What mtlsed keeps inside a data set folder it made, and how it knows the folder is its own.

``DATA/.mtlsed/`` holds mtlsed's own records (the audio hashes, a shift's clip log); ``.mtlsed/made-by``
names the command that made the folder (``import``, ``import-desed``, ``shift ...``). A command writes into
a folder only when it is new, empty or marked so: a user's folder is never written into. (``synth`` knows its
folders by their ``recipe.json``, which also holds what it resumes.)
"""

from __future__ import annotations

from pathlib import Path

from mtlsed.core.atomic import write_text

OWN_DIR = Path(".mtlsed")
MARKER = OWN_DIR / "made-by"


def made_by(out: Path) -> str | None:
    """The command that made ``out`` (its marker's line), or None when no mtlsed command did."""
    marker = Path(out) / MARKER
    return marker.read_text().strip() if marker.is_file() else None


def refuse_foreign(out: Path, command: str) -> None:
    """A folder that is not empty and has no marker is someone else's: :class:`FileExistsError`."""
    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise FileExistsError(
            f"{out} is not empty and was not made by mtlsed {command}; choose another folder"
        )


def mark(out: Path, line: str) -> None:
    """Mark ``out`` as made by ``line`` (a command and what it was asked)."""
    write_text(Path(out) / MARKER, line + "\n")

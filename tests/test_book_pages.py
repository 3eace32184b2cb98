"""The book speaks to readers: no issue numbers, commit hashes, rounds or other development log in its
pages (book/*.md and the notebooks' text); the history of how choices were made is in docs/."""

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
LOG = {
    "an issue number": re.compile(r"(?<![\w#&])#\d+\b"),
    "a commit hash": re.compile(r"(?<![\w-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"),
    "a round of development": re.compile(r"\b[Rr]ound (one|two|three|four|five|six|\d)\b|\bRound\b"),
    "the tracker": re.compile(r"\bissue\b", re.IGNORECASE),
    "a path outside the repository": re.compile(r"\.\./shared"),
}


def _pages() -> dict[str, str]:
    pages = {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted((ROOT / "book").glob("*.md"))}
    for twin in sorted((ROOT / "notebooks").glob("[0-9]*.py")):
        nb = jupytext.read(twin)
        pages[twin.relative_to(ROOT).as_posix()] = "\n".join(
            c.source for c in nb.cells if c.cell_type == "markdown"
        )
    return pages


@pytest.mark.parametrize("what", sorted(LOG))
def test_no_development_log_in_the_book(what):
    found = [
        f"{name}:{n}: {line.strip()[:90]}"
        for name, text in _pages().items()
        for n, line in enumerate(text.splitlines(), start=1)
        if LOG[what].search(line)
    ]
    assert found == [], f"{what} in the book's pages"


def test_the_patterns_find_what_they_look_for():
    """The check can fail: each pattern finds its kind of line and leaves a reader's line alone."""
    assert LOG["an issue number"].search("chosen in #18") and not LOG["an issue number"].search("# 1. Data")
    assert LOG["a commit hash"].search("from a fresh clone of 4b90718")
    assert not LOG["a commit hash"].search("runs/cpu/table1-9891fb7c") and not LOG["a commit hash"].search(
        "decade"
    )
    assert LOG["a round of development"].search("### Round two: a split")
    assert not LOG["a round of development"].search("the masks are around zero")


def test_the_development_notes_live_outside_the_book():
    notes = ROOT / "docs" / "DEVELOPMENT.md"
    assert notes.is_file() and "Round two" in notes.read_text()
    toc = (ROOT / "_toc.yml").read_text()
    assert "docs/" not in toc and "root: book/intro" in toc

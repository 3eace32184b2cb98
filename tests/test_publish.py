"""One setting for where the project is published (mtlsed.book.publish): the notebooks' first cell, the book's
launch buttons and repository links follow it, and no placeholder address reaches a user."""

import ast
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from mtlsed.book import publish
from mtlsed.book.build import _add_publish_settings, setup_cell_source

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
# addresses of a repository that does not exist, or to be filled in: never where a user clicks or copies
PLACEHOLDERS = re.compile(r"github\.com/(mtlsed|YOU|your[-_a-z]*|USER|OWNER)/", re.IGNORECASE)


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        return [ROOT / line for line in out.stdout.splitlines()]
    skip = {".venv", "_build", ".git", "runs", "data", "build"}  # a copy without git (the wheel test's)
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_no_placeholder_address_anywhere():
    found = []
    for path in _tracked():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if PLACEHOLDERS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert found == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_with_the_published_setup_cell(nb):
    assert setup_cell_source(nb) == publish.setup_cell(), "run `make setup-cells`"
    cells = json.loads(nb.read_text())["cells"]
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert "colab-setup" in first_code["metadata"]["tags"]  # the first cell a Colab user runs


def test_the_setup_cell_installs_from_the_setting():
    unpublished = publish.setup_cell(repository="")
    assert 'PUBLISHED = ""' in unpublished and "names no public repository" in unpublished
    published = publish.setup_cell(repository="https://example.org/lab/mtlsed/", branch="v1")
    assert 'PUBLISHED = "git+https://example.org/lab/mtlsed@v1"' in published
    for text in (unpublished, published):
        ast.parse(text)
        # the old trap: a trailing comment on an %env line becomes part of the value
        assert "%env" not in text


def test_the_book_draws_launch_buttons_only_when_published(tmp_path):
    config = tmp_path / "_config.yml"
    original = (ROOT / "_config.yml").read_text()
    assert not {"launch_buttons", "repository"} & set(yaml.safe_load(original))  # the setting decides

    config.write_text(original)
    _add_publish_settings(config)
    settings = yaml.safe_load(config.read_text())
    if not publish.REPOSITORY:
        assert "launch_buttons" not in settings and "repository" not in settings
        assert settings["html"]["use_repository_button"] is False
        assert settings["html"]["home_page_in_navbar"] is True  # the rest of the file is kept

    chosen = publish.book_settings(repository="https://example.org/lab/mtlsed", branch="v1")
    assert chosen["repository"] == {
        "url": "https://example.org/lab/mtlsed",
        "path_to_book": "",
        "branch": "v1",
    }
    assert chosen["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert chosen["html"]["use_repository_button"] is True


def _colab_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## On a Colab GPU")
    return readme[start : readme.index("\n## ", start + 1)]


def _commands(section: str) -> list[list[str]]:
    """The ``mtlsed ...`` and ``python -m mtlsed ...`` lines of the section's code blocks, joined over
    backslash continuations and cut at a comment."""
    blocks = re.findall(r"```(?:bash|text)\n(.*?)```", section, flags=re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split("#")[0].strip()
        for prefix in ("python -m mtlsed ", "mtlsed "):
            if line.startswith(prefix):
                out.append(shlex.split(line[len(prefix) :]))
    return out


def test_the_colab_walk_through_matches_the_cli_and_the_first_cell():
    """Every command the walk-through gives parses with the real CLI; the first cell's settings it names
    exist in the cell; nothing in it puts a comment on an %env line (IPython keeps it in the value)."""
    from mtlsed.cli.main import build_parser

    section = _colab_section()
    commands = _commands(section)
    assert {c[0] for c in commands} >= {"download", "mix-dcase2018", "book", "reproduce"}
    parser = build_parser()
    for args in commands:
        parsed = parser.parse_args(args)  # exits (SystemExit) on an unknown option or a missing value
        assert parsed.command == args[0]
    cell = publish.setup_cell()
    for name in ("MTLSED_SOURCE", "DRIVE = True"):
        assert name in section and name.split(" = ")[0] in cell
    assert not re.search(r"%env [^\n]*#", section)
    assert "bench/gpu_check.sh --json" in section
    assert (ROOT / "bench" / "gpu_check.sh").is_file()

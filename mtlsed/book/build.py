"""Build the Jupyter Book: execute the notebooks under a profile, then render.

The committed notebooks keep the outputs of their default profile, ``cpu``: what GitHub, nbviewer and a
Colab launch show is a model that learnt something (``make notebooks`` refreshes them). The ``ci`` build of
the test suite executes them again and compares the outputs of the cells tagged
:data:`PROFILE_INDEPENDENT` with the committed ones (:func:`output_differences`). ``make book
PROFILE=name`` never touches them: it copies the book's sources into ``_build/src``, executes each notebook
there with papermill and ``params/NAME.yaml``, and renders that copy to ``_build/book/_build/html``.

Execution is resumable: a notebook whose source, profile and package code are
unchanged since its last successful run is not executed again, and a failed run leaves the
previous good copy in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mtlsed.book.header import SETUP_TAG, fill_header, header_source, header_tag
from mtlsed.config.profiles import DEFAULT_PROFILE, load_profile, params_dir
from mtlsed.core.atomic import write_json, write_text
from mtlsed.core.errors import UserError

BOOK_FILES = ["_config.yml", "_toc.yml", "README.md", "LICENSE"]
BOOK_DIRS = ["book"]


SHIPPED = "_book"  # the book's sources inside an installed wheel (see setup.py)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def is_checkout(path: Path) -> bool:
    return (
        (path / "_toc.yml").is_file()
        and (path / "notebooks").is_dir()
        and (path / "pyproject.toml").is_file()
    )


def book_sources() -> Path:
    """The book's sources: the checkout this package runs from, else the copy shipped in the wheel."""
    if is_checkout(repo_root()):
        return repo_root()
    from importlib.resources import files

    shipped = Path(str(files("mtlsed") / SHIPPED))
    if (shipped / "_toc.yml").is_file():
        return shipped
    raise UserError(f"no book sources found (neither a checkout at {repo_root()} nor {shipped})")


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def stage_sources(root: Path, src: Path) -> None:
    """Copy the prose and configuration of the book into ``src``."""
    src.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, src / name)
    _add_publish_settings(src / "_config.yml")
    for name in BOOK_DIRS:
        if (src / name).exists():
            shutil.rmtree(src / name)
        shutil.copytree(root / name, src / name)


def _add_publish_settings(config: Path) -> None:
    """Merge :func:`mtlsed.book.publish.book_settings` (launch buttons, repository links) into ``config``."""
    import yaml

    from mtlsed.book.publish import book_settings

    if not config.is_file():
        return
    settings = yaml.safe_load(config.read_text()) or {}
    for key, value in book_settings().items():
        if isinstance(value, dict):
            settings.setdefault(key, {}).update(value)
        else:
            settings[key] = value
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))


def _execute(notebook: Path, out: Path, **kwargs) -> None:
    """Run ``notebook`` with papermill into ``out``; a failing cell is a :class:`UserError` that names the
    notebook, the cell and the error, and where the executed copy with its traceback is."""
    import papermill

    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            kernel_name="python3",
            progress_bar=False,
            config=_kernel_config(),
            **kwargs,
        )
    except papermill.PapermillExecutionError as err:
        raise UserError(
            f"{notebook.name}: cell {err.exec_count} failed: {err.ename}: {err.evalue} "
            f"(the executed copy, with the traceback: {out})"
        ) from None


def _kernel_config():
    """Encrypt the kernel's local traffic when pyzmq can (ipykernel 7 warns on every start otherwise)."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}})


def execute_notebooks(
    root: Path, src: Path, profile_path: Path, log=print, data: Path | None = None, work: Path | None = None
) -> list[Path]:
    """Execute ``notebooks/*.ipynb`` with papermill into ``src/notebooks``; returns the outputs.

    ``data``: a dataset folder every notebook uses instead of the embedded set. ``work``: the folder
    the notebooks run in and keep their data and runs in (default: the checkout ``root``).
    """

    out_dir = src / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    # the notebooks take the profile by name (a shipped one) or by its file
    shipped = profile_path.resolve().parent == params_dir().resolve()
    params = {"profile": profile_path.stem if shipped else str(profile_path.resolve())}
    data_key = ""
    if data is not None:
        from mtlsed.data.fingerprint import data_fingerprint

        params["data"] = str(Path(data).resolve())
        data_key = data_fingerprint(data)["digest"]  # another data set (or changed labels): run again
    # a notebook is executed again when it, its profile or the package code changed
    package_sources = sorted(Path(__file__).resolve().parents[1].rglob("*.py"))
    done: list[Path] = []
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        target = out_dir / nb.name
        stamp = out_dir / (nb.stem + ".done.json")
        key = _digest(nb, profile_path, *package_sources) + data_key
        if target.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("key") == key:
            log(f"  {nb.name}: unchanged since its last run under this profile, kept")
            done.append(target)
            continue
        log(f"  executing {nb.name} ...")
        start = time.perf_counter()
        partial = out_dir / (nb.stem + ".partial.ipynb")
        _execute(nb, partial, parameters=params, cwd=str(work or root / "notebooks"))
        present_parameters(partial, params["profile"] if shipped else _display_path(profile_path, root), data)
        partial.replace(target)
        seconds = time.perf_counter() - start
        write_json(stamp, {"key": key, "seconds": round(seconds, 1)})
        log(f"  {nb.name}: {seconds:.0f} s")
        done.append(target)
    return done


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def present_parameters(notebook: Path, profile_file: str, data: Path | None = None) -> None:
    """Show the reader the parameters a notebook ran with, once.

    Papermill keeps the notebook's own ``parameters`` cell (the defaults) and adds
    an ``injected-parameters`` cell after it; rendered as is, the page would show two
    parameter cells that disagree. The defaults are removed from the page and the
    injected cell says where its values come from.
    """
    executed = json.loads(notebook.read_text())
    cells = executed["cells"]
    injected = [c for c in cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    if not injected:
        return
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    if profile_file == DEFAULT_PROFILE:
        chosen = f"the profile {profile_file}, the notebook's default;"
    else:
        chosen = f"the profile {profile_file} replaces the\n# notebook's default (`{DEFAULT_PROFILE}`);"
    header = f"# Parameters injected by papermill: {chosen}\n"
    header += "# `mtlsed config --profile NAME` prints its settings.\n"
    if data is not None:
        header += "# `data` replaces the embedded synthetic set in every chapter.\n"
    for cell in injected:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = source.splitlines(keepends=True)
        if lines and lines[0].strip() == "# Parameters":
            lines = lines[1:]
        cell["source"] = header + "".join(lines)
    notebook.write_text(json.dumps(executed, indent=1, ensure_ascii=False) + "\n")


def build_book(
    profile: str = "cpu",
    root: Path | None = None,
    out: Path | None = None,
    log=print,
    data: Path | None = None,
) -> Path:
    """Execute the notebooks under ``profile`` and build the HTML book; returns index.html.

    ``root``: the book's sources (default :func:`book_sources`). In a checkout the notebooks keep their
    data and runs in it; from an installed wheel, in the working folder (``out`` defaults to
    ``./_build`` there). ``data``: a dataset folder every chapter uses instead of the embedded set.
    """
    root = Path(root or book_sources())
    work = root if is_checkout(root) else Path.cwd()
    out = Path(out or work / "_build")
    profile_path = load_profile(profile).path
    src = out / "src"
    log(f"staging the book sources in {src}")
    stage_sources(root, src)
    if (root / "notebooks").is_dir():
        log(
            f"executing notebooks under profile {profile!r} ({profile_path})"
            + (f" on {data}" if data else "")
        )
        execute_notebooks(root, src, profile_path, log=log, data=data, work=None if work == root else work)
        from mtlsed.experiments.report import results_page

        # the results page is made from the grids chapter 5 just ran, never typed by hand
        page = results_page(load_profile(profile_path), work, Path(data).resolve() if data else None)
        write_text(src / "book" / "results.md", page)
        from mtlsed.experiments.report import VERDICT_MARKER, bottom_line

        intro = src / "book" / "intro.md"
        if VERDICT_MARKER in intro.read_text():  # the root page's bottom line, from the same runs
            verdict = bottom_line(load_profile(profile_path), work, Path(data).resolve() if data else None)
            write_text(intro, intro.read_text().replace(VERDICT_MARKER, verdict))
        log(f"results page written from the runs: {src / 'book' / 'results.md'}")
    html_root = out / "book"
    cmd = [
        _tool("jupyter-book"),
        "build",
        str(src),
        "--path-output",
        str(html_root),
        "-W",
        "-n",
        "--keep-going",
    ]
    log("building the book: " + " ".join(cmd))
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-6000:] + result.stderr[-6000:])
        raise UserError(f"jupyter-book build failed (exit {result.returncode}); see the log above")
    index = html_root / "_build" / "html" / "index.html"
    if not index.is_file():
        raise UserError(f"the build finished but {index} is missing")
    return index


def _tool(name: str) -> str:
    """A command of the book extra: beside this Python (its environment), else on the PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        raise UserError(f"{name} not found; install the book extra: pip install 'mtlsed[book]'")
    return found


# The cell metadata the twins keep (jupytext.toml's cell_metadata_filter): the rest is papermill's.
TWIN_CELL_METADATA = ("tags", "mystnb")


def _cell_contents(nb) -> list[tuple[str, str, dict]]:
    """``(type, source, kept metadata)`` of each cell: what a notebook and its twin must share."""
    return [
        (
            cell.cell_type,
            cell.source.strip("\n"),
            {k: cell.metadata[k] for k in TWIN_CELL_METADATA if cell.metadata.get(k)},
        )
        for cell in nb.cells
    ]


def _header_problems(contents: list[tuple[str, str, dict]], name: str) -> list[str]:
    """Where a notebook's header cells are not :mod:`mtlsed.book.header`'s."""
    problems = []
    for i, (kind, source, meta) in enumerate(contents, start=1):
        tag = header_tag(meta) if kind == "code" else None
        if tag is not None and source != header_source(tag).strip("\n"):
            problems.append(f"cell {i}: {name}'s {tag} cell is not mtlsed.book.header's (make setup-cells)")
    return problems


def _pair_contents(notebook: Path) -> tuple[list, list]:
    """:func:`_cell_contents` of ``notebook`` and of its ``.py`` twin."""
    import jupytext
    import nbformat

    ours = _cell_contents(nbformat.read(notebook, as_version=4))
    return ours, _cell_contents(jupytext.read(notebook.with_suffix(".py")))


def _differences(ours: list, theirs: list, notebook: str, twin: str) -> list[str]:
    """Cell by cell, where two lists of :func:`_cell_contents` differ (one line per difference)."""
    problems = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False), start=1):
        for what, x, y in zip(("type", "source", "metadata"), a, b, strict=True):
            if x != y:
                problems.append(f"cell {i}: {what} differs ({notebook}: {x!r:.80}; {twin}: {y!r:.80})")
    if len(ours) != len(theirs):
        problems.append(f"{notebook} has {len(ours)} cells, {twin} {len(theirs)}")
    return problems


def twin_differences(notebook: Path) -> list[str]:
    """Where ``notebook`` and its ``.py`` twin differ in content: cell types, sources and the kept cell
    metadata, in order, and where the notebook's header cells are not :mod:`mtlsed.book.header`'s. Headers
    (the jupytext version that wrote the twin) and outputs play no part, so a new jupytext release does
    not make a matching pair differ. Empty when they match."""
    twin = notebook.with_suffix(".py")
    if not twin.is_file():
        return [f"{twin.name}: missing"]
    ours, theirs = _pair_contents(notebook)
    return _header_problems(ours, notebook.name) + _differences(ours, theirs, notebook.name, twin.name)


def edits_outside_the_header(notebook: Path) -> list[str]:
    """Where ``notebook`` and its twin differ in anything but the header cells' sources: edits that one
    of them has and the other lacks (``jupytext --sync`` carries them over). Empty when they agree."""

    def blank(contents: list) -> list:
        return [(k, "" if k == "code" and header_tag(m) else s, m) for k, s, m in contents]

    ours, theirs = _pair_contents(notebook)
    return _differences(blank(ours), blank(theirs), notebook.name, notebook.with_suffix(".py").name)


def twin_text(notebook: Path) -> str:
    """The py:percent text a notebook pairs to (jupytext's CLI, so jupytext.toml's filters apply)."""
    jupytext = _tool("jupytext")
    result = subprocess.run(
        [jupytext, "--to", "py:percent", "--output", "-", str(notebook.resolve())],
        capture_output=True,
        text=True,
        cwd=notebook.parent,
        check=True,
    )
    return result.stdout


def _drop_empty_tags(nb: Path) -> None:
    """Papermill gives every cell an empty ``tags`` list; drop them so the twins stay clean."""
    data = json.loads(nb.read_text())
    for cell in data["cells"]:
        if cell.get("metadata", {}).get("tags") == []:
            del cell["metadata"]["tags"]
    nb.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


PROFILE_INDEPENDENT = "profile-independent"  # cells whose outputs every profile gives alike
SANITIZE = "sanitize.cfg"  # in notebooks/: regular expressions for what may differ between runs


def _outputs_text(cell: dict) -> str:
    """A code cell's outputs as the text a reader sees (plain text, streams, Markdown and HTML)."""
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        for mime in ("text/markdown", "text/plain"):
            if mime in out.get("data", {}):
                parts.append("".join(out["data"][mime]))
                break
    return "\n".join(parts)


def _sanitizer(config: Path):
    """The substitutions of an nbval-style ``sanitize.cfg`` (sections of ``regex:`` and ``replace:``)."""
    import configparser
    import re

    parser = configparser.ConfigParser()
    parser.read(config)
    rules = [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]

    def clean(text: str) -> str:
        for pattern, replace in rules:
            text = pattern.sub(replace, text)
        return text

    return clean


def output_differences(committed: Path, executed: Path, sanitize: Path | None = None) -> list[str]:
    """The cells tagged :data:`PROFILE_INDEPENDENT` whose outputs in ``executed`` (a run under any profile)
    differ from ``committed``'s, after ``sanitize`` (default: ``notebooks/sanitize.cfg`` beside
    ``committed``); one line per difference, empty when they agree."""
    clean = _sanitizer(sanitize or committed.parent / SANITIZE)

    def tagged(path: Path) -> list[tuple[str, str]]:
        cells = json.loads(path.read_text())["cells"]
        return [
            ("".join(c["source"]), clean(_outputs_text(c)))
            for c in cells
            if PROFILE_INDEPENDENT in c.get("metadata", {}).get("tags", [])
        ]

    ours, theirs = tagged(committed), tagged(executed)
    if len(ours) != len(theirs):
        return [f"{committed.name}: {len(ours)} cells tagged {PROFILE_INDEPENDENT}, {len(theirs)} executed"]
    found = []
    for n, ((source, a), (_, b)) in enumerate(zip(ours, theirs, strict=True)):
        if a != b:
            first = source.strip().splitlines()[0] if source.strip() else ""
            found.append(
                f"{committed.name}: tagged cell {n + 1} ({first!r}) gives other outputs:\n{a}\n---\n{b}"
            )
    return found


def setup_cell_source(notebook: Path) -> str | None:
    """The source of ``notebook``'s setup cell (tagged ``colab-setup``), None when it has none."""
    for cell in json.loads(notebook.read_text())["cells"]:
        if SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"])
    return None


def write_header_cells(root: Path | None = None, only: list[str] | None = None) -> list[Path]:
    """Write the header cells of :mod:`mtlsed.book.header` (the Colab setup with the published source, the
    parameters) into every notebook, keeping its outputs, and into its twin; returns the files changed.
    ``only``: these notebooks (names such as ``04_training``), not all.

    A notebook and twin that differ elsewhere are refused (``jupytext --sync`` first): rewriting the twin
    from the notebook would drop an edit made to it. The twin is left no older than its notebook, as
    jupytext's pairing expects."""
    changed = []
    for nb in sorted((Path(root or repo_root()) / "notebooks").glob("[0-9]*.ipynb")):
        if only and nb.stem not in only:
            continue
        twin = nb.with_suffix(".py")
        edits = edits_outside_the_header(nb) if twin.is_file() else []
        if edits:
            raise UserError(
                f"{nb.name} and {twin.name} differ outside the header cells ({edits[0]}); run "
                f"`jupytext --sync {nb}` first, then `make setup-cells`"
            )
        data = json.loads(nb.read_text())
        if fill_header(data, nb.name):
            nb.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
            changed.append(nb)
        text = twin_text(nb)
        if not twin.is_file() or twin.read_text() != text:
            twin.write_text(text)
            changed.append(twin)
        elif nb in changed:
            os.utime(twin)
    return changed


def refresh_notebooks(root: Path | None = None, log=print, only: list[str] | None = None) -> None:
    """Rebuild the committed notebooks from their text twins and execute them with their defaults.

    The ``parameters`` cell of every notebook names :data:`DEFAULT_PROFILE`, so an execution without
    parameters is the run whose outputs the committed notebooks show (about as long as the book under that
    profile; its runs are reused when the book was built before). ``only``: these notebooks (names such as
    ``04_training``), not all.
    """

    root = Path(root or repo_root())
    jupytext = _tool("jupytext")
    for twin in sorted((root / "notebooks").glob("[0-9]*.py")):
        if only and twin.stem not in only:
            continue
        nb = twin.with_suffix(".ipynb")
        subprocess.run(
            [jupytext, "--to", "ipynb", "--update" if nb.exists() else "--quiet", str(twin), "-q"],
            check=True,
            cwd=twin.parent,
        )
        write_header_cells(root, only=[nb.stem])  # the header cells from their owner
        log(f"  executing {nb.name} with its defaults (profile {DEFAULT_PROFILE}) ...")
        _execute(nb, nb, cwd=str(nb.parent))
        _drop_empty_tags(nb)
        twin.write_text(twin_text(nb))  # the twin in jupytext's canonical form

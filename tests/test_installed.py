"""The package as a user installs it: a wheel in a fresh virtual environment, used from a folder that is
not the repository (the Colab path). No network: the wheel is built and installed with --no-deps, and
the environment reaches the test environment's packages (torch, papermill...) through a .pth file."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from mtlsed.book import publish
from mtlsed.book.build import setup_cell_source

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd, **kw):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _not_sources(folder, names):
    """What a checkout holds beside its sources (environments, builds, runs): not copied."""
    top = {".venv", "_build", "runs", "data", ".git", "build"} if Path(folder) == ROOT else set()
    return [n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")]


def test_the_wheel_runs_outside_the_repository(tmp_path):
    # built from a copy of the sources: pip builds in the tree, and the checkout stays as it is
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_not_sources)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, src])
    (wheel,) = wheels.glob("mtlsed-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # the test environment's packages, after the venv's own: its mtlsed is not seen (a path from a .pth
    # file is added to sys.path, but the .pth files inside it, such as an editable install's, are not run)
    (site / "test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # installed as on Colab: by the notebooks' first cell, from MTLSED_SOURCE (pip's own environment
    # variables keep it offline); without a source it stops with what to set
    cell = setup_cell_source(ROOT / "notebooks" / "01_data.ipynb")
    offline = {**os.environ, "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1"}
    offline.pop("MTLSED_SOURCE", None)
    refused = subprocess.run([py, "-c", cell], capture_output=True, text=True, cwd=tmp_path, env=offline)
    if not publish.REPOSITORY:
        assert refused.returncode == 1 and "names no public repository: set MTLSED_SOURCE" in refused.stderr
    _run([py, "-c", cell], cwd=tmp_path, env={**offline, "MTLSED_SOURCE": str(wheel)})

    work = tmp_path / "work"
    work.mkdir()
    code = "import mtlsed, mtlsed.book.build as b; print(mtlsed.__file__); print(b.book_sources())"
    where = _run([py, "-c", code], cwd=work).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the wheel's, not the checkout's
    assert (Path(where[1]) / "notebooks" / "01_data.ipynb").is_file()  # the book ships in the wheel

    config = _run([venv / "bin" / "mtlsed", "config", "--profile", "cpu"], cwd=work)
    assert "# profile cpu (" in config.stdout and str(venv) in config.stdout and "n_mels: 32" in config.stdout

    # a chapter, from the notebook the wheel carries, run under ci in the working folder
    notebook = Path(where[1]) / "notebooks" / "01_data.ipynb"
    script = (
        "import papermill; papermill.execute_notebook("
        f"{str(notebook)!r}, 'out.ipynb', parameters={{'profile': 'ci'}}, kernel_name='python3', "
        "progress_bar=False)"
    )
    _run([py, "-c", script], cwd=work)
    cells = json.loads((work / "out.ipynb").read_text())["cells"]
    shown = json.dumps([c.get("outputs", []) for c in cells if c["cell_type"] == "code"])
    assert "profile: ci" in shown and "wall time of this notebook" in shown
    assert (work / "data" / "overlapped-48clips-16000hz-seed0" / "weak.tsv").is_file()  # data went here

"""Where this copy of the companion is published: the one setting behind the book's launch buttons
(Colab, Binder), its repository and issue buttons, and the source the notebooks' first cell installs.

``REPOSITORY`` is empty until the project is published: the book then draws no launch button and no
repository link, and a notebook opened where ``mtlsed`` is missing asks for ``MTLSED_SOURCE`` instead of
installing from an address that does not exist. To publish (README, "Publishing a copy"): set it, run
``make notebooks`` (which writes :func:`setup_cell` into every notebook) and commit.
"""

from __future__ import annotations

REPOSITORY = ""  # the address of the public repository (https://...); empty: not published
BRANCH = "main"


def _setting(repository: str | None, branch: str | None) -> tuple[str, str]:
    return (REPOSITORY if repository is None else repository), (branch or BRANCH)


def install_source(repository: str | None = None, branch: str | None = None) -> str:
    """What ``pip install`` takes to install this copy (``git+URL@BRANCH``); empty when not published."""
    repository, branch = _setting(repository, branch)
    return f"git+{repository.rstrip('/')}@{branch}" if repository else ""


def book_settings(repository: str | None = None, branch: str | None = None) -> dict:
    """The ``_config.yml`` keys that point at the repository: none while it is not published."""
    repository, branch = _setting(repository, branch)
    if not repository:
        return {"html": {"use_issues_button": False, "use_repository_button": False}}
    return {
        "repository": {"url": repository.rstrip("/"), "path_to_book": "", "branch": branch},
        "launch_buttons": {"notebook_interface": "classic", "colab_url": "https://colab.research.google.com"},
        "html": {"use_issues_button": True, "use_repository_button": True},
    }


def setup_cell(repository: str | None = None, branch: str | None = None) -> str:
    """The first code cell of every notebook: on Colab (or wherever ``mtlsed`` is missing) it installs the
    package, keeping the torch already there (Colab's CUDA build), and can keep data and runs on Drive.
    Locally, with the package installed and Drive off, it does nothing."""
    source = install_source(repository, branch)
    return f'''# Colab: installs mtlsed when it is missing, keeping Colab's CUDA torch; does nothing locally.
# The package comes from MTLSED_SOURCE when it is set (a fork, a branch, a wheel's path), else from
# PUBLISHED, the repository this book was built from (README, "On a Colab GPU").
# DRIVE = True keeps data/ and runs/ on Google Drive, so a new session resumes where the last one stopped.
DRIVE = False
PUBLISHED = "{source}"

import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("mtlsed") is None:
    source = os.environ.get("MTLSED_SOURCE", "").strip() or PUBLISHED
    if not source:
        raise RuntimeError(
            "mtlsed is not installed and this copy names no public repository: set MTLSED_SOURCE to a "
            "git URL or a wheel (README, 'On a Colab GPU'), e.g. os.environ['MTLSED_SOURCE'] = '...whl'"
        )
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
if DRIVE:
    from google.colab import drive

    drive.mount("/content/drive")
    os.makedirs("/content/drive/MyDrive/mtlsed", exist_ok=True)
    os.chdir("/content/drive/MyDrive/mtlsed")  # data/ and runs/ go here'''

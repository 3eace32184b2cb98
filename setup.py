"""Ship the book's sources inside the wheel, so `mtlsed book` runs from an installed package.

The notebooks, the book's prose and its configuration live at the top of the repository (where
readers and Jupyter Book expect them); a wheel only carries the package. This hook copies them into
``mtlsed/_book/`` of the built wheel. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BOOK = ["_config.yml", "_toc.yml", "README.md", "LICENSE", "book", "notebooks"]
SKIP = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.py")  # notebooks/*.py: jupytext twins


class build_py_with_book(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "mtlsed" / "_book"
        for name in BOOK:
            src = here / name
            if src.is_dir():
                shutil.copytree(src, target / name, ignore=SKIP, dirs_exist_ok=True)
            elif src.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / name)


setup(cmdclass={"build_py": build_py_with_book})

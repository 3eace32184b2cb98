"""The identity of code: a module in a normal form without docstrings, comments, layout and import paths,
so that what is hashed is what can change a number (:mod:`mtlsed.runs.identity` builds on it)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE_NAME = "mtlsed"


def normal_form(source: str) -> str:
    """The code of a module without its docstrings, comments, layout and where its own imports come from:
    what running it depends on. An import from the package keeps the names it binds and drops the
    module path (``from mtlsed.objectives.losses import bce_loss`` reads as ``from mtlsed import
    bce_loss``), so moving a module to another folder changes no fingerprint; the moved module's own
    code is fingerprinted where it lies now."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE_NAME:
            node.module = PACKAGE_NAME
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE_NAME:
                    alias.name = f"{PACKAGE_NAME}.{alias.name.rsplit('.', 1)[-1]}"
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def module_fingerprint(relative: str, package: Path | None = None) -> str:
    """Hash of the normal form of one module of the package (``features.py``)."""
    package = Path(package or Path(__file__).resolve().parents[1])
    return hashlib.sha256(normal_form((package / relative).read_text()).encode()).hexdigest()[:16]

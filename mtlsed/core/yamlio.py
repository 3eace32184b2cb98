"""Strict YAML for configs and profiles: a key given twice, bad syntax or a non-UTF-8 byte is an error
that names the file and line, never a silent choice of one of two values nor a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mtlsed.core.errors import ConfigError
from mtlsed.core.textio import read_utf8


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping key given twice (PyYAML keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    hash(key)
                except TypeError:
                    continue  # the base class reports an unhashable key
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} given twice (first on line {seen[key]}); keep one",
                        key_node.start_mark,
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _where(err: yaml.YAMLError) -> tuple[int | None, str]:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return (mark.line + 1 if mark is not None else None), problem


def parse_yaml(text: str, where: str) -> Any:
    """The YAML document in ``text``; ``where`` (a file name) starts every error message."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        line, problem = _where(err)
        at = f"{where}:{line}" if line else where
        raise ConfigError(f"{at}: not valid YAML: {problem}") from None


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path``: UTF-8 (a byte-order mark allowed), strict keys."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    return parse_yaml(read_utf8(path, ConfigError), str(path))

"""The package is a stack of layers, each a folder; a module imports only from its own layer or those below,
and no two modules import each other, directly or round a circle (imports inside functions included)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mtlsed"
LAYERS = [
    "core",
    "config",
    "data",
    "features",
    "models",
    "objectives",
    "runs",
    "evaluation",
    "training",
    "experiments",
    "book",
    "cli",
]


def _modules() -> dict[str, Path]:
    """``{dotted name: file}``; a package's ``__init__.py`` is the package itself."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "_book" in path.parts:
            continue
        parts = ["mtlsed", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str:
    while name not in modules:
        name = name.rpartition(".")[0]
    return name


def _graph() -> dict[str, set[str]]:
    """Every import of a package module by another, at the top or inside a function."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == "mtlsed":
                    found = _resolve(target, modules)
                    if found and found != module:
                        graph[module].add(found)
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # mtlsed itself: the version
        return 0
    return LAYERS.index("cli" if parts[1] == "__main__" else parts[1])


def test_every_module_lives_in_a_layer():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"], f"modules outside the layers: {top}"
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert sorted(folders) == sorted(LAYERS), f"folders that are not layers: {set(folders) ^ set(LAYERS)}"


def test_layers_import_only_downwards():
    upward = [
        f"{a} ({LAYERS[_layer(a)]}) imports {b} ({LAYERS[_layer(b)]})"
        for a, targets in _graph().items()
        for b in sorted(targets)
        if _layer(b) > _layer(a)
    ]
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    """The check itself can fail: a circle of three and a pair are found, a chain is not."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["d", "e"]]

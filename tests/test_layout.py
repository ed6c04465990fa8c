"""The layout's rules, checked: no import cycle among wlcap's modules, and no file that has grown past
one job's size. Reads the source tree (ast), imports nothing."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"capture": REPO / "capture", "wlcap_obs": REPO / "obs_plugin" / "wlcap_obs"}
GENERATED = "_generated"
MAX_LINES = 420  # "about 400": a file past it holds more than one job


def _modules() -> dict[str, Path]:
    modules = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            if GENERATED in path.parts:
                continue
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The wlcap modules `name` imports, at any depth of its code (function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module; `from module import name` the module.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported):], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle() -> None:
    modules = _modules()
    # A package's __init__ re-exports its modules: importing it is not importing each of them, so
    # edges into a package's own __init__ from inside it are left out.
    graph = {}
    for name, path in modules.items():
        imported = _imports(name, path, set(modules))
        graph[name] = {m for m in imported if not (m in PACKAGES and name.startswith(m + "."))}
    assert len(graph) > 30
    assert "capture.wayland.connection" in graph["capture.session.wlr"]  # the graph sees real imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_an_import_cycle_is_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_file_past_one_job() -> None:
    sources = [*(REPO / "capture").rglob("*.py"), *(REPO / "obs_plugin").rglob("*.py"),
               *(REPO / "native").rglob("*.c"), *(REPO / "native").rglob("*.h"), *(REPO / "tools").rglob("*.py")]
    sizes = {path.relative_to(REPO): len(path.read_text().splitlines())
             for path in sources if GENERATED not in path.parts}
    assert len(sizes) > 40
    assert {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES} == {}

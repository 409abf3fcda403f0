"""The local server stays a clean subsystem: no import cycle inside ``zhipu_magic/server``, modules talk
through public names only, and the server never reaches into the notebook layers.

Read from the source with ``ast`` (nothing is imported), counting every import statement: inside
functions and ``if TYPE_CHECKING:`` blocks too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import zhipu_magic

PACKAGE = "zhipu_magic.server"
ROOT = Path(zhipu_magic.__file__).parent / "server"


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the server package."""
    out = {}
    for file in sorted(ROOT.rglob("*.py")):
        parts = file.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((PACKAGE, *parts))] = file
    return out


MODULES = _modules()


def _trees() -> dict[str, ast.Module]:
    return {name: ast.parse(file.read_text(encoding="utf-8")) for name, file in MODULES.items()}


def _base(name: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (resolving its leading dots)."""
    if not node.level:
        return node.module or ""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Every module ``name`` imports (absolute names), wherever the statement stands."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # The strict reading: ``from . import x`` imports the package and its submodule x.
            base = _base(name, node)
            out.add(base)
            out.update({f"{base}.{alias.name}" for alias in node.names} & MODULES.keys())
    return out


def _graph() -> dict[str, set[str]]:
    return {name: {m for m in _imports(name, tree) if m in MODULES} for name, tree in _trees().items()}


def test_no_import_cycle_inside_the_server() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = path[path.index(node) :] + [node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for dep in sorted(graph[node]):
            visit(dep, [*path, node])
        done.add(node)

    for name in graph:
        visit(name, [])


def test_routes_see_only_the_state_and_the_server_never_imports_the_notebook_layers() -> None:
    graph = _graph()
    upper = {PACKAGE, f"{PACKAGE}.app", f"{PACKAGE}.cli", f"{PACKAGE}.__main__"}
    for name in ("handler", "chat", "endpoints", "faults", "checks", "state", "wire"):
        assert not graph[f"{PACKAGE}.{name}"] & upper, name
    for name, tree in _trees().items():
        for dep in _imports(name, tree):
            assert not dep.startswith(("zhipu_magic.core", "zhipu_magic.notebook")), (name, dep)


def test_no_private_attribute_of_another_object() -> None:
    """``app._lock``, ``h._send_json``...: what a module uses of another object must be public."""
    bad = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            bad.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, "\n".join(bad)


def test_no_private_name_imported_across_server_modules() -> None:
    bad = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _base(name, node).startswith(PACKAGE):
                bad += [f"{name}:{node.lineno}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, "\n".join(bad)


def test_the_checks_catch_what_they_are_for() -> None:
    """The checks above would fail on the shapes they forbid (so a passing run means something)."""
    tree = ast.parse("from .checks import _Fail\nwith self.server.app._lock:\n    pass\n")
    attrs = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "_lock"]
    assert attrs and not (isinstance(attrs[0].value, ast.Name) and attrs[0].value.id == "self")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _base(f"{PACKAGE}.handler", node) == f"{PACKAGE}.checks"
    assert _imports(f"{PACKAGE}.handler", ast.parse("from . import chat")) == {PACKAGE, f"{PACKAGE}.chat"}
    assert _imports(f"{PACKAGE}.handler", ast.parse("from . import main")) == {PACKAGE}

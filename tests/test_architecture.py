"""The house rules, checked from the source: layers, no import cycles, small modules, a light load."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zhipu_magic"
MAX_MODULE_LINES = 360
MAX_FUNCTION_LINES = 62


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """Every module named by an import statement anywhere in ``name`` (inside functions and
    ``if TYPE_CHECKING:`` blocks too), with its line; external modules by their full dotted name."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _ in imports_of(name) if target in MODULES} for name in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_anywhere() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def layer_violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for name in MODULES:
        if name == layer or name.startswith(layer + "."):
            for target, line in imports_of(name):
                if any(target == f or target.startswith(f + ".") for f in forbidden):
                    bad.append(f"{name}:{line} imports {target}")
    return bad


def test_api_is_the_bottom_layer() -> None:
    """The HTTP client: stdlib and requests only; never IPython, ipywidgets or the other layers."""
    forbidden = (
        "IPython",
        "ipywidgets",
        "traitlets",
        "zhipu_magic.core",
        "zhipu_magic.notebook",
        "zhipu_magic.server",
    )
    assert layer_violations("zhipu_magic.api", forbidden) == []


def test_core_knows_no_display() -> None:
    forbidden = ("IPython", "ipywidgets", "traitlets", "zhipu_magic.notebook")
    assert layer_violations("zhipu_magic.core", forbidden) == []


def test_server_stands_apart() -> None:
    forbidden = ("IPython", "ipywidgets", "traitlets", "zhipu_magic.core", "zhipu_magic.notebook")
    assert layer_violations("zhipu_magic.server", forbidden) == []


def importers_of(layer: str) -> set[str]:
    """The modules outside ``layer`` that import something inside it."""
    return {
        name
        for name in MODULES
        if not name.startswith(layer)
        for target, _ in imports_of(name)
        if target.startswith(layer)
    }


def test_nothing_imports_the_notebook_layer() -> None:
    """Only the package's lazy entry points reach into ``notebook``."""
    assert importers_of("zhipu_magic.notebook") <= {"zhipu_magic"}


def test_only_the_backend_starts_the_local_server() -> None:
    assert importers_of("zhipu_magic.server") <= {"zhipu_magic", "zhipu_magic.core.backend"}


def test_no_private_names_imported_across_modules() -> None:
    bad = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").startswith("zhipu_magic")
            ):
                bad += [f"{name}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")]
    assert [b for b in bad if not b.endswith("__version__")] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name: str) -> None:
    source = MODULES[name].read_text()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{name} has {source.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_load_ext_is_light_and_quick() -> None:
    """``%load_ext`` imports neither ipywidgets, requests, sqlite3 (IPython's history may have) nor the
    local server, and costs
    well under 100 ms. CPU time of the process, not wall time: other processes on a busy 2-core CI
    machine stretch the wall clock (2-3x seen), not the work done."""
    code = (
        "import sys, time\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\nbefore = set(sys.modules)\nt = time.process_time()\n"
        "ip.run_line_magic('load_ext', 'zhipu_magic')\nms = (time.process_time() - t) * 1000\n"
        "heavy = [m for m in ('ipywidgets', 'requests', 'sqlite3', 'zhipu_magic.server')"
        " if m in sys.modules and m not in before]\n"
        "print(f'{ms:.1f}', ','.join(heavy))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        for _ in range(3)
    ]
    for out in runs:
        assert out.returncode == 0, out.stderr
    results = [out.stdout.split() for out in runs]
    assert all(len(r) == 1 for r in results), results  # nothing heavy was imported
    assert min(float(r[0]) for r in results) < 100, results

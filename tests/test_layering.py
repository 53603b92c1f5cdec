"""The import layering of the code (read from the source, nothing imported): dependencies point one way.

- bot/ is the core: no module of it imports handlers/ or jobs/, except bot/app.py, the composition root
  that builds the Application (DESIGN.md: "Only bot/app.py imports everything");
- handlers/ and jobs/ use bot/ and never each other;
- no import cycles among the project's modules (imports inside functions count too).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "jobs")
COMPOSITION_ROOT = "bot.app"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """The project modules ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imports(path, name, known)) for name, path in found.items()}


def test_layering_bot_never_imports_handlers_or_jobs_except_the_composition_root() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items()
        if name.split(".")[0] == "bot" and name != COMPOSITION_ROOT
        for target in targets
        if target.split(".")[0] in ("handlers", "jobs")
    )
    assert wrong == []


def test_layering_handlers_and_jobs_do_not_import_each_other() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if {name.split(".")[0], target.split(".")[0]} == {"handlers", "jobs"}
    )
    assert wrong == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
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
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_layering_has_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_layering_cycle_finder_reports_a_cycle() -> None:
    # The check above must be able to fail: a two-module circle and a three-module one.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": set()}) == [["a", "b"], ["c", "d", "e"]]

"""The package's import graph: no cycles (imports inside functions count too), and the
keeper's layers point down only (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import nat1_traversal

PACKAGE = "nat1_traversal"
ROOT = Path(nat1_traversal.__file__).parent


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The package module ``name`` refers to (itself, or the nearest enclosing package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    """Every package module ``module`` imports, at top level or inside a function."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != PACKAGE:
                continue
            target = _target(name)
            if target is not None and target != module:
                targets.add(target)
    return targets


GRAPH: dict[str, set[str]] = {module: _imports(module, path) for module, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions() -> None:
    # service.py imports the publisher lazily, inside Service.start.
    assert "nat1_traversal.publish" in GRAPH["nat1_traversal.service"]


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def _keeper(name: str) -> str:
    return f"{PACKAGE}.keeper.{name}"


def test_keeper_layers_point_down() -> None:
    inside = {name: {t for t in GRAPH[_keeper(name)] if t.startswith(f"{PACKAGE}.keeper")}
              for name in ("types", "sanity", "tracker", "acquire", "tcp", "udp", "loop")}
    assert inside["types"] == set()
    assert inside["sanity"] == set()
    assert inside["tracker"] == set()
    assert inside["acquire"] <= {_keeper("types"), _keeper("sanity")}
    assert inside["tcp"] <= {_keeper("types")}
    assert inside["udp"] <= {_keeper("types")}
    assert inside["loop"] <= {_keeper("types"), _keeper("tracker"), _keeper("acquire")}


def test_nothing_imports_the_keeper_package_init() -> None:
    """Parts import the module they need; the ``__init__`` only re-exports."""
    importers = sorted(module for module, targets in GRAPH.items() if f"{PACKAGE}.keeper" in targets)
    assert importers == []


def test_udp_path_does_not_know_the_forwarder() -> None:
    assert not any(t.startswith(f"{PACKAGE}.forward") for t in GRAPH[_keeper("udp")])


def test_lower_layers_do_not_know_the_keeper_or_the_app() -> None:
    upper = {f"{PACKAGE}.app", f"{PACKAGE}.keeper", f"{PACKAGE}.watch", f"{PACKAGE}.cli", f"{PACKAGE}.publish"}
    for module, targets in GRAPH.items():
        if module.startswith((f"{PACKAGE}.stun", f"{PACKAGE}.dns", f"{PACKAGE}.net", f"{PACKAGE}.model")):
            bad = {t for t in targets if t in upper or t.startswith(f"{PACKAGE}.keeper.")}
            assert not bad, (module, bad)

"""The forward package has no import cycle (issue 10), counting imports inside
functions and under TYPE_CHECKING: its modules depend one way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "nat1_traversal"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            for target in targets:
                if target in modules and target != name:
                    edges[name].add(target)
                    break  # "from pkg import sub": the submodule, not the package as well
    return edges


def cycle_through(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in edges[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_import_cycle_through_the_forward_package() -> None:
    edges = graph()
    forward = sorted(name for name in edges if name.startswith("nat1_traversal.forward"))
    assert "nat1_traversal.forward.udp_thread" in forward
    cycles = {name: cycle_through(name, edges) for name in forward}
    assert {name: cycle for name, cycle in cycles.items() if cycle} == {}


def test_the_relay_thread_uses_no_private_attribute_of_the_forwarder() -> None:
    source = (PACKAGE / "forward" / "udp_thread.py").read_text(encoding="utf-8")
    assert "fwd._" not in source and "forwarder._" not in source
    assert "nat1_traversal.forward.udp" not in graph()["nat1_traversal.forward.udp_thread"]

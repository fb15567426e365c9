"""Imports flow one way: a module imports records, utilities and stages to its left, never to
its right, and no two modules import each other (however indirectly). Lazy imports inside
functions and imports under TYPE_CHECKING count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "holobench"

#: Left to right, as data flows; the README's architecture section draws the same picture.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("records", ("holobench.errors", "holobench._version", "holobench.records")),
    (
        "utilities",
        (
            "holobench._io",
            "holobench._urls",
            "holobench.cache",
            "holobench.tokenizers",
            "holobench.environment",
            "holobench.prompts",
            "holobench.plots",
            "holobench.jsonl",
            "holobench.journal",
        ),
    ),
    ("backends", ("holobench.backends",)),
    ("sql", ("holobench.sql",)),
    ("database", ("holobench.database",)),
    ("verbalize", ("holobench.verbalize",)),
    ("queries", ("holobench.queries",)),
    ("sources", ("holobench.sources",)),
    (
        "generation",
        (
            "holobench.placements",
            "holobench.token_cache",
            "holobench.lines",
            "holobench.provenance",
            "holobench.sampling",
            "holobench.context",
            "holobench.fewshot",
            "holobench.oracle",
            "holobench.perturb",
        ),
    ),
    ("suite", ("holobench.executors", "holobench.suite_file", "holobench.suite", "holobench.verify")),
    (
        "runner",
        (
            "holobench.batches",
            "holobench.run_folder",
            "holobench.runner",
            "holobench.merge",
            "holobench.estimate",
            "holobench.ray_workers",
            "holobench.ray_run",
        ),
    ),
    ("scoring", ("holobench.scoring",)),
    (
        "reports",
        (
            "holobench.aggregate",
            "holobench.paired",
            "holobench.closed_book",
            "holobench.costs",
            "holobench.carriers",
            "holobench.position",
            "holobench.report",
            "holobench.viewer",
            "holobench.submit",
            "holobench.leaderboard",
            "holobench.export",
        ),
    ),
    # other harnesses' entry points: they import the library they serve, lazily or on their own
    ("interop", ("holobench.interop",)),
    ("front", ("holobench.cli", "holobench.testing", "holobench")),
)
#: libraries of optional extras that only ``holobench.interop`` may import
INTEROP_LIBRARIES = ("inspect_ai", "lm_eval")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The layer whose longest prefix names the module."""
    best, length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = index, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def imports_of(source: str, module: str) -> set[str]:
    """Every holobench module ``source`` imports, wherever the import sits."""
    found: set[str] = set()
    is_package = (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "holobench"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "holobench":
                continue
            for alias in node.names:  # `from holobench.scoring import match` may name a submodule
                sub = f"{base}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() else base)
    found.discard(module)
    return found


def graph(overrides: dict[str, str] | None = None) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        source = (overrides or {}).get(name, path.read_text(encoding="utf-8"))
        edges[name] = imports_of(source, name)
    return edges


def backward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in edges.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    for module in graph():
        layer_of(module)


def test_imports_flow_one_way() -> None:
    assert backward_imports(graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("holobench.records.query", "from holobench.runner import Runner"),
        ("holobench.runner", "def f():\n    from holobench.scoring.match import match\n"),
        (
            "holobench.sql.analysis",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import holobench.sources.base\n",
        ),
    ],
)
def test_a_backward_import_is_caught(module: str, line: str) -> None:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    edges = graph({module: path.read_text(encoding="utf-8") + "\n" + line + "\n"})
    assert any(problem.startswith(module + " ") for problem in backward_imports(edges))


def test_a_cycle_is_caught() -> None:
    path = PACKAGE / "lines.py"  # context imports lines; lines importing context closes a loop
    edges = graph({"holobench.lines": path.read_text(encoding="utf-8") + "\nfrom holobench.context import build\n"})
    assert any({"holobench.context", "holobench.lines"} <= set(group) for group in cycles(edges))


def third_party_imports(source: str) -> set[str]:
    """The top-level names of every module ``source`` imports, wherever the import sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_only_interop_imports_the_harnesses() -> None:
    """The core runs without inspect_ai and lm-eval installed: only their entry points import them."""
    offenders = sorted(
        module
        for path in PACKAGE.rglob("*.py")
        if not (module := module_name(path)).startswith("holobench.interop")
        and third_party_imports(path.read_text(encoding="utf-8")) & set(INTEROP_LIBRARIES)
    )
    assert offenders == []
    assert "inspect_ai" in third_party_imports((PACKAGE / "interop" / "inspect_tasks.py").read_text(encoding="utf-8"))

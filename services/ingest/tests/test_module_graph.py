"""The ingest service's modules import each other without a cycle.

Every import counts, those under ``TYPE_CHECKING`` and those inside functions too: a
cycle hidden that way is still two modules that cannot be understood one without the
other (``indexing.py`` and ``record_indexing.py`` were such friends). Read with ``ast``,
nothing is imported.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import ingest_service

PACKAGE = "ingest_service"
ROOT = Path(ingest_service.__file__).parent


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(name: str, is_package: bool, tree: ast.Module, modules: set[str]) -> set[str]:
    """The package's modules that the module ``name`` imports."""
    here = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            if node.level:
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # ``from x import y`` imports x, and x.y when y is a module
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in ROOT.rglob("*.py")}
    modules = set(files)
    return {
        name: imported(name, path.name == "__init__.py", ast.parse(path.read_text()), modules)
        for name, path in files.items()
    }


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "ingest_service.indexing.files" in graph["ingest_service.indexing.scan_runner"]
    assert "ingest_service.extraction.extract" in graph["ingest_service.extraction.formats"]


def test_no_import_cycle() -> None:
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise AssertionError(f"import cycle in ingest_service: {cycle}") from None


def test_a_cycle_is_found() -> None:
    """The check itself: two modules importing each other are a cycle."""
    a, b = ast.parse("from .b import x"), ast.parse("from . import a")
    modules = {"ingest_service.a", "ingest_service.b"}
    graph = {
        "ingest_service.a": imported("ingest_service.a", False, a, modules),
        "ingest_service.b": imported("ingest_service.b", False, b, modules),
    }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("the cycle a -> b -> a was not found")

"""The layout rules of DESIGN.md, checked on the source tree so that they stay true as the code grows.

- Nothing outside ``api/``, ``web/`` and the CLI imports ``truceline.api``: the HTTP layer sits on top, and
  shared logic (reader views, limits, settings, background roles) lives below it.
- Each package imports only from its own layer or below (the layer picture in DESIGN.md).
- No module is longer than 600 lines (Python, and the page's own JavaScript), and every module says its job
  in a docstring.

Imports are read with :mod:`ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "truceline"
MAX_LINES = 600

#: DESIGN.md's layers, lowest first; a package may import from its own layer and the ones before it.
#: ``sim`` and ``eval`` (scenario generation, metrics against ground truth) sit with the front ends.
LAYERS: list[set[str]] = [
    {"domain"},
    {"ingest", "text", "locate", "ledger", "track"},
    {"fuse", "verify", "access"},
    {"store", "bus"},
    {"service", "cluster", "federate"},
    {"report", "api", "web", "cli", "sim", "eval"},
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}

#: Imports that cross the layers upwards today, each with the reason it is tolerated; a new one fails.
#: The test also fails when one of these disappears, so the list never outlives its reason.
KNOWN_UPWARD = {
    # the file-ingest pipeline stores in chunks through the store's Protocol (a type only)
    ("ingest/pipeline.py", "truceline.store.ports"),
    # FIRMS files are flagged with the conflict-fire analytic on the way in
    ("ingest/firms_flags.py", "truceline.fuse.conflict_fire"),
}

#: Modules allowed over MAX_LINES while they are being split elsewhere; stale entries fail the test.
#: Modules allowed over the limit (none: keep it so).
OVERSIZE_ALLOWED: set[str] = set()


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _package(relative: str) -> str:
    """The top-level package of a module path (``cli_*.py`` count as ``cli``)."""
    head = relative.split("/")[0]
    if head.endswith(".py"):
        head = head[: -len(".py")]
    return "cli" if head.startswith("cli") else head


def _imports(path: Path) -> list[str]:
    """Every ``truceline.*`` module a file imports, relative imports resolved."""
    relative = path.relative_to(SRC.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(module)
            # ``from truceline import api`` imports the package named by the alias
            found += [f"{module}.{alias.name}" for alias in node.names if module == "truceline"]
    return [m for m in found if m == "truceline" or m.startswith("truceline.")]


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_only_api_web_and_the_cli_import_truceline_api() -> None:
    offenders = [
        f"{_rel(path)} imports {module}"
        for path in _modules()
        if _package(_rel(path)) not in {"api", "web", "cli"}
        for module in _imports(path)
        if module == "truceline.api" or module.startswith("truceline.api.")
    ]
    assert offenders == []


def test_every_package_imports_only_its_own_layer_or_below() -> None:
    upward: set[tuple[str, str]] = set()
    for path in _modules():
        rel = _rel(path)
        package = _package(rel)
        if package in ("__init__", "data"):
            continue
        assert package in RANK, f"{rel}: package {package!r} is in no layer of DESIGN.md; add it to LAYERS"
        for module in _imports(path):
            target = module.split(".")[1] if "." in module else ""
            target = "cli" if target.startswith("cli") else target
            if target in RANK and RANK[target] > RANK[package]:
                upward.add((rel, module))
    assert upward - KNOWN_UPWARD == set(), "new imports from a higher layer"
    assert KNOWN_UPWARD - upward == set(), "these exceptions are gone: remove them from KNOWN_UPWARD"


def _own_sources() -> list[Path]:
    static = SRC / "web" / "static"
    scripts = [p for p in static.rglob("*.js") if "vendor" not in p.relative_to(static).parts]
    return _modules() + sorted(scripts)


@pytest.mark.parametrize("path", _own_sources(), ids=_rel)
def test_no_module_is_longer_than_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if _rel(path) in OVERSIZE_ALLOWED:
        assert lines > MAX_LINES, f"{_rel(path)} is {lines} lines now: remove it from OVERSIZE_ALLOWED"
        return
    assert lines <= MAX_LINES, f"{_rel(path)} is {lines} lines; split it by responsibility"


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_every_module_says_its_job(path: Path) -> None:
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{_rel(path)} has no module docstring"

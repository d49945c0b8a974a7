"""The house (docs/architecture.md): each app imports only the apps below it, with no cycles.

Every module's imports are read with ``ast`` — imports inside functions and ``TYPE_CHECKING`` blocks count too, so
a cycle cannot hide in a function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# app: the project apps it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "loans": {"core"},
    "rates": {"core"},
    "pipeline": {"core", "loans", "rates"},
    "outreach": {"core", "loans", "rates", "pipeline"},
    "refinance": {"core", "loans", "rates", "pipeline"},
    "reports": {"core", "loans", "pipeline", "outreach", "campaigns"},
    "los": {"core", "loans"},
    "webhooks": {"core", "loans", "pipeline", "outreach", "refinance"},
    "scoring": {"core", "loans", "rates", "pipeline", "outreach"},
    "campaigns": {"core", "loans", "rates", "pipeline", "outreach"},
    "automations": {"core", "loans", "rates", "pipeline", "outreach", "refinance", "los"},
    "refiapp": {
        "core",
        "loans",
        "rates",
        "pipeline",
        "outreach",
        "refinance",
        "reports",
        "los",
        "scoring",
        "campaigns",
        "webhooks",
        "automations",
    },
}
APPS = set(ALLOWED)
MAX_LINES = 600
MAX_SHARE = 0.35


def _modules(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in APPS)
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    """app → imported app → the modules that import it."""
    graph: dict[str, dict[str, list[str]]] = {app: {} for app in APPS}
    for app in APPS:
        for path in _modules(app):
            for other in _imported_apps(path) - {app}:
                graph[app].setdefault(other, []).append(str(path.relative_to(ROOT)))
    return graph


@pytest.mark.parametrize("app", sorted(APPS))
def test_app_imports_only_lower_apps(app):
    graph = _graph()
    wrong = {other: modules for other, modules in graph[app].items() if other not in ALLOWED[app]}
    assert wrong == {}, f"{app} imports apps above it or beside it: {wrong}"


def test_nothing_imports_refiapp_and_core_imports_no_project_app():
    graph = _graph()
    assert [app for app in APPS if "refiapp" in graph[app] and app != "refiapp"] == []
    assert graph["core"] == {}


def test_no_cycles_between_apps():
    graph = {app: set(edges) for app, edges in _graph().items()}
    state: dict[str, str] = {}

    def visit(app: str, path: list[str]) -> None:
        state[app] = "open"
        for other in graph[app]:
            assert state.get(other) != "open", f"import cycle: {' -> '.join([*path, other])}"
            if other not in state:
                visit(other, [*path, other])
        state[app] = "done"

    for app in sorted(graph):
        if app not in state:
            visit(app, [app])


def test_the_rules_are_not_vacuous():
    """The checker sees real imports (a broken walker would pass everything)."""
    graph = _graph()
    assert "core" in graph["loans"] and "pipeline" in graph["outreach"] and "outreach" in graph["refiapp"]
    assert "core" in _imported_apps(ROOT / "pipeline" / "services" / "opportunities.py") or graph["pipeline"]


def test_no_module_over_600_lines_and_no_app_over_35_percent():
    sizes: dict[str, int] = {}
    long_files = []
    for app in APPS:
        for path in _modules(app):
            lines = len(path.read_text().splitlines())
            sizes[app] = sizes.get(app, 0) + lines
            if lines > MAX_LINES:
                long_files.append((str(path.relative_to(ROOT)), lines))
    assert long_files == []
    total = sum(sizes.values())
    assert {app: round(n / total, 3) for app, n in sizes.items() if n / total > MAX_SHARE} == {}

"""The rooms of the code (docs/layout.md) keep their shape: no two files import each other, even
through others; production code never imports the development tooling under dev/; no module
is longer than a reader can hold; every task queued by name is one a worker runs.

The imports are read from the source (every `import`, at the top or inside a function), not
from a running process: a lazy import that closes a cycle is still a cycle.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from healix.celery import app

ROOT = Path(__file__).resolve().parent.parent
APPS = ("healix", "bus", "dev", "events", "integrations", "plans", "rules", "templates")
PRODUCTION = tuple(app for app in APPS if app != "dev")
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for app_dir in APPS:
        for path in (ROOT / app_dir).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The first-party modules `path` imports (a name imported from a package that is a module
    of its own counts as that module)."""

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if (module := resolve(name)) is not None:
                yield module


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(path, known)) - {name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other_even_through_others():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_through_a_third_module():
    # The check above must be able to fail: a -> b -> c -> a is one cycle, d is outside it.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_production_code_never_imports_the_development_tooling():
    graph = import_graph()
    offenders = {
        module: sorted(target for target in targets if target.split(".")[0] == "dev")
        for module, targets in graph.items()
        if module.split(".")[0] in PRODUCTION
    }
    assert {module: dev for module, dev in offenders.items() if dev} == {}


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_is_short_enough_to_read(name):
    lines = modules()[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concept"


@pytest.mark.parametrize(
    "task_name",
    [
        "plans.services.SUBMISSION_RULES_TASK",
        "rules.inbound.EVALUATE_TASK",
        "integrations.webhooks.delivery.DELIVER_TASK",
    ],
)
def test_every_task_queued_by_name_is_registered(task_name):
    module_name, _, constant = task_name.rpartition(".")
    module = __import__(module_name, fromlist=[constant])
    app.loader.import_default_modules()  # what a worker imports at start-up
    assert getattr(module, constant) in app.tasks

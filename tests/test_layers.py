"""The rooms of the code point down (issue 28).

Each room (a package of bot/, or a module standing alone) sits on a layer;
a room imports only rooms of its own layer or below, and no two rooms import
each other, directly or around a circle. A leaf used by several rooms lives
below them all (the escalation triggers with the NLU, channel settings
beside the settings); the code that reads Rasa's event stream has its own
room (bot/events/) above the queue and the figures it feeds.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[1]
# Lowest first.
LAYERS = [
    ["bot", "bot.db", "bot.profile", "bot.channel_settings", "bot.settings",
     "bot.alerts", "bot.rasa_api", "bot.rasa_fixes", "bot.rasa_diet", "bot.nginx",
     "bot.stores"],
    ["bot.nlu"],  # the model's components, the encoder, the triggers
    ["bot.faq"],  # the pack, answers, versions, suggestions
    ["bot.handoff", "bot.publish"],  # the queue; training and loading models
    ["bot.insights"],  # the crisis figures and the report
    ["bot.corrections"],  # telling people an answer they got has changed
    ["bot.events", "bot.degraded", "bot.overload"],
    ["bot.channels", "bot.retention"],
    ["bot.console"],
    ["bot.commands"],
    ["bot.cli"],
    ["actions"],
]  # fmt: skip
LAYER = {room: depth for depth, rooms in enumerate(LAYERS) for room in rooms}


def room(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "actions":
        return "actions"
    return ".".join(parts[:2]) if len(parts) > 1 else "bot"


def modules() -> dict[str, Path]:
    found = {}
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (at the top or inside a
    function: both are dependencies)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = (f"{node.module}.{alias.name}" for alias in node.names)
                targets = [node.module, *names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in known and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_every_room_has_a_layer() -> None:
    missing = sorted({room(name) for name in modules()} - set(LAYER))
    assert not missing, f"place these rooms in LAYERS: {missing}"


def test_imports_point_down() -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in imports().items()
        for target in targets
        if LAYER[room(target)] > LAYER[room(name)]
    )
    assert not upward, "\n".join(upward)


def test_no_circles_between_modules_or_rooms() -> None:
    graph = imports()
    rooms: dict[str, set[str]] = defaultdict(set)
    for name, targets in graph.items():
        rooms[room(name)] |= {room(t) for t in targets} - {room(name)}
    assert circles(graph) == []
    assert circles(rooms) == []

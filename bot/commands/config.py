"""`relais config check`: .env, the environment and Rasa's endpoints file,
validated before `make run` starts anything."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

import yaml

from bot.commands import same_database, tracker_url_of
from bot.settings import MOVED_TO_PROFILE, PROJECT_ROOT, SettingsError, get_settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="subcommand", required=True)
    check = config_commands.add_parser(
        "check", help="validate .env and the environment"
    )
    check.add_argument(
        "--endpoints",
        default="endpoints.yml",
        help="the Rasa endpoints file to check (make run-scaled: endpoints.scaled.yml)",
    )


def run(args: argparse.Namespace) -> int:
    return check_config(args.endpoints)


def endpoint_classes_problem(path: Path) -> str | None:
    """Says which class named in endpoints.yml cannot be imported, or that
    Rasa would call the action server without its secret.

    Rasa replaces a tracker store or event broker it cannot import with none
    at all (conversations in memory only, no events for the console) and only
    warns: a typo there must stop `make run` instead. An action endpoint
    without the secret would get 401 on every action.
    """
    try:
        endpoints = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        return f"{path.name} cannot be read: {error}"
    for section in ("tracker_store", "event_broker", "lock_store"):
        kind = str((endpoints.get(section) or {}).get("type") or "")
        if "." not in kind:
            continue  # one of Rasa's own types
        module, _, name = kind.rpartition(".")
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            return (
                f"{path.name}: {section} type {kind} cannot be loaded ({error}); "
                "Rasa would keep conversations in memory only."
            )
    headers = (endpoints.get("action_endpoint") or {}).get("headers") or {}
    if "${RELAIS_ACTIONS_SECRET}" not in str(headers.get("Authorization", "")):
        return (
            f"{path.name}: action_endpoint sends no RELAIS_ACTIONS_SECRET, and the "
            "action server (relais actions) refuses calls without it. Add under "
            "action_endpoint:  headers:  Authorization: Bearer "
            "${RELAIS_ACTIONS_SECRET}"
        )
    if not _plain(path, ("action_endpoint", "headers", "Authorization")):
        return (
            f"{path.name}: action_endpoint's Authorization is in quotes, and Rasa "
            "fills ${...} from the environment in unquoted values only: it would "
            "send the placeholder and every action would be refused. Write it "
            "without quotes:  Authorization: Bearer ${RELAIS_ACTIONS_SECRET}"
        )
    return None


def _plain(path: Path, keys: tuple[str, ...]) -> bool:
    """Whether the YAML value at `keys` is written without quotes."""
    node = yaml.compose(path.read_text(encoding="utf-8"))
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return False
        found = [v for k, v in node.value if getattr(k, "value", None) == key]
        if not found:
            return False
        node = found[0]
    return isinstance(node, yaml.ScalarNode) and node.style is None


def events_source_problem(path: Path, events_url: str) -> str | None:
    """What stops the console's watcher from seeing Rasa's events: a SQL
    RELAIS_EVENTS_URL that is neither an event broker's database (the
    endpoints name none) nor the tracker store's."""
    if events_url.startswith(("amqp://", "amqps://")) or not path.is_file():
        return None
    try:
        endpoints = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None  # endpoint_classes_problem says why
    if endpoints.get("event_broker"):
        return None
    tracker_url = tracker_url_of(path)
    if tracker_url is None or same_database(events_url, tracker_url):
        return None
    return (
        f"RELAIS_EVENTS_URL is {events_url}, but {path.name} names no event broker "
        f"and Rasa keeps conversations in {tracker_url}: the console would never "
        "see a message. Point RELAIS_EVENTS_URL at the tracker store's database, "
        "or leave it unset for make run's."
    )


def check_config(endpoints: str = "endpoints.yml") -> int:
    """Validates the configuration; prints what is wrong in one line."""
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    for name in MOVED_TO_PROFILE:
        if os.environ.get(name):
            print(
                f"Warning: {name} is no longer read; contacts are in "
                f"{settings.pack_dir / 'profile.yml'}. Remove it from .env.",
                file=sys.stderr,
            )
    problem = endpoint_classes_problem(
        PROJECT_ROOT / endpoints
    ) or events_source_problem(PROJECT_ROOT / endpoints, settings.events_url)
    if problem:
        print(f"Configuration error: {problem}", file=sys.stderr)
        return 2
    print(
        f"Configuration OK ({settings.environment} mode, Rasa at {settings.rasa_url},"
        f" crisis: {settings.profile.brand}, {settings.profile.about['en']},"
        f" pack {settings.pack_dir.name})."
    )
    return 0

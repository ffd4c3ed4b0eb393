"""`relais purge`: remove personal data older than the retention period.

    relais purge --older-than 90d [--dry-run] [--endpoints endpoints.yml]

What goes and what stays: bot/retention.py. Run it daily (cron, a
systemd timer); it says what it removed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands import same_database, tracker_url_of
from bot.db import get_session_factory, utcnow
from bot.handoff import spool
from bot.settings import PROJECT_ROOT, Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "purge", help="remove conversations and personal data past the retention"
    )
    parser.add_argument("--older-than", required=True, help="90d, 12w or 48h")
    parser.add_argument(
        "--endpoints", default="endpoints.yml", help="where Rasa's tracker store is"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would go, remove nothing"
    )


class _DryRun(Exception):
    """Rolls a dry run's transactions back."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: the retention code loads spaCy, which `relais --help`
    # and the other commands need not wait for.
    from bot.retention import (
        PurgeError,
        Removed,
        purge_broker,
        purge_relais,
        purge_tracker_store,
        retention,
    )

    try:
        cutoff = utcnow() - retention(args.older_than)
    except PurgeError as error:
        print(error, file=sys.stderr)
        return 2
    endpoints = Path(args.endpoints)
    if not endpoints.is_absolute():
        endpoints = PROJECT_ROOT / endpoints
    tracker_url = tracker_url_of(endpoints)
    removed = Removed()
    factory = get_session_factory(settings.database_url)
    try:
        with factory.begin() as session:
            purge_relais(session, cutoff, removed)
            # The tracker store's own table (make run) goes with its
            # conversations, below, never event by event.
            if not settings.events_url.startswith("amqp") and not same_database(
                settings.events_url, tracker_url
            ):
                purge_broker(
                    session, settings.events_url, cutoff, removed, args.dry_run
                )
            if args.dry_run:
                raise _DryRun  # nothing of Relais' own changes is kept
    except _DryRun:
        pass
    if tracker_url:
        purge_tracker_store(tracker_url, cutoff, removed, args.dry_run)
    removed.add(
        "set-aside handoff files",
        spool.purge_set_aside(settings.spool_dir, cutoff, args.dry_run),
    )
    when = cutoff.astimezone(settings.timezone).strftime("%d/%m/%Y %H:%M")
    verb = "Would remove" if args.dry_run else "Removed"
    print(f"{verb}, from before {when}:")
    print("\n".join(removed.lines()) or "  nothing")
    if tracker_url is None:
        print(f"Rasa's tracker store: not a SQL store in {endpoints.name}, not purged.")
    print(
        "Kept: the 5-minute figures, tickets' times, statements, answer versions, "
        "publishes, switches and spike alerts (relais report still works)."
    )
    return 0

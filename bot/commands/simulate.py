"""`relais simulate`: load a generated crisis day (bot/insights/generator.py).

    relais simulate --day 2026-11-28 --conversations 3000 --spike-at 14:00
    relais simulate --until-now --spike-minutes-ago 20    # the last 24 hours

writes the day's conversations into the tracker store and the SQL event
broker (as Rasa would have), and its tickets into the queue; the console's
watcher turns them into the overview's figures within seconds. For demos,
tests and benchmarks: never on a production database.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.commands import same_database, tracker_url_of
from bot.db import get_session_factory, utcnow
from bot.settings import PROJECT_ROOT, Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "simulate", help="load a generated crisis day (demos, tests, benchmarks)"
    )
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--day", help="a past day, e.g. 2026-11-28")
    when.add_argument(
        "--until-now",
        action="store_true",
        help="the 24 hours up to now: the overview and the spike banner show it live",
    )
    parser.add_argument(
        "--spike-minutes-ago",
        type=int,
        default=20,
        help="with --until-now: when the new question started",
    )
    parser.add_argument("--conversations", type=int, default=3000)
    parser.add_argument(
        "--spike-at", default="14:00", help="local time the unplanned question starts"
    )
    parser.add_argument("--spike-per-hour", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--endpoints", default="endpoints.yml", help="where Rasa's tracker store is"
    )
    parser.add_argument("--truth", help="write what was generated to this JSON file")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.events_url.startswith("amqp"):
        print(
            "relais simulate writes to the SQL tracker store: run it with make "
            "run's settings, not the scaled-out ones.",
            file=sys.stderr,
        )
        return 2
    if args.conversations < 1:
        print("--conversations must be at least 1.", file=sys.stderr)
        return 2
    if args.until_now:
        end = utcnow().replace(second=0, microsecond=0)
        start = end - timedelta(hours=24)
        spike_at = end - timedelta(minutes=max(1, args.spike_minutes_ago))
        label = "the last 24 hours"
    else:
        try:
            day = date.fromisoformat(args.day)
            spike = time.fromisoformat(args.spike_at)
        except ValueError as error:
            print(f"Bad --day or --spike-at: {error}", file=sys.stderr)
            return 2
        start = datetime.combine(day, time()).replace(tzinfo=settings.timezone)
        spike_at = datetime.combine(day, spike).replace(tzinfo=settings.timezone)
        label = str(day)
    endpoints = Path(args.endpoints)
    if not endpoints.is_absolute():
        endpoints = PROJECT_ROOT / endpoints
    tracker_url = tracker_url_of(endpoints)
    try:
        from bot.insights.generator import Day  # loads spaCy: only here

        generator = Day(
            settings.pack_dir,
            start,
            args.conversations,
            spike_at=spike_at,
            spike_per_hour=args.spike_per_hour,
            seed=args.seed,
        )
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    # Where the watcher reads the tracker store's own table (make run), the
    # events are written there once.
    broker_url = (
        None if same_database(settings.events_url, tracker_url) else settings.events_url
    )
    with get_session_factory(settings.database_url).begin() as session:
        truth = generator.write(
            session=session, tracker_url=tracker_url, broker_url=broker_url
        )
    if args.truth:
        Path(args.truth).write_text(truth.to_json(), encoding="utf-8")
    print(
        f"{truth.conversations} conversations, {truth.messages} messages, "
        f"{truth.events} events over {label}; {sum(truth.handoffs.values())} "
        f"handed to the team; the new question {truth.spike_messages} times from "
        f"{spike_at.astimezone(settings.timezone):%d/%m %H:%M}. The console's "
        "watcher reads them now."
    )
    return 0

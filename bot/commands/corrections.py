"""`relais corrections`: who got an earlier answer, and who can be told.

relais corrections who TOPIC [--list]
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.db import get_session_factory, utcnow
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.corrections.recipients import Summary

REACH_HEADINGS = {
    "now": "now",
    "on_return": "on return",
    "template": "template",
    "out_of_window": "too late",
    "never": "never",
    "unknown": "unknown",
}
CHANNEL_NAMES = {
    "messenger": "Messenger",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "socketio": "web chat",
    "rest": "REST API",
    "": "(not known)",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    corrections = commands.add_parser(
        "corrections", help="who got an earlier answer, and who can still be told"
    )
    sub = corrections.add_subparsers(dest="subcommand", required=True)
    who = sub.add_parser(
        "who",
        help="the people whose latest answer on a topic is not the current one, "
        "by channel, language and what can reach them now",
    )
    who.add_argument("topic", help="the topic's key, as in `relais faq log`")
    who.add_argument(
        "--list", action="store_true", help="one line per person, not only the counts"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    return {"who": corrections_who}[args.subcommand](settings, args)


def corrections_who(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import recipients
    from bot.faq.live import current_pack

    pack = current_pack(settings)
    topic = pack.get(args.topic)
    if topic is None:
        print(
            f"No topic {args.topic!r}. Topics: {', '.join(sorted(pack))}.",
            file=sys.stderr,
        )
        return 2
    now = utcnow()
    with get_session_factory(settings.database_url).begin() as session:
        people = recipients.outdated(
            session=session, topic=topic, now=now, channels=settings.channels
        )
    summary = recipients.summarise(topic, people)
    current = ", ".join(f"{lang} {v}" for lang, v in sorted(summary.current.items()))
    print(f"{topic.key}: current answer {current}.")
    if not people:
        print("Everyone who got an answer on this topic got the current one.")
        return 0
    print(
        f"{summary.total} people got an earlier answer; "
        f"{summary.deliverable()} can be told now or when they come back."
    )
    print(_table(summary))
    if args.list:
        zone = settings.timezone
        for person in people:
            last = (
                person.last_message_at.astimezone(zone).strftime("%d/%m %H:%M")
                if person.last_message_at
                else "?"
            )
            channel = CHANNEL_NAMES.get(person.channel, person.channel)
            print(
                f"  {person.conversation_id}  {channel}"
                f"  {person.language}  version {person.version}"
                f"  received {person.received_at.astimezone(zone):%d/%m %H:%M}"
                f"  last wrote {last}  {REACH_HEADINGS[person.reach]}"
            )
    return 0


def _table(summary: Summary) -> str:
    """Counts of people by channel and language (rows) and reach (columns)."""
    from bot.corrections.recipients import REACHES

    rows = sorted({(channel, lang) for channel, lang, _ in summary.counts})
    headings = ["channel", "language", *(REACH_HEADINGS[r] for r in REACHES)]
    lines = [
        [
            CHANNEL_NAMES.get(channel, channel),
            lang,
            *(str(summary.counts.get((channel, lang, r), 0)) for r in REACHES),
        ]
        for channel, lang in rows
    ]
    table = [headings, *lines]
    widths = [max(len(row[i]) for row in table) for i in range(len(headings))]
    return "\n".join(
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in table
    )

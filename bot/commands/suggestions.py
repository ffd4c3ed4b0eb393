"""`relais suggestions`: editors review what people taught the FAQ.

    relais suggestions list [--topic T]           # pending, most asked first
    relais suggestions accept ID... [--to TOPIC]  # into the pack as examples
    relais suggestions accept --topic T           # every pending one of a topic
    relais suggestions reject ID...

Accepted suggestions are written into the pack's faq/ (linted first, nothing
written on an error); `relais publish` then trains on them. See
bot/faq/suggestions.py for where suggestions come from.
"""

from __future__ import annotations

import argparse

from bot.db import get_session_factory
from bot.faq import suggestions
from bot.faq.live import current_pack
from bot.settings import Settings

TEXT_WIDTH = 70


def add_parser(
    commands: argparse._SubParsersAction, parent: argparse.ArgumentParser
) -> None:
    """Adds `suggestions list|accept|reject` to the `relais` parser."""
    group = commands.add_parser(
        "suggestions", help="review the examples people taught the FAQ"
    )
    actions = group.add_subparsers(dest="subcommand", required=True)
    listing = actions.add_parser("list", help="pending suggestions, most asked first")
    listing.add_argument("--topic", help="only this topic")
    listing.add_argument("--limit", type=int, default=200)
    accept = actions.add_parser(
        "accept", help="write suggestions into the pack as examples", parents=[parent]
    )
    accept.add_argument("ids", nargs="*", type=int, metavar="ID")
    accept.add_argument(
        "--topic", help="every confirmed pending suggestion of this topic"
    )
    accept.add_argument("--to", metavar="TOPIC", help="move them to this topic")
    reject = actions.add_parser(
        "reject", help="never suggest these again", parents=[parent]
    )
    reject.add_argument("ids", nargs="+", type=int, metavar="ID")


def run(settings: Settings, args: argparse.Namespace) -> int:
    factory = get_session_factory(settings.database_url)
    if args.subcommand == "list":
        return _list(settings, args)
    with factory.begin() as session:
        if args.subcommand == "reject":
            count = suggestions.reject(session=session, ids=args.ids, editor=args.agent)
            print(f"{count} suggestion(s) rejected.")
            return 0
        ids = list(args.ids)
        if args.topic:
            # The confirmed ones only, as on the console: an unconfirmed
            # rephrase is accepted by its ID, after reading it.
            pending = suggestions.pending(session=session, topic=args.topic)
            ids += [row.id for row in pending if row.confirmed]
            unconfirmed = [row.id for row in pending if not row.confirmed]
            if unconfirmed:
                print(
                    f"Left for review ({len(unconfirmed)}, unconfirmed rephrases): "
                    + " ".join(str(i) for i in unconfirmed)
                )
        if not ids:
            print("Nothing to accept: give suggestion IDs or --topic.")
            return 1
        review = suggestions.accept(
            session=session, faq_dir=settings.faq_dir, ids=ids, editor=args.agent,
            topic=args.to,
        )  # fmt: skip
    for topic, count in sorted(review.written.items()):
        print(f"{topic}: {count} example(s) added.")
    for line in review.skipped:
        print(f"Skipped: {line}")
    if review.written:
        print("Run `relais publish` to train on them.")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    pack = current_pack(settings)
    with get_session_factory(settings.database_url).begin() as session:
        rows = suggestions.pending(session=session, topic=args.topic)[: args.limit]
        if not rows:
            print("No suggestion waiting.")
            return 0
        topic = None
        for row in rows:
            if row.topic != topic:
                topic = row.topic
                title = pack[topic].title("fr") if topic in pack else "(topic removed)"
                print(f"\n{topic} — {title}")
                print(f"  {'ID':>5}  {'ASKED':>5}  LANG  {'HOW':<13}  QUESTION")
            text = (
                row.text
                if len(row.text) <= TEXT_WIDTH
                else row.text[: TEXT_WIDTH - 1] + "…"
            )
            print(
                f"  {row.id:>5}  {row.asked:>5}  {row.language:<4}  "
                f"{row.source:<13}  {text}"
            )
        print(
            f"\n{len(rows)} pending. Accept: relais suggestions accept ID... "
            "[--to TOPIC]; reject: relais suggestions reject ID..."
        )
    return 0

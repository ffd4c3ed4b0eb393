"""`relais corrections`: who got an earlier answer, and telling them.

relais corrections who TOPIC [--list]
relais corrections draft TOPIC --changed LINE [--fr TEXT] [--en TEXT]
relais corrections list | show ID | approve ID [--urgent] | reject ID
relais corrections send ID    # again after a stop: nobody gets it twice
relais corrections subscribers              # who asked to be kept informed
relais corrections update [TOPIC] --news LINE [--fr TEXT] [--en TEXT]
                                            # news for them (approved, then sent)

Drafting and approving act as the editor or admin named by --agent.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.db import get_session_factory, utcnow
from bot.handoff.window import CHANNEL_NAMES as WINDOW_CHANNEL_NAMES
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.console.accounts import Agent
    from bot.corrections.drafts import Correction
    from bot.corrections.recipients import Summary

REACH_HEADINGS = {
    "now": "now",
    "on_return": "on return",
    "template": "template",
    "out_of_window": "too late",
    "never": "never",
    "unknown": "unknown",
}
# The channels' names as the console shows them, and one for a person the
# console has no message of.
CHANNEL_NAMES = {**WINDOW_CHANNEL_NAMES, "": "(not known)"}


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
    corrections = commands.add_parser(
        "corrections", help="who got an earlier answer, and telling them"
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
    draft = sub.add_parser(
        "draft",
        help="draft the correction of a changed answer (another editor approves it)",
        parents=[as_agent],
    )
    draft.add_argument("topic")
    draft.add_argument("--changed", required=True, help="what changed, in a line")
    draft.add_argument("--fr", help="the message in French (default: prefilled)")
    draft.add_argument("--en", help="the message in English (default: prefilled)")
    update = sub.add_parser(
        "update",
        help="draft news for the people who asked to be kept informed (another "
        "editor approves it; `send` sends it)",
        parents=[as_agent],
    )
    update.add_argument(
        "topic", nargs="?", default="",
        help="the topic's key (its subscribers and the whole crisis's); "
        "none: the whole crisis's subscribers",
    )  # fmt: skip
    update.add_argument("--news", required=True, help="what is new, in a line")
    update.add_argument("--fr", help="the message in French (default: prefilled)")
    update.add_argument("--en", help="the message in English (default: prefilled)")
    sub.add_parser(
        "subscribers", help="how many people asked to be kept informed, by topic"
    )
    sub.add_parser("list", help="the recent corrections and updates")
    show = sub.add_parser("show", help="one correction, in both languages")
    show.add_argument("id", type=int)
    approve = sub.add_parser("approve", help="approve a draft", parents=[as_agent])
    approve.add_argument("id", type=int)
    approve.add_argument(
        "--urgent", action="store_true", help="an admin approving their own draft"
    )
    reject = sub.add_parser("reject", help="reject a draft", parents=[as_agent])
    reject.add_argument("id", type=int)
    send = sub.add_parser(
        "send",
        help="send an approved correction to everyone it concerns (run it "
        "again after a stop: nobody gets it twice)",
    )
    send.add_argument("id", type=int)
    send.add_argument(
        "--job",
        action="store_true",
        help=argparse.SUPPRESS,  # started by the console, which recorded the job
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    return {
        "who": corrections_who,
        "draft": corrections_draft,
        "list": corrections_list,
        "show": corrections_show,
        "approve": corrections_approve,
        "reject": corrections_reject,
        "send": corrections_send,
        "update": corrections_update,
        "subscribers": corrections_subscribers,
    }[args.subcommand](settings, args)


def _editor(session: Session, name: str) -> Agent:
    """The enabled editor or admin account named `name`."""
    from bot.console.accounts import EDITOR_ROLES, find_agent
    from bot.corrections.drafts import CorrectionError

    agent = find_agent(session=session, name=name)
    if agent is None or agent.is_disabled or agent.role not in EDITOR_ROLES:
        raise CorrectionError(
            f"{name} is not an editor or an admin: corrections are theirs to "
            "draft and approve (relais agent add NAME --role editor; --agent NAME)."
        )
    return agent


def corrections_draft(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import drafts
    from bot.corrections.recipients import correctable

    topic = correctable(settings).get(args.topic)
    if topic is None:
        raise drafts.CorrectionError(f"No topic {args.topic!r} in the FAQ.")
    texts = {lang: text for lang, text in (("fr", args.fr), ("en", args.en)) if text}
    with get_session_factory(settings.database_url).begin() as session:
        _editor(session, args.agent)
        correction = drafts.draft(
            session=session, topic=topic, changed=args.changed,
            author=args.agent, texts=texts,
        )  # fmt: skip
        print(f"Correction #{correction.id} drafted; another editor approves it:")
        print(f"  relais corrections approve {correction.id}")
        _print(correction)
    return 0


def corrections_update(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import drafts
    from bot.faq.live import current_pack

    topic = None
    if args.topic:
        topic = current_pack(settings).get(args.topic)
        if topic is None:
            raise drafts.CorrectionError(f"No topic {args.topic!r} in the FAQ.")
    texts = {lang: text for lang, text in (("fr", args.fr), ("en", args.en)) if text}
    with get_session_factory(settings.database_url).begin() as session:
        _editor(session, args.agent)
        update = drafts.draft(
            session=session, topic=topic, changed=args.news, author=args.agent,
            texts=texts, audience=drafts.SUBSCRIBERS,
        )  # fmt: skip
        print(f"Update #{update.id} drafted; another editor approves it:")
        print(f"  relais corrections approve {update.id}")
        _print(update)
    return 0


def corrections_subscribers(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import subscriptions

    with get_session_factory(settings.database_url).begin() as session:
        counts = subscriptions.counts(session=session)
        stopped = len(subscriptions.opted_out(session=session))
    if not counts:
        print("Nobody has asked to be kept informed.")
    for topic, n in sorted(counts.items()):
        print(f"  {n:>6}  {topic or '(the whole crisis)'}")
    print(f"{stopped} said stop (they get neither updates nor corrections).")
    return 0


def corrections_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import drafts

    with get_session_factory(settings.database_url).begin() as session:
        rows = drafts.listed(session=session)
        if not rows:
            print("No correction yet: relais corrections draft TOPIC --changed LINE")
        zone = settings.timezone
        for row in rows:
            print(
                f"#{row.id:<5} {row.state:<9} {row.topic:<24} "
                f"{row.created_at.astimezone(zone):%d/%m %H:%M} {row.author}"
                f"  {row.changed}"
            )
    return 0


def corrections_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import drafts

    with get_session_factory(settings.database_url).begin() as session:
        _print(drafts.get(session=session, correction_id=args.id))
    return 0


def corrections_approve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.accounts import ADMIN
    from bot.corrections import drafts
    from bot.corrections.recipients import correctable

    pack = correctable(settings)
    with get_session_factory(settings.database_url).begin() as session:
        editor = _editor(session, args.agent)
        correction = drafts.get(session=session, correction_id=args.id)
        drafts.approve(
            session=session, correction_id=args.id, approver=args.agent,
            is_admin=editor.role == ADMIN, topic=pack.get(correction.topic),
            urgent=args.urgent,
        )  # fmt: skip
        print(f"Correction #{correction.id} approved.")
    return 0


def corrections_reject(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import drafts

    with get_session_factory(settings.database_url).begin() as session:
        _editor(session, args.agent)
        correction = drafts.reject(
            session=session, correction_id=args.id, reviewer=args.agent
        )
        print(f"Correction #{correction.id} rejected.")
    return 0


OUTCOME_NAMES = {
    "sent": "sent",
    "with_agent": "with an agent (the agent sends it)",
    "out_of_window": "out of the channel's window",
    "template": "WhatsApp template only",
    "never": "unreachable (REST API)",
    "unknown": "channel not known",
    "failed": "failed (tried again on the next run)",
    "sending": "being sent",
    "opted_out": "said stop",
    "invited": "invited to write (WhatsApp template): told once they do",
}


def corrections_send(settings: Settings, args: argparse.Namespace) -> int:
    """Sends the correction as its job (bot/corrections/jobs.py): the console
    shows it running and can stop it, here or when it started it."""
    import getpass
    import os

    from bot.commands.queue import rasa_client
    from bot.corrections import drafts, jobs, sending
    from bot.corrections.recipients import correctable

    def report(progress: sending.Progress) -> None:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(progress.counts.items()))
        print(f"  … {counts}", flush=True)

    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        if args.job:  # the console recorded it: this process is its job
            correction = drafts.get(session=session, correction_id=args.id)
            correction.job_pid = os.getpid()
        else:
            correction = jobs.claim(
                session=session, correction_id=args.id,
                by=f"{getpass.getuser()} (terminal)", pid=os.getpid(),
            )  # fmt: skip
        topic_key = correction.topic
    print(f"Sending correction #{args.id} (Ctrl-C stops it; nobody gets it twice).")
    try:
        progress = sending.send(
            factory=factory, rasa=rasa_client(settings), correction_id=args.id,
            topic=correctable(settings).get(topic_key), channels=settings.channels,
            cancelled=jobs.CancelWatch(factory, args.id), on_progress=report,
        )  # fmt: skip
    except KeyboardInterrupt:
        jobs.finish(factory, args.id, jobs.CANCELLED, "Stopped from the terminal.")
        print("Stopped: run the same command to go on.", file=sys.stderr)
        return 1
    except Exception as error:
        jobs.finish(factory, args.id, jobs.FAILED, str(error))
        raise
    for outcome, n in sorted(progress.counts.items()):
        print(f"  {n:>6}  {OUTCOME_NAMES.get(outcome, outcome)}")
    failed = progress.counts.get(sending.FAILED, 0)
    if progress.cancelled:
        jobs.finish(factory, args.id, jobs.CANCELLED)
        print("Cancelled: send again to go on; nobody gets it twice.")
        return 1
    jobs.finish(
        factory, args.id, jobs.FINISHED,
        f"{failed} failed: send again to retry them." if failed else "",
    )  # fmt: skip
    if failed:
        print(f"{failed} failed: run the same command again to retry them.")
    return 1 if failed else 0


def _print(correction: Correction) -> None:
    reviewed = (
        f", {correction.state} by {correction.reviewed_by}"
        + (" (urgent)" if correction.urgent else "")
        if correction.reviewed_by
        else ""
    )
    kind = "update for subscribers" if correction.is_update else "correction"
    print(
        f"#{correction.id} {correction.topic or '(the whole crisis)'}: {kind}, "
        f"{correction.state}, by {correction.author}{reviewed}"
    )
    print(f"  what changed: {correction.changed}")
    for language in ("fr", "en"):
        print(f"  [{language}] " + correction.text(language).replace("\n", "\n       "))


def corrections_who(settings: Settings, args: argparse.Namespace) -> int:
    from bot.corrections import recipients
    from bot.corrections.recipients import correctable

    pack = correctable(settings)
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

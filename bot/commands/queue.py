"""`relais queue`: the handoff queue from a terminal.

    relais queue list | claim [ID|--next] | show ID | reply ID TEXT
                 | release ID | close ID | note ID TEXT | expire [--hours N]

Commands act as the agent named by --agent, else $RELAIS_AGENT, else the
login name.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta

from bot.commands import LAST_MESSAGE_WIDTH, one_line
from bot.console import accounts
from bot.db import get_session_factory
from bot.faq.live import current_pack
from bot.handoff import agent as agent_ops
from bot.handoff import queue
from bot.handoff.models import Ticket, utcnow
from bot.rasa_api import RasaClient
from bot.settings import Settings


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
    queue_parser = commands.add_parser("queue", help="the handoff queue")
    queue_commands = queue_parser.add_subparsers(dest="subcommand", required=True)

    def command(name: str, description: str) -> argparse.ArgumentParser:
        return queue_commands.add_parser(name, help=description, parents=[as_agent])

    command("list", "open tickets, most urgent first")
    claim = command("claim", "take a ticket")
    target = claim.add_mutually_exclusive_group(required=True)
    target.add_argument("id", type=int, nargs="?", help="ticket number")
    target.add_argument("--next", action="store_true", help="the most urgent one")
    command("show", "the whole conversation").add_argument("id", type=int)
    reply = command("reply", "answer in the person's chat")
    reply.add_argument("id", type=int)
    reply.add_argument("text")
    command("release", "put a ticket back in the queue").add_argument("id", type=int)
    command("close", "hand the conversation back to the bot").add_argument(
        "id", type=int
    )
    note = command("note", "add an internal note (never shown to the person)")
    note.add_argument("id", type=int)
    note.add_argument("text")
    expire = command("expire", "mark long-untouched waiting tickets abandoned")
    expire.add_argument("--hours", type=float, default=24.0)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return {
        "list": queue_list, "claim": queue_claim, "show": queue_show,
        "reply": queue_reply, "release": queue_release, "close": queue_close,
        "note": queue_note, "expire": queue_expire,
    }[args.subcommand](settings, args)  # fmt: skip


def rasa_client(settings: Settings) -> RasaClient:
    return RasaClient(settings.rasa_url, settings.rasa_token)


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since) / timedelta(minutes=1))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d}"


def _describe(ticket: Ticket) -> str:
    holder = ""
    if ticket.agent:
        holder = (
            f" to {ticket.agent}"
            if ticket.status == "assigned"
            else (f" by {ticket.agent}")
        )
    return (
        f"Ticket {ticket.id} [{ticket.priority}] {ticket.status}{holder}: "
        f"{ticket.reason}, {ticket.language}, {ticket.channel}, "
        f"conversation {ticket.conversation_id}"
    )


def queue_list(settings: Settings, args: argparse.Namespace) -> int:
    now = utcnow()
    with get_session_factory(settings.database_url).begin() as session:
        tickets = queue.list_open(session=session)
        if not tickets:
            print("The queue is empty.")
            return 0
        print(
            f"{'ID':>5}  {'PRIORITY':<8}  {'STATUS':<8}  {'WAITING':>8}  "
            f"{'AGENT':<10}  {'REASON':<16}  LANG  LAST MESSAGE"
        )
        for ticket in tickets:
            print(
                f"{ticket.id:>5}  {ticket.priority:<8}  {ticket.status:<8}  "
                f"{_age(ticket.created_at, now):>8}  {ticket.agent or '-':<10}  "
                f"{ticket.reason:<16}  {ticket.language:<4}  "
                f"{one_line(ticket.last_message, LAST_MESSAGE_WIDTH)}"
            )
        waiting = sum(ticket.status == "waiting" for ticket in tickets)
        print(f"\n{waiting} waiting, {len(tickets) - waiting} with an agent.")
    return 0


def queue_claim(settings: Settings, args: argparse.Namespace) -> int:
    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        if args.next:
            account = accounts.find_agent(session=session, name=args.agent)
            ticket = queue.claim_next(
                session=session, agent=args.agent, teams=accounts.teams_of(account),
                known_teams=tuple(settings.profile.teams),
            )  # fmt: skip
            if ticket is None:
                print("Nobody is waiting.")
                return 0
        else:
            ticket = queue.claim(session=session, ticket_id=args.id, agent=args.agent)
        print(_describe(ticket))
        print(f"Last message: {one_line(ticket.last_message, 200)}")
        print(f"Read it all: relais queue show {ticket.id}")
    return 0


def queue_show(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=args.id)
        notes = [(note.created_at, note.author, note.text) for note in ticket.notes]
    zone = settings.timezone
    print(_describe(ticket))
    print(f"Opened {ticket.created_at.astimezone(zone):%Y-%m-%d %H:%M %Z}, "
          f"escalations: {ticket.escalations}")  # fmt: skip
    turns, rasa_error = agent_ops.transcript_or_saved(rasa_client(settings), ticket)
    if rasa_error:
        print(f"\n{rasa_error}\nLast turns saved with the ticket:", file=sys.stderr)
    else:
        print("\nConversation (from Rasa):")
    for turn in turns:
        when = f"{turn.at.astimezone(zone):%H:%M:%S}" if turn.at else " " * 8
        # Multi-line messages stay in their column.
        text = turn.text.replace("\n", "\n" + " " * 27)
        print(f"  {when}  {turn.who:<14} {text}")
    if notes:
        print("\nInternal notes:")
        for created_at, author, text in notes:
            print(f"  {created_at.astimezone(zone):%Y-%m-%d %H:%M}  {author}: {text}")
    return 0


def queue_reply(settings: Settings, args: argparse.Namespace) -> int:
    agent_ops.reply(
        factory=get_session_factory(settings.database_url),
        rasa=rasa_client(settings),
        ticket_id=args.id,
        agent=args.agent,
        text=args.text,
        pack=current_pack(settings),
        channels=settings.channels,
        zone=settings.timezone,
    )
    print(f"Sent to ticket {args.id}.")
    return 0


def queue_release(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        ticket = queue.release(session=session, ticket_id=args.id, agent=args.agent)
        place = queue.position(session=session, ticket=ticket)
    print(f"Ticket {args.id} is back in the queue (place {place}).")
    return 0


def queue_close(settings: Settings, args: argparse.Namespace) -> int:
    agent_ops.close(
        factory=get_session_factory(settings.database_url),
        rasa=rasa_client(settings),
        ticket_id=args.id,
        agent=args.agent,
        channels=settings.channels,
        survey=settings.profile.satisfaction,
    )
    print(f"Ticket {args.id} closed; the bot answers this conversation again.")
    return 0


def queue_note(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        queue.add_note(session=session, ticket_id=args.id, author=args.agent,
                       text=args.text)  # fmt: skip
    print(f"Note added to ticket {args.id}.")
    return 0


def queue_expire(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        count = queue.abandon_stale(
            session=session, older_than=timedelta(hours=args.hours)
        )
    print(f"{count} waiting ticket(s) untouched for {args.hours} h marked abandoned.")
    return 0

"""The `relais` command line.

    relais config check
    relais db upgrade
    relais queue list | claim [ID|--next] | show ID | reply ID TEXT
                 | release ID | close ID | note ID TEXT | expire [--hours N]
    relais agent add NAME [--role agent|editor|admin] | list | passwd NAME
    relais faq lint | export FILE.csv | import FILE.csv   [--dir DIR]
    relais faq log [--topic T] [--conversation ID]
    relais statement set --fr TEXT --en TEXT | clear | show
    relais switch all-to-humans|queue-closed on|off  |  relais switch show
    relais suggestions list [--topic T] | accept ID... [--to T] | reject ID...
    relais train [--pack DIR] [--out FILE]     # once per distinct inputs (make train)
    relais publish [--list]                    # lint, train, evaluate, load
    relais rollback [--to ID] [--list]         # an earlier published model
    relais channels [telegram-webhook URL]   # the brand's channels
    relais nginx --api P --actions-listen P --rasa P... --actions P... --console P
    relais actions [--port 5055]               # the action server (make run)

Queue commands act as the agent named by --agent, else $RELAIS_AGENT, else the
login name. Errors are one line on stderr and a non-zero exit, never a trace.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy.exc import SQLAlchemyError

from bot.commands import actions as actions_command
from bot.commands import channels as channels_command
from bot.commands import nginx as nginx_command
from bot.commands import purge as purge_command
from bot.commands import report as report_command
from bot.commands import simulate as simulate_command
from bot.commands import suggestions as suggestion_commands
from bot.commands import train as train_command
from bot.console import accounts
from bot.db import create_database, get_session_factory, upgrade
from bot.faq.live import current_pack
from bot.faq.statement import StatementError
from bot.faq.suggestions import SuggestionError
from bot.handoff import agent as agent_ops
from bot.handoff import queue
from bot.handoff.models import Ticket, utcnow
from bot.publish import history as publish_history
from bot.publish.compare import Figures
from bot.publish.service import (
    Project,
    PublishError,
    live_model_id,
    publish,
    rollback,
)
from bot.publish.store import StoreError
from bot.rasa_api import RasaClient, RasaError
from bot.settings import (
    MOVED_TO_PROFILE,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    get_settings,
    pack_dir_from_environment,
)

LAST_MESSAGE_WIDTH = 48


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
            'action_endpoint:  headers: {Authorization: "Bearer '
            '${RELAIS_ACTIONS_SECRET}"}'
        )
    return None


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
    problem = endpoint_classes_problem(PROJECT_ROOT / endpoints)
    if problem:
        print(f"Configuration error: {problem}", file=sys.stderr)
        return 2
    print(
        f"Configuration OK ({settings.environment} mode, Rasa at {settings.rasa_url},"
        f" crisis: {settings.profile.brand}, {settings.profile.about['en']},"
        f" pack {settings.pack_dir.name})."
    )
    return 0


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since) / timedelta(minutes=1))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d}"


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


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
                f"{_one_line(ticket.last_message, LAST_MESSAGE_WIDTH)}"
            )
        waiting = sum(ticket.status == "waiting" for ticket in tickets)
        print(f"\n{waiting} waiting, {len(tickets) - waiting} with an agent.")
    return 0


def queue_claim(settings: Settings, args: argparse.Namespace) -> int:
    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        if args.next:
            ticket = queue.claim_next(session=session, agent=args.agent)
            if ticket is None:
                print("Nobody is waiting.")
                return 0
        else:
            ticket = queue.claim(session=session, ticket_id=args.id, agent=args.agent)
        print(_describe(ticket))
        print(f"Last message: {_one_line(ticket.last_message, 200)}")
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
    turns, rasa_error = agent_ops.transcript_or_saved(_rasa(settings), ticket)
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
        rasa=_rasa(settings),
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
        rasa=_rasa(settings),
        ticket_id=args.id,
        agent=args.agent,
        channels=settings.channels,
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


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise accounts.AccountError("The two passwords differ; nothing changed.")
    return first


def agent_add(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args)
    with get_session_factory(settings.database_url).begin() as session:
        agent = accounts.add_agent(
            session=session,
            name=args.name,
            role=args.role,
            password=password,
            display_name=args.display_name,
        )
        print(f"Account {agent.name} ({agent.role}) created.")
    return 0


def agent_list(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        agents = accounts.list_agents(session=session)
        for agent in agents:
            state = (
                f"  DISABLED by {agent.disabled_by} "
                f"{agent.disabled_at.astimezone(settings.timezone):%d/%m %H:%M}"
                if agent.is_disabled
                else ""
            )
            print(f"{agent.name:<20} {agent.role:<8} {agent.display_name}{state}")
        if not agents:
            print("No account yet: relais agent add NAME --role agent")
    return 0


def agent_passwd(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args)
    with get_session_factory(settings.database_url).begin() as session:
        accounts.set_password(session=session, name=args.name, password=password)
    print(f"Password of {args.name} changed.")
    return 0


def agent_disable(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        agent, returned = accounts.disable(
            session=session, name=args.name, by=args.agent
        )
        print(f"Account {agent.name} disabled: its sessions have ended; "
              f"{returned} conversation(s) it held are back in the queue.")  # fmt: skip
    return 0


def agent_enable(settings: Settings, args: argparse.Namespace) -> int:
    with get_session_factory(settings.database_url).begin() as session:
        agent = accounts.enable(session=session, name=args.name)
        print(f"Account {agent.name} can sign in again.")
    return 0


def console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.app import run

    print(
        f"Console: http://{settings.console_host}:{settings.console_port}/  "
        f"web chat: http://{settings.console_host}:{settings.console_port}/chat"
    )
    run(settings)
    return 0


def faq_lint(args: argparse.Namespace) -> int:
    """Needs no other configuration: editors lint on machines without a .env."""
    from bot.faq.lint import ERROR, lint_pack

    faq_dir = _faq_dir(args)
    if not faq_dir.is_dir():
        print(f"{faq_dir} is not a folder.", file=sys.stderr)
        return 2
    findings = lint_pack(faq_dir, threshold=args.similarity)
    errors = [f for f in findings if f.level == ERROR]
    warnings = [f for f in findings if f.level != ERROR]
    for finding in findings:
        print(finding)
    print(
        f"\n{faq_dir}: {len(errors)} error(s), {len(warnings)} warning(s)."
        + (" Fix the errors before publishing." if errors else "")
    )
    if not errors:
        print("\n" + "\n".join(_expectation(faq_dir)))
    return 1 if errors else 0


def _expectation(faq_dir: Path) -> list[str]:
    """What to expect of the pack, at the profile's wrong-answer target."""
    from bot.faq.expectations import expect
    from bot.faq.pack import load_pack
    from bot.profile import ProfileError, load_profile

    try:
        target = load_profile(faq_dir.parent).wrong_answers_at_most
    except ProfileError:
        target = 0.03
    return expect(list(load_pack(faq_dir).values()), target).lines()


def _faq_dir(args: argparse.Namespace) -> Path:
    """--dir, else the pack's faq/ (without needing the rest of the settings)."""
    faq_dir = Path(args.dir) if args.dir else pack_dir_from_environment() / "faq"
    return faq_dir if faq_dir.is_absolute() else PROJECT_ROOT / faq_dir


def faq_export(args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import export_csv

    count = export_csv(_faq_dir(args), Path(args.file))
    print(f"{count} topics written to {args.file} (two rows each: fr, en).")
    return 0


def faq_import(args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import SpreadsheetError, import_csv

    source = Path(args.file)
    if not source.is_file():
        print(f"{source} is not a file.", file=sys.stderr)
        return 2
    try:
        written = import_csv(source, _faq_dir(args))
    except SpreadsheetError as error:
        print(f"Nothing was written. Fix these in {source.name}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"{len(written)} topics written to {_faq_dir(args)}. Publish to train on them."
    )
    return 0


def faq_export_live(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import write_csv

    count = write_csv(current_pack(settings), Path(args.file))
    print(f"{count} topics, as the bot answers now, written to {args.file} "
          "(two rows each: fr, en).")  # fmt: skip
    return 0


def faq_import_live(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import SpreadsheetError, import_versions

    source = Path(args.file)
    if not source.is_file():
        print(f"{source} is not a file.", file=sys.stderr)
        return 2
    try:
        with get_session_factory(settings.database_url).begin() as session:
            saved = import_versions(
                source,
                session=session,
                faq_dir=settings.faq_dir,
                author=args.agent,
                approval_needed=settings.four_eyes,
            )
            lines = [
                f"  {one.version.topic}: version {one.version.number}, "
                + ("live" if one.live else "a draft waiting for approval")
                for one in saved
            ]
    except SpreadsheetError as error:
        print(f"Nothing was recorded. Fix these in {source.name}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if not lines:
        print("Nothing changed: every topic is as the bot answers now.")
        return 0
    print(f"{len(lines)} topics changed:", *lines, sep="\n")
    if any(not one.live for one in saved):
        print("Drafts reach people once another editor or an admin approves them "
              "(console, Topics).")  # fmt: skip
    print("New topics and examples reach the model at the next publish.")
    return 0


def faq_log(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq.audit import answers_sent

    with get_session_factory(settings.database_url).begin() as session:
        rows = answers_sent(
            session=session,
            topic=args.topic,
            conversation_id=args.conversation,
            limit=args.limit,
        )
        if not rows:
            print("No answer recorded yet.")
        for row in rows:
            when = row.sent_at.astimezone(settings.timezone)
            print(
                f"{when:%Y-%m-%d %H:%M:%S}  {row.topic:<20} {row.language}  "
                f"v{row.version}  {row.conversation_id}  "
                f"{_one_line(row.text, LAST_MESSAGE_WIDTH)}"
            )
    return 0


def statement_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq import statement as statements

    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        if args.subcommand == "set":
            current = statements.publish_statement(
                session=session,
                text_fr=args.fr,
                text_en=args.en,
                author=args.agent,
                approval_needed=settings.four_eyes,
                urgent=args.urgent,
            )
            if current.state == statements.DRAFT:
                print(
                    f"Statement {current.id} saved as a draft: another editor or an "
                    "admin approves it in the console (Editors page), or publish it "
                    "yourself with --urgent."
                )
            else:
                urgent = " (urgent, no second person)" if current.urgent else ""
                print(
                    f"Statement {current.id} published{urgent}; conversations start "
                    "with it."
                )
        elif args.subcommand == "clear":
            cleared = statements.clear_statement(session=session, author=args.agent)
            print(f"Statement {cleared.id} withdrawn." if cleared else "No statement.")
        else:
            history = statements.statement_history(session=session)
            for row in history:
                state = "ACTIVE"
                if row.cleared_at:
                    cleared = row.cleared_at.astimezone(settings.timezone)
                    state = f"withdrawn {cleared:%d/%m %H:%M} by {row.cleared_by}"
                print(f"#{row.id} {state}")
                print(
                    statements.statement_message(
                        row, "fr", settings.timezone, settings.profile.brand
                    )
                )
                print(
                    statements.statement_message(
                        row, "en", settings.timezone, settings.profile.brand
                    )
                )
                print()
            if not history:
                print("No statement has been published.")
    return 0


def switch_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.handoff import switches

    with get_session_factory(settings.database_url).begin() as session:
        if args.name != "show":
            switches.set_switch(
                session=session,
                name=args.name,
                enabled=args.state == "on",
                author=args.agent,
            )
        current = switches.read_switches(session=session)
    print(f"all-to-humans: {'ON' if current.all_to_humans else 'off'}")
    print(f"queue-closed:  {'ON' if current.queue_closed else 'off'}")
    return 0


def _project(args: argparse.Namespace, settings: Settings) -> Project:
    root = Path(args.project).resolve() if args.project else settings.project_dir
    return Project(root, settings.pack_dir, settings.model_cache)


def publish_list(settings: Settings, args: argparse.Namespace) -> int:
    """The last publishes and rollbacks, newest first, the live model marked."""
    live_id = live_model_id(_project(args, settings), settings)
    with get_session_factory(settings.database_url).begin() as session:
        rows = publish_history.recent(session=session, limit=args.limit)
    if not rows:
        print("Nothing has been published yet.")
    marked = False  # the newest row that put the live model live
    for row in rows:
        when = row.finished_at.astimezone(settings.timezone)
        figures = Figures.from_dict(row.figures)
        live = ""
        if not marked and row.outcome == "published" and row.model_id == live_id:
            live, marked = "  LIVE", True
        print(
            f"#{row.id:<4} {when:%Y-%m-%d %H:%M}  {row.action:<8} {row.outcome:<9} "
            f"{row.author:<12} {figures.summary() if figures else ''}{live}"
        )
        if row.outcome in ("refused", "failed"):
            print(f"       {_one_line(row.detail, 100)}")
    return 0


def publish_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.list:
        return publish_list(settings, args)
    if args.command == "publish":
        # Training and evaluation are background work next to a live
        # assistant: the Rasa server keeps the CPU first.
        os.nice(10)
        # Editors read this output: TensorFlow's and Rasa's chatter goes to the
        # training log, not here (Rasa's dependencies add their own warning
        # filters on import, so filters alone do not silence them).
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        warnings.showwarning = lambda *args, **kwargs: None
    project = _project(args, settings)
    if args.command == "publish" and args.job is not None:
        return publish_job(project, settings, args)
    report = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if args.command == "publish":
            row = publish(project, settings, author=args.agent, report=report)
        else:
            row = rollback(
                project, settings, author=args.agent, report=report, to=args.to
            )
    except KeyboardInterrupt:
        print(
            "Interrupted. `relais publish --list` shows which model is live.",
            file=sys.stderr,
        )
        return 130
    print(f"Recorded as #{row.id}: {row.outcome}.")
    return 0 if row.outcome in ("published", "unchanged") else 1


def publish_job(project: Project, settings: Settings, args: argparse.Namespace) -> int:
    """`relais publish --job ID`: a publish the console started and follows."""
    from bot.publish import jobs

    progress = jobs.Progress(settings, args.job)
    progress.begin()
    row = None
    try:
        row = publish(
            project, settings, author=args.agent, report=progress.line,
            step=progress.step,
        )  # fmt: skip
    except jobs.Cancelled:
        project.store.clear_candidates()
        progress.line("Cancelled: nothing changed.")
        progress.finish(jobs.CANCELLED, None, "Cancelled: nothing changed.")
        return 130
    except (PublishError, StoreError) as error:
        progress.line(str(error))
        progress.finish(jobs.FAILED, None, str(error))
        return 1
    except Exception as error:  # the console must hear of it, not wait forever
        progress.line(f"The publish stopped: {type(error).__name__}: {error}")
        progress.finish(jobs.FAILED, row, f"{type(error).__name__}: {error}")
        raise
    if progress.cancel_refused:
        progress.line("The cancel came while the model was loading: it finished.")
    if row.outcome == "published":
        detail = f"Publish #{row.id}: the new model is live in every Rasa process."
    else:
        detail = (row.detail or row.outcome).splitlines()[0]
    progress.finish(jobs.FINISHED, row, detail)
    return 0 if row.outcome in ("published", "unchanged") else 1


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    if create_database(settings.database_url):
        print("Created the database named in DATABASE_URL.")
    upgrade(settings.database_url)
    print("Database schema is up to date.")
    return 0


def _rasa(settings: Settings) -> RasaClient:
    return RasaClient(settings.rasa_url, settings.rasa_token)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais", description="Relais: crisis FAQ assistant and handoff queue."
    )
    commands = parser.add_subparsers(dest="command", required=True)

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

    db = commands.add_parser("db", help="Relais' own database")
    db_commands = db.add_subparsers(dest="subcommand", required=True)
    db_commands.add_parser("upgrade", help="apply the schema migrations")

    agent_default = os.environ.get("RELAIS_AGENT") or getpass.getuser()
    as_agent = argparse.ArgumentParser(add_help=False)
    as_agent.add_argument(
        "--agent",
        default=agent_default,
        help=f"who you are in the queue (default: {agent_default})",
    )
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

    commands.add_parser("console", help="serve the console and the web chat")

    faq = commands.add_parser("faq", help="the FAQ pack")
    faq_commands = faq.add_subparsers(dest="subcommand", required=True)
    lint = faq_commands.add_parser("lint", help="check the pack before publishing")
    lint.add_argument("--dir", help="the FAQ folder (default: RELAIS_PACK's faq/)")
    for name, description in (
        ("export", "write what the bot says to a CSV spreadsheet"),
        ("import", "record a CSV spreadsheet's changes as new versions"),
    ):
        command_parser = faq_commands.add_parser(
            name, help=description, parents=[as_agent]
        )
        command_parser.add_argument("file", help="the .csv file")
        command_parser.add_argument(
            "--dir", help="a FAQ folder's files only (a pack not deployed yet)"
        )
    statement = commands.add_parser("statement", help="the official statement")
    statement_commands = statement.add_subparsers(dest="subcommand", required=True)
    publish = statement_commands.add_parser(
        "set", help="publish a new version", parents=[as_agent]
    )
    publish.add_argument("--fr", required=True, help="the French text")
    publish.add_argument("--en", required=True, help="the English text")
    publish.add_argument(
        "--urgent",
        action="store_true",
        help="with four-eyes approval on: publish at once, recorded as urgent",
    )
    statement_commands.add_parser("clear", help="withdraw it", parents=[as_agent])
    statement_commands.add_parser("show", help="the active one and every version")

    switch = commands.add_parser(
        "switch",
        help="crisis switches: all-to-humans, queue-closed",
        parents=[as_agent],
    )
    switch.add_argument("name", choices=["all-to-humans", "queue-closed", "show"])
    switch.add_argument("state", nargs="?", choices=["on", "off"])

    for name, description in (
        ("publish", "lint, train if needed, evaluate, load the model into Rasa"),
        ("rollback", "load the previously published model back"),
    ):
        command_parser = commands.add_parser(name, help=description, parents=[as_agent])
        command_parser.add_argument(
            "--list", action="store_true", help="the last publishes and rollbacks"
        )
        command_parser.add_argument("--limit", type=int, default=20)
        command_parser.add_argument(
            "--project", help="folder with config.yml, domain.yml, data/, models/"
        )
        if name == "rollback":
            command_parser.add_argument(
                "--to", type=int, metavar="ID", help="the publish to go back to"
            )
        else:
            # The console's background publish (bot/publish/jobs.py).
            command_parser.add_argument("--job", type=int, help=argparse.SUPPRESS)

    log = faq_commands.add_parser("log", help="which answer versions people received")
    log.add_argument("--topic")
    log.add_argument("--conversation")
    log.add_argument("--limit", type=int, default=50)
    from bot.faq.lint import NEAR_DUPLICATE

    lint.add_argument(
        "--similarity",
        type=float,
        default=NEAR_DUPLICATE,
        help="warn when examples of two topics mean this nearly the same "
        f"(cosine of their sentence vectors, default {NEAR_DUPLICATE})",
    )

    suggestion_commands.add_parser(commands, as_agent)
    nginx_command.add_parser(commands)
    actions_command.add_parser(commands)
    channels_command.add_parser(commands)
    simulate_command.add_parser(commands)
    report_command.add_parser(commands)
    purge_command.add_parser(commands)
    train_command.add_parser(commands)

    agent_parser = commands.add_parser("agent", help="console accounts")
    agent_commands = agent_parser.add_subparsers(dest="subcommand", required=True)
    add = agent_commands.add_parser("add", help="create an account")
    add.add_argument("name", help="sign-in name: lower-case letters, digits, . _ -")
    add.add_argument("--role", choices=accounts.ROLES, default="agent")
    add.add_argument("--display-name", default="", help="shown to colleagues")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    agent_commands.add_parser("list", help="list the accounts")
    passwd = agent_commands.add_parser(
        "passwd", help="set a new password (ends the account's open sessions)"
    )
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    disable = agent_commands.add_parser(
        "disable",
        help="close an account: sessions end, its conversations go back to the queue",
        parents=[as_agent],
    )
    disable.add_argument("name")
    enable = agent_commands.add_parser("enable", help="open a disabled account again")
    enable.add_argument("name")
    return parser


COMMANDS: dict[tuple[str, str], Callable[[Settings, argparse.Namespace], int]] = {
    ("console", ""): console,
    ("publish", ""): publish_command,
    ("rollback", ""): publish_command,
    ("faq", "log"): faq_log,
    ("faq", "export"): faq_export_live,
    ("faq", "import"): faq_import_live,
    ("switch", "set"): switch_command,
    ("statement", "set"): statement_command,
    ("statement", "clear"): statement_command,
    ("statement", "show"): statement_command,
    ("db", "upgrade"): db_upgrade,
    ("queue", "list"): queue_list,
    ("queue", "claim"): queue_claim,
    ("queue", "show"): queue_show,
    ("queue", "reply"): queue_reply,
    ("queue", "release"): queue_release,
    ("queue", "close"): queue_close,
    ("queue", "note"): queue_note,
    ("queue", "expire"): queue_expire,
    ("agent", "add"): agent_add,
    ("agent", "list"): agent_list,
    ("agent", "passwd"): agent_passwd,
    ("agent", "disable"): agent_disable,
    ("agent", "enable"): agent_enable,
    ("suggestions", "list"): suggestion_commands.run,
    ("suggestions", "accept"): suggestion_commands.run,
    ("suggestions", "reject"): suggestion_commands.run,
    ("simulate", ""): simulate_command.run,
    ("report", ""): report_command.run,
    ("purge", ""): purge_command.run,
    ("channels", ""): channels_command.run,
    ("channels", "telegram-webhook"): channels_command.run,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    subcommand = getattr(args, "subcommand", "") or ""
    if args.command == "switch":
        if args.name != "show" and args.state is None:
            print("Say on or off: relais switch queue-closed on", file=sys.stderr)
            return 2
        subcommand = "set"
    if (args.command, subcommand) == ("config", "check"):
        return check_config(args.endpoints)
    if args.command == "nginx":
        return nginx_command.run(args)
    if args.command == "actions":
        return actions_command.run(args)
    if args.command == "train":
        return train_command.run(args)
    if args.command == "faq" and (subcommand == "lint" or getattr(args, "dir", None)):
        # Files only: no other configuration needed.
        return {"lint": faq_lint, "export": faq_export, "import": faq_import}[
            subcommand
        ](args)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[(args.command, subcommand)](settings, args)
    except (
        queue.QueueError,
        accounts.AccountError,
        StatementError,
        PublishError,
        StoreError,
        SuggestionError,
    ) as error:
        print(error, file=sys.stderr)
        return 1
    except RasaError as error:
        print(f"Nothing changed: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        print(
            f"The queue database is not reachable ({type(error).__name__}): check "
            "DATABASE_URL and run `relais db upgrade`.",
            file=sys.stderr,
        )
        return 1
    except BrokenPipeError:  # `relais queue show 3 | head` stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

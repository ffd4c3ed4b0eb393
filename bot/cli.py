"""The `relais` command line: each command group lives in bot/commands/.

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
import os
import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.commands import actions as actions_command
from bot.commands import agent as agent_command
from bot.commands import channels as channels_command
from bot.commands import config as config_command
from bot.commands import console as console_command
from bot.commands import db as db_command
from bot.commands import faq as faq_command
from bot.commands import nginx as nginx_command
from bot.commands import publish as publish_command
from bot.commands import purge as purge_command
from bot.commands import queue as queue_command
from bot.commands import report as report_command
from bot.commands import simulate as simulate_command
from bot.commands import statement as statement_command
from bot.commands import suggestions as suggestion_command
from bot.commands import switch as switch_command
from bot.commands import train as train_command
from bot.console import accounts
from bot.faq.statement import StatementError
from bot.faq.suggestions import SuggestionError
from bot.handoff import queue
from bot.publish.service import PublishError
from bot.publish.store import StoreError
from bot.rasa_api import RasaError
from bot.settings import Settings, SettingsError, get_settings

# Commands that run on their arguments alone (no .env needed).
WITHOUT_SETTINGS: dict[str, Callable[[argparse.Namespace], int]] = {
    "config": config_command.run,
    "nginx": nginx_command.run,
    "actions": actions_command.run,
    "train": train_command.run,
}
WITH_SETTINGS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "db": db_command.run,
    "queue": queue_command.run,
    "agent": agent_command.run,
    "console": console_command.run,
    "faq": faq_command.run,
    "statement": statement_command.run,
    "switch": switch_command.run,
    "publish": publish_command.run,
    "rollback": publish_command.run,
    "suggestions": suggestion_command.run,
    "simulate": simulate_command.run,
    "report": report_command.run,
    "purge": purge_command.run,
    "channels": channels_command.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais", description="Relais: crisis FAQ assistant and handoff queue."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    agent_default = os.environ.get("RELAIS_AGENT") or getpass.getuser()
    as_agent = argparse.ArgumentParser(add_help=False)
    as_agent.add_argument(
        "--agent",
        default=agent_default,
        help=f"who you are in the queue (default: {agent_default})",
    )
    config_command.add_parser(commands)
    db_command.add_parser(commands)
    queue_command.add_parser(commands, as_agent)
    console_command.add_parser(commands)
    faq_command.add_parser(commands, as_agent)
    statement_command.add_parser(commands, as_agent)
    switch_command.add_parser(commands, as_agent)
    publish_command.add_parser(commands, as_agent)
    suggestion_command.add_parser(commands, as_agent)
    nginx_command.add_parser(commands)
    actions_command.add_parser(commands)
    channels_command.add_parser(commands)
    simulate_command.add_parser(commands)
    report_command.add_parser(commands)
    purge_command.add_parser(commands)
    train_command.add_parser(commands)
    agent_command.add_parser(commands, as_agent)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in WITHOUT_SETTINGS:
        return WITHOUT_SETTINGS[args.command](args)
    if args.command == "faq" and faq_command.files_only(args):
        return faq_command.run_on_files(args)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    try:
        return WITH_SETTINGS[args.command](settings, args)
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

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
    relais corrections who TOPIC [--list]   # who got an earlier answer
    relais corrections draft TOPIC --changed LINE | list | show | approve | reject
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
import contextlib
import getpass
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType

# The command groups (bot/commands/<name>.py), in the order `relais --help`
# lists them, and whether they are given `--agent`.
GROUPS = [
    ("config", False), ("db", False), ("queue", True), ("console", False),
    ("faq", True), ("statement", True), ("switch", True), ("publish", True),
    ("suggestions", True), ("corrections", True), ("nginx", False),
    ("actions", False),
    ("channels", False), ("simulate", False), ("report", False),
    ("purge", False), ("train", False), ("agent", True),
]  # fmt: skip
# Commands that run on their arguments alone (no .env needed).
WITHOUT_SETTINGS = ("config", "nginx", "actions", "train")
# A command's module when it is not named after the command.
MODULE_OF = {"rollback": "publish"}


@contextlib.contextmanager
def quiet_library_warnings() -> Iterator[None]:
    """Libraries warn about their own dependencies as they are imported
    (packaging about pyparsing, spaCy about click, TensorFlow): noise on a
    terminal that nobody running `relais` can act on. Some of them reset the
    warning filters, so the warnings are silenced where they are shown."""
    shown = warnings.showwarning
    warnings.showwarning = lambda *args, **kwargs: None
    try:
        yield
    finally:
        warnings.showwarning = shown


def _modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"bot.commands.{name}") for name, _ in GROUPS}


def _parser(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
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
    for name, with_agent in GROUPS:
        if with_agent:
            modules[name].add_parser(commands, as_agent)
        else:
            modules[name].add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    with quiet_library_warnings():
        modules = _modules()
        from sqlalchemy.exc import SQLAlchemyError

        from bot.console.accounts import AccountError
        from bot.corrections.drafts import CorrectionError
        from bot.faq.statement import StatementError
        from bot.faq.suggestions import SuggestionError
        from bot.handoff.queue import QueueError
        from bot.publish.service import PublishError
        from bot.publish.store import StoreError
        from bot.rasa_api import RasaError
        from bot.settings import SettingsError, get_settings
    args = _parser(modules).parse_args(argv)
    module = modules[MODULE_OF.get(args.command, args.command)]
    if args.command in WITHOUT_SETTINGS:
        return int(module.run(args))
    faq = modules["faq"]
    if args.command == "faq" and faq.files_only(args):
        return int(faq.run_on_files(args))
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    run: Callable[..., int] = module.run
    try:
        return int(run(settings, args))
    except (
        QueueError,
        AccountError,
        StatementError,
        PublishError,
        StoreError,
        SuggestionError,
        CorrectionError,
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

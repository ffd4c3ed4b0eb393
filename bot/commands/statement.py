"""`relais statement`: the official holding statement.

relais statement set --fr TEXT --en TEXT [--urgent] | clear | show
"""

from __future__ import annotations

import argparse

from bot.db import get_session_factory
from bot.settings import Settings


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
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


def run(settings: Settings, args: argparse.Namespace) -> int:
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

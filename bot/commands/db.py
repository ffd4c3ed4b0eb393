"""`relais db upgrade`: Relais' own database, created and migrated."""

from __future__ import annotations

import argparse

from bot.db import create_database, upgrade
from bot.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="Relais' own database")
    db_commands = db.add_subparsers(dest="subcommand", required=True)
    db_commands.add_parser("upgrade", help="apply the schema migrations")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if create_database(settings.database_url):
        print("Created the database named in DATABASE_URL.")
    upgrade(settings.database_url)
    print("Database schema is up to date.")
    return 0

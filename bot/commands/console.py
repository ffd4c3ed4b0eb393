"""`relais console`: the console and the public web chat (make run starts it)."""

from __future__ import annotations

import argparse

from bot.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("console", help="serve the console and the web chat")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.app import run as serve

    print(
        f"Console: http://{settings.console_host}:{settings.console_port}/  "
        f"web chat: http://{settings.console_host}:{settings.console_port}/chat"
    )
    serve(settings)
    return 0

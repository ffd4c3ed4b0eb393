"""`relais switch`: the crisis switches.

relais switch all-to-humans|queue-closed on|off  |  relais switch show
"""

from __future__ import annotations

import argparse
import sys

from bot.db import get_session_factory
from bot.settings import Settings


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
    switch = commands.add_parser(
        "switch",
        help="crisis switches: all-to-humans, queue-closed",
        parents=[as_agent],
    )
    switch.add_argument("name", choices=["all-to-humans", "queue-closed", "show"])
    switch.add_argument("state", nargs="?", choices=["on", "off"])


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.name != "show" and args.state is None:
        print("Say on or off: relais switch queue-closed on", file=sys.stderr)
        return 2
    return switch_command(settings, args)


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

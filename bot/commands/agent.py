"""`relais agent`: the console's accounts.

relais agent add NAME [--role agent|editor|admin] | list | passwd NAME
             | disable NAME | enable NAME
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.console import accounts
from bot.db import get_session_factory
from bot.settings import Settings


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
    agent_parser = commands.add_parser("agent", help="console accounts")
    agent_commands = agent_parser.add_subparsers(dest="subcommand", required=True)
    add = agent_commands.add_parser("add", help="create an account")
    add.add_argument("name", help="sign-in name: lower-case letters, digits, . _ -")
    add.add_argument("--role", choices=accounts.ROLES, default="agent")
    add.add_argument("--display-name", default="", help="shown to colleagues")
    add.add_argument(
        "--language",
        choices=accounts.CONSOLE_LANGUAGES,
        help="the console's language for this account (default: the profile's)",
    )
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


def run(settings: Settings, args: argparse.Namespace) -> int:
    return {
        "add": agent_add, "list": agent_list, "passwd": agent_passwd,
        "disable": agent_disable, "enable": agent_enable,
    }[args.subcommand](settings, args)  # fmt: skip


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
            language=args.language,
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

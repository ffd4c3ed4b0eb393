"""The `relais` command line."""

from __future__ import annotations

import argparse
import sys

from bot.settings import SettingsError, get_settings


def check_config() -> int:
    """Validates the configuration; prints what is wrong in one line."""
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    print(
        f"Configuration OK ({settings.environment} mode, Rasa at {settings.rasa_url})."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relais", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("check", help="validate .env and the environment")

    args = parser.parse_args(argv)
    if args.command == "config" and args.config_command == "check":
        return check_config()
    parser.error("unknown command")
    return 2


if __name__ == "__main__":
    sys.exit(main())

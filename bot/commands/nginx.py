"""`relais nginx`: the nginx in front of a scaled-out Relais (bot/nginx.py).

    relais nginx --listen 127.0.0.1:8080 --api 5004 --actions-listen 5054 \\
        --rasa 5005 --rasa 5006 --actions 5055 --actions 5056 --console 8000

writes var/nginx/nginx.conf, checks it, and runs nginx in the foreground
(Procfile.scaled); `--check` only writes and checks.
"""

from __future__ import annotations

import argparse
import sys

from bot.nginx import Layout, NginxError, address, serve, write_config
from bot.settings import PROJECT_ROOT

RUN_DIR = PROJECT_ROOT / "var" / "nginx"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds `nginx` to the `relais` parser."""
    parser = commands.add_parser(
        "nginx", help="run nginx in front of several Rasa processes (make run-scaled)"
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8080",
        help="the public address: web chat, console, channels",
    )
    parser.add_argument(
        "--api", required=True, help="loopback port for Rasa's HTTP API (RASA_URL)"
    )
    parser.add_argument(
        "--actions-listen", required=True, help="loopback port for Rasa's action calls"
    )
    parser.add_argument(
        "--rasa",
        action="append",
        required=True,
        help="a Rasa process (port or host:port); repeat",
    )
    parser.add_argument(
        "--actions",
        action="append",
        required=True,
        help="an action server (port or host:port); repeat",
    )
    parser.add_argument("--console", required=True, help="the console's port")
    parser.add_argument(
        "--rate",
        type=int,
        default=20,
        help="messages per second per address on /webhooks/",
    )
    parser.add_argument("--check", action="store_true",
                        help="write and check the configuration only")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        if args.rate < 1:
            raise NginxError("--rate is at least 1 message per second.")
        layout = Layout(
            public=address(args.listen),
            api=address(args.api),
            actions_listen=address(args.actions_listen),
            rasa=tuple(address(a) for a in args.rasa),
            actions=tuple(address(a) for a in args.actions),
            console=address(args.console),
            rate=args.rate,
        )
        if args.check:
            print(f"nginx configuration OK: {write_config(layout, RUN_DIR)}")
            return 0
        print(f"nginx on http://{layout.public} (Rasa: {', '.join(layout.rasa)})")
        sys.stdout.flush()
        serve(layout, RUN_DIR)
    except NginxError as error:
        print(error, file=sys.stderr)
        return 2
    return 0

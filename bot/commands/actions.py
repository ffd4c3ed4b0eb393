"""`relais actions`: the action server, on loopback, answering Rasa only.

    relais actions --port 5055

Rasa calls the action server for every custom action with the whole
conversation; rasa_sdk's server (`rasa run actions`) listens on every
interface and asks no credential, so whoever reached its port could run
`action_handoff` with a forged conversation and open or overwrite tickets.
This command runs the same server (rasa_sdk's `create_app`, the `actions`
package) with two differences:

- it listens on RELAIS_ACTIONS_HOST, 127.0.0.1 unless set (set it to an
  address of a private network when the Rasa processes run on other
  machines, and keep that network private);
- every request but `GET /health` must carry `Authorization: Bearer
  <RELAIS_ACTIONS_SECRET>`, the header endpoints.yml makes Rasa send; any
  other request gets 401 before the conversation it carries is read.

At start it also delivers the handoffs an earlier run left in the spool
(bot/handoff/spool.py).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import spool
from bot.settings import SettingsError, get_settings

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5055
OPEN_PATHS = {"/health"}  # Relais' guard and the tests ask it; it tells nothing


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds `actions` to the `relais` parser."""
    parser = commands.add_parser(
        "actions",
        help="run the action server (loopback, calls from Rasa only)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)


def require_secret(app: Sanic, secret: str) -> None:
    """Makes `app` refuse every request without `Authorization: Bearer
    <secret>` (compared in constant time), except OPEN_PATHS."""
    expected = f"Bearer {secret}".encode()

    @app.on_request
    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, expected):
            return None
        logger.warning(
            "Refused a call to %s from %s: no valid action server secret.",
            request.path,
            request.ip,
        )
        return response.json(
            {"error": "This server answers Relais' Rasa processes only."},
            status=401,
        )


def create_app(secret: str) -> Sanic:
    """rasa_sdk's action server for the `actions` package, behind `secret`."""
    from rasa_sdk.endpoint import create_app as create_sdk_app

    # No CORS: browsers have no business here.
    app = create_sdk_app("actions", cors_origins=None)
    require_secret(app, secret)
    return app


def run(args: argparse.Namespace) -> int:
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"--port must be a TCP port (1-65535), not {args.port}.", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(settings.actions_secret)
    # Handoffs an earlier run spooled while the database was down.
    spool.drain_at_start(
        settings.spool_dir,
        settings.database_url,
        spool.webhook_alert(settings.alert_webhook_url),
    )
    print(
        f"Action server on http://{settings.actions_host}:{args.port} "
        "(calls carrying RELAIS_ACTIONS_SECRET only)"
    )
    sys.stdout.flush()
    app.run(settings.actions_host, args.port, access_log=False, workers=1)
    return 0

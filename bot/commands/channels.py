"""`relais channels`: which brand channels are on, and their webhook addresses.

    relais channels [--public-url https://chat.example.com]
    relais channels telegram-webhook https://chat.example.com

The first lists each channel, on or off, with the address to give the
provider. The second registers Relais' Telegram webhook with Telegram
(setWebhook) with RELAIS_TELEGRAM_SECRET, which Telegram then repeats on
every update; Meta's webhooks are set in the Meta app's dashboard instead
(README, Channels).
"""

from __future__ import annotations

import argparse
import re
import sys

import requests

from bot.channel_settings import ChannelSettings
from bot.settings import Settings

CHANNELS = (
    ("messenger", "Messenger", "RELAIS_MESSENGER_PAGE_TOKEN"),
    ("instagram", "Instagram", "RELAIS_INSTAGRAM_TOKEN"),
    ("whatsapp", "WhatsApp", "RELAIS_WHATSAPP_TOKEN"),
    ("telegram", "Telegram", "RELAIS_TELEGRAM_TOKEN"),
)
TIMEOUT_SECONDS = 20


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "channels", help="the brand's channels: which are on, webhook addresses"
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="the address the providers reach Rasa at (default RELAIS_PUBLIC_RASA_URL)",
    )
    actions = parser.add_subparsers(dest="subcommand")
    telegram = actions.add_parser(
        "telegram-webhook", help="register the Telegram webhook with its secret"
    )
    telegram.add_argument("url", help="the public https address of Relais' Rasa")


def webhook_url(public_url: str, channel: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/{channel}/webhook"


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.subcommand == "telegram-webhook":
        return register_telegram(settings.channels, args.url)
    public = args.public_url or settings.public_rasa_url
    on = settings.channels.configured
    for channel, name, token in CHANNELS:
        if channel in on:
            print(f"{name:10} on   {webhook_url(public, channel)}")
        else:
            print(f"{name:10} off  (set {token} in .env)")
    print(f"{'Web chat':10} on   {settings.console_url}/embed.js (README, Web chat)")
    return 0


def register_telegram(channels: ChannelSettings, url: str) -> int:
    if not channels.telegram_token or not channels.telegram_secret:
        print(
            "Set RELAIS_TELEGRAM_TOKEN and RELAIS_TELEGRAM_SECRET in .env first.",
            file=sys.stderr,
        )
        return 2
    if not re.match(r"^https://[^\s/]+", url):
        print(
            f"Telegram calls webhooks over https only: {url!r} is not an https URL.",
            file=sys.stderr,
        )
        return 2
    # Imported here: the channel loads Rasa, which `relais --help` need not.
    from bot.channels.telegram import api_url

    target = webhook_url(url, "telegram")
    try:
        answer = requests.post(
            api_url(channels.telegram_api_url, channels.telegram_token, "setWebhook"),
            json={
                "url": target,
                "secret_token": channels.telegram_secret,
                "allowed_updates": ["message", "callback_query"],
            },
            timeout=TIMEOUT_SECONDS,
        )
        body = answer.json()
    except (requests.RequestException, ValueError) as error:
        print(
            f"Telegram could not be reached ({type(error).__name__}).", file=sys.stderr
        )
        return 1
    if not body.get("ok"):
        reason = body.get("description") or f"HTTP {answer.status_code}"
        print(f"Telegram refused the webhook: {reason}", file=sys.stderr)
        return 1
    print(f"Telegram now posts to {target}")
    return 0

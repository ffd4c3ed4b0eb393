"""The brand's channel accounts, read from the environment (`.env`).

A channel is on when its token is set; each one also needs the secret its
webhooks are signed with, so that nobody but the provider can post to it:

- Messenger and Instagram: a Meta app (RELAIS_META_APP_SECRET signs every
  webhook, X-Hub-Signature-256; RELAIS_META_VERIFY_TOKEN answers Meta's
  subscription check) and a Page access token for each;
- WhatsApp: the WhatsApp Cloud API on the same kind of Meta app (same secret,
  same signature), a phone number id and its access token;
- Telegram: a bot token from @BotFather and a secret Telegram repeats in
  X-Telegram-Bot-Api-Secret-Token (`relais channels telegram-webhook`
  registers both).

The providers' addresses can be changed (RELAIS_META_GRAPH_URL,
RELAIS_TELEGRAM_API_URL): for a proxy, or the tests' stand-ins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

GRAPH_URL = "https://graph.facebook.com/v21.0"
TELEGRAM_API_URL = "https://api.telegram.org"
_URL = re.compile(r"^https?://[^\s/]+")
_YES = {"on", "true", "yes", "1"}
_NO = {"off", "false", "no", "0", ""}


class ChannelSettingsError(ValueError):
    """A channel is half set up; the message names what is missing."""


@dataclass(frozen=True)
class ChannelSettings:
    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    # The app was granted Meta's Human Agent permission: an agent may answer a
    # Messenger or Instagram conversation up to 7 days after the person's
    # last message (tagged HUMAN_AGENT), not only 24 hours.
    meta_human_agent: bool = False
    graph_url: str = GRAPH_URL
    messenger_token: str | None = None
    instagram_token: str | None = None
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    # An approved message template (its name) inviting the person to write
    # again: past the 24-hour window, the only message WhatsApp delivers.
    # Approved in French (language code fr) and English (en).
    whatsapp_template: str | None = None
    telegram_token: str | None = None
    telegram_secret: str | None = None
    telegram_api_url: str = TELEGRAM_API_URL

    @property
    def configured(self) -> tuple[str, ...]:
        """The channels that are on, by their Rasa channel names."""
        return tuple(
            name
            for name, on in (
                ("messenger", self.messenger_token),
                ("instagram", self.instagram_token),
                ("whatsapp", self.whatsapp_token),
                ("telegram", self.telegram_token),
            )
            if on
        )


def load_channel_settings(
    env: Mapping[str, str], placeholders: set[str], local: bool
) -> ChannelSettings:
    """The channel settings from `env`.

    Raises:
        ChannelSettingsError: A channel has a token but not its secret, a
            secret is a placeholder outside local mode, or a value is bad.
    """

    def value(name: str) -> str | None:
        return env.get(name, "").strip() or None

    settings = ChannelSettings(
        meta_app_secret=value("RELAIS_META_APP_SECRET"),
        meta_verify_token=value("RELAIS_META_VERIFY_TOKEN"),
        meta_human_agent=_switch(env, "RELAIS_META_HUMAN_AGENT"),
        graph_url=(value("RELAIS_META_GRAPH_URL") or GRAPH_URL).rstrip("/"),
        messenger_token=value("RELAIS_MESSENGER_PAGE_TOKEN"),
        instagram_token=value("RELAIS_INSTAGRAM_TOKEN"),
        whatsapp_token=value("RELAIS_WHATSAPP_TOKEN"),
        whatsapp_phone_number_id=value("RELAIS_WHATSAPP_PHONE_NUMBER_ID"),
        whatsapp_template=value("RELAIS_WHATSAPP_TEMPLATE"),
        telegram_token=value("RELAIS_TELEGRAM_TOKEN"),
        telegram_secret=value("RELAIS_TELEGRAM_SECRET"),
        telegram_api_url=(value("RELAIS_TELEGRAM_API_URL") or TELEGRAM_API_URL).rstrip(
            "/"
        ),
    )
    for name, url in (
        ("RELAIS_META_GRAPH_URL", settings.graph_url),
        ("RELAIS_TELEGRAM_API_URL", settings.telegram_api_url),
    ):
        if not _URL.match(url):
            raise ChannelSettingsError(f"{name} must be an http(s) URL, not {url!r}.")
    meta = [
        channel
        for channel, token in (
            ("Messenger (RELAIS_MESSENGER_PAGE_TOKEN)", settings.messenger_token),
            ("Instagram (RELAIS_INSTAGRAM_TOKEN)", settings.instagram_token),
            ("WhatsApp (RELAIS_WHATSAPP_TOKEN)", settings.whatsapp_token),
        )
        if token
    ]
    if meta:
        for name in ("RELAIS_META_APP_SECRET", "RELAIS_META_VERIFY_TOKEN"):
            if not value(name):
                raise ChannelSettingsError(
                    f"{name} is not set, and {meta[0]} is: Meta's webhooks cannot "
                    "be checked without it (see the README, Channels)."
                )
    if settings.whatsapp_token and not settings.whatsapp_phone_number_id:
        raise ChannelSettingsError(
            "RELAIS_WHATSAPP_PHONE_NUMBER_ID is not set, and RELAIS_WHATSAPP_TOKEN "
            "is: it is the id of the number that sends (WhatsApp Manager, API setup)."
        )
    if settings.whatsapp_template and not re.fullmatch(
        r"[a-z0-9_]{1,512}", settings.whatsapp_template
    ):
        raise ChannelSettingsError(
            "RELAIS_WHATSAPP_TEMPLATE is a template's name as WhatsApp Manager "
            "shows it: lower-case letters, digits and _."
        )
    if settings.telegram_token and not settings.telegram_secret:
        raise ChannelSettingsError(
            "RELAIS_TELEGRAM_SECRET is not set, and RELAIS_TELEGRAM_TOKEN is: "
            "Telegram's webhooks cannot be checked without it (any random string "
            "of letters and digits; `relais channels telegram-webhook` registers it)."
        )
    if settings.telegram_secret and not re.fullmatch(
        r"[A-Za-z0-9_-]{1,256}", settings.telegram_secret
    ):
        raise ChannelSettingsError(
            "RELAIS_TELEGRAM_SECRET may hold only letters, digits, _ and - "
            "(Telegram's rule), at most 256 of them."
        )
    if not local:
        for name in (
            "RELAIS_META_APP_SECRET",
            "RELAIS_META_VERIFY_TOKEN",
            "RELAIS_TELEGRAM_SECRET",
        ):
            secret = value(name)
            if secret and (secret.lower() in placeholders or len(secret) < 16):
                raise ChannelSettingsError(
                    f"{name} must be a real secret of 16 characters or more "
                    "outside local mode."
                )
    return settings


def _switch(env: Mapping[str, str], name: str) -> bool:
    setting = env.get(name, "").strip().lower()
    if setting not in _YES | _NO:
        raise ChannelSettingsError(f"{name} must be on or off, not {setting!r}.")
    return setting in _YES

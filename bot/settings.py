"""One typed settings object, loaded once from the environment and `.env`.

The real environment wins over `.env` (python-dotenv with `override=False`).
A missing or bad value raises `SettingsError` naming the variable, so start-up
stops with a message a person can act on instead of a stack trace later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

from bot.channel_settings import (
    ChannelSettings,
    ChannelSettingsError,
    load_channel_settings,
)
from bot.profile import Profile, ProfileError, load_profile

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("local", "production")
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "token"}
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'relais.db'}"
# The watcher reads the tracker store's events table (endpoints.yml).
DEFAULT_EVENTS_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
DEFAULT_PACK = "packs/dairy-recall"
# Moved to the pack's profile.yml; `relais config check` says so when still set.
MOVED_TO_PROFILE = (
    "RELAIS_CONTACT_PHONE",
    "RELAIS_CONTACT_EMAIL",
    "RELAIS_CONTACT_HOURS",
)


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything Relais reads from its environment."""

    environment: str
    rasa_token: str
    rasa_url: str
    # Every Rasa process: a published model is loaded into each (RELAIS_RASA_URLS).
    rasa_urls: tuple[str, ...]
    # The crisis example in use (RELAIS_PACK): faq/, profile.yml, nlu/, heldout/.
    pack_dir: Path
    faq_dir: Path
    profile: Profile
    database_url: str
    team_opens: time
    team_closes: time
    team_days: tuple[int, ...]  # 0 = Monday, as in `datetime.weekday()`
    timezone: ZoneInfo
    spool_dir: Path
    console_secret: str
    # Rasa's calls to the action server carry it (endpoints.yml); the action
    # server refuses any other call (bot/commands/actions.py).
    actions_secret: str
    console_host: str
    console_port: int
    # Where a browser reaches Rasa's socket.io channel (the web chat).
    public_rasa_url: str
    # Rasa's event broker, read by the console's watcher: the SQL broker's
    # database (endpoints.yml) or RabbitMQ (amqp://, endpoints.scaled.yml),
    # where the watcher consumes `events_queue`.
    events_url: str
    events_queue: str = "relais-console"
    # With several Rasa processes: the Redis that carries socket.io messages
    # to the process holding the person's socket (RELAIS_SOCKETIO_REDIS_URL).
    socketio_redis_url: str | None = None
    # Graceful overload (bot/overload.py): messages handled at once by one
    # Rasa process, and how long a person waits before a holding reply.
    max_in_progress: int = 8
    holding_reply_seconds: float = 3.0
    # Spike alerts (bot/insights/spikes.py): a Slack-compatible incoming
    # webhook, and the console's address the alert links to.
    alert_webhook_url: str | None = None
    console_url: str = "http://127.0.0.1:8000"
    # Four-eyes approval (RELAIS_FOUR_EYES): a change to what the brand says
    # in public is a draft until a second editor or an admin approves it.
    four_eyes: bool = False
    # The console's language for accounts that have not chosen one
    # (RELAIS_CONSOLE_LANGUAGE, else the profile's console_language: fr).
    console_language: str = "fr"
    # What publishes train on and load from (RELAIS_PROJECT): config.yml,
    # domain.yml, data/ and models/.
    project_dir: Path = PROJECT_ROOT
    # Models by the inputs they were trained from (RELAIS_MODEL_CACHE): None
    # keeps them in the project's models/cache/ (bot/publish/cache.py).
    model_cache: Path | None = None
    # The proxies whose X-Forwarded-For the console believes (nginx on
    # loopback by default; RELAIS_TRUSTED_PROXIES): sign-in throttling counts
    # per real client address.
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    # Where the action server listens (RELAIS_ACTIONS_HOST): loopback unless
    # Rasa runs on other machines.
    actions_host: str = "127.0.0.1"
    # Messenger, Instagram, WhatsApp and Telegram (bot/channel_settings.py).
    channels: ChannelSettings = field(default_factory=ChannelSettings)

    @property
    def is_local(self) -> bool:
        return self.environment == "local"


_YES = {"on", "true", "yes", "1"}
_NO = {"off", "false", "no", "0"}


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: add it to .env (see .env.example).")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    """Builds and validates settings from a mapping of environment variables.

    Args:
        env: The variables, usually `os.environ` after `.env` was loaded.

    Returns:
        The validated settings.

    Raises:
        SettingsError: A variable is missing or has a bad value.
    """
    environment = env.get("RELAIS_ENV", "local").strip() or "local"
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"RELAIS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}."
        )

    rasa_token = _required(env, "RASA_TOKEN")
    if environment != "local" and rasa_token.lower() in PLACEHOLDER_SECRETS:
        raise SettingsError(
            "RASA_TOKEN still holds a placeholder; set a long random value "
            "outside local mode."
        )
    if environment != "local" and len(rasa_token) < 24:
        raise SettingsError("RASA_TOKEN is too short: use at least 24 characters.")

    rasa_url = env.get("RASA_URL", "http://127.0.0.1:5005").strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", rasa_url):
        raise SettingsError(f"RASA_URL must be an http(s) URL, not {rasa_url!r}.")

    rasa_urls = tuple(
        url.strip().rstrip("/")
        for url in env.get("RELAIS_RASA_URLS", rasa_url).split(",")
        if url.strip()
    )
    for url in rasa_urls:
        if not re.match(r"^https?://[^\s/]+", url):
            raise SettingsError(
                f"RELAIS_RASA_URLS must list http(s) URLs separated by commas, "
                f"not {url!r}."
            )

    if env.get("RELAIS_FAQ_DIR", "").strip():
        raise SettingsError(
            "RELAIS_FAQ_DIR is no longer read: set RELAIS_PACK to the pack's folder "
            "(for example packs/dairy-recall), which holds faq/ and profile.yml."
        )
    pack_dir = Path(env.get("RELAIS_PACK", "").strip() or DEFAULT_PACK)
    if not pack_dir.is_absolute():
        pack_dir = PROJECT_ROOT / pack_dir
    if not (pack_dir / "faq").is_dir():
        raise SettingsError(
            f"RELAIS_PACK {str(pack_dir)!r} is not a pack: it needs a faq/ folder "
            "and a profile.yml (see packs/)."
        )
    try:
        profile = load_profile(pack_dir)
    except ProfileError as error:
        raise SettingsError(f"RELAIS_PACK: {error}") from None

    database_url = _database_url(env, "DATABASE_URL", DEFAULT_DATABASE_URL)
    events_url = env.get("RELAIS_EVENTS_URL", "").strip() or DEFAULT_EVENTS_URL
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://|^amqps?://[^\s/]+", events_url):
        raise SettingsError(
            "RELAIS_EVENTS_URL must be the database of Rasa's SQL tracker store "
            "or event broker (sqlite:/// or postgresql://) or RabbitMQ "
            "(amqp://user:password@host:5672/), "
            f"not {events_url!r}."
        )
    events_queue = env.get("RELAIS_EVENTS_QUEUE", "").strip() or "relais-console"
    socketio_redis_url = env.get("RELAIS_SOCKETIO_REDIS_URL", "").strip() or None
    if socketio_redis_url and not re.match(r"^rediss?://[^\s/]+", socketio_redis_url):
        raise SettingsError(
            "RELAIS_SOCKETIO_REDIS_URL must be a redis:// URL "
            f"(for example redis://127.0.0.1:6379/2), not {socketio_redis_url!r}."
        )

    # The profile says when the team works; the environment may override it.
    team_opens, team_closes = _team_hours(
        env.get("RELAIS_TEAM_HOURS", "").strip() or profile.team.hours
    )
    timezone_name = env.get("RELAIS_TIMEZONE", "").strip() or profile.team.timezone
    try:
        timezone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"RELAIS_TIMEZONE (or team.timezone in the profile) {timezone_name!r} "
            "is not a time zone "
            "(use a name such as Europe/Paris)."
        ) from None

    spool_dir = Path(env.get("RELAIS_SPOOL_DIR", "var/handoff-spool").strip())
    if not spool_dir.is_absolute():
        spool_dir = PROJECT_ROOT / spool_dir

    console_secret = _required(env, "RELAIS_CONSOLE_SECRET")
    if console_secret.lower() in PLACEHOLDER_SECRETS:
        # Published in .env.example: whoever knows it can sign a console
        # cookie and open the console as an admin, local mode or not.
        raise SettingsError(
            "RELAIS_CONSOLE_SECRET still holds a published placeholder: anyone "
            "could sign in as an admin with it. Set a random value (make run "
            "writes one into .env)."
        )
    if environment != "local" and (
        console_secret.lower() in PLACEHOLDER_SECRETS or len(console_secret) < 32
    ):
        raise SettingsError(
            "RELAIS_CONSOLE_SECRET must be a random value of 32 characters or more "
            "outside local mode."
        )
    actions_secret = _required(env, "RELAIS_ACTIONS_SECRET")
    if actions_secret.lower() in PLACEHOLDER_SECRETS or (
        environment != "local" and len(actions_secret) < 32
    ):
        # Whoever can call the action server with it can open and overwrite
        # handoff tickets with a forged conversation.
        raise SettingsError(
            "RELAIS_ACTIONS_SECRET must be a random value (32 characters or more "
            "outside local mode), not a placeholder: make run writes one into .env."
        )
    actions_host = env.get("RELAIS_ACTIONS_HOST", "127.0.0.1").strip() or "127.0.0.1"
    trusted_proxies = frozenset(
        address.strip()
        for address in env.get("RELAIS_TRUSTED_PROXIES", "127.0.0.1,::1").split(",")
        if address.strip()
    )
    console_port = _port(env.get("RELAIS_CONSOLE_PORT", "8000"))
    public_rasa_url = env.get("RELAIS_PUBLIC_RASA_URL", rasa_url).strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", public_rasa_url):
        raise SettingsError(
            f"RELAIS_PUBLIC_RASA_URL must be an http(s) URL, not {public_rasa_url!r}."
        )

    alert_webhook_url = env.get("RELAIS_ALERT_WEBHOOK_URL", "").strip() or None
    if alert_webhook_url and not re.match(r"^https?://[^\s/]+", alert_webhook_url):
        raise SettingsError(
            "RELAIS_ALERT_WEBHOOK_URL must be an http(s) URL (a Slack-compatible "
            f"incoming webhook), not {alert_webhook_url!r}."
        )
    console_host = env.get("RELAIS_CONSOLE_HOST", "127.0.0.1").strip() or "127.0.0.1"
    console_url = (
        env.get("RELAIS_CONSOLE_URL", "").strip().rstrip("/")
        or f"http://{console_host}:{console_port}"
    )
    if not re.match(r"^https?://[^\s/]+", console_url):
        raise SettingsError(
            f"RELAIS_CONSOLE_URL must be an http(s) URL, not {console_url!r}."
        )

    project_dir = Path(env.get("RELAIS_PROJECT", "").strip() or PROJECT_ROOT)
    if not project_dir.is_absolute():
        project_dir = PROJECT_ROOT / project_dir
    if not (project_dir / "config.yml").is_file():
        raise SettingsError(
            f"RELAIS_PROJECT {str(project_dir)!r} has no config.yml: it is the folder "
            "with config.yml, domain.yml, data/ and models/."
        )

    console_language = (
        env.get("RELAIS_CONSOLE_LANGUAGE", "").strip().lower()
        or profile.console_language
    )
    if console_language not in ("fr", "en"):
        raise SettingsError(
            f"RELAIS_CONSOLE_LANGUAGE must be fr or en, not {console_language!r}."
        )
    four_eyes_value = env.get("RELAIS_FOUR_EYES", "").strip().lower() or "off"
    if four_eyes_value not in _YES | _NO:
        raise SettingsError(
            f"RELAIS_FOUR_EYES must be on or off, not {four_eyes_value!r}."
        )

    try:
        channels = load_channel_settings(
            env, PLACEHOLDER_SECRETS, local=environment == "local"
        )
    except ChannelSettingsError as error:
        raise SettingsError(str(error)) from None

    return Settings(
        environment=environment,
        channels=channels,
        rasa_token=rasa_token,
        rasa_url=rasa_url,
        rasa_urls=rasa_urls or (rasa_url,),
        pack_dir=pack_dir,
        faq_dir=pack_dir / "faq",
        profile=profile,
        database_url=database_url,
        team_opens=team_opens,
        team_closes=team_closes,
        team_days=_team_days(
            env.get("RELAIS_TEAM_DAYS", "").strip() or profile.team.days
        ),
        timezone=timezone,
        spool_dir=spool_dir,
        console_secret=console_secret,
        actions_secret=actions_secret,
        actions_host=actions_host,
        trusted_proxies=trusted_proxies,
        console_host=console_host,
        four_eyes=four_eyes_value in _YES,
        console_language=console_language,
        project_dir=project_dir,
        model_cache=model_cache_from(env),
        console_port=console_port,
        public_rasa_url=public_rasa_url,
        events_url=events_url,
        events_queue=events_queue,
        socketio_redis_url=socketio_redis_url,
        max_in_progress=int(
            _number(env, "RELAIS_MAX_IN_PROGRESS", "8", whole=True, low=1, high=1000)
        ),
        holding_reply_seconds=_number(
            env, "RELAIS_HOLDING_REPLY_SECONDS", "3", whole=False, low=0.1, high=60
        ),
        alert_webhook_url=alert_webhook_url,
        console_url=console_url,
    )


def _number(
    env: Mapping[str, str],
    name: str,
    default: str,
    *,
    whole: bool,
    low: float,
    high: float,
) -> float:
    value = env.get(name, "").strip() or default
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        kind = "a whole number" if whole else "a number of seconds"
        raise SettingsError(
            f"{name} must be {kind} from {low:g} to {high:g}, not {value!r}."
        )
    return number


def _database_url(env: Mapping[str, str], name: str, default: str) -> str:
    url = env.get(name, "").strip() or default
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise SettingsError(
            f"{name} must be a sqlite:/// or postgresql:// URL, not {url!r}."
        )
    return url


def _port(value: str) -> int:
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(
            f"RELAIS_CONSOLE_PORT must be a port number, not {value!r}."
        )
    return int(value)


def _team_hours(value: str) -> tuple[time, time]:
    """Parses RELAIS_TEAM_HOURS, e.g. "08:00-20:00" (closing after opening)."""
    match = _HOURS.match(value.strip())
    hours = None
    if match:
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60:
            opens = time(h1, m1)
            closes = time(23, 59, 59) if (h2, m2) == (24, 0) else time(h2 % 24, m2)
            hours = (opens, closes) if opens < closes else None
    if hours is None:
        raise SettingsError(
            f"RELAIS_TEAM_HOURS (or team.hours in the profile) must look like "
            f"08:00-20:00, not {value!r}."
        )
    return hours


def _team_days(value: str) -> tuple[int, ...]:
    """Parses RELAIS_TEAM_DAYS: "mon-fri", "mon-sat", "mon,wed,fri"..."""
    days: set[int] = set()
    for part in value.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise SettingsError(
                "RELAIS_TEAM_DAYS (or team.days in the profile) must list days "
                f"such as mon-fri or mon,wed,fri, not {value!r}."
            )
        day, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.add(day)
        while day != end:  # "fri-mon" wraps over the weekend
            day = (day + 1) % 7
            days.add(day)
    return tuple(sorted(days))


def model_cache_from(env: Mapping[str, str]) -> Path | None:
    """RELAIS_MODEL_CACHE: a folder of trained models that several projects
    (test copies, a staging checkout) share; None for the project's own."""
    value = env.get("RELAIS_MODEL_CACHE", "").strip()
    if not value:
        return None
    return Path(value) if Path(value).is_absolute() else PROJECT_ROOT / value


def pack_dir_from_environment() -> Path:
    """RELAIS_PACK (from the environment or `.env`), for commands that need
    the pack but not the rest of the settings (`relais faq lint`)."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    pack_dir = Path(os.environ.get("RELAIS_PACK", "").strip() or DEFAULT_PACK)
    return pack_dir if pack_dir.is_absolute() else PROJECT_ROOT / pack_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Loads `.env` (without overriding the real environment) once, then validates."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    return load_settings(os.environ)

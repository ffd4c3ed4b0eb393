"""A bad or missing configuration value stops start-up with a message naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands.config import endpoint_classes_problem, events_source_problem
from bot.settings import PROJECT_ROOT, SettingsError, load_settings
from tests.conftest import TEST_ENVIRONMENT


def test_the_example_configuration_loads() -> None:
    settings = load_settings(TEST_ENVIRONMENT)
    assert settings.is_local
    assert settings.profile.email == "rappel@montval.fr"
    assert settings.faq_dir.is_dir()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RASA_TOKEN", "", "RASA_TOKEN is not set"),
        ("RELAIS_ENV", "staging", "RELAIS_ENV must be one of local, production"),
        ("RASA_URL", "localhost:5005", "RASA_URL must be an http(s) URL"),
        (
            "RELAIS_PACK",
            "/nonexistent/pack",
            "RELAIS_PACK '/nonexistent/pack' is not a pack",
        ),
        (
            "RELAIS_FAQ_DIR",
            "data/faq",
            "RELAIS_FAQ_DIR is no longer read: set RELAIS_PACK",
        ),
        ("DATABASE_URL", "mysql://db/relais", "DATABASE_URL must be a sqlite"),
        ("RELAIS_TEAM_HOURS", "8h-20h", "team.hours in the profile) must look like"),
        (
            "RELAIS_TEAM_HOURS",
            "20:00-08:00",
            "team.hours in the profile) must look like",
        ),
        ("RELAIS_TEAM_DAYS", "weekdays", "team.days in the profile) must list days"),
        ("RELAIS_TIMEZONE", "Paris", "'Paris' is not a time zone"),
        ("RELAIS_EVENTS_URL", "kafka://broker:9092", "RELAIS_EVENTS_URL must be"),
        (
            "RELAIS_SOCKETIO_REDIS_URL",
            "127.0.0.1:6379",
            "RELAIS_SOCKETIO_REDIS_URL must be a redis:// URL",
        ),
    ],
)
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings({**TEST_ENVIRONMENT, name: value})


# Production mode with every secret real; each test replaces the one it checks.
PRODUCTION = {
    **TEST_ENVIRONMENT,
    "RELAIS_ENV": "production",
    "RASA_TOKEN": "x" * 32,
    "RELAIS_CONSOLE_SECRET": "s" * 48,
    "RELAIS_ACTIONS_SECRET": "a" * 48,
}


def test_placeholder_token_is_refused_outside_local_mode() -> None:
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings({**PRODUCTION, "RASA_TOKEN": "change-me"})
    with pytest.raises(SettingsError, match="too short"):
        load_settings({**PRODUCTION, "RASA_TOKEN": "too-short-token"})
    assert load_settings({**PRODUCTION, "RASA_TOKEN": "x" * 32}).environment == (
        "production"
    )


def test_config_check_prints_the_problem_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELAIS_TEAM_HOURS", "8h-20h")
    assert main(["config", "check"]) == 2
    error = capsys.readouterr().err
    assert "RELAIS_TEAM_HOURS" in error
    assert "Traceback" not in error


def test_config_check_accepts_a_good_configuration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "check"]) == 0
    assert "Configuration OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("days", "expected"),
    [("mon-fri", (0, 1, 2, 3, 4)), ("fri-mon", (0, 4, 5, 6)), ("sat,sun", (5, 6))],
)
def test_team_days(days: str, expected: tuple[int, ...]) -> None:
    settings = load_settings({**TEST_ENVIRONMENT, "RELAIS_TEAM_DAYS": days})
    assert settings.team_days == expected


def test_the_queue_database_defaults_to_sqlite_under_var() -> None:
    settings = load_settings(TEST_ENVIRONMENT)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/var/relais.db")


def test_the_console_secret_must_be_real_outside_local_mode() -> None:
    with pytest.raises(SettingsError, match="published placeholder"):
        load_settings({**PRODUCTION, "RELAIS_CONSOLE_SECRET": "change-me"})
    with pytest.raises(SettingsError, match="RELAIS_CONSOLE_SECRET must be"):
        load_settings({**PRODUCTION, "RELAIS_CONSOLE_SECRET": "short-secret"})
    assert (
        load_settings({**PRODUCTION, "RELAIS_CONSOLE_SECRET": "s" * 48}).console_port
        == 8000
    )


def test_the_placeholder_console_secret_is_refused_in_local_mode_too() -> None:
    """.env.example's value is public: a cookie signed with it opened /team."""
    with pytest.raises(SettingsError, match="published placeholder"):
        load_settings({**TEST_ENVIRONMENT, "RELAIS_CONSOLE_SECRET": "change-me"})
    assert load_settings(TEST_ENVIRONMENT).environment == "local"


def test_the_action_server_secret_is_set_and_real() -> None:
    """Whoever calls the action server with it can open and overwrite tickets."""
    environment = {**TEST_ENVIRONMENT}
    del environment["RELAIS_ACTIONS_SECRET"]
    with pytest.raises(SettingsError, match="RELAIS_ACTIONS_SECRET is not set"):
        load_settings(environment)
    with pytest.raises(SettingsError, match="not a placeholder"):
        load_settings({**TEST_ENVIRONMENT, "RELAIS_ACTIONS_SECRET": "change-me"})
    with pytest.raises(SettingsError, match="32 characters"):
        load_settings({**PRODUCTION, "RELAIS_ACTIONS_SECRET": "short-secret"})
    settings = load_settings({**PRODUCTION, "RELAIS_ACTIONS_SECRET": "a" * 48})
    assert (settings.actions_secret, settings.actions_host) == ("a" * 48, "127.0.0.1")


def test_config_check_refuses_a_store_class_rasa_would_silently_replace(
    tmp_path: Path,
) -> None:
    """Rasa keeps conversations in memory when it cannot import the tracker
    store endpoints.yml names, with only a warning in its log."""
    shipped = PROJECT_ROOT / "endpoints.yml"
    assert endpoint_classes_problem(shipped) is None
    typo = tmp_path / "endpoints.yml"
    typo.write_text(
        shipped.read_text(encoding="utf-8").replace(
            "bot.stores.TrackerStore", "bot.stores.TrackerStor"
        ),
        encoding="utf-8",
    )
    problem = endpoint_classes_problem(typo)
    assert problem is not None
    assert "tracker_store" in problem and "bot.stores.TrackerStor" in problem


def test_config_check_names_an_action_endpoint_without_the_secret(
    tmp_path: Path,
) -> None:
    """An endpoints.yml from before the action server's secret: every action
    would get 401 (issue 26)."""
    shipped = PROJECT_ROOT / "endpoints.yml"
    old = tmp_path / "endpoints.yml"
    old.write_text(
        shipped.read_text(encoding="utf-8").replace("${RELAIS_ACTIONS_SECRET}", ""),
        encoding="utf-8",
    )
    problem = endpoint_classes_problem(old)
    assert problem is not None and "RELAIS_ACTIONS_SECRET" in problem


@pytest.mark.parametrize("name", ["endpoints.yml", "endpoints.scaled.yml"])
def test_rasa_sends_the_action_servers_secret_as_make_run_starts_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read as Rasa reads it, the shipped file carries the secret itself,
    not its placeholder (quoted, it did: every action got 401 under `make
    run`); `relais config check` names a quoted one."""
    from rasa.utils.endpoints import read_endpoint_config

    monkeypatch.setenv("RELAIS_ACTIONS_SECRET", "s3cret-from-the-environment")
    shipped = PROJECT_ROOT / name
    endpoint = read_endpoint_config(str(shipped), "action_endpoint")
    assert endpoint is not None
    assert endpoint.headers["Authorization"] == "Bearer s3cret-from-the-environment"
    assert endpoint_classes_problem(shipped) is None
    quoted = tmp_path / name
    quoted.write_text(
        shipped.read_text(encoding="utf-8").replace(
            "Bearer ${RELAIS_ACTIONS_SECRET}", '"Bearer ${RELAIS_ACTIONS_SECRET}"'
        ),
        encoding="utf-8",
    )
    problem = endpoint_classes_problem(quoted)
    assert problem is not None and "in quotes" in problem


def test_the_scaled_out_settings_load() -> None:
    """scaled.env, as `make run-scaled` reads it on top of .env."""
    scaled = dict(
        line.split("=", 1)
        for line in (PROJECT_ROOT / "scaled.env").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    settings = load_settings({**TEST_ENVIRONMENT, **scaled})
    assert settings.events_url.startswith("amqp://")
    assert settings.socketio_redis_url == "redis://127.0.0.1:6379/2"
    assert len(settings.rasa_urls) == 2
    assert settings.database_url.startswith("postgresql://")
    # The queue the console consumes is the one Rasa publishes to.
    endpoints = (PROJECT_ROOT / "endpoints.scaled.yml").read_text("utf-8")
    assert f"- {settings.events_queue}" in endpoints
    assert endpoint_classes_problem(PROJECT_ROOT / "endpoints.scaled.yml") is None


def test_the_watcher_reads_where_rasa_writes() -> None:
    """Issue 29: make run has no event broker; the console reads the tracker
    store's database. An older .env pointing at the broker's former database
    would leave the queue blind: the configuration check says so."""
    shipped = PROJECT_ROOT / "endpoints.yml"
    assert (
        events_source_problem(shipped, load_settings(TEST_ENVIRONMENT).events_url)
        is None
    )
    assert (
        events_source_problem(
            shipped, f"sqlite:///{PROJECT_ROOT}/var/../var/tracker.db"
        )
        is None
    )
    problem = events_source_problem(shipped, f"sqlite:///{PROJECT_ROOT}/var/events.db")
    assert problem is not None and "never see a message" in problem
    scaled = PROJECT_ROOT / "endpoints.scaled.yml"
    assert events_source_problem(scaled, "amqp://guest:guest@127.0.0.1:5672/") is None

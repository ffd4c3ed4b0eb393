"""The overview's figures against a generated crisis day's truth.

A day of conversations is written into the stores Rasa writes
(bot/insights/generator.py), the console's watcher reads it as it reads
Rasa's events, and every figure the overview shows is checked against what
the generator knows it made. On SQLite and on the PostgreSQL server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import median

import pytest
from sqlalchemy import delete, select
from starlette.testclient import TestClient

from bot.console import accounts
from bot.console.app import create_app
from bot.db import get_engine, get_session_factory, upgrade
from bot.events.sql import watch_once
from bot.handoff.models import Ticket
from bot.insights import facts, overview, satisfaction
from bot.insights.generator import Day, Truth, broker_events
from bot.insights.models import HANDOFF, MessageFact, StatBucket
from bot.insights.sentiment import ANGRY, score
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import postgres_database

# Slow: a generated crisis day per database.
pytestmark = pytest.mark.slow

PACK = PROJECT_ROOT / "packs" / "dairy-recall"
PARIS = timezone(timedelta(hours=1))  # Europe/Paris in November
DAY_START = datetime(2026, 11, 28, tzinfo=PARIS)
SPIKE_AT = datetime(2026, 11, 28, 14, 0, tzinfo=PARIS)
CONVERSATIONS = 1000
PASSWORD = "correct horse battery"


@dataclass
class Loaded:
    url: str
    events_url: str
    truth: Truth


def load_day(
    url: str,
    events_url: str,
    conversations: int = CONVERSATIONS,
    seed: int = 7,
    spike_per_hour: int = 60,
) -> Truth:
    """Generates the day into the queue at `url` and the event broker's table
    at `events_url`, then lets the watcher read every event, batch by batch,
    as the console does."""
    day = Day(
        PACK,
        DAY_START,
        conversations,
        SPIKE_AT,
        spike_per_hour=spike_per_hour,
        seed=seed,
    )
    with get_session_factory(url).begin() as session:
        truth = day.write(session=session, tracker_url=None, broker_url=events_url)
    while watch_once(url, events_url)[0]:
        pass
    return truth


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    if request.param == "sqlite":
        # As `make run` keeps them: the queue and Rasa's events in two files.
        folder = tmp_path_factory.mktemp("day")
        url, events_url = (
            f"sqlite:///{folder}/relais.db",
            f"sqlite:///{folder}/events.db",
        )
        upgrade(url)
        yield Loaded(url, events_url, load_day(url, events_url))
        get_engine(url).dispose()
    else:
        with postgres_database() as url:
            upgrade(url)
            yield Loaded(url, url, load_day(url, url))


def day_figures(url: str) -> overview.Figures:
    with get_session_factory(url).begin() as session:
        return overview.figures_for(session, DAY_START, DAY_START + timedelta(days=1))


def test_message_figures_match_the_generated_day(loaded: Loaded) -> None:
    truth, figures = loaded.truth, day_figures(loaded.url)
    assert figures.messages == truth.messages
    assert figures.conversations == truth.conversations
    assert dict(figures.outcomes) == dict(truth.outcomes)
    assert dict(figures.languages) == dict(truth.languages)
    assert dict(figures.topics) == dict(truth.topics)
    # Every 5 minutes and every hour add up to the day.
    assert sum(n for _, n, _ in figures.per_5min) == truth.messages
    assert len(figures.per_5min) == 288 and len(figures.per_hour) == 24
    assert sum(sum(groups.values()) for _, groups, _, _ in figures.per_hour) == (
        truth.messages
    )


def test_deflection_and_did_you_mean_rate(loaded: Loaded) -> None:
    truth, figures = loaded.truth, day_figures(loaded.url)
    handed = sum(truth.handoffs.values())
    assert figures.deflection == pytest.approx(1 - handed / truth.conversations)
    assert figures.did_you_mean_rate == pytest.approx(
        truth.outcomes["did_you_mean"] / truth.messages
    )
    assert figures.outcomes[HANDOFF] == handed


def test_people_whose_handoff_closed_were_asked_how_it_went(loaded: Loaded) -> None:
    """Everyone handed back after a handoff, except after health or
    self-harm, was asked; the answers are those the day drew."""
    day_end = DAY_START + timedelta(days=1)
    with get_session_factory(loaded.url).begin() as session:
        closed = session.scalars(
            select(Ticket).where(Ticket.status == "closed", Ticket.closed_at < day_end)
        ).all()
        found = satisfaction.results(session, DAY_START, day_end)
    expected = [t for t in closed if t.reason not in ("health", "self_harm")]
    assert expected and found.overall.asked == len(expected)
    assert set(found.by_reason) == {t.reason for t in expected}
    assert found.overall.answer_rate == pytest.approx(0.45, abs=0.15)
    assert found.overall.average is not None and 3 < found.overall.average < 5


def test_handoffs_waits_and_handling_match(loaded: Loaded) -> None:
    truth, figures = loaded.truth, day_figures(loaded.url)
    assert dict(figures.handoffs) == dict(truth.handoffs)
    assert dict(figures.priorities) == dict(truth.priorities)
    assert figures.to_human.count == len(truth.first_reply_seconds)
    assert figures.to_human.median == pytest.approx(
        median(truth.first_reply_seconds), abs=0.01
    )
    ordered = sorted(truth.first_reply_seconds)
    assert figures.to_human.p90 == pytest.approx(
        ordered[-(-9 * len(ordered) // 10) - 1], abs=0.01
    )
    assert figures.handling.median == pytest.approx(
        median(truth.handling_seconds), abs=0.01
    )


def test_queue_length_counts_who_was_waiting(loaded: Loaded) -> None:
    figures = day_figures(loaded.url)
    with get_session_factory(loaded.url).begin() as session:
        tickets = session.execute(select(Ticket.created_at, Ticket.claimed_at)).all()
    for at, waiting in figures.queue[::17]:
        end = at + overview.STEP
        expected = sum(created < end <= claimed for created, claimed in tickets)
        assert waiting == expected, at
    assert max(n for _, n in figures.queue) > 0


def test_angry_messages_are_counted(loaded: Loaded) -> None:
    figures = day_figures(loaded.url)
    with get_session_factory(loaded.url).begin() as session:
        rows = session.execute(select(MessageFact.text, MessageFact.language)).all()
    scored = sum(score(text, language).label == ANGRY for text, language in rows)
    assert figures.angry == scored
    # The generator's angry people are seen as angry (scorer quality on them).
    assert figures.angry >= 0.8 * loaded.truth.angry_texts
    assert figures.negative_share is not None and 0 < figures.negative_share < 0.5


def test_a_turn_split_across_batches_counts_once(tmp_path: Path) -> None:
    """The watcher reads 500 events at a time: a message and what became of
    it may come in two batches. Tiny batches give the same figures."""
    url, events_url = f"sqlite:///{tmp_path}/relais.db", f"sqlite:///{tmp_path}/ev.db"
    upgrade(url)
    truth = load_day(url, events_url, conversations=60, seed=3)
    with get_engine(events_url).connect() as connection:
        events = [
            {**json.loads(data), "sender_id": sender}
            for sender, data in connection.execute(
                select(broker_events.c.sender_id, broker_events.c.data).order_by(
                    broker_events.c.id
                )
            )
        ]
    with get_session_factory(url).begin() as session:
        reference = sorted(
            (b.start, b.language, b.topic, b.outcome, b.messages, b.started)
            for b in session.execute(select(StatBucket)).scalars()
        )
    # The same events again, from scratch, seven at a time.
    with get_session_factory(url).begin() as session:
        session.execute(delete(MessageFact))
        session.execute(delete(StatBucket))
    for index in range(0, len(events), 7):
        with get_session_factory(url).begin() as session:
            facts.record(session, events[index : index + 7])
    with get_session_factory(url).begin() as session:
        split = sorted(
            (b.start, b.language, b.topic, b.outcome, b.messages, b.started)
            for b in session.execute(select(StatBucket)).scalars()
        )
    assert split == reference
    assert day_figures(url).messages == truth.messages


# --- the page ------------------------------------------------------------------


def signed_in(url: str, monkeypatch: pytest.MonkeyPatch, role: str) -> TestClient:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    name = f"someone-{role}"
    with get_session_factory(url).begin() as session:
        if accounts.find_agent(session=session, name=name) is None:
            accounts.add_agent(session=session, name=name, role=role, password=PASSWORD)
    browser = TestClient(create_app(get_settings()), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text)
    assert token
    response = browser.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf": token.group(1), "next": "/"},
    )
    assert response.status_code == 303
    return browser


@pytest.mark.parametrize("role", ["agent", "editor", "admin"])
def test_every_role_sees_the_day_at_a_glance(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    browser = signed_in(loaded.url, monkeypatch, role)
    page = browser.get("/overview?day=2026-11-28", headers={"accept": "text/html"})
    assert page.status_code == 200
    text = page.text
    truth = loaded.truth
    assert f"{truth.messages:,}".replace(",", "\u202f") in text
    handed = sum(truth.handoffs.values())
    assert f"{100 * (1 - handed / truth.conversations):.0f} %" in text
    assert text.count("<svg") >= 7  # volume, outcomes, queue, mood, topics...
    assert "Handoffs by reason" in text and "Santé" not in text  # console in English
    panel = browser.get("/overview/panel?day=2026-11-28")
    assert panel.status_code == 200 and "<svg" in panel.text
    assert "<html" not in panel.text


def test_the_overview_needs_a_sign_in_and_a_real_day(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", loaded.url)
    get_settings.cache_clear()
    anonymous = TestClient(create_app(get_settings()), follow_redirects=False)
    assert (
        anonymous.get("/overview", headers={"accept": "text/html"}).status_code == 303
    )
    assert anonymous.get("/overview/panel").status_code == 401
    browser = signed_in(loaded.url, monkeypatch, "agent")
    bad = browser.get("/overview?day=yesterday", headers={"accept": "text/html"})
    assert bad.status_code == 400 and "2026-11-28" in bad.text
    assert browser.get("/overview?period=1y").status_code == 400
    empty = browser.get("/overview?day=2020-01-01", headers={"accept": "text/html"})
    assert empty.status_code == 200 and "No message in this period." in empty.text


def test_another_crisis_is_counted_the_same_way(tmp_path: Path) -> None:
    """The outage pack: its own simulation.yml, no code change."""
    url, events_url = f"sqlite:///{tmp_path}/relais.db", f"sqlite:///{tmp_path}/ev.db"
    upgrade(url)
    day = Day(
        PROJECT_ROOT / "packs" / "network-outage",
        DAY_START,
        150,
        SPIKE_AT,
        spike_per_hour=30,
        seed=2,
    )
    with get_session_factory(url).begin() as session:
        truth = day.write(session=session, tracker_url=None, broker_url=events_url)
    while watch_once(url, events_url)[0]:
        pass
    figures = day_figures(url)
    assert figures.messages == truth.messages
    assert dict(figures.outcomes) == dict(truth.outcomes)
    assert dict(figures.topics) == dict(truth.topics)

"""The post-crisis report against a generated day's truth, its PDF, and
`relais purge` removing exactly what it should while the report still works."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.cli import main
from bot.db import get_engine, get_session_factory, upgrade, utcnow
from bot.events.sql import watch_once
from bot.faq import statement as statements
from bot.faq.audit import record_answer
from bot.faq.pack import load_pack
from bot.handoff import switches
from bot.handoff.models import Ticket
from bot.insights import overview, spikes
from bot.insights.generator import Day, Truth, broker_events, tracker_events
from bot.insights.models import MessageFact, StatBucket
from bot.insights.report import render_html, report_context
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import postgres_database
from tests.test_overview import DAY_START, SPIKE_AT

# Slow: a generated crisis day per database, and Chromium.
pytestmark = pytest.mark.slow

PACK = PROJECT_ROOT / "packs" / "dairy-recall"
DAY_END = DAY_START + timedelta(days=1)


@dataclass
class Stores:
    url: str
    events_url: str
    tracker_url: str
    endpoints: Path
    truth: Truth


@contextmanager
def built(kind: str, tmp_path: Path) -> Iterator[Stores]:
    """A small generated day in every store, read by the watcher, and the
    team's actions of that day: a statement, a switch flipped twice, an
    answer changed, spikes checked every 5 minutes."""

    def fill(url: str, events_url: str, tracker_url: str, endpoints: Path) -> Stores:
        upgrade(url)
        day = Day(PACK, DAY_START, 400, SPIKE_AT, spike_per_hour=120, seed=11)
        with get_session_factory(url).begin() as session:
            truth = day.write(
                session=session, tracker_url=tracker_url, broker_url=events_url
            )
        while watch_once(url, events_url)[0]:
            pass
        morning = DAY_START + timedelta(hours=9)
        with get_session_factory(url).begin() as session:
            row = statements.publish_statement(
                session=session,
                author="claire",
                text_fr="Montval rappelle des fromages frais par précaution.",
                text_en="Montval is recalling fresh cheeses as a precaution.",
            )
            row.published_at = morning
            for minutes, state in ((20, True), (50, False)):
                switches.set_switch(
                    session=session,
                    name="all-to-humans",
                    enabled=state,
                    author="claire",
                    now=morning + timedelta(minutes=minutes),
                )
            for version, hour in (("v1", 8), ("v2", 15)):
                record_answer(
                    session=session,
                    conversation_id="sim-audit",
                    topic="refund",
                    language="fr",
                    version=version,
                    text=f"Réponse {version}",
                    now=DAY_START + timedelta(hours=hour),
                )
        pack = load_pack(PACK / "faq")
        at = SPIKE_AT - timedelta(minutes=30)
        while at <= SPIKE_AT + timedelta(minutes=30):
            with get_session_factory(url).begin() as session:
                spikes.check(session, pack, at)
            at += spikes.INTERVAL
        return Stores(url, events_url, tracker_url, endpoints, truth)

    endpoints = tmp_path / "endpoints.yml"
    if kind == "sqlite":
        tracker = tmp_path / "tracker.db"
        endpoints.write_text(
            yaml.safe_dump(
                {
                    "tracker_store": {
                        "type": "bot.stores.TrackerStore",
                        "dialect": "sqlite",
                        "db": str(tracker),
                    }
                }
            )
        )
        yield fill(
            f"sqlite:///{tmp_path}/relais.db",
            f"sqlite:///{tmp_path}/events.db",
            f"sqlite:///{tracker}",
            endpoints,
        )
        for url in ("relais.db", "events.db", "tracker.db"):
            get_engine(f"sqlite:///{tmp_path}/{url}").dispose()
    else:
        # Rasa's tracker store and SQL broker both name their table `events`:
        # the broker gets its own database, as it would in production.
        with postgres_database() as url, postgres_database() as events_url:
            name = url.rsplit("/", 1)[1]
            endpoints.write_text(
                yaml.safe_dump(
                    {
                        "tracker_store": {
                            "type": "bot.stores.TrackerStore",
                            "dialect": "postgresql",
                            "url": "127.0.0.1",
                            "port": 5432,
                            "username": "postgres",
                            "db": name,
                        }
                    }
                )
            )
            yield fill(url, events_url, url, endpoints)
            get_engine(url).dispose()
            get_engine(events_url).dispose()


def _use(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    monkeypatch.setenv("DATABASE_URL", stores.url)
    monkeypatch.setenv("RELAIS_EVENTS_URL", stores.events_url)
    get_settings.cache_clear()
    return stores


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def day_stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    with built(request.param, tmp_path_factory.mktemp("report")) as stores:
        yield stores


@pytest.fixture
def stores(day_stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    """The day, read only (shared by the report's tests)."""
    return _use(day_stores, monkeypatch)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_stores(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stores]:
    """The day, the test's own (a purge changes it)."""
    with built(request.param, tmp_path) as stores:
        yield _use(stores, monkeypatch)


def context(stores: Stores, language: str = "fr") -> dict:
    with get_session_factory(stores.url).begin() as session:
        return report_context(
            session,
            get_settings(),
            load_pack(PACK / "faq"),
            DAY_START,
            DAY_END,
            language,
        )


def test_the_report_tells_the_day_as_it_happened(stores: Stores) -> None:
    page = render_html(context(stores))
    truth = stores.truth
    assert "Rapport de crise · Montval" in page and 'lang="fr"' in page
    assert f"{truth.messages:,}".replace(",", "\u202f") in page
    handed = sum(truth.handoffs.values())
    assert f"{100 * (1 - handed / truth.conversations):.0f} %" in page
    # The timeline, in order: the statement at 9:00, the switch at 9:20 and
    # 9:50, the spike after 14:00, the answer change at 15:00.
    timeline = page[
        page.index('id="timeline"') : page.index(
            "</table>", page.index('id="timeline"')
        )
    ]
    order = [
        timeline.index(text)
        for text in (
            "Déclaration publiée par claire",
            "all-to-humans activé",
            "all-to-humans désactivé",
            "Pic : ",
            "Réponse « refund » (fr) modifiée",
        )
    ]
    assert order == sorted(order)
    assert "Pic : " in timeline
    # Handoffs per reason as generated, in the handoffs table.
    section = page[page.index("Passages à l&#39;équipe") :]
    for reason, count in truth.handoffs.items():
        assert f">{count}</td>" in section, reason
    assert "Questions sans réponse" in page and "l&#39;usine" in page


def test_the_report_in_english(stores: Stores) -> None:
    page = render_html(context(stores, "en"))
    assert "Crisis report · Montval" in page and 'lang="en"' in page
    assert "Statement published by claire" in page and "Rapport" not in page


def test_relais_report_writes_a_pdf(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rapport.pdf"
    code = main(
        ["report", "--from", "2026-11-28", "--to", "2026-11-29", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    content = out.read_bytes()
    assert content.startswith(b"%PDF")
    pages = subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")],
        capture_output=True,
        check=False,
    )
    if pages.returncode == 0:
        assert len(list(tmp_path.glob("page*.png"))) >= 2
    assert not list(tmp_path.glob("*.part"))


def test_relais_report_refuses_a_bad_period(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--from", "yesterday", "--to", "2026-11-29"]) == 2
    assert "not a date" in capsys.readouterr().err
    assert main(["report", "--from", "2026-11-29", "--to", "2026-11-28"]) == 2
    assert "after --from" in capsys.readouterr().err


def counts(stores: Stores, cutoff: datetime) -> dict[str, tuple[int, int]]:
    """(older than cutoff, newer) for each kind of personal data."""
    with get_session_factory(stores.url).begin() as session:
        facts_old = session.execute(
            select(func.count()).where(MessageFact.at < cutoff)
        ).scalar_one()
        facts_new = session.execute(
            select(func.count()).where(MessageFact.at >= cutoff)
        ).scalar_one()
        transcripts = session.execute(
            select(func.count()).where(Ticket.conversation_id.like("purged-%"))
        ).scalar_one()
    with get_engine(stores.tracker_url).connect() as connection:
        last = connection.execute(
            select(
                tracker_events.c.sender_id, func.max(tracker_events.c.timestamp)
            ).group_by(tracker_events.c.sender_id)
        ).all()
    with get_engine(stores.events_url).connect() as connection:
        broker = connection.execute(
            select(func.count()).select_from(broker_events)
        ).scalar_one()
    return {
        "facts": (facts_old, facts_new),
        "conversations": (
            sum(t < cutoff.timestamp() for _, t in last),
            sum(t >= cutoff.timestamp() for _, t in last),
        ),
        "purged tickets": (transcripts, 0),
        "broker": (broker, 0),
    }


def test_purge_removes_exactly_what_is_past_the_retention(
    fresh_stores: Stores,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = fresh_stores
    # A retention that ends at noon of the generated day, whatever today is.
    # The clock stands still for the purges: each one computes its cutoff from
    # "now", and facts arrive every minute or so around noon.
    now = utcnow()
    monkeypatch.setattr("bot.commands.purge.utcnow", lambda: now)
    hours = math.ceil((now - (DAY_START + timedelta(hours=12))).total_seconds() / 3600)
    cutoff = now - timedelta(hours=hours)
    before = counts(stores, cutoff)
    assert before["facts"][0] > 0 and before["facts"][1] > 0
    with get_session_factory(stores.url).begin() as session:
        figures_before = overview.figures_for(session, DAY_START, DAY_END)
        buckets = session.execute(
            select(func.count()).select_from(StatBucket)
        ).scalar_one()
        old_tickets = session.execute(
            select(func.count()).where(Ticket.closed_at < cutoff)
        ).scalar_one()

    args = ["purge", "--older-than", f"{hours}h", "--endpoints", str(stores.endpoints)]
    assert main([*args, "--dry-run"]) == 0
    assert "Would remove" in capsys.readouterr().out
    assert (
        counts(stores, cutoff)["facts"] == before["facts"]
    )  # a dry run changes nothing

    assert main(args) == 0
    said = capsys.readouterr().out
    assert "message facts" in said and "Kept:" in said
    after = counts(stores, cutoff)
    assert after["facts"][0] == 0 and after["facts"][1] == before["facts"][1]
    assert after["conversations"][0] == 0
    assert after["conversations"][1] == before["conversations"][1]
    assert after["purged tickets"][0] == old_tickets
    assert after["broker"][0] < before["broker"][0]
    with get_session_factory(stores.url).begin() as session:
        figures_after = overview.figures_for(session, DAY_START, DAY_END)
        assert (
            session.execute(select(func.count()).select_from(StatBucket)).scalar_one()
            == buckets
        )
        purged = session.execute(
            select(Ticket).where(Ticket.closed_at < cutoff)
        ).scalars()
        for ticket in purged:
            assert ticket.transcript == "[]" and ticket.last_message == ""
    # Every figure of the report is still there.
    assert figures_after.messages == figures_before.messages
    assert figures_after.handoffs == figures_before.handoffs
    assert figures_after.to_human == figures_before.to_human
    assert "Rapport de crise" in render_html(context(stores))
    # A second purge finds nothing more to remove.
    assert main(args) == 0
    assert "message facts" not in capsys.readouterr().out.replace(
        "        0  message facts", ""
    )


def test_purge_refuses_a_bad_retention(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["purge", "--older-than", "soon"]) == 2
    assert "90d" in capsys.readouterr().err
    assert main(["purge", "--older-than", "0h"]) == 2


def test_purge_keeps_what_the_watcher_has_not_read(tmp_path: Path) -> None:
    """Events the console has not handled yet are never removed."""
    url, events = f"sqlite:///{tmp_path}/relais.db", f"sqlite:///{tmp_path}/events.db"
    upgrade(url)
    day = Day(PACK, DAY_START, 30, SPIKE_AT, spike_per_hour=1, seed=5)
    with get_session_factory(url).begin() as session:
        day.write(session=session, tracker_url=None, broker_url=events)
    from bot.retention import Removed, purge_broker

    removed = Removed()
    with get_session_factory(url).begin() as session:
        purge_broker(session, events, datetime.now(timezone.utc), removed)
    assert removed.counts.get("Rasa broker events", 0) == 0


def test_purge_before_rasa_ever_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No broker table, no tracker store yet: nothing to remove, no error."""
    url = f"sqlite:///{tmp_path}/relais.db"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RELAIS_EVENTS_URL", f"sqlite:///{tmp_path}/events.db")
    get_settings.cache_clear()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump(
            {
                "tracker_store": {
                    "type": "bot.stores.TrackerStore",
                    "dialect": "sqlite",
                    "db": str(tmp_path / "tracker.db"),
                }
            }
        )
    )
    assert main(["purge", "--older-than", "90d", "--endpoints", str(endpoints)]) == 0
    assert "Removed, from before" in capsys.readouterr().out

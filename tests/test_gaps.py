"""Gaps and spike alerts on a generated crisis day: the new question that
spikes at 14:00 raises exactly one alert per group, within one interval and
never before; the alert reaches a Slack-compatible webhook; the console shows
the groups and the banner, and an editor turns a group into a draft topic."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.db import get_engine, get_session_factory, upgrade, utcnow
from bot.events.sql import watch_once
from bot.faq.lint import ERROR, lint_pack
from bot.faq.pack import load_pack
from bot.insights import facts, gaps, spikes
from bot.insights.generator import Day
from bot.insights.models import GapSpike
from bot.insights.spikes import INTERVAL
from bot.settings import PROJECT_ROOT
from tests.conftest import Webhook, postgres_database
from tests.test_overview import DAY_START, SPIKE_AT, Loaded, load_day, signed_in

# Slow: a generated crisis day per database.
pytestmark = pytest.mark.slow

PACK = PROJECT_ROOT / "packs" / "dairy-recall"
PASSWORD = "correct horse battery"
SCENARIO = yaml.safe_load((PACK / "simulation.yml").read_text("utf-8"))
NEW_QUESTION = {
    gaps.fold(text) for texts in SCENARIO["new_question"].values() for text in texts
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def day(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("gaps")
        url, events = f"sqlite:///{folder}/relais.db", f"sqlite:///{folder}/events.db"
        upgrade(url)
        yield Loaded(url, events, load_day(url, events, spike_per_hour=120))
        get_engine(url).dispose()
    else:
        with postgres_database() as url:
            upgrade(url)
            yield Loaded(url, url, load_day(url, url, spike_per_hour=120))


@pytest.fixture(autouse=True)
def no_alerts_yet(request: pytest.FixtureRequest) -> None:
    """Each test starts with no spike alert recorded on the generated day."""
    if "day" in request.fixturenames:
        day: Loaded = request.getfixturevalue("day")
        with get_session_factory(day.url).begin() as session:
            session.execute(GapSpike.__table__.delete())


def test_the_spike_raises_its_alert_within_one_interval_and_not_before(
    day: Loaded,
) -> None:
    pack = load_pack(PACK / "faq")
    factory = get_session_factory(day.url)
    at = SPIKE_AT - timedelta(hours=2)
    while at <= SPIKE_AT + timedelta(minutes=45):
        with factory.begin() as session:
            spikes.check(session, pack, at)
        at += INTERVAL
    with factory.begin() as session:
        alerts = list(session.execute(select(GapSpike)).scalars())
        assert alerts, "the new question never raised an alert"
        assert all(alert.detected_at > SPIKE_AT for alert in alerts)
        first = min(alert.detected_at for alert in alerts)
        assert first <= SPIKE_AT + gaps.RECENT
        for alert in alerts:
            # Every alert is about the new question, and no group twice.
            assert all(gaps.fold(t) in NEW_QUESTION for t in alert.examples), alert
            assert alert.recent >= gaps.SPIKE_MIN_MESSAGES
        # One group for the question in both languages (the encoder is
        # multilingual), or one per language, at most one stray split.
        assert len(alerts) <= 3


def test_the_largest_group_of_the_day_is_the_new_question(day: Loaded) -> None:
    pack = load_pack(PACK / "faq")
    with get_session_factory(day.url).begin() as session:
        groups = gaps.groups_between(
            session, DAY_START, DAY_START + timedelta(days=1), pack
        )
    largest = max(groups, key=lambda group: group.size)
    texts = [text for text, _ in largest.phrasings]
    assert sum(gaps.fold(text) in NEW_QUESTION for text in texts) >= 0.9 * len(texts)
    assert largest.size >= 100
    # The FAQ has no topic about the factory closing: nothing near enough.
    faq_gaps = [g for g in groups if g.nearest_topic and g is not largest]
    assert largest.similarity < max(g.similarity for g in faq_gaps)


def test_examples_never_show_an_address_or_a_phone_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relais.db'}"
    upgrade(url)
    events = []
    noon = DAY_START.timestamp() + 12 * 3600
    for index in range(3):
        sender = f"person-{index}"
        events += [
            {
                "sender_id": sender,
                "event": "user",
                "timestamp": noon + index,
                "text": f"je n'ai rien reçu, écrivez à jean.dupont{index}@example.org "
                "ou au 06 12 34 56 78",
                "parse_data": {
                    "intent": {"name": "nlu_fallback"},
                    "gate": {"candidates": ["refund"]},
                },
            },
            {
                "sender_id": sender,
                "event": "action",
                "name": "action_clarify",
                "timestamp": noon + 0.5 + index,
            },
        ]
    with get_session_factory(url).begin() as session:
        facts.record(session, events)
        found = gaps.read_gaps(session, DAY_START, DAY_START + timedelta(days=2))
    assert len(found) == 3
    for gap in found:
        assert "@" not in gap.text and "06 12" not in gap.text
        assert "[e-mail]" in gap.text and "[phone]" in gap.text


def test_an_alert_is_posted_to_the_webhook_once(day: Loaded, webhook: str) -> None:
    pack = load_pack(PACK / "faq")
    at = SPIKE_AT + gaps.RECENT
    new = spikes.check_and_notify(day.url, pack, at, webhook, "https://relais.test")
    assert new and len(Webhook.received) == len(new)
    payload = Webhook.received[0]
    assert str(new[0].recent) in payload["text"]
    assert payload["blocks"][0]["type"] == "section"
    assert "https://relais.test/gaps" in json.dumps(payload)
    # Five minutes later the same group is not alerted again.
    again = spikes.check_and_notify(
        day.url, pack, at + INTERVAL, webhook, "https://relais.test"
    )
    assert not [s for s in again if s.label == new[0].label]
    with get_session_factory(day.url).begin() as session:
        row = session.get(GapSpike, new[0].id)
        assert row is not None and row.notified_at is not None
        assert row.notify_error is None


def test_a_webhook_that_fails_is_recorded_and_nothing_breaks(
    day: Loaded, webhook: str
) -> None:
    Webhook.status = 500
    pack = load_pack(PACK / "faq")
    new = spikes.check_and_notify(
        day.url, pack, SPIKE_AT + gaps.RECENT, webhook, "https://relais.test"
    )
    assert new
    with get_session_factory(day.url).begin() as session:
        row = session.get(GapSpike, new[0].id)
        assert row is not None and row.notified_at is None
        assert row.notify_error and "500" in row.notify_error


# --- the console -----------------------------------------------------------------


def csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_an_editor_turns_a_spike_into_a_draft_topic(
    day: Loaded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copytree(PACK, tmp_path / "pack")
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    with get_session_factory(day.url).begin() as session:
        spike = GapSpike(
            label="est-ce que l'usine va fermer ?",
            recent=25,
            baseline=0.0,
            examples=["est-ce que l'usine va fermer ?"],
            phrasings=[],
            detected_at=utcnow(),
        )
        session.add(spike)
        session.flush()
        spike_id = spike.id
    agent = signed_in(day.url, monkeypatch, "agent")
    page = agent.get("/overview", headers={"accept": "text/html"}).text
    assert "New question spiking: “est-ce que l&#39;usine va fermer ?”" in page
    gaps_page = agent.get("/gaps?day=2026-11-28", headers={"accept": "text/html"})
    assert gaps_page.status_code == 200
    assert (
        "l&#39;usine" in gaps_page.text
        and "Make a topic from this" not in gaps_page.text
    )

    editor = signed_in(day.url, monkeypatch, "editor")
    listing = editor.get("/gaps?day=2026-11-28", headers={"accept": "text/html"}).text
    assert "Make a topic from this" in listing
    phrasings = [
        "est-ce que l'usine va fermer ?",
        "is the factory going to close?",
        "l'usine de Montval ferme définitivement ?",
    ]
    draft = editor.post(
        "/gaps/draft",
        data={"csrf": csrf(listing), "spike": spike_id, "phrasing": phrasings},
    )
    assert draft.status_code == 200
    assert "is the factory going to close?</textarea>" in draft.text
    token = csrf(draft.text)
    # Missing answers: refused, said why, nothing written.
    refused = editor.post(
        "/gaps/draft/save",
        data={
            "csrf": token,
            "key": "factory_future",
            "spike": spike_id,
            "examples_fr": "\n".join(phrasings[::2]),
            "examples_en": phrasings[1],
            "owner": "presse@montval.fr",
            "review_by": "2026-12-05",
        },
    )
    assert refused.status_code == 400 and "Write the French answer." in refused.text
    assert not (tmp_path / "pack" / "faq" / "factory_future.yml").exists()
    saved = editor.post(
        "/gaps/draft/save",
        data={
            "csrf": token,
            "key": "factory_future",
            "spike": spike_id,
            "title_fr": "Avenir de l'usine",
            "title_en": "The factory's future",
            "answer_fr": "L'usine reste ouverte ; aucun licenciement n'est prévu.",
            "answer_en": "The factory stays open; no job cuts are planned.",
            "examples_fr": "\n".join(phrasings[::2]),
            "examples_en": phrasings[1],
            "owner": "presse@montval.fr",
            "review_by": "2026-12-05",
        },
    )
    assert saved.status_code == 303, saved.text
    topic = load_pack(tmp_path / "pack" / "faq")["factory_future"]
    assert topic.enabled is False
    assert topic.examples["en"] == ["is the factory going to close?"]
    assert not [f for f in lint_pack(tmp_path / "pack" / "faq") if f.level == ERROR]
    with get_session_factory(day.url).begin() as session:
        row = session.get(GapSpike, spike_id)
        assert row is not None and row.topic == "factory_future"
    # The banner is gone once a topic was made from the spike.
    page = agent.get("/overview", headers={"accept": "text/html"}).text
    assert "New question spiking" not in page


def test_the_console_checks_for_spikes_by_itself(tmp_path: Path, webhook: str) -> None:
    """The checker `relais console` runs: a spike in the last 20 minutes is
    alerted at its first round, and posted to the webhook."""
    url, events = f"sqlite:///{tmp_path}/relais.db", f"sqlite:///{tmp_path}/ev.db"
    upgrade(url)
    now = utcnow()
    day = Day(
        PACK,
        now - timedelta(hours=4),
        200,
        now - timedelta(minutes=20),
        spike_per_hour=120,
        seed=4,
        hours=4,
    )
    with get_session_factory(url).begin() as session:
        day.write(session=session, tracker_url=None, broker_url=events)
    while watch_once(url, events)[0]:
        pass
    stop = threading.Event()
    pack = load_pack(PACK / "faq")
    checker = threading.Thread(
        target=spikes.run_forever,
        args=(url, lambda: pack, webhook, "https://relais.test", stop),
        daemon=True,
    )
    checker.start()
    try:
        deadline = time.monotonic() + 120
        alerts: list[GapSpike] = []
        while time.monotonic() < deadline and not alerts:
            with get_session_factory(url).begin() as session:
                alerts = list(session.execute(select(GapSpike)).scalars())
            time.sleep(0.5)
    finally:
        stop.set()
        checker.join(timeout=30)
    assert alerts, "no alert from the console's checker"
    assert all(gaps.fold(text) in NEW_QUESTION for text in alerts[0].examples)
    assert not checker.is_alive()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not Webhook.received:
        time.sleep(0.2)
    assert Webhook.received and "people asked" in Webhook.received[0]["text"]

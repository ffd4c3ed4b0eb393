"""action_handoff and action_session_start against a real queue database.

Each test runs on SQLite and on the machine's PostgreSQL server.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.session import ActionSessionStart
from bot.db import get_session_factory, upgrade
from bot.faq import load_pack
from bot.handoff import queue, spool
from bot.handoff.models import Ticket
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import (
    TEST_ENVIRONMENT,
    Webhook,
    load_tracker,
    postgres_database,
)
from tests.servers import running_action_server
from tests.tcp_proxy import TcpProxy

PAUSE = {"event": "pause", "timestamp": None}
PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


@pytest.fixture
def queue_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The actions' DATABASE_URL points at a migrated, empty queue."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    return database_url


async def run(action: Any, tracker: Any) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain={})
    return dispatcher.messages, events


def escalated(text: str, reason: str, priority: str, language: str = "fr") -> Any:
    return load_tracker(
        "handoff_fr",
        sender_id=f"visitor-{reason}",
        slots={"language": language},
        latest_message={
            "text": text,
            "intent": {"name": "request_human", "confidence": 1.0},
            "escalation": {"reason": reason, "priority": priority, "evidence": text},
        },
    )


def open_tickets(url: str) -> list[Ticket]:
    with get_session_factory(url).begin() as session:
        return queue.list_open(session=session)


async def test_asking_for_a_human_queues_and_pauses(queue_url: str) -> None:
    messages, events = await run(ActionHandoff(), load_tracker("handoff_fr"))
    assert [m["response"] for m in messages] == ["utter_handoff_queued_no_estimate"]
    assert messages[0]["place"] == 1
    assert events[-1] == PAUSE
    (ticket,) = open_tickets(queue_url)
    assert (ticket.conversation_id, ticket.reason, ticket.priority) == (
        "visitor-fr", "asked_for_human", "normal",
    )  # fmt: skip
    assert (ticket.language, ticket.channel) == ("fr", "socketio")
    assert ticket.last_message == "je veux parler à quelqu'un"
    assert "Quels lots sont concernés ?" in ticket.transcript


async def test_health_gets_emergency_guidance_first_and_jumps_the_queue(
    queue_url: str,
) -> None:
    await run(ActionHandoff(), load_tracker("handoff_fr", sender_id="first"))
    messages, events = await run(
        ActionHandoff(), escalated("mon fils vomit", "health", "urgent")
    )
    assert [m["response"] for m in messages] == [
        "utter_emergency_health",
        "utter_handoff_queued_no_estimate",
    ]
    assert messages[1]["place"] == 1  # ahead of the earlier, normal request
    assert events[-1] == PAUSE
    tickets = open_tickets(queue_url)
    assert [(t.reason, t.priority) for t in tickets] == [
        ("health", "urgent"),
        ("asked_for_human", "normal"),
    ]


@pytest.mark.parametrize(
    ("reason", "priority", "first"),
    [
        ("self_harm", "urgent", "utter_emergency_self_harm"),
        ("anger", "high", "utter_handoff_empathy"),
        ("press", "high", "utter_handoff_queued_no_estimate"),
        ("legal", "high", "utter_handoff_queued_no_estimate"),
        ("data_protection", "high", "utter_handoff_queued_no_estimate"),
    ],
)
async def test_each_trigger_opens_its_ticket(
    queue_url: str, reason: str, priority: str, first: str
) -> None:
    messages, _ = await run(ActionHandoff(), escalated("...", reason, priority, "en"))
    assert messages[0]["response"] == first
    (ticket,) = open_tickets(queue_url)
    assert (ticket.reason, ticket.priority, ticket.language) == (reason, priority, "en")


async def test_a_sure_faq_answer_still_goes_out_between_guidance_and_queue(
    queue_url: str,
) -> None:
    tracker = escalated(
        "mon enfant a mangé un petit suisse rappelé", "health", "urgent"
    )
    tracker.latest_message["escalation"]["faq_topic"] = "children"
    messages, _ = await run(ActionHandoff(), tracker)
    assert [m["response"] or m["text"] for m in messages] == [
        "utter_emergency_health",
        PACK["children"].answers["fr"],
        "utter_handoff_queued_no_estimate",
    ]


async def test_a_second_miss_is_queued_as_misunderstood(queue_url: str) -> None:
    await run(ActionHandoff(), load_tracker("unsure_en"))
    (ticket,) = open_tickets(queue_url)
    assert (ticket.reason, ticket.language) == ("misunderstood", "en")


async def test_wait_estimate_in_the_users_language(queue_url: str) -> None:
    factory = get_session_factory(queue_url)
    with factory.begin() as session:
        for i in range(4):  # four claims in the last half hour: 7.5 min each
            queue.enqueue(session=session, request=queue.HandoffRequest(
                f"earlier{i}", "rest", "fr", "asked_for_human", "normal"))  # fmt: skip
            queue.claim_next(session=session, agent="alice")
        queue.enqueue(session=session, request=queue.HandoffRequest(
            "ahead", "rest", "fr", "asked_for_human", "normal"))  # fmt: skip
    tracker = load_tracker("handoff_fr", sender_id="me", slots={"language": "en"})
    messages, _ = await run(ActionHandoff(), tracker)
    assert messages[0]["response"] == "utter_handoff_queued"
    assert messages[0]["place"] == 2
    assert messages[0]["wait"] == "about 15 minutes"


async def test_outside_team_hours_says_when_the_team_is_back(
    queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paris_today = datetime.now(ZoneInfo("Europe/Paris")).date()
    back = paris_today + timedelta(days=2)
    monkeypatch.setenv("RELAIS_TEAM_DAYS", ("mon", "tue", "wed", "thu", "fri", "sat",
                                            "sun")[back.weekday()])  # fmt: skip
    monkeypatch.setenv("RELAIS_TEAM_HOURS", "09:30-17:00")
    get_settings.cache_clear()
    messages, events = await run(ActionHandoff(), load_tracker("handoff_fr"))
    assert messages[0]["response"] == "utter_handoff_after_hours"
    assert messages[0]["back"] == f"{WEEKDAYS_FR[back.weekday()]} à 09:30"
    assert messages[0]["team_hours"] == "09:30–17:00"
    assert events[-1] == PAUSE
    assert len(open_tickets(queue_url)) == 1  # waiting for the team's return


async def test_a_new_session_stays_paused_while_a_human_has_it(queue_url: str) -> None:
    tracker = load_tracker("handoff_fr")
    _, events = await run(ActionSessionStart(), tracker)
    assert PAUSE not in events
    assert events[0]["event"] == "session_started"
    assert {
        "event": "slot",
        "timestamp": None,
        "name": "language",
        "value": "fr",
    } in events
    await run(ActionHandoff(), tracker)
    paused = load_tracker("handoff_fr", paused=True)  # Rasa applied the pause
    _, events = await run(ActionSessionStart(), paused)
    assert events[-1] == PAUSE


@pytest.mark.parametrize("reason", ["press", "legal", "data_protection", "anger"])
async def test_a_sure_faq_answer_with_a_high_trigger_keeps_the_bot_answering(
    queue_url: str, reason: str
) -> None:
    """A trigger firing on an ordinary question must not silence the bot."""
    tracker = escalated(
        "je voudrais faire une demande de remboursement", reason, "high"
    )
    tracker.latest_message["escalation"]["faq_topic"] = "refund"
    messages, events = await run(ActionHandoff(), tracker)
    sent = [m["response"] or m["text"] for m in messages]
    assert sent[-2:] == [PACK["refund"].answers["fr"], "utter_handoff_flagged"]
    assert PAUSE not in events
    assert "utter_handoff_empathy" not in sent  # nobody "takes over"
    (ticket,) = open_tickets(queue_url)
    assert (ticket.reason, ticket.priority) == (reason, "high")
    # The next session does not pause either: the bot stays until an agent speaks.
    _, events = await run(ActionSessionStart(), tracker)
    assert PAUSE not in events


async def test_an_urgent_trigger_pauses_even_after_a_sure_faq_answer(
    queue_url: str,
) -> None:
    tracker = escalated(
        "mon fils a de la fièvre, il a mangé le lot", "health", "urgent"
    )
    tracker.latest_message["escalation"]["faq_topic"] = "children"
    messages, events = await run(ActionHandoff(), tracker)
    assert messages[-1]["response"] == "utter_handoff_queued_no_estimate"
    assert events[-1] == PAUSE


async def test_database_down_the_user_is_told_and_the_request_delivered_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL behind a proxy that the test stops mid-way, then restarts."""
    with postgres_database() as direct_url:
        upgrade(direct_url)
        proxy = TcpProxy("127.0.0.1", 5432)
        proxy.start()
        proxied_url = direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        monkeypatch.setenv("DATABASE_URL", proxied_url)
        monkeypatch.setattr(spool, "RETRY_SECONDS", 0.2)
        get_settings.cache_clear()
        # The queue works, then the database goes away.
        await run(ActionHandoff(), load_tracker("handoff_fr", sender_id="before"))
        proxy.stop()

        messages, events = await run(
            ActionHandoff(),
            escalated("my child swallowed it", "health", "urgent", "en"),
        )
        assert [m["response"] for m in messages] == [
            "utter_emergency_health",
            "utter_handoff_queue_down",
        ]
        assert messages[1]["phone"] == "0 800 35 35 35"
        assert events[-1] == PAUSE
        spooled = spool.pending(get_settings().spool_dir)
        assert len(spooled) == 1

        proxy.start()
        deadline = time.monotonic() + 120  # not a speed check: a slow CI waits
        while spool.pending(get_settings().spool_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert spool.pending(get_settings().spool_dir) == []
        tickets = open_tickets(direct_url)
        assert [(t.conversation_id, t.reason, t.priority) for t in tickets] == [
            ("visitor-health", "health", "urgent"),
            ("before", "asked_for_human", "normal"),
        ]
        proxy.stop()


def test_a_request_delivered_late_keeps_its_place(
    tmp_path: Path, database_url: str
) -> None:
    earlier = queue.HandoffRequest(
        "spooled", "rest", "fr", "asked_for_human", "normal",
        requested_at=datetime.now(ZoneInfo("UTC")) - timedelta(minutes=10),
    )  # fmt: skip
    spool.save(earlier, tmp_path)
    with get_session_factory(database_url).begin() as session:
        queue.enqueue(session=session, request=queue.HandoffRequest(
            "meanwhile", "rest", "fr", "asked_for_human", "normal"))  # fmt: skip
    assert spool.deliver(tmp_path, database_url) == 1
    assert [t.conversation_id for t in open_tickets(database_url)] == [
        "spooled",
        "meanwhile",
    ]
    (tmp_path / "broken.json").write_text("{not json")
    assert spool.deliver(tmp_path, database_url) == 0
    assert (tmp_path / "broken.bad").exists()  # kept aside, not retried forever


def test_a_request_the_queue_refuses_for_good_is_set_aside_and_the_rest_delivered(
    tmp_path: Path, webhook: str
) -> None:
    """Issue 26: PostgreSQL refuses a conversation id over 255 characters every
    time; spooled, it blocked every handoff behind it, an urgent one too."""
    refused = queue.HandoffRequest(
        "x" * 300, "socketio", "fr", "asked_for_human", "normal"
    )
    urgent = queue.HandoffRequest("after-it", "rest", "fr", "health", "urgent")
    spool.save(refused, tmp_path)
    spool.save(urgent, tmp_path)
    with postgres_database() as url:
        upgrade(url)
        assert spool.deliver(tmp_path, url, spool.webhook_alert(webhook)) == 1
        tickets = open_tickets(url)
    assert [(t.conversation_id, t.priority) for t in tickets] == [
        ("after-it", "urgent")
    ]
    assert spool.pending(tmp_path) == []
    (kept,) = spool.set_aside_files(tmp_path)
    assert "x" * 300 in kept.read_text("utf-8")  # kept for an admin, not lost
    (alert,) = Webhook.received
    assert "could not be queued" in alert["text"] and "DataError" in alert["text"]
    # Set aside until the retention runs out, then purged.
    later = datetime.now(ZoneInfo("UTC")) + timedelta(days=1)
    assert spool.purge_set_aside(tmp_path, later, dry_run=True) == 1
    assert spool.purge_set_aside(tmp_path, later) == 1
    assert spool.set_aside_files(tmp_path) == []


async def test_a_handoff_the_queue_refuses_for_good_gives_the_contacts(
    monkeypatch: pytest.MonkeyPatch, webhook: str
) -> None:
    """Nothing spooled to block the others, an alert to the admins, and the
    person gets the brand's contacts; the bot stays with them."""
    with postgres_database() as url:
        upgrade(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("RELAIS_ALERT_WEBHOOK_URL", webhook)
        get_settings.cache_clear()
        messages, events = await run(
            ActionHandoff(), load_tracker("handoff_fr", sender_id="y" * 300)
        )
        assert [m["response"] for m in messages] == ["utter_handoff_contact"]
        assert PAUSE not in events
        assert open_tickets(url) == []
    spool_dir = get_settings().spool_dir
    assert spool.pending(spool_dir) == []
    assert len(spool.set_aside_files(spool_dir)) == 1
    assert "y" * 300 in Webhook.received[0]["text"]


def test_the_action_server_delivers_at_start_what_an_earlier_run_spooled(
    tmp_path: Path,
) -> None:
    """Spooled while the database was down, then the action server stopped:
    the next start delivers it, without waiting for another handoff."""
    url = f"sqlite:///{tmp_path / 'relais.db'}"
    upgrade(url)
    spool_dir = tmp_path / "spool"
    spool.save(
        queue.HandoffRequest("left-over", "rest", "fr", "health", "urgent"), spool_dir
    )
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": url,
           "RELAIS_SPOOL_DIR": str(spool_dir)}  # fmt: skip
    with running_action_server(tmp_path, env):
        deadline = time.monotonic() + 120  # not a speed check: a slow CI waits
        while spool.pending(spool_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert [(t.conversation_id, t.priority) for t in open_tickets(url)] == [
        ("left-over", "urgent")
    ]

"""The event watcher, fed by Rasa's own SQL event broker."""

from __future__ import annotations

from pathlib import Path

from rasa.core.brokers.sql import SQLEventBroker

from bot.db import get_session_factory
from bot.handoff import queue, watcher


def user_event(sender: str, text: str, reason: str | None = None) -> dict:
    parse_data: dict = {"intent": {"name": "request_human"}}
    if reason:
        parse_data["escalation"] = {"reason": reason, "priority": "urgent"}
    return {
        "event": "user",
        "sender_id": sender,
        "text": text,
        "parse_data": parse_data,
    }


def test_a_waiting_person_who_reports_symptoms_becomes_urgent(
    database_url: str, tmp_path: Path
) -> None:
    events_db = tmp_path / "events.db"
    broker = SQLEventBroker(dialect="sqlite", db=str(events_db))
    events_url = f"sqlite:///{events_db}"
    with get_session_factory(database_url).begin() as session:
        waiting = queue.HandoffRequest(
            "waiting", "socketio", "fr", "asked_for_human", "normal", "un humain"
        )
        queue.enqueue(session=session, request=waiting)

    broker.publish({"event": "action", "sender_id": "waiting", "name": "action_listen"})
    broker.publish(user_event("somebody-else", "mon fils vomit", "health"))
    broker.publish(user_event("waiting", "toujours là ?"))
    count, urgent = watcher.watch_once(database_url, events_url)
    assert (count, urgent) == (3, [])
    with get_session_factory(database_url).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
        assert (ticket.last_message, ticket.priority) == ("toujours là ?", "normal")

    broker.publish(user_event("waiting", "mon fils vomit depuis ce matin", "health"))
    count, urgent = watcher.watch_once(database_url, events_url)
    assert count == 1
    assert urgent == [watcher.Urgent("waiting", "health", "fr")]
    with get_session_factory(database_url).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
        assert (ticket.priority, ticket.reason) == ("urgent", "health")
        assert ticket.last_message == "mon fils vomit depuis ce matin"

    # Nothing is handled twice, and an already urgent ticket sends no new alert.
    assert watcher.watch_once(database_url, events_url) == (0, [])
    broker.publish(user_event("waiting", "il vomit encore", "health"))
    assert watcher.watch_once(database_url, events_url) == (1, [])

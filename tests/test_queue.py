"""The handoff queue on SQLite and on the machine's PostgreSQL server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot.db import get_engine, get_session_factory, metadata
from bot.handoff import queue
from bot.handoff.models import CLOSED, WAITING, utcnow
from bot.handoff.queue import HandoffRequest, QueueError


def request(
    conversation: str, priority: str = "normal", **changes: str
) -> HandoffRequest:
    fields = {
        "conversation_id": conversation,
        "channel": "rest",
        "language": "fr",
        "reason": "asked_for_human",
        "priority": priority,
        "last_message": "je veux parler à quelqu'un",
        "transcript": [{"role": "user", "text": "je veux parler à quelqu'un"}],
        **changes,
    }
    return HandoffRequest(**fields)  # type: ignore[arg-type]


def enqueue(url: str, *requests: HandoffRequest) -> list[int]:
    ids = []
    for item in requests:
        with get_session_factory(url).begin() as session:
            ids.append(queue.enqueue(session=session, request=item).id)
    return ids


def test_migrations_create_the_tables_the_models_describe(database_url: str) -> None:
    tables = set(inspect(get_engine(database_url)).get_table_names())
    assert {
        "handoff_ticket",
        "handoff_note",
        "agent",
        "sign_in_throttle",
        "event_cursor",
        "model_publish",
        "faq_suggestion",
        "topic_version",
        "publish_job",
        "provider_message",
        "correction",
        "correction_send",
        "subscription",
        "sla_breach",
        "ticket_viewer",
        "satisfaction_survey",
    } <= tables
    import bot.channels.seen
    import bot.console.accounts
    import bot.console.presence
    import bot.corrections.drafts
    import bot.corrections.sending
    import bot.corrections.subscriptions
    import bot.events.sql
    import bot.faq.audit
    import bot.faq.statement
    import bot.faq.suggestions
    import bot.faq.versions
    import bot.handoff.breaches
    import bot.handoff.satisfaction
    import bot.handoff.switches
    import bot.publish.history
    import bot.publish.jobs  # noqa: F401

    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_downgrades_that_would_open_accounts_or_publish_drafts_are_refused(
    database_url: str,
) -> None:
    """Issue 26: 0011's downgrade turned a draft statement public and 0010's
    opened closed accounts again. They refuse, and change nothing."""
    from alembic import command

    from bot.console import accounts
    from bot.db import alembic_config
    from bot.faq.statement import DRAFT, Statement

    with get_session_factory(database_url).begin() as session:
        accounts.add_agent(session=session, name="gone", role="agent",
                           password="correct horse battery")  # fmt: skip
        accounts.disable(session=session, name="gone", by="root")
        session.add(Statement(text_fr="brouillon", text_en="draft",
                              published_by="eve", state=DRAFT))  # fmt: skip
    config = alembic_config(database_url)
    with pytest.raises(RuntimeError, match="1 draft or rejected statement"):
        command.downgrade(config, "0010")
    with get_session_factory(database_url).begin() as session:
        (statement,) = session.scalars(select(Statement)).all()  # still a draft
        assert statement.state == DRAFT
        session.delete(statement)
    command.downgrade(config, "0010")
    with pytest.raises(RuntimeError, match="1 closed account"):
        command.downgrade(config, "0009")
    with get_engine(database_url).connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("agent")}
    assert "disabled_at" in columns


def test_escalating_twice_updates_the_open_ticket(database_url: str) -> None:
    first, second = enqueue(
        database_url,
        request("c1"),
        request("c1", "urgent", reason="health", last_message="mon fils vomit"),
    )
    assert first == second
    with get_session_factory(database_url).begin() as session:
        tickets = queue.list_open(session=session)
        assert len(tickets) == 1
        ticket = tickets[0]
        assert (ticket.priority, ticket.reason) == ("urgent", "health")
        assert ticket.escalations == 2
        assert ticket.last_message == "mon fils vomit"


def test_a_ticket_keeps_the_channel_it_was_opened_on(database_url: str) -> None:
    """Replies go where the person is: a later escalation claiming another
    channel for the conversation does not move them (issue 26)."""
    enqueue(
        database_url,
        request("whatsapp:+33600000001", channel="whatsapp"),
        request("whatsapp:+33600000001", "urgent", channel="socketio"),
    )
    with get_session_factory(database_url).begin() as session:
        (ticket,) = queue.list_open(session=session)
        assert (ticket.channel, ticket.priority) == ("whatsapp", "urgent")


def test_priority_never_goes_down(database_url: str) -> None:
    enqueue(
        database_url,
        request("c1", "high", reason="press"),
        request("c1", "normal", reason="asked_for_human"),
    )
    with get_session_factory(database_url).begin() as session:
        (ticket,) = queue.list_open(session=session)
        assert (ticket.priority, ticket.reason) == ("high", "press")


def test_a_closed_conversation_can_open_a_new_ticket(database_url: str) -> None:
    (first,) = enqueue(database_url, request("c1"))
    with get_session_factory(database_url).begin() as session:
        queue.claim(session=session, ticket_id=first, agent="alice")
        queue.close(session=session, ticket_id=first, agent="alice")
    (second,) = enqueue(database_url, request("c1"))
    assert second != first


def test_served_by_priority_then_age(database_url: str) -> None:
    start = utcnow()
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        for minutes, (conversation, priority) in enumerate(
            [("old-normal", "normal"), ("high", "high"), ("new-normal", "normal"),
             ("urgent", "urgent")]
        ):  # fmt: skip
            queue.enqueue(
                session=session,
                request=request(conversation, priority),
                now=start + timedelta(minutes=minutes),
            )
    with factory.begin() as session:
        order = [t.conversation_id for t in queue.list_open(session=session)]
        places = {
            t.conversation_id: queue.position(session=session, ticket=t)
            for t in queue.list_open(session=session)
        }
    assert order == ["urgent", "high", "old-normal", "new-normal"]
    assert places == {"urgent": 1, "high": 2, "old-normal": 3, "new-normal": 4}
    served = []
    for _ in range(5):
        with factory.begin() as session:
            ticket = queue.claim_next(session=session, agent="alice")
            served.append(ticket.conversation_id if ticket else None)
    assert served == ["urgent", "high", "old-normal", "new-normal", None]


def test_claiming_a_held_ticket_names_the_holder(database_url: str) -> None:
    (ticket_id,) = enqueue(database_url, request("c1"))
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        assert (
            queue.claim(session=session, ticket_id=ticket_id, agent="alice").agent
            == "alice"
        )
    with factory.begin() as session, pytest.raises(QueueError, match="held by alice"):
        queue.claim(session=session, ticket_id=ticket_id, agent="bob")
    with factory.begin() as session, pytest.raises(QueueError, match="no ticket 999"):
        queue.claim(session=session, ticket_id=999, agent="bob")


def test_only_the_holder_releases_and_release_keeps_the_place(
    database_url: str,
) -> None:
    first, _ = enqueue(database_url, request("c1"), request("c2"))
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        queue.claim(session=session, ticket_id=first, agent="alice")
    with factory.begin() as session, pytest.raises(QueueError, match="held by alice"):
        queue.release(session=session, ticket_id=first, agent="bob")
    with factory.begin() as session:
        ticket = queue.release(session=session, ticket_id=first, agent="alice")
        assert (ticket.status, ticket.agent) == (WAITING, None)
        assert queue.position(session=session, ticket=ticket) == 1


def test_close_and_notes(database_url: str) -> None:
    (ticket_id,) = enqueue(database_url, request("c1"))
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        queue.claim(session=session, ticket_id=ticket_id, agent="alice")
        queue.add_note(
            session=session, ticket_id=ticket_id, author="alice", text="rappelé"
        )
    with factory.begin() as session, pytest.raises(QueueError, match="held by alice"):
        queue.close(session=session, ticket_id=ticket_id, agent="bob")
    with factory.begin() as session, pytest.raises(QueueError, match="empty"):
        queue.add_note(session=session, ticket_id=ticket_id, author="alice", text="  ")
    with factory.begin() as session:
        ticket = queue.close(session=session, ticket_id=ticket_id, agent="alice")
        assert ticket.status == CLOSED and ticket.closed_at is not None
        assert [note.text for note in ticket.notes] == ["rappelé"]
        assert queue.list_open(session=session) == []


def test_wait_estimate_follows_the_live_pace(database_url: str) -> None:
    factory = get_session_factory(database_url)
    now = utcnow()
    with factory.begin() as session:
        assert queue.estimate_wait(session=session, place=3, now=now) is None
    enqueue(database_url, *(request(f"c{i}") for i in range(7)))
    with factory.begin() as session:
        for _ in range(6):  # six claims in the last half hour: one every 5 minutes
            queue.claim_next(
                session=session, agent="alice", now=now - timedelta(minutes=1)
            )
        assert queue.estimate_wait(session=session, place=3, now=now) == timedelta(
            minutes=15
        )
        # Claims older than the window no longer count.
        later = now + queue.PACE_WINDOW + timedelta(minutes=2)
        assert queue.estimate_wait(session=session, place=3, now=later) is None


def test_concurrent_claims_never_give_a_ticket_twice(database_url: str) -> None:
    tickets, workers = 120, 12
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        for i in range(tickets):
            queue.enqueue(session=session, request=request(f"c{i}"))
    claimed: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def agent(name: str) -> None:
        try:
            barrier.wait()
            while True:
                with factory.begin() as session:
                    ticket = queue.claim_next(session=session, agent=name)
                    if ticket is None:
                        return
                    with lock:
                        claimed.append((name, ticket.id))
        except BaseException as error:  # reported below, not lost in a thread
            errors.append(error)

    threads = [
        threading.Thread(target=agent, args=(f"agent{i}",)) for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = Counter(ticket_id for _, ticket_id in claimed)
    assert len(counts) == tickets
    assert max(counts.values()) == 1
    with factory.begin() as session:
        held = {t.id: t.agent for t in queue.list_open(session=session)}
    assert held == {ticket_id: name for name, ticket_id in claimed}


def run_at_once(workers: int, work: Callable[[int], object]) -> list[object]:
    """Runs work(i) in `workers` threads released together; returns results."""
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_agents_claiming_the_same_ticket_one_wins(database_url: str) -> None:
    (ticket_id,) = enqueue(database_url, request("c1"))
    factory = get_session_factory(database_url)

    def claim(i: int) -> str:
        with factory.begin() as session:
            return queue.claim(
                session=session, ticket_id=ticket_id, agent=f"agent{i}"
            ).agent

    results = run_at_once(8, claim)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, QueueError)]
    assert len(winners) == 1 and len(losers) == 7
    assert all(f"held by {winners[0]}" in str(error) for error in losers)


def test_simultaneous_escalations_open_one_ticket(database_url: str) -> None:
    factory = get_session_factory(database_url)

    def escalate(i: int) -> int:
        with factory.begin() as session:
            return queue.enqueue(session=session, request=request("same")).id

    results = run_at_once(6, escalate)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    with factory.begin() as session:
        (ticket,) = queue.list_open(session=session)
        assert ticket.escalations == 6


def test_untouched_waiting_tickets_can_be_abandoned(database_url: str) -> None:
    factory = get_session_factory(database_url)
    now = utcnow()
    with factory.begin() as session:
        old = queue.enqueue(
            session=session, request=request("old"), now=now - timedelta(hours=30)
        )
        queue.enqueue(session=session, request=request("recent"), now=now)
        held = queue.enqueue(
            session=session, request=request("held"), now=now - timedelta(hours=30)
        )
        queue.claim(session=session, ticket_id=held.id, agent="alice")
    with factory.begin() as session:
        assert queue.abandon_stale(session=session, older_than=timedelta(hours=24)) == 1
    with factory.begin() as session:
        assert queue.get_ticket(session=session, ticket_id=old.id).status == "abandoned"
        assert sorted(t.conversation_id for t in queue.list_open(session=session)) == [
            "held",
            "recent",
        ]

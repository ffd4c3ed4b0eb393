"""Auto-assignment (issue 31, bot/console/assignment.py): waiting
conversations spread over the available agents by load, under the cap, in
their languages; away gives them back; two rounds at once never give one
conversation twice nor fill an agent past the cap."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.console import accounts, assignment
from bot.console.app import create_app
from bot.db import get_session_factory, utcnow
from bot.handoff import queue
from bot.handoff.models import ASSIGNED, WAITING, Ticket
from bot.settings import get_settings
from tests.test_cli import queue_url  # noqa: F401 (a fixture)
from tests.test_console import PASSWORD, log_in

AGENTS = [("ana", "fr,en"), ("ben", "fr,en"), ("chloe", "fr")]


def _team(url: str, waiting: int = 30) -> None:
    now = utcnow()
    with get_session_factory(url).begin() as session:
        for name, languages in AGENTS:
            agent = accounts.add_agent(session=session, name=name, role="agent",
                                       password=PASSWORD)  # fmt: skip
            agent.available, agent.answers_in = True, languages
        for n in range(waiting):
            queue.enqueue(
                session=session,
                request=queue.HandoffRequest(
                    f"web-{n}", "socketio", "en" if n % 3 == 0 else "fr",
                    "asked_for_human", "urgent" if n % 10 == 0 else "normal", "?",
                ),
                now=now - timedelta(minutes=waiting - n),
            )  # fmt: skip


def _held(url: str) -> dict[str, list[Ticket]]:
    with get_session_factory(url).begin() as session:
        held: dict[str, list[Ticket]] = {}
        for ticket in session.scalars(select(Ticket).where(Ticket.status == ASSIGNED)):
            session.expunge(ticket)
            held.setdefault(ticket.agent, []).append(ticket)
        return held


def test_thirty_conversations_spread_over_three_agents_within_the_cap(
    database_url: str,
) -> None:
    _team(database_url)
    with get_session_factory(database_url).begin() as session:
        given = assignment.assign_round(session, max_open=5)
    assert len(given) == 15
    held = _held(database_url)
    assert {name: len(tickets) for name, tickets in held.items()} == {
        "ana": 5, "ben": 5, "chloe": 5,
    }  # fmt: skip
    assert all(t.language == "fr" for t in held["chloe"])  # French only
    # The urgent ones first, whoever takes them.
    urgent = {f"web-{n}" for n in range(0, 30, 10)}
    assert urgent <= {t.conversation_id for ts in held.values() for t in ts}
    # Full: the next round gives nothing.
    with get_session_factory(database_url).begin() as session:
        assert assignment.assign_round(session, max_open=5) == []


def test_going_away_gives_the_conversations_back_to_the_others(
    database_url: str,
) -> None:
    _team(database_url, waiting=12)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        assignment.assign_round(session, max_open=5)
        assert assignment.set_available(session, "ana", False) == 4
    with factory.begin() as session:
        assignment.assign_round(session, max_open=5)
    held = _held(database_url)
    assert "ana" not in held
    assert {name: len(t) for name, t in held.items()} == {"ben": 5, "chloe": 5}
    with factory.begin() as session:
        waiting = session.scalars(select(Ticket).where(Ticket.status == WAITING))
        assert len(list(waiting)) == 2


def test_two_consoles_never_give_one_conversation_twice(database_url: str) -> None:
    _team(database_url)
    factory = get_session_factory(database_url)
    results: list[list[tuple[int, str]]] = []

    def round_() -> None:
        with factory.begin() as session:
            results.append(assignment.assign_round(session, max_open=5))

    threads = [threading.Thread(target=round_) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    given = [ticket for result in results for ticket, _ in result]
    assert len(given) == len(set(given)) == 15
    held = _held(database_url)
    assert Counter({name: len(t) for name, t in held.items()}) == Counter(
        {"ana": 5, "ben": 5, "chloe": 5}
    )


@pytest.mark.usefixtures("queue_url")
def test_the_queue_page_lets_an_agent_say_available_or_away(database_url: str) -> None:
    _team(database_url, waiting=3)
    with get_session_factory(database_url).begin() as session:
        assignment.assign_round(session, max_open=5)
    settings = get_settings()
    auto = dataclasses.replace(
        settings, profile=dataclasses.replace(settings.profile, auto_assign=True)
    )
    browser = TestClient(create_app(auto), follow_redirects=False)
    token = log_in(browser, "ana")
    page = browser.get("/").text
    assert 'id="go-away"' in page
    browser.post("/account/availability", data={"csrf": token, "available": "no"})
    page = browser.get("/").text
    assert "You are away: 1 conversation went back to the queue." in page
    assert 'id="go-available"' in page
    # Off for the brand: no switch.
    plain = TestClient(create_app(settings), follow_redirects=False)
    log_in(plain, "ben")
    assert 'id="availability"' not in plain.get("/").text
    get_settings.cache_clear()


@pytest.mark.usefixtures("queue_url")
def test_an_agent_sees_who_else_has_the_conversation_open(database_url: str) -> None:
    """Issue 31: "Also viewing: Ana" on Ben's page of the same conversation."""
    import json

    _team(database_url, waiting=1)
    with get_session_factory(database_url).begin() as session:
        ticket_id = session.scalars(select(Ticket.id)).one()

    def events(name: str) -> dict:
        app = create_app(get_settings())
        app.state.stream_events = 1
        browser = TestClient(app, follow_redirects=False)
        log_in(browser, name)
        body = browser.get(f"/tickets/{ticket_id}/events").text
        return dict(json.loads(body.split("data: ", 1)[1].split("\n", 1)[0]))

    assert events("ana")["viewers"] == []
    assert events("ben")["viewers"] == ["ana"]
    get_settings.cache_clear()


@pytest.mark.usefixtures("queue_url")
def test_a_conversation_passed_to_a_team_with_a_note_goes_to_its_members(
    database_url: str,
) -> None:
    """Issue 31: Chloé passes a journalist to the press team with a note; the
    note is on the conversation; "Take the next one" skips it for Ben (not
    in the team) and gives it to Ana (in it); so does auto-assignment."""
    _team(database_url, waiting=2)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        accounts.add_agent(session=session, name="root", role="admin",
                           password=PASSWORD)  # fmt: skip
        first, second = session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
        queue.claim(session=session, ticket_id=first, agent="chloe")
    app = create_app(get_settings())

    admin = TestClient(app, follow_redirects=False)
    token = log_in(admin, "root")
    # The admin puts Ana in the press team (and leaves her languages).
    saved = admin.post("/team/ana/skills", data={
        "csrf": token, "team": ["press"], "answers_in": ["fr", "en"]})  # fmt: skip
    assert saved.status_code == 303
    assert "ana's teams and languages are saved." in unescape(admin.get("/team").text)
    for bad, said in [
        ({"team": ["cooking"], "answers_in": ["fr"]}, "No team 'cooking'"),
        ({"team": ["press"]}, "must answer in French, English or both"),
    ]:
        admin.post("/team/ben/skills", data={"csrf": token, **bad})
        assert said in unescape(admin.get("/team").text)

    chloe = TestClient(app, follow_redirects=False)
    token = log_in(chloe, "chloe")
    page = chloe.get(f"/tickets/{first}").text
    assert '<option value="team:press">Press</option>' in page
    assert '<option value="ben">ben</option>' in page
    passed = chloe.post(f"/tickets/{first}/transfer", data={
        "csrf": token, "to": "team:press",
        "note": "Journaliste du Parisien, veut une interview avant 18 h.",
    }, headers={"accept": "application/json"})  # fmt: skip
    assert passed.json() == {
        "ok": True,
        "message": "Passed to the Press team: back in the queue, for its members "
        "first.",
    }
    refused = chloe.post(f"/tickets/{second}/transfer",
                         data={"csrf": token, "to": "team:cooking"},
                         headers={"accept": "application/json"})  # fmt: skip
    assert refused.status_code == 409
    with factory.begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=first)
        assert (ticket.status, ticket.agent, ticket.team) == (WAITING, None, "press")
        (note,) = [(n.author, n.text) for n in ticket.notes]
    assert note == ("chloe", "Transferred to the Press team. Journaliste du "
                    "Parisien, veut une interview avant 18 h.")  # fmt: skip
    shown = chloe.get(f"/tickets/{first}").text
    assert "For the Press team" in shown and "veut une interview" in shown

    # Ben is not in the press team: the next one for him is the other person.
    ben = TestClient(app, follow_redirects=False)
    token = log_in(ben, "ben")
    ben.post("/queue/next", data={"csrf": token})
    ana = TestClient(app, follow_redirects=False)
    token = log_in(ana, "ana")
    ana.post("/queue/next", data={"csrf": token})
    with factory.begin() as session:
        holders = dict(session.execute(select(Ticket.id, Ticket.agent)).all())
    assert holders == {first: "ana", second: "ben"}

    # Auto-assignment, likewise: only a member gets a team's conversation.
    with factory.begin() as session:
        queue.release(session=session, ticket_id=first, agent="ana")
        queue.release(session=session, ticket_id=second, agent="ben")
        accounts.find_agent(session=session, name="ana").available = False
        assert assignment.assign_round(session, max_open=5) == [(second, "ben")]

    # A team the profile no longer has (renamed mid-crisis) holds nothing back.
    teams = tuple(get_settings().profile.teams)
    with factory.begin() as session:
        request = queue.HandoffRequest(
            "web-orphan", "socketio", "fr", "asked_for_human", "normal", "?"
        )
        orphan = queue.enqueue(session=session, request=request)
        orphan.team, orphan_id = "cooking", orphan.id
        assert assignment.assign_round(session, max_open=5) == []
        assert assignment.assign_round(session, max_open=5, known_teams=teams) == [
            (orphan_id, "chloe")
        ]
        queue.release(session=session, ticket_id=orphan_id, agent="chloe")
        taken = queue.claim_next(session=session, agent="ben", known_teams=teams)
        assert taken is not None and taken.id == orphan_id
    get_settings.cache_clear()

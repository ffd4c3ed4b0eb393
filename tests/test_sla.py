"""Response targets (issue 31, bot/handoff/sla.py): the clocks count only
the team's opening hours; a reply stops them; a person who writes again
after a reply starts the next one; the queue shows time left and puts a
late ticket first within its priority."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.console import accounts
from bot.db import get_session_factory
from bot.events.records import apply_events
from bot.handoff import queue, sla
from bot.handoff.hours import TeamHours
from bot.profile import ProfileError, ResponseTargets, load_profile
from bot.settings import PROJECT_ROOT, get_settings
from tests.test_cli import queue_url  # noqa: F401 (a fixture)
from tests.test_console import PASSWORD, client, log_in

PARIS = ZoneInfo("Europe/Paris")
DAY_TEAM = TeamHours(time(8), time(20), tuple(range(7)), PARIS)
TARGETS = ResponseTargets()  # 5 / 15 / 60 minutes


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=PARIS)


def test_the_clock_runs_only_inside_opening_hours() -> None:
    # Asked at 19:55: 5 minutes that evening, 30 the next morning.
    assert sla.working_time(at(7, 19, 55), at(8, 8, 30), DAY_TEAM) == timedelta(
        minutes=35
    )
    # A normal ticket (60 minutes) opened at 19:55 is due at 08:55 the next day.
    assert sla.deadline(at(7, 19, 55), timedelta(minutes=60), DAY_TEAM) == at(8, 8, 55)
    # Opened in the night: the clock starts at 08:00.
    assert sla.deadline(at(8, 2, 0), timedelta(minutes=5), DAY_TEAM) == at(8, 8, 5)
    weekdays = TeamHours(time(8), time(20), (0, 1, 2, 3, 4), PARIS)
    # Friday 19:50 + 15 minutes: Monday 08:05 (5 December 2026 is a Saturday).
    assert sla.deadline(at(4, 19, 50), timedelta(minutes=15), weekdays) == at(7, 8, 5)


def ticket(**fields: object) -> queue.Ticket:
    base = {"status": "waiting", "priority": "urgent", "created_at": at(8, 9),
            "first_reply_at": None, "waiting_since": None}  # fmt: skip
    return queue.Ticket(**{**base, **fields})


def test_first_reply_then_next_reply_clocks() -> None:
    late = sla.clock(ticket(), at(8, 9, 7), TARGETS, DAY_TEAM)
    assert late is not None and late.kind == sla.FIRST and late.breached
    assert late.left == timedelta(minutes=-2) and late.due_at == at(8, 9, 5)
    on_time = sla.clock(ticket(priority="normal"), at(8, 9, 7), TARGETS, DAY_TEAM)
    assert on_time is not None and on_time.left == timedelta(minutes=53)
    answered = ticket(status="assigned", first_reply_at=at(8, 9, 3))
    assert sla.clock(answered, at(8, 12), TARGETS, DAY_TEAM) is None
    again = ticket(status="assigned", first_reply_at=at(8, 9, 3),
                   waiting_since=at(8, 11, 58))  # fmt: skip
    running = sla.clock(again, at(8, 12), TARGETS, DAY_TEAM)
    assert running is not None and running.kind == sla.NEXT
    assert running.left == timedelta(minutes=3)
    assert sla.clock(ticket(status="closed"), at(8, 12), TARGETS, DAY_TEAM) is None


def test_a_message_after_a_reply_starts_the_next_clock_and_a_reply_stops_it(
    database_url: str,
) -> None:
    factory = get_session_factory(database_url)
    now = datetime.now(timezone.utc)
    with factory.begin() as session:
        opened = queue.enqueue(session=session, request=queue.HandoffRequest(
            "web-1", "socketio", "fr", "health", "high", "j'ai mal"))  # fmt: skip
        queue.claim(session=session, ticket_id=opened.id, agent="alice")
        queue.mark_reply(session=session, ticket_id=opened.id, now=now)
        ticket_id = opened.id

    def user(seconds: float) -> dict[str, object]:
        stamp = (now + timedelta(seconds=seconds)).timestamp()
        return {"event": "user", "sender_id": "web-1", "text": "encore ?",
                "timestamp": stamp}  # fmt: skip

    with factory.begin() as session:  # written before the reply reached them
        apply_events(session, [user(-1)])
        assert session.get(queue.Ticket, ticket_id).waiting_since is None
    with factory.begin() as session:
        apply_events(session, [user(30), user(60)])
        waiting = session.get(queue.Ticket, ticket_id).waiting_since
        assert waiting is not None and abs((waiting - now).total_seconds() - 30) < 1
    with factory.begin() as session:
        queue.mark_reply(session=session, ticket_id=ticket_id)
        assert session.get(queue.Ticket, ticket_id).waiting_since is None


@pytest.mark.usefixtures("queue_url")
def test_the_queue_shows_time_left_and_puts_a_late_ticket_first(
    database_url: str,
) -> None:
    now = datetime.now(timezone.utc)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        accounts.add_agent(session=session, name="alice", role="agent",
                           password=PASSWORD)  # fmt: skip
        ids = []
        for conversation in ("web-old", "web-new"):
            opened = queue.enqueue(session=session, request=queue.HandoffRequest(
                conversation, "socketio", "fr", "press", "normal", "bonjour"),
                now=now - timedelta(hours=3))  # fmt: skip
            queue.claim(session=session, ticket_id=opened.id, agent="alice")
            queue.mark_reply(session=session, ticket_id=opened.id,
                             now=now - timedelta(hours=2))  # fmt: skip
            ids.append(opened.id)
        # The newer conversation's person wrote again 2 hours ago: late.
        session.get(queue.Ticket, ids[1]).waiting_since = now - timedelta(hours=2)
        fresh = queue.enqueue(session=session, request=queue.HandoffRequest(
            "web-fresh", "socketio", "fr", "press", "normal", "bonjour"))  # fmt: skip
        fresh_id = fresh.id
    browser = client()
    log_in(browser, "alice")
    page = browser.get("/").text
    order = [int(n) for n in re.findall(r'data-id="(\d+)"', page)]
    # Waiting first; then, among the assigned, the late one before the older.
    assert order == [fresh_id, ids[1], ids[0]]
    assert "late by 60 min" in page  # 120 minutes waiting, 60 allowed
    assert "59 min left" in page or "60 min left" in page
    assert page.count('class="priority-normal breached"') == 1
    get_settings.cache_clear()


def test_a_brand_sets_its_own_targets(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", pack)
    profile = pack / "profile.yml"
    text = profile.read_text("utf-8")
    profile.write_text(
        text + "\nresponse_targets:\n  first: {urgent: 2, normal: 30}\n", "utf-8"
    )
    targets = load_profile(pack).response_targets
    assert targets.first == {"urgent": 2, "high": 15, "normal": 30}
    assert targets.next == {"urgent": 5, "high": 15, "normal": 60}
    profile.write_text(text + "\nresponse_targets:\n  first: {urgent: 0}\n", "utf-8")
    with pytest.raises(ProfileError, match=r"response_targets\.first\.urgent 0"):
        load_profile(pack)


ALL_DAY = TeamHours(time(0), time(23, 59, 59), tuple(range(7)), PARIS)


def test_a_missed_target_is_recorded_once_per_clock_and_posted(
    database_url: str, webhook: str
) -> None:
    from bot.handoff import breaches
    from tests.conftest import Webhook

    now = datetime.now(timezone.utc)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        late = queue.enqueue(session=session, request=queue.HandoffRequest(
            "web-late", "socketio", "fr", "health", "urgent", "au secours"),
            now=now - timedelta(minutes=8))  # fmt: skip
        queue.enqueue(session=session, request=queue.HandoffRequest(
            "web-ok", "socketio", "fr", "press", "normal", "bonjour"),
            now=now - timedelta(minutes=8))  # fmt: skip
        late_id = late.id
    args = (database_url, TARGETS, ALL_DAY, webhook, "https://console.example")
    (first,) = breaches.check_and_notify(*args, now=now)
    assert (first.ticket_id, first.kind, first.priority) == (late_id, "first", "urgent")
    (posted,) = Webhook.received
    assert posted["text"].startswith(
        f"Relais: conversation {late_id} (urgent) is waiting for a first reply "
        "past its target (3 min late)."
    )
    assert posted["text"].endswith(f"https://console.example/tickets/{late_id}")
    assert breaches.check_and_notify(*args, now=now + timedelta(minutes=1)) == []
    # Answered, then the person writes again and waits too long: a new clock.
    with factory.begin() as session:
        queue.claim(session=session, ticket_id=late_id, agent="alice")
        queue.mark_reply(session=session, ticket_id=late_id, now=now)
        session.get(queue.Ticket, late_id).waiting_since = now + timedelta(minutes=1)
    (second,) = breaches.check_and_notify(*args, now=now + timedelta(minutes=7))
    assert second.kind == "next"
    with factory.begin() as session:
        kinds = session.scalars(select(breaches.Breach.kind)).all()
        notified = session.scalars(select(breaches.Breach.notified_at)).all()
    assert sorted(kinds) == ["first", "next"] and all(notified)


@pytest.mark.usefixtures("queue_url")
def test_admins_see_the_late_conversations_above_every_page(database_url: str) -> None:
    now = datetime.now(timezone.utc)
    with get_session_factory(database_url).begin() as session:
        for name, role in (("alice", "agent"), ("root", "admin")):
            accounts.add_agent(session=session, name=name, role=role,
                               password=PASSWORD)  # fmt: skip
        late = queue.enqueue(session=session, request=queue.HandoffRequest(
            "web-late", "socketio", "fr", "health", "urgent", "au secours"),
            now=now - timedelta(minutes=12))  # fmt: skip
        late_id = late.id

    def page(name: str) -> str:
        browser = client()
        log_in(browser, name)
        return browser.get("/overview").text

    admin = page("root")
    assert "1 conversation is past its response target" in admin
    assert f'href="/tickets/{late_id}">#{late_id}</a> (Urgent, late by 7 min)' in admin
    assert "late-banner" not in page("alice")
    get_settings.cache_clear()


@pytest.mark.usefixtures("queue_url")
def test_the_overview_and_the_report_give_the_share_answered_within_target(
    database_url: str,
) -> None:
    from bot.insights.report import make

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        accounts.add_agent(session=session, name="root", role="admin",
                           password=PASSWORD)  # fmt: skip
        # (priority, opened minutes ago, first reply after minutes or None)
        for n, (priority, ago, reply) in enumerate([
            ("urgent", 40, 3), ("urgent", 40, 9), ("high", 30, None),
            ("normal", 20, None),  # still has time: not judged yet
        ]):  # fmt: skip
            opened = queue.enqueue(session=session, request=queue.HandoffRequest(
                f"web-{n}", "socketio", "fr", "health", priority, "bonjour"),
                now=now - timedelta(minutes=ago))  # fmt: skip
            if reply is not None:
                queue.claim(session=session, ticket_id=opened.id, agent="root")
                replied = opened.created_at + timedelta(minutes=reply)
                queue.mark_reply(session=session, ticket_id=opened.id, now=replied)
    browser = client()
    log_in(browser, "root")
    overview = " ".join(re.sub(r"<[^>]+>", " ", browser.get("/overview").text).split())
    assert (
        "Answered within target 33 % first replies · urgent 50 % · high 0 % "
        "· normal –" in overview
    ), overview
    report = make(get_settings(), now - timedelta(hours=2), now + timedelta(minutes=1),
                  "en", "html").decode()  # fmt: skip
    part = " ".join(
        re.sub(
            r"<[^>]+>", " ", report.split('id="targets"')[1].split("</section>")[0]
        ).split()
    )
    assert "First replies within target" in part
    assert "Urgent 1 1 50 % High 0 1 0 % All 33 %" in part, part
    get_settings.cache_clear()

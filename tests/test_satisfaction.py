"""Satisfaction after a handoff (issue 31, bot/handoff/satisfaction.py): who
is asked, how an answer is read, and where the results show (the overview,
the report); the conversations themselves are in tests/test_e2e.py (REST),
tests/test_channels.py (Telegram's stand-in) and tests/test_browser.py (the
web chat)."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.console import accounts
from bot.db import get_session_factory
from bot.handoff import agent as agent_ops
from bot.handoff import queue, satisfaction
from bot.handoff.satisfaction import DOWN, STARS, THUMBS, UP, Survey
from bot.profile import ProfileError, Satisfaction, load_profile
from bot.rasa_api import RasaError
from bot.retention import Removed, purge_relais
from bot.settings import PROJECT_ROOT, get_settings
from tests.test_cli import queue_url  # noqa: F401 (a fixture)
from tests.test_console import PASSWORD, client, log_in


@pytest.mark.parametrize(
    ("said", "scale", "rating"),
    [
        ("4", STARS, 4),
        ("4/5", STARS, 4),
        ("je mets 5 sur 5", STARS, 5),
        ("i'd rate it 2 out of 5", STARS, 2),
        ("3 étoiles", STARS, 3),
        ("👍", STARS, 5),
        ("👎🏽", STARS, 1),
        ("up", THUMBS, UP),
        ("👎", THUMBS, DOWN),
        ("5/5", THUMBS, UP),
        ("1", THUMBS, DOWN),
    ],
)
def test_a_rating_clicked_or_typed(said: str, scale: str, rating: int) -> None:
    assert satisfaction.read_rating(said, scale) == rating


@pytest.mark.parametrize(
    "said",
    ["12", "lot 24517", "3 sur 5 ou 4 sur 5, je ne sais pas", "merci", "", "3"],
)
def test_what_is_no_rating(said: str) -> None:
    scale = THUMBS if said == "3" else STARS  # 3 is neither 👍 nor 👎
    assert satisfaction.read_rating(said, scale) is None


def closed_ticket(session, name: str, reason: str = "asked_for_human",  # type: ignore[no-untyped-def]
                  channel: str = "socketio", answered: bool = True,
                  agent: str = "alice"):  # fmt: skip
    priority = "urgent" if reason in ("health", "self_harm") else "normal"
    ticket = queue.enqueue(session=session, request=queue.HandoffRequest(
        name, channel, "fr", reason, priority, "bonjour"))  # fmt: skip
    queue.claim(session=session, ticket_id=ticket.id, agent=agent)
    if answered:
        queue.mark_reply(session=session, ticket_id=ticket.id)
    return queue.close(session=session, ticket_id=ticket.id, agent=agent)


def test_who_is_asked(database_url: str) -> None:
    default = Satisfaction()
    with get_session_factory(database_url).begin() as session:
        answered = closed_ticket(session, "c1")
        unanswered = closed_ticket(session, "c2", answered=False)
        sick = closed_ticket(session, "c3", reason="health")
        distressed = closed_ticket(session, "c4", reason="self_harm")
        press = closed_ticket(session, "c5", reason="press")
        assert satisfaction.should_ask(answered, default)
        assert satisfaction.should_ask(press, default)
        # Nobody answered them: there is no exchange to rate.
        assert not satisfaction.should_ask(unanswered, default)
        # A person who got sick, or in distress, is never asked by default...
        assert not satisfaction.should_ask(sick, default)
        assert not satisfaction.should_ask(distressed, default)
        # ... unless the brand says otherwise; or it asks nobody.
        assert satisfaction.should_ask(sick, Satisfaction(not_after=("self_harm",)))
        assert not satisfaction.should_ask(answered, Satisfaction(ask=False))


def test_a_rating_then_a_comment_go_to_the_latest_question(database_url: str) -> None:
    factory = get_session_factory(database_url)
    now = datetime.now(timezone.utc)
    with factory.begin() as session:
        ticket = closed_ticket(session, "web-9")
        satisfaction.record_question(session=session, ticket=ticket, agent="alice",
                                     scale=STARS)  # fmt: skip
        assert satisfaction.add_comment(session=session, conversation_id="web-9",
                                        text="avant la note") is None  # fmt: skip
        rated = satisfaction.rate(session=session, conversation_id="web-9", value="2")
        assert rated is not None and rated.rating == 2 and not rated.satisfied
        # A second click changes it; a word that is no rating changes nothing.
        satisfaction.rate(session=session, conversation_id="web-9", value="5")
        assert satisfaction.rate(session=session, conversation_id="web-9",
                                 value="bof") is None  # fmt: skip
        satisfaction.add_comment(session=session, conversation_id="web-9",
                                 text="  Très   humain,\nmerci ")  # fmt: skip
        # Nobody else's survey, and none a week later.
        assert satisfaction.rate(session=session, conversation_id="web-8",
                                 value="5") is None  # fmt: skip
        assert satisfaction.rate(session=session, conversation_id="web-9", value="1",
                                 now=now + timedelta(days=8)) is None  # fmt: skip
    with factory.begin() as session:
        survey = session.execute(select(Survey)).scalar_one()
        assert (survey.rating, survey.comment) == (5, "Très humain, merci")
        assert survey.satisfied


def test_the_question_offers_one_button_per_choice_in_the_persons_language() -> None:
    stars = satisfaction.question_event("Q ?", STARS, "en")
    assert [b["title"] for b in stars["data"]["buttons"]][::4] == [
        "1 – Not at all", "5 – Very satisfied",
    ]  # fmt: skip
    assert stars["data"]["buttons"][2]["payload"] == '/rate{"rating": "3"}'
    thumbs = satisfaction.question_event("Q ?", THUMBS, "fr")
    assert [(b["title"], b["payload"]) for b in thumbs["data"]["buttons"]] == [
        ("👍 Oui", '/rate{"rating": "up"}'), ("👎 Non", '/rate{"rating": "down"}'),
    ]  # fmt: skip


def test_the_profile_sets_the_scale_and_who_is_not_asked(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", pack)
    profile = pack / "profile.yml"
    original = profile.read_text(encoding="utf-8")
    assert load_profile(pack).satisfaction == Satisfaction(
        ask=True, scale=STARS, not_after=("health", "self_harm")
    )
    profile.write_text(
        original + "satisfaction: {scale: thumbs, not_after: []}\n", encoding="utf-8"
    )
    assert load_profile(pack).satisfaction == Satisfaction(scale=THUMBS, not_after=())
    for bad, said in [
        ("satisfaction: {scale: smileys}", "stars (1 to 5) or thumbs"),
        ("satisfaction: {ask: maybe}", "true or false"),
        ("satisfaction: {not_after: health}", "list of reasons"),
        ("satisfaction: yes", "satisfaction has ask"),
    ]:
        profile.write_text(original + bad + "\n", encoding="utf-8")
        with pytest.raises(ProfileError, match=re.escape(said)):
            load_profile(pack)


@pytest.mark.usefixtures("queue_url")
def test_the_overview_and_the_report_show_satisfaction_per_agent_reason_and_channel(
    database_url: str,
) -> None:
    from bot.insights.report import make

    now = datetime.now(timezone.utc)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        accounts.add_agent(session=session, name="root", role="admin",
                           password=PASSWORD)  # fmt: skip
        accounts.add_agent(session=session, name="alice", role="agent",
                           password=PASSWORD, display_name="Alice Martin")  # fmt: skip
        # (agent, reason, channel, rating or None, comment)
        for n, (agent, reason, channel, rating, comment) in enumerate([
            ("alice", "asked_for_human", "socketio", "5", "Parfait"),
            ("alice", "press", "telegram", "4", None),
            ("bob", "asked_for_human", "socketio", "1", "Trop long à attendre"),
            ("bob", "asked_for_human", "telegram", None, None),
        ]):  # fmt: skip
            ticket = closed_ticket(session, f"p-{n}", reason=reason, channel=channel,
                                   agent=agent)  # fmt: skip
            satisfaction.record_question(session=session, ticket=ticket, agent=agent,
                                         scale=STARS)  # fmt: skip
            if rating:
                satisfaction.rate(session=session, conversation_id=f"p-{n}",
                                  value=rating)  # fmt: skip
            if comment:
                satisfaction.add_comment(session=session, conversation_id=f"p-{n}",
                                         text=comment)  # fmt: skip
    browser = client()
    log_in(browser, "root")
    page = browser.get("/overview").text
    overview = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert (
        "Satisfied after a handoff 67 % 3 answers of 4 asked · average 3.3/5"
        in overview
    ), overview
    table = " ".join(
        re.sub(r"<[^>]+>", " ", page.split('id="satisfaction"')[1]).split()
    )
    # By the name the team knows them by (bob has no account any more).
    assert "Agent Alice Martin 2 2 100 % 4.5/5" in table, table
    assert "Agent bob 2 1 0 % 1.0/5" in table
    assert "Reason Asked for a human 3 2 50 % 3.0/5" in table
    assert "Channel Telegram 2 1 100 % 4.0/5" in table
    assert "bob · 1/5 Trop long à attendre" in table
    assert "Alice Martin · 5/5 Parfait" in table

    names = {"alice": "Alice Martin"}  # as the console and `relais report` pass them
    report = make(get_settings(), now - timedelta(hours=1), now + timedelta(minutes=1),
                  "fr", "html", agent_names=names).decode()  # fmt: skip
    part = " ".join(
        re.sub(
            r"<[^>]+>", " ", report.split('id="satisfaction"')[1].split("</section>")[0]
        ).split()
    )
    assert "67 % de satisfaits (3 réponses sur 4 questions posées)" in part, part
    assert "Agent bob 2 1 0 % 1,0/5" in part
    assert "Agent Alice Martin 2 2 100 % 4,5/5" in part
    assert "Motif Presse 1 1 100 % 4,0/5" in part
    assert "Canal web chat 2 2 50 % 3,0/5" in part
    # Comments are the console's: the report, shared widely, has none.
    assert "Trop long" not in report
    get_settings.cache_clear()


def test_a_purge_forgets_comments_and_who_wrote_them_but_keeps_ratings(
    database_url: str,
) -> None:
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        ticket = closed_ticket(session, "web-old")
        satisfaction.record_question(session=session, ticket=ticket, agent="alice",
                                     scale=STARS)  # fmt: skip
        satisfaction.rate(session=session, conversation_id="web-old", value="2")
        satisfaction.add_comment(session=session, conversation_id="web-old",
                                 text="Je m'appelle Jeanne Dupont")  # fmt: skip
    with factory.begin() as session:
        removed = Removed()
        purge_relais(
            session, datetime.now(timezone.utc) + timedelta(minutes=1), removed
        )
    assert removed.counts["satisfaction comments and conversation ids"] == 1
    with factory.begin() as session:
        survey = session.execute(select(Survey)).scalar_one()
        assert survey.comment is None and survey.rating == 2
        assert survey.conversation_id.startswith("purged-")


class FakeRasa:
    """Rasa's HTTP API as `agent.close` uses it, recording what it appends."""

    def __init__(self, responses: dict[str, list[dict[str, str]]],
                 refuse: bool = False) -> None:  # fmt: skip
        self.responses, self.refuse = responses, refuse
        self.appended: list[list[dict]] = []

    def domain(self) -> dict:
        return {"responses": self.responses}

    def tracker(self, conversation_id: str) -> dict:
        return {"events": []}

    def append_events(self, conversation_id: str, events: list[dict],
                      channel: str = "latest") -> dict:  # fmt: skip
        if self.refuse and any(e["event"] == "bot" for e in events):
            raise RasaError("the channel refused the message")
        self.appended.append(events)
        return {}


CLOSING = {"utter_handoff_closed": [{"text": "Fini."}]}


@pytest.mark.parametrize(
    ("responses", "refuse", "asked"),
    [
        ({**CLOSING, "utter_satisfaction_stars": [{"text": "Alors ?"}]}, False, True),
        # A model trained before the survey existed: handed back all the same.
        (CLOSING, False, False),
        # The channel refuses messages: handed back without them, nobody asked.
        ({**CLOSING, "utter_satisfaction_stars": [{"text": "Alors ?"}]}, True, False),
    ],
)
def test_a_hand_back_asks_once_and_never_fails_for_the_question(
    database_url: str, responses: dict, refuse: bool, asked: bool
) -> None:
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        ticket = queue.enqueue(session=session, request=queue.HandoffRequest(
            "web-5", "socketio", "fr", "asked_for_human", "normal", "?"))  # fmt: skip
        queue.claim(session=session, ticket_id=ticket.id, agent="alice")
        queue.mark_reply(session=session, ticket_id=ticket.id)
        ticket_id = ticket.id
    rasa = FakeRasa(responses, refuse)
    agent_ops.close(factory=factory, rasa=rasa, ticket_id=ticket_id,  # type: ignore[arg-type]
                    agent="alice", survey=Satisfaction())  # fmt: skip
    texts = [e.get("text") for events in rasa.appended for e in events]
    assert ("Alors ?" in texts) is asked
    with factory.begin() as session:
        assert queue.get_ticket(session=session, ticket_id=ticket_id).status == "closed"
        surveys = session.execute(select(Survey)).scalars().all()
        assert len(surveys) == int(asked)


def test_a_rating_reads_in_the_consoles_transcript_as_the_person_saw_it() -> None:
    question = satisfaction.question_event("Alors ?", STARS, "fr")
    turns = agent_ops.transcript({"events": [
        question, {"event": "user", "text": satisfaction.payload("5")},
        {"event": "user", "text": "/rate"},  # no button offered: shown as sent
    ]})  # fmt: skip
    assert [turn.text for turn in turns] == ["Alors ?", "5 – Très satisfait", "/rate"]

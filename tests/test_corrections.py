"""Corrections (issue 30): who got an earlier answer and who can still be
told (`bot/corrections/recipients.py`, `relais corrections who`), and the
correction drafted by one editor and approved by another
(`bot/corrections/drafts.py`, `relais corrections draft|approve|reject`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from bot.channel_settings import ChannelSettings
from bot.cli import main
from bot.console import accounts
from bot.corrections import drafts, recipients, sending
from bot.corrections.recipients import (
    NEVER,
    NOW,
    ON_RETURN,
    OUT_OF_WINDOW,
    TEMPLATE,
    UNKNOWN,
)
from bot.db import get_session_factory
from bot.faq.audit import record_answer
from bot.faq.live import version
from bot.faq.pack import load_pack
from bot.handoff import queue
from bot.insights.models import MessageFact
from bot.settings import PROJECT_ROOT, get_settings

PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")
TOPIC = PACK["affected_products"]
NOW_AT = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
# (conversation, channel, language, hours since their last message)
PEOPLE = [
    ("messenger-2h", "messenger", "fr", 2),
    ("messenger-30h", "messenger", "fr", 30),
    ("instagram-23h", "instagram", "en", 23),
    ("whatsapp-30h", "whatsapp", "en", 30),
    ("telegram-10d", "telegram", "fr", 240),
    ("web", "socketio", "fr", 50),
    ("rest", "rest", "en", 1),
]


def _record(url: str, now: datetime = NOW_AT) -> None:
    """Everyone in PEOPLE got an earlier answer; two more people are up to
    date; one got the earlier answer but no message of theirs is recorded
    (times counted back from `now`)."""
    old = "Les lots concernés : 1234 uniquement."
    with get_session_factory(url).begin() as session:
        for conversation, channel, language, hours in PEOPLE:
            last = now - timedelta(hours=hours)
            record_answer(
                session=session, conversation_id=conversation, topic=TOPIC.key,
                language=language, version=version(old), text=old,
                now=last - timedelta(minutes=1),
            )  # fmt: skip
            session.add(
                MessageFact(
                    conversation_id=conversation, at=last, channel=channel,
                    language=language, text="quels lots ?",
                )
            )  # fmt: skip
        # Asked again after the change: already has the current answer.
        for conversation, answers in (
            ("asked-again", [old, TOPIC.answers["fr"]]),
            ("up-to-date", [TOPIC.answers["fr"]]),
            ("no-messages", [old]),
        ):
            for text in answers:
                record_answer(
                    session=session, conversation_id=conversation,
                    topic=TOPIC.key, language="fr", version=version(text),
                    text=text, now=now - timedelta(hours=3),
                )  # fmt: skip
        # An earlier answer on another topic is not this topic's concern.
        record_answer(
            session=session, conversation_id="other-topic", topic="refund",
            language="fr", version="0123456789ab", text="x", now=now,
        )  # fmt: skip


def test_the_people_to_correct_and_what_can_reach_them(database_url: str) -> None:
    _record(database_url)
    with get_session_factory(database_url).begin() as session:
        people = recipients.outdated(
            session=session, topic=TOPIC, now=NOW_AT, channels=ChannelSettings()
        )
        with_template = recipients.outdated(
            session=session,
            topic=TOPIC,
            now=NOW_AT,
            channels=ChannelSettings(whatsapp_template="relais_news"),
        )
    reach = {p.conversation_id: p.reach for p in people}
    assert reach == {
        "messenger-2h": NOW,
        "messenger-30h": OUT_OF_WINDOW,  # HUMAN_AGENT does not cover a broadcast
        "instagram-23h": NOW,
        "whatsapp-30h": OUT_OF_WINDOW,
        "telegram-10d": NOW,
        "web": ON_RETURN,
        "rest": NEVER,
        "no-messages": UNKNOWN,
    }
    assert {p.conversation_id: p.reach for p in with_template}["whatsapp-30h"] == (
        TEMPLATE
    )
    web = next(p for p in people if p.conversation_id == "web")
    assert (web.channel, web.language) == ("socketio", "fr")
    assert web.version != version(TOPIC.answers["fr"])
    summary = recipients.summarise(TOPIC, people)
    assert summary.total == 8 and summary.deliverable() == 4


def test_relais_corrections_who(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    _record(database_url)
    # The command counts the windows from now: move the records to now.
    shift = datetime.now(timezone.utc) - NOW_AT
    with get_session_factory(database_url).begin() as session:
        for fact in session.query(MessageFact):
            fact.at = fact.at + shift

    assert main(["corrections", "who", TOPIC.key]) == 0
    out = capsys.readouterr().out
    assert f"current answer en {version(TOPIC.answers['en'])}" in out
    assert "8 people got an earlier answer; 4 can be told now" in out
    messenger = next(line for line in out.splitlines() if "Messenger" in line)
    # channel, language, now, on return, template, too late, never, unknown
    assert messenger.split()[1:] == ["fr", "1", "0", "0", "1", "0", "0"]

    assert main(["corrections", "who", TOPIC.key, "--list"]) == 0
    assert "web chat  fr  version" in capsys.readouterr().out

    assert main(["corrections", "who", "no-such-topic"]) == 2
    err = capsys.readouterr().err
    assert "No topic 'no-such-topic'" in err and TOPIC.key in err
    assert "Traceback" not in err


def _accounts(url: str) -> None:
    with get_session_factory(url).begin() as session:
        for name, role in (("claire", "editor"), ("malik", "editor"),
                           ("ada", "admin"), ("sam", "agent")):  # fmt: skip
            accounts.add_agent(
                session=session, name=name, role=role, password="a long passphrase"
            )


def test_a_correction_is_drafted_by_one_editor_and_approved_by_another(
    database_url: str,
) -> None:
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        correction = drafts.draft(
            session=session, topic=TOPIC, author="claire",
            changed="deux lots de plus sont rappelés",
        )  # fmt: skip
        # Prefilled: what changed, then the answer as it is now.
        assert correction.text("fr") == (
            "Mise à jour : deux lots de plus sont rappelés\n" + TOPIC.answers["fr"]
        )
        assert correction.text("en").endswith(TOPIC.answers["en"])
        with pytest.raises(drafts.CorrectionError, match="another editor"):
            drafts.approve(
                session=session, correction_id=correction.id, approver="claire",
                is_admin=False, topic=TOPIC,
            )  # fmt: skip
        assert correction.state == drafts.DRAFT
        drafts.approve(
            session=session, correction_id=correction.id, approver="malik",
            is_admin=False, topic=TOPIC,
        )  # fmt: skip
        assert (correction.state, correction.reviewed_by) == (drafts.APPROVED, "malik")
        assert not correction.urgent
        with pytest.raises(drafts.CorrectionError, match="not a draft"):
            drafts.reject(session=session, correction_id=correction.id, reviewer="ada")

        # An admin may approve their own when it cannot wait: recorded urgent.
        own = drafts.draft(session=session, topic=TOPIC, author="ada", changed="x")
        drafts.approve(
            session=session, correction_id=own.id, approver="ada", is_admin=True,
            topic=TOPIC, urgent=True,
        )  # fmt: skip
        assert own.urgent

        # The answer changed again before approval: the draft would announce
        # an answer nobody gets any more.
        stale = drafts.draft(session=session, topic=TOPIC, author="claire", changed="y")
        edited = dataclasses.replace(
            TOPIC, answers={**TOPIC.answers, "fr": "Tous les lots sont rappelés."}
        )
        with pytest.raises(drafts.CorrectionError, match="has changed since"):
            drafts.approve(
                session=session, correction_id=stale.id, approver="malik",
                is_admin=False, topic=edited,
            )  # fmt: skip
        assert stale.state == drafts.DRAFT
        for empty in ("", "   "):
            with pytest.raises(drafts.CorrectionError, match="what changed"):
                drafts.draft(session=session, topic=TOPIC, author="c", changed=empty)
        with pytest.raises(drafts.CorrectionError, match="at most"):
            drafts.draft(
                session=session, topic=TOPIC, author="c", changed="z",
                texts={"en": "x" * (drafts.MAX_LENGTH + 1)},
            )  # fmt: skip


def test_relais_corrections_draft_approve_and_the_refusals(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    _accounts(database_url)
    changed = "lots 1234 et 5678"

    # An agent of the queue is not an editor: refused, nothing written.
    code = main(["corrections", "draft", TOPIC.key, "--changed", changed,
                 "--agent", "sam"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "sam is not an editor" in err and "Traceback" not in err
    assert main(["corrections", "list"]) == 0
    assert "No correction yet" in capsys.readouterr().out

    english = ["--en", "Update: two more lots."]
    code = main(["corrections", "draft", TOPIC.key, "--changed", changed,
                 *english, "--agent", "claire"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Correction #1 drafted" in out
    assert "[en] Update: two more lots." in out
    assert f"[fr] Mise à jour : {changed}" in out

    assert main(["corrections", "approve", "1", "--agent", "claire"]) == 1
    assert "another editor" in capsys.readouterr().err
    assert main(["corrections", "approve", "1", "--agent", "malik"]) == 0
    assert main(["corrections", "show", "1"]) == 0
    assert "approved by malik" in capsys.readouterr().out
    assert main(["corrections", "reject", "1", "--agent", "ada"]) == 1
    assert "not a draft" in capsys.readouterr().err
    assert main(["corrections", "show", "9"]) == 1
    assert "No correction #9" in capsys.readouterr().err


class Crash(Exception):
    """The job's process dies (here: inside a send)."""


class RecordingRasa:
    """Rasa's HTTP API as the job uses it: conversations hold the events
    appended to them, and what went out on which channel is kept. It can be
    told to die right after storing the n-th message, as a crash between the
    send and the job's record of it."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.sent: list[tuple[str, str, str]] = []  # (conversation, channel, text)
        self.crash_after = crash_after

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        return {"events": list(self.events.get(conversation_id, []))}

    def append_events(
        self, conversation_id: str, events: list[dict[str, Any]], channel: str
    ) -> dict[str, Any]:
        self.events.setdefault(conversation_id, []).extend(events)
        self.sent.extend(
            (conversation_id, channel, e["text"]) for e in events if e["event"] == "bot"
        )
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            self.crash_after = None
            raise Crash()
        return self.tracker(conversation_id)


def _approved(url: str) -> int:
    with get_session_factory(url).begin() as session:
        correction = drafts.draft(
            session=session, topic=TOPIC, author="claire", changed="deux lots de plus"
        )
        drafts.approve(
            session=session, correction_id=correction.id, approver="malik",
            is_admin=False, topic=TOPIC,
        )  # fmt: skip
        return int(correction.id)


def test_sending_a_correction_survives_a_crash_and_messages_nobody_twice(
    database_url: str,
) -> None:
    _record(database_url)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        # Instagram's person is talking to an agent: not interrupted.
        queue.enqueue(
            session=session,
            request=queue.HandoffRequest(
                "instagram-23h", "instagram", "en", "angry", "normal", "!!!", []
            ),
        )
    correction_id = _approved(database_url)
    rasa = RecordingRasa(crash_after=2)
    job = {
        "factory": factory, "correction_id": correction_id, "topic": TOPIC,
        "channels": ChannelSettings(), "now": lambda: NOW_AT, "sleep": lambda _: None,
    }  # fmt: skip
    with pytest.raises(Crash):
        sending.send(rasa=rasa, **job)  # type: ignore[arg-type]
    assert len(rasa.sent) == 2  # the second was stored, then the job died

    progress = sending.send(rasa=rasa, **job)  # type: ignore[arg-type]
    # Each reachable person got it once: Messenger within 24 h, Telegram,
    # and the web chat (now if connected, else when they come back).
    assert sorted(c for c, _, _ in rasa.sent) == ["messenger-2h", "telegram-10d", "web"]
    assert {(c, ch) for c, ch, _ in rasa.sent} >= {("telegram-10d", "telegram")}
    texts = {c: t for c, _, t in rasa.sent}
    assert texts["telegram-10d"].startswith("Mise à jour : deux lots de plus")
    marked = [
        e
        for e in rasa.events["web"]
        if e["metadata"] == {"relais_correction": correction_id}
    ]
    assert len(marked) == 1
    assert progress.counts == {
        "sent": 3,
        "with_agent": 1,
        "out_of_window": 2,  # Messenger and WhatsApp past 24 hours
        "never": 1,  # REST
        "unknown": 1,  # no message of theirs recorded
    }
    # Once more: nothing left to send.
    again = sending.send(rasa=rasa, **job)  # type: ignore[arg-type]
    assert len(rasa.sent) == 3 and again.counts == progress.counts


def test_only_an_approved_correction_of_the_current_answer_is_sent(
    database_url: str,
) -> None:
    _record(database_url)
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        draft_id = drafts.draft(
            session=session, topic=TOPIC, author="claire", changed="x"
        ).id
    rasa = RecordingRasa()
    with pytest.raises(drafts.CorrectionError, match="only an approved"):
        sending.send(
            factory=factory, rasa=rasa, correction_id=draft_id,  # type: ignore[arg-type]
            topic=TOPIC, channels=ChannelSettings(),
        )  # fmt: skip
    # Approved, then the answer changed again: it would announce an answer
    # nobody gets any more.
    approved = _approved(database_url)
    edited = dataclasses.replace(
        TOPIC, answers={**TOPIC.answers, "en": "All lots are recalled."}
    )
    for topic in (edited, None):
        with pytest.raises(drafts.CorrectionError, match="has changed since"):
            sending.send(
                factory=factory, rasa=rasa, correction_id=approved,  # type: ignore[arg-type]
                topic=topic, channels=ChannelSettings(),
            )  # fmt: skip
    assert rasa.sent == []


def test_a_purge_leaves_nobody_to_correct_and_anonymises_who_was_sent_what(
    database_url: str,
) -> None:
    """Past the retention period (issue 12) the conversation ids go: nobody
    is corrected any more, and the outcomes of corrections already sent stay
    under anonymous ids."""
    from bot.retention import Removed, purge_relais

    _record(database_url)
    factory = get_session_factory(database_url)
    sending.send(
        factory=factory, rasa=RecordingRasa(), correction_id=_approved(database_url),  # type: ignore[arg-type]
        topic=TOPIC, channels=ChannelSettings(), now=lambda: NOW_AT,
        sleep=lambda _: None,
    )  # fmt: skip
    with factory.begin() as session:
        before = sending.progress(session=session, correction_id=1).counts
        purge_relais(session, datetime.now(timezone.utc), Removed())
    with factory.begin() as session:
        after = sending.progress(session=session, correction_id=1).counts
        ids = session.scalars(select(sending.CorrectionSend.conversation_id)).all()
        people = recipients.outdated(
            session=session, topic=TOPIC, now=NOW_AT, channels=ChannelSettings()
        )
    assert after == before and sum(after.values()) == 8
    assert all(i.startswith("purged-") for i in ids) and len(set(ids)) == 8
    assert people == []


def test_a_person_out_of_their_window_is_told_on_a_later_run_once_they_write(
    database_url: str,
) -> None:
    """Messenger's person who last wrote 30 hours ago is counted, not
    messaged; once they write again (about something else), the next run of
    the job tells them, and only them."""
    _record(database_url)
    factory = get_session_factory(database_url)
    rasa = RecordingRasa()
    job = {
        "factory": factory, "rasa": rasa, "correction_id": _approved(database_url),
        "topic": TOPIC, "channels": ChannelSettings(), "now": lambda: NOW_AT,
        "sleep": lambda _: None,
    }  # fmt: skip
    first = sending.send(**job)  # type: ignore[arg-type]
    assert first.counts["out_of_window"] == 2
    assert "messenger-30h" not in {c for c, _, _ in rasa.sent}
    with factory.begin() as session:
        session.add(
            MessageFact(
                conversation_id="messenger-30h", at=NOW_AT - timedelta(minutes=5),
                channel="messenger", language="fr", text="et pour les yaourts ?",
            )
        )  # fmt: skip
    sent_before = len(rasa.sent)
    second = sending.send(**job)  # type: ignore[arg-type]
    assert [c for c, _, _ in rasa.sent[sent_before:]] == ["messenger-30h"]
    assert second.counts["sent"] == first.counts["sent"] + 1
    assert second.counts["out_of_window"] == 1  # WhatsApp's person


def test_past_whatsapps_24_hours_the_template_invites_once_then_the_correction_follows(
    database_url: str,
) -> None:
    """With the brand's approved template, WhatsApp's person who wrote 30
    hours ago is invited to write, once, however often the job runs; when
    they answer, the next run sends them the correction."""
    _record(database_url)
    factory = get_session_factory(database_url)
    rasa = RecordingRasa()
    job = {
        "factory": factory, "rasa": rasa, "correction_id": _approved(database_url),
        "topic": TOPIC, "channels": ChannelSettings(whatsapp_template="relais_news"),
        "now": lambda: NOW_AT, "sleep": lambda _: None,
    }  # fmt: skip
    for _run in range(2):
        progress = sending.send(**job)  # type: ignore[arg-type]
        assert progress.counts[sending.INVITED] == 1
    (invite,) = rasa.events["whatsapp-30h"]
    assert invite["data"]["custom"]["data"] == {
        "relais_template": "relais_news", "relais_language": "en",
    }  # fmt: skip
    with factory.begin() as session:
        session.add(
            MessageFact(
                conversation_id="whatsapp-30h", at=NOW_AT - timedelta(minutes=2),
                channel="whatsapp", language="en", text="yes, what changed?",
            )
        )  # fmt: skip
    progress = sending.send(**job)  # type: ignore[arg-type]
    assert sending.INVITED not in progress.counts
    invite, correction = rasa.events["whatsapp-30h"]
    assert correction["text"].startswith("Update: deux lots de plus")
    assert correction["metadata"] == {"relais_correction": job["correction_id"]}


class Dispatcher:
    """rasa_sdk's dispatcher as the actions use it: what was said."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def utter_message(self, text: str = "", **_: Any) -> None:
        self.said.append(text)


def test_people_who_got_an_earlier_holding_statement_are_corrected(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement counts as an answer: the version each person was shown
    is recorded; after a new version, those who saw the old one are the
    people to correct, and the correction carries the new statement."""
    from bot.faq import statement as statements
    from bot.faq.answers import send_statement
    from bot.faq.statement import STATEMENT_TOPIC

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    settings = get_settings()
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        statements.publish_statement(
            session=session, text_fr="Nous rappelons deux lots.",
            text_en="We are recalling two lots.", author="claire",
        )  # fmt: skip
        session.add(
            MessageFact(conversation_id="telegram:1", at=NOW_AT, channel="telegram",
                        language="fr", text="?")
        )  # fmt: skip
    dispatcher = Dispatcher()
    send_statement(dispatcher, settings, "fr", "telegram:1")
    assert "Nous rappelons deux lots." in dispatcher.said[0]
    with factory.begin() as session:
        statements.publish_statement(
            session=session, text_fr="Nous rappelons quatre lots.",
            text_en="We are recalling four lots.", author="claire",
        )  # fmt: skip
    topic = recipients.correctable(settings)[STATEMENT_TOPIC]
    with factory.begin() as session:
        (person,) = recipients.outdated(
            session=session, topic=topic, now=NOW_AT, channels=ChannelSettings()
        )
        assert (person.conversation_id, person.reach) == ("telegram:1", NOW)
        correction = drafts.draft(session=session, topic=topic, author="claire",
                                  changed="deux lots de plus")  # fmt: skip
        drafts.approve(session=session, correction_id=correction.id,
                       approver="malik", is_admin=False, topic=topic)  # fmt: skip
        correction_id = int(correction.id)
    rasa = RecordingRasa()
    sending.send(
        factory=factory, rasa=rasa, correction_id=correction_id,  # type: ignore[arg-type]
        topic=recipients.correctable(settings)[STATEMENT_TOPIC],
        channels=ChannelSettings(), now=lambda: NOW_AT, sleep=lambda _: None,
    )  # fmt: skip
    ((conversation, _, text),) = rasa.sent
    assert conversation == "telegram:1"
    assert text.startswith("Mise à jour : deux lots de plus\n")
    assert "Nous rappelons quatre lots." in text
    get_settings.cache_clear()

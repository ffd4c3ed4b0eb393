"""The corrections pages of the console (issue 30, bot/console/corrections.py):
who got what, drafting and four-eyes approval, the sending job started from
the page and followed, and stopping it. The browser test
(tests/test_browser.py) runs the same path against a real Rasa."""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.channel_settings import ChannelSettings
from bot.console import accounts
from bot.corrections import drafts, jobs, sending
from bot.db import get_session_factory, utcnow
from bot.handoff import queue
from bot.handoff.agent import CORRECTION_MARK
from bot.settings import get_settings
from tests.test_cli import closed_port
from tests.test_console import PASSWORD, client, log_in
from tests.test_corrections import TOPIC, RecordingRasa, _approved, _record


@pytest.fixture
def console_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Rasa is not running: every send fails, and says so.
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{closed_port()}")
    get_settings.cache_clear()
    with get_session_factory(database_url).begin() as session:
        for name, role, language in (
            ("alice", "agent", None),
            ("eve", "editor", "fr"),  # reads the console in French
            ("fay", "editor", "en"),
        ):
            accounts.add_agent(session=session, name=name, role=role,
                               password=PASSWORD, language=language)  # fmt: skip
    _record(database_url, utcnow())
    yield database_url
    get_settings.cache_clear()


def signed_in(name: str) -> tuple[object, str]:
    browser = client()
    return browser, log_in(browser, name)


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_who_got_what_is_for_editors_and_counts_by_channel_and_reach(
    console_db: str,
) -> None:
    agent, _ = signed_in("alice")
    assert agent.get("/corrections").status_code == 403
    editor, _ = signed_in("eve")
    index = text_of(editor.get("/corrections").text)
    # 8 people got an earlier answer; 4 can be told now or on return.
    assert re.search(r"\(affected_products\) 8 4", index), index
    page = editor.get(f"/corrections/topics/{TOPIC.key}")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "8 personnes ont reçu une réponse antérieure" in shown
    assert "4 peuvent être prévenues maintenant ou à leur retour" in shown
    # Messenger, French: one now, one too late for the channel.
    assert re.search(r"Messenger Français 1 1 ", shown), shown
    assert "Chat du site" in shown or "chat du site" in shown
    assert editor.get("/corrections/topics/nope").status_code == 404


def test_drafted_by_one_editor_approved_by_another_then_sent_from_the_page(
    console_db: str,
) -> None:
    eve, token = signed_in("eve")
    refused = eve.post(
        f"/corrections/topics/{TOPIC.key}",
        data={"csrf": token, "changed": "  ", "text_fr": "", "text_en": ""},
    )
    assert refused.headers["location"] == f"/corrections/topics/{TOPIC.key}"
    assert "Say what changed" in eve.get(refused.headers["location"]).text
    drafted = eve.post(
        f"/corrections/topics/{TOPIC.key}",
        data={"csrf": token, "changed": "deux lots de plus", "text_fr": "",
              "text_en": "Update: two more lots.\nSee the list."},
    )  # fmt: skip
    location = drafted.headers["location"]
    correction_id = int(location.rsplit("/", 1)[1])
    page = eve.get(location).text
    assert "Mise à jour : deux lots de plus" in page  # prefilled in French
    assert "Update: two more lots." in page
    assert 'id="approve"' not in page and "waiting-approval" in page
    eve.post(f"{location}/approve", data={"csrf": token})
    assert "another editor or an admin must approve it" in eve.get(location).text

    fay, fay_token = signed_in("fay")
    assert 'id="approve"' in fay.get(location).text
    fay.post(f"{location}/approve", data={"csrf": fay_token})
    page = fay.get(location).text
    assert "Correction approved: it can be sent." in page and 'id="send"' in page

    # Sent from the page: a process of its own, followed by the page. Rasa is
    # down, so the four people who could be told fail, and say why; the
    # others are counted where the channel's rules leave them.
    fay.post(f"{location}/send", data={"csrf": fay_token})
    factory = get_session_factory(console_db)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with factory.begin() as session:
            state = session.get(drafts.Correction, correction_id).job_state
        if state != jobs.RUNNING:
            break
        time.sleep(0.5)
    assert state == jobs.FINISHED
    with factory.begin() as session:
        outcomes = dict(
            session.execute(
                select(sending.CorrectionSend.conversation_id,
                       sending.CorrectionSend.outcome)
            ).all()
        )  # fmt: skip
    assert outcomes == {
        "messenger-2h": "failed", "instagram-23h": "failed",
        "telegram-10d": "failed", "web": "failed",
        "messenger-30h": "out_of_window", "whatsapp-30h": "out_of_window",
        "rest": "never", "no-messages": "unknown",
    }  # fmt: skip
    page = text_of(fay.get(location).text)
    assert "sending finished" in page and "4 failed: send again to retry them." in page
    assert "failed (tried again on the next send) 4" in page
    assert "Send again (nobody gets it twice)" in page
    events = fay.get(f"{location}/events")
    assert '"failed": 4' in events.text and '"job": "finished"' in events.text


def test_a_running_send_is_stopped_between_two_people(console_db: str) -> None:
    factory = get_session_factory(console_db)
    with factory.begin() as session:
        correction = drafts.draft(
            session=session, topic=TOPIC, changed="deux lots de plus", author="eve"
        )
        drafts.approve(
            session=session, correction_id=correction.id, approver="fay",
            is_admin=False, topic=TOPIC,
        )  # fmt: skip
        correction_id = int(correction.id)
        # A job running in this process (as `relais corrections send` does).
        jobs.claim(session=session, correction_id=correction_id, by="fay",
                   pid=os.getpid())  # fmt: skip
    eve, token = signed_in("eve")
    location = f"/corrections/{correction_id}"
    page = eve.get(location).text
    assert 'id="cancel"' in page and "envoi en cours" in page
    eve.post(f"{location}/cancel", data={"csrf": token})
    page = text_of(eve.get(location).text)
    assert "Arrêt après la personne en cours d'envoi" in page
    assert "Arrêt demandé par eve" in page
    watch = jobs.CancelWatch(factory, correction_id)
    assert watch() is True
    # A second job of the same correction is refused while one runs.
    with (
        pytest.raises(drafts.CorrectionError, match="being sent already"),
        factory.begin() as session,
    ):
        jobs.claim(session=session, correction_id=correction_id, by="eve", pid=1)


class ChatRasa(RecordingRasa):
    """Rasa's HTTP API as the console's reply uses it (the conversation is
    not paused: the agent's first message pauses it)."""

    def is_paused(self, conversation_id: str) -> bool:
        return False


def test_a_person_talking_to_an_agent_gets_the_correction_from_the_agent(
    console_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = get_session_factory(console_db)
    with factory.begin() as session:
        ticket = queue.enqueue(session=session, request=queue.HandoffRequest(
            "web", "socketio", "fr", "health", "high", "j'ai été malade"))  # fmt: skip
        queue.claim(session=session, ticket_id=ticket.id, agent="alice")
        ticket_id = int(ticket.id)
    correction_id = _approved(console_db)
    rasa = ChatRasa()
    progress = sending.send(
        factory=factory, rasa=rasa, correction_id=correction_id, topic=TOPIC,
        channels=ChannelSettings(), sleep=lambda _: None,
    )  # fmt: skip
    # Not interrupted: nothing went into the conversation the agent holds.
    assert progress.counts[sending.WITH_AGENT] == 1
    assert "web" not in {conversation for conversation, _, _ in rasa.sent}
    monkeypatch.setattr("bot.console.app._rasa", lambda settings: rasa)

    alice, token = signed_in("alice")
    page = alice.get(f"/tickets/{ticket_id}").text
    assert f'id="correction-{correction_id}"' in page
    assert "Mise à jour : deux lots de plus" in page  # in the person's language
    sent = alice.post(
        f"/tickets/{ticket_id}/correction",
        data={"csrf": token, "correction": str(correction_id)},
    )
    assert sent.status_code == 303
    page = alice.get(f"/tickets/{ticket_id}").text
    assert "Correction sent." in page
    # The transcript says which correction the message was.
    assert f"correction #{correction_id}" in page
    assert CORRECTION_MARK == sending.MARK
    (bot,) = [e for e in rasa.events["web"] if e["event"] == "bot"]
    assert bot["text"].startswith("Mise à jour : deux lots de plus")
    assert bot["metadata"][sending.MARK] == correction_id  # in the transcript
    assert bot["metadata"]["agent"] == "alice"
    with factory.begin() as session:
        assert (
            sending.progress(session=session, correction_id=correction_id).counts[
                sending.SENT
            ]
            == 4
        )  # the three the job reached, and this one
    assert (
        f'id="correction-{correction_id}"'
        not in alice.get(f"/tickets/{ticket_id}").text
    )
    # Once only: sending it again is refused, and nothing more goes out.
    again = alice.post(
        f"/tickets/{ticket_id}/correction",
        data={"csrf": token, "correction": str(correction_id)},
        headers={"accept": "application/json"},
    )
    assert again.status_code == 409
    assert "not waiting for this conversation" in again.json()["message"]
    assert len([e for e in rasa.events["web"] if e["event"] == "bot"]) == 1
    # The post-crisis report's corrections part: who approved it, and what
    # became of the eight people (three sent by the job, one by the agent).
    report = alice.get("/report?period=24h&format=html&language=fr")
    assert report.status_code == 200
    part = text_of(report.text.split('id="part-corrections"')[1].split("</section>")[0])
    assert "Corrections envoyées" in part
    assert re.search(
        rf"#{correction_id} affected_products deux lots de plus par malik, "
        r"\d\d/\d\d \d\d:\d\d 3 1 2 2 0",
        part,
    ), part


def test_news_for_subscribers_is_drafted_from_the_corrections_page(
    console_db: str,
) -> None:
    from bot.corrections import subscriptions

    with get_session_factory(console_db).begin() as session:
        for conversation, topic in (("tg-1", TOPIC.key), ("tg-2", ""), ("tg-3", "")):
            subscriptions.subscribe(
                session=session, conversation_id=conversation, topic=topic,
                channel="telegram", language="fr",
            )  # fmt: skip
        subscriptions.stop(session=session, conversation_id="tg-3",
                           channel="telegram", language="fr")  # fmt: skip
    fay, token = signed_in("fay")
    index = text_of(fay.get("/corrections").text)
    assert "the whole crisis 1 Send news" in index
    assert "Produits concernés 1 Send news" in index
    assert "1 person said stop" in index
    form = text_of(fay.get(f"/corrections/updates/new?topic={TOPIC.key}").text)
    # The topic's subscriber and the whole crisis's.
    assert "2 people asked to be kept informed of this" in form
    drafted = fay.post(
        "/corrections/updates",
        data={"csrf": token, "topic": TOPIC.key, "changed": "deux lots de plus",
              "text_fr": "", "text_en": ""},
    )  # fmt: skip
    page = text_of(fay.get(drafted.headers["location"]).text)
    assert "News for subscribers" in page and "Du nouveau : deux lots de plus" in page
    assert fay.get("/corrections/updates/new?topic=nope").status_code == 404

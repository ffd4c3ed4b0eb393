"""Keep me informed (issue 30, bot/corrections/subscriptions.py): who asked
for news on what, "stop", updates to subscribers through the corrections'
four-eyes and job, and the retention rules. The chat side, with a real
Rasa and the providers' stand-ins, is in tests/test_brand_channels.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.channel_settings import ChannelSettings
from bot.corrections import drafts, sending, subscriptions
from bot.corrections.recipients import NOW, OUT_OF_WINDOW
from bot.corrections.subscriptions import WHOLE_CRISIS
from bot.db import get_session_factory
from bot.insights.models import MessageFact
from tests.test_corrections import TOPIC, RecordingRasa, _approved, _record

NOW_AT = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
# (conversation, channel, language, topic, hours since their last message)
PEOPLE = [
    ("tg-ana", "telegram", "fr", TOPIC.key, 50),
    ("ms-ben", "messenger", "en", WHOLE_CRISIS, 2),
    ("ms-old", "messenger", "fr", WHOLE_CRISIS, 30),
    ("web-cleo", "socketio", "fr", "refund", 1),  # another topic's news only
]


def _subscribe(url: str) -> None:
    with get_session_factory(url).begin() as session:
        for conversation, channel, language, topic, hours in PEOPLE:
            at = NOW_AT - timedelta(hours=hours)
            assert subscriptions.subscribe(
                session=session, conversation_id=conversation, topic=topic,
                channel=channel, language=language, now=at,
            )  # fmt: skip
            session.add(MessageFact(conversation_id=conversation, at=at,
                                    channel=channel, language=language,
                                    text="prévenez-moi"))  # fmt: skip


def _update(url: str, topic: object, news: str) -> int:
    with get_session_factory(url).begin() as session:
        update = drafts.draft(
            session=session, topic=topic, changed=news, author="claire",  # type: ignore[arg-type]
            audience=drafts.SUBSCRIBERS,
        )  # fmt: skip
        drafts.approve(session=session, correction_id=update.id, approver="malik",
                       is_admin=False, topic=None)  # fmt: skip
        return int(update.id)


def _send(url: str, update_id: int, rasa: RecordingRasa) -> sending.Progress:
    return sending.send(
        factory=get_session_factory(url), rasa=rasa, correction_id=update_id,  # type: ignore[arg-type]
        topic=None, channels=ChannelSettings(), now=lambda: NOW_AT,
        sleep=lambda _: None,
    )  # fmt: skip


def test_news_on_a_topic_reaches_its_subscribers_and_the_whole_crisiss(
    database_url: str,
) -> None:
    _subscribe(database_url)
    with get_session_factory(database_url).begin() as session:
        # Asking twice does not subscribe twice.
        assert not subscriptions.subscribe(
            session=session, conversation_id="tg-ana", topic=TOPIC.key,
            channel="telegram", language="fr", now=NOW_AT,
        )  # fmt: skip
        assert subscriptions.counts(session=session) == {
            TOPIC.key: 1, WHOLE_CRISIS: 2, "refund": 1,
        }  # fmt: skip
        people = subscriptions.subscribers(
            session=session, topic=TOPIC.key, now=NOW_AT, channels=ChannelSettings()
        )
    assert {p.conversation_id: p.reach for p in people} == {
        "tg-ana": NOW, "ms-ben": NOW, "ms-old": OUT_OF_WINDOW,
    }  # fmt: skip

    rasa = RecordingRasa()
    update_id = _update(database_url, TOPIC, "deux lots de plus")
    progress = _send(database_url, update_id, rasa)
    assert progress.counts == {sending.SENT: 2, OUT_OF_WINDOW: 1}
    sent = {conversation: text for conversation, _, text in rasa.sent}
    assert sent["tg-ana"].startswith("Du nouveau : deux lots de plus\n")
    assert sent["ms-ben"].startswith("News: deux lots de plus\n")
    # Each update carries the button that stops the news, in the person's language.
    (event,) = rasa.events["ms-ben"]
    assert event["data"]["buttons"] == [
        {"title": "Stop the updates", "payload": "/unsubscribe"}
    ]
    # News on the whole crisis: its own subscribers only.
    rasa = RecordingRasa()
    _send(database_url, _update(database_url, None, "les magasins rouvrent"), rasa)
    assert sorted(c for c, _, _ in rasa.sent) == ["ms-ben"]
    assert rasa.sent[0][2] == "News: les magasins rouvrent"


def test_stop_ends_the_news_and_the_corrections_until_asked_again(
    database_url: str,
) -> None:
    _subscribe(database_url)
    _record(database_url, NOW_AT)  # people who got an earlier answer
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        assert subscriptions.stop(session=session, conversation_id="ms-ben",
                                  channel="messenger", language="en") == 1  # fmt: skip
        # Someone who never subscribed says stop: a correction skips them too.
        assert subscriptions.stop(session=session, conversation_id="messenger-2h",
                                  channel="messenger", language="fr") == 0  # fmt: skip
        assert subscriptions.opted_out(session=session) == {"ms-ben", "messenger-2h"}
    rasa = RecordingRasa()
    _send(database_url, _update(database_url, None, "les magasins rouvrent"), rasa)
    assert rasa.sent == []  # ms-old is out of window, ms-ben said stop

    correction = sending.send(
        factory=factory, rasa=RecordingRasa(), correction_id=_approved(database_url),  # type: ignore[arg-type]
        topic=TOPIC, channels=ChannelSettings(), now=lambda: NOW_AT,
        sleep=lambda _: None,
    )  # fmt: skip
    assert correction.counts[sending.OPTED_OUT] == 1
    with factory.begin() as session:
        outcome = session.get(sending.CorrectionSend, (correction.correction_id,
                                                        "messenger-2h"))  # fmt: skip
        assert outcome is not None and outcome.outcome == sending.OPTED_OUT
        # Asking for news again lifts the stop.
        subscriptions.subscribe(session=session, conversation_id="ms-ben",
                                topic=WHOLE_CRISIS, channel="messenger",
                                language="en", now=NOW_AT)  # fmt: skip
        assert subscriptions.opted_out(session=session) == {"messenger-2h"}


def test_a_purge_forgets_subscriptions_of_people_silent_since(
    database_url: str,
) -> None:
    from bot.retention import Removed, purge_relais

    _subscribe(database_url)
    removed = Removed()
    with get_session_factory(database_url).begin() as session:
        # Kept 24 hours: Ben (2 h) and Cléo (1 h) wrote since; Ana and the
        # old Messenger subscriber did not.
        purge_relais(session, NOW_AT - timedelta(hours=24), removed)
    with get_session_factory(database_url).begin() as session:
        left = set(session.scalars(select(subscriptions.Subscription.conversation_id)))
    assert left == {"ms-ben", "web-cleo"}
    assert removed.counts["subscriptions to news"] == 2

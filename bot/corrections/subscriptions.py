"""Keep me informed: people who asked to be told of news, and those who said stop.

A person subscribes in the chat ("prévenez-moi", "keep me posted", or the
button the bot offers), for one topic (the one they were last answered on,
or the button's) or for the whole crisis. "stop" ends every subscription of
theirs at once, and marks them as opted out: they get neither updates nor
corrections until they ask again.

Editors send updates to subscribers as they send corrections (four-eyes,
the same job, bot/corrections/sending.py): an update on a topic reaches the
topic's subscribers and the whole crisis's; an update on the whole crisis
reaches the crisis's subscribers.

A subscription is a conversation id: `relais purge` removes those whose
person has written nothing within the retention period (bot/retention.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, func, select
from sqlalchemy.orm import Session

from bot.channel_settings import ChannelSettings
from bot.corrections import recipients
from bot.db import Base, UTCDateTime, utcnow
from bot.insights.models import MessageFact

WHOLE_CRISIS = ""  # the topic of a subscription to every update


class Subscription(Base):
    __tablename__ = "subscription"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    topic = Column(String(100), nullable=False)  # WHOLE_CRISIS: every update
    channel = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    stopped_at = Column(UTCDateTime)  # "stop": no update nor correction since

    __table_args__ = (
        Index("ix_subscription_topic_stopped", "topic", "stopped_at"),
        Index("ix_subscription_conversation", "conversation_id"),
    )


def subscribe(
    *,
    session: Session,
    conversation_id: str,
    topic: str,
    channel: str,
    language: str,
    now: datetime | None = None,
) -> bool:
    """Subscribes the person to `topic` (WHOLE_CRISIS: everything); False
    when they already were. A "stop" they said before no longer holds."""
    now = now or utcnow()
    rows = list(
        session.execute(
            select(Subscription).where(Subscription.conversation_id == conversation_id)
        ).scalars()
    )
    if any(r.topic == topic and r.stopped_at is None for r in rows):
        return False
    session.add(
        Subscription(
            conversation_id=conversation_id, topic=topic, channel=channel,
            language=language, created_at=now,
        )
    )  # fmt: skip
    session.flush()
    return True


def stop(
    *,
    session: Session,
    conversation_id: str,
    channel: str,
    language: str,
    now: datetime | None = None,
) -> int:
    """Ends every subscription of the person; returns how many there were.
    Either way the person is marked as having said stop."""
    now = now or utcnow()
    active = list(
        session.execute(
            select(Subscription).where(
                Subscription.conversation_id == conversation_id,
                Subscription.stopped_at.is_(None),
            )
        ).scalars()
    )
    for row in active:
        row.stopped_at = now
    if not active:
        session.add(
            Subscription(
                conversation_id=conversation_id, topic=WHOLE_CRISIS,
                channel=channel, language=language, created_at=now, stopped_at=now,
            )
        )  # fmt: skip
    session.flush()
    return len(active)


def opted_out(*, session: Session) -> set[str]:
    """The people who said stop and have not asked for news since."""
    stopped = set(
        session.execute(
            select(Subscription.conversation_id).where(
                Subscription.stopped_at.is_not(None)
            )
        ).scalars()
    )
    if not stopped:
        return set()
    active = set(
        session.execute(
            select(Subscription.conversation_id).where(
                Subscription.stopped_at.is_(None)
            )
        ).scalars()
    )
    return stopped - active


def counts(*, session: Session) -> dict[str, int]:
    """Active subscriptions per topic (WHOLE_CRISIS included)."""
    return dict(
        session.execute(
            select(Subscription.topic, func.count())
            .where(Subscription.stopped_at.is_(None))
            .group_by(Subscription.topic)
        ).all()
    )


def subscribers(
    *,
    session: Session,
    topic: str,
    now: datetime,
    channels: ChannelSettings,
) -> list[recipients.Recipient]:
    """Everyone an update on `topic` is for (WHOLE_CRISIS: an update on the
    whole crisis), once each, with what their channel allows now."""
    topics = {WHOLE_CRISIS, topic}
    rows = session.execute(
        select(Subscription)
        .where(Subscription.topic.in_(topics), Subscription.stopped_at.is_(None))
        .order_by(Subscription.id)
    ).scalars()
    people: dict[str, Subscription] = {}
    for row in rows:
        people.setdefault(row.conversation_id, row)
    if not people:
        return []
    latest = (
        select(func.max(MessageFact.id))
        .where(MessageFact.conversation_id.in_(list(people)))
        .group_by(MessageFact.conversation_id)
    )
    last = {
        conversation: at
        for conversation, at in session.execute(
            select(MessageFact.conversation_id, MessageFact.at).where(
                MessageFact.id.in_(latest)
            )
        )
    }
    return [
        recipients.Recipient(
            conversation_id=conversation,
            language=row.language,
            version="",
            received_at=row.created_at,
            channel=row.channel,
            last_message_at=last.get(conversation),
            reach=recipients.reach(row.channel, last.get(conversation), now, channels),
        )
        for conversation, row in people.items()
    ]

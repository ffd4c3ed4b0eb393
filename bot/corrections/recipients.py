"""Who got which version of an answer, and who can still be told it changed.

The holding statement counts as an answer here: every version sent is
recorded (bot/faq/answers.py), and `correctable` gives it as a topic.

Every FAQ answer sent is recorded with its version (bot/faq/audit.py). When a
topic's answer changes, the people to correct are those whose latest answer
on that topic is not the current one in their language: a person who asked
again after the change already has the new answer.

Where each of them wrote, and when last, comes from the messages the console
records (bot/insights, `message_fact`). What may be sent to them now follows
the channel's rules for a message the brand starts (not a reply an agent
types in a conversation, which Meta's HUMAN_AGENT tag covers up to 7 days):

- Messenger and Instagram: within 24 hours of the person's last message;
- WhatsApp: within 24 hours, and past them only as a template Meta approved
  beforehand (RELAIS_WHATSAPP_TEMPLATE), which invites the person to write;
- Telegram: at any time;
- the web chat: at once if the person is connected, otherwise when they come
  back (the correction is in their conversation, which the chat redraws);
- the REST API: never (its caller only reads the reply to its own request).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.channel_settings import ChannelSettings
from bot.faq.audit import AnswerSent
from bot.faq.live import current_pack, version
from bot.faq.pack import Topic
from bot.faq.statement import STATEMENT_TOPIC, statement_topic
from bot.handoff.window import FREE, WINDOWED
from bot.insights.models import MessageFact
from bot.settings import Settings

# What can be done for one person now.
NOW = "now"  # sent at once
ON_RETURN = "on_return"  # web chat: delivered now if connected, else on return
TEMPLATE = "template"  # WhatsApp past 24 hours: the approved template only
OUT_OF_WINDOW = "out_of_window"  # Messenger, Instagram, WhatsApp: too late
NEVER = "never"  # REST: nothing can reach the caller
UNKNOWN = "unknown"  # where or when they last wrote is not known
REACHES = (NOW, ON_RETURN, TEMPLATE, OUT_OF_WINDOW, NEVER, UNKNOWN)
DELIVERABLE = (NOW, ON_RETURN)


def reach(
    channel: str,
    last_message_at: datetime | None,
    now: datetime,
    channels: ChannelSettings,
) -> str:
    """What a correction can do for a person on `channel` whose last message
    was at `last_message_at` (see the module's doc)."""
    if channel == "telegram":
        return NOW
    if channel == "socketio":
        return ON_RETURN
    if channel == "rest":
        return NEVER
    if channel not in WINDOWED or last_message_at is None:
        return UNKNOWN
    if now < last_message_at + FREE:
        return NOW
    if channel == "whatsapp" and channels.whatsapp_template:
        return TEMPLATE
    return OUT_OF_WINDOW


@dataclass(frozen=True)
class Recipient:
    """A person whose latest answer on the topic is not the current one."""

    conversation_id: str
    language: str
    version: str  # the version they received
    received_at: datetime
    channel: str  # "" when not known
    last_message_at: datetime | None
    reach: str


def correctable(settings: Settings) -> dict[str, Topic]:
    """What a correction can be of: every topic as it is live now, and the
    active holding statement (as a topic whose answers are its messages;
    who got an earlier statement is recorded as for answers)."""
    from bot.db import get_session_factory

    topics = dict(current_pack(settings))
    with get_session_factory(settings.database_url).begin() as session:
        statement = statement_topic(
            session=session, zone=settings.timezone, brand=settings.profile.brand
        )
    if statement is not None:
        topics[STATEMENT_TOPIC] = statement
    return topics


def current_versions(topic: Topic) -> dict[str, str]:
    """The version of the topic's answer in each language it has."""
    return {lang: version(text) for lang, text in topic.answers.items() if text}


def outdated(
    *,
    session: Session,
    topic: Topic,
    now: datetime,
    channels: ChannelSettings,
) -> list[Recipient]:
    """Everyone whose latest answer on `topic` differs from its current
    answer in the language they received it in, oldest first."""
    return outdated_from(
        session=session, topic=topic.key, current=current_versions(topic),
        now=now, channels=channels,
    )  # fmt: skip


def outdated_from(
    *,
    session: Session,
    topic: str,
    current: dict[str, str],
    now: datetime,
    channels: ChannelSettings,
) -> list[Recipient]:
    """Everyone whose latest answer on `topic` is not `current`'s version in
    the language they received it in (a correction: the versions it
    announces), oldest first."""
    latest_ids = (
        select(func.max(AnswerSent.id))
        # A purge blanks the conversation ids past the retention period.
        .where(AnswerSent.topic == topic, AnswerSent.conversation_id != "")
        .group_by(AnswerSent.conversation_id)
    )
    answers = session.execute(
        select(AnswerSent).where(AnswerSent.id.in_(latest_ids)).order_by(AnswerSent.id)
    ).scalars()
    stale = [a for a in answers if current.get(a.language) != a.version]
    if not stale:
        return []
    seen = _last_messages(session, topic)
    result = []
    for answer in stale:
        channel, last_at = seen.get(answer.conversation_id, ("", None))
        result.append(
            Recipient(
                conversation_id=answer.conversation_id,
                language=answer.language,
                version=answer.version,
                received_at=answer.sent_at,
                channel=channel,
                last_message_at=last_at,
                reach=reach(channel, last_at, now, channels),
            )
        )
    return result


def _last_messages(
    session: Session, topic_key: str
) -> dict[str, tuple[str, datetime | None]]:
    """The channel and time of the latest message of each conversation that
    received an answer on the topic."""
    received = select(AnswerSent.conversation_id).where(AnswerSent.topic == topic_key)
    latest = (
        select(func.max(MessageFact.id))
        .where(MessageFact.conversation_id.in_(received))
        .group_by(MessageFact.conversation_id)
    )
    rows = session.execute(
        select(MessageFact.conversation_id, MessageFact.channel, MessageFact.at).where(
            MessageFact.id.in_(latest)
        )
    )
    return {conversation: (channel, at) for conversation, channel, at in rows}


@dataclass(frozen=True)
class Summary:
    """How many people got an earlier answer, by channel, language and reach."""

    topic: str
    current: dict[str, str]
    counts: Counter[tuple[str, str, str]]  # (channel, language, reach) -> people

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def deliverable(self) -> int:
        return sum(n for (_, _, r), n in self.counts.items() if r in DELIVERABLE)


def summarise(topic: Topic, recipients: list[Recipient]) -> Summary:
    return Summary(
        topic=topic.key,
        current=current_versions(topic),
        counts=Counter((r.channel, r.language, r.reach) for r in recipients),
    )

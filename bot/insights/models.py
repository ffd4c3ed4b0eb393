"""Tables of the crisis figures.

`message_fact`: one row per message a person wrote, with what became of it
(answered, "did you mean", declined, handed off, out of scope, small talk,
with a human), its topic, language, channel and mood. It holds the text
(e-mail addresses and phone numbers removed) for the gaps, so it is personal
data: `relais purge` deletes old rows.

`stat_bucket`: the same messages counted per 5 minutes, language, topic and
outcome. It holds no personal data and is kept for the report after a purge.

`gap_spike`: each spike alert raised (a group of unanswered questions growing
much faster than its own baseline), and the topic an editor drafted from it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Text

from bot.db import Base, UTCDateTime, utcnow

# What became of a message.
ANSWERED = "answered"
DID_YOU_MEAN = "did_you_mean"
DECLINED = "declined"
HANDOFF = "handoff"
OUT_OF_SCOPE = "out_of_scope"
SMALL_TALK = "small_talk"
HUMAN = "human"  # written while a human has (or is about to have) the conversation
NO_REPLY = "no_reply"  # nothing answered it (Rasa stopped, or a paused conversation)
PENDING = "pending"
OUTCOMES = (
    ANSWERED,
    DID_YOU_MEAN,
    DECLINED,
    HANDOFF,
    OUT_OF_SCOPE,
    SMALL_TALK,
    HUMAN,
    NO_REPLY,
)
# What the bot could not answer itself: the gaps.
GAP_OUTCOMES = (DID_YOU_MEAN, DECLINED, HANDOFF, OUT_OF_SCOPE)
BUCKET_MINUTES = 5


class MessageFact(Base):
    __tablename__ = "message_fact"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    channel = Column(String(64), nullable=False, default="")
    language = Column(String(8), nullable=False)
    text = Column(Text, nullable=False)
    intent = Column(String(64), nullable=False, default="")
    # The FAQ topic answered (or the classifier's first choice otherwise).
    topic = Column(String(100), nullable=False, default="")
    outcome = Column(String(16), nullable=False, default=PENDING)
    negative = Column(Float, nullable=False, default=0.0)
    anger = Column(Float, nullable=False, default=0.0)
    mood = Column(String(8), nullable=False, default="neutral")
    # The conversation's first message, and its first in this 5-minute bucket.
    new_conversation = Column(Boolean, nullable=False, default=False)
    new_in_bucket = Column(Boolean, nullable=False, default=False)
    # Whether the gate would offer nothing to click ("declined" rather than
    # "did you mean" if the bot clarifies).
    declinable = Column(Boolean, nullable=False, default=False)
    # What the message means, as the Rasa process encoded it
    # (bot.nlu.encoder.to_text); None for messages from before issue 27.
    meaning = Column(Text, nullable=True)

    __table_args__ = (
        Index("ix_message_fact_at", "at"),
        Index("ix_message_fact_outcome_at", "outcome", "at"),
        Index("ix_message_fact_conversation_id_id", "conversation_id", "id"),
    )


class StatBucket(Base):
    __tablename__ = "stat_bucket"

    start = Column(UTCDateTime, primary_key=True)
    language = Column(String(8), primary_key=True)
    topic = Column(String(100), primary_key=True)
    outcome = Column(String(16), primary_key=True)
    messages = Column(Integer, nullable=False, default=0)
    # Conversations writing in this bucket, and conversations started in it.
    conversations = Column(Integer, nullable=False, default=0)
    started = Column(Integer, nullable=False, default=0)
    negative = Column(Integer, nullable=False, default=0)  # negative or angry
    angry = Column(Integer, nullable=False, default=0)


class GapSpike(Base):
    __tablename__ = "gap_spike"

    id = Column(Integer, primary_key=True)
    detected_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The group as it was when the alert fired.
    label = Column(Text, nullable=False)
    recent = Column(Integer, nullable=False)
    baseline = Column(Float, nullable=False)
    examples = Column(JSON, nullable=False)
    nearest_topic = Column(String(100))
    # Its phrasings, folded (gaps.fold): a later alert about the same
    # group is recognised by them.
    phrasings = Column(JSON, nullable=False)
    notified_at = Column(UTCDateTime)
    notify_error = Column(Text)
    # The topic an editor drafted from this group, and when.
    topic = Column(String(100))
    topic_at = Column(UTCDateTime)

    __table_args__ = (Index("ix_gap_spike_detected_at", "detected_at"),)

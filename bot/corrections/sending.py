"""Sending an approved correction: a job that survives a storm and a crash.

Each person to correct (bot/corrections/recipients.py) gets one row in
`correction_send`, written before their message is sent, so a job that
stops anywhere, crash or restart, is run again with the same command and
messages nobody twice:

1. the row is written with the outcome `sending` and committed;
2. the message goes into the person's conversation through Rasa, on the
   channel they wrote on (Rasa's own send path, as an agent's reply does),
   marked with the correction's id in the tracker, so transcripts and the
   report show who was corrected and when;
3. the row becomes `sent`.

A row left at `sending` by a crash is checked against the conversation
before anything is sent again: if the correction is in it, the row becomes
`sent`. People the channel's rules put out of reach now are counted, not
messaged (`out_of_window`, `template`, `never`, `unknown`), and looked at
again when the job runs again (REST callers excepted: nothing ever reaches
them); past WhatsApp's 24 hours, with the brand's approved template
(RELAIS_WHATSAPP_TEMPLATE), the template goes out once (`invited`) and the
correction follows on a later run, once the person has written; a person
who said "stop" is `opted_out` (told again only if they ask
for news again); a person an agent is talking to (an open handoff) is not
interrupted: `with_agent`, the agent sees it on the conversation's page and
sends it (`passed_on`); if the conversation is closed before, the next run
sends it. A send Rasa refuses is
`failed`, with the reason, and is tried again when the job runs again.

Sends are spaced per channel under the providers' rates (Telegram about 30
messages a second per bot; Meta's Send API and WhatsApp Cloud within their
own), the channels taking turns so that one channel's pace does not hold
up the others; the job stops between two people when it is cancelled.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.channel_settings import ChannelSettings
from bot.corrections import MARK, recipients, subscriptions
from bot.corrections.drafts import APPROVED, Correction, CorrectionError
from bot.db import Base, UTCDateTime, utcnow
from bot.faq.pack import Topic
from bot.handoff.agent import template_event
from bot.handoff.models import ASSIGNED, WAITING, Ticket
from bot.rasa_api import RasaClient, RasaError

logger = logging.getLogger(__name__)

SENDING, SENT, WITH_AGENT, FAILED = "sending", "sent", "with_agent", "failed"
OPTED_OUT = "opted_out"  # said "stop" (bot/corrections/subscriptions.py)
# WhatsApp past 24 hours: the brand's approved template went out, inviting the
# person to write; when they do, the next run sends them the correction.
INVITED = "invited"
# The mark an invitation leaves in the tracker (not the correction's own).
INVITE_MARK = "relais_correction_invite"
# Outcomes that are final: the job does not come back to these people. The
# others are looked at again when the job runs again: a person out of their
# channel's window who has written since can be told then, a person whose
# conversation with an agent has closed too.
FINAL = (SENT, recipients.NEVER)
# Messages per second per channel, under each provider's limit.
RATES = {"telegram": 25.0, "messenger": 20.0, "instagram": 20.0, "whatsapp": 20.0}
DEFAULT_RATE = 50.0


class CorrectionSend(Base):
    """One person's outcome for one correction (the idempotency record)."""

    __tablename__ = "correction_send"

    correction_id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), primary_key=True)
    channel = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False)
    outcome = Column(String(16), nullable=False)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    error = Column(Text)
    # The job that claimed the person last (a job resuming takes over only
    # what is still as it read it).
    job = Column(String(32), nullable=False)


@dataclass
class Progress:
    """Where a correction's sending stands: people by outcome."""

    correction_id: int
    counts: Counter[str] = field(default_factory=Counter)
    cancelled: bool = False

    @property
    def done(self) -> int:
        return sum(n for outcome, n in self.counts.items() if outcome in FINAL)


def progress(*, session: Session, correction_id: int) -> Progress:
    rows = session.execute(
        select(CorrectionSend.outcome).where(
            CorrectionSend.correction_id == correction_id
        )
    ).scalars()
    return Progress(correction_id, Counter(rows))


def for_agent(*, session: Session, conversation_id: str) -> list[Correction]:
    """The approved corrections left to the agent who holds this conversation."""
    return list(
        session.execute(
            select(Correction)
            .join(
                CorrectionSend,
                CorrectionSend.correction_id == Correction.id,
            )
            .where(
                CorrectionSend.conversation_id == conversation_id,
                CorrectionSend.outcome == WITH_AGENT,
                Correction.state == APPROVED,
            )
            .order_by(Correction.id)
        ).scalars()
    )


def passed_on(
    *, session: Session, correction_id: int, conversation_id: str, agent: str
) -> None:
    """Records that the agent sent the correction into the conversation."""
    row = session.get(CorrectionSend, (correction_id, conversation_id))
    if row is None or row.outcome != WITH_AGENT:
        raise CorrectionError(
            f"Correction #{correction_id} is not waiting for this conversation."
        )
    row.outcome, row.at, row.job = SENT, utcnow(), f"agent:{agent}"[:32]


# The button under an update: the person stops the news with one tap.
STOP_BUTTON = {
    "fr": "Ne plus être prévenu",
    "en": "Stop the updates",
}
STOP_PAYLOAD = "/unsubscribe"


def bot_event(correction: Correction, language: str) -> dict[str, object]:
    """The correction as a bot message in the person's conversation. (Its
    `custom` data reaches the web chat as a second message, which shows it
    at the top of the chat too; other channels send the text alone.) An
    update carries a button that stops the updates."""
    data: dict[str, object] = {"custom": {"data": {MARK: correction.id}}}
    if correction.is_update:
        data["buttons"] = [{"title": STOP_BUTTON[language], "payload": STOP_PAYLOAD}]
    return {
        "event": "bot",
        "text": correction.text(language),
        "timestamp": time.time(),
        "metadata": {MARK: correction.id},
        "data": data,
    }


def already_in(tracker: dict[str, object], correction_id: int) -> bool:
    """Whether the conversation holds the correction (a crash after the send)."""
    events = tracker.get("events") or []
    assert isinstance(events, list)
    return any(
        event.get("event") == "bot"
        and (event.get("metadata") or {}).get(MARK) == correction_id
        for event in events
    )


def send(
    *,
    factory: sessionmaker[Session],
    rasa: RasaClient,
    correction_id: int,
    topic: Topic | None,
    channels: ChannelSettings,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    cancelled: Callable[[], bool] = lambda: False,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Sends an approved correction to everyone it concerns who has not had
    it yet; safe to run again after any stop, and beside another job of the
    same correction (each person is claimed by one job; see the module's
    doc). `topic` is the topic as it is live now: a correction of an answer
    that has changed again since its approval is not sent."""
    job = uuid.uuid4().hex
    with factory.begin() as session:
        correction = session.get(Correction, correction_id)
        if correction is None:
            raise CorrectionError(f"No correction #{correction_id}.")
        if correction.state != APPROVED:
            raise CorrectionError(
                f"Correction #{correction_id} is {correction.state}: only an "
                "approved correction is sent."
            )
        if correction.is_update:
            people = subscriptions.subscribers(
                session=session, topic=correction.topic, now=now(), channels=channels
            )
        elif topic is None or recipients.current_versions(topic) != correction.towards:
            raise CorrectionError(
                f"The answer of {correction.topic!r} has changed since correction "
                f"#{correction_id} was approved: draft a new one from the current "
                "answer."
            )
        else:
            people = recipients.outdated_from(
                session=session, topic=correction.topic,
                current=dict(correction.towards), now=now(), channels=channels,
            )  # fmt: skip
        session.expunge(correction)
        said_stop = subscriptions.opted_out(session=session)
        earlier = {
            row.conversation_id: row
            for row in session.execute(
                select(CorrectionSend).where(
                    CorrectionSend.correction_id == correction_id
                )
            ).scalars()
        }
        held = set(
            session.execute(
                select(Ticket.conversation_id).where(
                    Ticket.status.in_((WAITING, ASSIGNED))
                )
            ).scalars()
        )
    last_sent: dict[str, float] = {}
    reported = time.monotonic()
    stopped = False
    for person in _in_turn(people, last_sent):
        if cancelled():
            stopped = True
            break
        row = earlier.get(person.conversation_id)
        if row is not None and row.outcome in FINAL:
            continue
        if not _claim(factory, job, correction_id, person, row):
            continue  # another job has this person
        if person.conversation_id in said_stop:
            _settle(factory, correction_id, person, OPTED_OUT)
        elif person.conversation_id in held:
            _settle(factory, correction_id, person, WITH_AGENT)
        elif person.reach == recipients.TEMPLATE:
            if row is not None and row.outcome == INVITED:
                _settle(factory, correction_id, person, INVITED)  # once is enough
            else:
                _pace(person.channel, last_sent, sleep)
                _invite(factory, rasa, correction, person, channels)
        elif person.reach not in recipients.DELIVERABLE:
            _settle(factory, correction_id, person, person.reach)
        else:
            _pace(person.channel, last_sent, sleep)
            _deliver(factory, rasa, correction, person, resumed=row is not None)
        if on_progress is not None and time.monotonic() - reported >= 1.0:
            reported = time.monotonic()
            with factory.begin() as session:
                on_progress(progress(session=session, correction_id=correction_id))
    with factory.begin() as session:
        final = progress(session=session, correction_id=correction_id)
    final.cancelled = stopped
    return final


def _claim(
    factory: sessionmaker[Session],
    job: str,
    correction_id: int,
    person: recipients.Recipient,
    row: CorrectionSend | None,
) -> bool:
    """Makes the person this job's (outcome `sending`), unless another job
    took them since this one read the rows."""
    try:
        with factory.begin() as session:
            if row is None:
                session.add(
                    CorrectionSend(
                        correction_id=correction_id,
                        conversation_id=person.conversation_id,
                        channel=person.channel, language=person.language,
                        outcome=SENDING, at=utcnow(), job=job,
                    )
                )  # fmt: skip
                session.flush()
                return True
            # A row a stopped job left (sending, failed): taken over only if
            # it is still as this job read it.
            taken = session.execute(
                update(CorrectionSend)
                .where(
                    CorrectionSend.correction_id == correction_id,
                    CorrectionSend.conversation_id == person.conversation_id,
                    CorrectionSend.outcome == row.outcome,
                    CorrectionSend.job == row.job,
                )
                .values(outcome=SENDING, at=utcnow(), job=job)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount == 1)
    except IntegrityError:
        return False


def _deliver(
    factory: sessionmaker[Session],
    rasa: RasaClient,
    correction: Correction,
    person: recipients.Recipient,
    *,
    resumed: bool,
) -> None:
    """Sends the correction into the person's conversation, once: a person
    a stopped job may have reached already is looked for in the tracker."""
    language = person.language if person.language in ("fr", "en") else "fr"
    try:
        if not (
            resumed and already_in(rasa.tracker(person.conversation_id), correction.id)
        ):
            rasa.append_events(
                person.conversation_id, [bot_event(correction, language)],
                person.channel,
            )  # fmt: skip
    except RasaError as error:
        logger.warning(
            "Correction #%s not sent to %s: %s",
            correction.id, person.conversation_id, error,
        )  # fmt: skip
        _settle(factory, correction.id, person, FAILED, str(error))
        return
    _settle(factory, correction.id, person, SENT)


def _invite(
    factory: sessionmaker[Session],
    rasa: RasaClient,
    correction: Correction,
    person: recipients.Recipient,
    channels: ChannelSettings,
) -> None:
    """Past WhatsApp's 24 hours: the brand's approved template, which asks
    the person to write (the correction follows once they have)."""
    language = person.language if person.language in ("fr", "en") else "fr"
    event = template_event(str(channels.whatsapp_template), language)
    event["metadata"] = {INVITE_MARK: correction.id}
    try:
        rasa.append_events(person.conversation_id, [event], person.channel)
    except RasaError as error:
        _settle(factory, correction.id, person, FAILED, str(error))
        return
    _settle(factory, correction.id, person, INVITED)


def _settle(
    factory: sessionmaker[Session],
    correction_id: int,
    person: recipients.Recipient,
    outcome: str,
    error: str | None = None,
) -> None:
    with factory.begin() as session:
        row = session.get(CorrectionSend, (correction_id, person.conversation_id))
        assert row is not None, "claimed first"
        row.outcome, row.at, row.error = outcome, utcnow(), error


def _in_turn(
    people: list[recipients.Recipient], last_sent: dict[str, float]
) -> Iterator[recipients.Recipient]:
    """The people in the order their channels can take them: next is the
    first waiting on the channel whose rate lets it send soonest, so one busy
    channel's pace does not hold the others up (each channel keeps its
    people's order). People nothing is sent to cost their channel no time."""
    queues: dict[str, deque[recipients.Recipient]] = defaultdict(deque)
    for person in people:
        queues[person.channel].append(person)

    def ready_at(channel: str) -> float:
        return last_sent.get(channel, -1e9) + 1.0 / RATES.get(channel, DEFAULT_RATE)

    while queues:
        channel = min(queues, key=ready_at)
        queue = queues[channel]
        yield queue.popleft()
        if not queue:
            del queues[channel]


def _pace(
    channel: str, last_sent: dict[str, float], sleep: Callable[[float], None]
) -> None:
    """Waits as long as the channel's rate asks since its last send."""
    interval = 1.0 / RATES.get(channel, DEFAULT_RATE)
    wait = last_sent.get(channel, 0.0) + interval - time.monotonic()
    if wait > 0:
        sleep(wait)
    last_sent[channel] = time.monotonic()

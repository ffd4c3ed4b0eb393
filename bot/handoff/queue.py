"""The handoff queue: repository functions over `Ticket`.

Every function takes the session as a keyword argument and never commits: the
action or command that calls it owns the transaction
(`with factory.begin() as session: ...`).

Claiming is atomic on both databases. On PostgreSQL the candidate row is read
with FOR UPDATE SKIP LOCKED, so twenty agents asking for "the next one" get
twenty different tickets without waiting on each other. On SQLite every
transaction starts with BEGIN IMMEDIATE (bot/db.py), so claims run one after
the other. On both, the status change itself is a guarded UPDATE
(`... WHERE status = 'waiting'`) whose row count says whether this agent won.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handoff.models import (
    ABANDONED,
    ASSIGNED,
    CLOSED,
    OPEN_STATUSES,
    PRIORITIES,
    WAITING,
    Ticket,
    TicketNote,
    utcnow,
)

# Claims over this window give the queue's current pace for wait estimates.
PACE_WINDOW = timedelta(minutes=30)
MAX_NOTE_LENGTH = 4000

_PRIORITY_RANK = case(
    {priority: rank for rank, priority in enumerate(PRIORITIES)},
    value=Ticket.priority,
)


class QueueError(Exception):
    """An operation the queue refuses; the message says why, for a person.

    The message is `template` with `values` put in: the console shows it in
    the agent's language (bot/console/i18n.py), the command line in English.
    """

    def __init__(self, template: str, **values: Any) -> None:
        self.template, self.values = template, values
        super().__init__(template.format(**values) if values else template)


class TicketNotFound(QueueError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__("There is no ticket {id}.", id=ticket_id)


@dataclass(frozen=True)
class HandoffRequest:
    """What the assistant knows when a conversation needs a human."""

    conversation_id: str
    channel: str
    language: str
    reason: str
    priority: str
    last_message: str = ""
    transcript: Sequence[dict[str, Any]] = field(default_factory=list)
    # When the person asked; a request delivered late from the spool keeps its
    # place in line.
    requested_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {self.priority!r}")
        if not self.conversation_id:
            raise ValueError("a handoff needs a conversation id")

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "language": self.language,
            "reason": self.reason,
            "priority": self.priority,
            "last_message": self.last_message,
            "transcript": list(self.transcript),
            "requested_at": self.requested_at.isoformat()
            if self.requested_at
            else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandoffRequest:
        return cls(
            conversation_id=str(data["conversation_id"]),
            channel=str(data["channel"]),
            language=str(data["language"]),
            reason=str(data["reason"]),
            priority=str(data["priority"]),
            last_message=str(data.get("last_message") or ""),
            transcript=list(data.get("transcript") or []),
            requested_at=datetime.fromisoformat(data["requested_at"])
            if data.get("requested_at")
            else None,
        )


def more_urgent(first: str, second: str) -> str:
    """The more urgent of two priorities."""
    return min(first, second, key=PRIORITIES.index)


def open_ticket_for(
    *, session: Session, conversation_id: str, for_update: bool = False
) -> Ticket | None:
    """The conversation's waiting or assigned ticket, if it has one.

    With `for_update`, the row stays locked until the transaction ends, so two
    escalations of one conversation update it one after the other.
    """
    statement = select(Ticket).where(
        Ticket.conversation_id == conversation_id,
        Ticket.status.in_(OPEN_STATUSES),
    )
    if for_update:
        statement = statement.with_for_update().execution_options(
            populate_existing=True
        )
    return session.execute(statement).scalar_one_or_none()


def enqueue(
    *, session: Session, request: HandoffRequest, now: datetime | None = None
) -> Ticket:
    """Opens a ticket for the conversation, or updates its open one.

    Escalating again never makes a second ticket: the open one gets the newer
    context, and its priority only goes up (a person who first asked for a human
    and then says their child is vomiting becomes urgent).

    Returns:
        The open ticket, flushed (it has an id).
    """
    now = now or utcnow()
    ticket = open_ticket_for(
        session=session, conversation_id=request.conversation_id, for_update=True
    )
    if ticket is None:
        ticket = Ticket(
            conversation_id=request.conversation_id,
            channel=request.channel,
            language=request.language,
            reason=request.reason,
            priority=request.priority,
            status=WAITING,
            escalations=1,
            transcript=json.dumps(list(request.transcript), ensure_ascii=False),
            last_message=request.last_message,
            created_at=min(now, request.requested_at or now),
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            # Another process opened one for this conversation just now.
            ticket = open_ticket_for(
                session=session,
                conversation_id=request.conversation_id,
                for_update=True,
            )
            if ticket is None:
                raise
            _update(ticket, request, now)
            session.flush()
        return ticket
    _update(ticket, request, now)
    session.flush()
    return ticket


def _update(ticket: Ticket, request: HandoffRequest, now: datetime) -> None:
    if more_urgent(ticket.priority, request.priority) != ticket.priority:
        ticket.priority = request.priority
        ticket.reason = request.reason
    ticket.language = request.language
    # The channel stays the one the ticket was opened on: replies go there
    # only, whatever a later escalation says it came from.
    ticket.escalations += 1
    ticket.transcript = json.dumps(list(request.transcript), ensure_ascii=False)
    ticket.last_message = request.last_message or ticket.last_message
    ticket.updated_at = now


def get_ticket(*, session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def list_open(*, session: Session) -> list[Ticket]:
    """Open tickets: waiting ones in serving order, then assigned ones."""
    return list(
        session.execute(
            select(Ticket)
            .where(Ticket.status.in_(OPEN_STATUSES))
            .order_by((Ticket.status != WAITING), _PRIORITY_RANK, Ticket.created_at)
        ).scalars()
    )


def position(*, session: Session, ticket: Ticket) -> int | None:
    """1 for the next ticket to be served; None once it is not waiting."""
    if ticket.status != WAITING:
        return None
    rank = PRIORITIES.index(ticket.priority)
    ahead = session.execute(
        select(func.count(Ticket.id)).where(
            Ticket.status == WAITING,
            Ticket.id != ticket.id,
            (rank > _PRIORITY_RANK)
            | ((rank == _PRIORITY_RANK) & (Ticket.created_at <= ticket.created_at)),
        )
    ).scalar_one()
    return int(ahead) + 1


def estimate_wait(
    *, session: Session, place: int, now: datetime | None = None
) -> timedelta | None:
    """How long the ticket at `place` will likely wait, from the live pace.

    The pace is the number of tickets the team claimed in the last half hour.
    With no claim in that window there is nothing honest to say: None.
    """
    now = now or utcnow()
    claims = session.execute(
        select(func.count(Ticket.id)).where(Ticket.claimed_at >= now - PACE_WINDOW)
    ).scalar_one()
    if not claims:
        return None
    return PACE_WINDOW / int(claims) * place


def claim(
    *, session: Session, ticket_id: int, agent: str, now: datetime | None = None
) -> Ticket:
    """Gives a waiting ticket to `agent`; refuses if someone else holds it."""
    now = now or utcnow()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == WAITING)
        .values(status=ASSIGNED, agent=agent, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    session.refresh(ticket)
    if result.rowcount == 1:
        return ticket
    if ticket.status == ASSIGNED:
        if ticket.agent == agent:
            return ticket
        raise QueueError(
            "Ticket {id} is already held by {agent}.", id=ticket_id, agent=ticket.agent
        )
    raise QueueError(
        "Ticket {id} is {status}; it cannot be claimed.",
        id=ticket_id,
        status=ticket.status,
    )


def claim_next(
    *, session: Session, agent: str, teams: Iterable[str] = (),
    known_teams: Iterable[str] | None = None, now: datetime | None = None,
) -> Ticket | None:  # fmt: skip
    """Gives `agent` the most urgent, then oldest, waiting ticket, leaving
    those passed to a team they are not in (`teams`); None if none. A team
    no longer in `known_teams` (the profile's, when given) holds nothing
    back: a conversation passed to it is anyone's."""
    now = now or utcnow()
    for_them = [Ticket.team.is_(None), Ticket.team.in_(list(teams))]
    if known_teams is not None:
        for_them.append(Ticket.team.notin_(list(known_teams)))
    while True:
        candidate = session.execute(
            select(Ticket.id)
            .where(Ticket.status == WAITING, or_(*for_them))
            .order_by(_PRIORITY_RANK, Ticket.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if candidate is None:
            return None
        result = session.execute(
            update(Ticket)
            .where(Ticket.id == candidate, Ticket.status == WAITING)
            .values(status=ASSIGNED, agent=agent, claimed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            ticket = get_ticket(session=session, ticket_id=candidate)
            session.refresh(ticket)
            return ticket
        # Taken between the read and the update (not possible with the locks
        # above, kept so correctness never depends on them): try the next one.


def require_holder(ticket: Ticket, agent: str) -> None:
    """Refuses unless `agent` holds the ticket."""
    if ticket.status == WAITING:
        raise QueueError("Ticket {id} is waiting: claim it first.", id=ticket.id)
    if ticket.status != ASSIGNED:
        raise QueueError("Ticket {id} is {status}.", id=ticket.id, status=ticket.status)
    if ticket.agent != agent:
        raise QueueError(
            "Ticket {id} is held by {holder}, not {agent}.",
            id=ticket.id,
            holder=ticket.agent,
            agent=agent,
        )


def take_over(
    *, session: Session, ticket_id: int, admin: str, now: datetime | None = None
) -> Ticket:
    """Gives an admin a ticket someone else holds (on leave, asleep, their
    account closed): the person is not left with nobody able to answer."""
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    if ticket.status != ASSIGNED:
        raise QueueError(
            "Ticket {id} is {status}: nobody holds it.",
            id=ticket_id,
            status=ticket.status,
        )
    if ticket.agent == admin:
        return ticket
    previous = ticket.agent
    ticket.agent = admin
    ticket.updated_at = now or utcnow()
    session.add(
        TicketNote(
            ticket_id=ticket.id,
            author=admin,
            created_at=ticket.updated_at,
            text=f"Taken over from {previous}.",
        )
    )
    session.flush()
    return ticket


def _transfer_note(
    session: Session, ticket: Ticket, agent: str, to: str, note: str
) -> None:
    """The internal note that goes with a transfer: to whom, and the
    agent's words for them (seen by the team only, never by the person)."""
    note = note.strip()
    text = f"Transferred to {to}." + (f" {note}" if note else "")
    add_note(session=session, ticket_id=ticket.id, author=agent, text=text)


def transfer(
    *,
    session: Session,
    ticket_id: int,
    agent: str,
    to: str,
    note: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Hands a ticket the agent holds to a colleague, who holds it at once,
    with an internal note for them."""
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    require_holder(ticket, agent)
    if not to or to == agent:
        raise QueueError("Choose a colleague to transfer the ticket to.")
    ticket.agent = to
    ticket.updated_at = now or utcnow()
    _transfer_note(session, ticket, agent, to, note)
    session.flush()
    return ticket


def pass_to_team(
    *,
    session: Session,
    ticket_id: int,
    agent: str,
    team: str,
    team_name: str,
    note: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Puts a ticket the agent holds back in the queue for a team (press,
    legal, a language...), in its original place, with an internal note:
    "Take next" and auto-assignment give it to the team's members only;
    anyone may still claim it by hand."""
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    require_holder(ticket, agent)
    ticket.status = WAITING
    ticket.agent = None
    ticket.team = team
    ticket.updated_at = now or utcnow()
    _transfer_note(session, ticket, agent, f"the {team_name} team", note)
    session.flush()
    return ticket


def mark_reply(
    *, session: Session, ticket_id: int, now: datetime | None = None
) -> None:
    """Records a human's reply: when they first wrote to the person (kept if
    already set), and that the person is no longer waiting for an answer."""
    now = now or utcnow()
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.first_reply_at.is_(None))
        .values(first_reply_at=now)
    )
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id)
        .values(last_reply_at=now, waiting_since=None)
    )


def median_wait(*, session: Session, since: datetime) -> timedelta | None:
    """Median time from opening to claim for tickets claimed since `since`."""
    waits = sorted(
        claimed - created
        for created, claimed in session.execute(
            select(Ticket.created_at, Ticket.claimed_at).where(
                Ticket.claimed_at >= since
            )
        )
    )
    if not waits:
        return None
    middle = len(waits) // 2
    if len(waits) % 2:
        return waits[middle]
    return (waits[middle - 1] + waits[middle]) / 2


def release(
    *, session: Session, ticket_id: int, agent: str, now: datetime | None = None
) -> Ticket:
    """Puts a ticket the agent holds back in the queue, in its original place."""
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    require_holder(ticket, agent)
    ticket.status = WAITING
    ticket.agent = None
    ticket.updated_at = now or utcnow()
    session.flush()
    return ticket


def release_all(*, session: Session, agent: str, now: datetime | None = None) -> int:
    """Puts every conversation `agent` holds back in the queue (their account
    was closed); returns how many."""
    tickets = list(
        session.execute(
            select(Ticket).where(Ticket.agent == agent, Ticket.status == ASSIGNED)
        ).scalars()
    )
    for ticket in tickets:
        ticket.status, ticket.agent = WAITING, None
        ticket.updated_at = now or utcnow()
    session.flush()
    return len(tickets)


def close(
    *, session: Session, ticket_id: int, agent: str, now: datetime | None = None
) -> Ticket:
    """Closes a ticket the agent holds, or a waiting one nobody took yet."""
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    if ticket.status != WAITING:
        require_holder(ticket, agent)
    now = now or utcnow()
    ticket.status = CLOSED
    ticket.agent = ticket.agent or agent
    ticket.closed_at = now
    ticket.updated_at = now
    session.flush()
    return ticket


def abandon_stale(
    *, session: Session, older_than: timedelta, now: datetime | None = None
) -> int:
    """Marks waiting tickets untouched for `older_than` as abandoned.

    The person left without being served; their next message starts a new
    session that is no longer paused (actions/session.py), so the bot answers
    them again. Returns how many tickets were abandoned.
    """
    now = now or utcnow()
    result = session.execute(
        update(Ticket)
        .where(Ticket.status == WAITING, Ticket.updated_at < now - older_than)
        .values(status=ABANDONED, closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def add_note(*, session: Session, ticket_id: int, author: str, text: str) -> TicketNote:
    """Adds an internal note; agents see it, the person never does."""
    text = text.strip()
    if not text:
        raise QueueError("A note cannot be empty.")
    if len(text) > MAX_NOTE_LENGTH:
        raise QueueError("A note is at most {n} characters.", n=MAX_NOTE_LENGTH)
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    note = TicketNote(
        ticket_id=ticket.id, author=author, text=text, created_at=utcnow()
    )
    session.add(note)
    session.flush()
    return note

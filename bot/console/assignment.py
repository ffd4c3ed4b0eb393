"""Auto-assignment: waiting conversations go to the available agents, fairly.

Optional per crisis (profile.yml `auto_assign: true`). Agents say on the
queue page whether they are available; the console, every few seconds,
gives each waiting conversation, in serving order (most urgent first, then
the longest waiting), to the available agent who answers in its language
and holds the fewest open conversations, under `max_open_per_agent` (a
conversation passed to a team goes to the team's members only). An
agent who goes away, or whose account is closed, gives their conversations
back to the queue. Claiming by hand still works.

Two console processes never give one conversation twice: the claim is the
queue's atomic one (a waiting ticket only); and the round holds the agents'
rows locked (PostgreSQL; SQLite takes one writer at a time), so two rounds
never both fill the same agent's last place.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.console.accounts import (
    QUEUE_ROLES,
    AccountError,
    Agent,
    find_agent,
    teams_of,
)
from bot.db import get_session_factory
from bot.handoff import queue
from bot.handoff.models import ASSIGNED, PRIORITIES, WAITING, Ticket

logger = logging.getLogger(__name__)

INTERVAL = timedelta(seconds=3)


def assign_round(
    session: Session,
    max_open: int,
    now: datetime | None = None,
    known_teams: tuple[str, ...] | None = None,
) -> list[tuple[int, str]]:
    """Gives waiting conversations to available agents; returns (ticket,
    agent). A conversation passed to a team goes to its members, unless the
    team is no longer in `known_teams` (the profile's, when given)."""
    agents = list(
        session.execute(
            select(Agent)
            .where(
                Agent.available.is_(True),
                Agent.disabled_at.is_(None),
                Agent.role.in_(QUEUE_ROLES),
            )
            .order_by(Agent.name)
            .with_for_update()
        ).scalars()
    )
    if not agents:
        return []
    held = dict(
        session.execute(
            select(Ticket.agent, func.count())
            .where(Ticket.status == ASSIGNED)
            .group_by(Ticket.agent)
        ).all()
    )
    load = {agent.name: int(held.get(agent.name, 0)) for agent in agents}
    speaks = {agent.name: set(agent.answers_in.split(",")) for agent in agents}
    member_of = {agent.name: set(teams_of(agent)) for agent in agents}
    if all(n >= max_open for n in load.values()):
        return []
    waiting = session.execute(
        select(
            Ticket.id, Ticket.language, Ticket.priority, Ticket.created_at, Ticket.team
        ).where(Ticket.status == WAITING)
    ).all()
    waiting.sort(key=lambda row: (PRIORITIES.index(row.priority), row.created_at))
    given = []
    for row in waiting:
        free = [
            name for name in load
            if load[name] < max_open and row.language in speaks[name]
            and (row.team is None or row.team in member_of[name]
                 or (known_teams is not None and row.team not in known_teams))
        ]  # fmt: skip
        if not free:
            if all(n >= max_open for n in load.values()):
                break
            continue  # nobody free speaks this language or is in its team
        name = min(free, key=lambda n: (load[n], n))
        try:
            queue.claim(session=session, ticket_id=row.id, agent=name, now=now)
        except queue.QueueError:
            continue  # taken by hand meanwhile
        load[name] += 1
        given.append((row.id, name))
    return given


def set_available(session: Session, name: str, available: bool) -> int:
    """Marks the agent available or away; going away gives their open
    conversations back to the queue. Returns how many went back."""
    agent = find_agent(session=session, name=name)
    if agent is None or agent.is_disabled:
        raise AccountError(f"No open account {name!r}.")
    agent.available = available
    if available:
        return 0
    return queue.release_all(session=session, agent=name)


def run_forever(
    database_url: str,
    max_open: int,
    stop: threading.Event,
    known_teams: tuple[str, ...] | None = None,
) -> None:
    """Runs a round every INTERVAL until `stop` is set; survives failures."""
    factory = get_session_factory(database_url)
    while not stop.is_set():
        try:
            with factory.begin() as session:
                given = assign_round(session, max_open, known_teams=known_teams)
                for ticket_id, name in given:
                    logger.info("Conversation %s given to %s", ticket_id, name)
        except Exception:
            logger.exception("Auto-assignment round failed; trying again")
        stop.wait(INTERVAL.total_seconds())

"""Crisis switches, flipped at run time by editors and admins.

    relais switch all-to-humans on|off   # the bot only greets, shows the
                                         # statement and queues everyone
    relais switch queue-closed on|off    # no handoffs: contact details and
                                         # the statement instead
    relais switch show

Both show on the console's queue page. If the database cannot be read the
switches count as off: the bot goes on answering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Column, Integer, String, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, get_session_factory, utcnow

logger = logging.getLogger(__name__)

ALL_TO_HUMANS, QUEUE_CLOSED = "all-to-humans", "queue-closed"
NAMES = (ALL_TO_HUMANS, QUEUE_CLOSED)


class CrisisSwitch(Base):
    __tablename__ = "crisis_switch"

    name = Column(String(40), primary_key=True)
    enabled = Column(Boolean, nullable=False, default=False)
    changed_by = Column(String(100), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow)


class SwitchChange(Base):
    """Every flip of a switch, for the post-crisis report's timeline."""

    __tablename__ = "switch_change"

    id = Column(Integer, primary_key=True)
    name = Column(String(40), nullable=False)
    enabled = Column(Boolean, nullable=False)
    changed_by = Column(String(100), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


@dataclass(frozen=True)
class Switches:
    all_to_humans: bool = False
    queue_closed: bool = False


def set_switch(
    *, session: Session, name: str, enabled: bool, author: str,
    now: datetime | None = None,
) -> CrisisSwitch:  # fmt: skip
    if name not in NAMES:
        raise ValueError(f"unknown switch {name!r}")
    row = session.get(CrisisSwitch, name)
    if row is None:
        row = CrisisSwitch(name=name)
        session.add(row)
    row.enabled = enabled
    row.changed_by = author
    row.changed_at = now or utcnow()
    session.add(SwitchChange(name=name, enabled=enabled, changed_by=author,
                             changed_at=row.changed_at))  # fmt: skip
    session.flush()
    return row


def read_switches(*, session: Session) -> Switches:
    on = {
        row.name
        for row in session.execute(select(CrisisSwitch)).scalars()
        if row.enabled
    }
    return Switches(all_to_humans=ALL_TO_HUMANS in on, queue_closed=QUEUE_CLOSED in on)


def current_switches(database_url: str) -> Switches:
    """The switches now; all off if the database cannot be read."""
    try:
        with get_session_factory(database_url).begin() as session:
            return read_switches(session=session)
    except SQLAlchemyError as error:
        logger.error("Crisis switches unreadable, taken as off: %s", error)
        return Switches()

"""Putting a conversation in the queue: what the handoff action calls."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_session_factory
from bot.handoff import spool
from bot.handoff.hours import TeamHours
from bot.handoff.models import utcnow
from bot.handoff.queue import HandoffRequest, enqueue, estimate_wait, position
from bot.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandoffOutcome:
    """What the person should be told after asking for a human."""

    queued: bool  # False: the database was unreachable
    kept: bool = True  # False only if the spool could not be written either
    ticket_id: int | None = None
    place: int | None = None  # 1 = next to be served
    wait: timedelta | None = None  # None when the pace is unknown
    team_is_in: bool = True
    team_back_at: datetime | None = None  # when the team is out


def request_handoff(
    request: HandoffRequest, settings: Settings, now: datetime | None = None
) -> HandoffOutcome:
    """Opens or updates the conversation's ticket; never loses the request.

    If the database cannot be reached, the request goes to the spool on disk
    and a background thread delivers it as soon as the database is back. If
    the database refuses it for good, it is set aside with an alert, and the
    person is given the contacts (`kept=False`).
    """
    now = now or utcnow()
    if request.requested_at is None:
        request = dataclasses.replace(request, requested_at=now)
    hours = TeamHours.from_settings(settings)
    team_is_in = hours.is_open(now)
    back_at = None if team_is_in else hours.next_opening(now)
    try:
        with get_session_factory(settings.database_url).begin() as session:
            ticket = enqueue(session=session, request=request, now=now)
            place = position(session=session, ticket=ticket)
            wait = (
                estimate_wait(session=session, place=place, now=now)
                if place is not None and team_is_in
                else None
            )
            ticket_id = ticket.id
    except SQLAlchemyError as error:
        alert = spool.webhook_alert(settings.alert_webhook_url)
        if not spool.is_transient(error):
            # Refused for good: retrying would only block the requests behind
            # it. The person is given the contacts; the admins are alerted.
            reason = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            try:
                spool.save_set_aside(request, settings.spool_dir, reason, alert)
            except OSError:
                logger.critical("Could not keep the refused handoff", exc_info=True)
            return HandoffOutcome(
                queued=False, kept=False, team_is_in=team_is_in, team_back_at=back_at
            )
        logger.error(
            "Handoff queue unreachable, spooling %s: %s", request.conversation_id, error
        )
        try:
            spool.save(request, settings.spool_dir)
        except OSError:
            logger.critical(
                "Handoff for %s LOST: neither the database nor the spool %s "
                "could be written",
                request.conversation_id,
                settings.spool_dir,
                exc_info=True,
            )
            return HandoffOutcome(
                queued=False, kept=False, team_is_in=team_is_in, team_back_at=back_at
            )
        spool.start_retrying(settings.spool_dir, settings.database_url, alert=alert)
        return HandoffOutcome(queued=False, team_is_in=team_is_in, team_back_at=back_at)
    if spool.pending(settings.spool_dir):
        spool.start_retrying(
            settings.spool_dir,
            settings.database_url,
            alert=spool.webhook_alert(settings.alert_webhook_url),
        )
    return HandoffOutcome(
        queued=True,
        ticket_id=ticket_id,
        place=place,
        wait=wait,
        team_is_in=team_is_in,
        team_back_at=back_at,
    )

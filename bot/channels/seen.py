"""Provider messages already handled: a redelivery is skipped, even after a
restart or on another Rasa process.

Meta and Telegram deliver a message again when they are unsure it arrived
(no 200 within about 20 seconds, a restart in between). Each message id is
remembered in this process's memory (the cheap answer to a redelivery a few
seconds later) and in Relais' database, which every Rasa process shares and
which outlives a restart: the first process to record an id handles the
message, any other skips it. Ids are kept for KEEP (providers stop
redelivering long before) and pruned as new ones come in.

If the database cannot be reached, the message is handled: answering twice
is better than not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import timedelta

from sqlalchemy import Column, String, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Base, UTCDateTime, get_session_factory, utcnow
from bot.settings import get_settings

logger = logging.getLogger(__name__)

REMEMBERED_MESSAGES = 10_000  # in memory, per channel and process
KEEP = timedelta(days=2)
PRUNE_EVERY = 500  # recorded ids
MAX_ID_LENGTH = 255


class ProviderMessage(Base):
    """A provider's message id, handled once."""

    __tablename__ = "provider_message"

    channel = Column(String(20), primary_key=True)
    message_id = Column(String(MAX_ID_LENGTH), primary_key=True)
    seen_at = Column(UTCDateTime, nullable=False, index=True)


class Seen:
    """Message ids of one channel already handled (providers redeliver)."""

    def __init__(self, channel: str, size: int = REMEMBERED_MESSAGES) -> None:
        self.channel = channel
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._recorded = 0

    async def first_time(self, message_id: str | None) -> bool:
        if message_id is None:
            return True
        if message_id in self._ids:
            return False
        self._ids[message_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        try:
            return await asyncio.to_thread(self._record, message_id[:MAX_ID_LENGTH])
        except SQLAlchemyError as error:
            logger.warning(
                "Could not check %s message %s against earlier deliveries (%s): "
                "handled", self.channel, message_id, error,
            )  # fmt: skip
            return True

    def _record(self, message_id: str) -> bool:
        """Records the id; False when another process or run already had."""
        factory = get_session_factory(get_settings().database_url)
        now = utcnow()
        with factory.begin() as session:
            postgresql = session.get_bind().dialect.name == "postgresql"
            insert = postgresql_insert if postgresql else sqlite_insert
            result = session.execute(
                insert(ProviderMessage)
                .values(channel=self.channel, message_id=message_id, seen_at=now)
                .on_conflict_do_nothing()
            )
            self._recorded += 1
            if self._recorded % PRUNE_EVERY == 0:
                session.execute(
                    delete(ProviderMessage).where(ProviderMessage.seen_at < now - KEEP)
                )
            return bool(result.rowcount == 1)

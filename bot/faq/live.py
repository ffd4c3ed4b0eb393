"""The FAQ as it is live now: edited answers are live without a retrain.

Rasa's model knows which topic a question is about; the text of the answer,
the titles and the enabled flag are read at the moment of answering:

- from the database, for every topic edited in Relais (its latest approved
  version, bot/faq/versions.py). Every action server, on any machine, asks
  the database at most every `RECHECK_SECONDS` whether a version was
  approved (one count query) and reloads the versions only then, so an
  approval reaches every action server within a second. If the database is
  unreachable, the versions last read stay in use;
- from the pack's files for the others. Each call looks at the files'
  modification times and re-reads only the files that changed, so a save in
  a file is live on the next message.

A file that no longer parses (an editor saved half a change) keeps its last
good version and the error is logged: a typo never takes the bot down.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_session_factory
from bot.faq import versions
from bot.faq.pack import FaqError, Topic, parse_topic_file
from bot.settings import Settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# file -> ((mtime_ns, size), topic)
_cache: dict[Path, tuple[tuple[int, int], Topic]] = {}


RECHECK_SECONDS = 0.5


@dataclass
class _Read:
    checked: float = -1e9  # time.monotonic() of the last look at the database
    revision: int = -1
    topics: dict[str, Topic] = field(default_factory=dict)
    failing: bool = False


_reads: dict[str, _Read] = {}
_reads_lock = threading.Lock()


def current_pack(settings: Settings) -> dict[str, Topic]:
    """Every topic as it is live now, keyed by topic name."""
    pack = files_pack(settings.faq_dir)
    pack.update(live_versions(settings.database_url))
    return pack


def live_versions(database_url: str) -> dict[str, Topic]:
    """The approved versions of the topics edited in Relais (see module doc)."""
    with _reads_lock:
        read = _reads.setdefault(database_url, _Read())
        if time.monotonic() - read.checked < RECHECK_SECONDS:
            return read.topics
        read.checked = time.monotonic()
        try:
            with get_session_factory(database_url).begin() as session:
                revision = versions.live_revision(session=session)
                if revision != read.revision:
                    read.topics = versions.live_topics(session=session)
                    read.revision = revision
        except SQLAlchemyError as error:
            if not read.failing:
                logger.error("FAQ versions not read from the database; the last "
                             "ones read stay in use: %s", error)  # fmt: skip
            read.failing = True
            return read.topics
        read.failing = False
        return read.topics


def forget() -> None:
    """Drops the versions read, so the next answer reads them again (tests)."""
    with _reads_lock:
        _reads.clear()


def files_pack(faq_dir: Path) -> dict[str, Topic]:
    """Every topic as its file says now, keyed by topic name."""
    pack: dict[str, Topic] = {}
    with _lock:
        for path in sorted(faq_dir.glob("*.yml")):
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted between glob and stat
                continue
            signature = (stat.st_mtime_ns, stat.st_size)
            cached = _cache.get(path)
            if cached is None or cached[0] != signature:
                try:
                    _cache[path] = (signature, parse_topic_file(path))
                except FaqError as error:
                    if cached is None:
                        logger.error("FAQ file skipped: %s", error)
                        continue
                    logger.error("FAQ file kept at its last good version: %s", error)
                    _cache[path] = (signature, cached[1])
            pack[path.stem] = _cache[path][1]
    return pack


def version(text: str) -> str:
    """A short, stable name for one version of an answer's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

"""The FAQ pack as it is on disk now: edited answers are live without a retrain.

Rasa's model knows which topic a question is about; the text of the answer,
the titles and the enabled flag are read from `data/faq/` at the moment of
answering. Each call looks at the files' modification times and re-reads only
the files that changed, so an editor's save is live on the next message.

A file that no longer parses (an editor saved half a change) keeps its last
good version and the error is logged: a typo never takes the bot down.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from bot.faq.pack import FaqError, Topic, parse_topic_file

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# file -> ((mtime_ns, size), topic)
_cache: dict[Path, tuple[tuple[int, int], Topic]] = {}


def current_pack(faq_dir: Path) -> dict[str, Topic]:
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

"""The `relais` command groups, one module each (bot/cli.py wires them), and
what they share.

Each module has `add_parser(commands, ...)` and `run(...)`; a group that needs
no configuration (`nginx`, `actions`, `train`, `config`, `faq lint`) runs on
its arguments alone.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.engine import URL, make_url

from bot.settings import PROJECT_ROOT

# The tracker store types whose database `relais simulate` and `relais purge`
# can reach: Rasa's SQL store and ours (bot.stores.TrackerStore).
SQL_TRACKER_STORES = ("sql", "SQL", "bot.stores.TrackerStore")


def tracker_url_of(endpoints: Path) -> str | None:
    """The database URL of the SQL tracker store `endpoints` names (built as
    Rasa's SQLTrackerStore builds it), or None for another kind or no file."""
    if not endpoints.is_file():
        return None
    config = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    section = config.get("tracker_store") or {}
    if str(section.get("type") or "") not in SQL_TRACKER_STORES:
        return None
    dialect = str(section.get("dialect") or "sqlite")
    database = str(section.get("db") or "rasa.db")
    if dialect == "sqlite":
        # Relative to where `make run` starts Rasa: the project's folder.
        path = Path(database)
        return f"sqlite:///{path if path.is_absolute() else PROJECT_ROOT / path}"
    return URL.create(
        drivername=dialect,
        username=section.get("username"),
        password=section.get("password"),
        host=section.get("url"),
        port=section.get("port"),
        database=database,
        query=section.get("query") or {},
    ).render_as_string(hide_password=False)


def same_database(first: str | None, second: str | None) -> bool:
    """Whether two database URLs name one database (SQLite files compared
    by their resolved path)."""
    if not first or not second:
        return False
    a, b = make_url(first), make_url(second)
    if a.get_backend_name() == b.get_backend_name() == "sqlite":
        return bool(a.database and b.database) and (
            Path(str(a.database)).resolve() == Path(str(b.database)).resolve()
        )
    return a.render_as_string(hide_password=False) == b.render_as_string(
        hide_password=False
    )


# How much of a message a one-line listing shows (queue list, faq log).
LAST_MESSAGE_WIDTH = 48


def one_line(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"

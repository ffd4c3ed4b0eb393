"""Relais' own database: engine, sessions and schema migrations.

Rasa keeps conversations in its tracker store; this database holds what Relais
adds (the handoff queue, the console's accounts). Every table is declared on
the one `metadata` below. SQLite under var/ by default, PostgreSQL through
DATABASE_URL. Engines are built on first use and cached per URL; the schema is
only ever changed by the Alembic migrations in bot/migrations/.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base: Any = declarative_base(metadata=metadata)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A UTC timestamp that comes back timezone-aware from SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC time")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


MIGRATIONS = Path(__file__).parent / "migrations"
# How long a SQLite writer waits for another one before giving up.
SQLITE_BUSY_SECONDS = 30


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@cache
def get_engine(url: str) -> Engine:
    """The engine for `url`, built once per process.

    SQLite: every transaction starts with BEGIN IMMEDIATE, so transactions that
    write are serialized from their first statement (a claim's read-then-update
    can never interleave with another), and WAL lets readers go on meanwhile.
    Connections to a file are pooled, as SQLAlchemy 2 does by default: 1.4
    opened a new one (and set its pragmas) for every session, a fifth of the
    action server's time per message (issue 29). A forked child starts with
    a pool of its own.
    """
    if not is_sqlite(url):
        return create_engine(url, future=True, pool_pre_ping=True)

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    in_memory = not database or database == ":memory:"
    engine = create_engine(
        url,
        future=True,
        connect_args={"timeout": SQLITE_BUSY_SECONDS}
        | ({} if in_memory else {"check_same_thread": False}),
        **({} if in_memory else {"poolclass": QueuePool}),
    )
    if not in_memory:
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@cache
def get_session_factory(url: str) -> sessionmaker[Session]:
    """Sessions for `url`. Callers own the transaction: `with factory.begin()`."""
    return sessionmaker(get_engine(url), future=True, expire_on_commit=False)


def create_database(url: str) -> bool:
    """Creates the PostgreSQL database `url` names when it does not exist yet
    (SQLite creates its file itself); returns whether it created it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return False
    admin = create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True
    )
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            ).first()
            if exists:
                return False
            name = parsed.database.replace('"', '""')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            return True
    finally:
        admin.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Brings the schema at `url` to `revision` with the Alembic migrations."""
    command.upgrade(alembic_config(url), revision)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config

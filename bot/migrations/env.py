"""Alembic environment: run by `relais db upgrade` and `bot.db.upgrade()`."""

from __future__ import annotations

from alembic import context

# Importing the model modules registers their tables on the shared metadata.
from bot.db import get_engine, metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("bot.db.alembic_config() sets sqlalchemy.url")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

"""A ticket's person waiting again since a human's reply (issue 31).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_ticket") as batch:
        batch.add_column(sa.Column("last_reply_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("waiting_since", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoff_ticket") as batch:
        batch.drop_column("waiting_since")
        batch.drop_column("last_reply_at")

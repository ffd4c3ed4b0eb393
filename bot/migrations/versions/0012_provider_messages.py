"""Provider message ids already handled, kept across restarts and processes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_message",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "message_id", name="pk_provider_message"),
    )
    op.create_index("ix_provider_message_seen_at", "provider_message", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_provider_message_seen_at", "provider_message")
    op.drop_table("provider_message")

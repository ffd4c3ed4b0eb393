"""Accounts an admin can close, and sessions that end with a password change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent") as batch:
        batch.add_column(sa.Column("disabled_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("disabled_by", sa.String(100), nullable=True))
        batch.add_column(
            sa.Column(
                "session_version", sa.Integer(), nullable=False, server_default="0"
            )
        )


def downgrade() -> None:
    # The schema before has no closed accounts: they would open again.
    closed = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM agent WHERE disabled_at IS NOT NULL"))
        .scalar()
    )
    if closed:
        raise RuntimeError(
            f"Downgrade refused, nothing changed: {closed} closed account(s) would "
            "open again (the schema before 0010 cannot keep an account closed). "
            "Delete them first (DELETE FROM agent WHERE disabled_at IS NOT NULL)."
        )
    with op.batch_alter_table("agent") as batch:
        batch.drop_column("session_version")
        batch.drop_column("disabled_by")
        batch.drop_column("disabled_at")

"""Corrections of changed answers, drafted and approved, and who each was
sent to (issue 30).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("towards", sa.JSON(), nullable=False),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("text_fr", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_correction"),
    )
    op.create_index(
        "ix_correction_topic_created_at", "correction", ["topic", "created_at"]
    )
    op.create_table(
        "correction_send",
        sa.Column("correction_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint(
            "correction_id", "conversation_id", name="pk_correction_send"
        ),
    )


def downgrade() -> None:
    op.drop_table("correction_send")
    op.drop_index("ix_correction_topic_created_at", "correction")
    op.drop_table("correction")

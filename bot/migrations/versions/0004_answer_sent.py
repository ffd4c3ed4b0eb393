"""The audit trail of answers sent: which version each person received.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(50), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("version", sa.String(12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_answer_sent"),
    )
    op.create_index("ix_answer_sent_topic_sent_at", "answer_sent", ["topic", "sent_at"])
    op.create_index(
        "ix_answer_sent_conversation_id", "answer_sent", ["conversation_id"]
    )


def downgrade() -> None:
    op.drop_table("answer_sent")

"""Suggestions: candidate FAQ examples learned from people, for editors to review.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("last_conversation", sa.String(200), nullable=True),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("accepted_topic", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_faq_suggestion"),
        sa.UniqueConstraint("key", "topic", "language", name="uq_faq_suggestion_key"),
    )


def downgrade() -> None:
    op.drop_table("faq_suggestion")

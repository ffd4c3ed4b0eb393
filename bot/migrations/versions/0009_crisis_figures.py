"""Crisis figures: message facts, 5-minute buckets, spike alerts, every
switch flip, and the time of a human's first reply on each ticket.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("negative", sa.Float(), nullable=False),
        sa.Column("anger", sa.Float(), nullable=False),
        sa.Column("mood", sa.String(8), nullable=False),
        sa.Column("new_conversation", sa.Boolean(), nullable=False),
        sa.Column("new_in_bucket", sa.Boolean(), nullable=False),
        sa.Column("declinable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_fact"),
    )
    op.create_index("ix_message_fact_at", "message_fact", ["at"])
    op.create_index("ix_message_fact_outcome_at", "message_fact", ["outcome", "at"])
    op.create_index(
        "ix_message_fact_conversation_id_id", "message_fact", ["conversation_id", "id"]
    )
    op.create_table(
        "stat_bucket",
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.Column("angry", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "start", "language", "topic", "outcome", name="pk_stat_bucket"
        ),
    )
    op.create_table(
        "gap_spike",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("nearest_topic", sa.String(100), nullable=True),
        sa.Column("phrasings", sa.JSON(), nullable=False),
        sa.Column("notified_at", UTCDateTime(), nullable=True),
        sa.Column("notify_error", sa.Text(), nullable=True),
        sa.Column("topic", sa.String(100), nullable=True),
        sa.Column("topic_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gap_spike"),
    )
    op.create_index("ix_gap_spike_detected_at", "gap_spike", ["detected_at"])
    op.create_table(
        "switch_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_switch_change"),
    )
    op.create_index("ix_switch_change_changed_at", "switch_change", ["changed_at"])
    with op.batch_alter_table("handoff_ticket") as batch:
        batch.add_column(sa.Column("first_reply_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_handoff_ticket_conversation_id", "handoff_ticket", ["conversation_id"]
    )
    op.create_index("ix_handoff_ticket_created_at", "handoff_ticket", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_handoff_ticket_created_at", "handoff_ticket")
    op.drop_index("ix_handoff_ticket_conversation_id", "handoff_ticket")
    with op.batch_alter_table("handoff_ticket") as batch:
        batch.drop_column("first_reply_at")
    op.drop_table("switch_change")
    op.drop_table("gap_spike")
    op.drop_table("stat_bucket")
    op.drop_table("message_fact")

"""Handoff queue: tickets and internal notes.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('waiting', 'assigned')")


def upgrade() -> None:
    op.create_table(
        "handoff_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(100), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("last_message", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_ticket"),
        sa.CheckConstraint(
            "status IN ('waiting', 'assigned', 'closed', 'abandoned')",
            name="ck_handoff_ticket_status",
        ),
        sa.CheckConstraint(
            "priority IN ('urgent', 'high', 'normal')",
            name="ck_handoff_ticket_priority",
        ),
    )
    op.create_index(
        "uq_handoff_ticket_open_conversation",
        "handoff_ticket",
        ["conversation_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_handoff_ticket_status_created_at",
        "handoff_ticket",
        ["status", "created_at"],
    )
    op.create_index("ix_handoff_ticket_claimed_at", "handoff_ticket", ["claimed_at"])
    op.create_table(
        "handoff_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["handoff_ticket.id"],
            name="fk_handoff_note_ticket_id_handoff_ticket",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_note"),
    )
    op.create_index("ix_handoff_note_ticket_id", "handoff_note", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("handoff_note")
    op.drop_table("handoff_ticket")

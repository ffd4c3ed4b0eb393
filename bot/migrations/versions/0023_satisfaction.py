"""How the person rated the exchange after a handoff (issue 31).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "satisfaction_survey",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("scale", sa.String(8), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("rating", sa.Integer()),
        sa.Column("answered_at", UTCDateTime()),
        sa.Column("comment", sa.Text()),
    )
    op.create_index(
        "ix_satisfaction_survey_conversation",
        "satisfaction_survey",
        ["conversation_id", "asked_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_satisfaction_survey_conversation", "satisfaction_survey")
    op.drop_table("satisfaction_survey")

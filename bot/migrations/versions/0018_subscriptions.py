"""People who asked to be kept informed, and updates sent to them (issue 30).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_subscription"),
    )
    op.create_index(
        "ix_subscription_topic_stopped", "subscription", ["topic", "stopped_at"]
    )
    op.create_index("ix_subscription_conversation", "subscription", ["conversation_id"])
    with op.batch_alter_table("correction") as batch:
        batch.add_column(
            sa.Column(
                "audience", sa.String(12), nullable=False, server_default="outdated"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("correction") as batch:
        batch.drop_column("audience")
    op.drop_index("ix_subscription_conversation", "subscription")
    op.drop_index("ix_subscription_topic_stopped", "subscription")
    op.drop_table("subscription")

"""Agents available for auto-assignment, and the languages they answer in
(issue 31).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent") as batch:
        batch.add_column(
            sa.Column(
                "available", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(
            sa.Column(
                "answers_in", sa.String(16), nullable=False, server_default="fr,en"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("agent") as batch:
        batch.drop_column("answers_in")
        batch.drop_column("available")

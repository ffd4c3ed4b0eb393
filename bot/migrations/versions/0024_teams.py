"""Teams: who is in which, and the team a conversation was passed to (issue 31).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent") as batch:
        batch.add_column(
            sa.Column("teams", sa.String(200), nullable=False, server_default="")
        )
    with op.batch_alter_table("handoff_ticket") as batch:
        batch.add_column(sa.Column("team", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("handoff_ticket") as batch:
        batch.drop_column("team")
    with op.batch_alter_table("agent") as batch:
        batch.drop_column("teams")

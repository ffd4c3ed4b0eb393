"""Each message's sentence vector, as the Rasa process computed it: the gap
groups read it instead of encoding every unanswered message again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_fact") as table:
        table.add_column(sa.Column("meaning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_fact") as table:
        table.drop_column("meaning")

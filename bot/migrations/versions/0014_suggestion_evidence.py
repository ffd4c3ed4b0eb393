"""A suggestion's evidence: for a rephrase, the message that got the answer
and how similar the two are, so editors see why it was suggested and bulk
accepts take only the confirmed ones (issue 28).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faq_suggestion") as table:
        table.add_column(sa.Column("evidence", sa.Text(), nullable=True))
        table.add_column(sa.Column("similarity", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faq_suggestion") as table:
        table.drop_column("similarity")
        table.drop_column("evidence")

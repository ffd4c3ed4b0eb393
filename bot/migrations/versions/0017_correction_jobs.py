"""A correction's sending job, as the console follows and cancels it (issue 30).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = (
    ("job_state", sa.String(10)),
    ("job_by", sa.String(100)),
    ("job_host", sa.String(255)),
    ("job_pid", sa.Integer()),
    ("job_started_at", UTCDateTime()),
    ("job_finished_at", UTCDateTime()),
    ("job_detail", sa.Text()),
    ("cancel_requested_by", sa.String(100)),
)


def upgrade() -> None:
    with op.batch_alter_table("correction") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("correction") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)

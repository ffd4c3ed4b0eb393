"""Topic versions, statements that wait for approval, publishes from the console.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.String(50), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("base", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("topic", "number", name="uq_topic_version_topic"),
    )
    op.create_index("ix_topic_version_state", "topic_version", ["state"])
    op.create_table(
        "publish_job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("step", sa.String(10), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("cancel_requested_by", sa.String(100), nullable=True),
        sa.Column(
            "publish_id",
            sa.Integer(),
            sa.ForeignKey(
                "model_publish.id", name="fk_publish_job_publish_id_model_publish"
            ),
            nullable=True,
        ),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    with op.batch_alter_table("holding_statement") as batch:
        batch.add_column(
            sa.Column(
                "state", sa.String(10), nullable=False, server_default="published"
            )
        )
        batch.add_column(sa.Column("reviewed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # Before 0011 every statement row was public: a draft or a rejected one
    # would become what the bot says.
    unpublished = (
        op.get_bind()
        .execute(
            sa.text("SELECT count(*) FROM holding_statement WHERE state <> 'published'")
        )
        .scalar()
    )
    if unpublished:
        raise RuntimeError(
            f"Downgrade refused, nothing changed: {unpublished} draft or rejected "
            "statement(s) would become the public statement (the schema before "
            "0011 has no approval). Delete them first (DELETE FROM "
            "holding_statement WHERE state <> 'published')."
        )
    with op.batch_alter_table("holding_statement") as batch:
        batch.drop_column("urgent")
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by")
        batch.drop_column("state")
    op.drop_table("publish_job")
    op.drop_index("ix_topic_version_state", "topic_version")
    op.drop_table("topic_version")

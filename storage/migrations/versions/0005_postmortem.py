"""postmortem: the channel transcript, and what people wrote for the postmortem

Revision ID: 0005_postmortem
Revises: 0004_triage2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005_postmortem"
down_revision = "0005_mitigate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcript_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("thread_id", sa.String(length=32), nullable=True),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("edited_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("deleted_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        "ix_transcript_incident_created",
        "transcript_messages",
        ["incident_id", "created_at"],
    )
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("whys", sa.JSON(), nullable=False),
        sa.Column("lessons", sa.JSON(), nullable=False),
        sa.Column("drafted_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("published_commit", sa.String(length=64), nullable=True),
        sa.Column("published_path", sa.String(length=300), nullable=True),
        sa.Column("published_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("published_by", sa.String(length=32), nullable=True),
        sa.Column("breached_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )


def downgrade() -> None:
    op.drop_table("postmortems")
    op.drop_index("ix_transcript_incident_created", table_name="transcript_messages")
    op.drop_table("transcript_messages")

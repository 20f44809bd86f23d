"""watch: the chain watch's cursor, the transactions it classified, the outflows it counted

Revision ID: 0006_watch
Revises: 0005_postmortem
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0006_watch"
down_revision = "0006_follow_up"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("cursor_hash", sa.String(length=66), nullable=True),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("outages", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "watch_txs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("to", sa.String(length=42), nullable=True),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", storage.types.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("contracts", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("mitigation_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash"),
    )
    op.create_index("ix_watch_txs_block", "watch_txs", ["block"])
    op.create_table(
        "watch_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        sa.Column("block_time", storage.types.UTCDateTime(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash", "log_index"),
    )


def downgrade() -> None:
    op.drop_table("watch_transfers")
    op.drop_index("ix_watch_txs_block", "watch_txs")
    op.drop_table("watch_txs")
    op.drop_table("watch_state")

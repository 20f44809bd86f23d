"""mitigate: bound signers and their challenges, emergency actions and their confirmations

Revision ID: 0005_mitigate
Revises: 0004_triage2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005_mitigate"
down_revision = "0005_hotfix"
branch_labels = None
depends_on = None
TABLES = (
    "mitigation_confirmations",
    "mitigations",
    "signer_events",
    "signer_challenges",
    "signers",
)


def upgrade() -> None:
    op.create_table(
        "signers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("bound_at", storage.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("guild_id", "address"),
        sa.UniqueConstraint("guild_id", "member_id"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "signer_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("guild_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(), nullable=True),
        sa.UniqueConstraint("nonce"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "signer_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("guild_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mitigations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=42), nullable=False),
        sa.Column("function", sa.String(length=200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("calldata", sa.Text(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.String(length=32), nullable=False),
        sa.Column("proposed_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("deadline", storage.types.UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("approved_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("start_block", sa.Integer(), nullable=False),
        sa.Column("scanned_to", sa.Integer(), nullable=False),
        sa.Column("applied_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("applied_tx", sa.String(length=66), nullable=True),
        sa.Column("applied_block", sa.Integer(), nullable=True),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("effect", sa.JSON(), nullable=False),
        sa.Column("safe_tx", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mitigation_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mitigation_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block", sa.Integer(), nullable=True),
        sa.Column("signature", sa.String(length=132), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("mitigation_id", "via", "address"),
        sa.ForeignKeyConstraint(["mitigation_id"], ["mitigations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signer_challenges_member_id", "signer_challenges", ["member_id"])
    op.create_index("ix_mitigations_state", "mitigations", ["state"])


def downgrade() -> None:
    op.drop_index("ix_mitigations_state", "mitigations")
    op.drop_index("ix_signer_challenges_member_id", "signer_challenges")
    for table in TABLES:
        op.drop_table(table)

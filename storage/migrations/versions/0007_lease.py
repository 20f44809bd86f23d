"""lease: which replica acts (holder, fencing token, expiry on the database's clock)

Revision ID: 0007_lease
Revises: 0007_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_lease"
down_revision = "0007_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    lease = op.create_table(
        "replica_lease",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        # Seconds since the epoch on the database server's clock (never a replica's).
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # The one row every replica competes for, there from the start: taking the lease is
    # always an UPDATE of an existing row, which the database serializes.
    op.bulk_insert(
        lease, [{"name": "active", "holder": "", "token": 0, "expires_at": 0, "acquired_at": 0}]
    )


def downgrade() -> None:
    op.drop_table("replica_lease")

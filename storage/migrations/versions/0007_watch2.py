"""watch2: where the chain watch began reading (a reorg never rewinds before it), and the
token and vault of each counted outflow (a rule is its pair, not its place in the list)

Revision ID: 0007_watch2
Revises: 0006_watch
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_watch2"
down_revision = "0006_watch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watch_state") as batch:
        batch.add_column(sa.Column("origin", sa.Integer(), nullable=True))
    # A cursor stored before this revision: its own block is the best floor known.
    op.execute("UPDATE watch_state SET origin = cursor WHERE origin IS NULL")
    # No outflow was counted before this revision ([[watch.outflows]] was refused at load).
    with op.batch_alter_table("watch_transfers") as batch:
        batch.add_column(sa.Column("token", sa.String(length=42), nullable=False))
        batch.add_column(sa.Column("vault", sa.String(length=42), nullable=False))
        batch.create_index("ix_watch_transfers_pair", ["token", "vault", "block_time"])


def downgrade() -> None:
    with op.batch_alter_table("watch_transfers") as batch:
        batch.drop_index("ix_watch_transfers_pair")
        batch.drop_column("vault")
        batch.drop_column("token")
    with op.batch_alter_table("watch_state") as batch:
        batch.drop_column("origin")

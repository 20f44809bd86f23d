"""triage: a page has a state (pending → sent | failed | cancelled) and its message

Revision ID: 0003_triage
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_triage"
down_revision = "0003_communicate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        # Pages recorded before this revision were sent before their row was written.
        batch_op.add_column(
            sa.Column("state", sa.String(length=12), nullable=False, server_default="sent")
        )
        batch_op.add_column(sa.Column("message_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("message_id")
        batch_op.drop_column("state")

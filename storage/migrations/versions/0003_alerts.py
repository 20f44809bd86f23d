"""alerts: a replayed signed webhook request is found again by its replay key

Revision ID: 0003_alerts
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_alerts"
down_revision = "0003_triage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replay_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_alert_notifications_replay_key"), ["replay_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_notifications_replay_key"))
        batch_op.drop_column("replay_key")

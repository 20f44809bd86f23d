"""communicate: refused reactions told once; an X draft's edit in progress

Revision ID: 0003_communicate
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003_communicate"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reaction_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "user_id"),
    )
    with op.batch_alter_table("external_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("editing_since", storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("external_posts", schema=None) as batch_op:
        batch_op.drop_column("editing_since")
    op.drop_table("reaction_refusals")

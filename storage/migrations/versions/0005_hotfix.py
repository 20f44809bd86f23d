"""hotfix: the P1 hotfix branch of an incident and the deployments of it the bot acted on

Revision ID: 0005_hotfix
Revises: 0004_triage2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005_hotfix"
down_revision = "0004_triage2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fix_branches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base", sa.String(length=200), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_index("ix_fix_branches_name", "fix_branches", ["repository", "name"])
    op.create_table(
        "fix_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("via", sa.String(length=12), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("status_id"),
    )
    op.create_index("ix_fix_deployments_sha", "fix_deployments", ["sha"])


def downgrade() -> None:
    op.drop_index("ix_fix_deployments_sha", table_name="fix_deployments")
    op.drop_table("fix_deployments")
    op.drop_index("ix_fix_branches_name", table_name="fix_branches")
    op.drop_table("fix_branches")

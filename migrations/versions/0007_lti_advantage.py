"""LTI Advantage: rosters (NRPS), one-time dynamic registration links, client-side state storage

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lti_logins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_target", sa.String(length=200), nullable=True))
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("memberships_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(
            sa.Column("roster_synced_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("roster_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("roster_due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "lti_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("lti_user_id", sa.Integer(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["lti_contexts.id"],
            name=op.f("fk_lti_memberships_context_id_lti_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lti_user_id"],
            ["lti_users.id"],
            name=op.f("fk_lti_memberships_lti_user_id_lti_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_memberships")),
        sa.UniqueConstraint("context_id", "lti_user_id", name="uq_lti_memberships_pair"),
    )
    op.create_table(
        "lti_registration_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("platform_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_registration_links_platform_id_lti_platforms"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_registration_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_lti_registration_links_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("lti_registration_links")
    op.drop_table("lti_memberships")
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.drop_column("roster_due_at")
        batch_op.drop_column("roster_error")
        batch_op.drop_column("roster_synced_at")
        batch_op.drop_column("memberships_url")
    with op.batch_alter_table("lti_logins", schema=None) as batch_op:
        batch_op.drop_column("storage_target")

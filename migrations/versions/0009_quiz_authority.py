"""Authority over a quiz's questions: whether each fixed question, and each pool, was put in the
quiz by someone with authority over its questions (service.access.has_authority). Rows that
exist already keep what they did before: they count as put there with authority.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quiz_questions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("granted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("granted_pools", sa.JSON(), nullable=False, server_default="[]")
        )
    quizzes = sa.table(
        "quizzes",
        sa.column("id"),
        sa.column("pools", sa.JSON()),
        sa.column("granted_pools", sa.JSON()),
    )
    conn = op.get_bind()
    for ident, pools in conn.execute(sa.select(quizzes.c.id, quizzes.c.pools)).all():
        tags = [pool["tag"] for pool in pools or []]
        if tags:
            conn.execute(quizzes.update().where(quizzes.c.id == ident).values(granted_pools=tags))


def downgrade() -> None:
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.drop_column("granted_pools")
    with op.batch_alter_table("quiz_questions", schema=None) as batch_op:
        batch_op.drop_column("granted")

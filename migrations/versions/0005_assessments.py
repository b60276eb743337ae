"""Assessments: practice flag, review options, shuffling, pools, variants, extensions, overrides,
bank provenance and item revisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

REVIEW = ("immediately", "after_submit", "after_due", "never")
REVIEW_COLUMNS = ("review_score", "review_feedback", "review_correct_answer", "review_explanation")


def upgrade():
    op.create_table(
        "quiz_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quiz_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("extra_minutes", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quiz_id"],
            ["quizzes.id"],
            name=op.f("fk_quiz_extensions_quiz_id_quizzes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_quiz_extensions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_extensions")),
        sa.UniqueConstraint("quiz_id", "user_id", name="uq_quiz_extensions_pair"),
    )
    op.create_table(
        "item_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_item_revisions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_revisions")),
        sa.UniqueConstraint("kind", "item_id", "number", name="uq_item_revisions_number"),
    )
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("practice", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        for name in REVIEW_COLUMNS:
            batch_op.add_column(
                sa.Column(
                    name,
                    sa.Enum(*REVIEW, name="reviewtime", native_enum=False, length=20),
                    nullable=False,
                    server_default="after_submit",
                )
            )
        batch_op.add_column(
            sa.Column("shuffle_questions", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("pools", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("bank_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bank_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("quiz_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_by", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("layout", sa.JSON(), nullable=True))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant", sa.JSON(), nullable=True))
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("graded_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_grades_graded_by_id_users"), "users", ["graded_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_grades_graded_by_id_users"), type_="foreignkey")
        batch_op.drop_column("comment")
        batch_op.drop_column("graded_by_id")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("variant")
    with op.batch_alter_table("quiz_attempts", schema=None) as batch_op:
        batch_op.drop_column("layout")
        batch_op.drop_column("ended_by")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
        batch_op.drop_column("bank_fingerprint")
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        for name in ("edited_at", "bank_fingerprint", "pools", "shuffle_questions"):
            batch_op.drop_column(name)
        for name in reversed(REVIEW_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("practice")
    op.drop_table("item_revisions")
    op.drop_table("quiz_extensions")

"""Roles per course (membership rows), course-owned questions, server-side browser sessions and
single-use sign-in links

Existing data: enrollments become student memberships; an instructor token limited to a course
makes its user an instructor of that course; users an LMS made instructors (who were wrongly
site-wide) keep only a teaching-assistant membership of the courses they were in (their next
launch sets the role the LMS gives) and lose their API tokens. Old browser sessions end (their
cookies held an API token; those tokens are revoked).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NOW = sa.func.current_timestamp()


def _browser_sessions_v3() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_browser_sessions_course_id_courses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_browser_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_browser_sessions_expires_at"), ["expires_at"], unique=False
        )


def upgrade():
    # --- memberships ---------------------------------------------------------------------------
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=20), nullable=False, server_default="student")
        )
    tokens = sa.table(
        "api_tokens",
        sa.column("id"),
        sa.column("user_id"),
        sa.column("course_id"),
        sa.column("revoked_at"),
    )
    users = sa.table("users", sa.column("id"), sa.column("role"))
    enrollments = sa.table(
        "enrollments",
        sa.column("id"),
        sa.column("course_id"),
        sa.column("user_id"),
        sa.column("role"),
        sa.column("created_at"),
    )
    lti_users = sa.table("lti_users", sa.column("user_id"), sa.column("role"))
    conn = op.get_bind()
    lms_staff = sa.select(lti_users.c.user_id).where(lti_users.c.role == "instructor")
    conn.execute(
        enrollments.update()
        .where(enrollments.c.user_id.in_(lms_staff))
        .values(role="teaching_assistant")
    )
    conn.execute(
        tokens.update()
        .where(tokens.c.user_id.in_(lms_staff), tokens.c.revoked_at.is_(None))
        .values(revoked_at=NOW)
    )
    course_instructors = conn.execute(
        sa.select(tokens.c.user_id, tokens.c.course_id)
        .distinct()
        .join(users, users.c.id == tokens.c.user_id)
        .where(users.c.role == "instructor", tokens.c.course_id.is_not(None))
    ).all()
    for user_id, course_id in course_instructors:
        changed = conn.execute(
            enrollments.update()
            .where(enrollments.c.user_id == user_id, enrollments.c.course_id == course_id)
            .values(role="instructor")
        ).rowcount
        if not changed:
            conn.execute(
                enrollments.insert().values(
                    user_id=user_id, course_id=course_id, role="instructor", created_at=NOW
                )
            )

    # --- questions a course's instructors author ------------------------------------------------
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_questions_course_id"), ["course_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_questions_course_id_courses"),
            "courses",
            ["course_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # --- sessions: a random key in the cookie, the scope on the row ----------------------------
    old_sessions = sa.table("browser_sessions", sa.column("token_id"))
    conn.execute(
        tokens.update()
        .where(tokens.c.id.in_(sa.select(old_sessions.c.token_id)), tokens.c.revoked_at.is_(None))
        .values(revoked_at=NOW)
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_sessions_expires_at"))
    op.drop_table("browser_sessions")
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("deep_link", sa.JSON(), nullable=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_browser_sessions_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_browser_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_browser_sessions_key_hash")),
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_browser_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_browser_sessions_token_id"), ["token_id"], unique=False
        )

    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_sign_in_links_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_sign_in_links_key_hash")),
    )


def downgrade():
    op.drop_table("sign_in_links")
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_sessions_token_id"))
        batch_op.drop_index(batch_op.f("ix_browser_sessions_expires_at"))
    op.drop_table("browser_sessions")
    _browser_sessions_v3()
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_questions_course_id_courses"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_questions_course_id"))
        batch_op.drop_column("course_id")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("role")

"""LTI 1.3 tables: platforms and their deployments, the tool's keys, logins in flight, the
contexts, users and resource links a platform launched, and the score deliveries (AGS)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models import Course, OutboxRow, Role, User, _enum, db, utcnow


class LtiPlatform(db.Model):  # type: ignore[name-defined]
    """An LMS that launches holdout: its issuer, our client id there, and its endpoints."""

    __tablename__ = "lti_platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(2000))
    auth_token_url: Mapped[str] = mapped_column(String(2000))
    jwks_url: Mapped[str] = mapped_column(String(2000))
    # The `aud` of our client assertion; most platforms want the token URL (the default).
    token_audience: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="LtiDeployment.id"
    )
    __table_args__ = (
        UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer_client"),
    )


class LtiDeployment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "lti_deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")
    __table_args__ = (
        UniqueConstraint("platform_id", "deployment_id", name="uq_lti_deployments_pair"),
    )


class LtiKey(db.Model):  # type: ignore[name-defined]
    """One of the tool's RSA keys. Published from creation; signs from `active_from` until a newer
    key takes over; published (for verification) until `expires_at`."""

    __tablename__ = "lti_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active_from: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class LtiLogin(db.Model):  # type: ignore[name-defined]
    """An OIDC login in flight: the state we sent (hashed), the nonce the id_token must carry.
    Used once: `used_at` is set by the launch that consumes it."""

    __tablename__ = "lti_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    used_at: Mapped[datetime | None]
    # The platform's frame for client-side storage (lti_storage_target), when it offered one:
    # the state is then also kept there, for browsers that drop the state cookie.
    storage_target: Mapped[str | None] = mapped_column(String(200))


class LtiContext(db.Model):  # type: ignore[name-defined]
    """A platform's course (LTI context), mapped to a holdout course."""

    __tablename__ = "lti_contexts"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="")
    # Names and Role Provisioning Services: the roster URL of the latest launch, and its sync.
    memberships_url: Mapped[str | None] = mapped_column(String(2000))
    roster_synced_at: Mapped[datetime | None]
    roster_error: Mapped[str | None] = mapped_column(String(500))
    # Claimed by the process that syncs it next (daily), so two never sync it at once.
    roster_due_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship()
    platform: Mapped[LtiPlatform] = relationship()
    __table_args__ = (UniqueConstraint("platform_id", "context_id", name="uq_lti_contexts_pair"),)


class LtiMembership(db.Model):  # type: ignore[name-defined]
    """A platform user in a context's roster (NRPS), with the LMS's roles and status. Someone who
    leaves the roster is marked (`gone_at`), never deleted: their work and grades stay."""

    __tablename__ = "lti_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    lti_user_id: Mapped[int] = mapped_column(ForeignKey("lti_users.id", ondelete="CASCADE"))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="Active")
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    gone_at: Mapped[datetime | None]

    lti_user: Mapped[LtiUser] = relationship()
    __table_args__ = (
        UniqueConstraint("context_id", "lti_user_id", name="uq_lti_memberships_pair"),
    )


class LtiRegistrationLink(db.Model):  # type: ignore[name-defined]
    """A one-time link for LTI Dynamic Registration, minted by a site administrator: the only
    way a platform can register itself (the initiation URL is otherwise open to anyone)."""

    __tablename__ = "lti_registration_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Set while a registration runs (released if it fails) and for good once it succeeded.
    used_at: Mapped[datetime | None]
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="SET NULL")
    )


class LtiUser(db.Model):  # type: ignore[name-defined]
    """A platform user (`sub`) in one role, mapped to a holdout user (holdout users have one role,
    so someone who teaches one course and takes another has two)."""

    __tablename__ = "lti_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship()
    platform: Mapped[LtiPlatform] = relationship()
    __table_args__ = (
        UniqueConstraint("platform_id", "sub", "role", name="uq_lti_users_triple"),
        Index("ix_lti_users_user", "user_id"),
    )


class LtiResourceLink(db.Model):  # type: ignore[name-defined]
    """A placement of a holdout question or quiz in a platform course, with its AGS line item."""

    __tablename__ = "lti_resource_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    # What it opens: a question slug or a quiz slug (exactly one).
    question_slug: Mapped[str | None] = mapped_column(String(80))
    quiz_slug: Mapped[str | None] = mapped_column(String(80))
    # Assignment and Grade Services, from the launch's endpoint claim.
    lineitems_url: Mapped[str | None] = mapped_column(String(2000))
    lineitem_url: Mapped[str | None] = mapped_column(String(2000))
    ags_scopes: Mapped[list[Any]] = mapped_column(default=list)
    # Held while one process creates the line item, so two never both create one.
    lineitem_claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    platform: Mapped[LtiPlatform] = relationship()
    context: Mapped[LtiContext | None] = relationship()
    __table_args__ = (
        UniqueConstraint("platform_id", "resource_link_id", name="uq_lti_resource_links_pair"),
    )


class LtiLinkUser(db.Model):  # type: ignore[name-defined]
    """A user launched a resource link: their scores for its target go to its line item."""

    __tablename__ = "lti_link_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE")
    )
    lti_user_id: Mapped[int] = mapped_column(ForeignKey("lti_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    resource_link: Mapped[LtiResourceLink] = relationship()
    lti_user: Mapped[LtiUser] = relationship()
    __table_args__ = (
        UniqueConstraint("resource_link_id", "lti_user_id", name="uq_lti_link_users_pair"),
    )


class LtiScoreDelivery(OutboxRow, db.Model):  # type: ignore[name-defined]
    """One score for one user on one resource link's line item: what was sent, each try, and
    what came back. Enqueued in the transaction that wrote the grade."""

    __tablename__ = "lti_score_deliveries"

    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE")
    )
    lti_user_id: Mapped[int] = mapped_column(ForeignKey("lti_users.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_attempts.id"))
    score: Mapped[dict[str, Any]]
    sent_to: Mapped[str | None] = mapped_column(String(2000))

    resource_link: Mapped[LtiResourceLink] = relationship()
    lti_user: Mapped[LtiUser] = relationship()
    __table_args__ = (Index("ix_lti_score_deliveries_due", "status", "next_try_at"),)

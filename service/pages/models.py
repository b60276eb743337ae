"""Browser sessions and sign-in links: a person who arrived through an LTI launch or a link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models import ApiToken, Role, User, _enum, db, utcnow


class BrowserSession(db.Model):  # type: ignore[name-defined]
    """A signed-in browser. The cookie holds only a random key (its SHA-256 is stored here); the
    row carries the scope of what created it: the issuing token's role and course, or the LTI
    context. The pages call the API with the cookie and this session's CSRF token."""

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The API token whose sign-in link made it (None after an LTI launch): revoking it ends this.
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_enum(Role))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    # While an instructor picks content after a deep linking request: what to answer the LMS.
    deep_link: Mapped[dict[str, Any] | None]
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    user: Mapped[User] = relationship()
    token: Mapped[ApiToken | None] = relationship()


class SignInLink(db.Model):  # type: ignore[name-defined]
    """A single-use link that opens a browser session with its issuing token's scope."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    token: Mapped[ApiToken] = relationship()

"""The tool's own RSA keys, published at /lti/jwks, with rotation.

A new key is published as soon as it is created, but signs only from `active_from` on (by
default a day later), so platforms that cache our JWKS have seen it before the first message
signed with it arrives. The key it replaces keeps being published until `expires_at`, so messages
it signed can still be verified for a while.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import or_, select

from service import config
from service.lti.models import LtiKey
from service.models import db, utcnow

# A new key is published this long before it starts signing.
PUBLISH_AHEAD = timedelta(hours=config.current().lti_key_publish_ahead_hours)
# A replaced key stays published this long after its successor starts signing.
KEEP_AFTER = timedelta(hours=config.current().lti_key_keep_hours)
# The background loop starts a rotation when the signing key is this old.
MAX_AGE = timedelta(hours=config.current().lti_key_max_age_hours)
ALGORITHM = "RS256"


def new_key(active_from: datetime | None = None) -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_hex(8)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key = LtiKey(kid=kid, private_pem=pem, public_jwk=jwk, active_from=active_from or utcnow())
    db.session.add(key)
    db.session.flush()
    return key


def published_keys(now: datetime | None = None) -> list[LtiKey]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(LtiKey)
            .where(or_(LtiKey.expires_at.is_(None), LtiKey.expires_at > now))
            .order_by(LtiKey.active_from, LtiKey.id)
        )
    )


def jwks() -> dict[str, Any]:
    return {"keys": [key.public_jwk for key in published_keys()]}


def signing_key() -> LtiKey:
    """The newest key that is active; the first key is created (active at once) if none exists."""
    now = utcnow()
    key = db.session.scalar(
        select(LtiKey)
        .where(LtiKey.active_from <= now, or_(LtiKey.expires_at.is_(None), LtiKey.expires_at > now))
        .order_by(LtiKey.active_from.desc(), LtiKey.id.desc())
        .limit(1)
    )
    if key is None:
        key = new_key()
        db.session.commit()
    return key


def rotate(immediately: bool = False) -> LtiKey:
    """Publish a new key that signs after PUBLISH_AHEAD (or now); the keys it replaces expire
    KEEP_AFTER later. The caller commits."""
    now = utcnow()
    start = now if immediately else now + PUBLISH_AHEAD
    for old in published_keys(now):
        if old.expires_at is None:
            old.expires_at = start + KEEP_AFTER
    return new_key(active_from=start)


def rotate_if_old() -> LtiKey | None:
    """Start a rotation when the signing key is older than MAX_AGE and none is pending."""
    now = utcnow()
    keys = published_keys(now)
    if not keys or any(k.active_from > now for k in keys):
        return None
    current = max(keys, key=lambda k: (k.active_from, k.id))
    if now - current.active_from < MAX_AGE:
        return None
    return rotate()


def sign(claims: dict[str, Any]) -> str:
    key = signing_key()
    return jwt.encode(claims, key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid})

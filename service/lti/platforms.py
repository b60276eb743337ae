"""Registered platforms, and what holdout fetches from them: their JWKS (cached) and OAuth 2
access tokens for the Assignment and Grade Services (client credentials with a signed JWT
assertion, cached until shortly before they expire)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service import config
from service.lti import keys
from service.lti.models import LtiDeployment, LtiPlatform
from service.models import db

TIMEOUT_SECONDS = config.current().lti_http_timeout
JWKS_TTL_SECONDS = config.current().lti_jwks_ttl
# An unknown kid makes us fetch the JWKS again (the platform rotated), at most this often.
JWKS_MIN_REFRESH_SECONDS = 10.0
USER_AGENT = "holdout-lti/1"


class PlatformError(Exception):
    """A platform could not be reached or answered something we cannot use."""


def register_platform(
    *,
    name: str,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    jwks_url: str,
    deployment_ids: list[str],
    token_audience: str | None = None,
) -> tuple[LtiPlatform, bool]:
    """Create or update a platform by (issuer, client id) and add its deployment ids.
    Returns (platform, created). The caller commits."""
    platform = db.session.scalar(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )
    created = platform is None
    if platform is None:
        platform = LtiPlatform(issuer=issuer, client_id=client_id)
        db.session.add(platform)
    platform.name = name
    platform.auth_login_url = auth_login_url
    platform.auth_token_url = auth_token_url
    platform.jwks_url = jwks_url
    platform.token_audience = token_audience
    known = {d.deployment_id for d in platform.deployments}
    for deployment_id in deployment_ids:
        if deployment_id not in known:
            platform.deployments.append(LtiDeployment(deployment_id=deployment_id))
            known.add(deployment_id)
    db.session.flush()
    return platform, created


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The platform with this issuer (and client id; without one, the only one of the issuer)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = db.session.scalars(query.limit(2)).all()
    return found[0] if len(found) == 1 else None


def has_deployment(platform: LtiPlatform, deployment_id: str) -> bool:
    return any(d.deployment_id == deployment_id for d in platform.deployments)


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP exchange; returns (status, parsed JSON or None). Raises PlatformError only when
    there was no HTTP answer at all."""
    request = urllib.request.Request(
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise PlatformError(f"{url}: {type(exc).__name__}: {exc}") from exc
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


# --- the platform's JWKS ----------------------------------------------------------------------


@dataclass
class _Jwks:
    fetched_at: float
    keys: dict[str, dict[str, Any]]
    forced_at: float | None = None


class JwksCache:
    """Public keys per JWKS URL, kept JWKS_TTL_SECONDS. An unknown kid (the platform rotated its
    key) makes it fetch again at once, but at most once per JWKS_MIN_REFRESH_SECONDS, so tokens
    with made-up kids cannot make holdout hammer the platform."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, _Jwks] = {}

    def key(self, jwks_url: str, kid: str | None) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._by_url.get(jwks_url)
        forced_at = None
        if cached is not None and now - cached.fetched_at < JWKS_TTL_SECONDS:
            found = _pick(cached.keys, kid)
            if found is not None:
                return found
            recently = cached.forced_at is not None
            if recently and now - (cached.forced_at or 0.0) < JWKS_MIN_REFRESH_SECONDS:
                raise PlatformError(f"the platform's JWKS has no key {kid!r}")
            forced_at = now
        entry = self._fetch(jwks_url, forced_at)
        found = _pick(entry.keys, kid)
        if found is None:
            raise PlatformError(f"the platform's JWKS at {jwks_url} has no key {kid!r}")
        return found

    def clear(self) -> None:
        with self._lock:
            self._by_url.clear()

    def _fetch(self, jwks_url: str, forced_at: float | None) -> _Jwks:
        status, body = http_json(jwks_url, headers={"Accept": "application/json"})
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise PlatformError(f"the platform's JWKS at {jwks_url} answered HTTP {status}")
        by_kid = {
            str(k.get("kid", "")): k
            for k in body["keys"]
            if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("use", "sig") == "sig"
        }
        entry = _Jwks(fetched_at=time.monotonic(), keys=by_kid, forced_at=forced_at)
        with self._lock:
            self._by_url[jwks_url] = entry
        return entry


def _pick(by_kid: dict[str, dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is not None:
        return by_kid.get(kid)
    return next(iter(by_kid.values())) if len(by_kid) == 1 else None


jwks_cache = JwksCache()


# --- access tokens for AGS ----------------------------------------------------------------------


class TokenCache:
    """Access tokens per token endpoint, client id and scope, until shortly before expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, platform: LtiPlatform, scopes: list[str]) -> str:
        scope = " ".join(sorted(scopes))
        cache_key = (platform.auth_token_url, platform.client_id, scope)
        with self._lock:
            cached = self._tokens.get(cache_key)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        token, lifetime = request_token(platform, scope)
        # Renew a minute early (or halfway through a short lifetime).
        margin = min(60.0, lifetime / 2)
        with self._lock:
            self._tokens[cache_key] = (token, time.monotonic() + lifetime - margin)
        return token

    def forget(self, platform: LtiPlatform) -> None:
        mine = (platform.auth_token_url, platform.client_id)
        with self._lock:
            for cache_key in [k for k in self._tokens if k[:2] == mine]:
                del self._tokens[cache_key]


def client_assertion(platform: LtiPlatform) -> str:
    now = int(time.time())
    return keys.sign(
        {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.token_audience or platform.auth_token_url,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
    )


def request_token(platform: LtiPlatform, scope: str) -> tuple[str, float]:
    """client_credentials grant with a JWT assertion signed by the tool's key (RFC 7523)."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(platform),
            "scope": scope,
        }
    ).encode()
    status, body = http_json(
        platform.auth_token_url,
        method="POST",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
        detail = body.get("error") if isinstance(body, dict) else None
        raise PlatformError(
            f"token endpoint {platform.auth_token_url} answered HTTP {status}"
            + (f" ({detail})" if detail else "")
        )
    try:
        lifetime = float(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    return str(body["access_token"]), max(lifetime, 1.0)


token_cache = TokenCache()

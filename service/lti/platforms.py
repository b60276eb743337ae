"""Registered platforms, and what holdout fetches from them: their JWKS (cached) and OAuth 2
access tokens for the Assignment and Grade Services (client credentials with a signed JWT
assertion, cached until shortly before they expire)."""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service import config
from service.lti import keys
from service.lti.models import LtiDeployment, LtiPlatform
from service.models import db
from service.outbox import AnswerTooLarge, http_exchange

TIMEOUT_SECONDS = config.current().lti_http_timeout
JWKS_TTL_SECONDS = config.current().lti_jwks_ttl
# A launch waits for the platform's keys: a person is watching, so this is short.
JWKS_TIMEOUT_SECONDS = min(3.0, TIMEOUT_SECONDS)
# An unknown kid makes us fetch the JWKS again (the platform rotated), at most this often.
JWKS_MIN_REFRESH_SECONDS = 10.0
USER_AGENT = "holdout-lti/1"
# What a platform's answers may be: a JWKS or a token answer is a few kilobytes.
MAX_ANSWER_BYTES = 256 * 1024
MAX_TOKEN_CHARS = 8192
# A token is kept at most this long, whatever the platform says (OAuth tokens last minutes).
MAX_TOKEN_SECONDS = 3600.0


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


PLATFORM_FIELDS = (
    "name",
    "issuer",
    "client_id",
    "auth_login_url",
    "auth_token_url",
    "jwks_url",
    "token_audience",
)


def update_platform(platform: LtiPlatform, changes: dict[str, Any]) -> None:
    """Change a platform's fields; `deployment_ids` replaces its deployments. Raises
    PlatformConflict when the issuer and client id become another platform's. The caller commits."""
    issuer = changes.get("issuer", platform.issuer)
    client_id = changes.get("client_id", platform.client_id)
    other = db.session.scalar(
        select(LtiPlatform.id).where(
            LtiPlatform.issuer == issuer,
            LtiPlatform.client_id == client_id,
            LtiPlatform.id != platform.id,
        )
    )
    if other is not None:
        raise PlatformConflict(
            f"platform {other} already has issuer {issuer!r} and client id {client_id!r}"
        )
    forget_caches(platform)
    for name in PLATFORM_FIELDS:
        if name in changes:
            setattr(platform, name, changes[name])
    if "deployment_ids" in changes:
        wanted = list(dict.fromkeys(changes["deployment_ids"]))
        for deployment in list(platform.deployments):
            if deployment.deployment_id not in wanted:
                platform.deployments.remove(deployment)
        known = {d.deployment_id for d in platform.deployments}
        for deployment_id in wanted:
            if deployment_id not in known:
                platform.deployments.append(LtiDeployment(deployment_id=deployment_id))
    db.session.flush()


def delete_platform(platform: LtiPlatform) -> None:
    """Forget a platform, its deployments, contexts, links and deliveries (holdout's users,
    courses and their work stay). The caller commits."""
    forget_caches(platform)
    db.session.delete(platform)
    db.session.flush()


def forget_caches(platform: LtiPlatform) -> None:
    token_cache.forget(platform)
    jwks_cache.forget(platform.jwks_url)


class PlatformConflict(Exception):
    """Another platform has this issuer and client id."""


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The platform with this issuer (and client id; without one, the only one of the issuer)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = db.session.scalars(query.limit(2)).all()
    return found[0] if len(found) == 1 else None


def has_deployment(platform: LtiPlatform, deployment_id: str) -> bool:
    return any(d.deployment_id == deployment_id for d in platform.deployments)


def http_json(url: str, **options: Any) -> tuple[int, Any]:
    """One HTTP exchange, bounded in time and size; returns (status, parsed JSON or None).
    Raises PlatformError when there was no usable HTTP answer. Options: http_json_answer's."""
    status, parsed, _ = http_json_answer(url, **options)
    return status, parsed


def http_json_answer(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> tuple[int, Any, Mapping[str, str]]:
    """One HTTP exchange, bounded in time and size (max_bytes): (status, parsed JSON or None,
    headers). Raises PlatformError when there was no usable HTTP answer."""
    try:
        answer = http_exchange(
            url,
            method=method,
            body=body,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout or TIMEOUT_SECONDS,
            max_bytes=max_bytes,
        )
    except (OSError, AnswerTooLarge) as exc:
        raise PlatformError(f"{url}: {type(exc).__name__}: {exc}") from exc
    try:
        parsed = json.loads(answer.body) if answer.body else None
    except ValueError:
        parsed = None
    return answer.status, parsed, answer.headers


# --- the platform's JWKS ----------------------------------------------------------------------


@dataclass
class _Jwks:
    fetched_at: float
    keys: dict[str, dict[str, Any]]
    forced_at: float | None = None


class JwksCache:
    """Public keys per JWKS URL, kept JWKS_TTL_SECONDS. An unknown kid (the platform rotated its
    key) makes it fetch again at once, but at most once per JWKS_MIN_REFRESH_SECONDS, so tokens
    with made-up kids cannot make holdout hammer the platform. Fetches are single-flight: while
    one launch fetches a URL, the others wait for its answer instead of fetching it too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, _Jwks] = {}
        self._fetching: dict[str, threading.Lock] = {}
        self._failed: dict[str, tuple[float, PlatformError]] = {}

    def key(self, jwks_url: str, kid: str | None) -> dict[str, Any]:
        asked_at = time.monotonic()
        found = self._cached_key(jwks_url, kid, asked_at)
        if found is not None:
            return found
        with self._lock:
            flight = self._fetching.setdefault(jwks_url, threading.Lock())
        with flight:
            with self._lock:
                cached = self._by_url.get(jwks_url)
                failed = self._failed.get(jwks_url)
            if failed is not None and failed[0] >= asked_at:
                raise failed[1]  # the fetch this launch waited for failed: so does this launch
            if cached is not None and cached.fetched_at >= asked_at:
                entry = cached  # another launch fetched it while this one waited
            else:
                found = self._cached_key(jwks_url, kid, time.monotonic())
                if found is not None:
                    return found
                try:
                    entry = self._fetch(jwks_url, forced_at=time.monotonic() if cached else None)
                except PlatformError as exc:
                    with self._lock:
                        self._failed[jwks_url] = (time.monotonic(), exc)
                    raise
        found = _pick(entry.keys, kid)
        if found is None:
            raise PlatformError(f"the platform's JWKS at {jwks_url} has no key {kid!r}")
        return found

    def _cached_key(self, jwks_url: str, kid: str | None, now: float) -> dict[str, Any] | None:
        """The key from a fresh cached JWKS; None if it must be fetched. Raises when the kid is
        unknown and the JWKS was refetched for an unknown kid too recently."""
        with self._lock:
            cached = self._by_url.get(jwks_url)
        if cached is None or now - cached.fetched_at >= JWKS_TTL_SECONDS:
            return None
        found = _pick(cached.keys, kid)
        if found is not None:
            return found
        if cached.forced_at is not None and now - cached.forced_at < JWKS_MIN_REFRESH_SECONDS:
            raise PlatformError(f"the platform's JWKS has no key {kid!r}")
        return None

    def clear(self) -> None:
        with self._lock:
            self._by_url.clear()
            self._failed.clear()

    def forget(self, jwks_url: str) -> None:
        with self._lock:
            self._by_url.pop(jwks_url, None)
            self._failed.pop(jwks_url, None)

    def _fetch(self, jwks_url: str, forced_at: float | None) -> _Jwks:
        status, body = http_json(
            jwks_url, headers={"Accept": "application/json"}, timeout=JWKS_TIMEOUT_SECONDS
        )
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
            + (f" ({str(detail)[:200]})" if detail else "")
        )
    return _checked_token(platform, body)


def _checked_token(platform: LtiPlatform, body: dict[str, Any]) -> tuple[str, float]:
    """(token, seconds to keep it) from a token answer, refusing what no platform would send:
    a token that is not a short string, a lifetime that is not a positive finite number."""
    token, lifetime = body["access_token"], body.get("expires_in", 3600)
    where = f"token endpoint {platform.auth_token_url}"
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isprintable():
        raise PlatformError(f"{where} answered an access_token that is not a short string")
    if isinstance(lifetime, str):
        try:
            lifetime = float(lifetime)
        except ValueError:
            lifetime = None
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
        raise PlatformError(f"{where} answered an expires_in that is not a number")
    if not math.isfinite(lifetime) or lifetime <= 0:
        raise PlatformError(f"{where} answered expires_in {lifetime!r}")
    return token, max(1.0, min(float(lifetime), MAX_TOKEN_SECONDS))


token_cache = TokenCache()

"""LTI Dynamic Registration 1.0: an LMS registers holdout itself, from one URL an administrator
pastes into it (Moodle's "Tool URL", Canvas's "LTI Registration URL").

Who may start a registration: the initiation URL would otherwise let anyone on the internet make
holdout trust a platform of their own, so it works only with a one-time registration link that
a site administrator mints (`holdout lti registration-link`, `POST /api/v1/lti/registration-links`).
The link expires (a day by default), is claimed while a registration runs (released when it
fails, so the administrator can try again) and is spent once a platform is stored.

The flow (spec sections 3-4): the LMS opens the link with `openid_configuration` and (optional)
`registration_token`; holdout fetches the platform's OpenID configuration (its issuer must be an
https URL that the configuration URL lies within, its endpoints URLs holdout may call), POSTs its
client registration to the platform's registration endpoint, stores the platform and deployment
from the answer, and shows a page that posts `{subject: "org.imsglobal.lti.close"}` to the LMS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update

from service import outbound
from service.lti.launch import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST, LaunchError
from service.lti.models import LtiPlatform, LtiRegistrationLink
from service.lti.nrps import SCOPE as NRPS_SCOPE
from service.lti.platforms import PlatformError, http_json, register_platform
from service.models import db, rows_changed, utcnow

DEFAULT_HOURS = 24.0
MAX_HOURS = 24.0 * 14
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
AGS_SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
)
WANTED_SCOPES = (*AGS_SCOPES, NRPS_SCOPE)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
MAX_TOKEN_CHARS = 4096
TITLE = "Registration refused"
log = logging.getLogger("holdout.lti")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_link(name: str, hours: float = DEFAULT_HOURS) -> dict[str, Any]:
    """A new one-time registration link (the caller commits): {url, name, expires_at}."""
    from service.lti.views import tool_url_for

    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=hours)
    db.session.add(LtiRegistrationLink(token_hash=_hash(token), name=name, expires_at=expires))
    db.session.flush()
    return {"url": tool_url_for("lti.register", token=token), "name": name, "expires_at": expires}


@dataclass
class ToolUrls:
    login: str
    launch: str
    jwks: str


def claim_link(token: str) -> LtiRegistrationLink:
    """Take the link for this registration (committed), or refuse with a page."""
    now = utcnow()
    link = db.session.scalar(
        select(LtiRegistrationLink).where(LtiRegistrationLink.token_hash == _hash(token))
    )
    if link is None or link.expires_at <= now:
        raise LaunchError(
            403,
            TITLE,
            "This registration link is unknown or has expired. A holdout administrator can make "
            "a new one with 'holdout lti registration-link --name NAME'.",
        )
    claimed = rows_changed(
        update(LtiRegistrationLink)
        .where(LtiRegistrationLink.id == link.id, LtiRegistrationLink.used_at.is_(None))
        .values(used_at=now)
    )
    db.session.commit()
    if claimed != 1:
        raise LaunchError(
            409,
            TITLE,
            "This registration link has been used already (or a registration with it is under "
            "way). Each link registers one platform; ask for a new one.",
        )
    db.session.refresh(link)
    return link


def release_link(link_id: int) -> None:
    db.session.rollback()
    rows_changed(
        update(LtiRegistrationLink)
        .where(LtiRegistrationLink.id == link_id, LtiRegistrationLink.platform_id.is_(None))
        .values(used_at=None)
    )
    db.session.commit()


def _refuse(detail: str, status: int = 400) -> LaunchError:
    return LaunchError(status, TITLE, detail)


def _checked_url(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise _refuse(f"The platform's configuration has no usable {what}.")
    try:
        outbound.check_url(value)
    except outbound.OutboundRefused as exc:
        raise _refuse(f"The platform's {what} is refused: {exc}.") from exc
    return value


def within(url: str, issuer: str) -> bool:
    """Whether a URL lies within the issuer (same scheme and host, under its path)."""
    target, base = urlsplit(url), urlsplit(issuer)
    if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
        return False
    prefix = base.path.rstrip("/")
    return target.path == prefix or target.path.startswith(prefix + "/")


def fetch_configuration(url: str, registration_token: str | None) -> dict[str, Any]:
    """The platform's OpenID configuration, checked (spec 3.5)."""
    _checked_url(url, "openid_configuration URL")
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = "Bearer " + registration_token
    try:
        status, body = http_json(url, headers=headers)
    except PlatformError as exc:
        raise _refuse(f"holdout could not read the platform's configuration: {exc}.", 502) from exc
    if status != 200 or not isinstance(body, dict):
        raise _refuse(f"The platform's configuration answered HTTP {status}, not JSON.", 502)
    issuer = body.get("issuer")
    if not isinstance(issuer, str) or urlsplit(issuer).scheme not in ("https", "http"):
        raise _refuse("The platform's configuration names no issuer URL.")
    if urlsplit(issuer).scheme != "https" and urlsplit(url).scheme == "https":
        raise _refuse("The platform's issuer is not an https URL.")
    if urlsplit(issuer).query or urlsplit(issuer).fragment:
        raise _refuse("The platform's issuer has a query or fragment.")
    if not within(url, issuer):
        raise _refuse(
            f"The configuration URL {url!r} is not within the issuer {issuer!r} it names: "
            "a platform can only speak for itself."
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        _checked_url(body.get(name), name)
    algs = body.get("id_token_signing_alg_values_supported")
    if isinstance(algs, list) and "RS256" not in algs:
        raise _refuse("The platform does not sign id_tokens with RS256.")
    methods = body.get("token_endpoint_auth_methods_supported")
    if isinstance(methods, list) and "private_key_jwt" not in methods:
        raise _refuse("The platform's token endpoint does not take private_key_jwt.")
    if not isinstance(body.get(PLATFORM_CONFIGURATION), dict):
        raise _refuse("The configuration lacks the LTI platform configuration.")
    return body


def client_registration(config: dict[str, Any], urls: ToolUrls) -> dict[str, Any]:
    """What holdout asks the platform to register (spec 3.6, 4.1)."""
    supported = config.get("scopes_supported")
    scopes = [s for s in WANTED_SCOPES if not isinstance(supported, list) or s in supported]
    domain = urlsplit(urls.launch).netloc
    messages = [
        {"type": RESOURCE_LINK_REQUEST, "target_link_uri": urls.launch},
        {
            "type": DEEP_LINKING_REQUEST,
            "target_link_uri": urls.launch,
            "label": "holdout",
            "placements": ["ContentArea"],
            "supported_types": ["ltiResourceLink"],
        },
    ]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "holdout",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: {
            "domain": domain,
            "target_link_uri": urls.launch,
            "description": "Quizzes and auto-graded exercises",
            "claims": list(CLAIMS),
            "messages": messages,
        },
    }


def _short_string(value: Any, limit: int = 255) -> str | None:
    if isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value)
        if 0 < len(text) <= limit and text.isprintable():
            return text
    return None


def register(
    link: LtiRegistrationLink, config_url: str, registration_token: str | None, urls: ToolUrls
) -> LtiPlatform:
    """Run the registration for a claimed link; the platform is stored and the link spent
    (committed). Raises LaunchError (the caller releases the link)."""
    if registration_token is not None and (
        len(registration_token) > MAX_TOKEN_CHARS or not registration_token.isprintable()
    ):
        raise _refuse("The registration_token is not a short string.")
    config = fetch_configuration(config_url, registration_token)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = "Bearer " + registration_token
    body = client_registration(config, urls)
    try:
        status, answer = http_json(
            config["registration_endpoint"],
            method="POST",
            body=json.dumps(body).encode(),
            headers=headers,
        )
    except PlatformError as exc:
        raise _refuse(f"holdout could not reach the registration endpoint: {exc}.", 502) from exc
    if status not in (200, 201) or not isinstance(answer, dict):
        detail = answer.get("error") if isinstance(answer, dict) else None
        raise _refuse(
            f"The platform refused the registration (HTTP {status}"
            + (f": {str(detail)[:200]}" if detail else "")
            + ").",
            502,
        )
    client_id = _short_string(answer.get("client_id"))
    if client_id is None:
        raise _refuse("The platform's answer has no usable client_id.", 502)
    tool_config = answer.get(TOOL_CONFIGURATION)
    deployment = (
        _short_string(tool_config.get("deployment_id")) if isinstance(tool_config, dict) else None
    )
    product = config[PLATFORM_CONFIGURATION].get("product_family_code")
    audience = config.get("authorization_server")
    platform, _ = register_platform(
        name=link.name,
        issuer=config["issuer"][:500],
        client_id=client_id,
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"],
        jwks_url=config["jwks_uri"],
        deployment_ids=[deployment] if deployment else [],
        token_audience=audience if isinstance(audience, str) and len(audience) <= 2000 else None,
    )
    link.platform_id = platform.id
    db.session.commit()
    from service.lti.keys import signing_key

    signing_key()  # the platform fetches holdout's JWKS next
    db.session.commit()
    log.info(
        "platform registered",
        extra={
            "event": "lti.dynamic_registration",
            "platform": platform.id,
            "issuer": platform.issuer,
            "product": str(product)[:50] if product else None,
            "deployment": deployment,
        },
    )
    return platform

"""OIDC login initiation and the LTI 1.3 launch: validating the id_token and provisioning.

A launch is accepted only when every check passes: the state we issued (once, to this browser),
the platform's signature (against its JWKS), iss, aud (and azp), exp and iat, the nonce we issued
with that state, the message type and version, and a registered deployment id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from flask import current_app
from sqlalchemy import delete, select, update

from service import config
from service.auth import make_member
from service.lti.models import (
    LtiContext,
    LtiLinkUser,
    LtiLogin,
    LtiPlatform,
    LtiResourceLink,
    LtiUser,
)
from service.lti.platforms import PlatformError, find_platform, has_deployment, jwks_cache
from service.models import Course, CourseRole, Quiz, Role, User, db, rows_changed, utcnow
from service.questions import find_question

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
MAX_URL = 2000
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"

log = logging.getLogger("holdout.lti")
LOGIN_TTL = timedelta(seconds=config.current().lti_login_ttl)
LEEWAY_SECONDS = 60
STATE_COOKIE_PREFIX = "holdout-lti-state-"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
# LMS roles, mapped to a membership of the launch's context only: no LMS role ever makes a
# site-wide holdout role (an LMS administrator is an instructor of the course launched from).
COURSE_ROLES = {
    MEMBERSHIP + "#Instructor": CourseRole.INSTRUCTOR,
    MEMBERSHIP + "#ContentDeveloper": CourseRole.INSTRUCTOR,
    MEMBERSHIP + "#Administrator": CourseRole.INSTRUCTOR,
    MEMBERSHIP + "/Instructor#TeachingAssistant": CourseRole.TEACHING_ASSISTANT,
    MEMBERSHIP + "#Mentor": CourseRole.TEACHING_ASSISTANT,
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator": (
        CourseRole.INSTRUCTOR
    ),
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator": CourseRole.INSTRUCTOR,
    # The short forms some platforms still send.
    "Instructor": CourseRole.INSTRUCTOR,
    "ContentDeveloper": CourseRole.INSTRUCTOR,
    "Administrator": CourseRole.INSTRUCTOR,
    "TeachingAssistant": CourseRole.TEACHING_ASSISTANT,
}
RANK = [CourseRole.STUDENT, CourseRole.TEACHING_ASSISTANT, CourseRole.INSTRUCTOR]
INSTRUCTOR_ROLES = set(COURSE_ROLES)


class LaunchError(Exception):
    """A refused login or launch: shown to the person as a page with this title and detail."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


# --- claims at the boundary ------------------------------------------------------------------

# What holdout stores of a launch is bounded to its columns: an id that does not fit (or holds a
# control character) refuses the launch with a page, it is never cut (two ids cut alike would
# be one); a display text loses its control characters and is cut to its column.
MAX_ID = 255  # sub, context id, resource link id (their columns)
MAX_SLUG = 80  # custom question / quiz (slug columns)
MAX_TITLE = 200
MAX_NAME = 150
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def valid_id(value: Any, limit: int = MAX_ID) -> str | None:
    """The id as holdout stores it (a string; an integer as its digits), or None when it is
    empty (or blank), longer than `limit` or holds a control character."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    if CONTROL.search(value):
        return None
    return value


def clean_text(value: Any, limit: int) -> str:
    """A display text (a name, a title): control characters become spaces, runs of spaces one,
    cut to `limit` characters."""
    if value is None:
        return ""
    return " ".join(CONTROL.sub(" ", str(value)).split())[:limit]


def _refuse_claim(what: str, limit: int) -> LaunchError:
    return LaunchError(
        400,
        "Invalid launch",
        f"The launch's {what} is not usable: holdout takes a non-empty text of at most {limit} "
        "characters without control characters. Ask the LMS's administrator to check the "
        "tool's settings.",
    )


def check_claims(claims: dict[str, Any]) -> None:
    """Refuse (LaunchError 400) a launch whose ids holdout would store do not fit: `sub`, the
    context id, the resource link id, and the question or quiz it opens."""
    if valid_id(claims.get("sub")) is None:
        raise _refuse_claim("subject ('sub')", MAX_ID)
    context = claims.get(CONTEXT)
    if context is not None and not isinstance(context, dict):
        raise _refuse_claim("context claim", MAX_ID)
    if isinstance(context, dict) and context.get("id") and valid_id(context["id"]) is None:
        raise _refuse_claim("context id", MAX_ID)
    link = claims.get(RESOURCE_LINK)
    if link is not None and not isinstance(link, dict):
        raise _refuse_claim("resource link claim", MAX_ID)
    if isinstance(link, dict) and link.get("id") and valid_id(link["id"]) is None:
        raise _refuse_claim("resource link id", MAX_ID)
    for slug in launch_target(claims):
        if slug is not None and valid_id(slug, MAX_SLUG) is None:
            raise _refuse_claim("question or quiz (custom parameter)", MAX_SLUG)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def state_cookie_name(state: str) -> str:
    return STATE_COOKIE_PREFIX + state_hash(state)[:16]


# --- login initiation --------------------------------------------------------------------------


@dataclass
class LoginRedirect:
    url: str
    state: str
    # Client-side storage (LTI postMessage storage): the platform's frame and its origin.
    storage_target: str | None = None
    storage_origin: str | None = None


STORAGE_TARGET = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
STORAGE_PROOF_FIELD = "lti_storage_proof"


def storage_key(state: str) -> str:
    """The key the state is kept under in the platform's storage."""
    return "state_" + state


def storage_proof(state: str) -> str:
    """What the tool's own check page posts back once the platform's storage held the state:
    only holdout can compute it, and it is taken only from holdout's own origin."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"lti-storage:" + state.encode(), hashlib.sha256).hexdigest()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def begin_login(params: dict[str, str], redirect_uri: str) -> LoginRedirect:
    """Third-party initiated login: remember a state and nonce, send the browser to the
    platform's authorization endpoint. The caller commits and sets the state cookie."""
    issuer, login_hint = params.get("iss", ""), params.get("login_hint", "")
    if not issuer or not login_hint:
        raise LaunchError(
            400,
            "Incomplete login request",
            "The platform's login request lacks 'iss' or 'login_hint'.",
        )
    for field in ("iss", "client_id", "lti_deployment_id"):
        if params.get(field) and valid_id(params[field], 2000) is None:
            raise LaunchError(
                400,
                "Invalid login request",
                f"The platform's login request has an unusable {field!r} (too long, or with "
                "control characters).",
            )
    platform = find_platform(issuer, params.get("client_id") or None)
    if platform is None:
        raise LaunchError(
            400,
            "Unknown platform",
            f"No LMS with issuer {issuer!r}"
            + (f" and client id {params['client_id']!r}" if params.get("client_id") else "")
            + " is registered with holdout. An administrator can register it with "
            "'holdout lti register'.",
        )
    deployment = params.get("lti_deployment_id")
    if deployment and not has_deployment(platform, deployment):
        raise unknown_deployment(platform, deployment)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    target = params.get("lti_storage_target") or None
    if target is not None and not STORAGE_TARGET.fullmatch(target):
        target = None  # not a frame name: the cookie alone keeps the state
    db.session.add(
        LtiLogin(
            state_hash=state_hash(state),
            nonce=nonce,
            platform_id=platform.id,
            storage_target=target,
        )
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    if target is not None:
        query["lti_storage_target"] = target
    separator = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(
        url=platform.auth_login_url + separator + urlencode(query),
        state=state,
        storage_target=target,
        storage_origin=origin_of(platform.auth_login_url) if target else None,
    )


def unknown_deployment(platform: LtiPlatform, deployment_id: str) -> LaunchError:
    return LaunchError(
        403,
        "Unknown deployment",
        f"Deployment {deployment_id!r} of {platform.name} is not registered with holdout. "
        "An administrator can add it with 'holdout lti register ... --deployment-id'.",
    )


# --- the launch --------------------------------------------------------------------------------


@dataclass
class Launch:
    platform: LtiPlatform
    claims: dict[str, Any]

    @property
    def message_type(self) -> str:
        return str(self.claims.get(MESSAGE_TYPE, ""))

    @property
    def deployment_id(self) -> str:
        return str(self.claims.get(DEPLOYMENT_ID, ""))


class NeedsStorageCheck(Exception):
    """No state cookie came back, but the platform keeps the state in its client-side storage:
    the browser must show that it holds it (a page of holdout's asks the platform's frame)."""

    def __init__(self, target: str, origin: str) -> None:
        super().__init__(target)
        self.target = target
        self.origin = origin


def validate_launch(
    form: dict[str, str], cookies: dict[str, str], same_origin: bool = False
) -> Launch:
    """Check everything about a launch (see the module doc), consuming its login state. The
    state is bound to the browser by its cookie or, when the platform offered client-side
    storage, by the storage check (`same_origin`: the request came from holdout's own page)."""
    if form.get("error"):
        raise LaunchError(
            400,
            "The LMS refused the login",
            f"The platform answered {form['error']!r}"
            + (f": {form['error_description']}" if form.get("error_description") else "")
            + ". Try opening holdout again from your course.",
        )
    id_token, state = form.get("id_token", ""), form.get("state", "")
    if not id_token or not state:
        raise LaunchError(
            400,
            "Incomplete launch",
            "The launch lacks 'id_token' or 'state'. Open holdout from your course in the LMS.",
        )
    login = db.session.scalar(select(LtiLogin).where(LtiLogin.state_hash == state_hash(state)))
    if login is None or utcnow() - login.created_at > LOGIN_TTL:
        raise LaunchError(
            400,
            "Unknown or expired launch",
            "This launch does not match a login holdout started in the last "
            f"{int(LOGIN_TTL.total_seconds() // 60)} minutes. Open holdout again from your course.",
        )
    if login.used_at is not None:
        raise replayed()
    cookie = cookies.get(state_cookie_name(state), "")
    if not hmac.compare_digest(cookie.encode(), state.encode()):
        _check_storage(login, form, state, same_origin)
    platform = db.session.get(LtiPlatform, login.platform_id)
    assert platform is not None
    return _checked_launch(platform, login, form["id_token"])


def _check_storage(login: LtiLogin, form: dict[str, str], state: str, same_origin: bool) -> None:
    """Without the state cookie: the storage check, when the platform offered the storage."""
    if login.storage_target is not None:
        proof = form.get(STORAGE_PROOF_FIELD, "")
        if not proof:
            platform = db.session.get(LtiPlatform, login.platform_id)
            assert platform is not None
            raise NeedsStorageCheck(login.storage_target, origin_of(platform.auth_login_url))
        if same_origin and hmac.compare_digest(proof.encode(), storage_proof(state).encode()):
            return
        raise LaunchError(
            403,
            "Launch from another browser",
            "This launch could not be tied to the browser that started it (neither the state "
            "cookie nor the LMS's storage confirmed it). Open holdout again from your course.",
        )
    raise LaunchError(
        403,
        "Launch from another browser",
        "This launch did not come back to the browser that started it (the state cookie "
        "is missing). If your browser blocks third-party cookies, set the LMS to open "
        "holdout in a new window.",
    )


def _checked_launch(platform: LtiPlatform, login: LtiLogin, id_token: str) -> Launch:
    claims = _verified_claims(platform, id_token)
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), login.nonce.encode()):
        raise LaunchError(
            401,
            "Invalid launch",
            "The id_token's nonce is not the one holdout issued for this login.",
        )
    if claims.get(VERSION) != "1.3.0":
        raise LaunchError(400, "Unsupported LTI version", "holdout supports LTI 1.3.0 only.")
    if claims.get(MESSAGE_TYPE) not in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST):
        raise LaunchError(
            400,
            "Unsupported message",
            f"holdout cannot handle LTI message type {claims.get(MESSAGE_TYPE)!r}.",
        )
    deployment = str(claims.get(DEPLOYMENT_ID, ""))
    if deployment and valid_id(deployment) is None:
        raise _refuse_claim("deployment id", MAX_ID)
    if not has_deployment(platform, deployment):
        raise unknown_deployment(platform, deployment)
    check_claims(claims)
    used = rows_changed(
        update(LtiLogin)
        .where(LtiLogin.id == login.id, LtiLogin.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used != 1:
        db.session.rollback()
        raise replayed()
    return Launch(platform=platform, claims=claims)


def replayed() -> LaunchError:
    return LaunchError(
        400,
        "Launch already used",
        "This launch (its state and nonce) has already been used once; a replayed launch is "
        "refused. Open holdout again from your course.",
    )


def _verified_claims(platform: LtiPlatform, id_token: str) -> dict[str, Any]:
    invalid = "Invalid launch"
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.DecodeError as exc:
        raise LaunchError(400, invalid, f"The id_token is not a JWT: {exc}.") from exc
    if header.get("alg") != "RS256":
        raise LaunchError(
            401, invalid, f"The id_token is signed with {header.get('alg')!r}, not RS256."
        )
    try:
        jwk = jwks_cache.key(platform.jwks_url, header.get("kid"))
    except PlatformError as exc:
        raise LaunchError(
            502, "Cannot check the launch", f"holdout could not get the platform's keys: {exc}."
        ) from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=jwt.PyJWK(jwk, algorithm="RS256").key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise LaunchError(
            401,
            invalid,
            "The id_token's signature does not match the platform's published keys.",
        ) from exc
    except jwt.ExpiredSignatureError as exc:
        raise LaunchError(
            401, "Launch expired", "The id_token has expired. Open holdout again."
        ) from exc
    except jwt.ImmatureSignatureError as exc:
        raise LaunchError(401, invalid, "The id_token is issued in the future.") from exc
    except jwt.InvalidAudienceError as exc:
        raise LaunchError(
            401,
            invalid,
            f"The id_token is meant for another tool: its audience is not holdout's client id "
            f"{platform.client_id!r}.",
        ) from exc
    except jwt.InvalidIssuerError as exc:
        raise LaunchError(
            401, invalid, f"The id_token was not issued by {platform.issuer!r}."
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise LaunchError(401, invalid, f"The id_token lacks the {exc.claim!r} claim.") from exc
    except jwt.PyJWTError as exc:
        raise LaunchError(401, invalid, f"The id_token is not valid: {exc}.") from exc
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != platform.client_id:
        raise LaunchError(
            401, invalid, "The id_token has several audiences and its 'azp' is not holdout."
        )
    if "azp" in claims and claims["azp"] != platform.client_id:
        raise LaunchError(401, invalid, "The id_token's 'azp' is not holdout's client id.")
    return claims


# --- provisioning ------------------------------------------------------------------------------


def course_role_of(claims: dict[str, Any]) -> CourseRole:
    """The highest course role the launch's LMS roles give (a learner by default)."""
    roles = claims.get(ROLES) or []
    found = [COURSE_ROLES[r] for r in roles if isinstance(r, str) and r in COURSE_ROLES]
    return max(found, key=RANK.index, default=CourseRole.STUDENT)


def role_of(claims: dict[str, Any]) -> Role:
    """The kind of holdout user: staff of a course (instructors, TAs) or learners. It never
    reaches beyond the launch's course: a session after a launch is limited to its context."""
    return Role.STUDENT if course_role_of(claims) == CourseRole.STUDENT else Role.INSTRUCTOR


def display_name(claims: dict[str, Any]) -> str:
    """The person's name for holdout's pages: control characters removed, cut to its column."""
    name = clean_text(claims.get("name"), MAX_NAME)
    if not name:
        given = clean_text(claims.get("given_name"), MAX_NAME)
        family = clean_text(claims.get("family_name"), MAX_NAME)
        name = f"{given} {family}".strip() or clean_text(claims.get("email"), MAX_NAME)
    return (name or f"LMS user {clean_text(claims['sub'], 12)}")[:MAX_NAME]


def lti_user(platform: LtiPlatform, claims: dict[str, Any]) -> User:
    """The holdout user for this platform user and role, created on their first launch (or
    roster sync). An LMS identity is the platform and subject (`sub`), never the name: the user
    is found by that alone, and a new one is always a new row, never a user found by name (a
    display name is whatever the account's holder chose)."""
    sub, role = str(claims["sub"]), role_of(claims)
    link = db.session.scalar(
        select(LtiUser).where(
            LtiUser.platform_id == platform.id, LtiUser.sub == sub, LtiUser.role == role
        )
    )
    if link is not None:
        return link.user
    user = User(name=_free_name(display_name(claims), role, platform, sub), role=role)
    db.session.add(user)
    db.session.flush()
    db.session.add(LtiUser(platform_id=platform.id, sub=sub, role=role, user_id=user.id))
    db.session.flush()
    return user


def _free_name(name: str, role: Role, platform: LtiPlatform, sub: str) -> str:
    """A name no user of this role has yet (names are unique per role): the display name, else
    with a short tag of this platform user's, else with a random tag, since anyone may have
    taken the first two beforehand (display names are free), and a launch must not fail so."""
    tag = hashlib.sha256(f"{platform.id}:{sub}".encode()).hexdigest()[:6]
    candidates = [name, f"{name} ({tag})"] + [f"{name} ({secrets.token_hex(4)})" for _ in range(3)]
    for candidate in candidates:
        taken = db.session.scalar(select(User.id).where(User.name == candidate, User.role == role))
        if taken is None:
            return candidate
    return f"{name} ({secrets.token_hex(8)})"


def lms_provisioned(user: User) -> str | None:
    """Which LMSs provisioned this user (their launches or rosters), or None: what
    service.auth.get_or_create_user asks before it lets an administrator's name find a user."""
    names = db.session.scalars(
        select(LtiPlatform.name)
        .join(LtiUser, LtiUser.platform_id == LtiPlatform.id)
        .where(LtiUser.user_id == user.id)
        .distinct()
    ).all()
    if not names:
        return None
    return "launches or rosters from the LMS " + ", ".join(repr(n) for n in sorted(names))


SLUG_DIGEST = 16  # hex digits of sha256(platform id:context id) in a new course's slug


def _slug_part(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


def lti_course(platform: LtiPlatform, claims: dict[str, Any]) -> Course | None:
    """The holdout course for the launch's context (created on its first launch).

    A course belongs to exactly one (platform, context), through its LtiContext row, and is
    found by that row only: a new context always gets a new course, never an existing course
    whose slug happens to match (another platform's, or one site staff named `lti-...`)."""
    context = claims.get(CONTEXT)
    if not isinstance(context, dict) or not context.get("id"):
        return None
    context_id = str(context["id"])
    row = db.session.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == platform.id, LtiContext.context_id == context_id
        )
    )
    title = clean_text(context.get("title") or context.get("label") or context_id, MAX_TITLE)
    if row is not None:
        if title and row.course.title != title:
            row.course.title = title
        _remember_roster(row, claims)
        return row.course
    course = Course(slug=new_course_slug(platform, context), title=title)
    db.session.add(course)
    db.session.flush()
    row = LtiContext(
        platform_id=platform.id, context_id=context_id, course_id=course.id, title=title
    )
    db.session.add(row)
    _remember_roster(row, claims)
    db.session.flush()
    return course


def new_course_slug(platform: LtiPlatform, context: dict[str, Any]) -> str:
    """A slug no course has: `lti-<label>-<16 hex digits of the platform and context>`, else with
    a random suffix. Never an existing course's: the slug only names the course, it never finds
    one (a 64-bit digest is not something another platform can aim at, but a clash with any
    course, however it came about, just picks another slug)."""
    digest = hashlib.sha256(f"{platform.id}:{context['id']}".encode()).hexdigest()[:SLUG_DIGEST]
    label = _slug_part(str(context.get("label") or context.get("title") or ""))
    base = "-".join(p for p in ("lti", label, digest) if p)
    candidates = [base] + [f"{base}-{secrets.token_hex(4)}" for _ in range(5)]
    for candidate in candidates:
        if db.session.scalar(select(Course.id).where(Course.slug == candidate)) is None:
            return candidate
    return f"lti-{secrets.token_hex(16)}"


def _remember_roster(row: LtiContext, claims: dict[str, Any]) -> None:
    """The roster URL (NRPS 2.0) of the latest launch that offers one."""
    service = claims.get(NRPS_CLAIM)
    if not isinstance(service, dict):
        return
    url, versions = service.get("context_memberships_url"), service.get("service_versions")
    if not isinstance(url, str) or valid_id(url, MAX_URL) is None:
        return
    if isinstance(versions, list) and "2.0" not in versions:
        return
    row.memberships_url = url


def launch_target(claims: dict[str, Any]) -> tuple[str | None, str | None]:
    """(question slug, quiz slug) the link opens: from its custom parameters (as Deep Linking
    sets them), else from the target link URI's query."""
    custom = claims.get(CUSTOM)
    found: dict[str, Any] = dict(custom) if isinstance(custom, dict) else {}
    if not found.get("question") and not found.get("quiz"):
        query = parse_qs(urlsplit(str(claims.get(TARGET_LINK_URI, ""))).query)
        found = {name: values[0] for name, values in query.items()}
    question, quiz = found.get("question"), found.get("quiz")
    return (str(question) if question else None), (str(quiz) if quiz and not question else None)


def resource_link(
    platform: LtiPlatform, claims: dict[str, Any], course: Course | None
) -> LtiResourceLink | None:
    link_claim = claims.get(RESOURCE_LINK)
    if not isinstance(link_claim, dict) or not link_claim.get("id"):
        return None
    link = db.session.scalar(
        select(LtiResourceLink).where(
            LtiResourceLink.platform_id == platform.id,
            LtiResourceLink.resource_link_id == str(link_claim["id"]),
        )
    )
    if link is None:
        link = LtiResourceLink(platform_id=platform.id, resource_link_id=str(link_claim["id"]))
        db.session.add(link)
    link.title = clean_text(link_claim.get("title") or link.title or "", MAX_TITLE)
    question, quiz = launch_target(claims)
    if question or quiz:
        link.question_slug, link.quiz_slug = question, quiz
    if course is not None:
        context_id = str(claims[CONTEXT]["id"])
        link.context = db.session.scalar(
            select(LtiContext).where(
                LtiContext.platform_id == platform.id, LtiContext.context_id == context_id
            )
        )
    _take_ags_claim(link, claims.get(AGS_ENDPOINT))
    db.session.flush()
    return link


def _url_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and valid_id(value, MAX_URL) else None


def _take_ags_claim(link: LtiResourceLink, endpoint: Any) -> None:
    """The latest launch's AGS endpoints and scopes win (none when its claim is missing), and a
    change is logged. A line item holdout created stays while the platform names no line item
    but the same line items URL."""
    if not isinstance(endpoint, dict):
        endpoint = {}
    scopes = endpoint.get("scope")
    lineitems = _url_or_none(endpoint.get("lineitems"))
    lineitem = _url_or_none(endpoint.get("lineitem"))
    if lineitem is None and lineitems is not None and lineitems == link.lineitems_url:
        lineitem = link.lineitem_url
    given = scopes if isinstance(scopes, list) else []
    scope = [s for s in given if isinstance(s, str) and valid_id(s, MAX_URL)][:20]
    before = {
        "lineitems": link.lineitems_url,
        "lineitem": link.lineitem_url,
        "scope": list(link.ags_scopes or []),
    }
    after = {"lineitems": lineitems, "lineitem": lineitem, "scope": scope}
    if after == before:
        return
    if link.id is not None:
        log.info(
            "lti ags claim changed",
            extra={
                "event": "lti.ags_claim_changed",
                "platform": link.platform_id,
                "resource_link": link.resource_link_id,
                "before": before,
                "after": after,
            },
        )
    link.lineitems_url, link.lineitem_url, link.ags_scopes = lineitems, lineitem, scope


def remember_link_user(link: LtiResourceLink, platform: LtiPlatform, sub: str, role: Role) -> None:
    lti_user_row = db.session.scalar(
        select(LtiUser).where(
            LtiUser.platform_id == platform.id, LtiUser.sub == sub, LtiUser.role == role
        )
    )
    assert lti_user_row is not None
    exists = db.session.scalar(
        select(LtiLinkUser.id).where(
            LtiLinkUser.resource_link_id == link.id, LtiLinkUser.lti_user_id == lti_user_row.id
        )
    )
    if exists is None:
        db.session.add(LtiLinkUser(resource_link_id=link.id, lti_user_id=lti_user_row.id))


@dataclass
class Provisioned:
    user: User
    course: Course | None
    link: LtiResourceLink | None
    course_role: CourseRole = CourseRole.STUDENT


def provision(launch: Launch) -> Provisioned:
    """Create or reuse the user, the course (enrolling the user) and the resource link."""
    platform, claims = launch.platform, launch.claims
    user = lti_user(platform, claims)
    course = lti_course(platform, claims)
    course_role = course_role_of(claims)
    if course is not None:
        make_member(user, course, course_role)
    link = None
    if launch.message_type == RESOURCE_LINK_REQUEST:
        link = resource_link(platform, claims, course)
        if link is not None:
            remember_link_user(link, platform, str(claims["sub"]), user.role)
    return Provisioned(user=user, course=course, link=link, course_role=course_role)


def target_exists(link: LtiResourceLink) -> bool:
    if link.question_slug:
        return find_question(link.question_slug) is not None
    if link.quiz_slug:
        return db.session.scalar(select(Quiz.id).where(Quiz.slug == link.quiz_slug)) is not None
    return False


def expire_old_logins() -> int:
    """Forget logins older than twice the TTL (used or not)."""
    result = db.session.execute(
        delete(LtiLogin).where(LtiLogin.created_at < utcnow() - LOGIN_TTL * 2)
    )
    return int(getattr(result, "rowcount", 0) or 0)

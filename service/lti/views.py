"""The tool's LTI endpoints: login initiation, launch (resource links and deep linking requests),
the tool's JWKS, and the deep linking picker. Refusals are pages a person can read."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from service.errors import Problem
from service.lti import keys
from service.lti.deep_linking import (
    choices as deep_link_choices,
)
from service.lti.deep_linking import (
    content_item,
    find_choice,
    response_jwt,
    settings_for_session,
)
from service.lti.launch import (
    DEEP_LINKING_REQUEST,
    LOGIN_TTL,
    STORAGE_PROOF_FIELD,
    LaunchError,
    NeedsStorageCheck,
    begin_login,
    origin_of,
    provision,
    state_cookie_name,
    storage_key,
    storage_proof,
    target_exists,
    validate_launch,
)
from service.lti.models import LtiPlatform
from service.models import CourseRole, Role, db
from service.pages.sessions import (
    check_csrf,
    cookie_options,
    csrf_token,
    external_url,
    require_session,
    start_session,
)

bp = Blueprint("lti", __name__, url_prefix="/lti")


def tool_url(endpoint: str) -> str:
    """An absolute URL of this tool, on HOLDOUT_PUBLIC_URL (or a trusted request host)."""
    return external_url(url_for(endpoint))


def tool_url_for(endpoint: str, **values: Any) -> str:
    return external_url(url_for(endpoint, **values))


def _same_origin() -> bool:
    """Whether this POST came from one of holdout's own pages (the browser says so: Origin,
    else Sec-Fetch-Site), not from a page elsewhere."""
    origin = request.headers.get("Origin")
    if origin:
        return origin.rstrip("/") == origin_of(tool_url("lti.launch"))
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


def tool_urls() -> dict[str, str]:
    return {
        "login_initiation": tool_url("lti.login"),
        "launch": tool_url("lti.launch"),
        "redirect_uris": tool_url("lti.launch"),
        "deep_linking": tool_url("lti.launch"),
        "jwks": tool_url("lti.jwks"),
    }


@bp.errorhandler(LaunchError)
def _launch_error(exc: LaunchError) -> tuple[str, int]:
    return render_template("error.html", title=exc.title, detail=exc.detail), exc.status


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> tuple[str, int]:
    title = exc.title or "Something went wrong"
    return render_template("error.html", title=title, detail=exc.detail), exc.status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """OIDC third-party initiated login: the platform sends the browser here first."""
    params: dict[str, str] = {**request.args.to_dict(), **request.form.to_dict()}
    started = begin_login(params, redirect_uri=tool_url("lti.launch"))
    db.session.commit()
    if started.storage_target:
        # The platform offers client-side storage: keep the state there too (the page then
        # goes on to the platform), for browsers that drop the cookie in an iframe.
        response = make_response(
            render_template(
                "lti_storage.html",
                mode="put",
                target=started.storage_target,
                origin=started.storage_origin,
                key=storage_key(started.state),
                value=started.state,
                next_url=started.url,
            )
        )
    else:
        response = make_response(redirect(started.url, code=302))
    response.set_cookie(
        state_cookie_name(started.state),
        started.state,
        max_age=int(LOGIN_TTL.total_seconds()),
        path=url_for("lti.launch"),
        **cookie_options(),
    )
    return response


@bp.route("/launch", methods=["POST"])
def launch() -> Response:
    """The platform posts the signed id_token here (the redirect URI)."""
    form = request.form.to_dict()
    try:
        checked = validate_launch(form, request.cookies, same_origin=_same_origin())
    except NeedsStorageCheck as needed:
        return make_response(
            render_template(
                "lti_storage.html",
                mode="get",
                target=needed.target,
                origin=needed.origin,
                key=storage_key(form["state"]),
                value=form["state"],
                action=url_for("lti.launch"),
                fields={
                    "id_token": form["id_token"],
                    "state": form["state"],
                    STORAGE_PROOF_FIELD: storage_proof(form["state"]),
                },
            )
        )
    granted = provision(checked)
    # The session is limited to the launch's course; without one, it is only a learner's.
    staff = granted.course is not None and granted.course_role != CourseRole.STUDENT
    browser = start_session(
        granted.user,
        role=granted.user.role if granted.course is not None else Role.STUDENT,
        course=granted.course,
    )
    if checked.message_type == DEEP_LINKING_REQUEST:
        if granted.course is None or granted.course_role != CourseRole.INSTRUCTOR:
            db.session.commit()
            raise LaunchError(
                403,
                "Only instructors can add content",
                "Choosing holdout content for a course needs an instructor role in the LMS.",
            )
        browser.deep_link = settings_for_session(checked)
        target = url_for("lti.deep_link")
    elif granted.link is None:
        raise LaunchError(400, "Incomplete launch", "The launch names no resource link.")
    elif not target_exists(granted.link):
        db.session.commit()
        raise LaunchError(
            404,
            "Nothing to open here",
            "This link does not point to a holdout question or quiz (any more). "
            "An instructor can choose one again through the LMS.",
        )
    elif staff and granted.course is not None:
        target = url_for("pages.course", slug=granted.course.slug)
    elif granted.link.quiz_slug:
        target = url_for("pages.quiz", slug=granted.link.quiz_slug)
    else:
        target = url_for("pages.question", slug=granted.link.question_slug)
    db.session.commit()
    response = redirect(target, code=303)
    response.delete_cookie(
        state_cookie_name(form["state"]), path=url_for("lti.launch"), **_deletion_options()
    )
    return response


def _deletion_options() -> dict[str, Any]:
    options = cookie_options()
    options.pop("httponly")
    return options


@bp.route("/jwks")
def jwks() -> Response:
    """The tool's public keys: the signing key, the next one, and recently replaced ones."""
    body = keys.jwks()
    if not body["keys"]:
        keys.signing_key()
        body = keys.jwks()
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _picker(**context: Any) -> str:
    return render_template(
        "deep_link.html",
        choices=deep_link_choices(),
        user=require_session().user,
        csrf=csrf_token(),
        **context,
    )


@bp.route("/deep-link", methods=["GET", "POST"])
def deep_link() -> str | tuple[str, int]:
    """The picker an instructor sees after a deep linking request, and its answer: a page that
    posts the signed response back to the platform."""
    browser = require_session()
    settings = browser.deep_link
    if not isinstance(settings, dict):
        raise LaunchError(
            400,
            "No content selection in progress",
            "Start from 'Add an activity' (or 'Select content') in your LMS.",
        )
    if request.method == "GET":
        return _picker()
    check_csrf(request.form.get("csrf"))
    kind, _, slug = request.form.get("item", "").partition(":")
    choice = find_choice(kind, slug)
    if choice is None:
        return _picker(error="Choose a quiz or an exercise first."), 422
    platform = db.session.get(LtiPlatform, settings["platform_id"])
    if platform is None:
        abort(404)
    token = response_jwt(platform, settings, [content_item(choice, tool_url("lti.launch"))])
    browser.deep_link = None
    db.session.commit()
    return render_template(
        "autopost.html",
        action=settings["return_url"],
        fields={"JWT": token},
        message=f"Adding “{choice.title}” to your course…",
    )


@bp.route("/register/<token>")
def register(token: str) -> Response:
    """LTI Dynamic Registration: the LMS opens this (a one-time link an administrator minted)
    with `openid_configuration` and `registration_token`; see service.lti.registration."""
    from service.lti import registration

    config_url = request.args.get("openid_configuration", "")
    if not config_url:
        raise LaunchError(
            400,
            registration.TITLE,
            "The LMS did not send 'openid_configuration': paste this URL where the LMS asks "
            "for a tool's dynamic registration URL (Moodle: Tool URL; Canvas: LTI Registration "
            "URL).",
        )
    if len(token) > 100:
        raise LaunchError(403, registration.TITLE, "This registration link is unknown.")
    from service.pages import CONTENT_SECURITY_POLICY, frame_ancestors

    try:
        link = registration.claim_link(token)
        urls = registration.ToolUrls(
            login=tool_url("lti.login"), launch=tool_url("lti.launch"), jwks=tool_url("lti.jwks")
        )
        try:
            platform = registration.register(
                link, config_url, request.args.get("registration_token") or None, urls
            )
        except LaunchError:
            registration.release_link(link.id)
            raise
    except LaunchError as exc:
        # The LMS shows the registration in its own frame: it may show why it was refused.
        refused = make_response(
            render_template("error.html", title=exc.title, detail=exc.detail), exc.status
        )
        lms = origin_of(config_url)
        ancestors = frame_ancestors()
        if lms.startswith(("https://", "http://")) and re.fullmatch(r"[\w.:/\[\]-]+", lms):
            ancestors += " " + lms
        refused.headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; {ancestors}"
        return refused
    response = make_response(render_template("lti_registered.html", platform=platform))
    # The LMS shows this page in its own frame: it may (it is registered now).
    response.headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; {frame_ancestors()}"
    return response

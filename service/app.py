"""The Flask application factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_migrate import Migrate
from flask_swagger_ui import get_swaggerui_blueprint
from sqlalchemy import event

from service import caching, metrics
from service.config import Settings
from service.errors import Problem, register_error_handlers
from service.events import init_events
from service.logs import configure_logging, install_request_logging
from service.lti import init_lti
from service.models import db
from service.outbox import init_outbox
from service.pages import FORM_BLUEPRINTS, init_pages
from service.ratelimits import init_rate_limits
from service.waits import init_waits

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BODY_METHODS = ("POST", "PUT", "PATCH")
# Each of these may start a sandbox run, so they have a tighter limit than the rest.
# The pages' answer forms are limited like the API's answers.
SUBMIT_ENDPOINTS = (
    "questions.submit_answer",
    "quizzes.answer",
    "pages.answer",
    "pages.save_attempt",
)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # WAL lets readers and one writer work at once across gunicorn workers; the busy timeout
    # makes a second writer wait instead of failing; SQLite enforces foreign keys only when asked.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 10}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


# Endpoints that take a file upload as multipart/form-data.
UPLOAD_BLUEPRINTS = ("interop",)


def _require_json_body() -> None:
    if request.method not in BODY_METHODS:
        return
    if request.blueprint in FORM_BLUEPRINTS:  # LTI launches and the pages' forms
        return
    if request.blueprint in UPLOAD_BLUEPRINTS and request.mimetype == "multipart/form-data":
        return  # question files (service/api/interop.py)
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(
            415,
            f"Send the request body as application/json, not {mimetype or 'no content type'}.",
        )


class HoldoutFlask(Flask):
    """Flask, asking once per function whether a view or request hook is a coroutine: Flask asks
    `inspect` again for each of them on every request (about a dozen calls a request here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync[func]
        except KeyError:
            sync = self._sync[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


class CookieSessionWhenSent(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only when the request carries its cookie. Flask
    builds the cookie's signer on every request first; holdout keeps its sign-ins in its own
    cookie (pages/sessions.py), so a call with a token would pay for it for nothing."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(
            self.get_cookie_name(app)
        ):
            return self.session_class()
        return super().open_session(app, request)


class DrainRefusedBody:
    """WSGI middleware: before answering 413, read and discard the unread body (up to a bound).

    A client that sends its whole body before reading the answer (Python's urllib, most clients
    without `Expect: 100-continue`) would otherwise meet a closed socket while still sending and
    see a reset connection, never the 413. Past the bound the connection is closed as before; a
    reverse proxy in front (deploy/nginx/) refuses large bodies itself.
    """

    CHUNK = 64 * 1024

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("413"):
                self._drain(environ)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def _drain(self, environ: dict[str, Any]) -> None:
        stream = environ.get("wsgi.input")
        if stream is None:
            return
        left = self.limit
        try:
            while left > 0 and (chunk := stream.read(min(self.CHUNK, left))):
                left -= len(chunk)
        except (OSError, ValueError):  # the client went away: nothing to answer
            pass


def _init_grading(app: Flask, settings: Settings) -> None:
    checks = app.extensions.setdefault("holdout_ready_checks", {})
    if settings.broker_url:
        from service.broker import BrokerQueue

        queue = BrokerQueue(settings.broker_url)
        app.extensions["holdout_broker"] = queue
        checks["broker"] = queue.ping
    else:
        checks["sandbox"] = _sandbox_ready


def _sandbox_ready() -> dict[str, Any]:
    """The grader's isolation layers, as a probe job sees them from inside (cached after the
    first call), in a process that grades; elsewhere there is nothing to check."""
    from flask import current_app

    from service.grading import get_grader

    if "holdout_executor" not in current_app.extensions:
        return {"ok": True, "detail": "this process does not grade"}
    try:
        status = get_grader().sandbox_status()
    except Exception as exc:  # a broken sandbox is "not ready", with the reason
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {**status, "ok": bool(status.get("ok"))}


def _init_features(app: Flask, settings: Settings) -> None:
    """The event bus and its listeners, the outbox, the periodic work, and the endpoints."""
    from service import attempts, webhooks
    from service.api import init_api

    attempts.listen(init_events(app))
    attempts.schedule(app)
    init_outbox(app, settings.delivery_threads)
    webhooks.init_webhooks(app)
    api = init_api(app)
    init_lti(app, api)
    init_pages(app, api)
    init_waits(app)


def create_app(settings: Settings | None = None, **config: Any) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)

    app = HoldoutFlask(__name__, instance_path=str(settings.instance_dir))
    app.session_interface = CookieSessionWhenSent()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        HOLDOUT_SETTINGS=settings,
    )
    app.extensions["holdout_settings"] = settings  # read through config.of_app()
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(config)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)

    caching.install_headers(app)  # first registered: runs after every other after_request
    install_request_logging(app)
    metrics.install(app)
    caching.install()
    app.before_request(_require_json_body)
    register_error_handlers(app)

    _init_grading(app, settings)
    limiter = init_rate_limits(app, settings)
    _init_features(app, settings)
    for endpoint in SUBMIT_ENDPOINTS:
        app.view_functions[endpoint] = limiter.limit_answers(app.view_functions[endpoint])
    limiter.exempt.update(("health.healthz", "health.readyz", "health.metrics"))
    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "holdout API"})
    )
    # Up to 8 times the accepted size (and at least 8 MiB) is read to deliver a readable 413.
    drain_limit = max(8 * settings.max_body_bytes, 8 * 1024 * 1024)
    app.wsgi_app = DrainRefusedBody(app.wsgi_app, drain_limit)  # type: ignore[method-assign]
    return app

"""`holdout lti ...`: register platforms, show the tool's URLs, list and rotate the tool's keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from service.models import db

F = TypeVar("F", bound=Callable[..., Any])


@click.group("lti")
def lti_group() -> None:
    """LTI 1.3: platforms (LMSs), the tool's URLs and keys."""


@contextmanager
def _tool_context(base_url: str | None) -> Iterator[None]:
    """A request context on holdout's public URL, so tool URLs can be built."""
    base = (base_url or "").rstrip("/")
    with current_app.test_request_context(**({"base_url": base} if base else {})):
        yield


def _tool_urls(base_url: str | None) -> dict[str, str]:
    from service.lti.views import tool_urls

    with _tool_context(base_url):
        urls = tool_urls()
    if not base_url and urls["launch"].startswith("http://localhost/"):
        click.echo(
            "These URLs are guesses (http://localhost): HOLDOUT_PUBLIC_URL is not set. Set it to "
            "holdout's https address, or pass --base-url, before entering them in an LMS.",
            err=True,
        )
    return urls


def _echo_urls(urls: dict[str, str]) -> None:
    click.echo("Enter these in the LMS:")
    click.echo(f"  OIDC login initiation URL: {urls['login_initiation']}")
    click.echo(f"  Target link / launch URL:  {urls['launch']}")
    click.echo(f"  Redirect URI(s):           {urls['redirect_uris']}")
    click.echo(f"  Deep linking URL:          {urls['deep_linking']}")
    click.echo(f"  Public keyset (JWKS) URL:  {urls['jwks']}")


def platform_options(required: bool) -> Callable[[F], F]:
    """The registration's fields as options, named as the API names them (--auth-token-url for
    auth_token_url); --token-url is kept as an older spelling."""

    def wrap(command: F) -> F:
        options = [
            click.option("--name", required=required, help="A name for the LMS."),
            click.option("--issuer", required=required, help="The platform's issuer (iss)."),
            click.option("--client-id", required=required, help="holdout's client id there."),
            click.option(
                "--deployment-id",
                "deployment_ids",
                multiple=True,
                required=required,
                help="A deployment id (repeat for several)"
                + ("." if required else "; replaces the platform's deployments."),
            ),
            click.option(
                "--auth-login-url", required=required, help="The OIDC authorization URL."
            ),
            click.option(
                "--auth-token-url", "--token-url", "auth_token_url", required=required,
                help="The OAuth 2 token URL.",
            ),
            click.option("--jwks-url", required=required, help="The platform's JWKS URL."),
            click.option("--token-audience", help="`aud` of the client assertion."),
        ]  # fmt: skip
        for option in reversed(options):
            command = option(command)
        return command

    return wrap


def _fields(options: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The options as the API's body, checked by the same schema (service.lti.schemas)."""
    from service.errors import Problem
    from service.lti.schemas import checked_platform

    data = {k: v for k, v in options.items() if v is not None and v != ()}
    if "deployment_ids" in data:
        data["deployment_ids"] = list(data["deployment_ids"])
    try:
        return checked_platform(data, partial=partial)
    except Problem as exc:
        raise click.UsageError(exc.detail) from exc


def _platform(platform_id: int) -> Any:
    from service.lti.models import LtiPlatform

    platform = db.session.get(LtiPlatform, platform_id) if 0 < platform_id < 2**31 else None
    if platform is None:
        raise click.UsageError(f"No LTI platform {platform_id} (see 'holdout lti list').")
    return platform


@lti_group.command("register")
@platform_options(required=True)
@click.option("--base-url", help="holdout's public URL, to print the tool URLs.")
@with_appcontext
def register(base_url: str | None, **options: Any) -> None:
    """Register an LMS (or update it: same issuer and client id; deployment ids are added)."""
    from service.lti.keys import signing_key
    from service.lti.platforms import register_platform

    platform, created = register_platform(**_fields(options, partial=False))
    db.session.commit()
    signing_key()  # the tool needs a key before the LMS fetches its JWKS
    deployments = ", ".join(d.deployment_id for d in platform.deployments)
    verb = "Registered" if created else "Updated"
    click.echo(f"{verb} platform {platform.id} ({platform.name}); deployments: {deployments}.")
    _echo_urls(_tool_urls(base_url))


@lti_group.command("update")
@click.argument("platform_id", type=int)
@platform_options(required=False)
@with_appcontext
def update(platform_id: int, **options: Any) -> None:
    """Change a platform's fields (those given); --deployment-id replaces its deployments."""
    from service.lti.platforms import PlatformConflict, update_platform

    platform = _platform(platform_id)
    changes = _fields(options, partial=True)
    if not changes:
        raise click.UsageError("Nothing to change: give at least one option.")
    try:
        update_platform(platform, changes)
    except PlatformConflict as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(f"Updated platform {platform.id} ({platform.name}).")


@lti_group.command("delete")
@click.argument("platform_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def delete(platform_id: int, yes: bool) -> None:
    """Forget a platform (its deployments, links, roster and score log; holdout's users,
    courses and their work stay)."""
    from service.lti.platforms import delete_platform

    platform = _platform(platform_id)
    if not yes:
        click.confirm(f"Delete platform {platform.id} ({platform.name})?", abort=True)
    delete_platform(platform)
    db.session.commit()
    click.echo(f"Deleted platform {platform_id}.")


@lti_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per platform, as the API.")
@with_appcontext
def list_platforms(as_json: bool) -> None:
    """The registered platforms."""
    from service.lti.models import LtiPlatform

    for platform in db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)):
        deployments = ", ".join(d.deployment_id for d in platform.deployments)
        if as_json:
            from service.lti.schemas import PlatformSchema

            with current_app.test_request_context():
                click.echo(json.dumps(PlatformSchema(exclude=["tool"]).dump(platform)))
            continue
        click.echo(
            f"{platform.id}\t{platform.name}\t{platform.issuer}\tclient {platform.client_id}"
            f"\tdeployments {deployments}"
        )


@lti_group.command("registration-link")
@click.option("--name", required=True, help="The name the LMS gets once it registered.")
@click.option("--hours", type=click.FloatRange(0.1, 24.0 * 14), default=24.0, show_default=True)
@click.option("--base-url", help="holdout's public URL (default: HOLDOUT_PUBLIC_URL).")
@with_appcontext
def registration_link(name: str, hours: float, base_url: str | None) -> None:
    """A one-time LTI Dynamic Registration URL: paste it into the LMS (Moodle: Tool URL;
    Canvas: LTI Registration URL). Printed as the last line."""
    from service.lti.registration import mint_link

    with _tool_context(base_url):
        made = mint_link(name, hours)
    db.session.commit()
    click.echo(f"Valid until {made['expires_at'].isoformat()}, for one registration:")
    click.echo(made["url"])


@lti_group.group("roster")
def roster_group() -> None:
    """Course rosters from the LMS (Names and Role Provisioning Services)."""


@roster_group.command("sync")
@click.option("--course", "course_slug", help="One course (default: every LMS course).")
@with_appcontext
def roster_sync(course_slug: str | None) -> None:
    """Pull rosters from the LMS now (the background loop does it daily)."""
    from service.lti.models import LtiContext
    from service.lti.nrps import RosterError, sync_and_commit
    from service.models import Course

    query = select(LtiContext).where(LtiContext.memberships_url.is_not(None))
    if course_slug:
        course = db.session.scalar(select(Course).where(Course.slug == course_slug))
        if course is None:
            raise click.UsageError(f"No course {course_slug!r}.")
        query = query.where(LtiContext.course_id == course.id)
    failed = 0
    for context in db.session.scalars(query.order_by(LtiContext.id)).all():
        try:
            done = sync_and_commit(context)
        except RosterError as exc:
            failed += 1
            click.echo(f"{context.course.slug}: failed: {exc}", err=True)
            continue
        click.echo(
            f"{context.course.slug}: {done.members} members ({done.enrolled} new, "
            f"{done.gone} gone) in {done.pages} page(s)"
        )
    if failed:
        raise SystemExit(1)


@lti_group.command("urls")
@click.option("--base-url", help="holdout's public URL (default: HOLDOUT_PUBLIC_URL).")
@with_appcontext
def urls(base_url: str | None) -> None:
    """The URLs to enter in an LMS."""
    _echo_urls(_tool_urls(base_url))


@lti_group.group("keys")
def keys_group() -> None:
    """The tool's signing keys (published at /lti/jwks)."""


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    from service.lti.keys import published_keys
    from service.models import utcnow

    now = utcnow()
    for key in published_keys(now):
        state = "pending" if key.active_from > now else "active"
        until = f", published until {key.expires_at.isoformat()}" if key.expires_at else ""
        click.echo(f"{key.kid}\t{state} from {key.active_from.isoformat()}{until}")


@keys_group.command("rotate")
@click.option(
    "--now", "immediately", is_flag=True, help="Sign with the new key at once (an emergency)."
)
@with_appcontext
def keys_rotate(immediately: bool) -> None:
    """Publish a new key; it signs after the publication delay (or at once with --now), and the
    old key stays published for a while so its signatures can still be checked."""
    from service.lti.keys import rotate

    key = rotate(immediately=immediately)
    db.session.commit()
    click.echo(f"New key {key.kid}, signing from {key.active_from.isoformat()}.")

"""`holdout lti ...`: register platforms, show the tool's URLs, list and rotate the tool's keys."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from service.models import db


@click.group("lti")
def lti_group() -> None:
    """LTI 1.3: platforms (LMSs), the tool's URLs and keys."""


def _tool_urls(base_url: str | None) -> dict[str, str]:
    from service.lti.views import tool_urls

    base = (base_url or "").rstrip("/")
    if base:
        with current_app.test_request_context(base_url=base):
            return tool_urls()
    with current_app.test_request_context():
        urls = tool_urls()
    if urls["launch"].startswith("http://localhost/"):
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


@lti_group.command("register")
@click.option("--name", required=True, help="A name for the LMS, e.g. 'University Moodle'.")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. its base URL.")
@click.option("--client-id", required=True, help="The client id the LMS gave holdout.")
@click.option(
    "--deployment-id",
    "deployment_ids",
    multiple=True,
    required=True,
    help="A deployment id (repeat for several).",
)
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization URL.")
@click.option("--token-url", required=True, help="The platform's OAuth 2 token URL.")
@click.option("--jwks-url", required=True, help="The platform's public keyset URL.")
@click.option("--token-audience", help="`aud` for the client assertion (default: token URL).")
@click.option("--base-url", help="holdout's public URL, to print the tool URLs.")
@with_appcontext
def register(
    name: str,
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_login_url: str,
    token_url: str,
    jwks_url: str,
    token_audience: str | None,
    base_url: str | None,
) -> None:
    """Register an LMS (or update it: same issuer and client id; deployment ids are added)."""
    from service import outbound
    from service.lti.keys import signing_key
    from service.lti.platforms import register_platform

    for url in (auth_login_url, token_url, jwks_url):
        try:
            outbound.check_url(url)
        except outbound.OutboundRefused as exc:
            raise click.UsageError(str(exc)) from exc
    platform, created = register_platform(
        name=name,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=auth_login_url,
        auth_token_url=token_url,
        jwks_url=jwks_url,
        deployment_ids=list(deployment_ids),
        token_audience=token_audience,
    )
    db.session.commit()
    signing_key()  # the tool needs a key before the LMS fetches its JWKS
    deployments = ", ".join(d.deployment_id for d in platform.deployments)
    verb = "Registered" if created else "Updated"
    click.echo(f"{verb} platform {platform.id} ({name}); deployments: {deployments}.")
    _echo_urls(_tool_urls(base_url))


@lti_group.command("list")
@with_appcontext
def list_platforms() -> None:
    """The registered platforms."""
    from service.lti.models import LtiPlatform

    for platform in db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)):
        deployments = ", ".join(d.deployment_id for d in platform.deployments)
        click.echo(
            f"{platform.id}\t{platform.name}\t{platform.issuer}\tclient {platform.client_id}"
            f"\tdeployments {deployments}"
        )


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

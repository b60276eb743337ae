"""What a platform registration is: one schema for the API and the command line, so both accept
the same fields (same names) and refuse the same values."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from service import outbound
from service.errors import Problem
from service.schemas import StrictSchema

URL_FIELDS = ("auth_login_url", "auth_token_url", "jwks_url")


def url_field(description: str, required: bool = True) -> fields.Url:
    return fields.Url(
        required=required,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
        metadata={"description": description},
    )


def _platform_fields(required: bool) -> dict[str, fields.Field]:
    return {
        "name": fields.String(required=required, validate=validate.Length(min=1, max=200)),
        "issuer": fields.String(required=required, validate=validate.Length(min=1, max=500)),
        "client_id": fields.String(required=required, validate=validate.Length(min=1, max=255)),
        "deployment_ids": fields.List(
            fields.String(validate=validate.Length(min=1, max=255)),
            required=required,
            validate=validate.Length(min=1, max=100),
            metadata={"description": "On an update: replaces the platform's deployments"},
        ),
        "auth_login_url": url_field("The platform's OIDC authorization endpoint", required),
        "auth_token_url": url_field("The platform's OAuth 2 token endpoint", required),
        "jwks_url": url_field("The platform's public keys (JWKS)", required),
        "token_audience": fields.String(
            validate=validate.Length(max=2000),
            metadata={"description": "`aud` of the client assertion; default: the token URL"},
        ),
    }


# One set of fields: every one to register a platform, any of them to change one.
PlatformCreateSchema = StrictSchema.from_dict(_platform_fields(True), name="PlatformCreate")
PlatformUpdateSchema = StrictSchema.from_dict(_platform_fields(False), name="PlatformUpdate")


def checked_platform(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The fields, validated as the API validates them (types, lengths, http(s) URLs), and the
    URLs ones holdout may call (service.outbound). Raises Problem(422) naming each bad field."""
    schema = PlatformUpdateSchema() if partial else PlatformCreateSchema()
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        lines = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in messages.items()
        )
        raise Problem(422, f"Invalid request: {lines}", errors=messages) from exc
    outbound.require_allowed({k: loaded[k] for k in URL_FIELDS if k in loaded})
    return loaded


class PlatformSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    issuer = fields.String(required=True)
    client_id = fields.String(required=True)
    deployment_ids = fields.Function(
        lambda p: [d.deployment_id for d in p.deployments], required=True
    )
    auth_login_url = fields.String(required=True)
    auth_token_url = fields.String(required=True)
    jwks_url = fields.String(required=True)
    token_audience = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    tool = fields.Function(
        lambda _: _tool_urls(),
        metadata={"description": "The URLs to enter in the platform"},
    )


def _tool_urls() -> dict[str, str]:
    from service.lti.views import tool_urls

    return tool_urls()

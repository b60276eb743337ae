"""A fake LMS (an LTI 1.3 platform) served over real HTTP on loopback, for the tests.

It signs real RS256 id_tokens, serves its JWKS, answers the OIDC authorization request with an
auto-posting form (as Moodle and Canvas do), issues AGS access tokens for client assertions that
verify against the tool's JWKS, keeps line items, records every score and Deep Linking response,
and can be told to fail the next score posts.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify, request
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
PEOPLE = {
    "alice": {"sub": "user-alice-1", "name": "Alice Learner", "roles": [LEARNER]},
    "bob": {"sub": "user-bob-2", "name": "Bob Learner", "roles": [LEARNER]},
    "prof": {"sub": "user-prof-9", "name": "Pat Professor", "roles": [INSTRUCTOR]},
}


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> SigningKey:
        return cls(
            secrets.token_hex(6), rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwk(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


@dataclass
class PendingLaunch:
    claims: dict[str, Any]
    # Changes applied to the claims or the signature, for the negative cases.
    tamper: Callable[[dict[str, Any]], None] | None = None
    sign_with: SigningKey | None = None


@dataclass
class Recorded:
    jwks_fetches: int = 0
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    lineitem_posts: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    deep_links: list[dict[str, Any]] = field(default_factory=list)
    auth_requests: list[dict[str, str]] = field(default_factory=list)
    roster_requests: list[dict[str, str]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    configuration_requests: list[dict[str, str]] = field(default_factory=list)


class FakePlatform:
    def __init__(self, tool_base: str, tool_jwks: Callable[[], dict[str, Any]]) -> None:
        self.tool_base = tool_base.rstrip("/")
        self.tool_jwks = tool_jwks
        self.client_id = "holdout-" + secrets.token_hex(4)
        self.deployment_id = "deployment-1"
        self.key = SigningKey.new()
        self.recorded = Recorded()
        self.pending: dict[str, PendingLaunch] = {}
        self.lineitems: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, list[str]] = {}
        self.fail_next_scores = 0
        # The course roster (NRPS), served in pages of this size (Link rel="next").
        self.roster: dict[str, list[dict[str, Any]]] = {}
        self.roster_page_size = 2
        # Dynamic registration: the token the LMS hands out, and what a new registration gets.
        self.registration_token = "reg-" + secrets.token_urlsafe(12)
        self.configuration_overrides: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.app = self._make_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakePlatform:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)

    @property
    def issuer(self) -> str:
        return self.base

    def registration(self) -> dict[str, Any]:
        """The fields holdout's registration takes (API body; the CLI has the same options)."""
        return {
            "name": "Fake LMS",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "auth_login_url": self.base + "/auth",
            "auth_token_url": self.base + "/token",
            "jwks_url": self.base + "/jwks",
        }

    # --- launches ------------------------------------------------------------------------------

    def claims(
        self,
        person: str,
        *,
        message_type: str = "LtiResourceLinkRequest",
        resource_link: str = "link-1",
        custom: dict[str, str] | None = None,
        context: str = "course-101",
        lineitem: str | None = None,
        return_url: str | None = None,
        roster: bool = True,
    ) -> dict[str, Any]:
        who = PEOPLE[person]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": who["sub"],
            "name": who["name"],
            "iat": now,
            "exp": now + 300,
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": self.tool_base + "/lti/launch",
            LTI + "roles": who["roles"],
            LTI + "context": {"id": context, "label": "ML 101", "title": "Machine Learning 101"},
        }
        if roster:
            claims[NRPS] = {
                "context_memberships_url": f"{self.base}/contexts/{context}/memberships",
                "service_versions": ["2.0"],
            }
        if message_type == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": resource_link, "title": "Regularization"}
            claims[AGS] = {"scope": SCOPES, "lineitems": self.base + "/lineitems"}
            if lineitem:
                claims[AGS]["lineitem"] = lineitem
            if custom:
                claims[LTI + "custom"] = custom
        else:
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": return_url or self.base + "/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": False,
                "data": "opaque-" + secrets.token_hex(3),
            }
        return claims

    def prepare(
        self,
        claims: dict[str, Any],
        tamper: Callable[[dict[str, Any]], None] | None = None,
        sign_with: SigningKey | None = None,
    ) -> str:
        """Hold these claims for the next authorization request; returns the login_hint."""
        hint = secrets.token_urlsafe(8)
        with self.lock:
            self.pending[hint] = PendingLaunch(claims, tamper, sign_with)
        return hint

    def login_params(self, hint: str, storage_target: str | None = None) -> dict[str, str]:
        """What the platform sends to the tool's login initiation URL (with the frame of its
        client-side storage, when it offers it)."""
        params = {
            "iss": self.issuer,
            "login_hint": hint,
            "target_link_uri": self.tool_base + "/lti/launch",
            "lti_message_hint": "msg-" + hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        if storage_target:
            params["lti_storage_target"] = storage_target
        return params

    def enrol(
        self, context: str, person: str, roles: list[str] | None = None, **extra: Any
    ) -> None:
        """Put someone on a course's roster (NRPS member)."""
        who = PEOPLE.get(person, {"sub": person, "name": person.title(), "roles": [LEARNER]})
        member = {
            "user_id": who["sub"],
            "name": who["name"],
            "roles": roles or who["roles"],
            "status": "Active",
            **extra,
        }
        with self.lock:
            members = self.roster.setdefault(context, [])
            members[:] = [m for m in members if m["user_id"] != member["user_id"]] + [member]

    def unenrol(self, context: str, person: str) -> None:
        sub = PEOPLE.get(person, {"sub": person})["sub"]
        with self.lock:
            self.roster[context] = [m for m in self.roster.get(context, []) if m["user_id"] != sub]

    def openid_configuration(self) -> dict[str, Any]:
        """The platform's OpenID configuration (LTI Dynamic Registration 1.0, section 3.5)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.base + "/auth",
            "token_endpoint": self.base + "/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.base + "/jwks",
            "registration_endpoint": self.base + "/register",
            "scopes_supported": ["openid", *SCOPES, NRPS_SCOPE],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": "fake-lms",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]},
                ],
                "variables": [],
            },
            **self.configuration_overrides,
        }

    def registration_start(self, tool_url: str) -> str:
        """Where the LMS sends the administrator's browser: the tool's registration URL with
        `openid_configuration` and `registration_token` (section 3.3)."""
        query = urllib.parse.urlencode(
            {
                "openid_configuration": self.base + "/.well-known/openid-configuration",
                "registration_token": self.registration_token,
            }
        )
        return tool_url + ("&" if "?" in tool_url else "?") + query

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        key = key or self.key
        return jwt.encode(claims, key.pem(), algorithm="RS256", headers={"kid": key.kid})

    def rotate_key(self) -> None:
        self.key = SigningKey.new()

    # --- the HTTP side ------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("fake-lms")

        @app.get("/jwks")
        def jwks() -> Response:
            with self.lock:
                self.recorded.jwks_fetches += 1
            return jsonify({"keys": [self.key.jwk()]})

        @app.get("/auth")
        def auth() -> tuple[str, int] | str:
            args = request.args.to_dict()
            self.recorded.auth_requests.append(args)
            expected = {
                "scope": "openid",
                "response_type": "id_token",
                "response_mode": "form_post",
                "prompt": "none",
                "client_id": self.client_id,
                "redirect_uri": self.tool_base + "/lti/launch",
            }
            wrong = [k for k, v in expected.items() if args.get(k) != v]
            with self.lock:
                pending = self.pending.pop(args.get("login_hint", ""), None)
            if wrong or pending is None or not args.get("nonce") or not args.get("state"):
                return f"bad authorization request: {wrong or 'unknown login_hint'}", 400
            if args.get("lti_message_hint") != "msg-" + args["login_hint"]:
                return "lti_message_hint was not passed back", 400
            claims = {**pending.claims, "nonce": args["nonce"]}
            if pending.tamper:
                pending.tamper(claims)
            token = self.sign(claims, pending.sign_with)
            answer = {"id_token": token, "state": args["state"]}
            if args.get("lti_storage_target"):  # passed back with the launch, as Canvas does
                answer["lti_storage_target"] = args["lti_storage_target"]
            return autopost(args["redirect_uri"], answer)

        @app.get("/start/<hint>")
        def start(hint: str) -> str:
            """Where a browser test begins: the LMS sends the browser to the tool's login."""
            target = request.args.get("storage_target")
            return autopost(self.tool_base + "/lti/login", self.login_params(hint, target))

        @app.get("/course/<hint>")
        def course_page(hint: str) -> str:
            """The LMS's course page, the tool in an iframe, and the LMS's client-side storage
            (LTI postMessage storage): answers lti.put_data and lti.get_data from the tool's
            origin only, to the frame that asked."""
            tool_origin = json.dumps(origin(self.tool_base))
            start_url = html.escape(f"/start/{hint}?storage_target=_parent")
            return (
                "<!doctype html><html><head><title>Course</title></head><body>"
                "<h1>Machine Learning 101</h1>"
                "<script>"
                "var stored = {};"
                "window.addEventListener('message', function (event) {"
                f"  if (event.origin !== {tool_origin}) {{ return; }}"
                "  var m = event.data || {};"
                "  var answer = {subject: m.subject + '.response', message_id: m.message_id,"
                "                key: m.key};"
                "  if (m.subject === 'lti.put_data') { stored[m.key] = m.value;"
                "    answer.value = m.value; }"
                "  else if (m.subject === 'lti.get_data') {"
                "    if (m.key in stored) { answer.value = stored[m.key]; }"
                "    else { answer.error = {code: 'not_found', message: 'no such key'}; } }"
                "  else { return; }"
                "  document.body.dataset.storageCalls = (document.body.dataset.storageCalls || '')"
                "    + m.subject + ' ';"
                "  event.source.postMessage(answer, event.origin);"
                "});"
                "</script>"
                f'<iframe name="tool" title="holdout" src="{start_url}"'
                ' style="width:100%;height:600px"></iframe>'
                "</body></html>"
            )

        @app.post("/token")
        def token() -> tuple[Response, int] | Response:
            form = request.form.to_dict()
            self.recorded.token_requests.append(form)
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("client_assertion_type")
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ):
                return jsonify({"error": "unsupported_grant_type"}), 400
            try:
                assertion = verify(
                    form.get("client_assertion", ""), self.tool_jwks(), self.base + "/token"
                )
            except jwt.PyJWTError as exc:
                return jsonify({"error": "invalid_client", "detail": str(exc)}), 401
            if assertion["iss"] != self.client_id or assertion["sub"] != self.client_id:
                return jsonify({"error": "invalid_client"}), 401
            scopes = form.get("scope", "").split()
            if not scopes or any(s not in [*SCOPES, NRPS_SCOPE] for s in scopes):
                return jsonify({"error": "invalid_scope"}), 400
            access = secrets.token_urlsafe(16)
            self.tokens[access] = scopes
            return jsonify(
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": " ".join(scopes),
                }
            )

        def require_scope(scope: str) -> None:
            header = request.headers.get("Authorization", "")
            scopes = self.tokens.get(header.removeprefix("Bearer "), [])
            if not any(s.endswith("/" + scope) for s in scopes):
                abort(401)

        @app.get("/lineitems")
        def list_lineitems() -> Response:
            require_scope("lineitem")
            wanted = request.args.get("resource_link_id")
            items = [i for i in self.lineitems.values() if wanted in (None, i["resourceLinkId"])]
            return jsonify(items)

        @app.post("/lineitems")
        def create_lineitem() -> tuple[Response, int]:
            require_scope("lineitem")
            if request.mimetype != "application/vnd.ims.lis.v2.lineitem+json":
                abort(415)
            body = json.loads(request.get_data())
            with self.lock:
                number = len(self.lineitems) + 1
                item = {**body, "id": f"{self.base}/lineitems/{number}"}
                self.lineitems[number] = item
                self.recorded.lineitem_posts.append(body)
            return jsonify(item), 201

        @app.post("/lineitems/<int:number>/scores")
        def post_score(number: int) -> tuple[str, int]:
            require_scope("score")
            if number not in self.lineitems:
                abort(404)
            with self.lock:
                if self.fail_next_scores > 0:
                    self.fail_next_scores -= 1
                    return "temporarily unavailable", 503
                self.recorded.scores.append(
                    {
                        "lineitem": number,
                        "content_type": request.headers.get("Content-Type"),
                        "body": json.loads(request.get_data()),
                    }
                )
            return "", 204

        @app.get("/contexts/<context>/memberships")
        def memberships(context: str) -> Response:
            """NRPS 2.0: the context's members, a page at a time (Link: rel="next")."""
            require_scope("contextmembership.readonly")
            if NRPS_TYPE not in request.headers.get("Accept", ""):
                abort(406)
            self.recorded.roster_requests.append(request.args.to_dict())
            with self.lock:
                members = list(self.roster.get(context, []))
            page = int(request.args.get("page", "1"))
            size = self.roster_page_size
            body = {
                "id": request.url,
                "context": {"id": context, "label": "ML 101", "title": "Machine Learning 101"},
                "members": members[(page - 1) * size : page * size],
            }
            response = jsonify(body)
            response.mimetype = NRPS_TYPE
            if page * size < len(members):
                next_url = f"{self.base}/contexts/{context}/memberships?page={page + 1}"
                response.headers["Link"] = f'<{next_url}>; rel="next"'
            return response

        @app.get("/.well-known/openid-configuration")
        def openid_configuration() -> tuple[Response, int] | Response:
            self.recorded.configuration_requests.append(dict(request.headers))
            return jsonify(self.openid_configuration())

        @app.post("/register")
        def register() -> tuple[Response, int]:
            """Client registration (section 3.6): checks what a platform needs, assigns a client
            id and a deployment (as Moodle does)."""
            if request.headers.get("Authorization") != "Bearer " + self.registration_token:
                return jsonify({"error": "invalid_token"}), 401
            if request.mimetype != "application/json":
                return jsonify({"error": "invalid_client_metadata"}), 400
            body = json.loads(request.get_data())
            tool = body.get(TOOL_CONFIGURATION) or {}
            login, jwks = str(body.get("initiate_login_uri", "")), str(body.get("jwks_uri", ""))
            auth_method = body.get("token_endpoint_auth_method")
            problems = [
                name
                for name, ok in (
                    ("application_type", body.get("application_type") == "web"),
                    ("response_types", body.get("response_types") == ["id_token"]),
                    (
                        "grant_types",
                        set(body.get("grant_types") or []) >= {"implicit", "client_credentials"},
                    ),
                    ("initiate_login_uri", login.startswith("http")),
                    ("redirect_uris", bool(body.get("redirect_uris"))),
                    ("jwks_uri", jwks.startswith("http")),
                    ("token_endpoint_auth_method", auth_method == "private_key_jwt"),
                    ("domain", bool(tool.get("domain"))),
                    ("target_link_uri", bool(tool.get("target_link_uri"))),
                    ("claims", "sub" in (tool.get("claims") or [])),
                    ("messages", {m.get("type") for m in tool.get("messages") or []}
                     >= {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}),
                )
                if not ok
            ]  # fmt: skip
            if problems:
                return jsonify({"error": "invalid_client_metadata", "fields": problems}), 400
            with self.lock:
                self.recorded.registrations.append(body)
                self.client_id = "dyn-" + secrets.token_hex(4)
                self.deployment_id = "deployment-" + secrets.token_hex(2)
            answer = {
                **body,
                "client_id": self.client_id,
                TOOL_CONFIGURATION: {**tool, "deployment_id": self.deployment_id},
            }
            return jsonify(answer), 200

        @app.post("/deep-link-return")
        def deep_link_return() -> tuple[str, int] | str:
            try:
                claims = verify(request.form.get("JWT", ""), self.tool_jwks(), self.issuer)
            except jwt.PyJWTError as exc:
                return f"invalid deep linking response: {exc}", 400
            self.recorded.deep_links.append(claims)
            titles = ", ".join(i["title"] for i in claims.get(DL + "content_items", []))
            return f"<!doctype html><title>Added</title><h1>Added: {html.escape(titles)}</h1>"

        return app

    # --- conveniences for tests ----------------------------------------------------------------

    def wait_for_scores(self, count: int, seconds: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.recorded.scores) >= count:
                    return list(self.recorded.scores)
            time.sleep(0.1)
        raise AssertionError(f"expected {count} score(s), got {self.recorded.scores}")


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def verify(token: str, jwks: dict[str, Any], audience: str) -> dict[str, Any]:
    """Check a JWT the tool signed against the tool's JWKS."""
    kid = jwt.get_unverified_header(token).get("kid")
    matches = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if not matches:
        raise jwt.InvalidKeyError(f"the tool's JWKS has no key {kid!r}")
    key = jwt.PyJWK(matches[0], algorithm="RS256").key
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=audience)
    return claims


def autopost(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        '<!doctype html><html><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{html.escape(action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )


def form_fields(page: str) -> dict[str, str]:
    """The hidden inputs of an auto-posting page."""
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    }


def form_action(page: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page)
    assert match, page
    return html.unescape(match.group(1))


def fetch_jwks(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = requests.get(url, timeout=10).json()
    return answer


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}

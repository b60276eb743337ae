"""No SSRF: webhook and LTI platform URLs must be public https hosts, checked after DNS
resolution when registered and again at every request, with no redirect followed and a capped
answer. The tests' own receivers on 127.0.0.1 are allowed only through the allow list."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import outbound
from tests.helpers import assert_problem

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (and plain http)
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://0x7f000001/hook",  # 127.0.0.1 spelled in hex
    "https://2130706433/hook",  # ... and as one number
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    # IPv6 addresses that embed a private IPv4 one, which a translator or tunnel would reach:
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 (RFC 6052) of 169.254.169.254
    "https://[64:ff9b::a00:1]/hook",  # ... of 10.0.0.1
    "https://[64:ff9b::7f00:1]/hook",  # ... of 127.0.0.1
    "https://[64:ff9b:1::a00:1]/hook",  # local-use NAT64 (RFC 8215) of 10.0.0.1
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
    "https://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",  # Teredo, client 10.0.0.1
    "https://[2001:0:a9fe:a9fe::1]/hook",  # Teredo, server 169.254.169.254
    "https://[::a9fe:a9fe]/hook",  # IPv4-compatible 169.254.169.254
    "https://[::127.0.0.1]/hook",  # IPv4-compatible 127.0.0.1
    "https://10.1.2.3/hook",
    "https://192.168.0.1/hook",
    "https://[fe80::1]/hook",
    "https://224.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://user:pw@hooks.example.com/",
    "ftp://hooks.example.com/",
]


@pytest.fixture
def strict(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The production default: no host allowed past the address check, https only."""
    settings = replace(
        app.extensions["holdout_settings"], outbound_allow_hosts=(), outbound_allow_http=False
    )
    monkeypatch.setitem(app.extensions, "holdout_settings", settings)


class Receiver:
    """A local HTTP server that records what it gets and answers as told."""

    def __init__(self, status: int = 200, body: bytes = b"", location: str | None = None) -> None:
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.hits.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize("url", REFUSED)
def test_private_and_odd_urls_are_refused_at_registration(
    client: FlaskClient, admin: dict[str, str], url: str, backend: str
) -> None:
    if backend == "postgresql":
        pytest.skip("the check does not touch the database; once is enough")
    client.post("/api/v1/courses", json={"slug": "course-c", "title": "C"}, headers=admin)
    refused = client.post("/api/v1/courses/course-c/webhooks", json={"url": url}, headers=admin)
    assert_problem(refused, 422, "url")
    platform = {
        "name": "LMS",
        "issuer": "https://lms.example.edu",
        "client_id": "x",
        "deployment_ids": ["1"],
        "auth_login_url": "https://lms.example.edu/auth",
        "auth_token_url": "https://lms.example.edu/token",
        "jwks_url": url,
    }
    if url.startswith(("http://", "https://")):
        answer = client.post("/api/v1/lti/platforms", json=platform, headers=admin)
        assert_problem(answer, 422, "jwks_url")


EMBEDDED = {
    "64:ff9b::a9fe:a9fe": "169.254.169.254",
    "64:ff9b::a00:1": "10.0.0.1",
    "64:ff9b::7f00:1": "127.0.0.1",
    "64:ff9b:1:ab::a00:1": "10.0.0.1",
    "2002:7f00:1::1": "127.0.0.1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "10.0.0.1",
    "::a00:1": "10.0.0.1",
}


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize(("address", "inner"), EMBEDDED.items())
def test_an_embedded_private_ipv4_is_refused_before_every_request(
    app: Flask, address: str, inner: str, backend: str
) -> None:
    """The check made before each request (webhooks and every LTI call go through it) judges an
    IPv6 address by the IPv4 address it embeds, and says which."""
    if backend == "postgresql":
        pytest.skip("the check does not touch the database; once is enough")
    with app.app_context():
        with pytest.raises(outbound.OutboundRefused, match=f"embeds {inner}"):
            outbound.request(f"https://[{address}]/")
        with pytest.raises(OSError, match="non-public"):
            from service.outbox import http_exchange

            http_exchange(f"https://[{address}]/hook", method="POST", body=b"{}")


@pytest.mark.usefixtures("strict")
def test_an_ipv6_address_embedding_a_public_ipv4_one_is_still_allowed(
    app: Flask, backend: str
) -> None:
    if backend == "postgresql":
        pytest.skip("the check does not touch the database; once is enough")
    with app.app_context():
        for address in ("64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111"):
            assert outbound.check_url(f"https://[{address}]/").address == address
    assert outbound.is_public_address("8.8.8.8")
    assert not outbound.is_public_address("not an address")


def test_a_url_is_checked_again_at_every_request(
    app: Flask, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        assert outbound.request(receiver.url + "/a")[0] == 200  # allowed by the tests' list
        monkeypatch.setitem(
            app.extensions,
            "holdout_settings",
            replace(app.extensions["holdout_settings"], outbound_allow_hosts=()),
        )
        with pytest.raises(outbound.OutboundRefused):
            outbound.request(receiver.url + "/b")
    assert receiver.hits == ["/a"]


def test_redirects_are_not_followed_and_answers_are_capped(app: Flask) -> None:
    target = Receiver()
    redirecting = Receiver(status=302, location=target.url + "/secret")
    huge = Receiver(body=b"x" * (outbound.MAX_RESPONSE_BYTES + 1))
    try:
        with app.app_context():
            assert outbound.request(redirecting.url + "/")[0] == 302
            with pytest.raises(outbound.TooLarge, match="bytes"):
                outbound.request(huge.url + "/")
        assert target.hits == []
    finally:
        for server in (target, redirecting, huge):
            server.close()


def test_deliveries_are_checked_on_their_way_out(
    app: Flask, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Webhook and LMS deliveries share one HTTP exchange, which makes the check every time."""
    from service.outbox import http_exchange

    with app.app_context():
        assert http_exchange(receiver.url + "/hook", method="POST", body=b"{}").status == 200
        monkeypatch.setitem(
            app.extensions,
            "holdout_settings",
            replace(app.extensions["holdout_settings"], outbound_allow_hosts=()),
        )
        with pytest.raises(OSError, match="only https"):
            http_exchange(receiver.url + "/hook", method="POST", body=b"{}")
    assert receiver.hits == ["/hook"]

"""The outbox against real HTTP endpoints that misbehave: a webhook receiver that hangs does not
hold up grading, a failing destination rests without spending its rows' tries, a platform's token
answers that no platform would send are refused (not cached), and launches with an unknown key id
fetch the platform's JWKS once between them."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import jobs, outbox, webhooks
from service.background import background
from service.lti.models import LtiPlatform
from service.lti.platforms import JwksCache, PlatformError, TokenCache
from tests.jobs.conftest import read_answer
from tests.jobs.test_embedded_grading import submit
from tests.jobs.test_policies_and_regrades import CHOICE, make_quiz, take_quiz


class Endpoint:
    """A real HTTP server on loopback whose every answer `respond(handler)` writes; it counts
    the requests it got and how many of them it is still holding."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests = 0
        self.holding = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with endpoint.lock:
                    endpoint.requests += 1
                # The client may give up on a long answer, as it should.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    respond(self)

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hang(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.holding += 1
        self.release.wait(120)
        with self.lock:
            self.holding -= 1
        answer(handler, 200, b"{}")

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def endpoints() -> Iterator[list[Endpoint]]:
    made: list[Endpoint] = []
    yield made
    for endpoint in made:
        endpoint.stop()
    outbox.breaker.clear()


@pytest.fixture
def choice(client: FlaskClient, instructor: dict[str, str]) -> None:
    assert client.post("/api/v1/questions", json=CHOICE, headers=instructor).status_code == 201


def test_a_hanging_webhook_receiver_does_not_hold_up_anyone_s_grading(
    dropout_app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    other_student: dict[str, str],
    choice: None,
    endpoints: list[Endpoint],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = Endpoint(lambda h: receiver.hang(h))
    endpoints.append(receiver)
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 120.0)  # it hangs for as long as it likes
    make_quiz(client, instructor, ["bn-eval"])
    hook = {"url": receiver.url}
    for _ in range(3):
        assert (
            client.post("/api/v1/courses/ml/webhooks", json=hook, headers=instructor).status_code
            == 201
        )
    take_quiz(client, other_student, {"bn-eval": "b"})  # 3 events for the hanging receiver

    jobs.start_embedded_executor(dropout_app)
    deadline = time.monotonic() + 60
    while receiver.holding == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.holding > 0, "the events were not sent"

    queued = submit(client, student, read_answer("reference"))
    for _ in range(6):
        got = client.get(f"/api/v1/submissions/{queued['id']}?wait=10", headers=student)
        if got.get_json()["status"] in ("graded", "failed"):
            break
    graded = got.get_json()
    assert graded["status"] == "graded", "grading waited for the webhook receiver"
    assert graded["score"] == graded["max_score"]
    assert receiver.holding > 0  # graded while the receiver still held every event it got


def test_a_failing_destination_rests_without_spending_its_rows_tries(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    choice: None,
    endpoints: list[Endpoint],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = Endpoint(lambda h: answer(h, 503, b"{}"))
    endpoints.append(failing)
    monkeypatch.setattr(webhooks, "BACKOFF_SECONDS", 0.0)
    make_quiz(client, instructor, ["bn-eval"], attempt_limit=None)
    created = client.post(
        "/api/v1/courses/ml/webhooks", json={"url": failing.url}, headers=instructor
    ).get_json()
    count = outbox.BREAKER_FAILURES + 3
    for _ in range(count):
        take_quiz(client, student, {"bn-eval": "b"})

    assert webhooks.deliver_due(app) == outbox.BREAKER_FAILURES
    assert failing.requests == outbox.BREAKER_FAILURES
    rows = client.get(
        f"/api/v1/webhooks/{created['id']}/deliveries?per_page=50", headers=instructor
    ).get_json()["items"]
    assert sorted(r["tries"] for r in rows) == [0] * 3 + [1] * outbox.BREAKER_FAILURES
    assert all(r["status"] == "queued" for r in rows)
    tried = [r for r in rows if r["tries"]]
    assert all(r["log"][0]["status"] == 503 for r in tried)  # each try is in the row's log
    assert webhooks.deliver_due(app) == 0  # resting: nothing is tried, nothing is spent
    assert failing.requests == outbox.BREAKER_FAILURES


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_deliveries_go_out_on_their_own_threads_also_after_a_restart(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    choice: None,
    endpoints: list[Endpoint],
) -> None:
    receiver = Endpoint(lambda h: answer(h, 204, b""))
    endpoints.append(receiver)
    make_quiz(client, instructor, ["bn-eval"])
    hook = {"url": receiver.url}
    assert (
        client.post("/api/v1/courses/ml/webhooks", json=hook, headers=instructor).status_code == 201
    )
    tasks = background(app)
    tasks.start()
    tasks.stop()
    tasks.start()  # as a gunicorn worker's executor may be stopped and started again
    try:
        take_quiz(client, student, {"bn-eval": "b"})
        deadline = time.monotonic() + 30
        while receiver.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        tasks.stop()
    assert receiver.requests == 1


def _huge_declared(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(100 * 1024 * 1024))
    handler.end_headers()
    handler.wfile.write(b'{"access_token": "' + b"x" * (1024 * 1024))


def _huge_streamed(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b'{"access_token": "')
    chunk = b"x" * (1024 * 1024)
    for _ in range(100):
        handler.wfile.write(chunk)
    handler.wfile.write(b'", "expires_in": 3600}')
    handler.close_connection = True


TOKEN_ANSWERS: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
    "100 MiB declared": _huge_declared,
    "100 MiB streamed": _huge_streamed,
    "a token that is not a string": lambda h: answer(
        h, 200, json.dumps({"access_token": {"nested": "x"}, "expires_in": 60}).encode()
    ),
    "a lifetime of 1e999": lambda h: answer(
        h, 200, b'{"access_token": "abc", "token_type": "Bearer", "expires_in": 1e999}'
    ),
    "a lifetime that is not a number": lambda h: answer(
        h, 200, b'{"access_token": "abc", "expires_in": [1]}'
    ),
}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(TOKEN_ANSWERS))
def test_token_answers_no_platform_would_send_are_refused_not_cached(
    app: Flask, endpoints: list[Endpoint], name: str
) -> None:
    endpoint = Endpoint(TOKEN_ANSWERS[name])
    endpoints.append(endpoint)
    platform = LtiPlatform(issuer="https://lms.test", client_id="c", auth_token_url=endpoint.url)
    cache = TokenCache()
    with app.app_context():
        for _ in range(2):
            with pytest.raises(PlatformError):
                cache.get(platform, ["score"])
    assert endpoint.requests == 2  # nothing was kept: each use asks again


def test_launches_with_an_unknown_key_id_fetch_the_jwks_once(endpoints: list[Endpoint]) -> None:
    def slow_jwks(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(0.5)  # long enough for every launch to be waiting at once
        answer(handler, 200, json.dumps({"keys": [{"kty": "RSA", "kid": "k1"}]}).encode())

    endpoint = Endpoint(slow_jwks)
    endpoints.append(endpoint)
    cache = JwksCache()
    errors: list[Exception] = []

    def launch() -> None:
        try:
            cache.key(endpoint.url, "unknown-kid")
        except PlatformError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=launch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 8  # every launch is refused: the key is not there
    assert endpoint.requests == 1
    assert cache.key(endpoint.url, "k1")["kid"] == "k1"  # known keys come from the cache
    assert endpoint.requests == 1

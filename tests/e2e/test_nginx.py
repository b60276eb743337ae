"""The production front: Debian's nginx with deploy/nginx/holdout.conf in front of gunicorn, both
real processes on loopback. nginx buffers slow clients and refuses large bodies itself; gunicorn
alone still answers an oversized body with a readable 413; /metrics sums every gunicorn worker."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.processes import Running, gunicorn, nginx, nginx_binary

pytestmark = pytest.mark.slow
# Over the 1 MiB default, and more than loopback socket buffers hold: the server must read it.
TOO_LARGE = json.dumps({"answer": "x" * (5 * 1024 * 1024)}).encode()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Running]]:
    nginx_binary()  # skip early (or fail under CI) without nginx
    tmp = tmp_path_factory.mktemp("front")
    with gunicorn(tmp) as app, nginx(tmp, app.port) as front:
        yield app, front


@pytest.fixture(scope="module")
def student(servers: tuple[Running, Running]) -> dict[str, str]:
    return servers[0].token("student", "via-nginx")


@pytest.fixture(scope="module")
def answer_url(servers: tuple[Running, Running], student: dict[str, str]) -> str:
    """Where a single-choice answer is posted (the path, on either server)."""
    app, _ = servers
    listed = requests.get(f"{app.url}/api/v1/questions?type=single_choice", headers=student)
    return f"/api/v1/questions/{listed.json()['items'][0]['slug']}/submissions"


def _post_with_urllib(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, dict]:
    """As plain clients do: the whole body first (no Expect: 100-continue), then the answer."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get_content_type(), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), json.loads(error.read())


def test_the_api_works_through_nginx(
    servers: tuple[Running, Running], student: dict[str, str]
) -> None:
    app, front = servers
    http = requests.Session()
    assert http.get(f"{front.url}/healthz").json() == {"status": "ok"}
    listed = http.get(f"{front.url}/api/v1/questions?type=single_choice", headers=student)
    assert listed.status_code == 200 and listed.json()["total"] > 0
    slug = listed.json()["items"][0]["slug"]
    question = http.get(f"{front.url}/api/v1/questions/{slug}", headers=student).json()
    answer = {"answer": question["data"]["choices"][0]["id"]}
    posted = http.post(
        f"{front.url}/api/v1/questions/{slug}/submissions", json=answer, headers=student
    )
    assert posted.status_code == 201, posted.text
    # The client's request id reaches holdout and comes back; without one, nginx makes one.
    traced = http.get(f"{front.url}/api/v1/me", headers={**student, "X-Request-ID": "via-nginx-1"})
    assert traced.headers["X-Request-ID"] == "via-nginx-1"
    assert len(http.get(f"{front.url}/healthz").headers["X-Request-ID"]) == 32
    # Through the proxy, nobody counts as "this machine": details and metrics need the token.
    assert http.get(f"{front.url}/readyz").json() == {"status": "ready"}
    assert http.get(f"{front.url}/metrics").status_code == 401
    assert "checks" in http.get(f"{app.url}/readyz").json()  # directly, from this machine


def test_nginx_refuses_a_large_body_with_problem_json(
    servers: tuple[Running, Running], student: dict[str, str], answer_url: str
) -> None:
    _, front = servers
    status, ctype, body = _post_with_urllib(f"{front.url}{answer_url}", TOO_LARGE, student)
    assert (status, ctype) == (413, "application/problem+json")
    assert body["status"] == 413 and "larger" in body["detail"]


def test_gunicorn_alone_answers_a_large_body_with_a_readable_413(
    servers: tuple[Running, Running], student: dict[str, str], answer_url: str
) -> None:
    app, _ = servers
    for _ in range(3):  # every time, not by luck of timing
        status, ctype, body = _post_with_urllib(f"{app.url}{answer_url}", TOO_LARGE, student)
        assert (status, ctype) == (413, "application/problem+json")
        assert "larger than 1048576 bytes" in body["detail"]
    assert requests.get(f"{app.url}/healthz", timeout=10).status_code == 200


def test_slow_clients_wait_in_nginx_not_in_gunicorn(
    servers: tuple[Running, Running], student: dict[str, str]
) -> None:
    """8 clients dribble their headers (gunicorn here has 2 workers x 2 threads): others are
    still answered, because nginx passes a request on only once it has all of it."""
    _, front = servers
    stop = threading.Event()
    sockets = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", front.port), timeout=10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: holdout\r\n")
        sockets.append(sock)

    def dribble() -> None:
        while not stop.wait(0.5):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    try:
        time.sleep(1.0)  # all 8 are mid-headers now
        for _ in range(5):
            assert requests.get(f"{front.url}/healthz", timeout=10).status_code == 200
            me = requests.get(f"{front.url}/api/v1/me", headers=student, timeout=10)
            assert me.status_code == 200
    finally:
        stop.set()
        dribbler.join()
        for sock in sockets:
            sock.close()


def test_metrics_sum_every_gunicorn_worker(servers: tuple[Running, Running]) -> None:
    """Each request on a new connection goes to whichever of the 2 workers accepts it; every
    scrape, whichever worker answers it, counts all of them (prometheus_client multiprocess)."""
    app, _ = servers
    for n in range(40):
        with requests.get(f"{app.url}/api/v1/no-such-thing-{n}", timeout=10) as missing:
            assert missing.status_code == 404
    unmatched = 'holdout_http_requests_total{endpoint="(unmatched)",method="GET",status="404"}'
    for _ in range(6):
        with requests.get(f"{app.url}/metrics", timeout=10) as scraped:
            assert scraped.status_code == 200
            lines = [line for line in scraped.text.splitlines() if line.startswith(unmatched)]
            assert lines == [f"{unmatched} 40.0"], lines
            assert "holdout_queue_depth 0.0" in scraped.text


def test_the_shipped_config_is_the_one_tested() -> None:
    conf = (Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "holdout.conf").read_text()
    for directive in (
        "client_max_body_size 1m;",
        "client_header_timeout",
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "X-Forwarded-For",
    ):
        assert directive in conf


def _raw(url: str, request: bytes) -> tuple[int, str, dict]:
    """Send bytes as they are (no client library would send most of these) and read the answer."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    return int(lines[0].split()[1]), ctype.split(";")[0], json.loads(body)


MALFORMED = {
    # A URL longer than gunicorn's or nginx's bound.
    "long URL": (b"GET /api/v1/me?q=" + b"x" * 40_000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
    "large header": (
        b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Big: " + b"x" * 40_000 + b"\r\n\r\n",
        431,
    ),
    "not HTTP": (b"\x16\x03\x01 hello, this is not HTTP\r\n\r\n", 400),
}


@pytest.mark.parametrize("front", ["gunicorn alone", "through nginx"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_requests_refused_before_the_app_are_problem_json(
    servers: tuple[Running, Running], front: str, case: str
) -> None:
    app, proxy = servers
    url = app.url if front == "gunicorn alone" else proxy.url
    raw, status = MALFORMED[case]
    got, ctype, body = _raw(url, raw)
    assert (got, ctype) == (status, "application/problem+json"), body
    assert body["status"] == status and body["detail"]
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200

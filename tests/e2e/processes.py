"""Real servers for end-to-end tests: gunicorn with the project's config on a free loopback port
(SQLite in a temporary folder), and nginx from Debian in front of it with deploy/nginx/holdout.conf,
each a foreground child process of the test, stopped at the end."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NGINX_SITE = ROOT / "deploy" / "nginx" / "holdout.conf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HoldoutCli:
    """The `holdout` command line of a running test server: its environment and folder."""

    env: dict[str, str]
    workdir: Path

    def holdout(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "holdout"), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def token(self, role: str, name: str) -> dict[str, str]:
        plain = self.holdout("token", "create", "--role", role, "--name", name).splitlines()[-1]
        return {"Authorization": f"Bearer {plain}"}


@dataclass
class Running(HoldoutCli):
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]
    workdir: Path


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited early:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@contextmanager
def gunicorn(tmp_path: Path, bank: bool = True, **settings: str) -> Iterator[Running]:
    """holdout under gunicorn, as `make serve` runs it, on a fresh SQLite database with the
    bundled bank's quick questions (loading exercises would check them in the sandbox: slow)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
    env |= {
        "HOLDOUT_DATABASE_URL": f"sqlite:///{tmp_path / 'holdout.db'}",
        "HOLDOUT_INSTANCE_DIR": str(tmp_path / "instance"),
        "HOLDOUT_BIND": f"127.0.0.1:{port}",
        "HOLDOUT_WORKERS": "2",
        "HOLDOUT_THREADS": "2",
        "HOLDOUT_LOG_LEVEL": "WARNING",
        **settings,
    }
    log = tmp_path / "gunicorn.log"
    running = Running(f"http://127.0.0.1:{port}", port, None, log, env, tmp_path)  # type: ignore[arg-type]
    running.holdout("db", "upgrade")
    if bank:
        quick = tmp_path / "bank"
        shutil.copytree(ROOT / "question_bank" / "content" / "questions", quick / "questions")
        running.holdout("bank", "load", str(quick))
    with log.open("wb") as sink:
        running.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "service.wsgi:app"],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(f"{running.url}/healthz", running.process, log)
        yield running
    finally:
        _stop(running.process)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        if IN_CI:
            pytest.fail("nginx is required under CI (make test installs it)")
        pytest.skip("nginx is not installed (make test installs it)")
    return found


def nginx_config(site: str, workdir: Path, port: int, upstream_port: int) -> str:
    """A main nginx.conf around the shipped site: foreground, no root paths, this test's ports."""
    for default, mine in (
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000", f"server 127.0.0.1:{upstream_port}"),
    ):
        assert site.count(default) == 1, f"deploy/nginx/holdout.conf should have one {default!r}"
        site = site.replace(default, mine)
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    return f"""
daemon off;
user root;  # workers write the temporary folders below, inside the test's private tmp
master_process on;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {workdir / "access.log"};
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    default_type application/octet-stream;
{site}
}}
"""


@contextmanager
def nginx(tmp_path: Path, upstream_port: int) -> Iterator[Running]:
    """Debian's nginx with deploy/nginx/holdout.conf in front of a server on upstream_port."""
    binary = nginx_binary()
    workdir = tmp_path / "nginx"
    workdir.mkdir()
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(NGINX_SITE.read_text(), workdir, port, upstream_port))
    checked = subprocess.run(
        [binary, "-t", "-p", str(workdir), "-c", str(conf)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    log = workdir / "nginx.stderr"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(conf)], stdout=sink, stderr=subprocess.STDOUT
        )
    running = Running(f"http://127.0.0.1:{port}", port, process, log, {}, workdir)
    try:
        _wait_for(f"{running.url}/healthz", process, log)
        yield running
    finally:
        _stop(process)

"""The real processes of a deployment, for tests: gunicorn, `holdout worker`, a private Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

from question_bank.loader import BUNDLED_DIR

BIN = Path(sys.executable).parent
FAST_JOBS = {
    # Short leases and sweeps so that recovery happens within a test, not a minute later.
    "HOLDOUT_LEASE_SECONDS": "3",
    "HOLDOUT_REDISPATCH_SECONDS": "2",
    "HOLDOUT_POLL_SECONDS": "0.2",
    "HOLDOUT_LOG_LEVEL": "INFO",
    # The fake LMS and webhook receivers listen on 127.0.0.1.
    "HOLDOUT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1,localhost",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deployment_env(tmp: Path, database_url: str, broker_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
    env.update(FAST_JOBS)
    env["HOLDOUT_DATABASE_URL"] = database_url
    env["HOLDOUT_INSTANCE_DIR"] = str(tmp / "instance")
    # A process that does not stop in time is sent SIGABRT (Proc.wait): every thread's stack then
    # goes to its log, and into the failure.
    env["PYTHONFAULTHANDLER"] = "1"
    if broker_url:
        env["HOLDOUT_BROKER_URL"] = broker_url
    return env


def holdout(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "holdout"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"holdout {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def prepare_database(tmp: Path, env: dict[str, str]) -> dict[str, str]:
    """Migrate, load a bank holding the dropout exercise, and return a student's auth header."""
    bank = tmp / "bank"
    shutil.copytree(BUNDLED_DIR / "exercises" / "dropout", bank / "exercises" / "dropout")
    holdout(env, "db", "upgrade")
    holdout(env, "bank", "load", str(bank))
    token = holdout(env, "token", "create", "--role", "student", "--name", "sam").splitlines()[-1]
    return {"Authorization": f"Bearer {token}"}


class Proc:
    """A child process whose output goes to a file, stopped (and its group killed) at the end."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("wb")
        self.popen = subprocess.Popen(
            args, env=env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig) if sig == signal.SIGKILL else self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Its exit status; if it has not exited in `timeout` s, a failure with where each of its
        threads is (faulthandler's dump on SIGABRT) and the end of its log."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGABRT)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)
            raise AssertionError(
                f"still running after {timeout} s; its threads and log:\n{self.output()[-8000:]}"
            ) from None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(20)
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self.handle.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_gunicorn(env: dict[str, str], tmp: Path, workers: int = 2) -> tuple[Proc, str]:
    port = free_port()
    env = {**env, "HOLDOUT_BIND": f"127.0.0.1:{port}", "HOLDOUT_WORKERS": str(workers)}
    proc = Proc(
        [str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "service.wsgi:app"],
        env,
        tmp / f"gunicorn-{port}.log",
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(base + "/healthz"), 30, f"gunicorn on {port}", proc)
    return proc, base


def start_worker(env: dict[str, str], tmp: Path, name: str, *args: str) -> Proc:
    return Proc([str(BIN / "holdout"), "worker", *args], env, tmp / f"worker-{name}.log")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_until(condition: Any, seconds: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"{what}: process exited\n{proc.output()[-4000:]}")
        time.sleep(0.1)
    tail = proc.output()[-4000:] if proc else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


@contextmanager
def private_redis(tmp: Path, port: int | None = None) -> Iterator[tuple[str, Proc]]:
    """A Redis of this test's own, so that stopping it (an outage) disturbs nobody else."""
    port = port or free_port()
    proc = start_redis(tmp, port)
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.stop()


def start_redis(tmp: Path, port: int) -> Proc:
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = Proc(
        [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dict(os.environ),
        tmp / f"redis-{port}.log",
    )
    wait_until(lambda: _tcp_open(port), 10, f"redis on {port}", proc)
    return proc


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def rabbitmq_vhost(name: str) -> str:
    """A vhost of this test's own on the machine's RabbitMQ; returns its amqp URL."""
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return f"amqp://guest:guest@127.0.0.1:5672/{name}"


def delete_rabbitmq_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True)

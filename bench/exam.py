"""An exam's load: 1,000 students take the 10-question final at once, 10% also submit code.

Run as `make bench-exam` (or `.venv/bin/python bench/exam.py [--users N] [--minutes M]`); it needs
the bench extra (`requirements-bench.lock`: Locust). It migrates a fresh SQLite database in a
temporary folder, loads the bundled bank, starts gunicorn as `make serve` does (2 workers x 4
threads, embedded grading), makes one token per student, then runs Locust headless on this same
machine. Each simulated student starts an attempt at `regularization-final`, reads and answers
its 10 questions with think time between them, polls the attempt, hands it in and reads the
result; one in ten also submits the `dropout` exercise and long-polls it until graded. Students
arrive over the first quarter of the run. Prints a Markdown table (p50/p99 per endpoint, errors)
and the grading lag of the code submissions (submitted to graded, from the database). Heavy: run
it once, not in a loop.

This file is also the locustfile (the classes below); `main()` drives it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, task

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUIZ = "regularization-final"
CODE_SHARE = 0.10
# Seconds a student spends on a question (the 10 answers take about two minutes).
THINK = (8.0, 16.0)
WARM_UP_SECONDS = 5.0


def _answer_for(question: dict[str, Any]) -> Any:
    """A well-formed answer (right or wrong does not matter to the load)."""
    kind, data = question["type"], question.get("data") or {}
    if kind == "single_choice":
        return random.choice(data["choices"])["id"]
    if kind == "multiple_choice":
        return [c["id"] for c in data["choices"] if random.random() < 0.5] or [
            data["choices"][0]["id"]
        ]
    if kind == "true_false":
        return random.random() < 0.5
    if kind == "numeric":
        return round(random.uniform(0, 1), 3)
    return "weight decay"


# One student token each, made before the run (not part of the load): see _make_tokens.
_TOKENS: list[str] = (
    Path(os.environ["EXAM_TOKENS"]).read_text().split() if "EXAM_TOKENS" in os.environ else []
)

MAKE_TOKENS = """
import sys
from service.app import create_app
from service.auth import get_or_create_user, issue_token
from service.models import Role, db
app = create_app()
with app.app_context():
    plain = []
    for n in range(int(sys.argv[1])):
        _, token = issue_token(get_or_create_user(f"student-{n}", Role.STUDENT), "exam")
        plain.append(token)
    db.session.commit()
print("\\n".join(plain))
"""


class Student(HttpUser):
    wait_time = between(*THINK)

    def on_start(self) -> None:
        # Locust starts each second's students at the same instant (a batch of spawn-rate users);
        # students do not click "start" in the same millisecond, so each waits up to a second.
        gevent.sleep(random.uniform(0.0, 1.0))
        self.auth = {"Authorization": "Bearer " + _TOKENS.pop()}
        self.codes = random.random() < CODE_SHARE
        self.step = 0
        self.attempt: int | None = None
        self.questions: list[dict[str, Any]] = []
        self.done = False

    def get(self, path: str, name: str) -> Any:
        return self.client.get(path, headers=self.auth, name=name)

    @task
    def next_step(self) -> None:
        """One step of the exam per task run, so think time falls between steps. A student who
        has handed in stays connected and idle: Locust would replace a stopped user, and every
        student has one token."""
        if self.done:
            return
        if self.attempt is None:
            self.get("/api/v1/questions", "GET /questions")
            self.get(f"/api/v1/quizzes/{QUIZ}", "GET /quizzes/[slug]")
            started = self.client.post(
                f"/api/v1/quizzes/{QUIZ}/attempts",
                headers=self.auth,
                name="POST /quizzes/[slug]/attempts",
            )
            if started.status_code not in (200, 201):
                self.done = True
                return
            attempt = started.json()
            self.attempt = attempt["id"]
            # The attempt carries its questions as this student sees them (variants drawn).
            self.questions = attempt["questions"]
            return
        if self.step < len(self.questions):
            question = self.questions[self.step]
            self.client.put(
                f"/api/v1/attempts/{self.attempt}/answers/{question['slug']}",
                json={"answer": _answer_for(question)},
                headers=self.auth,
                name="PUT /attempts/[id]/answers/[slug]",
            )
            if self.step % 3 == 2:  # the page refreshes the attempt now and then
                self.get(f"/api/v1/attempts/{self.attempt}", "GET /attempts/[id]")
            if self.codes and self.step == 4:
                self._submit_code()
            self.step += 1
            return
        self.client.post(
            f"/api/v1/attempts/{self.attempt}/submit",
            headers=self.auth,
            name="POST /attempts/[id]/submit",
        )
        self.get(f"/api/v1/attempts/{self.attempt}", "GET /attempts/[id]")
        self.done = True

    def _submit_code(self) -> None:
        source = (ROOT / "question_bank/content/exercises/dropout/reference.py").read_text()
        if random.random() < 0.5:
            source = (ROOT / "question_bank/content/exercises/dropout/starter.py").read_text()
        sent = self.client.post(
            "/api/v1/questions/dropout/submissions",
            json={"answer": source},
            headers=self.auth,
            name="POST /questions/dropout/submissions (code)",
        )
        if sent.status_code != 202:
            return
        for _ in range(10):
            polled = self.get(
                f"/api/v1/submissions/{sent.json()['id']}?wait=10",
                "GET /submissions/[id]?wait=10 (long poll)",
            ).json()
            if polled.get("status") in ("graded", "failed"):
                return


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _grading_lag(database: Path) -> dict[str, float]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT s.created_at, s.graded_at FROM submissions s JOIN questions q"
            " ON q.id = s.question_id WHERE q.slug = 'dropout' AND s.graded_at IS NOT NULL"
        ).fetchall()
        pending = conn.execute(
            "SELECT count(*) FROM submissions WHERE status IN ('queued', 'running')"
        ).fetchone()[0]
    lags = sorted(
        (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() for a, b in rows
    )
    if not lags:
        return {"graded": 0, "pending": pending}
    return {
        "graded": len(lags),
        "pending": pending,
        "p50": statistics.median(lags),
        "p99": lags[min(len(lags) - 1, int(0.99 * len(lags)))],
        "max": lags[-1],
    }


def _wait_until_ready(url: str) -> None:
    """As a load balancer would: traffic only once `/readyz` says so, and the workers have had
    the seconds they take to start their graders (a zygote each, in the background). The exam
    measures a running service; without this pause its first second is a cold start (the first
    requests of each worker took up to 0.7 s, which alone made one endpoint's p99)."""
    from urllib.error import URLError
    from urllib.request import urlopen

    for _ in range(300):
        try:
            with urlopen(f"{url}/readyz", timeout=10) as answer:
                if answer.status == 200:
                    break
        except (URLError, OSError):
            pass
        time.sleep(0.2)
    else:
        sys.exit("the server never became ready")
    time.sleep(WARM_UP_SECONDS)


def _server_latency(url: str) -> dict[str, dict[str, float]]:
    """Per route, the server's latency histogram (cumulative counts by bucket bound); loopback
    may read `/metrics` without a token."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    with urlopen(f"{url}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "holdout_http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = str(float(sample.labels["le"])) if sample.labels["le"] != "+Inf" else "+Inf"
                out.setdefault(sample.labels["endpoint"], {})[le] = sample.value
    return out


def _quantile(counts: dict[str, float], q: float) -> float:
    """The q-quantile of a cumulative histogram (bucket bound -> count), linear within a bucket."""
    bounds = sorted((float(b), n) for b, n in counts.items() if b != "+Inf")
    rank = q * counts["+Inf"]
    low, below = 0.0, 0.0
    for bound, n in bounds:
        if n >= rank:
            return low + (bound - low) * ((rank - below) / (n - below) if n > below else 0.0)
        low, below = bound, n
    return bounds[-1][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the run")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    # Stopped from outside, it still stops its server (the context managers run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from api import Gunicorn, load_bank  # the same server set-up as the API benchmark

    with tempfile.TemporaryDirectory(prefix="holdout-exam-") as tmp:
        workdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDOUT_")}
        env |= {
            "HOLDOUT_DATABASE_URL": f"sqlite:///{workdir / 'holdout.db'}",
            "HOLDOUT_INSTANCE_DIR": str(workdir / "instance"),
            "HOLDOUT_WORKERS": "2",
            "HOLDOUT_THREADS": "4",
            "HOLDOUT_LOG_LEVEL": "warning",
            # All students share this machine's address; the per-token limits stay as deployed.
            "HOLDOUT_RATE_LIMIT": "100000 per minute",
            # Students think up to 16 s between requests: with the 5 s default every connection
            # is closed between two answers, and a close that crosses a request on the wire is
            # an error in Python's HTTP client (a browser sends again). 75 s is nginx's default.
            "HOLDOUT_KEEPALIVE": "75",
        }
        holdout = str(BIN / "holdout")
        _run([holdout, "db", "upgrade"], env, workdir)
        load_bank(holdout, env, workdir)
        tokens = workdir / "tokens.txt"
        tokens.write_text(
            _run([str(BIN / "python"), "-c", MAKE_TOKENS, str(args.users)], env, workdir)
        )
        with Gunicorn("service.wsgi:app", env, workdir, workdir / "holdout.log") as api:
            _wait_until_ready(api.url)
            seconds = round(args.minutes * 60)
            locust_env = {**env, "EXAM_TOKENS": str(tokens), "PYTHONPATH": str(ROOT)}
            subprocess.run(
                [
                    str(BIN / "locust"),
                    "-f",
                    __file__,
                    "--headless",
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(max(1, round(args.users / (seconds / 4)))),
                    "--run-time",
                    f"{seconds}s",
                    "--stop-timeout",
                    "30",
                    "--host",
                    api.url,
                    "--csv",
                    str(workdir / "exam"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env=locust_env,
                cwd=workdir,
                timeout=seconds + 300,
                check=False,
            )
            lag = _grading_lag(workdir / "holdout.db")
            server = _server_latency(api.url)
        with (workdir / "exam_stats.csv").open() as f:
            stats = list(csv.DictReader(f))

    print(f"\n{args.users} students, {args.minutes:g} min, gunicorn 2 workers x 4 threads, SQLite")
    print(f"(embedded grading), Locust on the same {os.cpu_count()}-core machine\n")
    print("| endpoint | requests | errors | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for row in stats:
        name = row["Name"] if row["Name"] != "Aggregated" else "**all**"
        print(
            f"| {name} | {row['Request Count']} | {row['Failure Count']} | "
            f"{row['50%']} | {row['99%']} |"
        )
    print(f"\ncode submissions graded: {json.dumps(lag)} (seconds from submission to grade)")
    print(
        "\nAs the server measured them (`/metrics`, from the request's arrival in a worker "
        "thread to its answer; quantiles interpolated within the histogram's buckets, as "
        "Prometheus' histogram_quantile does):\n"
    )
    print("| route | requests | p50 ms | p99 ms | over 250 ms |")
    print("|---|---:|---:|---:|---:|")
    for endpoint, counts in sorted(server.items()):
        total = counts["+Inf"]
        if total and endpoint != "/readyz":
            p50, p99 = (_quantile(counts, q) * 1000 for q in (0.5, 0.99))
            over = (total - counts["0.25"]) / total
            print(f"| {endpoint} | {total:.0f} | {p50:.0f} | {p99:.0f} | {over:.1%} |")


if __name__ == "__main__":
    main()

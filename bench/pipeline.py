"""Code submissions end to end, through HTTP: graded per second and submit-to-graded latency,
embedded (gunicorn on SQLite) and scaled out (PostgreSQL, Redis, two `holdout worker`s), each with a
burst of 1,000 submissions from 8 students that must all be graded exactly once. Compared with a
cold `python -c "import numpy"` measured in the same run. The processes run with the product's
lease and sweep timings; after the table, the machine's CPU per submission by process.

Run: .venv/bin/python bench/pipeline.py [--burst 1000]; the second part needs PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proc_cpu import machine_busy_ms, process_ms

from tests.conftest import PG_ADMIN_URL
from tests.jobs.conftest import read_answer
from tests.jobs.processes import (
    FAST_JOBS,
    deployment_env,
    holdout,
    prepare_database,
    private_redis,
    start_gunicorn,
    start_worker,
)

UNLIMITED = {
    "HOLDOUT_RATE_LIMIT": "1000000 per minute",
    "HOLDOUT_SUBMIT_RATE_LIMIT": "1000000 per minute",
}


# Processes by what their command line says they are; a zygote's reaped children (the standbys
# that become reapers, and the jobs they reap) are counted as "sandbox processes".
ROLES = (
    ("grader.zygote", "zygotes"),
    ("gunicorn", "API processes (gunicorn)"),
    ("holdout worker", "workers (holdout worker)"),
    ("postgres", "PostgreSQL"),
    ("redis-server", "Redis"),
)


def cpu_by_role() -> dict[str, float]:
    """CPU ms so far by role (ROLES), of this process ("bench client") and of the machine."""
    found: dict[str, float] = {"bench client": 0.0}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            own, children = process_ms(int(pid))
        except OSError:
            continue
        role = next((name for key, name in ROLES if key in command), None)
        if int(pid) == os.getpid():
            role = "bench client"
        if role == "zygotes":
            found["sandbox processes"] = found.get("sandbox processes", 0.0) + children
        if role is not None:
            found[role] = found.get(role, 0.0) + own
    found["machine"] = machine_busy_ms()
    return found


def bench_env(tmp: Path, database_url: str, broker_url: str | None = None) -> dict[str, str]:
    """The deployment's environment with the product's own lease and sweep timings, not the test
    suite's short ones (FAST_JOBS: a sweep that sends every row queued for 2 s to the broker again
    would be measured as part of the pipeline), and no rate limits."""
    env = deployment_env(tmp, database_url, broker_url)
    for name in FAST_JOBS:
        env.pop(name, None)
    return {**env, **UNLIMITED, "HOLDOUT_LOG_LEVEL": "WARNING"}


def cold_numpy(runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def submit_burst(base: str, students: list[dict[str, str]], sources: list[str]) -> list[int]:
    """Submit every source, the students taking turns."""
    session = requests.Session()

    def one(k: int) -> int:
        response = session.post(
            f"{base}/api/v1/questions/dropout/submissions",
            json={"answer": sources[k]},
            headers=students[k % len(students)],
            timeout=60,
        )
        response.raise_for_status()
        return int(response.json()["id"])

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(len(sources))))


# Grading is fair (at most one running job per student per grading process), so a burst from one
# student would measure that rule, not the pipeline: the burst comes from a class.
STUDENTS = 8


def students(env: dict[str, str], first: dict[str, str]) -> list[dict[str, str]]:
    more = [
        holdout(env, "token", "create", "--role", "student", "--name", f"student-{i}").splitlines()[
            -1
        ]
        for i in range(1, STUDENTS)
    ]
    return [first] + [{"Authorization": f"Bearer {token}"} for token in more]


def wait_all(database_url: str, ids: list[int], seconds: float) -> dict[str, Any]:
    """Poll the table until every submission settled; then read the timings and the counts."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while True:
            pending = conn.execute(
                text("SELECT COUNT(*) FROM submissions WHERE status IN ('queued', 'running')")
            ).scalar_one()
            conn.commit()
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        rows = conn.execute(
            text(
                "SELECT s.id, s.status, s.created_at, s.graded_at, COUNT(g.id) FROM submissions s "
                "LEFT JOIN grades g ON g.submission_id = s.id GROUP BY s.id"
            )
        ).all()
    engine.dispose()
    by_id = {r[0]: r for r in rows}
    wanted = set(ids)
    latencies = sorted(
        (_when(r[3]) - _when(r[2])).total_seconds()
        for r in rows
        if r[0] in wanted and r[3] is not None
    )
    return {
        "accepted": len(ids),
        "graded": sum(1 for i in ids if by_id.get(i) and by_id[i][1] == "graded"),
        "lost": sum(1 for i in ids if i not in by_id or by_id[i][1] in ("queued", "running")),
        "graded_twice": sum(1 for i in ids if by_id.get(i) and by_id[i][4] > 1),
        "latencies": latencies,
    }


def _when(value: datetime | str) -> datetime:
    """SQLite hands raw timestamps back as text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def measure(
    name: str, base: str, headers: list[dict[str, str]], database_url: str, burst: int
) -> dict[str, Any]:
    # Warm up: the first job starts the zygote and caches the reference outputs.
    warm = submit_burst(base, headers, [read_answer("reference")] * 4)
    wait_all(database_url, warm, 120)

    sequential = []
    for _ in range(30):
        ids = submit_burst(base, headers[:1], [read_answer("reference")])
        sequential += wait_all(database_url, ids, 60)["latencies"]
    sequential.sort()

    sources = [read_answer("reference"), read_answer("no_scaling")] * (burst // 2)
    cpu = cpu_by_role()
    started = time.perf_counter()
    ids = submit_burst(base, headers, sources)
    result = wait_all(database_url, ids, 1200)
    elapsed = time.perf_counter() - started
    time.sleep(1)  # the last jobs reaped, so their CPU is counted
    after = cpu_by_role()
    # A process that ended during the burst is missing from `after`: only roles in both count.
    result["cpu_ms"] = {k: (after[k] - cpu[k]) / len(ids) for k in after if k in cpu}
    result.update(
        name=name,
        per_second=result["graded"] / elapsed,
        per_submission_ms=elapsed / max(1, result["graded"]) * 1000,
        p50_ms=percentile(sequential, 0.5) * 1000,
        p99_ms=percentile(sequential, 0.99) * 1000,
        burst_p50_ms=percentile(result["latencies"], 0.5) * 1000,
        burst_p99_ms=percentile(result["latencies"], 0.99) * 1000,
    )
    return result


def embedded(tmp: Path, burst: int) -> dict[str, Any]:
    database_url = f"sqlite:///{tmp / 'holdout.db'}"
    env = bench_env(tmp, database_url)
    headers = students(env, prepare_database(tmp, env))
    server, base = start_gunicorn(env, tmp, workers=2)
    try:
        return measure(
            "embedded: gunicorn (2 workers) on SQLite", base, headers, database_url, burst
        )
    finally:
        server.stop()


def scaled_out(tmp: Path, burst: int) -> dict[str, Any]:
    name = f"holdout_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with private_redis(tmp) as (broker_url, _):
            env = bench_env(tmp, database_url, broker_url)
            headers = students(env, prepare_database(tmp, env))
            server, base = start_gunicorn(env, tmp, workers=2)
            workers = [start_worker(env, tmp, str(i), "--threads", "2") for i in range(2)]
            try:
                return measure(
                    "scaled out: PostgreSQL + Redis, 2 workers", base, headers, database_url, burst
                )
            finally:
                for proc in (*workers, server):
                    proc.stop()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    cold = cold_numpy()
    results = []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        results.append(embedded(Path(a), args.burst))
        results.append(scaled_out(Path(b), args.burst))
    print(f"\ncold `python -c 'import numpy'`: {cold * 1000:.0f} ms (median of 10)\n")
    print(
        "| setup | graded/s | time per submission | vs cold numpy | p50 / p99 one at a time "
        "| p50 / p99 in the burst | burst: accepted / graded / lost / graded twice |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['per_second']:.1f} | {r['per_submission_ms']:.0f} ms "
            f"| {r['per_submission_ms'] / 1000 / cold:.2f}x "
            f"| {r['p50_ms']:.0f} / {r['p99_ms']:.0f} ms "
            f"| {r['burst_p50_ms'] / 1000:.1f} / {r['burst_p99_ms'] / 1000:.1f} s "
            f"| {r['accepted']} / {r['graded']} / {r['lost']} / {r['graded_twice']} |"
        )
    print(
        "\nWhere the CPU of a submission goes in the burst (ms per submission): the sandbox "
        "processes are the zygotes' standbys, which become reapers, and the jobs; the rest is "
        "the kernel's threads, interrupts and anything else on the machine.\n"
    )
    for r in results:
        cpu = r["cpu_ms"]
        named = {k: v for k, v in cpu.items() if k != "machine" and v >= 0.05}
        rest = cpu["machine"] - sum(named.values())
        print(
            f"- {r['name']}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(named.items(), key=lambda kv: -kv[1]))
            + f", the rest {rest:.1f}; machine {cpu['machine']:.1f}"
        )
    if any(r["lost"] or r["graded_twice"] or r["graded"] != r["accepted"] for r in results):
        raise SystemExit("a submission was lost or graded twice")


if __name__ == "__main__":
    main()

"""Grading throughput and latency: warm zygote vs a cold interpreter per job vs bare numpy start.

Run as `.venv/bin/python bench/grader.py [--jobs N]`; prints a Markdown table. Needs root (the
sandbox switches uids), like the grader itself. Latency figures depend on what else the machine is
doing: the load average at the start and end of the run is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import Grader, GradeReport, load_exercise  # noqa: E402


def measure(job: Callable[[], object], n: int) -> tuple[list[float], float]:
    """Per-job seconds of n sequential jobs, and the wall time of them all."""
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        job()
        times.append(time.perf_counter() - t)
    return times, time.perf_counter() - start


def measure_concurrently(
    job: Callable[[], object], n: int, clients: int
) -> tuple[list[float], float]:
    """n jobs from `clients` threads at once: per-job seconds and the wall time of them all."""
    times: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        for _ in range(count):
            t = time.perf_counter()
            job()
            with lock:
                times.append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(n // clients,)) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200, help="jobs through the zygote")
    parser.add_argument("--cold-jobs", type=int, default=15, help="jobs for the cold variants")
    args = parser.parse_args()

    exercise = load_exercise(ROOT / "question_bank" / "content" / "exercises" / "dropout")
    source = exercise.reference
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, list[float], float]] = []

    hidden = sum(t.hidden for t in exercise.tests)
    # A grade is two sandboxed runs, visible tests then hidden ones (its own job, see SPEC.md).
    runs = 1 + (hidden > 0)

    def check(report: GradeReport) -> None:
        assert report.score == report.max_score, report.feedback
        assert report.timings["runs"] == runs, report.timings

    # Uids from the machine's allocator, as every grading process takes them (grader/uids.py).
    with Grader(slots=1) as grader:
        grader.sandbox_status()
        grader.grade(exercise, source)  # warm up; caches the reference outputs

        def grade() -> None:
            check(grader.grade(exercise, source))

        rows.append(("grade via warm zygote (1 slot)", *measure(grade, args.jobs)))
        grader.pool.cold_start_per_job = True
        rows.append(("grade via fresh interpreter per job", *measure(grade, args.cold_jobs)))

    with Grader(slots=2) as grader:
        grader.sandbox_status()
        grader.grade(exercise, source)

        def grade2() -> None:
            check(grader.grade(exercise, source))

        rows.append(
            ("warm zygote, 2 slots, 2 clients", *measure_concurrently(grade2, args.jobs, 2))
        )

    def cold_numpy() -> None:
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)

    rows.append(('bare `python -c "import numpy"`', *measure(cold_numpy, args.cold_jobs)))

    cold_p50 = statistics.median(rows[-1][1])
    print(
        f"Dropout exercise ({len(exercise.tests)} tests, {hidden} hidden): each job is one "
        f"grade, {runs} sandboxed runs (visible tests, then hidden ones); sequential jobs "
        "unless stated; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after.\n"
    )
    print("| mode | jobs | jobs/s | p50 ms | p99 ms | p50 / cold numpy start |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, times, wall in rows:
        p50 = statistics.median(times)
        print(
            f"| {name} | {len(times)} | {len(times) / wall:.1f} | {p50 * 1000:.1f} "
            f"| {percentile(times, 0.99) * 1000:.1f} | {p50 / cold_p50:.2f} |"
        )


if __name__ == "__main__":
    main()

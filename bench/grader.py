"""Grading throughput and latency: warm zygote vs a cold interpreter per job vs bare numpy start.

Run as `.venv/bin/python bench/grader.py [--jobs N]`; prints a Markdown table. Needs root (the
sandbox switches uids), like the grader itself.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import Grader, load_exercise  # noqa: E402


def measure(job: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        job()
        times.append(time.perf_counter() - t)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100, help="jobs through the zygote")
    parser.add_argument("--cold-jobs", type=int, default=15, help="jobs for the cold variants")
    args = parser.parse_args()

    exercise = load_exercise(ROOT / "question_bank" / "content" / "exercises" / "dropout")
    source = exercise.reference
    rows: list[tuple[str, list[float]]] = []
    with Grader(slots=1, base_uid=64100) as grader:
        grader.sandbox_status()
        grader.grade(exercise, source)  # warm up; caches the reference outputs

        def grade() -> None:
            report = grader.grade(exercise, source)
            assert report.score == report.max_score, report.feedback

        rows.append(("grade via warm zygote", measure(grade, args.jobs)))
        grader.cold_start_per_job = True
        rows.append(("grade via fresh interpreter per job", measure(grade, args.cold_jobs)))

    def cold_numpy() -> None:
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)

    rows.append(('bare `python -c "import numpy"`', measure(cold_numpy, args.cold_jobs)))

    cold_p50 = statistics.median(rows[-1][1])
    print(f"Dropout exercise ({len(exercise.tests)} tests), one slot, sequential jobs.\n")
    print("| mode | jobs | jobs/s | p50 ms | p99 ms | p50 / cold numpy start |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, times in rows:
        p50 = statistics.median(times)
        print(
            f"| {name} | {len(times)} | {len(times) / sum(times):.1f} | {p50 * 1000:.1f} "
            f"| {percentile(times, 0.99) * 1000:.1f} | {p50 / cold_p50:.2f} |"
        )


if __name__ == "__main__":
    main()

"""Grading throughput and latency: warm zygote vs a cold interpreter per job vs bare numpy start.

Run as `.venv/bin/python bench/grader.py [--jobs N]`; prints a Markdown table. `--lab-only`
measures just the lab case (a submission to `lab-regularized-network`, issue 15). Needs root (the
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
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# The pause before each grade of the "one at a time" row: long enough for the standbys to be ready.
IDLE_PAUSE = 0.2
sys.path.insert(0, str(ROOT))

from proc_cpu import machine_busy_ms, process_ms  # noqa: E402

from grader import Grader, GradeReport, load_exercise  # noqa: E402
from grader.protocol import build_job  # noqa: E402


def cpu_split(grader: Grader) -> dict[str, float]:
    """CPU ms so far of this (grading) process, its zygote, the zygote's reaped children (the
    standbys/reapers and, reaped by them, the jobs), and the whole machine."""
    mine = os.times()
    zygote, reaped = process_ms(grader.pool.zygote_info()["pid"])
    return {
        "grading process": (mine.user + mine.system) * 1000,
        "zygote": zygote,
        "sandbox processes": reaped,
        "machine": machine_busy_ms(),
    }


class Measured(NamedTuple):
    times: list[float]  # seconds per job
    wall: float  # seconds for them all
    cpu_ms: float  # machine CPU per job (every process: sandbox, zygote, grader, kernel)


def measure(job: Callable[[], object], n: int, pause: float = 0.0) -> Measured:
    """n sequential jobs, each after `pause` seconds of nothing (not counted in its time)."""
    times = []
    cpu = machine_busy_ms()
    start = time.perf_counter()
    for _ in range(n):
        if pause:
            time.sleep(pause)
        t = time.perf_counter()
        job()
        times.append(time.perf_counter() - t)
    return Measured(times, time.perf_counter() - start, (machine_busy_ms() - cpu) / n)


def measure_concurrently(job: Callable[[], object], n: int, clients: int) -> Measured:
    """n jobs from `clients` threads at once."""
    times: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        for _ in range(count):
            t = time.perf_counter()
            job()
            with lock:
                times.append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(n // clients,)) for _ in range(clients)]
    cpu = machine_busy_ms()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Measured(times, time.perf_counter() - start, (machine_busy_ms() - cpu) / len(times))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200, help="jobs through the zygote")
    parser.add_argument("--cold-jobs", type=int, default=15, help="jobs for the cold variants")
    parser.add_argument("--lab-jobs", type=int, default=10, help="grades of the lab submission")
    parser.add_argument("--lab-only", action="store_true", help="only the lab case")
    args = parser.parse_args()
    if args.lab_only:
        lab_case(args.lab_jobs)
        return

    exercise = load_exercise(ROOT / "question_bank" / "content" / "exercises" / "dropout")
    source = exercise.reference
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, Measured]] = []

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

        before = cpu_split(grader)
        rows.append(("grade via warm zygote (1 slot), back to back", measure(grade, args.jobs)))
        grader.wait_idle()  # every job reaped: its CPU is counted in the zygote's children
        split = {k: (v - before[k]) / args.jobs for k, v in cpu_split(grader).items()}
        # What a student sees when the grader is not busy: the standbys are ready when the
        # submission comes (back to back, every grade also waits for their preparation).
        rows.append(
            (
                f"grade via warm zygote (1 slot), one every {IDLE_PAUSE:g} s",
                measure(grade, max(10, args.jobs // 4), pause=IDLE_PAUSE),
            )
        )
        grader.pool.cold_start_per_job = True
        rows.append(("grade via fresh interpreter per job", measure(grade, args.cold_jobs)))

    with Grader(slots=2) as grader:
        grader.sandbox_status()
        grader.grade(exercise, source)

        def grade2() -> None:
            check(grader.grade(exercise, source))

        rows.append(("warm zygote, 2 slots, 2 clients", measure_concurrently(grade2, args.jobs, 2)))

    def cold_numpy() -> None:
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)

    rows.append(('bare `python -c "import numpy"`', measure(cold_numpy, args.cold_jobs)))

    cold_p50 = statistics.median(rows[-1][1].times)
    print(
        f"Dropout exercise ({len(exercise.tests)} tests, {hidden} hidden): each job is one "
        f"grade, {runs} sandboxed runs (visible tests, then hidden ones); sequential jobs "
        "unless stated; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after.\n"
    )
    print(
        "| mode | jobs | jobs/s | p50 ms | p99 ms | machine CPU per job ms "
        "| p50 / cold numpy start |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in rows:
        p50 = statistics.median(m.times)
        rate = f"{len(m.times) / m.wall:.1f}" if "one every" not in name else "-"
        print(
            f"| {name} | {len(m.times)} | {rate} | {p50 * 1000:.1f} "
            f"| {percentile(m.times, 0.99) * 1000:.1f} | {m.cpu_ms:.0f} | {p50 / cold_p50:.2f} |"
        )
    parts = ("grading process", "zygote", "sandbox processes")
    rest = split["machine"] - sum(split[k] for k in parts)
    print(
        "\nWhere the CPU of a grade goes (back to back, 1 slot; ms per grade): the sandbox "
        "processes are the standbys, which become the reapers, and the jobs; the rest is the "
        "kernel's threads, interrupts and anything else on the machine.\n"
    )
    print("| " + " | ".join(parts) + " | the rest | machine |")
    print("|" + "---:|" * (len(parts) + 2))
    print(
        "| "
        + " | ".join(f"{split[k]:.1f}" for k in parts)
        + f" | {rest:.1f} | {split['machine']:.1f} |"
    )
    if args.lab_jobs > 0:
        lab_case(args.lab_jobs)


LABS = ("lab-dropout", "lab-weight-decay", "lab-early-stopping", "lab-regularized-network")


def lab_case(jobs: int) -> None:
    """Lab submissions (the references): the contract tests of their pieces and one training run
    of the lab's MLP in the sandbox; the reference run and the baseline are cached per version."""
    load_before = os.getloadavg()[0]
    print(
        "\nLab submissions (issue 15): each grade runs the contract tests and one training run "
        "of a 2-128-128-2 MLP (at most 100 epochs; early stopping ends some sooner), sandboxed.\n"
    )
    print("| lab | grades | epochs run | p50 ms | max ms | sandbox CPU p50 s | sandbox CPU max s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with Grader(slots=1) as grader:
        for slug in LABS:
            lab_row(grader, slug, jobs)
    print(f"\nload average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after.")


def lab_row(grader: Grader, slug: str, jobs: int) -> None:
    exercise = load_exercise(ROOT / "question_bank" / "content" / "exercises" / slug)
    source = exercise.reference
    t = time.perf_counter()
    first = grader.grade(exercise, source)  # pays for the reference run and the baseline
    first_s = time.perf_counter() - t
    assert first.score == first.max_score and first.lab is not None, first.feedback

    def grade() -> None:
        report = grader.grade(exercise, source)
        assert report.score == report.max_score, report.feedback

    times = measure(grade, jobs).times
    # CPU of the submission's sandboxed runs (visible tests, then hidden ones), as the job's
    # cgroup counts it: the same jobs again, waiting for their status this time.
    groups = [[i for i, t in enumerate(exercise.tests) if t.hidden == h] for h in (False, True)]
    cpu = []
    for _ in range(jobs):
        runs = [
            grader.pool.run(
                exercise.effective_limits, build_job(exercise, source, g), need_status=True
            )
            for g in groups
            if g
        ]
        cpu.append(sum(float(r.status.get("cpu") or 0.0) for r in runs))
    epochs = len(first.lab["curves"]["yours"]["val"])
    print(
        f"| `{slug}` (first grade: {first_s * 1000:.0f} ms) | {len(times)} | {epochs} "
        f"| {statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} "
        f"| {statistics.median(cpu):.2f} | {max(cpu):.2f} |"
    )


if __name__ == "__main__":
    main()

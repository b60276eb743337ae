"""CPU time as the kernel counts it (/proc), for the benchmarks' tables."""

from __future__ import annotations

import os

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def machine_busy_ms() -> float:
    """CPU time the whole machine has spent on anything but idling, in ms (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) * TICK_MS


def process_ms(pid: int) -> tuple[float, float]:
    """The CPU ms a process has used so far, its own and its reaped children's (/proc/PID/stat);
    OSError once it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])  # utime, stime
    children = int(fields[13]) + int(fields[14])  # cutime, cstime
    return own * TICK_MS, children * TICK_MS

"""One control group per job: a resource boundary around all of a job's processes.

Per-process rlimits let every forked child start a fresh budget; a job's cgroup holds one budget
for all of them together:

- memory: one limit for the whole job, including tmpfs and memfd pages (they are charged to the
  cgroup of the process that writes them) and, where the kernel has it, swap (`memsw`);
- pids: at most `pids` tasks (processes and threads) at once;
- cpu: a quota of `cpus` CPUs, so that forked children share one job's CPU time instead of each
  taking a core, and the usage the zygote reads to stop a job past its CPU budget;
- kill: every task of the job at once, without a fork racing the kill (cgroup v2: `cgroup.kill`;
  v1: freeze, kill every task, thaw).

Both layouts are supported: cgroup v2 (`/sys/fs/cgroup` a cgroup2 mount, or a hybrid system's
unified hierarchy once it has the controllers), and cgroup v1 with the memory, pids and freezer
controllers (cpu and cpuacct used when mounted). The zygote's job cgroups live in one directory,
`holdout-<zygote pid>`, under the zygote's own cgroup in each hierarchy (so whatever limits the
grading process also limits its jobs); each job's cgroup is removed once it is empty, and the
directory when the zygote exits. A directory left by a zygote that was killed is removed by the
next one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from collections.abc import Iterator

ROOT = "/sys/fs/cgroup"
PREFIX = "holdout-"
V1_REQUIRED = ("memory", "pids", "freezer")
V1_OPTIONAL = ("cpu", "cpuacct")
V2_REQUIRED = ("memory", "pids")
# The v1 hierarchies a job's cgroup is in, and every v1 controller's name (as in /proc/cgroups).
JOB_CONTROLLERS = frozenset((*V1_REQUIRED, *V1_OPTIONAL))
V1_CONTROLLERS = frozenset(
    {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "misc"}
    | {"net_cls", "net_prio", "perf_event", "pids", "rdma"}
)
CPU_PERIOD_US = 100_000
# How long a v1 kill waits for the freezer to stop every task before it signals them anyway.
FREEZE_WAIT = 0.05
# How long a zygote that exits waits for its job cgroups to empty before it leaves them.
REMOVE_WAIT = 2.0


class CgroupError(OSError):
    pass


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _keyed(path: str, key: str) -> int | None:
    """`key value` files (memory.events, cpu.stat, memory.oom_control)."""
    try:
        for line in _read(path).splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, options) of the cgroup file systems this process sees."""
    found = []
    try:
        text = _read("/proc/self/mounts")
    except OSError:
        return []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            found.append((parts[1], parts[2], set(parts[3].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """{controller: this process's cgroup path}; the v2 path under the key ''."""
    paths: dict[str, str] = {}
    try:
        text = _read("/proc/self/cgroup")
    except OSError:
        return paths
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


class Tree:
    """Where one zygote's job cgroups live: `dirs` maps a controller (v1) or '' (v2) to the
    zygote's `holdout-<pid>` directory in that hierarchy."""

    def __init__(self, version: int, bases: dict[str, str], name: str) -> None:
        self.version = version
        self.bases = bases  # the zygote's own cgroup in each hierarchy
        self.name = name
        self.dirs = {c: os.path.join(base, name) for c, base in bases.items()}
        self._next = 0

    @classmethod
    def detect(cls, name: str | None = None) -> Tree:
        """The hierarchies to use here; CgroupError says why there are none."""
        name = name or f"{PREFIX}{os.getpid()}"
        own = _own_paths()
        found = mounts()
        for point, fstype, _ in found:
            if fstype != "cgroup2":
                continue
            try:
                available = set(_read(os.path.join(point, "cgroup.controllers")).split())
            except OSError:
                continue
            if set(V2_REQUIRED) <= available:
                return cls(2, {"": _under(point, own.get("", "/"))}, name)
        bases: dict[str, str] = {}
        for point, fstype, options in found:
            if fstype != "cgroup":
                continue
            for controller in JOB_CONTROLLERS:
                if controller in options and controller not in bases:
                    bases[controller] = _under(point, own.get(controller, "/"))
        missing = [c for c in V1_REQUIRED if c not in bases]
        if missing:
            raise CgroupError(
                errno.ENOENT, f"no cgroup hierarchy with {', '.join(missing)} is mounted"
            )
        return cls(1, bases, name)

    def create(self) -> None:
        """Make the zygote's directory (removing any that a dead zygote left)."""
        self.remove_stale()
        if self.version == 2:
            base = self.bases[""]
            wanted = ["memory", "pids"]
            available = set(_read(os.path.join(base, "cgroup.controllers")).split())
            wanted += [c for c in ("cpu",) if c in available]
            _enable(base, wanted)
            os.makedirs(self.dirs[""], exist_ok=True)
            _enable(self.dirs[""], wanted)
        else:
            for d in self.dirs.values():
                os.makedirs(d, exist_ok=True)

    def job(self) -> Job:
        self._next += 1
        return Job(self, f"job-{self._next}")

    def remove(self) -> None:
        """Remove every job cgroup (killing what is left in it) and the zygote's directory."""
        deadline = time.monotonic() + REMOVE_WAIT
        for d in self.dirs.values():
            _remove_tree(d, deadline)

    def remove_stale(self) -> None:
        """Remove what zygotes that died left behind: one attempt each, never a wait (a cgroup
        still busy is left to the next zygote)."""
        for base in set(self.bases.values()):
            try:
                names = os.listdir(base)
            except OSError:
                continue
            for n in names:
                pid = n[len(PREFIX) :]
                if n.startswith(PREFIX) and pid.isdigit() and not _alive(int(pid)):
                    for d in self.bases.values():
                        _remove_tree(os.path.join(d, n), 0.0)


def _under(point: str, path: str) -> str:
    base = os.path.join(point, path.lstrip("/"))
    # In a cgroup namespace or container, the mount may be the process's own cgroup already.
    return base if os.path.isdir(base) else point


def _enable(path: str, controllers: list[str]) -> None:
    current = set(_read(os.path.join(path, "cgroup.subtree_control")).split())
    todo = [c for c in controllers if c not in current]
    if todo:
        _write(os.path.join(path, "cgroup.subtree_control"), " ".join(f"+{c}" for c in todo))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: str, deadline: float) -> None:
    """Kill every task under `path` and remove its cgroups, trying again until `deadline`."""
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(entry.path, deadline)
    while True:
        _kill_all(path)
        # A frozen task (a zygote killed mid-kill) only dies once thawed.
        with contextlib.suppress(OSError):
            _write(os.path.join(path, "freezer.state"), "THAWED")
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)


def _kill_all(path: str) -> None:
    for pid in _pids(path):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _pids(path: str) -> list[int]:
    try:
        return [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
    except (OSError, ValueError):
        return []


class Job:
    """One job's cgroup (a directory per hierarchy)."""

    def __init__(self, tree: Tree, name: str) -> None:
        self.tree = tree
        self.name = name
        self.dirs = {c: os.path.join(d, name) for c, d in tree.dirs.items()}
        self.memory_limit = 0
        self._tasks_cpus: tuple[int, float] | None = None
        self._cpu_base = 0.0

    def _file(self, controller: str, name: str) -> str | None:
        d = self.dirs.get("" if self.tree.version == 2 else controller)
        return None if d is None else os.path.join(d, name)

    def create(self, memory_bytes: int, pids: int, cpus: float) -> None:
        for d in self.dirs.values():
            os.mkdir(d)
        self.limit(memory_bytes, pids, cpus)

    def limit(self, memory_bytes: int, pids: int, cpus: float) -> None:
        """Set the job's limits (unchanged ones are not written again)."""
        if memory_bytes != self.memory_limit:
            self._set_memory(memory_bytes)
            self.memory_limit = memory_bytes
        if (pids, cpus) == self._tasks_cpus:
            return
        self._tasks_cpus = (pids, cpus)
        pids_max = self._file("pids", "pids.max")
        assert pids_max is not None
        _write(pids_max, str(pids))
        quota = str(max(1000, int(cpus * CPU_PERIOD_US)))
        if self.tree.version == 2:
            cpu_max = self._file("cpu", "cpu.max")
            if cpu_max and os.path.exists(cpu_max):
                _write(cpu_max, f"{quota} {CPU_PERIOD_US}")
        elif "cpu" in self.dirs:
            _write(os.path.join(self.dirs["cpu"], "cpu.cfs_period_us"), str(CPU_PERIOD_US))
            _write(os.path.join(self.dirs["cpu"], "cpu.cfs_quota_us"), quota)

    def set_idle(self, idle: bool) -> None:
        """Run the whole cgroup at idle priority (SCHED_IDLE as a group) or at a normal one.

        A standby prepares in its own job's cgroup: a task's SCHED_IDLE only weighs against the
        other tasks of its cgroup, so without this the cgroup as a whole would compete with the
        running job at full weight. Kernels without `cpu.idle` (before 5.15) keep the tasks'."""
        path = self._file("cpu", "cpu.idle")
        if path is not None and os.path.exists(path):
            _write(path, "1" if idle else "0")

    def _set_memory(self, limit: int) -> None:
        if self.tree.version == 2:
            d = self.dirs[""]
            _write(os.path.join(d, "memory.max"), str(limit))
            swap = os.path.join(d, "memory.swap.max")
            if os.path.exists(swap):
                _write(swap, "0")
            return
        d = self.dirs["memory"]
        memory = os.path.join(d, "memory.limit_in_bytes")
        memsw = os.path.join(d, "memory.memsw.limit_in_bytes")
        # memsw (memory + swap) may never be below the memory limit: order the writes.
        order = [memory, memsw] if limit <= self.memory_limit or not self.memory_limit else []
        order = order or [memsw, memory]
        for path in order:
            if path == memsw and not os.path.exists(memsw):
                continue
            _write(path, str(limit))

    def join(self) -> None:
        """Move the calling process into this cgroup (in every hierarchy)."""
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), "0")

    def pids(self) -> list[int]:
        return _pids(self.dirs["" if self.tree.version == 2 else "pids"])

    def empty(self) -> bool:
        return all(not _pids(d) for d in self.dirs.values())

    def kill(self) -> None:
        """SIGKILL every task of the job at once."""
        if self.tree.version == 2:
            kill_file = os.path.join(self.dirs[""], "cgroup.kill")
            if os.path.exists(kill_file):
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
                return
            freeze = os.path.join(self.dirs[""], "cgroup.freeze")
            with self._frozen(freeze, "1", "0"):
                _kill_all(self.dirs[""])
            return
        state = os.path.join(self.dirs["freezer"], "freezer.state")
        with self._frozen(state, "FROZEN", "THAWED"):
            _kill_all(self.dirs["pids"])

    @contextlib.contextmanager
    def _frozen(self, path: str, frozen: str, thawed: str) -> Iterator[None]:
        # Frozen tasks cannot fork while they are being killed; the kill takes effect on thaw.
        try:
            _write(path, frozen)
        except OSError:
            yield
            return
        deadline = time.monotonic() + FREEZE_WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if _read(path).strip() in (frozen, "FROZEN"):
                    break
            time.sleep(0.001)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                _write(path, thawed)

    def cpu_seconds(self) -> float | None:
        """CPU time used by all of the job's tasks since `mark_start`."""
        used = self._cpu_total()
        return None if used is None else max(0.0, used - self._cpu_base)

    def mark_start(self) -> None:
        """The job starts now: CPU time used before (the standby's preparation) is not its own."""
        self._cpu_base = self._cpu_total() or 0.0

    def _cpu_total(self) -> float | None:
        if self.tree.version == 2:
            usec = _keyed(os.path.join(self.dirs[""], "cpu.stat"), "usage_usec")
            return None if usec is None else usec / 1e6
        if "cpuacct" not in self.dirs:
            return None
        try:
            return int(_read(os.path.join(self.dirs["cpuacct"], "cpuacct.usage"))) / 1e9
        except (OSError, ValueError):
            return None

    def memory_peak(self) -> int | None:
        name = "memory.peak" if self.tree.version == 2 else "memory.max_usage_in_bytes"
        path = self._file("memory", name)
        try:
            return int(_read(path)) if path else None
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        if self.tree.version == 2:
            found = _keyed(os.path.join(self.dirs[""], "memory.events"), "oom_kill")
        else:
            found = _keyed(os.path.join(self.dirs["memory"], "memory.oom_control"), "oom_kill")
        return found or 0

    def remove(self) -> bool:
        """Remove the job's cgroup; False while a task is still in it."""
        done = True
        for d in self.dirs.values():
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                done = False
        return done


def observe(memory_bytes: int, pids: int) -> bool:
    """From inside a job: it sees its own cgroup only, as the root of its cgroup namespace, and
    that cgroup has the job's memory and task limits."""
    try:
        tree = Tree.detect("")
    except OSError:
        return False
    own = _own_paths()
    try:
        if tree.version == 2:
            d = os.path.join(_v2_point(), own.get("", "/").lstrip("/"))
            memory = int(_read(os.path.join(d, "memory.max")))
            task_max = int(_read(os.path.join(d, "pids.max")))
        else:
            mem_dir = os.path.join(_v1_point("memory"), own["memory"].lstrip("/"))
            pid_dir = os.path.join(_v1_point("pids"), own["pids"].lstrip("/"))
            memory = int(_read(os.path.join(mem_dir, "memory.limit_in_bytes")))
            task_max = int(_read(os.path.join(pid_dir, "pids.max")))
    except (OSError, KeyError, ValueError):
        return False
    confined = all(own.get(c) == "/" for c in (("",) if tree.version == 2 else ("memory", "pids")))
    return confined and memory == memory_bytes and task_max == pids


def _v2_point() -> str:
    return next((p for p, t, _ in mounts() if t == "cgroup2"), ROOT)


def _v1_point(controller: str) -> str:
    return next((p for p, t, o in mounts() if t == "cgroup" and controller in o), ROOT)

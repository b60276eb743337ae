"""The zygote's standby processes and per-job network namespaces: what the speed work relies on."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from typing import Any

import pytest
from grader_helpers import full_marks, own_base_uid, sandbox_processes

from grader import Exercise, Grader
from grader.protocol import child_test


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


def probe_exercise(**limits: float) -> Exercise:
    """`f()` with one test and no checks: for reading what a job sees, from its output."""
    return Exercise.from_dict(
        {
            "slug": "sandbox-probe",
            "title": "Probe",
            "entry": {"name": "f", "kind": "function", "signature": "f()"},
            "limits": {"wall_seconds": 5, **limits},
            "tests": [{"name": "runs", "steps": [{"call": {}}]}],
            "reference": "def f():\n    return None\n",
        }
    )


def output_of(
    grader: Grader, source: str, exercise: Exercise | None = None, proc: bool = False
) -> Any:
    """What `f()` returned in the sandbox (decoded by the parent). `proc`: the job keeps the
    /proc of its PID namespace, as only the start-up probe does, to look at its own setup."""
    ex = exercise or probe_exercise()
    job = {
        "mode": "run",
        "source": src(source),
        "entry": {"name": "f", "kind": "function"},
        "tests": [child_test(0, ex.tests[0])],
    }
    run = grader.pool.run(ex.effective_limits, job, {"proc": True} if proc else None)
    assert run.done and not run.protocol_error, run
    return run.tests[0][0]["out"]


SEEN = """
    import os

    def f():
        with open("/proc/self/net/dev") as dev:  # no socket: the seccomp filter refuses them
            names = sorted(line.split(":")[0].strip() for line in dev.readlines()[2:])
        return [os.getuid(), os.stat("/proc/self/ns/net").st_ino, names]
    """


def test_each_job_has_a_network_namespace_of_its_own(grader: Grader) -> None:
    host = os.stat("/proc/self/ns/net").st_ino
    seen = [output_of(grader, SEEN, proc=True) for _ in range(2 * len(grader.uids))]
    assert {uid for uid, _, _ in seen} <= set(grader.uids)
    # Never the host's; only a loopback interface. (That no job sees what an earlier job of its
    # uid left in its namespace is test_grader_attacks_os.py's business.)
    assert all(netns != host and names == ["lo"] for _, netns, names in seen), seen


def test_a_job_cannot_bring_up_the_loopback(grader: Grader) -> None:
    source = """
        import ctypes, fcntl, socket, struct

        def f():
            ifreq = struct.pack("16sH14s", b"lo", 0x1, b"")
            try:  # refused by the seccomp filter already; by the namespace without it
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                fcntl.ioctl(s.fileno(), 0x8914, ifreq)  # SIOCSIFFLAGS: IFF_UP
                return "up"
            except OSError as exc:
                return exc.errno
        """
    assert output_of(grader, source) == 1  # EPERM
    # and the next job of any uid still finds no way out
    assert output_of(grader, SEEN, proc=True)[2] == ["lo"]


def test_the_zygote_refuses_a_second_live_job_for_one_uid() -> None:
    ex = probe_exercise()
    slow = {
        "mode": "run",
        "source": "import time\ntime.sleep(1.0)\ndef f():\n    return 1\n",
        "entry": {"name": "f", "kind": "function"},
        "tests": [child_test(0, ex.tests[0])],
    }
    with Grader(slots=1, base_uid=own_base_uid(2)) as g:
        g.sandbox_status()
        cfg = g.pool.cfg(g.uids[0], ex.effective_limits)
        first: list[Any] = []
        worker = threading.Thread(target=lambda: first.append(g.pool.run_once(cfg, slow)))
        worker.start()
        time.sleep(0.3)
        run, handle = g.pool.run_once(cfg, slow)  # same uid while the first job lives
        assert run.setup is None
        assert "still has a live job" in handle.future.result(timeout=10)["error"]
        worker.join()
        assert first[0][0].done and "status" in first[0][1].future.result(timeout=10)


@pytest.mark.parametrize(
    ("file_mib", "chunk_mib", "expected"),
    [(2, 0.75, [True, False]), (40, 15, [True, False]), (16, 7, [True, False])],
    ids=["smaller than the standby's", "larger", "default"],
)
def test_private_tmp_has_the_exercise_size(
    grader: Grader, file_mib: float, chunk_mib: float, expected: list[bool]
) -> None:
    source = f"""
        import os

        def fill(n):
            try:
                for i in range(n):
                    with open(f"/tmp/fill{{i}}", "wb") as fh:
                        fh.write(b"x" * int({chunk_mib} * 2**20))
                return True
            except OSError:
                return False
            finally:
                for i in range(n):
                    if os.path.exists(f"/tmp/fill{{i}}"):
                        os.remove(f"/tmp/fill{{i}}")

        def f():
            return [fill(2), fill(3)]
        """
    ex = probe_exercise(file_mib=file_mib, memory_mib=512)
    assert output_of(grader, source, ex) == expected


def test_a_job_sees_nothing_of_the_standby_warm_up(grader: Grader) -> None:
    source = """
        import linecache, sys

        def f():
            module = sys.modules["submission"]
            names = sorted(n for n in vars(module) if not n.startswith("__"))
            texts = ["".join(entry[2]) for entry in linecache.cache.values() if len(entry) == 4]
            mine = "".join(linecache.cache["submission.py"][2])
            needle = "def " + "warm("
            return [names, any(needle in t for t in texts), "def f():" in mine]
        """
    assert output_of(grader, source) == [["f", "linecache", "sys"], False, True]


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for p in pids if os.path.exists(f"/proc/{p}")]:
            return True
        time.sleep(0.05)
    return False


def _wait_for_standbys(zygote: int, n: int) -> list[int]:
    """The zygote's children once there are n of them (jobs reaped: only standbys are left)."""
    deadline = time.monotonic() + 10
    while len(standbys := _children(zygote)) != n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(standbys) == n, standbys
    return standbys


def test_a_dead_standby_is_replaced_and_standbys_die_with_the_zygote() -> None:
    ex = probe_exercise()
    with Grader(slots=2, base_uid=own_base_uid(3)) as g:
        assert full_marks(g.grade(ex, ex.reference))
        zygote = g.pool._zygote
        assert zygote is not None
        assert g.wait_idle(30)
        # One per slot and a spare, as root, waiting for jobs.
        standbys = _wait_for_standbys(zygote.info["pid"], g.slots + 1)
        os.kill(standbys[0], signal.SIGKILL)
        assert _gone(standbys[:1])
        assert full_marks(g.grade(ex, ex.reference))
        assert full_marks(g.grade(ex, ex.reference))
        assert g.wait_idle(30)
        standbys = _wait_for_standbys(zygote.info["pid"], g.slots + 1)
        os.kill(zygote.info["pid"], signal.SIGKILL)
        assert _gone(standbys), "standby processes outlived the zygote"
        assert full_marks(g.grade(ex, ex.reference))  # a new zygote
    assert sandbox_processes(set(g.uids)) == []


def _cpu_idle(pid: int) -> str | None:
    """The `cpu.idle` of a process's cgroup (v1 cpu hierarchy or v2), None where there is none."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            mounts = ["cpu", "cpu,cpuacct"]
        elif not controllers:
            mounts = [""]
        else:
            continue
        for mount in mounts:
            file = os.path.join("/sys/fs/cgroup", mount, path.lstrip("/"), "cpu.idle")
            if os.path.exists(file):
                with open(file) as idle:
                    return idle.read().strip()
    return None


def test_a_job_runs_at_normal_priority(grader: Grader) -> None:
    # Standbys prepare at idle priority; the job itself must not be starved by other load.
    source = """
        import os

        def f():
            idle = None
            for line in open("/proc/self/cgroup").read().splitlines():
                _, controllers, path = line.split(":", 2)
                file = "/sys/fs/cgroup/cpu" + path + "/cpu.idle"
                if "cpu" in controllers.split(",") and os.path.exists(file):
                    idle = open(file).read().strip()
            return [os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0), idle]
        """
    policy, nice, idle = output_of(grader, source, proc=True)
    assert [policy, nice] == [os.SCHED_OTHER, 0]
    assert idle in ("0", None)  # None: a kernel without cgroup idle (before 5.15)


def test_standbys_prepare_at_idle_priority_as_a_whole_cgroup() -> None:
    # A task's SCHED_IDLE weighs only against the tasks of its own cgroup: each standby sits in
    # its job's cgroup, so the cgroup itself must be idle, or every standby preparing would take
    # a full share of the CPU from the running job.
    ex = probe_exercise()
    with Grader(slots=2, base_uid=own_base_uid(7)) as g:
        assert full_marks(g.grade(ex, ex.reference))
        zygote = g.pool._zygote
        assert zygote is not None and g.wait_idle(30)
        standbys = _wait_for_standbys(zygote.info["pid"], g.slots + 1)
        # A standby forked a moment ago is still in the zygote's cgroup until it joins its own.
        deadline = time.monotonic() + 5
        while (idle := [_cpu_idle(pid) for pid in standbys]) != ["1"] * len(standbys):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if idle == [None] * len(standbys):
            pytest.skip("no cgroup cpu.idle here (a kernel before 5.15, or no cpu controller)")
        assert idle == ["1"] * len(standbys)
        # (that a job's cgroup is normal again once it runs: test_a_job_runs_at_normal_priority)


def test_a_job_has_a_root_of_its_own(grader: Grader) -> None:
    # Not the machine's root with its directories covered: a lookup in that root, of a name that
    # does not exist, leaves a negative entry in the machine's directory cache, which a later job
    # can time (a channel from a hidden run to the next visible run).
    source = """
        import os

        def f():
            root = next(
                line.split() for line in open("/proc/self/mountinfo") if line.split()[4] == "/"
            )
            dash = root.index("-")
            paths = ("/home", "/root", "/run", "/srv", "/work", "/var", "/usr", "/etc", "/bin")
            return {
                "fstype": root[dash + 1],
                "read_only": "ro" in root[5].split(","),
                "entries": sorted(os.listdir("/")),
                "machine": [p for p in paths if os.path.lexists(p)],
                "device": os.stat("/").st_dev,
            }
        """
    seen = output_of(grader, source, proc=True)
    assert seen["fstype"] == "tmpfs" and seen["read_only"], seen
    assert seen["entries"] == ["dev", "proc", "sys", "tmp"]
    assert seen["machine"] == []
    assert seen["device"] != os.stat("/").st_dev


def test_a_grader_started_in_tmp_keeps_the_private_tmp_and_the_mount_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The working directory is hidden from jobs; /tmp is replaced by the job's own instead: hiding
    # it too covered the job directory, and the probe then saw no mount namespace (status false,
    # jobs in a fallback directory).
    monkeypatch.chdir("/tmp")
    ex = probe_exercise()
    with Grader(slots=1, base_uid=own_base_uid(8), hide=["/var/tmp"]) as g:
        status = g.sandbox_status()
        assert status["mountns"] is True and status["private_tmp"] is True, status
        assert not g.pool.needs_fallback_dir
        assert full_marks(g.grade(ex, ex.reference))
        assert output_of(g, "import os\ndef f():\n    return os.getcwd()\n") == "/tmp/job"
    assert sandbox_processes(set(g.uids)) == []

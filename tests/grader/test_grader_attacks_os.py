"""Attacks on the OS side of the sandbox (issue 9): the kernel calls a job may make, one budget for
all of a job's processes, the reaper, caches and namespaces one job could leave to the next, and
uids shared between grading tools.

Same two shapes as test_grader_attacks.py: a "probe" answers correctly only if its attack FAILED,
so full marks prove the code ran and was stopped; a runaway must score nothing. Every test leaves
no process under the sandbox uids (the `leaves_nothing` fixture).
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import signal
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pyseccomp
import pytest
from click.testing import CliRunner
from grader_helpers import ATTACK_BUGS, EXERCISES, attack_exercise, full_marks, nothing_earned

from grader import Grader, seccomp
from grader.cli import grade_command

pytestmark = pytest.mark.usefixtures("leaves_nothing")


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


def probe(attack: str, prelude: str = "") -> str:
    """A submission that answers correctly only when `attack()` returns False (what it found is
    printed, for the test's error message)."""
    return src(
        """
        import numpy as np
        {prelude}

        def attack():
        {body}

        def _succeeded():
            try:
                found = attack()
            except (AssertionError, {bugs}):
                raise  # the attack never ran as meant: a failed test, never a vacuous pass
            except BaseException as exc:
                print("attack raised", repr(exc))
                return False
            if found:
                print("attack worked:", found)
            return bool(found)

        def solve(x):
            return x * 2 if not _succeeded() else x * 0
        """
    ).format(
        prelude=textwrap.dedent(prelude).strip(),
        bugs=ATTACK_BUGS,
        body=textwrap.indent(textwrap.dedent(attack).strip(), "    "),
    )


def nr(name: str) -> int:
    return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)


LIBC = """
    import ctypes, errno, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def call(number, *args):
        ret = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
        return ret, (ctypes.get_errno() if ret == -1 else 0)
    """

# ------------------------------------------------------------------------------------------------
# seccomp: the kernel calls a job may not make


def test_every_denied_system_call_fails_with_eperm(grader: Grader, target) -> None:
    # Zero arguments (with a pid that does not exist where one is read): harmless even where a
    # call is allowed; under the filter each must fail with EPERM before the kernel looks at them.
    calls = {n: nr(n) for n in seccomp.DENIED if nr(n) >= 0}
    attack = f"""
        wrong = {{}}
        for name, number in {calls!r}.items():
            args = (3, 999999, 0, 0) if name == "ptrace" else ()  # PEEKUSER, never TRACEME
            ret, err = call(number, *args)
            if err != errno.EPERM:
                wrong[name] = err or ret
        ret, err = call({nr("clone3")}, 0, 0)
        if err != errno.ENOSYS:  # so that libc falls back to clone, whose flags are checked
            wrong["clone3"] = err or ret
        # Newer than the filter's review (open_tree_attr, statmount, mseal...), as if absent.
        for number in range({nr(seccomp.NEWEST_REVIEWED) + 1}, {seccomp.SYSCALL_NUMBERS_END}):
            ret, err = call(number)
            if err != errno.ENOSYS:
                wrong[number] = err or ret
        return wrong
    """
    report = grader.grade(target, probe(attack, LIBC))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


NAMESPACE_ESCAPES = {
    # Class 1: a user namespace is the way to mount FUSE (or anything) and wedge PID 1.
    "unshare a user and mount namespace": f"""
        ret, err = call({nr("unshare")}, 0x10000000 | 0x00020000)
        return ret == 0
        """,
    "clone into a new user namespace": f"""
        ret, err = call({nr("clone")}, 0x10000000 | 17, 0, 0, 0, 0)  # CLONE_NEWUSER | SIGCHLD
        if ret == 0:
            os._exit(0)  # the clone: a copy of this process in the new namespace
        if ret > 0:
            os.waitpid(ret, 0)
        return ret > 0
        """,
    "clone into a new network namespace": f"""
        ret, err = call({nr("clone")}, 0x40000000 | 17, 0, 0, 0, 0)
        if ret == 0:
            os._exit(0)
        if ret > 0:
            os.waitpid(ret, 0)
        return ret > 0
        """,
    "ptrace-seize PID 1": f"""
        # From a child, so that on a sandbox without a reaper PID 1 is the job's own parent, which
        # first makes itself traceable (a process that changed uid is not, until it says so).
        libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
        pid = os.fork()
        if pid == 0:
            ret, err = call({nr("ptrace")}, 0x4206, 1, 0, 0)  # PTRACE_SEIZE
            os._exit(42 if ret == 0 else 0)
        _, status = os.waitpid(pid, 0)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 42
        """,
    "execve a system interpreter": """
        for path in ("/usr/bin/python3", "/bin/sh", "/usr/bin/perl"):
            pid = os.fork()
            if pid == 0:
                try:
                    os.execv(path, [path, "-e" if "perl" in path else "-c", "exit(42)"])
                finally:
                    os._exit(1)
            _, status = os.waitpid(pid, 0)
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 42:
                return path
        return False
        """,
    "change the personality": f"""
        ret, err = call({nr("personality")}, 0x0040000)  # ADDR_NO_RANDOMIZE
        return ret != -1
        """,
    "open a netlink, packet, IP or Unix socket": """
        import socket
        opened = []
        for family, kind in ((socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_INET, 1),
                             (socket.AF_INET6, 2), (socket.AF_PACKET, socket.SOCK_RAW),
                             (socket.AF_UNIX, socket.SOCK_STREAM)):
            try:
                socket.socket(family, kind).close()
                opened.append(family)
            except OSError:
                pass
        return opened
        """,
}


@pytest.mark.parametrize("name", list(NAMESPACE_ESCAPES))
def test_kernel_escapes_are_refused(grader: Grader, target, name: str) -> None:
    report = grader.grade(target, probe(NAMESPACE_ESCAPES[name], LIBC))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


# Machine-wide counters a job could move and a later job read: the inode numbers of new pipes,
# sockets, message queues and /proc entries (one counter), of memfds (the kernel's own tmpfs's),
# and of pidfds (one per process the machine starts).
COUNTER_PUSH = 40 * 1024  # 40 of the per-CPU batches the counters are handed out in


def test_no_job_moves_a_machine_wide_inode_counter(grader: Grader, target) -> None:
    attack = f"""
        import socket
        made = []
        makers = {{
            "pipe": os.pipe,
            "pipe2": lambda: os.pipe2(0),
            "socketpair": socket.socketpair,
            "unix socket": lambda: socket.socket(socket.AF_UNIX),
            "memfd": lambda: os.memfd_create("counter"),
            "pidfd": lambda: os.pidfd_open(os.getpid()),
        }}
        for name, make in makers.items():
            try:
                make()
                made.append(name)
            except PermissionError:
                pass
        if libc.mq_open(b"/counter", os.O_CREAT | os.O_RDWR, 0o600, None) != -1:
            made.append("mq_open")
        ret, err = call({nr("clone")}, 0x1000 | 17, 0, 0, 0, 0)  # CLONE_PIDFD | SIGCHLD
        if ret == 0:
            os._exit(0)
        if ret > 0 or err != errno.EPERM:
            made.append(f"clone with CLONE_PIDFD: {{err or ret}}")
            if ret > 0:
                os.waitpid(ret, 0)
        # /proc: every entry looked up takes the pipes' counter's next number.
        if os.path.exists("/proc/self") or os.listdir("/proc"):
            made.append("/proc")
        return made
    """
    report = grader.grade(target, probe(attack, LIBC))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


COUNTER_READINGS = """
    import json, os

    def readings():
        '''The counters as far as this job can read them: an inherited pipe's inode number, and
        past one per-CPU batch of new pipes and memfds, the number then drawn. (The pidfds'
        counter moves by one per process, too little to tell from the machine's own forks here:
        test_no_job_moves_a_machine_wide_inode_counter covers it.)'''
        seen = {"inherited pipe": max(os.fstat(fd).st_ino for fd in (1, 3))}
        makers = {"pipe": os.pipe, "memfd": lambda: (os.memfd_create("reading"),)}
        for name, make in makers.items():
            try:
                for _ in range(2100):
                    fds = make()
                    seen[name] = os.fstat(fds[0]).st_ino
                    for fd in fds:
                        os.close(fd)
            except PermissionError:
                pass
        return seen

    print("READINGS", json.dumps(readings()))

    def solve(x):
        return x * 2
    """

COUNTER_PUSH_SOURCE = f"""
    import os

    def push():
        '''Move every counter this job can reach by COUNTER_PUSH.'''
        for make in (os.pipe, lambda: (os.memfd_create("push"),)):
            try:
                for _ in range({COUNTER_PUSH}):
                    for fd in make():
                        os.close(fd)
            except PermissionError:
                pass
        try:
            for fd in range(3):
                for _ in range(1000):
                    os.stat(f"/proc/self/fd/{{fd}}")  # cached after the first: the rest is cheap
        except OSError:
            pass

    push()

    def solve(x):
        return x * 2
    """


def test_a_job_counts_nothing_into_the_next_jobs_inode_numbers(grader: Grader, target) -> None:
    # A hidden run moving a counter by its hidden input's bits, the student's next visible run
    # reading how far it moved: jobs one after another, the middle one pushing.
    def read() -> dict[str, int]:
        report = grader.grade(target, src(COUNTER_READINGS))
        assert full_marks(report), (report.output, [t.message for t in report.tests])
        return json.loads(report.output.split("READINGS ", 1)[1].splitlines()[0])

    before = read()
    assert full_marks(grader.grade(target, src(COUNTER_PUSH_SOURCE)))
    after = read()
    assert set(before) == set(after) and "inherited pipe" in before
    moved = {name: after[name] - before[name] for name in before}
    # What the machine does meanwhile moves them too, by a few hundred at most on a busy one.
    assert all(abs(n) < COUNTER_PUSH // 2 for n in moved.values()), moved


def test_the_kernel_keyring_carries_nothing_between_jobs(grader: Grader, target) -> None:
    # Class 2: the keyring is per uid and not namespaced. Each job first looks for a key an
    # earlier job of its uid stored, then stores one; every uid runs at least two jobs.
    attack = f"""
        def text(b):
            return ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value

        desc, payload = b"holdout-covert-answer", b"def solve(x): return x * 2"
        ret, err = call({nr("request_key")}, text(b"user"), text(desc), 0, 0)
        if ret >= 0:
            return "found an earlier job's key"
        user_keyring = -4
        call({nr("add_key")}, text(b"user"), text(desc), text(payload), len(payload), user_keyring)
        return False
    """
    source = probe(attack, LIBC)
    for _ in range(2 * len(grader.uids) + 1):
        report = grader.grade(target, source)
        assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_no_job_sees_another_jobs_cgroup(grader: Grader, target) -> None:
    # Class 2 again, between two jobs running at once: one modulates its memory, CPU or task count,
    # the other reads it in the first one's cgroup files. Here the sender holds 64 MiB for a
    # second while the receiver looks for any cgroup but its own, and for that much memory used
    # anywhere it can read.
    sender = """
        import time
        held = bytearray(64 << 20)
        for i in range(0, len(held), 4096):
            held[i] = 1
        time.sleep(1.0)
        return False
    """
    receiver = """
        import os, time
        found = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and not found:
            for top, dirs, files in os.walk("/sys/fs/cgroup"):
                if "cgroup.procs" in files and top.count("/") > 4:
                    found.append(top)  # a cgroup below the job's own (which is a mount's root)
                for name in ("memory.usage_in_bytes", "memory.current"):
                    if name in files:
                        with open(os.path.join(top, name)) as f:
                            if int(f.read()) > 48 << 20:
                                found.append(os.path.join(top, name))
                if len(found) > 3:
                    break
            time.sleep(0.05)
        return found[:4]
    """
    with ThreadPoolExecutor(2) as pool:
        sent = pool.submit(grader.grade, target, probe(sender))
        time.sleep(0.3)
        report = grader.grade(target, probe(receiver))
        assert full_marks(sent.result())
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_no_job_reads_the_machines_counters_or_its_reaper(grader: Grader, target) -> None:
    # The machine-wide counters are a channel between two jobs running at once: one forks k times
    # a second (the "processes" line of /proc/stat), or holds memory (/proc/meminfo), the other
    # reads them. The reaper, PID 1 and root, shows the zygote's command line and state.
    attack = """
        import os
        paths = ["/proc/stat", "/proc/meminfo", "/proc/vmstat", "/proc/loadavg", "/proc/diskstats",
                 "/proc/interrupts", "/proc/pressure/cpu", "/proc/sys/kernel/ns_last_pid",
                 "/proc/1/cmdline", "/proc/1/stat", "/proc/1/status",
                 "/sys/devices/system/node/node0/meminfo", "/sys/block/vda/stat",
                 "/sys/kernel/mm/transparent_hugepage/enabled",
                 "/sys/class/net/lo/statistics/rx_bytes"]
        readable = []
        for path in paths:
            try:
                with open(path, "rb") as f:
                    f.read(64)
                readable.append(path)
            except OSError:
                pass
        with open("/proc/self/net/dev") as f:  # what the job needs of /proc is still there
            f.read()
        listed = ["pid 1 listed"] if "1" in os.listdir("/proc") else []
        return readable + listed + sorted(set(os.listdir("/sys")) - {"fs"})
    """
    report = grader.grade(target, probe(attack))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_no_job_watches_the_files_other_jobs_use(grader: Grader, target) -> None:
    # Were a file shared (no file of the machine is left to a job: see
    # test_no_file_of_the_machine_can_be_read), one job watching for opens of it, or asking
    # whether its pages are in the page cache, would see another job running at once use it.
    # The calls are refused whatever the file: a file of the job's own stands in.
    attack = f"""
        import os
        worked = []
        with open("probe", "wb") as f:
            f.write(bytes(8192))
        fd = os.open("probe", os.O_RDONLY)
        for name, nr, args in (("inotify_init1", {nr("inotify_init1")}, (0,)),
                               ("fanotify_init", {nr("fanotify_init")}, (0, 0)),
                               ("cachestat", {nr("cachestat")}, (fd, 0, 0, 0))):
            ret, err = call(nr, *args)
            if err != errno.EPERM:
                worked.append(f"{{name}}: {{ret}} {{err}}")
        try:
            os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
            worked.append("preadv2 RWF_NOWAIT")
        except PermissionError:
            pass
        os.preadv(fd, [bytearray(16)], 0)  # plain reads still work
        # A lock on it, or a look at another process's lock: one bit at a time, without noise.
        import fcntl, struct
        for name, lock in (("flock", lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)),
                           ("lockf", lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)),
                           ("F_GETLK", lambda: fcntl.fcntl(fd, fcntl.F_GETLK,
                                                           struct.pack("hhqqi", 1, 0, 0, 0, 0)))):
            try:
                lock()
                worked.append(name)
            except PermissionError:
                pass
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)  # descriptor flags still work
        os.close(fd)
        return worked
    """
    report = grader.grade(target, probe(attack, LIBC))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_a_jobs_dev_holds_only_harmless_devices(grader: Grader, target) -> None:
    # The host's /dev has its terminals (a pty a job opens shows in the host's /dev/pts, where
    # another job running at once can count them) and sockets such as /dev/log.
    attack = """
        import os
        found = sorted(set(os.listdir("/dev")) - {"null", "zero", "full", "random", "urandom",
                                                   "fd", "stdin", "stdout", "stderr", "shm"})
        try:
            os.close(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))
            found.append("opened a pty")
        except OSError:
            pass
        with open("/dev/null", "w") as null, open("/dev/zero", "rb") as zero:
            null.write("still works")
            assert zero.read(4) == bytes(4)
        assert len(os.urandom(8)) == 8 and os.listdir("/dev/shm") == []
        return found
    """
    report = grader.grade(target, probe(attack))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_a_job_sees_its_own_cgroup_with_its_limits(grader: Grader) -> None:
    # What the job can read of its cgroup: its own limits, at the root of its view.
    ex = attack_exercise(memory_mib=300)
    attack = """
        with open("/proc/self/cgroup") as f:
            paths = {line.split(":", 2)[1]: line.split(":", 2)[2].strip() for line in f}
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        limit = "/sys/fs/cgroup/memory.max" if v2 else "/sys/fs/cgroup/memory/memory.limit_in_bytes"
        try:
            with open(limit) as f:
                memory = int(f.read())
        except OSError as exc:
            return f"cannot read its own limit: {exc}"
        own = [paths.get("")] if v2 else [paths.get("memory"), paths.get("pids")]
        return memory != 300 << 20 or own != ["/"] * len(own)
    """
    report = grader.grade(ex, probe(attack, "import os"))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


# ------------------------------------------------------------------------------------------------
# one budget for all of a job's processes (class 5)

CHILDREN = """
    import os, signal, time

    def children(n, work):
        '''Fork n children running work(w) (w: a descriptor they write their reports to); their
        pids and the descriptor the parent reads the reports from. A job makes no pipe: the
        reports go through a file of its own /tmp.'''
        w = os.open("reports", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        r = os.open("reports", os.O_RDONLY)
        pids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                try:
                    work(w)
                finally:
                    os._exit(0)
            pids.append(pid)
        os.close(w)
        return pids, r

    def collect(pids, r, want, seconds, kill=True):
        '''Bytes the children wrote, until `want` bytes, one of them died, or `seconds` passed;
        then (with `kill`) the children are killed.'''
        got = b""
        end = time.monotonic() + seconds
        while len(got) < want and time.monotonic() < end:
            chunk = os.read(r, 64)
            if chunk:
                got += chunk
            else:
                time.sleep(0.02)
            if any(os.waitpid(p, os.WNOHANG)[0] for p in pids):
                break
        if not kill:
            return got
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
                os.waitpid(p, 0)
            except OSError:
                pass
        return got

    def held_at_once(n, grab, seconds):
        '''Whether n children each held what grab() takes, all at the same time. A child the
        kernel killed for memory may have reported its grab before it died: only children alive
        once all have reported answer the second call.'''
        def hold(w):
            held = grab()  # noqa: F841 (held until the child is killed)
            os.write(w, b"1")
            while not os.path.exists("go"):
                time.sleep(0.01)
            os.write(w, b"2")
            time.sleep(30)

        pids, r = children(n, hold)
        if len(collect(pids, r, n, seconds, kill=False)) < n:
            collect(pids, r, 0, 0)
            return False
        open("go", "w").close()
        return collect(pids, r, 2 * n, seconds) == b"1" * n + b"2" * n
    """

# SysV shared memory, written and then detached: memory in no process's address space (a job
# makes no memfd: see test_no_job_moves_a_machine_wide_inode_counter).
SHARED_MEMORY = """
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.shmat.restype = ctypes.c_void_p
    _libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    _libc.shmdt.argtypes = [ctypes.c_void_p]

    def shared_memory(mib):
        '''A new segment of `mib` MiB, every page written, left detached.'''
        segment = _libc.shmget(0, mib << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
        if segment < 0:
            raise AssertionError(f"shmget: errno {ctypes.get_errno()}")  # never a vacuous pass
        address = _libc.shmat(segment, None, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise AssertionError(f"shmat: errno {ctypes.get_errno()}")
        ctypes.memset(address, 1, mib << 20)
        _libc.shmdt(address)
        return segment
    """


def limit_held(report) -> bool:
    """Every test either passed (the kernel took a child, so the attack saw fewer than all of its
    children succeed) or ran out of memory (the kernel took the job process itself, which it may
    do when a dying child frees its memory too slowly on a loaded machine). Either way the job did
    not hold more than its limit; an attack that did would fail a test with a wrong result."""
    return report.status == "graded" and all(
        t.passed or "out of memory" in t.message for t in report.tests
    )


def test_forked_children_share_one_memory_limit_shared_memory_included(grader: Grader) -> None:
    # Three children each keep 200 MiB of shared memory (SysV segments, detached: no address
    # space): 600 MiB against a 512 MiB job. Without a job-wide limit that counts shared memory,
    # all three succeed.
    target = attack_exercise(memory_mib=512, wall_seconds=10, cpu_seconds=5)
    attack = """
        def hoard():
            return [shared_memory(20) for _ in range(10)]

        return held_at_once(3, hoard, 8)
    """
    report = grader.grade(target, probe(attack, CHILDREN + SHARED_MEMORY))
    assert limit_held(report), (report.output, [t.message for t in report.tests])


def test_forked_children_share_one_memory_limit(grader: Grader) -> None:
    # Each child is well within its own RLIMIT_AS; together they are not.
    target = attack_exercise(memory_mib=512, wall_seconds=10, cpu_seconds=5)
    attack = """
        def hog():
            return np.ones(200 << 17)  # 200 MiB, every page touched

        return held_at_once(3, hog, 8)
    """
    report = grader.grade(target, probe(attack, CHILDREN))
    assert limit_held(report), (report.output, [t.message for t in report.tests])


def test_shared_memory_outside_the_address_space_counts_against_the_job(grader: Grader) -> None:
    # 600 MiB of SysV shared memory, each segment detached once written: no address space.
    target = attack_exercise(memory_mib=256, wall_seconds=10, cpu_seconds=5)
    source = src(
        """
        {shared_memory}

        def solve(x):
            for _ in range(40):
                shared_memory(15)
            return x * 2
        """
    ).format(shared_memory=textwrap.dedent(SHARED_MEMORY).strip())
    report = grader.grade(target, source)
    assert nothing_earned(report), report.to_dict()
    assert "ran out of memory" in report.tests[0].message, report.tests[0].message
    assert report.tests[1].message == "failed: out of memory"


def test_forked_children_share_one_cpu(grader: Grader) -> None:
    # Three children burn for 1.5 s of wall time each and report the CPU time they got: together
    # no more than the one CPU a job may use (plus scheduling slack).
    target = attack_exercise(wall_seconds=10, cpu_seconds=8)
    attack = """
        def burn(w):
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                pass
            os.write(w, b"%8.3f" % time.process_time())

        pids, r = children(3, burn)
        data = collect(pids, r, 24, 6)
        used = sum(float(data[i:i + 8]) for i in range(0, len(data), 8))
        return used if used > 1.5 * 1.25 else False
    """
    report = grader.grade(target, probe(attack, CHILDREN))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_forked_children_share_one_cpu_budget(grader: Grader) -> None:
    # Each child stays under its own RLIMIT_CPU of 1 s; together they exceed the job's 1 s long
    # before the parent returns a correct answer after 6 s.
    target = attack_exercise(wall_seconds=8, cpu_seconds=1)
    source = src(
        """
        import os, time

        def solve(x):
            for _ in range(3):
                if os.fork() == 0:
                    while True:
                        pass
            time.sleep(6)
            return x * 2
        """
    )
    report = grader.grade(target, source)
    assert nothing_earned(report), report.to_dict()
    assert "CPU time limit" in report.tests[0].message, report.tests[0].message


def test_a_fork_bomb_stays_within_the_job_task_limit(grader: Grader, target) -> None:
    attack = """
        got = 0
        for _ in range(200):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                got += 1
            except OSError:
                break
        return got if got > 40 else False
    """
    report = grader.grade(target, probe(attack, CHILDREN))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


# ------------------------------------------------------------------------------------------------
# the reaper (class 1)


def test_pid_1_is_a_root_reaper_the_job_cannot_touch(grader: Grader, target) -> None:
    attack = """
        import os, signal
        if os.getpid() == 1 or os.getppid() != 1:
            return "the job is not the reaper's child"
        with open("/proc/1/status") as f:
            uid = next(line.split()[1] for line in f if line.startswith("Uid:"))
        if uid != "0":
            return "PID 1 runs as the sandbox user"
        for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
            try:
                os.kill(1, sig)
                return "signalled PID 1"
            except PermissionError:
                pass
        try:
            open("/proc/1/mem", "rb").read(1)
            return "read PID 1's memory"
        except OSError:
            return False
    """
    assert full_marks(grader.grade(target, probe(attack)))


# ------------------------------------------------------------------------------------------------
# what one job could leave to the next (class 6)


def test_zygote_caches_show_no_sources_or_directory_listings(grader: Grader, target) -> None:
    attack = """
        import linecache, sys, zipimport
        found = [k for k in linecache.cache if k != "submission.py"]
        found += [k for k in sys.path_importer_cache]
        found += list(zipimport._zip_directory_cache)
        found += [a for a in sys.argv + sys.orig_argv if "hide" in a]  # the zygote's options
        # The kernel's copy of the command line, which clearing sys.argv does not change: the
        # job's own, and its reaper's (a fork of the zygote too) where it is readable.
        for pid in ("self", "1"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            found += [f"/proc/{pid}/cmdline"] if '"hide"' in cmdline else []
        return found
    """
    report = grader.grade(target, probe(attack))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_abstract_unix_sockets_do_not_outlive_the_job(grader: Grader, target) -> None:
    # Each job looks for the name an earlier job bound, then binds it, and keeps it alive past
    # its own end with a reference cycle of sockets in flight.
    attack = """
        import socket, sys
        if hasattr(sys, "_holdout_bound"):
            return False  # this job's second test: the name is its own
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except PermissionError:
            return False  # a job makes no socket (test_no_job_moves_a_machine_wide_inode_counter)
        try:
            s.connect("\\0holdout-covert")
            return "an earlier job's socket is still bound"
        except OSError:
            s.close()
        sys._holdout_bound = True
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind("\\0holdout-covert")
        s.listen(1)
        a, b = socket.socketpair()
        socket.send_fds(a, [b"x"], [s.fileno(), a.fileno(), b.fileno()])
        socket.send_fds(b, [b"x"], [s.fileno(), a.fileno(), b.fileno()])
        return False
    """
    source = probe(attack)
    for _ in range(2 * len(grader.uids) + 1):
        report = grader.grade(target, source)
        assert full_marks(report), (report.output, [t.message for t in report.tests])


# ------------------------------------------------------------------------------------------------
# uids shared between grading tools (class 7)


def test_the_cli_and_the_service_never_share_uids(tmp_path) -> None:
    from service.grading import claim_uid_block

    source = tmp_path / "answer.py"
    source.write_text((EXERCISES / "dropout" / "reference.py").read_text())
    # The service's grading process holds its block meanwhile (as in production, on one machine).
    base, block = claim_uid_block(2)
    try:
        service_uids = set(range(base, base + 4))
        result = CliRunner().invoke(grade_command, ["dropout", str(source), "--json"])
        assert result.exit_code == 0, result.output
        cli_uids = set(json.loads(result.output)["sandbox"]["uids"])
        with Grader(slots=1) as bank_check:  # how `holdout bank check` makes its grader
            assert not set(bank_check.uids) & service_uids
    finally:
        block.close()
    assert cli_uids and not cli_uids & service_uids


# ------------------------------------------------------------------------------------------------
# nothing left behind


def test_job_cgroups_are_removed_even_after_a_killed_zygote(target) -> None:
    from grader import cgroups

    def leftovers(zygote_pid: int) -> list[str]:
        tree = cgroups.Tree.detect(f"{cgroups.PREFIX}{zygote_pid}")
        return [d for d in tree.dirs.values() if os.path.isdir(d)]

    with Grader(slots=1) as g:
        assert full_marks(g.grade(target, "def solve(x):\n    return x * 2\n"))
        first = g.pool.zygote_info()["pid"]
        assert leftovers(first)  # the zygote's jobs live under it
        os.kill(first, signal.SIGKILL)  # no chance to clean up: its successor does
        assert full_marks(g.grade(target, "def solve(x):\n    return x * 2\n"))
        second = g.pool.zygote_info()["pid"]
        assert second != first and leftovers(first) == []
        assert g.wait_idle(30)
    assert leftovers(second) == []


# ------------------------------------------------------------------------------------------------
# a job that lingers once its results are in (classes 1 and 8)

LINGERING = {
    "a stdout whose flush closes the channels and spins": """
        import os, sys

        class Out:
            armed = False
            def write(self, text):
                return len(text)
            def flush(self):
                if self.armed:
                    for fd in (3, 1, 2):
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                    while True:
                        pass

        sys.stdout = sys.stderr = Out()

        def solve(x):
            sys.stdout.armed = True
            return x * 2
        """,
    "a forged DONE record, then spinning with the channels open": """
        import os

        def solve(x):
            os.write(3, b'{"t":"done"}\\n')
            while True:
                pass
        """,
    "garbage on the result channel, then spinning with the channels open": """
        import os

        def solve(x):
            os.write(3, b"{not a record}\n")
            while True:
                pass
        """,
    "a child that keeps the channels open after the job exits": """
        import os, time

        def solve(x):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            return x * 2
        """,
}


@pytest.mark.parametrize("attack", LINGERING.values(), ids=list(LINGERING))
def test_a_job_ends_once_its_results_are_in(grader: Grader, attack: str) -> None:
    """A job that reports (or fakes) its end and goes on running is ended with its results: its
    slot and uid are not handed out while it lives, and it takes no CPU from the next jobs."""
    patient = attack_exercise(wall_seconds=20, cpu_seconds=15)
    started = time.monotonic()
    report = grader.grade(patient, src(attack))
    assert report.status in ("graded", "failed")
    # Every process of the job is gone long before its wall clock or CPU budget would end it.
    assert grader.wait_idle(8), "a job lived on after its results were in"
    assert time.monotonic() - started < 10
    assert full_marks(grader.grade(patient, src("def solve(x):\n    return x * 2\n")))


# ------------------------------------------------------------------------------------------------
# the page cache: one job's reads seen by a later one (classes 2 and 3)


def test_no_file_of_the_machine_can_be_read(grader: Grader, target) -> None:
    """Every page of a file a job can read is shared with every later job through the page cache:
    caching one (by reading it) is a bit a later job can read back (from what its own reads cost),
    so a hidden run could hand its inputs to the student's next visible run. A job reads no file
    of the machine's: the top-level directories other than its own /proc, /dev, /sys and /tmp
    are empty."""
    attack = """
        import os
        found = []
        for top in os.listdir("/"):
            path = "/" + top
            if path in ("/proc", "/dev", "/sys", "/tmp") or os.path.islink(path):
                continue
            if not os.path.isdir(path):
                continue  # a file at the top (a container's marker), not a library to probe
            for root, dirs, files in os.walk(path):
                for name in files:
                    try:
                        with open(os.path.join(root, name), "rb") as f:
                            f.read(1)
                        found.append(os.path.join(root, name))
                    except OSError:
                        pass
                if len(found) > 3:
                    return found
        for gone in ("/usr/lib", "/etc/passwd", "/var/lib", "/lib", "/bin/sh"):
            if os.path.exists(gone):
                found.append(gone)
        return found
    """
    report = grader.grade(target, probe(attack))
    assert full_marks(report), (report.output, [t.message for t in report.tests])


def test_every_page_a_job_inherits_is_cached_already(grader: Grader, target) -> None:
    """What a job can still touch of a file is what the zygote mapped (its interpreter and
    libraries): all of it is in the page cache before the first job, so a job's touching a page
    caches nothing a later job could notice."""
    # As after a reboot: the zygote's libseccomp out of the cache (but the pages something maps).
    # A library that jobs never run, so that no job running meanwhile caches its pages again.
    libseccomp = _mapped_by(grader.pool.zygote_info()["pid"], "libseccomp")
    assert libseccomp, "the zygote maps no libseccomp"
    for path in libseccomp:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    assert any(_pages_not_cached(path) for path in libseccomp), "nothing was evicted"
    with Grader(slots=1) as fresh:
        assert full_marks(fresh.grade(target, "def solve(x):\n    return x * 2\n"))
        files = _mapped_by(fresh.pool.zygote_info()["pid"], "/")
        assert set(libseccomp) <= files and any("numpy" in f for f in files)
        uncached = {path: n for path in sorted(libseccomp) if (n := _pages_not_cached(path))}
    assert not uncached, f"pages not in the page cache: {uncached}"


def _mapped_by(pid: int, part: str) -> set[str]:
    """The files a process maps whose path contains `part`."""
    files = set()
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            path = fields[5].strip() if len(fields) == 6 else ""
            if path.startswith("/") and "(deleted)" not in path and part in path:
                files.add(path)
    return files


def _pages_not_cached(path: str) -> int:
    """How many pages of the file are not in the page cache (mincore on a mapping of it: this
    process is root, so it sees the cache itself, not just its own page tables)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3 + [ctypes.c_long]
    size = os.path.getsize(path)
    if not size:
        return 0
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vec = (ctypes.c_ubyte * pages)()
            assert libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vec) == 0
            return sum(1 for v in vec if not v & 1)
        finally:
            libc.munmap(ctypes.c_void_p(address), ctypes.c_size_t(size))
    finally:
        os.close(fd)


def test_a_flood_of_output_costs_the_grader_no_cpu(grader: Grader) -> None:
    """Whatever a job writes to stdout, the grading process reads (and copies) at most
    OUTPUT_DRAIN_LIMIT of it: a job that hands over pages for free (vmsplice) or just writes in a
    loop would otherwise keep a CPU of the grader's busy for its whole wall clock, outside the
    job's cgroup and its CPU share."""
    import resource

    from grader.pool import OUTPUT_DRAIN_LIMIT

    flood = src(
        """
        import os

        def solve(x):
            chunk = bytes(1 << 20)
            try:
                while True:
                    os.write(1, chunk)
            except OSError:
                pass
            return x * 2
        """
    )
    patient = attack_exercise(wall_seconds=8, cpu_seconds=6)
    before = resource.getrusage(resource.RUSAGE_SELF)
    report = grader.grade(patient, flood)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Copying OUTPUT_DRAIN_LIMIT (8 MiB) twice (visible and hidden run) takes milliseconds; an
    # unbounded drain took the job's CPU seconds again and more.
    assert used < 1.0, f"the grading process used {used:.2f} s of CPU on a job's output"
    assert OUTPUT_DRAIN_LIMIT < 64 << 20
    assert report.tests[0].passed  # the flood stops once the channel closes; the answer counts

"""Every attack is a real submission through the real sandbox.

Two shapes of test:
- "gains nothing": the submission cheats or runs away; it must score 0 and leave nothing behind.
- "probe": the submission returns the right answer only if its attack FAILED, and a wrong one if
  it worked. Full marks prove both that the code really ran in the sandbox and that the attack was
  stopped (a broken sandbox cannot pass these by accident).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from grader_helpers import ATTACK_BUGS, REPO, full_marks, nothing_earned, sandbox_processes

from grader import Grader

pytestmark = pytest.mark.usefixtures("leaves_nothing")


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


def probe(attack: str) -> str:
    """A submission that answers correctly only when `attack()` returns False (an attack that
    breaks on its own bugs fails the test: see ATTACK_BUGS)."""
    return src(
        """
        import numpy as np

        def attack():
        {body}

        def _succeeded():
            try:
                return bool(attack())
            except ({bugs}):
                raise  # the attack never ran as meant: a failed test, never a vacuous pass
            except BaseException:
                return False

        def solve(x):
            return x * 2 if not _succeeded() else x * 0
        """
    ).format(body=textwrap.indent(textwrap.dedent(attack).strip(), "    "), bugs=ATTACK_BUGS)


# ------------------------------------------------------------------------------------------------
# runaway code: scores nothing, leaves nothing

RUNAWAY = {
    "infinite loop at import": """
        while True:
            pass
        """,
    "infinite loop in the function": """
        def solve(x):
            while True:
                pass
        """,
    "sleeping": """
        import time
        def solve(x):
            time.sleep(3600)
            return x * 2
        """,
    "memory bomb": """
        def solve(x):
            hog = []
            while True:
                hog.append(bytearray(50 * 1024 * 1024))
        """,
    "huge numpy array": """
        import numpy as np
        def solve(x):
            return np.ones((200_000, 200_000)) * x[0]
        """,
    "fork bomb": """
        import os
        def solve(x):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """,
    "threads that spin": """
        import threading
        def spin():
            while True:
                pass
        def solve(x):
            for _ in range(8):
                threading.Thread(target=spin, daemon=True).start()
            spin()
        """,
    "ignoring signals": """
        import signal
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP, signal.SIGALRM):
            signal.signal(s, signal.SIG_IGN)
        def solve(x):
            while True:
                pass
        """,
    "segfault through ctypes": """
        import ctypes
        def solve(x):
            ctypes.memset(0, 1, 4096)
            return x * 2
        """,
    "deep recursion": """
        import sys
        sys.setrecursionlimit(10**7)
        def solve(x, depth=0):
            return solve(x, depth + 1)
        """,
    "sys.exit in the function": """
        import sys
        def solve(x):
            sys.exit(0)
        """,
    "os._exit in the function": """
        import os
        def solve(x):
            os._exit(0)
        """,
    "atexit and excepthook": """
        import atexit, sys
        atexit.register(lambda: print('{"t": "test", "i": 0, "steps": [{"out": 1}]}'))
        sys.excepthook = lambda *a: None
        def solve(x):
            raise SystemExit(0)
        """,
}


@pytest.mark.parametrize("name", list(RUNAWAY))
def test_runaway_code_scores_nothing(grader: Grader, target, name: str) -> None:
    report = grader.grade(target, src(RUNAWAY[name]))
    assert nothing_earned(report), report.to_dict()
    assert all(not t.passed for t in report.tests)


def test_runaway_messages_name_the_cause(grader: Grader, target) -> None:
    timed = grader.grade(target, src(RUNAWAY["sleeping"]))
    assert "timed out" in timed.tests[0].message
    assert timed.tests[1].message == "failed: timed out"  # hidden: verdict only
    cpu = grader.grade(target, src(RUNAWAY["infinite loop in the function"]))
    # On a loaded machine the wall clock may run out before the CPU budget does.
    assert "CPU time limit" in cpu.tests[0].message or "timed out" in cpu.tests[0].message
    mem = grader.grade(target, src(RUNAWAY["huge numpy array"]))
    assert "out of memory" in mem.tests[0].message
    assert mem.tests[1].message == "failed: out of memory"
    crash = grader.grade(target, src(RUNAWAY["segfault through ctypes"]))
    assert "SIGSEGV" in crash.tests[0].message
    load = grader.grade(target, src(RUNAWAY["infinite loop at import"]))
    assert load.status == "failed" and "while loading" in load.feedback


def test_orphaned_and_double_forked_daemons_die_with_the_job(grader: Grader, target) -> None:
    source = src(
        """
        import os, time
        def solve(x):
            if os.fork() == 0:
                try:
                    os.setsid()  # refused (a machine-wide sequence), as a daemon may find
                except OSError:
                    pass
                if os.fork() == 0:
                    while True:
                        time.sleep(0.1)
                os._exit(0)
            return x * 2
        """
    )
    report = grader.grade(target, source)
    assert full_marks(report)  # a daemon costs the student nothing here, but it must not survive
    assert grader.wait_idle(30)
    uids = set(grader.uids)
    assert sandbox_processes(uids) == []


# ------------------------------------------------------------------------------------------------
# reading what it should not: the attack returns True when it found something


def test_environment_holds_no_secrets(grader: Grader, target, monkeypatch) -> None:
    monkeypatch.setenv("HOLDOUT_SECRET_KEY", "hunter2-secret")
    attack = """
        import os
        allowed = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PATH", "HOME",
                   "LANG"}
        return bool(set(os.environ) - allowed) or "hunter2" in str(dict(os.environ))
    """
    assert full_marks(grader.grade(target, probe(attack)))


def test_proc_shows_no_other_process(grader: Grader, target) -> None:
    attack = f"""
        import os
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        readable = False
        for pid in ({os.getpid()}, {os.getppid()}, 1, 2):
            try:
                open(f"/proc/{{pid}}/environ", "rb").read()
                readable = pid != os.getpid()
            except OSError:
                pass
        return len(pids) > 2 or readable
    """
    assert full_marks(grader.grade(target, probe(attack)))


def test_project_files_secrets_and_database_are_invisible(grader: Grader, target) -> None:
    paths = [
        str(REPO / "pyproject.toml"),
        str(REPO / "grader" / "engine.py"),
        str(REPO / "question_bank" / "content" / "exercises" / "dropout" / "reference.py"),
        str(REPO / "instance"),
        "/etc/shadow",
        "/root/.pyenv",
        "/run/postgresql",
    ]
    attack = f"""
        import os
        found = []
        for p in {paths!r}:
            try:
                if os.path.isdir(p):
                    found += os.listdir(p)
                else:
                    open(p, "rb").read(1)
                    found.append(p)
            except OSError:
                pass
        return bool(found)
    """
    assert full_marks(grader.grade(target, probe(attack)))


def test_reference_source_is_nowhere_in_memory(grader: Grader, target) -> None:
    attack = """
        import gc, sys
        marker = "".join(["REFERENCE", "-ONLY-", "7f3a9c"])  # not constant-folded into co_consts
        for obj in gc.get_objects():
            try:
                if marker in repr(obj)[:100000]:
                    return True
            except Exception:
                pass
        frame = sys._getframe().f_back  # its own locals hold the needle
        while frame is not None:
            if marker in repr(frame.f_locals) or marker in repr(frame.f_globals):
                return True
            frame = frame.f_back
        for mod in list(sys.modules.values()):
            if marker in repr(getattr(mod, "__dict__", {}))[:1000000]:
                return True
        return False
    """
    assert full_marks(grader.grade(target, probe(attack)))


# ------------------------------------------------------------------------------------------------
# network and files


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.1)
    yield sock
    sock.close()


def test_no_tcp_to_loopback_services(grader: Grader, target, listener) -> None:
    port = listener.getsockname()[1]
    attack = f"""
        import socket
        for port in ({port}, 5432, 6379, 8000, 22, 80):
            for host in ("127.0.0.1", "::1", "localhost"):
                try:
                    socket.create_connection((host, port), timeout=0.3).close()
                    return True
                except Exception:
                    pass
        return False
    """
    assert full_marks(grader.grade(target, probe(attack)))
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing ever connected


def test_no_unix_sockets(grader: Grader, target, tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    path = tmp_path / "s.sock"
    server.bind(str(path))
    os.chmod(tmp_path, 0o777)
    os.chmod(path, 0o777)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0holdout-test-{os.getpid()}")
    server.listen(1)
    abstract.listen(1)
    try:
        attack = f"""
            import socket
            targets = [{str(path)!r}, "\\0holdout-test-{os.getpid()}",
                       "/run/postgresql/.s.PGSQL.5432", "/var/run/postgresql/.s.PGSQL.5432",
                       "/run/redis/redis-server.sock", "/var/run/redis/redis.sock"]
            for t in targets:
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.settimeout(0.3)
                    s.connect(t)
                    return True
                except Exception:
                    pass
            return False
        """
        assert full_marks(grader.grade(target, probe(attack)))
    finally:
        server.close()
        abstract.close()


def test_no_dns(grader: Grader, target) -> None:
    attack = """
        import socket
        for name in ("example.com", "pypi.org", "localhost"):
            try:
                socket.getaddrinfo(name, 80)
                if name != "localhost":
                    return True
            except Exception:
                pass
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"x", ("8.8.8.8", 53))
            return True
        except Exception:
            return False
    """
    assert full_marks(grader.grade(target, probe(attack)))


def test_cannot_write_outside_its_directory(grader: Grader, target, tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o777)
    outside = [
        str(REPO / "holdout-evil"),
        "/etc/holdout-evil",
        "/var/tmp/holdout-evil",
        "/tmp/holdout-evil",
        "/dev/shm/holdout-evil",
        str(tmp_path / "holdout-evil"),
    ]
    attack = f"""
        import os
        for p in {outside!r}:
            try:
                with open(p, "w") as f:
                    f.write("owned")
            except OSError:
                pass
        with open("scratch.txt", "w") as f:  # its own directory: allowed
            f.write("fine")
        return False
    """
    assert full_marks(grader.grade(target, probe(attack)))
    assert [p for p in outside if os.path.exists(p)] == []


def test_a_world_writable_host_directory_carries_nothing_between_jobs(
    grader: Grader, target
) -> None:
    # Some hosts have one (Ubuntu's /var/crash is 1777): a job could leave an answer there for a
    # later student's job, or fill the host's disk.
    shared = Path(tempfile.mkdtemp(prefix="holdout-evil-ww-", dir="/var/cache"))
    try:
        os.chmod(shared, 0o1777)
        attack = f"""
            import os
            path = {str(shared / "answer.py")!r}
            if os.path.exists(path):
                return "found an earlier job's file"
            try:
                with open(path, "w") as f:
                    f.write("def solve(x): return x * 2")
            except OSError:
                return False
            return "wrote to the host's disk"
        """
        for _ in range(2):
            report = grader.grade(target, probe(attack))
            assert full_marks(report), (report.output, [t.message for t in report.tests])
        assert os.listdir(shared) == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_filling_the_disk_fails_harmlessly(grader: Grader, target) -> None:
    attack = """
        import os
        chunk = b"\\0" * (1 << 20)
        for name in ("big1", "/tmp/big2", "/dev/shm/big3"):
            try:
                with open(name, "wb") as f:
                    for _ in range(2048):
                        f.write(chunk)
                return True
            except OSError:
                pass
        return False
    """
    assert full_marks(grader.grade(target, probe(attack)))


# ------------------------------------------------------------------------------------------------
# cheating the result: scores nothing

FAKE_RECORD = '{"t": "test", "i": 1, "steps": [{"out": 1.0}], "passed": true, "score": 100}'
CHEATS = {
    "huge stdout with fake results": f"""
        import sys
        def solve(x):
            for _ in range(2000):
                sys.stdout.write({FAKE_RECORD!r} * 100 + "\\n")
            print("PASSED score=100")
            return x * 0
        """,
    "huge return value": """
        import numpy as np
        def solve(x):
            return np.zeros(40_000_000)
        """,
    "non-array return": """
        def solve(x):
            return "x * 2"
        """,
    "arbitrary object": """
        class Anything:
            def __eq__(self, other):
                return True
            def __array__(self, *a, **k):
                raise RuntimeError
        def solve(x):
            return Anything()
        """,
    "object array": """
        import numpy as np
        def solve(x):
            return np.array([object()] * len(x), dtype=object)
        """,
    "pickle": """
        import os
        class Evil:
            def __reduce__(self):
                return (os.system, ("touch /tmp/pwned",))
        def solve(x):
            return Evil()
        """,
    "NaN and Inf": """
        import numpy as np
        def solve(x):
            out = np.full_like(x, np.nan)
            out[::2] = np.inf
            return out
        """,
    "ndarray subclass that lies": """
        import numpy as np
        class Liar(np.ndarray):
            def __eq__(self, other):
                return np.ones(self.shape, bool)
            __ne__ = lambda self, other: np.zeros(self.shape, bool)
            def all(self, *a, **k):
                return True
        def solve(x):
            return (x * 0).view(Liar)
        """,
    "monkeypatching numpy and builtins": """
        import builtins, numpy as np
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)
        builtins.isinstance = lambda *a: True
        builtins.len = lambda *a: 0
        def solve(x):
            return x * 0
        """,
    "fake results on every descriptor": f"""
        import os
        def solve(x):
            for fd in range(0, 64):
                for rec in ({FAKE_RECORD!r}, '{{"t": "done"}}', '{{"t": "setup", "layers": {{}}}}'):
                    try:
                        os.write(fd, (rec + "\\n").encode())
                    except OSError:
                        pass
            return x * 0
        """,
    "garbage on the result channel": """
        import os
        def solve(x):
            os.write(3, b"\\x00\\xff" * 1000 + b"[[[[[[[[[[" * 100000 + b"\\n")
            return x * 0
        """,
    "patching the harness encoder": """
        import sys
        def solve(x):
            for mod in list(sys.modules.values()):
                if hasattr(mod, "encode") and getattr(mod, "__name__", "").startswith("grader"):
                    mod.encode = lambda v, depth=0: {"$nd": "AAAA", "passed": True}
            return x * 0
        """,
    "peeking at frames and gc for expected values": """
        import gc, sys
        def solve(x):
            frame = sys._getframe()
            while frame.f_back is not None:
                frame = frame.f_back
            expected = [o for o in gc.get_objects() if isinstance(o, dict) and "expected" in o]
            return x * 0 + len(expected)
        """,
    "lying about the size of binary data": """
        import os
        def solve(x):
            os.write(3, b'{"t":"test","i":1,"steps":[{"out":{"$nd":0}}],"b":[1000000000]}\\n')
            os.write(3, b"\\x93NUMPY")
            return x * 0
        """,
    "array references out of range": """
        import os
        def solve(x):
            os.write(3, b'{"t":"test","i":1,"steps":[{"out":{"$nd":7}}],"b":[64]}\\n' + b"x" * 64)
            return x * 0
        """,
    "one array referenced many times": """
        import io, os
        import numpy as np
        def solve(x):
            buf = io.BytesIO()
            np.save(buf, np.zeros(1000))
            blob = buf.getvalue()
            refs = b",".join([b'{"$nd":0}'] * 10000)
            head = b'{"t":"test","i":1,"steps":[{"out":[%s]}],"b":[%d]}\\n' % (refs, len(blob))
            os.write(3, head + blob)
            return x * 0
        """,
    "flooding the channel with records": """
        import os
        def solve(x):
            os.write(3, b'{"t":"begin","i":0}\\n' * 200000)
            return x * 0
        """,
    "closing the result channel": """
        import os
        def solve(x):
            os.close(3)
            return x * 0
        """,
}


@pytest.mark.parametrize("name", list(CHEATS))
def test_cheating_gains_nothing(grader: Grader, target, name: str) -> None:
    report = grader.grade(target, src(CHEATS[name]))
    assert nothing_earned(report), report.to_dict()
    assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("lying about the size of binary data", "tampered"),
        ("array references out of range", "tampered"),
        ("one array referenced many times", "tampered"),
        ("flooding the channel with records", "tampered"),
    ],
)
def test_a_forged_result_channel_is_named_as_such(
    grader: Grader, target, name: str, reason: str
) -> None:
    # Even around a correct answer: the channel is not to be trusted once it breaks the protocol.
    source = src(CHEATS[name]).replace("return x * 0", "return x * 2")
    started = time.monotonic()
    report = grader.grade(target, source)
    assert time.monotonic() - started < 10
    assert not report.tests[0].passed and reason in report.tests[0].message


def test_hidden_feedback_reveals_no_inputs(grader: Grader, target) -> None:
    source = src(
        """
        def solve(x):
            class Leak(Exception):
                pass
            Leak.__name__ = "Leak" + "_".join(str(v) for v in x[:3])
            raise Leak(repr(x))
        """
    )
    report = grader.grade(target, source)
    hidden = report.tests[1]
    assert not hidden.passed and hidden.message == "failed: raised an exception"
    assert "Leak" in report.tests[0].message  # visible tests do show the exception


def test_a_hidden_test_names_only_a_few_exceptions(grader: Grader, target) -> None:
    """Which builtin exception a hidden test raises is the submission's choice, made with the
    hidden inputs in hand: with 60 names to pick from, a hidden test's feedback would carry about
    6 bits of them per submission. It names only a few, the rest are "an exception"."""
    shown = set()
    for name in ("ConnectionError", "Warning", "UnicodeError", "OverflowError", "ValueError"):
        source = src(
            f"""
            def solve(x):
                if len(x) == 3:
                    return x * 2
                raise {name}("smuggled")
            """
        )
        report = grader.grade(target, source)
        assert report.tests[0].passed and not report.tests[1].passed
        shown.add(report.tests[1].message)
    assert shown == {"failed: raised an exception", "failed: raised ValueError"}


# ------------------------------------------------------------------------------------------------
# reaching outside the sandbox


def test_cannot_kill_other_processes(grader: Grader, target) -> None:
    zygote_pid = grader.sandbox_status()["zygote"]["pid"]
    attack = f"""
        import os, signal
        try:
            os.kill(-1, signal.SIGKILL)  # everything it may signal: only its own namespace
        except OSError:
            pass
        for pid in ({os.getpid()}, {zygote_pid}, 1):
            try:
                os.kill(pid, 0)
                if pid != 1:
                    return True
            except OSError:
                pass
        return False
    """
    # The attack's own kill(-1) spares it (it is PID 1 of its namespace); it must reach nobody else.
    assert full_marks(grader.grade(target, probe(attack)))
    os.kill(zygote_pid, 0)


def test_setuid_unshare_and_unmounting_do_not_escape(grader: Grader, target) -> None:
    attack = f"""
        import ctypes, os
        for fn in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.setgroups([0]),
                   lambda: os.seteuid(0)):
            try:
                fn()
                return True
            except OSError:
                pass
        libc = ctypes.CDLL(None, use_errno=True)
        # A new user namespace is allowed, but mounts inherited from the host stay locked.
        if libc.unshare(0x10000000 | 0x00020000) == 0:
            libc.umount2(b"{REPO}", 2)
            libc.umount2(b"/work", 2)
            libc.umount2(b"/tmp", 2)
            if os.path.exists("{REPO / "pyproject.toml"}"):
                return True
        if libc.unshare(0x40000000) == 0 and os.getuid() == 0:
            return True
        return False
    """
    assert full_marks(grader.grade(target, probe(attack)))


# ------------------------------------------------------------------------------------------------
# bad source


@pytest.mark.parametrize(
    "source",
    [b"def solve(x):\n    return x * 2\n\x00", b"def solve(x):\n    return x * 2  # \xff\xfe\n"],
    ids=["NUL bytes", "invalid UTF-8"],
)
def test_bad_source_is_failed_not_crashed(grader: Grader, target, source: bytes) -> None:
    report = grader.grade(target, source)
    assert report.status == "failed" and report.score == 0
    assert "NUL" in report.feedback or "UTF-8" in report.feedback


def test_concurrent_jobs_run_under_separate_uids(grader: Grader, target) -> None:
    seen: list[set[int]] = []
    uids = set(grader.uids)
    source = src(
        """
        import os, time
        time.sleep(1.5)
        def solve(x):
            # Its own process and the job's reaper (PID 1), nothing else.
            others = {"1", str(os.getpid())}
            alone = not [p for p in os.listdir("/proc") if p.isdigit() and p not in others]
            return x * 2 if alone else x
        """
    )
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(grader.grade(target, source)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        running = set()
        for pid in sandbox_processes(uids):
            try:
                with open(f"/proc/{pid}/status") as f:
                    running |= {
                        int(v) for line in f if line.startswith("Uid:") for v in line.split()[1:2]
                    }
            except OSError:
                pass
        seen.append(running)
    for t in threads:
        t.join()
    assert all(full_marks(r) for r in reports)
    assert any(len(s) == 2 for s in seen), "the two jobs never ran at the same time as two uids"


def test_the_harness_modules_are_out_of_a_submissions_sight(grader: Grader, target) -> None:
    """A submission that patches the harness by name (`sys.modules["grader._child"]._sharing =
    ...`) to fake the checks on its own side effects finds none of its modules."""
    source = src(
        """
        import sys

        found = sorted(n for n in sys.modules if n == "grader" or n.startswith("grader."))

        def solve(x):
            return x * 0 if found else x * 2
        """
    )
    report = grader.grade(target, source)
    assert full_marks(report), [t.message for t in report.tests]

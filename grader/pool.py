"""The sandbox's process side, as the parent sees it: the zygote client, and the pool of slots and
uids that runs one sandboxed job at a time per slot and reads its channels."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.protocol import GARBAGE, OnTest, RecordReader, Run
from grader.sandbox import SandboxUnavailable
from grader.uids import UIDS_PER_SLOT, processes_of

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULT_PIPE_BYTES = 1 << 20
# How often a uid whose job's zygote died is looked at again, until none of its processes is left.
UID_RECHECK = 0.5
ZYGOTE_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
}


# How long the channels may stay open once a job reported DONE: it has nothing more to send.
AFTER_DONE_SECONDS = 0.5
# How much of a job's stdout and stderr is read at most (the rest of it is never read: the job's
# next write fails with EPIPE).
OUTPUT_DRAIN_LIMIT = 8 << 20


class ZygoteDied(RuntimeError):
    pass


@dataclass
class JobHandle:
    """A job handed to a zygote: its reply (once the job is reaped and its cgroup empty)."""

    zygote: Zygote
    job: int
    future: Future[dict[str, Any]]

    def end(self) -> None:
        """The results are complete: have the zygote kill whatever of the job is still left."""
        self.zygote.end(self.job)


class Zygote:
    """One zygote process and the thread that reads its replies."""

    def __init__(self, hide: list[str], standbys: int = 1) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The zygote needs only the sandbox side (zygote, _child, sandbox, values): the package is
        # registered bare, so its __init__ (the engine, the spec, yaml...) is never imported there.
        # Less memory in the zygote is less to copy on every fork and to tear down at every exit.
        package = str(PROJECT_ROOT / "grader")
        boot = (
            "import sys, types; "
            "pkg = types.ModuleType('grader'); "
            f"pkg.__path__ = [{package!r}]; "
            "sys.modules['grader'] = pkg; "
            "from grader.zygote import main; main(int(sys.argv[1]))"
        )
        from grader.spec import DEFAULT_LIMITS

        tmp_kib = int(DEFAULT_LIMITS["file_mib"] * 1024)
        options = json.dumps(
            {"hide": hide, "standbys": standbys, "tmp_kib": tmp_kib, "limits": DEFAULT_LIMITS}
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", boot, str(child.fileno())],
            pass_fds=[child.fileno()],
            env=ZYGOTE_ENV,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        child.close()
        self.sock = parent
        self.sock.settimeout(120)
        try:
            # The options go over the socket, never on the command line: every process forked
            # from the zygote, the jobs included, can read that in /proc/self/cmdline.
            self.sock.send(options.encode())
            hello = json.loads(self.sock.recv(65536) or b"{}")
        except (OSError, ValueError) as exc:
            self.proc.kill()
            self.proc.wait()
            raise SandboxUnavailable(f"the grading zygote did not start: {exc}") from exc
        if not hello.get("ready"):
            self.proc.kill()
            self.proc.wait()
            raise SandboxUnavailable("the grading zygote did not start")
        self.info = {"pid": hello["pid"], "euid": hello["euid"]}
        self.sock.settimeout(None)
        self.alive = True
        self._lock = threading.Lock()
        self._next = 0
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._reader = threading.Thread(target=self._read, name="holdout-zygote", daemon=True)
        self._reader.start()

    def submit(self, cfg: dict[str, Any], fds: list[int]) -> JobHandle:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            if not self.alive:
                raise ZygoteDied("the zygote is gone")
            self._next += 1
            job = self._next
            self._pending[job] = future
            try:
                message = json.dumps({"op": "run", "job": job, "cfg": cfg}).encode()
                socket.send_fds(self.sock, [message], fds)
            except OSError as exc:
                # The reader thread may not have seen the EOF yet: without this, a retry would be
                # handed the same dead zygote.
                self.alive = False
                self._pending.pop(job, None)
                raise ZygoteDied(str(exc)) from exc
        return JobHandle(self, job, future)

    def end(self, job: int) -> None:
        with self._lock:
            if not self.alive or job not in self._pending:
                return  # reported already (or the zygote is gone, and the job with it)
            with contextlib.suppress(OSError):
                self.sock.send(json.dumps({"op": "end", "job": job}).encode())

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                reply = json.loads(data)
            except ValueError:
                continue
            with self._lock:
                future = self._pending.pop(reply.get("job"), None)
            if future is not None:
                future.set_result(reply)
        with self._lock:
            self.alive = False
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(ZygoteDied("the zygote died"))
        self.proc.wait()

    def close(self) -> None:
        with self._lock:
            self.alive = False
        with contextlib.suppress(OSError):
            self.sock.send(json.dumps({"op": "exit"}).encode())
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


class SandboxPool:
    """`slots` sandboxed jobs at once through one warm zygote, each job as its own uid."""

    def __init__(self, slots: int, base_uid: int, allow_unsafe: bool, hide: list[str]) -> None:
        self.slots = slots
        self.allow_unsafe = allow_unsafe
        self.hide = hide
        # More uids than slots: a finished job's namespaces are torn down (a few ms) while the
        # next jobs already run, yet no two live jobs ever share a uid.
        self.uids = [base_uid + i for i in range(UIDS_PER_SLOT * slots)]
        self._free_uids = list(self.uids)
        self._running = threading.Semaphore(slots)
        self._slot_cond = threading.Condition()
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._closed = False
        # Set once the sandbox is probed: without a private /tmp, jobs work in a parent-owned dir.
        self.needs_fallback_dir = False
        # Benchmarks only: a new zygote (a cold interpreter) for every run instead of the warm one.
        self.cold_start_per_job = False

    def zygote_info(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._zygote.info) if self._zygote else {}

    def close(self) -> None:
        self.wait_idle()
        with self._lock:
            self._closed = True
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    def _get_zygote(self) -> Zygote:
        with self._lock:
            if self._closed:
                raise RuntimeError("the grader is closed")
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                # One standby more than slots: a job never waits for one to be prepared.
                self._zygote = Zygote(self.hide, self.slots + 1)
            return self._zygote

    def cfg(self, uid: int, limits: dict[str, float]) -> dict[str, Any]:
        return {
            "uid": uid,
            "gid": uid,
            "limits": limits,
            "hide": self.hide,
            "allow_unsafe": self.allow_unsafe,
        }

    def run(
        self,
        limits: dict[str, float],
        job: dict[str, Any],
        extra: dict[str, Any] | None = None,
        need_status: bool = False,
        on_test: OnTest | None = None,
    ) -> Run:
        self._running.acquire()
        with self._slot_cond:
            while not self._free_uids:
                self._slot_cond.wait()
            uid = self._free_uids.pop(0)
        fallback = None
        cold: Zygote | None = None
        running = True

        def finish_running() -> None:
            nonlocal running
            if running:
                running = False
                self._running.release()

        def release(done: Future[dict[str, Any]] | None = None) -> None:
            if done is not None and done.exception() is not None and processes_of({uid}):
                # The zygote died with the job: its processes are being killed. The uid goes
                # back only once none is left (a zygote reports a job only once it is empty).
                threading.Timer(UID_RECHECK, release, (done,)).start()
                return
            if cold is not None:
                cold.close()
            if fallback:
                shutil.rmtree(fallback, ignore_errors=True)
            with self._slot_cond:
                self._free_uids.append(uid)
                self._slot_cond.notify_all()

        try:
            cfg = {**self.cfg(uid, limits), **(extra or {})}
            if self.needs_fallback_dir:
                # Without a private /tmp the job works in a directory the parent owns and removes.
                fallback = tempfile.mkdtemp(prefix="holdout-job-")
                os.chmod(fallback, 0o777)
                cfg["fallback_dir"] = fallback
            for attempt in range(2):
                try:
                    if self.cold_start_per_job:
                        if cold is not None:
                            cold.close()
                        cold = Zygote(self.hide)
                    run, handle = self.run_once(cfg, job, cold, on_test)
                except ZygoteDied:
                    if attempt:
                        raise SandboxUnavailable("the grading zygote keeps dying") from None
                    continue
                future = handle.future
                complete = run.done and not run.protocol_error and not run.overflow
                if (complete and not need_status) or run.protocol_error or run.overflow:
                    # Nothing the job does from now on counts: whatever of it did not exit by
                    # itself is killed within END_GRACE, so it takes next to no CPU from the runs
                    # after it.
                    handle.end()
                if complete and not need_status:
                    # The caller has the results now, and the slot is free for the next run. The
                    # uid is reused only once the zygote reports the job reaped, its cgroup empty.
                    finish_running()
                    future.add_done_callback(release)
                    return run
                try:
                    reply = future.result(timeout=limits["wall_seconds"] + 15)
                except ZygoteDied:
                    if run.setup is None and not attempt:
                        continue  # it died before the job started: once more, with a new zygote
                    reply = {"error": "the zygote died during the job"}
                except TimeoutError:
                    # Some process of the job outlives every kill: its uid stays out of the pool
                    # until the zygote reports the job (it does so only once it is empty).
                    run.status = {"error": "no status from the zygote"}
                    finish_running()
                    future.add_done_callback(release)
                    return run
                run.status = {"error": reply["error"]} if "error" in reply else reply["status"]
                finish_running()
                release()
                return run
            raise AssertionError("unreachable")
        except BaseException:
            finish_running()
            release()
            raise

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every job has been reaped (no sandbox process left); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._slot_cond:
            while len(self._free_uids) < len(self.uids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._slot_cond.wait(remaining)
        return True

    def run_once(
        self,
        cfg: dict[str, Any],
        job: dict[str, Any],
        zygote: Zygote | None = None,
        on_test: OnTest | None = None,
    ) -> tuple[Run, JobHandle]:
        limits = cfg["limits"]
        zygote = zygote or self._get_zygote()
        # The run's own key: every record but the first must carry its tags (grader/protocol.py).
        job = {**job, "key": secrets.token_hex(16)}
        job_fd = os.memfd_create("holdout-job", os.MFD_CLOEXEC)
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        with contextlib.suppress(OSError):
            # Room for a typical job's results, so the job rarely waits for this process to read.
            fcntl.fcntl(result_w, fcntl.F_SETPIPE_SZ, RESULT_PIPE_BYTES)
        try:
            os.write(job_fd, json.dumps(job).encode())
            handle = zygote.submit(cfg, [job_fd, result_w, output_w])
        finally:
            os.close(job_fd)
            os.close(result_w)
            os.close(output_w)
        run = Run()
        started = time.monotonic()
        closed: set[int] = set()
        try:
            reader = RecordReader(run, job, on_test)
            self._read_channels(run, result_r, output_r, limits, reader, closed)
        except Exception:
            # Whatever went wrong reading a job's channels is a failure of that job, never of this
            # process: the job is still waited for (its uid is reused only once it is reaped).
            run.protocol_error = run.protocol_error or GARBAGE
            run.done = False
        finally:
            for fd in (result_r, output_r):
                if fd not in closed:
                    os.close(fd)
        run.wall = time.monotonic() - started
        return run, handle

    def _read_channels(
        self,
        run: Run,
        result_r: int,
        output_r: int,
        limits: dict[str, float],
        reader: RecordReader,
        closed: set[int],
    ) -> None:
        cap = int(limits["result_mib"] * 1024 * 1024)
        keep = int(limits["output_kib"] * 1024)
        deadline = time.monotonic() + limits["wall_seconds"] + 10
        size = 0
        output = bytearray()
        sel = selectors.DefaultSelector()
        sel.register(result_r, selectors.EVENT_READ, "result")
        sel.register(output_r, selectors.EVENT_READ, "output")
        drained = 0

        def stop(fd: int) -> None:
            """Read no more of a channel; closed, so the job's next write to it fails at once
            instead of blocking it (and its slot) until the wall clock."""
            sel.unregister(fd)
            os.close(fd)
            closed.add(fd)

        try:
            while sel.get_map():
                if run.done or run.protocol_error:
                    # Once DONE (or garbage) is in, a job that keeps its channels open only
                    # delays its end: nothing it sends later counts.
                    deadline = min(deadline, time.monotonic() + AFTER_DONE_SECONDS)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for key, _ in sel.select(remaining):
                    data = os.read(key.fd, RESULT_PIPE_BYTES)
                    if not data:
                        sel.unregister(key.fd)
                    elif key.data == "output":
                        # Drained so a chatty job never blocks; only the head is kept. Past
                        # OUTPUT_DRAIN_LIMIT the channel is closed: copying what a job hands over
                        # for free (vmsplice) would cost this process a CPU for the job's wall
                        # clock, outside the job's cgroup.
                        drained += len(data)
                        if len(output) < keep:
                            output += data[: keep - len(output)]
                        if drained > max(keep, OUTPUT_DRAIN_LIMIT):
                            stop(key.fd)
                    elif size + len(data) > cap:
                        run.overflow = True
                        stop(key.fd)
                    else:
                        size += len(data)
                        reader.feed(data)
        finally:
            sel.close()
            reader.close()
        run.output = bytes(output)

"""Isolation layers applied inside a sandbox process, before untrusted code runs.

Runs in two parts (see zygote.py): `prepare` in the standby, PID 1 of a new PID namespace and still
root, while it waits (nothing about the job known yet: new IPC, UTS, mount and network namespaces,
the project and secret directories hidden); then `enter` in the job process, its child, once a job
arrives (a private /tmp of the job's size, rlimits, the uid switch, and last the seccomp filter).
Each layer is applied independently so that the start-up probe can report exactly which ones are
active.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import resource
import signal
import socket
import stat
from typing import Any

from grader import cgroups, seccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_CHILD_SUBREAPER = 36

RESULT_FD = 3
JOB_FD = 4
# What a job sees of the machine's file system: nothing. Its root is a tmpfs of its own holding
# its own /proc, /dev, /sys and /tmp (`_new_root`): the system's files are shared with every other
# job through the page cache (whether a page is cached shows in a read's cost), and a job needs
# none of them, the zygote having loaded all it runs. What the engine asks to hide (every other
# top-level directory, see `default_hide`) is what the probe checks is out of sight.
VISIBLE_TOP_LEVEL = ("/proc", "/dev", "/sys", "/tmp")
# Paths where secrets, project files, databases and Unix sockets usually live: hidden even where
# / cannot be listed. The project root and anything in HOLDOUT_SANDBOX_HIDE are added by the engine.
DEFAULT_HIDE = [
    "/home",
    "/root",
    "/run",
    "/var/run",
    "/var/lib",
    "/var/log",
    "/srv",
    "/opt",
    "/mnt",
    "/media",
    "/work",
    "/etc/ssl/private",
]
PRIVATE_TMP = ["/tmp", "/var/tmp", "/dev/shm"]


def default_hide() -> list[str]:
    """Every top-level directory but VISIBLE_TOP_LEVEL (symbolic links such as /lib point into
    a hidden one), and DEFAULT_HIDE for a machine whose / cannot be listed."""
    try:
        names = os.listdir("/")
    except OSError:
        names = []
    tops = {
        path for name in names if os.path.isdir(path := "/" + name) and not os.path.islink(path)
    }
    return sorted((tops | set(DEFAULT_HIDE)) - set(VISIBLE_TOP_LEVEL))


SYS = "/sys"
DEV = "/dev"
DEV_NODES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}
JOB_DIR = "/tmp/job"
SANDBOX_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PATH": "/usr/bin:/bin",
    "HOME": JOB_DIR,
    "LANG": "C.UTF-8",
}
NPROC_LIMIT = 32
# A job may use this many CPUs at once, all its processes together (its CPU seconds are a budget
# for them all, which the zygote enforces).
JOB_CPUS = 1.0
# Without these a job is refused (unless HOLDOUT_SANDBOX_ALLOW_UNSAFE=1).
REQUIRED_LAYERS = ("uid_separation", "rlimits", "seccomp")
NOFILE_LIMIT = 64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot isolate submissions here, so grading is refused.

    Set HOLDOUT_SANDBOX_ALLOW_UNSAFE=1 (or allow_unsafe=True) to grade anyway on a trusted machine.
    """


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def prctl(option: int, arg: int = 0) -> int:
    ret = int(_libc.prctl(option, arg, 0, 0, 0))
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"prctl({option}): {os.strerror(e)}")
    return ret


def set_pdeathsig() -> None:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _attempt(layers: dict[str, Any], name: str, fn: Any) -> None:
    try:
        fn()
        layers[name] = True
    except OSError as exc:
        layers[name] = f"{exc.strerror or exc}"
    except Exception as exc:
        layers[name] = f"{type(exc).__name__}: {exc}"


def prepare(hide: list[str], tmp_kib: int, in_cgroup: bool = False) -> dict[str, Any]:
    """The layers that do not depend on the job, applied by a standby process while it waits:
    returns {layer: True | "error text"}, plus the hidden paths as "hidden" and the size of the
    private /tmp as "tmp_kib" (a job of another size resizes it). `in_cgroup`: the process has
    joined its job's cgroup, which then becomes all of the cgroup tree the job sees."""
    layers: dict[str, Any] = {}
    hidden: list[str] = []
    _attempt(layers, "ipcns", lambda: unshare(CLONE_NEWIPC | CLONE_NEWUTS))
    # A network namespace of the job's own (a fraction of a millisecond, spent before the job
    # arrives): nothing one job binds in it, such as an abstract Unix socket, reaches the next.
    _attempt(layers, "netns", lambda: unshare(CLONE_NEWNET))
    # The machine's cgroup hierarchies, read while its mounts are still in sight.
    hierarchies = cgroups.mounts() if in_cgroup else []
    _attempt(layers, "mountns", lambda: _private_mounts(hide, hidden, tmp_kib))
    if layers["mountns"] is True:
        if in_cgroup:
            _attempt(layers, "cgroup_view", lambda: _own_cgroup_view(hierarchies))
        _attempt(layers, "mountns", _seal_sys)
    # Irreversible; it only stops execve() from granting privileges, which the standby never needs
    # (mounts, setns and the uid switch still work).
    _attempt(layers, "no_new_privs", lambda: prctl(PR_SET_NO_NEW_PRIVS, 1) and None)
    os.environ.clear()
    os.environ.update(SANDBOX_ENV)
    layers["empty_env"] = True
    layers["hidden"] = hidden
    layers["tmp_kib"] = tmp_kib
    layers["own_proc"] = layers["mountns"] is True and os.getpid() == 1
    return layers


def enter(cfg: dict[str, Any], prepared: dict[str, Any], filt: Any) -> dict[str, Any]:
    """Apply the job's layers on top of `prepare`'s; returns {layer: True | "error text"}. Ends as
    the sandbox user, under the seccomp filter `filt` (a `seccomp.Filter`, None if unavailable)."""
    layers = {k: v for k, v in prepared.items() if k not in ("hidden", "tmp_kib", "own_proc")}
    limits = cfg["limits"]
    if layers.get("mountns") is True:
        _attempt(layers, "mountns", lambda: _job_mounts(cfg, prepared))
    if layers["mountns"] is not True:
        os.makedirs(cfg.get("fallback_dir", JOB_DIR), exist_ok=True)
    _attempt(layers, "rlimits", lambda: _rlimits(limits))
    _attempt(layers, "uid_separation", lambda: _drop_privileges(cfg["uid"], cfg["gid"]))
    # Credential changes clear the parent-death signal, so it is set only now.
    _attempt(layers, "parent_death_signal", set_pdeathsig)
    # Last: from here on not even the harness may execve, unshare or open a network socket.
    if filt is not None:
        _attempt(layers, "seccomp", filt.install)
    return layers


def cgroup_limits(limits: dict[str, float]) -> tuple[int, int, float]:
    """(memory bytes, tasks, CPUs) for a job's cgroup: the job's memory for all its processes
    together (tmpfs and memfd pages included), its processes plus the reaper, one CPU."""
    return int(limits["memory_mib"] * 1024 * 1024), NPROC_LIMIT + 1, JOB_CPUS


HIDE_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
TMP_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC
MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# The job's whole root: mount points for its own file systems, nothing else.
ROOT_DIRS = ("proc", "dev", "sys", "tmp")


def _private_mounts(hide: list[str], hidden: list[str], tmp_kib: int) -> None:
    unshare(CLONE_NEWNS)
    # Nothing we mount may propagate back to the host's mount namespace.
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    nodes = {name: os.stat(os.path.join(DEV, name)).st_rdev for name in DEV_NODES}
    _new_root(keep_proc=os.getpid() != 1)
    # None of the machine's paths exists in the job's root.
    hidden.extend(sorted(hide))
    if os.getpid() == 1:
        _mount_proc()  # for the probe: every other job leaves it (`_job_mounts`)
    # /sys is the machine's, counters included (memory per NUMA node, disks, energy): a channel
    # between jobs running at once, like /proc's. An empty directory instead; `_seal_sys` makes it
    # read-only once the job's own cgroup files are in it.
    mount("tmpfs", SYS, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=755")
    _minimal_dev(nodes)
    for path in PRIVATE_TMP:
        if os.path.isdir(path):  # /var/tmp is none of the job's
            mount("tmpfs", path, "tmpfs", TMP_FLAGS, f"size={tmp_kib}k,mode=1777,nr_inodes=4096")
    mount(None, DEV, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    mount(None, "/", None, MS_REMOUNT | HIDE_FLAGS)


def _new_root(keep_proc: bool) -> None:
    """Make an empty tmpfs holding only ROOT_DIRS the root, and leave the machine's behind.

    Nothing of the machine's file systems stays in reach: none of its files (whose page cache one
    job could leave a message in for the next), no world-writable directory of the host's, and
    not the machine's root directory itself, whose cache of looked-up names is shared: looking up
    a name that does not exist leaves a negative entry there that a later job could time.
    `keep_proc`: without a PID namespace of its own the job keeps the machine's /proc."""
    stage = "/tmp"  # any directory of the machine's root: the new one is mounted over it
    mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=16k,mode=755,nr_inodes=32")
    for name in ROOT_DIRS:
        os.mkdir(os.path.join(stage, name), 0o755)
    if keep_proc:
        mount("/proc", os.path.join(stage, "proc"), None, MS_BIND | MS_REC)
    os.chdir(stage)
    # pivot_root(".", "."): the machine's root is stacked on the new one, then detached.
    _check(_libc.syscall(PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount2")
    os.chdir("/")


def _minimal_dev(nodes: dict[str, int]) -> None:
    """A /dev of its own: null, zero, full, random and urandom (`nodes`: their device numbers on
    the machine), the fd links, an empty shm.

    The host's /dev has the host's terminals: a job that opens /dev/ptmx makes an entry in the
    host's /dev/pts, which any other job running at once can count (a channel), and sockets such
    as /dev/log reach the host's services."""
    mount("tmpfs", DEV, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=4k,mode=755,nr_inodes=64")
    for name, rdev in nodes.items():
        os.mknod(os.path.join(DEV, name), stat.S_IFCHR | 0o666, rdev)
        os.chmod(os.path.join(DEV, name), 0o666)  # mknod applies the umask
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(DEV, name))
    os.mkdir(os.path.join(DEV, "shm"))


def _mount_proc() -> None:
    """/proc for the PID namespace, showing the job its own processes and nothing system-wide.

    The machine's counters (forks in /proc/stat, /proc/meminfo, /proc/vmstat, pressure...) would
    let two jobs running at once signal to each other, and PID 1 (the reaper, root) and its
    command line are none of the job's business. Kernels before 5.8 know neither option; there the
    job sees a plain /proc of its namespace."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        mount("proc", "/proc", "proc", flags, "hidepid=invisible,subset=pid")
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        mount("proc", "/proc", "proc", flags)


def _own_cgroup_view(hierarchies: list[tuple[str, str, set[str]]]) -> None:
    """A cgroup namespace rooted at the job's cgroup, and the job's hierarchies mounted in the
    job's empty /sys: it sees its own cgroup as the whole tree. The host's cgroup files would show
    it every other job's memory, CPU and task counts as they change, a channel between two
    students' jobs running at once (and the host's own usage). `hierarchies`: the machine's
    cgroup mounts, `cgroups.mounts()` before the job's root replaced the machine's."""
    root = cgroups.ROOT
    found = [(p, t, o) for p, t, o in hierarchies if p == root or p.startswith(root + "/")]
    unshare(CLONE_NEWCGROUP)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    os.makedirs(root, exist_ok=True)
    if any(p == root and t == "cgroup2" for p, t, _ in found):
        mount("cgroup2", root, "cgroup2", flags)
        return
    # cgroup v1: only the hierarchies the job has a cgroup in (in the others it sits at the
    # host's root, which its namespace would show whole).
    for point, fstype, options in found:
        controllers = sorted(options & cgroups.V1_CONTROLLERS)
        if fstype != "cgroup" or not set(controllers) & cgroups.JOB_CONTROLLERS or point == root:
            continue
        os.makedirs(point, exist_ok=True)
        mount("cgroup", point, "cgroup", flags, ",".join(controllers))


def _seal_sys() -> None:
    if os.path.isdir(SYS):
        mount(None, SYS, None, MS_REMOUNT | HIDE_FLAGS)


def _job_mounts(cfg: dict[str, Any], prepared: dict[str, Any]) -> None:
    # Every path a job may name to hide is out of sight already: the job's root has none of them.
    if prepared.get("own_proc") and not cfg.get("proc"):
        # Every /proc entry a job looks up takes an inode number from one machine-wide counter
        # (the one pipes and sockets draw from too): a hidden run could count into it, and the
        # student's next job read how far (an inherited pipe's inode number). No job needs
        # /proc; the start-up probe, which counts the processes it sees, asks for it.
        _check(_libc.umount2(b"/proc", MNT_DETACH), "umount2 /proc")
    size_kib = int(cfg["limits"]["file_mib"] * 1024)
    if size_kib != prepared["tmp_kib"]:
        for path in PRIVATE_TMP:
            if os.path.isdir(path):
                mount("tmpfs", path, "tmpfs", MS_REMOUNT | TMP_FLAGS, f"size={size_kib}k")
    os.mkdir(JOB_DIR, 0o700)
    os.chown(JOB_DIR, cfg["uid"], cfg["gid"])


def _rlimits(limits: dict[str, float]) -> None:
    mib = 1024 * 1024
    cpu = max(1, round(limits["cpu_seconds"]))
    # Soft CPU limit sends SIGXCPU (reported as such); the hard limit one second later is SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory_mib"] * mib),) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_mib"] * mib),) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (NPROC_LIMIT, NPROC_LIMIT))
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE_LIMIT, NOFILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))


def _drop_privileges(uid: int, gid: int) -> None:
    if uid == 0 or gid == 0:
        raise OSError(errno.EPERM, "the sandbox uid and gid must not be 0")
    if uid == os.getuid():
        raise OSError(errno.EPERM, "not root: cannot switch to a sandbox uid")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getgroups():
        raise OSError(errno.EPERM, "uid switch did not take effect")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError(errno.EPERM, "could regain root")


def observe(cfg: dict[str, Any]) -> dict[str, Any]:
    """Look at the sandbox from inside: what the start-up self-check reports."""
    uid, gid = cfg["uid"], cfg["gid"]
    seen: dict[str, Any] = {}
    seen["uid_separation"] = (
        os.getresuid() == (uid, uid, uid) and os.getresgid() == (gid, gid, gid) and uid != 0
    )
    seen["no_supplementary_groups"] = os.getgroups() == []
    seen["empty_env"] = set(os.environ) <= set(SANDBOX_ENV)
    seen["openblas_single_thread"] = os.environ.get("OPENBLAS_NUM_THREADS") == "1"
    seen["netns"] = _interfaces() in ([], ["lo"]) and not _can_connect(
        "127.0.0.1", cfg.get("probe_port")
    )
    seen["mountns"] = all(not os.path.exists(p) for p in cfg.get("must_hide", [])) and all(
        not os.path.isdir(p) or os.path.islink(p) or not os.listdir(p) for p in cfg["hide"]
    )
    # The job's parent is the reaper, PID 1 of the namespace; nothing else is visible.
    seen["pidns"] = os.getppid() == 1 and _visible_pids() <= 2
    seen["private_tmp"] = os.listdir("/tmp") == ["job"] and os.stat(JOB_DIR).st_uid == uid
    want = {
        resource.RLIMIT_AS: int(cfg["limits"]["memory_mib"] * 1024 * 1024),
        resource.RLIMIT_FSIZE: int(cfg["limits"]["file_mib"] * 1024 * 1024),
        resource.RLIMIT_NPROC: NPROC_LIMIT,
        resource.RLIMIT_NOFILE: NOFILE_LIMIT,
        resource.RLIMIT_CORE: 0,
    }
    seen["rlimits"] = all(resource.getrlimit(k)[1] == v for k, v in want.items()) and (
        resource.getrlimit(resource.RLIMIT_CPU)[0] > 0
    )
    seen["no_new_privs"] = prctl(PR_GET_NO_NEW_PRIVS) == 1
    seen["seccomp"] = seccomp.observe()
    memory, tasks, _ = cgroup_limits(cfg["limits"])
    seen["cgroup"] = cgroups.observe(memory, tasks)
    return seen


def _interfaces() -> list[str]:
    """The network interfaces of this process's network namespace (without a socket, which the
    seccomp filter may refuse)."""
    try:
        with open("/proc/self/net/dev") as f:
            return sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    except OSError:
        return ["?"]


def _can_connect(host: str, port: int | None) -> bool:
    if not port:
        return False
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except Exception:
        return False


def _visible_pids() -> int:
    try:
        return sum(1 for n in os.listdir("/proc") if n.isdigit())
    except OSError:
        return 0


def redirect_fds(result_fd: int, output_fd: int, job_fd: int) -> None:
    """stdin from /dev/null, stdout+stderr to the output pipe, fixed numbers for the channels,
    and every other inherited descriptor closed."""
    # Move everything above the target range first so no dup2 clobbers a source.
    result, output, job = (
        fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (result_fd, output_fd, job_fd)
    )
    devnull = fcntl.fcntl(os.open("/dev/null", os.O_RDONLY), fcntl.F_DUPFD, 100)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.dup2(result, RESULT_FD)
    os.dup2(job, JOB_FD)
    os.closerange(JOB_FD + 1, 65536)

"""The system-call filter every job runs under, installed just before untrusted code runs.

Compiled once in the zygote with libseccomp (through the `pyseccomp` binding) into a classic BPF
program; each job loads those bytes with one prctl(), so no job pays for compiling it. The filter
allows by default and denies, with EPERM (a clear Python `PermissionError`, never a kill):

- everything Docker's default profile blocks for an unprivileged container (kernel keyrings, BPF,
  module loading, mounting, tracing, clock and swap changes, ...);
- what this design never needs: `execve`/`execveat` (a forked job has everything loaded), new
  namespaces (`unshare`, `setns`, and `clone` with a namespace flag; `clone3` fails with ENOSYS, as
  on an old kernel, because its flags sit in memory a filter cannot read, and libc then falls back
  to `clone`), the new mount API, io_uring, `userfaultfd`, `perf_event_open`, process memory access
  of other processes, `personality` changes; threads and every other process sharing the job's
  memory (`clone` with CLONE_VM or CLONE_THREAD) and new signal handlers (`rt_sigaction` with an
  action), which would run beside or inside the harness while it holds its own frames;
- precise views of other processes' use of shared files: inotify, fanotify, `cachestat`,
  `preadv2`/`pwritev2` with `RWF_NOWAIT` and Linux AIO (whether a page is cached), evicting pages
  from the page cache (`fadvise64`), and file locks (`flock`, the lock and lease commands of
  `fcntl`); and the machine's own counters (`sysinfo`, the session sequence behind `setsid`);
- whatever takes a number from a machine-wide counter a later job can read: new pipes, sockets
  of any family (their inode numbers and cookies), POSIX message queues, memfds and pidfds
  (`clone` with CLONE_PIDFD too);
- every system call newer than the ones reviewed (ENOSYS, as on an older kernel).

System calls of another architecture's ABI (x86's `int 0x80`, x32) are refused as well.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket

# Docker's default profile: what it denies a container without extra capabilities.
DOCKER_DEFAULT_DENIED = (
    "acct",
    "add_key",
    "adjtimex",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "syslog",
    "sysfs",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
)
# What this sandbox denies on top: a job never executes a program, never reaches into another
# process, and never changes how the kernel treats it.
SANDBOX_DENIED = (
    "execve",
    "execveat",
    "chroot",
    "migrate_pages",
    "pidfd_getfd",
    "process_madvise",
    "process_mrelease",
    "lsm_set_self_attr",
    "set_mempolicy_home_node",
    "ioprio_set",
    "memfd_secret",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
)
# Precise views of what other processes do with files that every job can read (a library, a
# file of /etc): a job watching for opens of one (inotify, fanotify), or asking whether its pages
# are cached (cachestat, a read with RWF_NOWAIT), sees another job running at once touch it, a
# channel between two students' jobs.
CHANNELS_DENIED = (
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "fanotify_init",
    "fanotify_mark",
    "cachestat",
    # Evicting a shared file's pages from the page cache, which a later job can tell (a page that
    # is not cached costs a major fault): with reads, it writes any bit pattern there.
    "fadvise64",
    # Linux AIO: a read with RWF_NOWAIT in its iocb tells whether a page is cached, and its
    # contexts come from one machine-wide budget (fs.aio-max-nr) a job could use up.
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    # The machine's process count, free memory and load, changing with what other jobs do.
    "sysinfo",
    # Each new session takes the next number of one machine-wide sequence (the autogroup a job
    # reads in /proc/self/autogroup): sessions started in a hidden run show in the next job.
    "setsid",
    # Locks: a read-only descriptor suffices to lock a shared file (flock) or to see another
    # process's lock on it (fcntl F_GETLK), one bit at a time and without noise.
    "flock",
)
# fcntl(fd, cmd, ...) commands that take or query a lock (POSIX and open file description locks,
# leases); every other fcntl command (descriptor flags, pipe sizes...) stays allowed.
FCNTL_LOCK_COMMANDS = (
    fcntl.F_GETLK,
    fcntl.F_SETLK,
    fcntl.F_SETLKW,
    fcntl.F_OFD_GETLK,
    fcntl.F_OFD_SETLK,
    fcntl.F_OFD_SETLKW,
    fcntl.F_GETLEASE,
    fcntl.F_SETLEASE,
)
# New pipes, sockets, POSIX message queues and memfds take their inode numbers from machine-wide
# counters (the pseudo file systems' and the kernel's internal tmpfs's, drawn in per-CPU batches),
# and a pidfd shows the inode number every new process on the machine takes the next of: a hidden
# run making thousands of pipes (or memfds, or processes) moves a counter by as many, and the
# student's next job reads how far from an inherited pipe's inode number. A job needs none of
# them: its channels are made for it, and nothing of the harness talks over a socket.
COUNTERS_DENIED = (
    "pipe",
    "pipe2",
    "socket",
    "socketpair",
    "mq_open",
    "memfd_create",
    "pidfd_open",
)
DENIED = DOCKER_DEFAULT_DENIED + SANDBOX_DENIED + CHANNELS_DENIED + COUNTERS_DENIED
# The newest system call reviewed for this filter (libseccomp knows it by name): every later one
# fails with ENOSYS, as on an older kernel. Those added since (futex2, statmount and listmount, the
# LSM attribute calls, mseal, the *xattrat calls, open_tree_attr, file_getattr/setattr) are nothing
# a job needs, and a kernel update's new calls are refused until someone reviews them.
NEWEST_REVIEWED = "map_shadow_stack"
# Past the highest system call number of any ABI the kernel has (x32's start at 512).
SYSCALL_NUMBERS_END = 512
RWF_NOWAIT = 0x8  # preadv2/pwritev2 flags (their sixth argument)
# clone(flags, ...): any of these creates a namespace.
NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
# clone(flags, ...): a thread, or any process sharing the job's memory. With the harness's audit
# hook a submission gets no frame (grader/_child.py); a thread would run beside the harness while it
# reads its own frames and the outputs, and a signal handler is given the frame it interrupts: a job
# starts no thread and installs no signal handler (rt_sigaction with a new action).
SHARED_MEMORY_FLAGS = (
    0x00000100,  # CLONE_VM
    0x00010000,  # CLONE_THREAD
)
CLONE_PIDFD = 0x00001000  # a pidfd of the new process (see COUNTERS_DENIED)
# personality(0xffffffff) only reads the current persona.
PERSONALITY_QUERY = 0xFFFFFFFF
PR_SET_SECCOMP = 22
PR_GET_SECCOMP = 21
SECCOMP_MODE_FILTER = 2
BPF_INSTRUCTION = 8  # bytes in one struct sock_filter


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Filter:
    """A compiled filter, its kernel argument ready so that loading it is a single prctl()."""

    def __init__(self, program: bytes) -> None:
        if not program or len(program) % BPF_INSTRUCTION:
            raise RuntimeError("libseccomp produced no filter")
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._prog = _SockFprog(len(program) // BPF_INSTRUCTION, ctypes.addressof(self._buffer))
        self.size = len(program) // BPF_INSTRUCTION

    def install(self) -> None:
        """Load the filter into this process, for good (every child inherits it). Needs
        no_new_privs, or CAP_SYS_ADMIN."""
        if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._prog), 0, 0):
            e = ctypes.get_errno()
            raise OSError(e, f"seccomp: {os.strerror(e)}")


def build() -> Filter:
    """Compile the filter (OSError or RuntimeError where libseccomp is missing or refuses)."""
    import pyseccomp as sc

    deny = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    f.set_attr(sc.Attr.ACT_BADARCH, deny)
    # A binary search over the system call numbers, not one comparison per rule: every call a
    # job makes passes the filter.
    f.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    for name in DENIED:
        # A name this architecture lacks (vm86 on x86_64) resolves to a negative number.
        if sc.resolve_syscall(sc.Arch.NATIVE, name) >= 0:
            f.add_rule(deny, name)
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    newest = sc.resolve_syscall(sc.Arch.NATIVE, NEWEST_REVIEWED)
    if newest < 0:
        raise RuntimeError(f"libseccomp does not know {NEWEST_REVIEWED}: too old to build from")
    for number in range(newest + 1, SYSCALL_NUMBERS_END):
        f.add_rule(sc.ERRNO(errno.ENOSYS), number)
    for flag in (*NAMESPACE_FLAGS, *SHARED_MEMORY_FLAGS, CLONE_PIDFD):
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(deny, "rt_sigaction", sc.Arg(1, sc.NE, 0))
    f.add_rule(deny, "personality", sc.Arg(0, sc.NE, PERSONALITY_QUERY))
    for command in FCNTL_LOCK_COMMANDS:
        f.add_rule(deny, "fcntl", sc.Arg(1, sc.EQ, command))
    for call in ("preadv2", "pwritev2"):
        f.add_rule(deny, call, sc.Arg(5, sc.MASKED_EQ, RWF_NOWAIT, RWF_NOWAIT))
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(write_fd, "wb") as out:
            f.export_bpf(out)
        with os.fdopen(read_fd, "rb") as src:
            read_fd = -1
            program = src.read()
    finally:
        if read_fd >= 0:
            os.close(read_fd)
    return Filter(program)


def active() -> bool:
    return int(_libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0)) == SECCOMP_MODE_FILTER


def observe() -> bool:
    """From inside a job: the filter is loaded and refuses what it should."""
    if not active():
        return False
    nr = {"kcmp": 312, "clone3": 435, "keyctl": 250} if os.uname().machine == "x86_64" else {}
    refused = []
    if nr:
        pid = os.getpid()
        refused.append(_errno_of(nr["kcmp"], pid, pid, 0, 0, 0) == errno.EPERM)
        refused.append(_errno_of(nr["clone3"], 0, 0, 0, 0, 0) == errno.ENOSYS)
        refused.append(_errno_of(nr["keyctl"], 0, -3, 0, 0, 0) == errno.EPERM)
    for make in (lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(), os.pipe):
        try:
            make()
            refused.append(False)
        except PermissionError:
            refused.append(True)
        except OSError:
            refused.append(False)
    return all(refused)


def _errno_of(nr: int, *args: int) -> int:
    _libc.syscall.restype = ctypes.c_long
    ret = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if ret == -1 else 0

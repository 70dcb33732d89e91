"""The sandbox a submission's process runs in, and starting it: bubblewrap around
`python -m tfsigns.grading.child`, a root of its own that binds only the system's libraries, Python's
prefixes, the tfsigns modules the child needs (child.CHILD_MODULES), SIGNS' files read only and an
empty /tmp; the first message of the child checked as untrusted data; and the start-up check that such
a child can run TensorFlow at all, before a class is graded."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import platform
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from tfsigns.grading.child import CHILD_MODULES, NOTEBOOK_MODULES
from tfsigns.grading.remote import Clock, Malformed, Submission, SubmissionGone, last_line

# the system's libraries and fonts, which Python, TensorFlow and matplotlib load
SYSTEM = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/ld.so.conf",
          "/etc/ld.so.conf.d", "/etc/fonts")


def sandbox_command(disk_mb: int, seccomp: int, pid_1: bool = False) -> list[str]:
    """bubblewrap around the child: a root of its own with the system's libraries, Python's prefixes
    (symlinks resolved), of tfsigns only CHILD_MODULES (any other copy of the package there hidden),
    SIGNS' files read only, and an empty /tmp and /dev/shm of `disk_mb` MB each, /tmp its home; nothing
    else writable, no capability (run by root, bwrap keeps them all in its namespace), no network, no
    other process, and the seccomp filter that bwrap reads from file descriptor `seccomp` (seccomp_file()).
    `pid_1`: the command is the sandbox's init (a Zygote), which no process of the sandbox can signal, trace
    or outlive."""
    package = Path(__file__).resolve().parents[1]
    roots = sorted({Path(p).resolve() for p in (sys.prefix, sys.base_prefix)})
    hidden = {package, *(Path(entry).resolve() / "tfsigns" for entry in sys.path if entry)}
    hidden = [path for path in sorted(hidden) if path.is_dir() and any(path.is_relative_to(r) for r in roots)]
    modules = CHILD_MODULES + NOTEBOOK_MODULES
    files = [package / f"{name}.py" for name in modules] + _signs_files()
    environment = [arg for item in child_environment("/tmp").items() for arg in ("--setenv", *item)]
    size = str(disk_mb << 20)
    return ["bwrap", *(["--as-pid-1"] if pid_1 else []), "--seccomp", str(seccomp), "--unshare-all",
            "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--clearenv", *environment, "--dev", "/dev",
            "--size", size, "--tmpfs", "/dev/shm", "--mqueue", "/dev/mqueue", "--proc", "/proc",
            "--size", size, "--tmpfs", "/tmp",
            *(arg for path in SYSTEM for arg in ("--ro-bind-try", path, path)),
            *(arg for path in roots for arg in ("--ro-bind", str(path), str(path))),
            *(arg for path in hidden for arg in ("--tmpfs", str(path))),
            *(arg for path in files for arg in ("--ro-bind", str(path), str(path))),
            *(arg for path in hidden for arg in ("--remount-ro", str(path))),
            "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]


def _signs_files() -> list[Path]:
    """SIGNS' two files where the grader finds them ($TFSIGNS_DATA, else data/): notebooks load them."""
    from tfsigns.images.dataset import DataError, find_data_dir
    try:
        folder = find_data_dir().resolve()
    except DataError:
        return []
    return [path for path in (folder / "train_signs.h5", folder / "test_signs.h5") if path.is_file()]


def child_environment(home: str) -> dict[str, str]:
    """The child's whole environment (none of the grader's own variables: tokens, paths)."""
    files = _signs_files()
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp" if home == "/tmp" else home,
            "LANG": "C.UTF-8", "MPLCONFIGDIR": home, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", **({"TFSIGNS_DATA": str(files[0].parent)} if files else {})}


def sandbox_works() -> bool:
    """Whether bubblewrap is installed and can start a sandbox here, with its seccomp filter."""
    if shutil.which("bwrap") is None or KEY_CALLS.get(platform.machine()) is None:
        return False
    with seccomp_file() as seccomp:
        command = [*sandbox_command(16, seccomp.fileno()), sys.executable, "-c", ""]
        return subprocess.run(command, capture_output=True, pass_fds=[seccomp.fileno()]).returncode == 0


# The kernel's key management calls (add_key, request_key, keyctl) by the machine's architecture (its audit
# number, and the three calls'): a key put in the session or user keyring outlives its sandbox (a login
# session's keyring is the grader's, and outlives it), so each sandbox's seccomp filter refuses them (EPERM).
KEY_CALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219)),
             "riscv64": (0xC00000F3, (217, 218, 219))}


@contextlib.contextmanager
def seccomp_file():
    """An open file of the sandboxes' seccomp filter, classic BPF: EPERM for the key management calls, and
    for every call of another ABI than the machine's own (32-bit calls on x86_64, x32: numbered apart)."""
    arch, calls = KEY_CALLS[platform.machine()]
    load, equal, at_least, answer = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, |JGE|K, BPF_RET|K
    refuse, allow = 0x00050000 | errno.EPERM, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
    refused = 5 + len(calls)  # the index of the last instruction; a jump counts from the next one
    program = [(load, 0, 0, 4), (equal, 0, refused - 2, arch), (load, 0, 0, 0),
               (at_least, refused - 4, 0, 0x40000000),
               *((equal, refused - 5 - k, 0, call) for k, call in enumerate(calls)),
               (answer, 0, 0, allow), (answer, 0, 0, refuse)]
    with os.fdopen(os.memfd_create("tfsigns-seccomp", 0), "w+b") as file:
        file.write(b"".join(struct.pack("HBBI", *instruction) for instruction in program))
        file.seek(0)
        yield file


NOTE_LENGTH = 300  # a note from a submission's process is cut to this many characters
DESCRIPTION = {"kind": str, "callable": bool, "numpy_alone": bool, "module": str, "name": str}


def checked_ready(ready, names: Sequence[str]) -> dict:
    """The submission's first message ({"cell_errors": [...], "defined": {name: description}}) checked as
    untrusted data: the exercises' names only, each description's fields of their types, notes cut to
    NOTE_LENGTH; Malformed otherwise (a cell that wrote to the grader's channel itself, say)."""
    if not isinstance(ready, dict) or set(ready) != {"cell_errors", "defined"}:
        raise Malformed("its first message is not the grader's")
    errors, defined = ready["cell_errors"], ready["defined"]
    if not isinstance(errors, list) or not isinstance(defined, dict) or \
            not all(isinstance(error, str) for error in errors):
        raise Malformed("its cells' report is not the grader's")
    for name, description in defined.items():
        if name not in names or not isinstance(description, dict) or set(description) != set(DESCRIPTION) or \
                not all(type(description[key]) is kind for key, kind in DESCRIPTION.items()):
            raise Malformed(f"what it says of {str(name)[:40]!r} is not the grader's")
    return {"cell_errors": [error[:NOTE_LENGTH] for error in errors[:20]], "defined": defined}


@contextlib.contextmanager
def submission_process(job: dict, work: Path, args: argparse.Namespace, clock: Clock):
    """A child process for the submission (sandboxed unless --no-sandbox) that has run its cells:
    (Submission, what it defined); stopped on leaving; every wait for it within `clock`, its --total. A
    sandboxed one is forked by a Zygote (TensorFlow imported already)."""
    with tempfile.TemporaryFile() as stderr:  # its last line tells why a process that died died
        with LIVE_LOCK:
            _going_on()
        with _process(job, work, args, stderr) as process:
            submission = Submission(process, min(30.0, max(5.0, args.timeout)), stderr, clock)
            try:
                submission.send(job)
                cells = args.timeout * len(job["cells"]) + 60  # each cell at its limit, within the total
                yield submission, submission.receive(cells)
            finally:
                submission.stop()


@contextlib.contextmanager
def _process(job: dict, work: Path, args: argparse.Namespace, stderr):
    """The submission's process: forked by an idle Zygote, or a command of its own (--no-sandbox)."""
    if not args.no_sandbox:
        with zygote(args.disk) as forks:
            forked = forks.fork(stderr)
            try:
                yield forked
            finally:
                forked.end()
        return
    command = [sys.executable, "-m", "tfsigns.grading.child"]
    env = {**os.environ, **child_environment(str(work))}  # trusted: the grader's environment, a host folder
    process = _started(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=work,
                       env=env)
    try:
        yield process
    finally:
        _ended(process)


def _started(command: list[str], **popen) -> subprocess.Popen:
    """A process in LIVE (Ctrl-C stops it), in a session of its own; SubmissionGone once interrupted."""
    with LIVE_LOCK:
        _going_on()
        process = subprocess.Popen(command, text=True, errors="replace", start_new_session=True, **popen)
        LIVE.add(process)
    return process


def _going_on() -> None:
    """SubmissionGone once the grading was interrupted (LIVE_LOCK held: no child starts after stop_all)."""
    if STOPPING.is_set():
        raise SubmissionGone("the grading was interrupted")


def _ended(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()
    with LIVE_LOCK:
        LIVE.discard(process)


class Zygote:
    """A sandbox whose first process (child.zygote_main) imported TensorFlow once and forks a child per
    submission, then ends whatever that child left running and empties the sandbox's /tmp: a submission's
    process starts in a tenth of a second instead of five."""

    def __init__(self, disk_mb: int):
        self.disk_mb, self.alive, self.stderr = disk_mb, True, tempfile.TemporaryFile()
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with seccomp_file() as seccomp:
                command = [*sandbox_command(disk_mb, seccomp.fileno(), pid_1=True), sys.executable, "-m",
                           "tfsigns.grading.child", "--zygote", str(theirs.fileno())]
                self.process = _started(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self.stderr, env=child_environment("/tmp"),
                                        pass_fds=[theirs.fileno(), seccomp.fileno()])
        finally:
            theirs.close()

    def fork(self, stderr: IO[bytes]) -> Forked:
        """A child of this sandbox that writes its stderr to `stderr`."""
        stdin, to_child = os.pipe()
        from_child, stdout = os.pipe()
        try:
            socket.send_fds(self.control, [b"run"], [stdin, stdout, stderr.fileno()])
        except OSError:
            self.alive = False
        finally:
            os.close(stdin)
            os.close(stdout)
        return Forked(self, open(to_child, "w", encoding="utf-8"),
                      open(from_child, encoding="utf-8", errors="replace"), stderr)

    def close(self) -> None:
        self.alive = False
        self.control.close()
        _ended(self.process)
        self.stderr.close()


class Forked:
    """A Zygote's child: what Submission needs of a Popen (stdin, stdout, kill, wait)."""

    def __init__(self, zygote: Zygote, stdin: IO[str], stdout: IO[str], stderr: IO[bytes]):
        self.zygote, self.stdin, self.stdout, self.stderr = zygote, stdin, stdout, stderr
        self.returncode, self.lock = None, threading.Lock()

    def kill(self) -> None:
        """End it and what it started (the Zygote sweeps its sandbox); the sandbox itself if the Zygote
        does not listen."""
        if self.returncode is not None:
            return
        try:
            self.zygote.control.send(b"kill")
        except OSError:
            self.zygote.alive = False
            self.zygote.process.kill()

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code, once the Zygote has cleaned up after it; TimeoutExpired after `timeout` seconds.
        Without a timeout, a Zygote that has not answered in ZYGOTE_WAIT seconds has its sandbox killed."""
        with self.lock:
            if self.returncode is None:
                self.zygote.control.settimeout(timeout or ZYGOTE_WAIT)
                try:
                    said = self.zygote.control.recv(64).split()
                except TimeoutError:
                    if timeout is not None:
                        raise subprocess.TimeoutExpired("a zygote's child", timeout) from None
                    self.zygote.process.kill()
                    said = []
                except OSError:
                    said = []
                if len(said) != 2 or said[1] != b"1":
                    self.zygote.alive = False
                if not said:  # the sandbox ended: its own last words are the child's
                    self.stderr.seek(0, 2)
                    self.stderr.write(last_line(self.zygote.stderr).encode() + b"\n")
                self.returncode = int(said[0]) if said else self.zygote.process.wait()
        return self.returncode

    def end(self) -> None:
        """Kill it if it runs, and wait for the Zygote's word that its sandbox is clean (a Zygote that
        does not say so in time is not used again)."""
        self.kill()
        try:
            self.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.zygote.alive = False
        with contextlib.suppress(OSError):
            self.stdin.close()


ZYGOTES: list[Zygote] = []  # idle, one a worker at most
ZYGOTE_WAIT = 30.0  # the longest a Zygote may take to clean its sandbox once its child is killed


@contextlib.contextmanager
def zygote(disk_mb: int):
    """An idle Zygote of --disk `disk_mb` (a new one if none), back among the idle after use if it is
    still sound."""
    with LIVE_LOCK:
        idle = next((forks for forks in ZYGOTES if forks.disk_mb == disk_mb), None)
        if idle is not None:
            ZYGOTES.remove(idle)
    forks = idle or Zygote(disk_mb)
    try:
        yield forks
    finally:
        with LIVE_LOCK:
            if forks.alive and not STOPPING.is_set():
                ZYGOTES.append(forks)
                forks = None
        if forks is not None:
            forks.close()


def close_zygotes() -> None:
    """End the idle Zygotes (the class is graded)."""
    with LIVE_LOCK:
        idle = list(ZYGOTES)
        ZYGOTES.clear()
    for forks in idle:
        forks.close()


# What every exercise needs of the child: TensorFlow, a graph and a session
CHILD_CHECK = ("import tensorflow as tf\nwith tf.compat.v1.Session() as session:\n"
               "    session.run(tf.constant(1))\n")


CHILDREN_CHECKED: dict[tuple, str | None] = {}  # child_problem's answers in this process, by its settings


def child_problem(args: argparse.Namespace) -> str | None:
    """Why the grader's child cannot run as the submissions' will (sandboxed unless --no-sandbox, within
    --memory and --disk), with the child's own words, or None: a child is started once with these
    settings in this process, with one cell that runs a TensorFlow session."""
    settings = (args.no_sandbox, args.memory, args.disk)
    if settings not in CHILDREN_CHECKED:
        CHILDREN_CHECKED[settings] = _child_problem(args)
    return CHILDREN_CHECKED[settings]


def _child_problem(args: argparse.Namespace) -> str | None:
    job = {"cells": [[0, CHILD_CHECK]], "names": [], "timeout": max(args.timeout, 60.0),
           "memory_mb": args.memory, "disk_mb": args.disk}
    where = "without a sandbox" if args.no_sandbox else "in the sandbox"
    with tempfile.TemporaryDirectory(prefix="tfsigns-grading-") as work:
        try:
            with submission_process(job, Path(work), args, Clock(180)) as (_, ready):
                said = checked_ready(ready, [])["cell_errors"]
        except (SubmissionGone, ValueError) as gone:
            said = [str(gone)]
    if said:
        return (f"the grader's child cannot run TensorFlow {where} within --memory {args.memory} MB "
                f"({said[0]})")
    return None


# The children alive now, so that Ctrl-C stops them all; once STOPPING is set, no new one starts.
LIVE: set[subprocess.Popen] = set()
LIVE_LOCK, STOPPING = threading.Lock(), threading.Event()


def stop_all() -> None:
    """Stop every child and start none again (the grading was interrupted)."""
    STOPPING.set()
    with LIVE_LOCK:
        for process in LIVE:
            with contextlib.suppress(OSError):
                process.kill()

"""The sandbox a submission's process runs in, and starting it: bubblewrap around
`python -m tfsigns.grading.child`, a root of its own that binds only the system's libraries, Python's
prefixes, the tfsigns modules the child needs (child.CHILD_MODULES), SIGNS' files read only and an
empty /tmp; the first message of the child checked as untrusted data; and the start-up check that such
a child can run TensorFlow at all, before a class is graded."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from tfsigns.grading.answers import Submission, SubmissionGone
from tfsigns.grading.child import CHILD_MODULES, HELPER_MODULES, NOTEBOOK_MODULES

# the system's libraries and fonts, which Python, TensorFlow and matplotlib load
SYSTEM = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/ld.so.conf",
          "/etc/ld.so.conf.d", "/etc/fonts")


def sandbox_command(disk_mb: int, helpers: bool = False) -> list[str]:
    """bubblewrap around the child: a root of its own with the system's libraries, Python's prefixes
    (symlinks resolved), of tfsigns only CHILD_MODULES (any other copy of the package there hidden),
    SIGNS' files read only, and an empty /tmp of `disk_mb` MB, its home; no network, no other process."""
    package = Path(__file__).resolve().parents[1]
    roots = sorted({Path(p).resolve() for p in (sys.prefix, sys.base_prefix)})
    hidden = {package, *(Path(entry).resolve() / "tfsigns" for entry in sys.path if entry)}
    hidden = [path for path in sorted(hidden) if path.is_dir() and any(path.is_relative_to(r) for r in roots)]
    modules = CHILD_MODULES + NOTEBOOK_MODULES + (HELPER_MODULES if helpers else ())
    files = [package / f"{name}.py" for name in modules] + _signs_files()
    environment = [arg for item in child_environment("/tmp").items() for arg in ("--setenv", *item)]
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", *environment,
            "--dev", "/dev", "--proc", "/proc", "--size", str(disk_mb << 20), "--tmpfs", "/tmp",
            *(arg for path in SYSTEM for arg in ("--ro-bind-try", path, path)),
            *(arg for path in roots for arg in ("--ro-bind", str(path), str(path))),
            *(arg for path in hidden for arg in ("--tmpfs", str(path))),
            *(arg for path in files for arg in ("--ro-bind", str(path), str(path))),
            "--remount-ro", "/", "--chdir", "/tmp"]


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
    """Whether bubblewrap is installed and can start a sandbox here."""
    if shutil.which("bwrap") is None:
        return False
    command = [*sandbox_command(16), sys.executable, "-c", ""]
    return subprocess.run(command, capture_output=True).returncode == 0


NOTE_LENGTH = 300  # a note from a submission's process is cut to this many characters
DESCRIPTION = {"kind": str, "callable": bool, "numpy_alone": bool, "module": str, "name": str}


class Malformed(ValueError):
    """What a submission's process sent is not what the grader's protocol allows."""


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
def submission_process(job: dict, work: Path, args: argparse.Namespace):
    """A child process for the submission (sandboxed unless --no-sandbox) that has run its cells:
    (Submission, what it defined); stopped on leaving."""
    command = [sys.executable, "-m", "tfsigns.grading.child"]
    if args.no_sandbox:  # trusted: the grader's environment, a temporary folder of the host
        env = {**os.environ, **child_environment(str(work))}
    else:
        sandbox = sandbox_command(args.disk, helpers=bool(job.get("helpers")))
        env, command = child_environment("/tmp"), [*sandbox, *command]  # bwrap sets it
    with tempfile.TemporaryFile() as stderr:  # its last line tells why a process that died died
        with LIVE_LOCK:
            if STOPPING.is_set():
                raise SubmissionGone("the grading was interrupted")
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                       text=True, cwd=work, env=env, start_new_session=True)
            LIVE.add(process)
        submission = Submission(process, grace=min(30.0, max(5.0, args.timeout)), stderr=stderr)
        try:
            submission.send(job)
            cells = args.timeout * len(job["cells"]) + 60  # each cell at its limit, within the total
            left = max(1.0, job["deadline"] - time.monotonic())
            said = f"its total of {job['total']:g} s" if left < cells else ""
            yield submission, submission.receive(min(cells, left), said)
        finally:
            submission.stop()
            process.wait()
            with LIVE_LOCK:
                LIVE.discard(process)


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
           "memory_mb": args.memory, "disk_mb": args.disk, "deadline": time.monotonic() + 180, "total": 180}
    where = "without a sandbox" if args.no_sandbox else "in the sandbox"
    with tempfile.TemporaryDirectory(prefix="tfsigns-grading-") as work:
        try:
            with submission_process(job, Path(work), args) as (_, ready):
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

"""A submission's own process, when a class is graded: `python -m tfsigns.grading.child`.

The grader (tfsigns.grading.classroom) starts it in a sandbox that binds only Python, its libraries,
the submission's folder, SIGNS read only, and the few tfsigns modules named in CHILD_MODULES: this
one, how answers are carried (answers) and described (feedback), and what they import. The
references, the checks and their cases are not in the sandbox at all, so a cell cannot import or read
them; where model() is graded with the reference helpers, each helper it calls is a ReferenceHelper that
asks the grader, which runs the reference in its own process and answers with what it built, as data. The
child runs the notebook's code cells, then answers the grader's requests with data.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import io
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import sys
import time
import types
from collections.abc import Callable

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.grading.answers import (
    RESULT,
    Candidate,
    Timeout,
    adapter,
    answer,
    decode,
    encode,
    guard,
    in_fresh_graph,
    numpy_alone,
    rebuilt,
    rebuilt_containers,
    time_limit,
)
from tfsigns.grading.feedback import kind
from tfsigns.grading.feeds import Feeds

# The package's files the child needs (paths under tfsigns/, without .py): all the sandbox binds of it
CHILD_MODULES = ("__init__", "backend", "portable/__init__", "portable/native", "grading/__init__",
                 "grading/answers", "grading/feedback", "grading/graphs", "grading/feeds", "grading/child")
# what a notebook may import there besides tfsigns.grader: SIGNS' loader (the data is bound read only)
NOTEBOOK_MODULES = ("images/__init__", "images/dataset")
HELPERS: dict[str, Callable] = {}  # the reference helpers' stand-ins, by the exercises' names, where asked
CHANNEL: list = []  # [the grader's requests, the answers' stream], for the stand-ins to ask the grader


class ReferenceHelper:
    """Stands for the reference helper `name` in model(): a call sends what it is given to the grader (the
    tensors and variables among it described by their dtype and shape), which runs the reference in its
    own process (tfsigns.grading.helpers); it answers with data, which this makes into the learner's graph:
    placeholders, variables with their initial values, and the ops the reference built on the inputs."""

    def __init__(self, name: str):
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        requests, results = CHANNEL
        inputs: list = []
        message = {"helper": self.__name__, "args": _described((args, kwargs), inputs),
                   "seed": v1.get_default_graph().seed}
        results.write(RESULT + json.dumps(message) + "\n")
        results.flush()
        reply = json.loads(requests.readline())
        if "raised" in reply:
            raise rebuilt(reply["raised"])
        outputs = {}
        if reply["fragment"]:
            graph_def = v1.GraphDef.FromString(base64.b64decode(reply["fragment"]))
            mapped = {f"{name}:0": tf.convert_to_tensor(inputs[int(name.split("_")[-1])])
                      for name in reply["inputs"]}
            names = reply["outputs"]
            tensors = tf.graph_util.import_graph_def(graph_def, input_map=mapped, return_elements=names,
                                                     name=f"reference_{self.__name__}")
            outputs = dict(zip(names, tensors, strict=True))
        return rebuilt_containers(reply["value"], lambda data: _built(data, outputs))


def _described(value, inputs: list):
    """A helper's arguments as data; a tensor or variable as {"input": [its index in `inputs`, dtype,
    shape]}."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        inputs.append(value)
        shape = value.shape.as_list() if value.shape.rank is not None else None
        return {"input": [len(inputs) - 1, value.dtype.base_dtype.name, shape]}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_described(v, inputs) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), _described(v, inputs)] for k, v in value.items()]}
    return encode(value)


def _built(data, outputs: dict):
    """A value a reference helper returned, from the grader's data: a placeholder or a variable made here,
    an output of the fragment, a NumPy value as it is."""
    if isinstance(data, dict) and "placeholder" in data:
        name, dtype, shape = data["placeholder"]
        return v1.placeholder(dtype, shape, name=name)
    if isinstance(data, dict) and "variable" in data:
        name, value, trainable = data["variable"]
        return v1.get_variable(name, initializer=decode(value), trainable=trainable)
    if isinstance(data, dict) and "output" in data:
        return outputs[data["output"]]
    return decode(data)


def _with_helpers(fn: Candidate) -> Candidate:
    """fn (a learner's model) with HELPERS, the reference helpers' stand-ins, in place of the learner's own
    functions of those names, where the job brought them."""
    own = getattr(fn, "__wrapped__", fn)
    if HELPERS and isinstance(own, types.FunctionType):
        swapped = types.FunctionType(own.__code__, {**own.__globals__, **HELPERS}, own.__name__,
                                     own.__defaults__, own.__closure__)
        swapped.__kwdefaults__ = own.__kwdefaults__
        return guard(swapped)
    return fn


@adapter
def with_reference_helpers(fn: Candidate) -> Candidate:
    """fn with the reference helpers' stand-ins (_with_helpers), called in a fresh graph."""
    return in_fresh_graph(_with_helpers(fn))


@adapter
def with_its_feeds(fn: Candidate) -> Callable:
    """fn (a learner's model(X_train, Y_train, X_test, Y_test, ...)) called in a fresh graph (with HELPERS
    where the job brought them), returning (its result, what it fed its sessions: tfsigns.grading.feeds),
    and whether it built its own graph (none of its ops in the one it was called in)."""
    run = _with_helpers(fn)
    return lambda *args, **kwargs: _with_feeds(run, args, kwargs)


def _with_feeds(run: Callable, args: tuple, kwargs: dict) -> tuple:
    feeds = Feeds(*args[:4])
    owner = next(cls for cls in v1.Session.__mro__ if "run" in vars(cls))  # BaseSession, for every session
    original = owner.run

    def recording(session, fetches, feed_dict=None, *rest, **named):
        feeds.record(session, fetches, feed_dict)
        return original(session, fetches, feed_dict, *rest, **named)
    owner.run = recording
    try:
        with tf.Graph().as_default() as called_in:
            result = run(*args, **kwargs)
    finally:
        owner.run = original
    return result, {**feeds.summary(), "own_graph": not called_in.get_operations()}


def cell_code(source: str) -> str:
    """A code cell's Python: IPython's magics and shell lines (%..., !...) left out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _describe(value) -> dict:
    """What the grader needs to know of a name a notebook defined, before it asks for answers."""
    return {"kind": kind(value), "callable": callable(value), "numpy_alone": numpy_alone(value),
            "module": getattr(value, "__module__", None) or "", "name": getattr(value, "__qualname__", "")}


def _quiet_grader() -> None:
    """The notebook's `from tfsigns.grader import grade, grade_all`: here they do nothing (the grader
    asks its own questions, with checks that are not in this process)."""
    stand_in = types.ModuleType("tfsigns.grader", "grade() and grade_all() of a graded submission: no-ops")
    stand_in.grade = stand_in.grade_all = lambda *args, **kwargs: None
    sys.modules["tfsigns.grader"] = stand_in


def child_main() -> int:
    """The job (a JSON line) on stdin, then the grader's requests, one a line; the answers on stdout,
    which the submission's own prints never reach."""
    job = json.loads(sys.stdin.readline())
    memory, disk = job["memory_mb"] << 20, job["disk_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))  # a file; the grader watches the folder's total
    results = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    _quiet_grader()
    namespace: dict = {"__name__": "__main__"}
    cell_errors = []
    for number, source in job["cells"]:
        first_line = next((line.strip() for line in source.splitlines() if line.strip()), "")
        cell = f"cell {number} ({first_line[:40]})"
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    time_limit(job["timeout"]):
                exec(compile(cell_code(source), f"<cell {number}>", "exec"), namespace)
        except Timeout:
            cell_errors.append(f"{cell} ran past {job['timeout']:g} s and was stopped")
        except BaseException as err:  # noqa: BLE001  (whatever a cell raises, the grading goes on)
            first = str(err).splitlines()[0] if str(err) else ""
            cell_errors.append(f"{cell} raised {type(err).__name__}: {first}")
    HELPERS.update({name: ReferenceHelper(name) for name in job.get("helpers", ())})
    CHANNEL[:] = [sys.stdin, results]
    defined = {name: _describe(namespace[name]) for name in job["names"] if name in namespace}
    results.write(RESULT + json.dumps({"cell_errors": cell_errors, "defined": defined}) + "\n")
    results.flush()
    for line in sys.stdin:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            reply = answer(namespace, json.loads(line))
        results.write(RESULT + json.dumps(reply) + "\n")
        results.flush()
    return 0



@adapter
def batch_norm_outputs(fn: Candidate) -> Callable[[np.ndarray, dict], tuple[dict, int]]:
    """Outputs of fn in training and test mode, then the moving averages after running UPDATE_OPS
    once; and how many update ops fn added."""
    return lambda X, params: _batch_norm_outputs(fn, X, params)


def _batch_norm_outputs(fn: Candidate, X: np.ndarray, params: dict) -> tuple[dict, int]:
    with tf.Graph().as_default() as graph:
        variables = {key: tf.Variable(value, name=key) for key, value in params.items()}
        training = v1.placeholder_with_default(True, shape=[], name="training")
        ZL = fn(tf.constant(X), variables, training)
        updates = graph.get_collection(v1.GraphKeys.UPDATE_OPS)
        moving = {key: var for key, var in variables.items() if key.startswith("moving")}
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            out = {"training": sess.run(ZL), "test": sess.run(ZL, {training: False})}
            if updates:
                sess.run(updates)
            out["moving"] = sess.run(moving)
    return out, len(updates)


def zygote_main(control: socket.socket) -> int:
    """A sandbox's first process, TensorFlow imported once: for each b"run" on `control` (a SEQPACKET
    socket to the grader, with the new child's stdin, stdout and stderr), fork a child_main; on b"kill",
    or when it exits, end every other process of the sandbox and empty its writable folders, then say
    "<exit code> <1 if clean>". Not clean: it exits, and the grader starts a new sandbox. It is the
    sandbox's init (bwrap --as-pid-1), which its processes cannot signal, and it makes itself
    undumpable, which its children inherit: none can trace or write into it, or into the next child."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # no handler: a signal from inside is ignored by an init
    modes = {folder: os.stat(folder).st_mode & 0o7777 for folder in WRITABLE if os.path.isdir(folder)}
    while True:
        message, fds, _, _ = socket.recv_fds(control, 16, 3)
        if not message:
            return 0  # the grader is gone
        if message != b"run" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue  # a kill for a child that had ended already
        pid = os.fork()
        if pid == 0:
            control.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in [int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2]:
                with contextlib.suppress(OSError):
                    os.close(fd)  # the grader's socket, and whatever the import left open
            np.random.seed()
            random.seed()
            os._exit(child_main())
        for fd in fds:
            os.close(fd)
        code, grader_gone = _until_ended(pid, control)
        clean = _sweep(modes)
        if grader_gone:
            return 0
        control.send(f"{code} {int(clean)}".encode())
        if not clean:
            return 1


def _until_ended(pid: int, control: socket.socket) -> tuple[int, bool]:
    """The child's exit code once it ends on its own or b"kill" ends it (with every process it started);
    and whether the grader went away meanwhile."""
    ended = os.pidfd_open(pid)
    grader_gone = False
    while ended not in select.select([ended, control], [], [])[0]:
        message = control.recv(16)
        grader_gone = not message
        if message in (b"", b"kill"):
            os.kill(-1, signal.SIGKILL)  # every process here but this one and the sandbox's init
    os.close(ended)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), grader_gone


PR_SET_DUMPABLE = 4
WRITABLE = ("/tmp", "/dev/shm")  # all a sandbox's processes can write (/dev/mqueue holds queues)
IPC_TABLES = ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem")


def _sweep(modes: dict[str, int], seconds: float = 5.0) -> bool:
    """End every other process of the sandbox (what a child left running), empty WRITABLE and give them
    back their `modes`, so that nothing of one submission meets the next; whether that worked within
    `seconds`, and no System V or POSIX IPC object is left (they outlive their processes)."""
    me, deadline = os.getpid(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:  # the orphans the init inherited
                pass
        if not [pid for pid in _processes() if pid != me]:
            break
        time.sleep(0.01)
    else:
        return False
    for folder, mode in modes.items():
        with contextlib.suppress(OSError):
            os.chmod(folder, mode)
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)  # what cannot go (a folder made unwritable)
            else:  # stays, and the sandbox is not clean
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    left = [table for table in IPC_TABLES if os.path.exists(table) and len(open(table).readlines()) > 1]
    queues = os.listdir("/dev/mqueue") if os.path.isdir("/dev/mqueue") else []
    return not left and not queues and all(
        os.stat(folder).st_mode & 0o7777 == mode and not os.listdir(folder) for folder, mode in modes.items())


def _processes() -> list[int]:
    """The pids of this sandbox's live processes (zombies, which do nothing, left out)."""
    alive = []
    for name in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if name.isdigit() and open(f"/proc/{name}/stat").read().rpartition(")")[2].split()[0] != "Z":
                alive.append(int(name))
    return alive


if __name__ == "__main__":
    if sys.argv[1:2] == ["--zygote"]:
        sys.exit(zygote_main(socket.socket(fileno=int(sys.argv[2]))))
    sys.exit(child_main())

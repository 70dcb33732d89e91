"""Running a learner's function and carrying its answer as data.

In a notebook the grader calls the learner's function itself. When a class is graded
(tfsigns.grading.classroom) the function lives in the submission's own process, and the checks in the
grader's: a check calls a `Remote` stand-in, which sends the arguments to the submission's process;
there the function is run by a named adapter (in a fresh graph, on constants, evaluated, ...), and
only the answer comes back, as data: arrays, numbers, containers, a graph's GraphDef, what a tensor
is (feedback.TensorInfo), or what the function raised. Nothing in the answer is code, so whatever the
submission changes in its own process, the grader's checks and references stay the grader's.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import io
import json
import queue
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.grading.feedback import TensorInfo, is_symbolic, kind

Candidate = Callable[..., Any]
PACKAGE = str(Path(__file__).resolve().parents[1])  # tfsigns/, whose frames are not the learner's


class Blank(Exception):
    """The candidate returned None: the exercise is not filled in yet."""


class CandidateError(Exception):
    """The candidate raised `error`."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class GraphRunError(Exception):
    """A graph the candidate built failed to run in the submission's process (a TensorFlow OpError
    there); its class is named after that error."""


def guard(candidate: Candidate) -> Candidate:
    """The candidate, with its exceptions wrapped in CandidateError and a None result turned into Blank."""
    def call(*args, **kwargs):
        try:
            result = candidate(*args, **kwargs)
        except (Exception, SystemExit) as err:
            raise CandidateError(err) from err
        if result is None:
            raise Blank
        return result
    call.__wrapped__ = candidate
    return call


def learner_frames(err: BaseException) -> list[str]:
    """The names of the functions `err` went through, outermost first, tfsigns' own left out."""
    frames = getattr(err, "frames", None)
    if frames is not None:  # an error that crossed from a submission's process
        return frames
    return [frame.name for frame in traceback.extract_tb(err.__traceback__)
            if not str(Path(frame.filename).resolve()).startswith(PACKAGE)]


def numpy_alone(fn: Any) -> bool:
    """Whether fn's code refers to NumPy and never to TensorFlow (tf, v1, or one of their functions), in
    its own body, in a function it defines inside, or in a function of the learner's that it calls.
    tfsigns' own code (the references, which build graphs) counts as TensorFlow; code that refers to
    neither (a dict of functions, say) is not held against the learner."""
    if isinstance(fn, Remote):
        return fn.numpy_alone
    seen, todo, numpy = set(), [fn], False
    while todo:
        function = todo.pop()
        code = getattr(function, "__code__", None)
        if (getattr(function, "__module__", None) or "").startswith("tfsigns"):
            return False
        if code is None or id(code) in seen:
            continue
        seen.add(id(code))
        codes, names = [code], set()
        while codes:
            each = codes.pop()
            names |= set(each.co_names)
            codes += [const for const in each.co_consts if hasattr(const, "co_names")]
        for value in (function.__globals__.get(name) for name in names):
            module = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None) or ""
            if module.split(".")[0] in ("tensorflow", "keras", "tfsigns"):
                return False
            numpy |= module.split(".")[0] == "numpy"
            if inspect.isfunction(value):
                todo.append(value)
    return numpy


# ------------------------------------------------------------------ adapters: how a check runs a candidate


ADAPTERS: dict[str, Callable[[Candidate], Candidate]] = {}


def adapter(make: Callable[[Candidate], Candidate]) -> Callable[[Candidate], Candidate]:
    """Register `make` (candidate -> a function running it and returning its answer) by its name. On a
    Remote candidate the adapter runs in the submission's process, and the answer comes back as data."""
    ADAPTERS[make.__name__] = make

    def adapt(candidate: Candidate) -> Candidate:
        return candidate.via(make.__name__) if isinstance(candidate, Remote) else make(candidate)
    adapt.__name__, adapt.__doc__ = make.__name__, make.__doc__
    return adapt


@adapter
def in_fresh_graph(fn: Candidate) -> Candidate:
    """fn called inside a fresh default graph (its result returned as it is)."""
    def run(*args, **kwargs):
        with tf.Graph().as_default():
            return fn(*args, **kwargs)
    return run


def evaluate(value: Any) -> Any:
    """`value` with the NumPy values of the tensors it holds (variables initialized), the rest as it is."""
    leaves = tf.nest.flatten(value)
    where = [i for i, leaf in enumerate(leaves) if is_symbolic(leaf)]
    if not where:
        return value
    graph = leaves[where[0]].graph
    with graph.as_default(), v1.Session(graph=graph) as sess:
        sess.run(v1.global_variables_initializer())
        for i, result in zip(where, sess.run([leaves[i] for i in where]), strict=True):
            leaves[i] = result
    return tf.nest.pack_sequence_as(value, leaves)


@adapter
def evaluated(fn: Candidate) -> Candidate:
    """fn called inside a fresh graph, the tensors and variables it returns evaluated."""
    return lambda *args: evaluate(in_fresh_graph(fn)(*args))


def _constants(args: Sequence[Any]) -> list[Any]:
    """tf.constant copies of NumPy arguments (and of dicts of them, named by their keys)."""
    return [{key: tf.constant(v, name=key) for key, v in a.items()} if isinstance(a, Mapping)
            else tf.constant(a) for a in args]


@adapter
def on_constants(fn: Candidate) -> Candidate:
    """fn of NumPy arrays (and dicts of them): called on tf.constant copies in a fresh graph, evaluated.
    An answer with no tensor in it is the candidate's error: model() builds on the tensor it returns."""
    return evaluated(lambda *args: _tensor_of(fn(*_constants(args))))


def _tensor_of(value: Any) -> Any:
    if not any(is_symbolic(leaf) for leaf in tf.nest.flatten(value)):
        raise CandidateError(TypeError(f"returned {kind(value)}, a value computed already, not a tensor of "
                                       "the graph: return the tensor, which model() runs in its own session"))
    return value


@adapter
def graph_of(fn: Candidate) -> Callable[..., tuple[tf.Graph, CandidateError | None]]:
    """The graph fn builds on constant copies of its arguments, and what it raised on the way (None
    if nothing)."""
    def build(*args):
        with tf.Graph().as_default() as graph:
            try:
                fn(*_constants(args))
            except CandidateError as err:
                return graph, err
        return graph, None
    return build


# ------------------------------------------------------------------ answers as data


def _array(value: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def encode(value: Any) -> Any:
    """`value` as JSON-able data: arrays as .npy, containers item by item, a graph as its GraphDef,
    a tensor as its TensorInfo, an exception as what it says, anything else by a few words."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic) or isinstance(value, np.ndarray) and value.dtype != object:
        return {"array": _array(np.asarray(value)), "scalar": isinstance(value, np.generic)}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(v) for v in value]}
    if isinstance(value, Mapping):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tf.Graph):
        return {"graph": base64.b64encode(value.as_graph_def().SerializeToString()).decode()}
    if isinstance(value, CandidateError):
        return {"raised": error_data(value.error)}
    if is_symbolic(value):
        return {"tensor": [*vars(TensorInfo.of(value)).values()]}
    if hasattr(value, "costs"):  # a History: its per-epoch costs are what a check reads
        return encode(list(value.costs))
    return {"object": kind(value)}


def error_data(err: BaseException) -> dict:
    return {"type": type(err).__name__, "message": str(err), "frames": learner_frames(err)}


_ERROR_CLASSES: dict[tuple[str, type], type] = {}
MESSAGE_LENGTH = 500  # an error's message from a submission's process is cut to this many characters


def rebuilt(data: dict, base: type = Exception) -> Exception:
    """An exception like the one `data` describes: its class's name, its message, the functions it
    went through (learner_frames); checked as untrusted data, ValueError if it is not such a description."""
    name, message, frames = data["type"], data["message"], data.get("frames", [])
    if not (isinstance(name, str) and name.isidentifier() and len(name) <= 80 and isinstance(message, str)
            and isinstance(frames, list) and all(isinstance(frame, str) for frame in frames)):
        raise ValueError("an error described otherwise than the grader's protocol says")
    cls = _ERROR_CLASSES.get((name, base)) or type(name, (base,), {})
    if len(_ERROR_CLASSES) < 1000:  # one class a name, for names a learner's code raises
        _ERROR_CLASSES.setdefault((name, base), cls)
    err = cls(message[:MESSAGE_LENGTH])
    err.frames = [frame[:80] for frame in frames[-20:]]
    return err


def decode(data: Any) -> Any:
    """The value `encode` made `data` of (a graph imported into a new tf.Graph)."""
    if not isinstance(data, dict):
        return data
    if "array" in data:
        array = np.load(io.BytesIO(base64.b64decode(data["array"])), allow_pickle=False)
        return array[()] if data["scalar"] else array
    if "list" in data:
        return [decode(v) for v in data["list"]]
    if "tuple" in data:
        return tuple(decode(v) for v in data["tuple"])
    if "dict" in data:
        return {decode(k): decode(v) for k, v in data["dict"]}
    if "graph" in data:
        graph_def = tf.compat.v1.GraphDef.FromString(base64.b64decode(data["graph"]))
        with tf.Graph().as_default() as graph:
            tf.graph_util.import_graph_def(graph_def, name="")
        return graph
    if "raised" in data:
        return CandidateError(rebuilt(data["raised"]))
    if "tensor" in data:
        name, op, dtype, shape = data["tensor"]
        return TensorInfo(name, op, dtype, None if shape is None else tuple(shape))
    return TensorInfo(data.get("object", "something"))


# ------------------------------------------------------------------ the submission's side


class Timeout(BaseException):
    """A cell or an exercise ran past its time (a BaseException, so `except Exception` in the
    submission's own code cannot swallow it)."""


def _on_alarm(signum, frame):
    raise Timeout


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Timeout in the code run inside, after `seconds`."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def answer(namespace: Mapping[str, Any], request: dict) -> dict:
    """Run the request's exercise from `namespace` through its adapter: the answer as data, or what
    went wrong."""
    try:
        run = ADAPTERS[request["adapter"]](guard(namespace[request["exercise"]]))
        with time_limit(request["timeout"]):
            return {"value": encode(run(*decode(request["args"]), **decode(request["kwargs"])))}
    except Blank:
        return {"blank": True}
    except Timeout:
        return {"timeout": request["timeout"]}
    except CandidateError as err:
        return {"raised": error_data(err.error)}
    except tf.errors.OpError as err:
        return {"graph_error": error_data(err)}
    except Exception as err:  # the adapter's own trouble with this answer: told as a failed check
        return {"check_error": error_data(err)}


# ------------------------------------------------------------------ the grader's side


class SubmissionGone(Exception):
    """The submission's process ended, or was stopped, before it answered."""


RESULT = "tfsigns-result "  # the lines the submission's process answers on begin with this
LINE_LIMIT = 64 << 20  # the longest answer taken from a submission's process, in characters


class Submission:
    """A submission's process, answering one JSON line per request; `grace` seconds beyond a
    request's own time limit before it is stopped."""

    def __init__(self, process: subprocess.Popen, grace: float = 30.0, stderr: IO[bytes] | None = None):
        self.process, self.grace, self.gone, self.stderr = process, grace, "", stderr
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while line := self.process.stdout.readline(LINE_LIMIT + 1):
            if len(line) > LINE_LIMIT:
                self.stop(f"its process sent more than {LINE_LIMIT >> 20} MB in one answer and was stopped")
                break
            if line.startswith(RESULT):
                self.lines.put(line[len(RESULT):])
        self.lines.put(None)

    def receive(self, seconds: float, limit: str = "") -> dict:
        """The next answer, waiting at most `seconds` (`limit`: what they are, for the message, when not
        just a number of seconds); SubmissionGone (the process stopped) if none."""
        if self.gone:
            raise SubmissionGone(self.gone)
        deadline = time.monotonic() + seconds
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.stop()
            waited = limit or f"{seconds:.3g} s"
            self.gone = f"the submission's process gave no answer in {waited} and was stopped"
            raise SubmissionGone(self.gone) from None
        if line is None:
            try:  # it closed its channel to the grader: it ends, or it is made to
                code = self.process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                self.stop()
                code = self.process.wait()
            said = f": {last}" if (last := self.last_error()) else ": out of memory, or it exited"
            self.gone = self.gone or f"the submission's process ended (exit code {code}{said})"
            raise SubmissionGone(self.gone)
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            raise ValueError("an answer that is not JSON") from None

    def send(self, message: dict) -> None:
        """Write a request; a process that does not read it (stopped, its pipe full) is stopped after the
        grace."""
        if self.gone:
            raise SubmissionGone(self.gone)
        deaf = threading.Timer(self.grace, self.stop, ("its process stopped reading the grader's requests",))
        deaf.start()
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except OSError:
            self.gone = self.gone or "the submission's process ended before it was asked"
            raise SubmissionGone(self.gone) from None
        finally:
            deaf.cancel()

    def stop(self, why: str = "") -> None:
        """Kill the process; `why` is what the grader will say of it."""
        self.gone = self.gone or why
        with contextlib.suppress(OSError):
            self.process.kill()

    def last_error(self) -> str:
        """The last line the process wrote on stderr (at most 200 characters), or ""."""
        return "" if self.stderr is None else last_line(self.stderr)


def last_line(file: IO[bytes]) -> str:
    """The last line written to `file` (at most 200 characters), or ""."""
    file.seek(max(0, file.seek(0, 2) - 4096))
    lines = file.read().decode(errors="replace").strip().splitlines()
    return lines[-1][:200] if lines else ""


class Remote:
    """Stands in for exercise `name` of a submission: calling it (through an adapter) asks the
    submission's process, and returns the answer or raises what the candidate raised there. `held`,
    a lock the caller holds while it checks, is let go while the submission works on an answer."""

    def __init__(self, submission: Submission, name: str, timeout: float,
                 held: threading.Lock | None = None, numpy_alone: bool = False, helpers: bool = False):
        self.submission, self.name, self.timeout, self.held = submission, name, timeout, held
        self.numpy_alone = numpy_alone  # as the submission's process read it in the code
        self.helpers = helpers  # its process runs it with the reference helpers (child.HELPERS)

    def via(self, adapter_name: str) -> Candidate:
        if self.helpers and adapter_name == "in_fresh_graph":
            adapter_name = "with_reference_helpers"
        def ask(*args, **kwargs):
            request = {"exercise": self.name, "adapter": adapter_name, "args": encode(args),
                       "kwargs": encode(kwargs), "timeout": self.timeout}
            with self._let_go():
                self.submission.send(request)
                reply = self.submission.receive(self.timeout + self.submission.grace)
            if "value" in reply:
                return decode(reply["value"])
            if "blank" in reply:
                raise Blank
            if "timeout" in reply:
                raise CandidateError(TimeoutError(f"ran past its time limit, {reply['timeout']:g} s"))
            if "raised" in reply:
                raise CandidateError(rebuilt(reply["raised"]))
            if "graph_error" in reply:
                raise rebuilt(reply["graph_error"], GraphRunError)
            raise rebuilt(reply["check_error"])
        return ask

    def __call__(self, *args, **kwargs):
        return self.via("in_fresh_graph")(*args, **kwargs)

    @contextlib.contextmanager
    def _let_go(self):
        if self.held is None:
            yield
            return
        self.held.release()
        try:
            yield
        finally:
            self.held.acquire()

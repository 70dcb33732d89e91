"""Running a learner's function and carrying its answer as data.

In a notebook the grader calls the learner's function itself. When a class is graded
(tfsigns.grading.classroom) the function lives in the submission's own process, and the checks in the
grader's: a check calls a stand-in (tfsigns.grading.remote), which sends the arguments to the submission's
process; there the function is run by a named adapter (in a fresh graph, on constants, evaluated, ...), and
only the answer comes back, as data: arrays, numbers, containers, what a graph's ops are (GraphOps, where
the exercise asks for a graph), what a tensor is (feedback.TensorInfo), or what the function raised.
Nothing in the answer is code, so whatever the submission changes in its own process, the grader's checks
and references stay the grader's; `decode` reads it as untrusted data, within limits on its size.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import io
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.grading.feedback import TensorInfo, is_symbolic, kind
from tfsigns.grading.graphs import GraphOps, graph_ops

Candidate = Callable[..., Any]
PACKAGE = str(Path(__file__).resolve().parents[1])  # tfsigns/, whose frames are not the learner's


class Blank(Exception):
    """The candidate returned None: the exercise is not filled in yet, or (`printed`) it printed its result
    instead of returning it."""

    def __init__(self, printed: bool = False):
        super().__init__()
        self.printed = printed


class CandidateError(Exception):
    """The candidate raised `error`."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class GraphRunError(Exception):
    """A graph the candidate built failed to run in the submission's process (a TensorFlow OpError
    there); its class is named after that error."""


def guard(candidate: Candidate) -> Candidate:
    """The candidate, called on copies of its NumPy arguments (so that one that changes what it is given
    changes none of the grader's; `changed` gathers the names of those it changed), with its exceptions
    wrapped in CandidateError and a None result turned into Blank (printed: it printed something)."""
    def call(*args, **kwargs):
        given = (_copied(args), _copied(kwargs))
        watch = _Watched(sys.stdout)
        sys.stdout = watch
        try:
            result = candidate(*given[0], **given[1])
        except (Exception, SystemExit) as err:
            raise CandidateError(err) from err
        finally:
            sys.stdout = watch.stream
            call.changed |= _changed(candidate, (args, kwargs), given)
        if result is None:
            raise Blank(watch.written)
        return result
    call.__wrapped__, call.changed = candidate, set()
    return call


class _Watched:
    """A stream that passes everything on to `stream` and remembers whether anything was written."""

    def __init__(self, stream):
        self.stream, self.written = stream, False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text.strip())
        return self.stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _copied(value: Any) -> Any:
    """`value` with every NumPy array in it (in lists, tuples and dicts) copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copied(item) for item in value)
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


def _changed(candidate: Candidate, original: tuple, given: tuple) -> set[str]:
    """The names of the candidate's arguments whose arrays it changed in place."""
    try:
        names = list(inspect.signature(candidate).parameters)
    except (TypeError, ValueError):
        names = []
    pairs = [*((names[i] if i < len(names) else f"argument {i + 1}", a, b)
               for i, (a, b) in enumerate(zip(original[0], given[0], strict=True))),
             *((key, original[1][key], given[1][key]) for key in original[1])]
    return {name for name, before, after in pairs if not _same(before, after)}


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and before.shape == after.shape and bool(
            np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
    if isinstance(before, (list, tuple)):
        return isinstance(after, (list, tuple)) and len(before) == len(after) and all(
            _same(a, b) for a, b in zip(before, after, strict=True))
    if isinstance(before, dict):
        return isinstance(after, dict) and all(key in after and _same(value, after[key])
                                               for key, value in before.items())
    return True


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
    if isinstance(fn, Elsewhere):
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


class Elsewhere:
    """A candidate that lives in another process (tfsigns.grading.remote.Remote): an adapter runs it there,
    through its via(adapter's name), and `numpy_alone` is what that process read in its code."""

    numpy_alone = False

    def via(self, adapter_name: str) -> Candidate:
        raise NotImplementedError


def adapter(make: Callable[[Candidate], Candidate]) -> Callable[[Candidate], Candidate]:
    """Register `make` (candidate -> a function running it and returning its answer) by its name. On a
    Remote candidate the adapter runs in the submission's process, and the answer comes back as data."""
    ADAPTERS[make.__name__] = make

    def adapt(candidate: Candidate) -> Candidate:
        return candidate.via(make.__name__) if isinstance(candidate, Elsewhere) else make(candidate)
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
def graph_of(fn: Candidate) -> Callable[..., tuple[GraphOps, CandidateError | None]]:
    """What the graph fn builds on constant copies of its arguments is (GraphOps), and what it raised on
    the way (None if nothing)."""
    def build(*args):
        with tf.Graph().as_default() as graph:
            try:
                fn(*_constants(args))
            except CandidateError as err:
                return GraphOps.of(graph), err
        return GraphOps.of(graph), None
    return build


# ------------------------------------------------------------------ answers as data


def _array(value: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def encode(value: Any) -> Any:
    """`value` as JSON-able data: arrays as .npy, containers item by item, a graph as its GraphOps,
    a tensor as its TensorInfo, an exception as what it says, anything else by a few words."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic) or isinstance(value, np.ndarray) and value.dtype != object:
        return {"array": _array(np.asarray(value)), "scalar": isinstance(value, np.generic)}
    if isinstance(value, GraphOps):
        return {"graph": [[op.name, op.type, list(op.inputs), list(op.window), list(op.strides), op.padding]
                          for op in value]}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(v) for v in value]}
    if isinstance(value, Mapping):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
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
def rebuilt_containers(data: Any, leaf: Callable[[Any], Any]) -> Any:
    """The lists, tuples and dicts `encode` made `data` of, rebuilt, each other value read by `leaf`."""
    if isinstance(data, dict) and ("list" in data or "tuple" in data):
        items = [rebuilt_containers(item, leaf) for item in data.get("list", data.get("tuple"))]
        return items if "list" in data else tuple(items)
    if isinstance(data, dict) and "dict" in data:
        return {decode(key): rebuilt_containers(item, leaf) for key, item in data["dict"]}
    return leaf(data)


# One AST built at a time in this process: on Python 3.11 two threads building ASTs at once can fail with
# "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905), and the grader's workers decode
# answers (np.load parses each .npy header with ast) and read notebooks' imports side by side.
PARSING = threading.Lock()
MESSAGE_LENGTH = 500  # an error's message from a submission's process is cut to this many characters


HIDDEN = "(its message is not shown where model() ran beside the reference helpers)"


def rebuilt(data: dict, base: type = Exception, quiet: bool = False) -> Exception:
    """An exception like the one `data` describes: its class's name, its message (HIDDEN where `quiet`),
    the functions it went through (learner_frames); checked as untrusted data, ValueError if it is not such
    a description."""
    name, message, frames = data["type"], data["message"], data.get("frames", [])
    if not (isinstance(name, str) and name.isidentifier() and len(name) <= 80 and isinstance(message, str)
            and isinstance(frames, list) and all(isinstance(frame, str) for frame in frames)):
        raise ValueError("an error described otherwise than the grader's protocol says")
    cls = _ERROR_CLASSES.get((name, base)) or type(name, (base,), {})
    if len(_ERROR_CLASSES) < 1000:  # one class a name, for names a learner's code raises
        _ERROR_CLASSES.setdefault((name, base), cls)
    err = cls(HIDDEN if quiet else message[:MESSAGE_LENGTH])
    err.frames = [frame[:80] for frame in frames[-20:]]
    return err


def decode(data: Any, graph: bool = False, quiet: bool = False) -> Any:
    """The value `encode` made `data` of, checked as untrusted data (ValueError where it is not such data):
    a graph's GraphOps only where `graph` (the exercise asks for one), of MAX_GRAPH_OPS ops at most; what a
    tensor is, or any other object, without its own words where `quiet`."""
    if not isinstance(data, dict):
        return data
    if "array" in data:
        raw = io.BytesIO(base64.b64decode(data["array"], validate=True))
        with PARSING:  # np.load reads the .npy header with ast.literal_eval
            array = np.load(raw, allow_pickle=False)
        return array[()] if data["scalar"] else array
    if "list" in data:
        return [decode(v, graph, quiet) for v in data["list"]]
    if "tuple" in data:
        return tuple(decode(v, graph, quiet) for v in data["tuple"])
    if "dict" in data:
        return {decode(k, graph, quiet): decode(v, graph, quiet) for k, v in data["dict"]}
    if "graph" in data:
        if not graph:
            raise ValueError("a graph, where the exercise asks for none")
        return graph_ops(data["graph"])
    if "raised" in data:
        return CandidateError(rebuilt(data["raised"], quiet=quiet))
    if "tensor" in data:
        name, op, dtype, shape = data["tensor"]
        known = shape is None or isinstance(shape, list) and all(n is None or type(n) is int for n in shape)
        if not (known and all(isinstance(text, str) and len(text) <= 200 for text in (name, op, dtype))):
            raise ValueError("a tensor described otherwise than the grader's protocol says")
        return TensorInfo("a tensor" if quiet else name, op, dtype, None if shape is None else tuple(shape))
    said = data.get("object", "something")
    return TensorInfo("an object" if quiet or not isinstance(said, str) else said[:100])


# ------------------------------------------------------------------ the submission's side


class Timeout(BaseException):
    """A cell or an exercise ran past its time (a BaseException, so `except Exception` in the
    submission's own code cannot swallow it)."""


def _on_alarm(signum, frame):
    raise Timeout


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Timeout in the code run inside, after `seconds` (the main thread's: SIGALRM's handler)."""
    before = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def answer(namespace: Mapping[str, Any], request: dict) -> dict:
    """Run the request's exercise from `namespace` through its adapter: the answer as data, or what
    went wrong."""
    guarded = guard(namespace[request["exercise"]])
    try:
        run = ADAPTERS[request["adapter"]](guarded)
        with time_limit(request["timeout"]):
            value = encode(run(*decode(request["args"]), **decode(request["kwargs"])))
        return {"value": value, "changed": sorted(guarded.changed)}
    except Blank as blank:
        return {"blank": True, "printed": blank.printed}
    except Timeout:
        return {"timeout": request["timeout"]}
    except CandidateError as err:
        return {"raised": error_data(err.error)}
    except tf.errors.OpError as err:
        return {"graph_error": error_data(err)}
    except Exception as err:  # the adapter's own trouble with this answer: told as a failed check
        return {"check_error": error_data(err)}


RESULT = "tfsigns-result "  # the lines the submission's process answers on begin with this

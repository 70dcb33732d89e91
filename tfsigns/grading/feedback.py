"""The grader's wording: what an exception hints at, shapes and values in words, and the first
difference between an expected answer and a candidate's.

Nothing here runs a candidate or knows an exercise; tfsigns.grader calls it to word its reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfsigns.backend import tf

RTOL, ATOL = 1e-4, 1e-5

# ------------------------------------------------------------------ exceptions


# (substring of "ExceptionType: message", hint) for exceptions a candidate of any assignment typically
# raises; a hint may be a function of that text, returning None where it does not fit. Hints that
# belong to one course or one exercise live with it (tfsigns.grader), and are tried first.
ErrorHints = Sequence[tuple[str, "str | Callable[[str], str | None]"]]
# the variables an optimizer's minimize() makes: Adam's beta powers and each optimizer's slots
OPTIMIZER_VARIABLES = ("beta1_power", "beta2_power", "/Adam", "/Momentum", "/RMSProp", "/Adagrad")
LATE_OPTIMIZER_HINT = ("the optimizer makes variables of its own when minimize() builds it: make it before "
                       "v1.global_variables_initializer(), which initializes the variables there are when "
                       "it is made")
ERROR_HINTS: ErrorHints = (
    ("not compatible with eager execution", "TensorFlow 2 runs eagerly outside a graph: build inside "
     "`with tf.Graph().as_default():` (the grader calls each function inside a fresh graph)"),
    ("clear nested graphs", "the grader already calls your function inside a fresh graph: use "
     "`with tf.Graph().as_default():` instead of v1.reset_default_graph()"),
    ("module 'tensorflow' has no attribute", "TensorFlow 2 keeps the 1.x graph API under tf.compat.v1: "
     "write v1.placeholder, v1.Session, v1.get_variable, ... (v1 is tf.compat.v1)"),
    ("as a Python `bool`", "`training` is a tensor, not a Python bool: pick the branch with "
     "tf.cond(training, lambda: ..., lambda: ...)"),
    ("uninitialized", lambda text: LATE_OPTIMIZER_HINT if any(name in text for name in OPTIMIZER_VARIABLES)
     else None),
    ("uninitialized", "run the initializer, v1.global_variables_initializer, in the session before reading "
     "any variable"),
    ("already exists", "a variable was made twice in one graph: make each variable once, inside "
     "`with tf.Graph().as_default():`"),
)


def error_hint(err: BaseException, first: ErrorHints = ()) -> str | None:
    """The hint for this exception, if one fits: from `first` (the exercise's and its assignment's
    own, tried before the others), then from ERROR_HINTS."""
    text = f"{type(err).__name__}: {err}"
    for key, hint in (*first, *ERROR_HINTS):
        if key in text and (found := hint(text) if callable(hint) else hint):
            return found
    return None


# Lines of a TensorFlow run-time error that say where, not what: its first line is always
# "Graph execution error:", then the node and the Python lines that defined it.
WHERE_LINES = ("Graph execution error:", "Detected at node", "File ", "Node: ", "[[", "Original stack trace")


def describe_error(err: BaseException) -> str:
    """"TypeError: the line of its message that says what went wrong", which for a TensorFlow
    run-time error is not its first, with the op it happened in."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    what = [line for line in lines if not line.startswith(WHERE_LINES)]
    node = next((line[len("Node: "):] for line in lines if line.startswith("Node: ")), None)
    text = (what or lines or [""])[0][:300]
    return f"{type(err).__name__}: {text}" + (f" (in op {node})" if node and what else "")


# ------------------------------------------------------------------ shapes and values in words


SINGULAR = {"classes": "class", "examples": "example", "units": "unit", "features": "feature",
            "rows": "row", "columns": "column", "samples": "sample", "minibatches": "minibatch",
            "channels": "channel", "filters": "filter"}


def _noun(name: str, n: int) -> str:
    """`name` ("units in layer 1") agreeing with n: "1 unit in layer 1"."""
    first, _, rest = name.partition(" ")
    word = SINGULAR.get(first, first) if n == 1 else first
    return f"{word} {rest}".strip()


def _plural(noun: str) -> str:
    """"minibatch" -> "minibatches", "item" -> "items"."""
    return next((p for p, s in SINGULAR.items() if s == noun), noun + "s")


def _shape_words(shape: tuple, axes: Sequence[str]) -> str:
    """(6, 4) with ("classes", "examples") -> "6 classes x 4 examples, one column per example"."""
    if shape == ():
        return "a single number"
    if len(axes) != len(shape):
        return ""
    words = " x ".join(f"any number of {axis}" if n is None else f"{n} {_noun(axis, n)}"
                       for n, axis in zip(shape, axes, strict=True))
    return words + (", one column per example" if axes[-1] == "examples" and len(shape) == 2 else "")


def shape_message(expected: tuple, got: tuple | None, axes: Sequence[str] = ()) -> str:
    """"expected shape (6, 4): 6 classes x 4 examples, ...; got (4, 6), looks transposed"."""
    words = _shape_words(expected, axes)
    message = f"expected shape {expected}{': ' + words if words else ''}; "
    if got is None:
        return message + "got a tensor of unknown shape"
    message += f"got {got}"
    if len(expected) == 2 and expected[0] != expected[1] and got == expected[::-1]:
        return message + ", looks transposed"
    if None not in expected and None not in got and got and math.prod(got) == math.prod(expected):
        return message + ", the right number of values in another shape"
    return message


@dataclass(frozen=True)
class TensorInfo:
    """What the grader needs of a graph tensor, variable or op that crossed from a submission's process
    as data: how to name it, and for a tensor its op's type, its dtype and its (partly known) shape."""

    kind: str
    op: str = ""
    dtype: str = ""
    shape: tuple | None = None

    @classmethod
    def of(cls, value: Any) -> TensorInfo:
        if not isinstance(value, tf.Tensor):
            return cls(kind(value))
        shape = tuple(value.shape.as_list()) if value.shape.rank is not None else None
        return cls(kind(value), value.op.type, value.dtype.name, shape)


def is_symbolic(value: Any) -> bool:
    """Whether value is a graph tensor, variable or op rather than a value (or what crossed of one)."""
    return isinstance(value, (tf.Tensor, tf.Variable, tf.Operation, TensorInfo))


def kind(value: Any) -> str:
    """A few words for what a value is: "a tuple of 3", "an array of shape (4, 6)"."""
    if value is None:
        return "None"
    if isinstance(value, TensorInfo):
        return value.kind
    if is_symbolic(value):
        shape = getattr(value, "shape", None)
        return f"a {type(value).__name__} {value.name!r}" + ("" if shape is None else f" of shape {shape}")
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _fmt(array: np.ndarray) -> str:
    """An array on one short line."""
    text = np.array2string(np.asarray(array), precision=4, threshold=12, edgeitems=2, separator=", ",
                           max_line_width=10**6)
    return " ".join(text.split())


# ------------------------------------------------------------------ expected and got


def _item_name(level: str | tuple[str, ...], i: int) -> str:
    """Item i of a level: its name from the tuple, or "minibatch 3"."""
    return level[i] if isinstance(level, tuple) else f"{level} {i + 1}"


def _count(n: int, level: str | tuple[str, ...]) -> str:
    """n items of a level: "3 minibatches", or "2 items (mini_batch_X, mini_batch_Y)"."""
    if isinstance(level, tuple):
        return f"{len(level)} items ({', '.join(level)})"
    return f"{n} {level if n == 1 else _plural(level)}"


def difference(expected: Any, got: Any, axes: Sequence[str] = (), levels: Sequence = (),
               exact: bool = False) -> str | None:
    """None when `got` matches `expected`, else the first difference in words: containers item by item
    (`levels` names each level's items), arrays by shape (in words of `axes`), then values."""
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict with keys {sorted(expected)}, got {kind(got)}"
        missing = [key for key in expected if key not in got]
        if missing:
            return f"missing keys {missing}"
        return next((f"{key}: {problem}" for key in expected
                     if (problem := difference(expected[key], got[key], axes, levels, exact))), None)
    if isinstance(expected, (list, tuple)):
        level, rest = (levels[0], levels[1:]) if levels else ("item", ())
        if not isinstance(got, (list, tuple)):
            return f"expected a {type(expected).__name__} of {_count(len(expected), level)}, got {kind(got)}"
        if len(got) != len(expected):
            return f"expected {_count(len(expected), level)}, got {len(got)}"
        pairs = enumerate(zip(expected, got, strict=True))
        return next((f"{_item_name(level, i)}: {problem}" for i, (e, g) in pairs
                     if (problem := difference(e, g, axes, rest, exact))), None)
    if is_symbolic(got):
        return f"returned {kind(got)}, not its value: evaluate it with sess.run"
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"expected numbers, got {kind(got)}"
    expected_array = np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        return shape_message(expected_array.shape, got_array.shape, axes)
    same = (np.array_equal(got_array, expected_array) if exact
            else np.allclose(got_array, expected_array, rtol=RTOL, atol=ATOL, equal_nan=True))
    return None if same else value_difference(expected_array, got_array)


SHOWN_WHOLE = 12  # arrays of at most this many values are shown whole; larger ones by their differences


def value_difference(expected: np.ndarray, got: np.ndarray) -> str:
    """Two arrays of one shape that differ, on one short line: whole when small, else where they
    first differ and where they differ most (a 4-D volume printed whole is kilobytes a line)."""
    if expected.size <= SHOWN_WHOLE:
        return f"expected {_fmt(expected)}, got {_fmt(got)}"
    wrong = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL)
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    gap = np.where(np.isnan(got) != np.isnan(expected), np.inf, np.abs(np.nan_to_num(got - expected)))
    worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return (f"{int(wrong.sum())} of {expected.size} values differ; the first at {list(first)}: expected "
            f"{expected[first]:.4g}, got {got[first]:.4g}; the largest difference {gap[worst]:.4g} at "
            f"{[int(i) for i in worst]}")


def placeholder_problem(tensor: Any, expected: tuple, axes: Sequence[str]) -> str | None:
    """What is wrong with a placeholder that should be float32 of shape `expected` (None where the
    number of examples goes), its axes named by `axes`. `tensor` may be the TensorInfo of one."""
    info = TensorInfo.of(tensor) if isinstance(tensor, tf.Tensor) else tensor
    if not isinstance(info, TensorInfo) or not info.op:
        return f"expected a placeholder tensor, got {kind(tensor)}"
    if info.op != "Placeholder":
        return f"expected a v1.placeholder, got the output of a {info.op} op"
    if info.dtype != "float32":
        return f"dtype {info.dtype}, expected float32"
    got = info.shape
    if got == expected:
        return None
    message = shape_message(expected, got, axes)
    if got is not None and len(got) == len(expected) and all(
            n == e for n, e in zip(got, expected, strict=True) if e is not None):
        message += ", a fixed number of examples: None lets a minibatch of any size through"
    return message

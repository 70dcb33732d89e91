"""Auto-grader for notebooks/Exercises.ipynb: each exercise is checked against the tfsigns reference.

    from tfsigns.grader import grade, grade_all
    grade("one_hot_matrix", one_hot_matrix)   # prints "one_hot_matrix: PASS", or FAIL with reasons
    grade_all(globals())                      # every exercise defined in the notebook

A check never raises because of the candidate: an exception, a blank exercise (one that
returns None) and a wrong answer all print FAIL, one line per failed check, and a one-line
hint. Typical mistakes (transposed shapes, labels and logits swapped, a missing ReLU,
alpha sampled uniformly, ...) are recognised by computing what that mistake produces on
the same inputs and comparing it with the candidate's answer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from tfsigns import basics
from tfsigns import model as reference_model
from tfsigns.data import convert_to_one_hot, minibatch_permutation, random_mini_batches

v1 = tf.compat.v1

BLANK = "returned None: fill in the code between ### START CODE HERE ### and ### END CODE HERE ###"
RTOL, ATOL = 1e-4, 1e-5
Candidate = Callable[..., Any]


# ------------------------------------------------------------------ reporting


class _Blank(Exception):
    """The candidate returned None: the exercise is not filled in yet."""


class _CandidateError(Exception):
    """The candidate raised `error`."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def _guard(candidate: Candidate) -> Candidate:
    """The candidate, with its exceptions wrapped and a None result turned into _Blank."""
    def call(*args, **kwargs):
        try:
            result = candidate(*args, **kwargs)
        except (Exception, SystemExit) as err:
            raise _CandidateError(err) from err
        if result is None:
            raise _Blank
        return result
    return call


@dataclass
class Report:
    """Failed checks of one exercise, and hints for them (first one wins)."""

    failures: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def fail(self, message: str, hint: str | None = None) -> None:
        self.failures.append(message)
        if hint and hint not in self.hints:
            self.hints.append(hint)


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: what to call it, how to fix it, and what it returns
    (`wrong` takes the same arguments as the exercise)."""

    what: str
    hint: str
    wrong: Callable[..., Any]


@dataclass(frozen=True)
class Case:
    """One call of an exercise: a label for the report and the arguments."""

    label: str
    args: tuple


# (substring of "ExceptionType: message", hint) for exceptions a candidate typically raises.
MATMUL_HINT = ("check the shapes: W[l] is (n_l, n_{l-1}) and A[l-1] is (n_{l-1}, m), "
               "so Z[l] = tf.matmul(W[l], A[l-1]) + b[l], in that order")
ERROR_HINTS = (
    ("not compatible with eager execution", "TensorFlow 2 runs eagerly outside a graph: build inside "
     "`with tf.Graph().as_default():` (the grader calls each function inside a fresh graph)"),
    ("clear nested graphs", "the grader already calls your function inside a fresh graph: use "
     "`with tf.Graph().as_default():` instead of v1.reset_default_graph()"),
    ("module 'tensorflow' has no attribute", "TensorFlow 2 keeps the 1.x graph API under tf.compat.v1: "
     "write v1.placeholder, v1.Session, v1.get_variable, ... (v1 = tf.compat.v1)"),
    ("Matrix size-incompatible", MATMUL_HINT),
    ("Dimensions must be equal", MATMUL_HINT),
    ("as a Python `bool`", "`training` is a tensor, not a Python bool: pick the branch with "
     "tf.cond(training, lambda: ..., lambda: ...)"),
    ("Cannot feed value of shape", "build the graph from the data: n_x, m = X_train.shape and "
     "n_y = Y_train.shape[0], with placeholders of shape [n_x, None] and [n_y, None]"),
    ("uninitialized", "run sess.run(v1.global_variables_initializer()) before reading any variable"),
    ("already exists", "a variable was made twice in one graph: make each variable once, inside "
     "`with tf.Graph().as_default():`"),
    ("KeyError", "parameters names its entries W1, b1, W2, ... (with batch norm: gamma1, beta1, "
     "moving_mean1, moving_variance1 instead of b1 in the hidden layers)"),
)


def _error_hint(err: BaseException) -> str | None:
    text = f"{type(err).__name__}: {err}"
    return next((hint for key, hint in ERROR_HINTS if key in text), None)


def _describe(err: BaseException) -> str:
    """"TypeError: the first line of its message"."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {(lines[0] if lines else '')[:300]}"


# ------------------------------------------------------------------ describing values


SINGULAR = {"classes": "class", "examples": "example", "units": "unit", "features": "feature",
            "rows": "row", "columns": "column", "samples": "sample", "minibatches": "minibatch"}


def _noun(name: str, n: int) -> str:
    """`name` ("units in layer 1") agreeing with n: "1 unit in layer 1"."""
    first, _, rest = name.partition(" ")
    word = SINGULAR.get(first, first) if n == 1 else first
    return f"{word} {rest}".strip()


def _plural(noun: str) -> str:
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


def _shape_message(expected: tuple, got: tuple | None, axes: Sequence[str] = ()) -> str:
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


def _is_symbolic(value: Any) -> bool:
    return isinstance(value, (tf.Tensor, tf.Variable, tf.Operation))


def _kind(value: Any) -> str:
    """A few words for what a value is: "a tuple of 3", "an array of shape (4, 6)"."""
    if value is None:
        return "None"
    if _is_symbolic(value):
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


def _item_name(level: str | tuple[str, ...], i: int) -> str:
    return level[i] if isinstance(level, tuple) else f"{level} {i + 1}"


def _count(n: int, level: str | tuple[str, ...]) -> str:
    if isinstance(level, tuple):
        return f"{len(level)} items ({', '.join(level)})"
    return f"{n} {level if n == 1 else _plural(level)}"


def _difference(expected: Any, got: Any, axes: Sequence[str] = (), levels: Sequence = (),
                exact: bool = False) -> str | None:
    """None when `got` matches `expected`, else the first difference in words.

    Lists, tuples and dicts are compared item by item; `levels` names the items of each
    nesting level (a noun such as "minibatch", or a tuple of names); arrays compare by
    shape (described with `axes`) and then values (to RTOL/ATOL, or exactly).
    """
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict with keys {sorted(expected)}, got {_kind(got)}"
        missing = [key for key in expected if key not in got]
        if missing:
            return f"missing keys {missing}"
        return next((f"{key}: {problem}" for key in expected
                     if (problem := _difference(expected[key], got[key], axes, levels, exact))), None)
    if isinstance(expected, (list, tuple)):
        level, rest = (levels[0], levels[1:]) if levels else ("item", ())
        if not isinstance(got, (list, tuple)):
            return f"expected a {type(expected).__name__} of {_count(len(expected), level)}, got {_kind(got)}"
        if len(got) != len(expected):
            return f"expected {_count(len(expected), level)}, got {len(got)}"
        pairs = enumerate(zip(expected, got, strict=True))
        return next((f"{_item_name(level, i)}: {problem}" for i, (e, g) in pairs
                     if (problem := _difference(e, g, axes, rest, exact))), None)
    if _is_symbolic(got):
        return f"returned {_kind(got)}, not its value: evaluate it with sess.run"
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"expected numbers, got {_kind(got)}"
    expected_array = np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        return _shape_message(expected_array.shape, got_array.shape, axes)
    same = (np.array_equal(got_array, expected_array) if exact
            else np.allclose(got_array, expected_array, rtol=RTOL, atol=ATOL))
    return None if same else f"expected {_fmt(expected_array)}, got {_fmt(got_array)}"


def _matches(mistake: Mistake, args: tuple, got: Any, **how) -> bool:
    """Whether `got` is what `mistake` produces on `args`."""
    try:
        return _difference(mistake.wrong(*args), got, **how) is None
    except Exception:  # a mistake that cannot even be computed on these inputs is not this one
        return False


def _compare(report: Report, label: str, expected: Any, got: Any, mistakes: Sequence[Mistake] = (),
             args: tuple = (), **how) -> bool:
    """Check `got` against `expected`; on a difference, name the typical mistake it matches."""
    problem = _difference(expected, got, **how)
    if problem is None:
        return True
    mistake = next((m for m in mistakes if _matches(m, args, got, **how)), None)
    if mistake:
        report.fail(f"{label}: {mistake.what} ({problem})", mistake.hint)
    else:
        report.fail(f"{label}: {problem}")
    return False


# ------------------------------------------------------------------ running graphs


def _evaluate(value: Any) -> Any:
    """NumPy values of whatever tensors `value` holds (variables initialized); other values as they are."""
    tensors = [t for t in tf.nest.flatten(value) if _is_symbolic(t)]
    if not tensors:
        return value
    graph = tensors[0].graph
    with graph.as_default(), v1.Session(graph=graph) as sess:
        sess.run(v1.global_variables_initializer())
        return sess.run(value)


def _in_fresh_graph(fn: Candidate) -> Candidate:
    """fn called inside a fresh default graph (its result returned as it is)."""
    def run(*args):
        with tf.Graph().as_default():
            return fn(*args)
    return run


def _on_constants(fn: Candidate) -> Candidate:
    """fn of NumPy arrays (and dicts of them): called on tf.constant copies in a fresh graph, evaluated."""
    def constant(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: tf.constant(v, name=key) for key, v in value.items()}
        return tf.constant(value)

    def run(*args):
        with tf.Graph().as_default():
            return _evaluate(fn(*(constant(a) for a in args)))
    return run


def _value_check(reference: Candidate, cases: Sequence[Case], mistakes: Sequence[Mistake] = (),
                 adapt: Callable[[Candidate], Candidate] = _in_fresh_graph, **how):
    """A check comparing candidate and reference, both run through `adapt`, case by case."""
    def check(candidate: Candidate, report: Report) -> None:
        run, expect = adapt(candidate), adapt(reference)
        for case in cases:
            _compare(report, case.label, expect(*case.args), run(*case.args), mistakes, case.args, **how)
    return check


# ------------------------------------------------------------------ NumPy versions of typical mistakes


def _log_softmax(Z: np.ndarray, axis: int) -> np.ndarray:
    Z = Z - Z.max(axis=axis, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=axis, keepdims=True))


def _np_forward(X: np.ndarray, parameters: dict, hidden_relu: bool = True, last_relu: bool = False,
                softmax_axis: int | None = None) -> np.ndarray:
    """LINEAR -> RELU ... -> LINEAR in NumPy, with the ReLUs and a final softmax switchable."""
    L = reference_model.num_layers(parameters)
    A = X
    for l in range(1, L + 1):
        Z = parameters[f"W{l}"] @ A + parameters[f"b{l}"]
        A = np.maximum(Z, 0) if (last_relu if l == L else hidden_relu) else Z
    return A if softmax_axis is None else np.exp(_log_softmax(A, softmax_axis))


def _np_cost(ZL: np.ndarray, Y: np.ndarray, swapped: bool, transposed: bool, reduce: str) -> Any:
    """softmax_cross_entropy_with_logits as a candidate may have called it."""
    logits, labels = (Y, ZL) if swapped else (ZL, Y)
    axis = 0 if transposed else 1  # the function's softmax runs over the last axis it is given
    losses = -(labels * _log_softmax(logits, axis)).sum(axis=axis)
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduce]


def _np_minibatches(X: np.ndarray, Y: np.ndarray, size: int, seed: int, shuffle_x: bool = True,
                    shuffle_y: bool = True, partial: bool = True, empty_tail: bool = False) -> list:
    """The course's minibatches, with the usual slips switchable."""
    m = X.shape[1]
    permutation = minibatch_permutation(m, seed)
    X, Y = (X[:, permutation] if shuffle_x else X), (Y[:, permutation] if shuffle_y else Y)
    starts = list(range(0, m - m % size, size))
    if m % size and partial:
        starts.append(m - m % size)
    if empty_tail and not m % size:
        starts.append(m)
    return [(X[:, k:k + size], Y[:, k:k + size]) for k in starts]


def _seeded_linear(order: Sequence[str], add_b: bool = True) -> np.ndarray:
    """Y = WX + b with X (3, 1), W (4, 3), b (4, 1) drawn after np.random.seed(1) in `order`."""
    shapes = {"X": (3, 1), "W": (4, 3), "b": (4, 1)}
    np.random.seed(1)
    drawn = {name: np.random.randn(*shapes[name]) for name in order}
    return drawn["W"] @ drawn["X"] + (drawn["b"] if add_b else 0)


# ------------------------------------------------------------------ exercise data


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _network(dims: Sequence[int], seed: int, batch_norm: bool = False) -> dict[str, np.ndarray]:
    """Fixed float32 parameters of a network; with batch_norm, the hidden layers get gamma, beta and
    moving averages (variances in [0.5, 2]) instead of b."""
    rng, params, L = _rng(seed), {}, len(dims) - 1
    for l in range(1, L + 1):
        n = dims[l]
        params[f"W{l}"] = rng.normal(0, 0.6, (n, dims[l - 1]))
        if batch_norm and l < L:
            params.update({f"gamma{l}": 1 + 0.3 * rng.normal(size=(n, 1)),
                           f"beta{l}": rng.normal(0, 0.5, (n, 1)),
                           f"moving_mean{l}": rng.normal(0, 0.5, (n, 1)),
                           f"moving_variance{l}": rng.uniform(0.5, 2.0, (n, 1))})
        else:
            params[f"b{l}"] = rng.normal(0, 0.5, (n, 1))
    return {key: value.astype(np.float32) for key, value in params.items()}


def _one_hot(labels: Sequence[int], C: int) -> np.ndarray:
    return convert_to_one_hot(np.asarray(labels), C)


def _blobs(m: int, n_x: int, C: int, rng: np.random.Generator, centres: np.ndarray) -> tuple:
    """Separable data: X (n_x, m) around the C centres, one-hot Y (C, m)."""
    labels = rng.integers(0, C, size=m)
    X = (centres[labels] + rng.normal(0, 0.5, size=(m, n_x))).T.astype(np.float32)
    return X, convert_to_one_hot(labels, C)


def _course_cost_inputs() -> tuple[np.ndarray, np.ndarray]:
    return 1 / (1 + np.exp(-np.array([0.2, 0.4, 0.7, 0.9]))), np.array([0.0, 0.0, 1.0, 1.0])


LINEAR_CASES = (Case("linear_function()", ()),)
SIGMOID_CASES = (Case("sigmoid(0)", (0.0,)), Case("sigmoid(12)", (12.0,)),
                 Case("sigmoid(z) for z = [-2, 0, 3]", (np.array([-2.0, 0.0, 3.0]),)))
COST_CASES = (Case("cost(sigmoid([0.2, 0.4, 0.7, 0.9]), labels=[0, 0, 1, 1])", _course_cost_inputs()),
              Case("cost(logits=[-1.5, 0.3, 2.0], labels=[1, 0, 1])",
                   (np.array([-1.5, 0.3, 2.0]), np.array([1.0, 0.0, 1.0]))))
ONE_HOT_CASES = tuple(Case(f"one_hot_matrix(labels={labels}, C={C})", (np.array(labels), C))
                      for labels, C in (([1, 2, 3, 0, 2, 1], 4), ([0, 5, 2, 5], 6)))
ONES_CASES = tuple(Case(f"ones({shape})", (shape,)) for shape in ((3,), (2, 3)))
FORWARD_CASES = tuple(
    Case(f"forward_propagation(X {(dims[0], m)}, parameters of a {'-'.join(map(str, dims))} network)",
         (_rng(seed).normal(size=(dims[0], m)).astype(np.float32), _network(dims, seed)))
    for dims, m, seed in (((10, 7, 5, 4), 6, 0), ((6, 5, 4, 3), 5, 1)))
COMPUTE_COST_CASES = tuple(
    Case(f"compute_cost(ZL {(C, m)}, Y {(C, m)})",
         ((2 * _rng(seed).normal(size=(C, m))).astype(np.float32),
          _one_hot(_rng(seed + 1).integers(0, C, m), C)))
    for C, m, seed in ((4, 6, 0), (6, 3, 2)))
MINIBATCH_CASES = tuple(
    Case(f"random_mini_batches(X {(n_x, m)}, Y {(n_y, m)}, mini_batch_size={size}, seed={seed})",
         (np.arange(n_x * m, dtype=float).reshape(n_x, m), _rng(seed).integers(0, 2, (n_y, m)).astype(float),
          size, seed))
    for n_x, n_y, m, size, seed in ((4, 1, 148, 64, 0), (3, 2, 12, 4, 1), (2, 3, 10, 3, 7)))
PLACEHOLDER_SIZES = ((12288, 6), (5, 3))
LAYER_DIMS = ((12288, 25, 12, 6), (10, 7, 3))
BN_DIMS, BN_EXAMPLES = (6, 5, 4, 3), 8
BN_MOMENTUM = 0.99


# ------------------------------------------------------------------ typical mistakes

LOGITS_HINT = ("return Z[L], the last LINEAR output, as it is: the softmax is applied inside compute_cost "
               "by softmax_cross_entropy_with_logits")
LINEAR_MISTAKES = (
    Mistake("b was not added", "Y = tf.add(tf.matmul(W, X), b)", lambda: _seeded_linear("XWb", add_b=False)),
    *(Mistake(f"the values were drawn in the order {', '.join(order)}",
              "draw X (3, 1), then W (4, 3), then b (4, 1): np.random.randn gives different numbers in "
              "another order", lambda order=order: _seeded_linear(order))
      for order in itertools.permutations("XWb") if order != tuple("XWb")),
)
COST_MISTAKES = (
    Mistake("labels and logits look swapped",
            "pass them by keyword: tf.nn.sigmoid_cross_entropy_with_logits(logits=z, labels=y), feeding the "
            "logits to z and the labels to y", lambda logits, labels: basics.cost(labels, logits)),
    Mistake("the sigmoid was applied to the logits first",
            "feed the logits as they are: sigmoid_cross_entropy_with_logits applies the sigmoid itself",
            lambda logits, labels: basics.cost(1 / (1 + np.exp(-np.asarray(logits))), labels)),
    Mistake("returned the mean loss", "return one loss per element, not their mean",
            lambda logits, labels: np.mean(basics.cost(logits, labels))),
)
ONE_HOT_MISTAKES = (
    Mistake("returned (m, C), one row per example",
            "tf.one_hot(labels, C, axis=0): axis=0 puts the C classes on the rows, one column per example",
            lambda labels, C: basics.one_hot_matrix(labels, C).T),
)
FORWARD_MISTAKES = (
    Mistake("no ReLU between the layers", "A[l] = tf.nn.relu(Z[l]) after every hidden layer; only the "
            "last layer stays linear", lambda X, p: _np_forward(X, p, hidden_relu=False)),
    Mistake("a ReLU on the output layer", LOGITS_HINT, lambda X, p: _np_forward(X, p, last_relu=True)),
    *(Mistake("softmax applied to the output", LOGITS_HINT,
              lambda X, p, axis=axis: _np_forward(X, p, softmax_axis=axis)) for axis in (0, 1)),
)
COST_SLIPS = {  # a slip in compute_cost -> (what, hint)
    "swapped": ("labels and logits swapped", "pass them by keyword: softmax_cross_entropy_with_logits("
                "logits=tf.transpose(ZL), labels=tf.transpose(Y))"),
    "transpose": ("no tf.transpose, so the softmax runs over the examples instead of the classes",
                  "the function wants one row per example: pass tf.transpose(ZL) and tf.transpose(Y)"),
    "sum": ("tf.reduce_sum instead of tf.reduce_mean", "the cost is the mean over the m examples, "
            "J = 1/m sum_i L(i): use tf.reduce_mean, not tf.reduce_sum"),
    "none": ("no tf.reduce_mean, so one loss per example", "wrap the per-example losses in tf.reduce_mean"),
}


def _compute_cost_mistakes() -> Iterator[Mistake]:
    """Every combination of the slips in COST_SLIPS (the correct one left out)."""
    settings = itertools.product((False, True), (True, False), ("mean", "sum", "none"))
    for swapped, transposed, reduce in settings:
        slips = [slip for slip, on in (("swapped", swapped), ("transpose", not transposed),
                                       (reduce, reduce != "mean")) if on]
        if slips:
            yield Mistake(" and ".join(COST_SLIPS[s][0] for s in slips),
                          "; ".join(COST_SLIPS[s][1] for s in slips),
                          lambda ZL, Y, s=swapped, t=transposed, r=reduce: _np_cost(ZL, Y, s, t, r))


MINIBATCH_SLIPS = (  # (what, hint, the slip as options of _np_minibatches)
    ("the last, smaller minibatch is missing", "after the floor(m / mini_batch_size) full minibatches, add "
     "one more with the m % mini_batch_size columns left", {"partial": False}),
    ("an empty minibatch at the end", "add the last minibatch only when m % mini_batch_size != 0",
     {"empty_tail": True}),
    ("the columns were not shuffled", "np.random.seed(seed); permutation = list(np.random.permutation(m)); "
     "then X[:, permutation] and Y[:, permutation]", {"shuffle_x": False, "shuffle_y": False}),
    ("Y was not shuffled along with X", "shuffle Y with the same permutation as X: "
     "Y[:, permutation].reshape((n_y, m))", {"shuffle_y": False}),
)
MINIBATCH_MISTAKES = tuple(
    Mistake(what, hint, lambda X, Y, size, seed, o=options: _np_minibatches(X, Y, size, seed, **o))
    for what, hint, options in MINIBATCH_SLIPS)


# ------------------------------------------------------------------ graph-building exercises


PLACEHOLDER_HINT = ("X = v1.placeholder(tf.float32, shape=[n_x, None], name='X'), Y likewise with n_y: "
                    "one column per example, None leaves the number of examples open")


def _placeholder_problem(tensor: Any, n: int, axis: str) -> str | None:
    """What is wrong with a placeholder that should be float32 of shape [n, None]."""
    if not isinstance(tensor, tf.Tensor):
        return f"expected a placeholder tensor, got {_kind(tensor)}"
    if tensor.op.type != "Placeholder":
        return f"expected a v1.placeholder, got the output of a {tensor.op.type} op"
    if tensor.dtype != tf.float32:
        return f"dtype {tensor.dtype.name}, expected float32"
    got = tuple(tensor.shape.as_list()) if tensor.shape.rank is not None else None
    if got == (n, None):
        return None
    message = _shape_message((n, None), got, (axis, "examples"))
    if got is not None and len(got) == 2 and got[0] == n:
        message += ", a fixed number of examples: None lets a minibatch of any size through"
    return message


def _check_create_placeholders(candidate: Candidate, report: Report) -> None:
    for n_x, n_y in PLACEHOLDER_SIZES:
        label = f"create_placeholders({n_x}, {n_y})"
        with tf.Graph().as_default():
            result = candidate(n_x, n_y)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            report.fail(f"{label}: expected a pair (X, Y), got {_kind(result)}")
            continue
        for name, tensor, n, axis in (("X", result[0], n_x, "features"), ("Y", result[1], n_y, "classes")):
            if problem := _placeholder_problem(tensor, n, axis):
                report.fail(f"{label}: {name}: {problem}", PLACEHOLDER_HINT)


GLOROT_HINT = ("W{l} = v1.get_variable('W{l}', [layer_dims[l], layer_dims[l-1]], "
               "initializer=v1.glorot_uniform_initializer(seed=1))")
# (key prefix, test of the initial values, message when the test fails, hint)
INIT_RULES = (
    ("W", lambda w, bound: np.ptp(w) > 0,
     lambda key, w, bound: f"{key} starts with all entries equal to {w.flat[0]:.3g}: every unit would "
                           "compute the same thing, so symmetry is never broken", GLOROT_HINT),
    ("W", lambda w, bound: np.abs(w).max() <= bound * (1 + 1e-6),
     lambda key, w, bound: f"{key} has values up to {np.abs(w).max():.3g}, beyond the Glorot/Xavier bound "
                           f"sqrt(6 / (fan_in + fan_out)) = {bound:.3g}", GLOROT_HINT),
    ("b", lambda b, bound: not np.any(b),
     lambda key, b, bound: f"{key} should start at zeros, got values up to {np.abs(b).max():.3g}",
     "b{l} = v1.get_variable('b{l}', [layer_dims[l], 1], initializer=v1.zeros_initializer())"),
)


def _check_initialize_parameters(candidate: Candidate, report: Report) -> None:
    for dims in LAYER_DIMS:
        label = f"initialize_parameters({list(dims)})"
        L = len(dims) - 1
        expected = {f"{p}{l}": (dims[l], dims[l - 1] if p == "W" else 1)
                    for l in range(1, L + 1) for p in "Wb"}
        with tf.Graph().as_default():
            parameters = candidate(list(dims))
            if not isinstance(parameters, Mapping):
                report.fail(f"{label}: expected a dict of variables, got {_kind(parameters)}")
                continue
            missing = [key for key in expected if key not in parameters]
            if missing:
                report.fail(f"{label}: missing keys {missing}; expected {list(expected)}")
                continue
            values = _evaluate({key: parameters[key] for key in expected})
        for key, shape in expected.items():
            value, l = np.asarray(values[key], dtype=float), int(key[1:])
            if value.shape != shape:
                axes = (f"units in layer {l}", f"units in layer {l - 1}" if key[0] == "W" else "columns")
                report.fail(f"{label}: {key}: {_shape_message(shape, value.shape, axes)}", GLOROT_HINT)
                continue
            bound = math.sqrt(6 / (dims[l] + dims[l - 1]))
            for prefix, test, message, hint in INIT_RULES:
                if key[0] == prefix and not test(value, bound):
                    report.fail(f"{label}: {message(key, value, bound)}", hint)


UPDATE_OPS_HINT = ("for moving_mean and moving_variance make op = moving.assign(0.99 * moving + "
                   "0.01 * batch_stat) and v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, op); "
                   "the train op runs them under "
                   "tf.control_dependencies(v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))")


def _reference_bn(X: tf.Tensor, parameters: dict, training: tf.Tensor) -> tf.Tensor:
    """The batch-norm forward pass with the notebook's signature."""
    return reference_model.forward_propagation(X, parameters, batch_norm=True, training=training)


def _run_bn(fn: Candidate, X: np.ndarray, params: dict) -> tuple[dict, int]:
    """Outputs of fn in training and test mode, then the moving averages after running UPDATE_OPS
    once; and how many update ops fn added."""
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


def _check_forward_propagation_bn(candidate: Candidate, report: Report) -> None:
    X = _rng(3).normal(1.0, 2.0, size=(BN_DIMS[0], BN_EXAMPLES)).astype(np.float32)
    params = _network(BN_DIMS, seed=4, batch_norm=True)
    expected, _ = _run_bn(_reference_bn, X, params)
    got, n_updates = _run_bn(candidate, X, params)
    modes = (("training", "test", "mu and sigma^2 of the minibatch in training mode"),
             ("test", "training", "moving_mean and moving_variance in test mode"))
    for mode, other, right in modes:
        mistake = Mistake(f"the {mode} mode looks like the {other} mode",
                          f"use {right}: tf.cond(training, lambda: (batch_mean, batch_var), "
                          "lambda: (moving_mean, moving_var))", lambda other=other: expected[other])
        _compare(report, f"forward_propagation_bn(X, parameters, training={mode == 'training'})",
                 expected[mode], got[mode], (mistake,), axes=("classes", "examples"))
    initial = {key: params[key] for key in expected["moving"]}
    if not n_updates:
        report.fail("update ops not added: the tf.compat.v1.GraphKeys.UPDATE_OPS collection is empty, so "
                    "moving_mean and moving_variance never move", UPDATE_OPS_HINT)
    elif _difference(initial, got["moving"]) is None:
        report.fail("running the UPDATE_OPS collection left moving_mean and moving_variance unchanged",
                    UPDATE_OPS_HINT)
    else:
        flipped = Mistake(f"the momentum is the wrong way round ({1 - BN_MOMENTUM:g} * old + "
                          f"{BN_MOMENTUM:g} * batch)", UPDATE_OPS_HINT, lambda: {
                              key: (1 - BN_MOMENTUM) * initial[key] + BN_MOMENTUM * batch
                              for key, new in expected["moving"].items()
                              for batch in [(new - BN_MOMENTUM * initial[key]) / (1 - BN_MOMENTUM)]})
        _compare(report, f"moving averages after running UPDATE_OPS once ({BN_MOMENTUM:g} * old + "
                 f"{1 - BN_MOMENTUM:g} * batch)", expected["moving"], got["moving"], (flipped,),
                 axes=("units", "columns"))


# ------------------------------------------------------------------ hyperparameter sampling


@dataclass(frozen=True)
class Sampling:
    """A sampler exercise: the ranges it is called with and how its samples must spread.

    ranges: (low, high, n, seed, bin edges); each bin should get the same share of the samples.
    """

    ranges: tuple[tuple[float, float, int, int, tuple[float, ...]], ...]
    linear_note: str  # why sampling on a linear scale is wrong here
    outside_hint: str


def _tune_sampler(scale: str) -> Candidate:
    """Reference sampler: n draws of tfsigns.tune.Dimension on `scale`."""
    def sample(low: float, high: float, n: int, seed: int) -> np.ndarray:
        from tfsigns.tune import Dimension
        dimension, rng = Dimension("sampled", scale, low, high), np.random.default_rng(seed)
        return np.array([dimension.sample(rng) for _ in range(n)])
    return sample


SAMPLINGS = {
    "sample_learning_rate": Sampling(
        ((1e-4, 1.0, 4000, 0, (1e-4, 1e-3, 1e-2, 1e-1, 1.0)), (1e-3, 1e-1, 4000, 1, (1e-3, 1e-2, 1e-1))),
        "; almost every trial would get one of the largest learning rates",
        "return alpha = 10**r, not r: r is the exponent, uniform in [log10(low), log10(high)]"),
    "sample_beta": Sampling(
        ((0.9, 0.999, 4000, 0, (0.9, 0.99, 0.999)), (0.9, 0.9999, 4000, 1, (0.9, 0.99, 0.999, 0.9999))),
        "; the values near 1, where beta matters most (it averages over about 1/(1 - beta) steps), are "
        "rarely tried",
        "return beta = 1 - 10**r: r is the exponent of 1 - beta, "
        "uniform in [log10(1 - high), log10(1 - low)]"),
}


def _numbers(value: Any) -> np.ndarray | None:
    """value as a float array; None when it is not numbers."""
    if _is_symbolic(value):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _sampler_check(spec: Sampling) -> Callable[[Candidate, Report], None]:
    def check(candidate: Candidate, report: Report) -> None:
        for low, high, n, seed, edges in spec.ranges:
            label = f"({low:g}, {high:g}, n={n}, seed={seed})"
            samples = _numbers(candidate(low, high, n, seed))
            if samples is None or samples.shape != (n,):
                got = "something that is not numbers" if samples is None else f"shape {samples.shape}"
                report.fail(f"{label}: expected {n} samples, an array of shape ({n},); got {got}",
                            "draw all n at once: np.random.uniform(a, b, size=n)")
                continue
            outside = (samples < low * (1 - 1e-9)) | (samples > high * (1 + 1e-9))
            if outside.any():
                report.fail(f"{label}: {outside.sum()} of {n} samples lie outside [{low:g}, {high:g}] "
                            f"(min {samples.min():.4g}, max {samples.max():.4g})", spec.outside_hint)
                continue
            bins = [f"[{a:g}, {b:g}]" for a, b in itertools.pairwise(edges)]
            shares = np.histogram(samples, bins=edges)[0] / n
            if np.abs(shares - 1 / len(bins)).max() > 0.05:
                linear = np.abs(shares - np.diff(edges) / (high - low)).max() < 0.05
                top = int(shares.argmax())
                report.fail(f"{label}: {'the samples look uniform on a linear scale: ' if linear else ''}"
                            f"expected about {1 / len(bins):.0%} of the samples in each of "
                            f"{', '.join(bins)}; got {', '.join(f'{s:.0%}' for s in shares)}: "
                            f"{shares[top]:.0%} of samples fall in {bins[top]}"
                            f"{spec.linear_note if linear else ''}")
            if not np.array_equal(samples, _numbers(candidate(low, high, n, seed))):
                report.fail(f"{label}: two calls with seed={seed} gave different samples",
                            "seed the generator with the seed argument: np.random.seed(seed) first")
            elif np.array_equal(samples, _numbers(candidate(low, high, n, seed + 1))):
                report.fail(f"{label}: seeds {seed} and {seed + 1} gave the same samples: the seed is "
                            "ignored", "seed the generator with the seed argument: np.random.seed(seed)")
    return check


# ------------------------------------------------------------------ the whole model


MODEL_SETTINGS = {"learning_rate": 0.01, "num_epochs": 25, "minibatch_size": 32, "print_cost": False}
MIN_TRAIN_ACCURACY = 0.9
MODEL_SHAPE_HINT = "n_x, m = X_train.shape; n_y = Y_train.shape[0]; layer_dims = [n_x, 25, 12, n_y]"


def _reference_model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
                     learning_rate: float = 0.0001, num_epochs: int = 1500, minibatch_size: int = 32,
                     print_cost: bool = True) -> tuple[dict, Any]:
    """tfsigns.trainer.model with the notebook's signature."""
    from tfsigns.trainer import model
    return model(X_train, Y_train, X_test, Y_test, learning_rate, num_epochs, minibatch_size, print_cost)


def _model_data(n_x: int = 20, C: int = 3, m_train: int = 120, m_test: int = 60) -> tuple:
    """Separable synthetic (X_train, Y_train, X_test, Y_test), examples as columns."""
    rng = _rng(0)
    centres = rng.normal(0, 2, size=(C, n_x))
    return (*_blobs(m_train, n_x, C, rng, centres), *_blobs(m_test, n_x, C, rng, centres))


def _costs(history: Any) -> np.ndarray | None:
    """Per-epoch costs from a History (its .costs) or a plain list; None when there are none."""
    try:
        costs = np.asarray(getattr(history, "costs", history), dtype=float)
    except (TypeError, ValueError):
        return None
    return costs if costs.ndim == 1 and costs.size >= 2 else None


def _check_model(candidate: Candidate, report: Report) -> None:
    X_train, Y_train, X_test, Y_test = _model_data()
    (n_x, _), C = X_train.shape, Y_train.shape[0]
    label = f"model(X_train {X_train.shape}, {C} separable classes, {MODEL_SETTINGS['num_epochs']} epochs)"
    with tf.Graph().as_default():
        result = candidate(X_train, Y_train, X_test, Y_test, **MODEL_SETTINGS)
    parameters, history = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
    if not isinstance(parameters, Mapping) or "W1" not in parameters:
        report.fail(f"{label}: expected the trained parameters (a dict with W1, b1, ...) or (parameters, "
                    f"history), got {_kind(result)}", "return parameters = sess.run(parameters)")
        return
    if any(_is_symbolic(value) for value in parameters.values()):
        report.fail(f"{label}: the parameters are tensors, not their trained values",
                    "parameters = sess.run(parameters) while the session is still open, then return them")
        return
    L = reference_model.num_layers(parameters)
    for key, axis, size, what in (("W1", 1, n_x, f"{n_x} columns, one per row (feature) of X_train"),
                                  (f"W{L}", 0, C, f"{C} rows, one per row (class) of Y_train")):
        shape = np.shape(parameters.get(key))
        if len(shape) != 2 or shape[axis] != size:
            report.fail(f"{label}: {key} has shape {shape}; it needs {what}", MODEL_SHAPE_HINT)
    if report.failures:
        return
    costs = _costs(history)
    if costs is not None and not costs[-1] < costs[0]:
        report.fail(f"{label}: the cost did not fall: {costs[0]:.4g} after the first epoch, {costs[-1]:.4g} "
                    "after the last", "run the optimizer on every minibatch: _, minibatch_cost = "
                    "sess.run([optimizer, cost], feed_dict={X: minibatch_X, Y: minibatch_Y})")
    arrays = {key: np.asarray(value, dtype=np.float32) for key, value in parameters.items()}
    accuracy = float(np.mean(reference_model.predict(X_train, arrays) == Y_train.argmax(axis=0)))
    if accuracy < MIN_TRAIN_ACCURACY:
        report.fail(f"{label}: train accuracy {accuracy:.2f} on data the reference fits perfectly (needs at "
                    f"least {MIN_TRAIN_ACCURACY:.2f})", "minimize the cost with v1.train.AdamOptimizer("
                    "learning_rate).minimize(cost) and run it for every minibatch of every epoch")


# ------------------------------------------------------------------ the exercises


@dataclass(frozen=True)
class Exercise:
    """How to check one exercise, and the hint shown when no more pointed one applies."""

    check: Callable[[Candidate, Report], None]
    hint: str


REFERENCES: dict[str, Candidate] = {
    "linear_function": basics.linear_function,
    "sigmoid": basics.sigmoid,
    "cost": basics.cost,
    "one_hot_matrix": basics.one_hot_matrix,
    "ones": basics.ones,
    "create_placeholders": reference_model.create_placeholders,
    "initialize_parameters": reference_model.initialize_parameters,
    "forward_propagation": reference_model.forward_propagation,
    "forward_propagation_bn": _reference_bn,
    "compute_cost": reference_model.compute_cost,
    "random_mini_batches": random_mini_batches,
    "sample_learning_rate": _tune_sampler("log"),
    "sample_beta": _tune_sampler("one-minus-log"),
    "model": _reference_model,
}

_EXERCISES: dict[str, Exercise] = {
    "linear_function": Exercise(
        _value_check(basics.linear_function, LINEAR_CASES, LINEAR_MISTAKES, axes=("rows", "columns")),
        "after np.random.seed(1) draw X (3, 1), W (4, 3), b (4, 1) with np.random.randn, make them "
        "tf.constant, Y = tf.add(tf.matmul(W, X), b), and return sess.run(Y)"),
    "sigmoid": Exercise(
        _value_check(basics.sigmoid, SIGMOID_CASES),
        "x = v1.placeholder(tf.float32, name='x'); sigmoid = tf.sigmoid(x); "
        "return sess.run(sigmoid, feed_dict={x: z})"),
    "cost": Exercise(
        _value_check(basics.cost, COST_CASES, COST_MISTAKES),
        "feed two placeholders z and y to tf.nn.sigmoid_cross_entropy_with_logits(logits=z, labels=y)"),
    "one_hot_matrix": Exercise(
        _value_check(basics.one_hot_matrix, ONE_HOT_CASES, ONE_HOT_MISTAKES, axes=("classes", "examples")),
        "tf.one_hot(labels, C, axis=0), then sess.run it: one column per example"),
    "ones": Exercise(_value_check(basics.ones, ONES_CASES), "return sess.run(tf.ones(shape))"),
    "create_placeholders": Exercise(_check_create_placeholders, PLACEHOLDER_HINT),
    "initialize_parameters": Exercise(
        _check_initialize_parameters,
        "for l in 1..L: W{l} (layer_dims[l], layer_dims[l-1]) with v1.glorot_uniform_initializer(seed=1), "
        "b{l} (layer_dims[l], 1) with v1.zeros_initializer(), both made by v1.get_variable"),
    "forward_propagation": Exercise(
        _value_check(reference_model.forward_propagation, FORWARD_CASES, FORWARD_MISTAKES,
                     adapt=_on_constants, axes=("classes", "examples")),
        "Z1 = tf.matmul(W1, X) + b1, A1 = tf.nn.relu(Z1), ... and return Z3, the last LINEAR output"),
    "forward_propagation_bn": Exercise(
        _check_forward_propagation_bn,
        "hidden layer l: Z = W A; mu, var = tf.nn.moments(Z, axes=[1], keepdims=True) in training mode, "
        "moving_mean, moving_variance in test mode (tf.cond); Z_tilde = gamma (Z - mu) / sqrt(var + 1e-3) + "
        "beta; A = relu(Z_tilde); plus the moving-average updates in UPDATE_OPS"),
    "compute_cost": Exercise(
        _value_check(reference_model.compute_cost, COMPUTE_COST_CASES, tuple(_compute_cost_mistakes()),
                     adapt=_on_constants),
        "tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.transpose(ZL), "
        "labels=tf.transpose(Y)))"),
    "random_mini_batches": Exercise(
        _value_check(random_mini_batches, MINIBATCH_CASES, MINIBATCH_MISTAKES, axes=("rows", "examples"),
                     levels=("minibatch", ("mini_batch_X", "mini_batch_Y")), exact=True),
        "np.random.seed(seed); permutation = list(np.random.permutation(m)); shuffle the columns of X and Y "
        "with it; cut floor(m / mini_batch_size) full minibatches, then one with the rest"),
    "sample_learning_rate": Exercise(
        _sampler_check(SAMPLINGS["sample_learning_rate"]),
        "r = np.random.uniform(log10(low), log10(high)); alpha = 10**r (size=n, after np.random.seed(seed))"),
    "sample_beta": Exercise(
        _sampler_check(SAMPLINGS["sample_beta"]),
        "sample 1 - beta on a log scale: r = np.random.uniform(log10(1 - high), log10(1 - low)); "
        "beta = 1 - 10**r (size=n, after np.random.seed(seed))"),
    "model": Exercise(
        _check_model,
        "build the graph from the data's shape, loop over epochs and random_mini_batches running "
        "[optimizer, cost], and return sess.run(parameters)"),
}
EXERCISES: tuple[str, ...] = tuple(_EXERCISES)


def _run_checks(exercise: Exercise, candidate: Any) -> Report:
    """Run an exercise's checks on a candidate; whatever goes wrong ends up in the report."""
    report = Report()
    if not callable(candidate):
        report.fail(f"expected a function, got {_kind(candidate)}")
        return report
    try:
        exercise.check(_guard(candidate), report)
    except _Blank:
        return Report([BLANK])
    except _CandidateError as err:
        report.fail(f"raised {_describe(err.error)}", _error_hint(err.error))
    except tf.errors.OpError as err:
        report.fail(f"running the graph failed with {_describe(err)}", _error_hint(err))
    except Exception as err:
        report.fail(f"could not check the result ({_describe(err)})", _error_hint(err))
    return report


def grade(name: str, candidate: Candidate) -> bool:
    """Check exercise `name` and print "name: PASS", or "name: FAIL" with one line per failed
    check and a hint. Returns whether it passed; never raises because of the candidate."""
    if name not in _EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are {', '.join(EXERCISES)}")
    exercise = _EXERCISES[name]
    report = _run_checks(exercise, candidate)
    passed = not report.failures
    print(f"{name}: {'PASS' if passed else 'FAIL'}")
    for failure in report.failures:
        print(f"  {failure}")
    if not passed:
        print(f"hint: {report.hints[0] if report.hints else exercise.hint}")
    return passed


def grade_all(namespace: Mapping[str, Any]) -> dict[str, bool]:
    """Grade every exercise defined in `namespace` (a notebook's globals()), in lesson order."""
    results = {}
    for name in EXERCISES:
        if name in namespace:
            results[name] = grade(name, namespace[name])
        else:
            print(f"{name}: FAIL\n  not defined: run the cell that defines {name}\n"
                  f"hint: {_EXERCISES[name].hint}")
            results[name] = False
    print(f"{sum(results.values())} of {len(results)} exercises pass")
    return results

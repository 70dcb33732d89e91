"""What tfsigns.grader calls each exercise with, and the typical mistakes it recognises.

In order: NumPy versions of typical mistakes (a missing ReLU, labels and logits swapped, a
minibatch slip, ...); the exercise data (seeded networks, labels and minibatch data as Cases,
and the inputs of the other checks); and each exercise's Mistakes, whose `wrong` computes what
that mistake returns on the same inputs, so that the grader can name the mistake when a
candidate's answer equals it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfsigns.course import basics
from tfsigns.course.softmax import log_softmax
from tfsigns.images.signs import convert_to_one_hot, make_blobs, minibatch_permutation


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


# ------------------------------------------------------------------ NumPy versions of typical mistakes


def _sigmoid(z: Any) -> np.ndarray:
    """1 / (1 + exp(-z)) in NumPy."""
    return 1 / (1 + np.exp(-np.asarray(z)))


def _relu(Z: np.ndarray) -> np.ndarray:
    return np.maximum(Z, 0)


def _np_forward(X: np.ndarray, parameters: dict, hidden_relu: bool = True, last_relu: bool = False,
                softmax_axis: int | None = None, bias: bool = True, without_bias: int = 0,
                without_relu: int = 0, activation: Callable = _relu) -> np.ndarray:
    """LINEAR -> RELU ... -> LINEAR in NumPy on parameters W1, b1, ..., WL, bL, with the ReLUs (all, or
    layer `without_relu`'s, or another `activation`), the biases (all, or layer `without_bias`'s) and a final
    softmax switchable."""
    L = len(parameters) // 2
    A = X
    for l in range(1, L + 1):
        Z = parameters[f"W{l}"] @ A + (parameters[f"b{l}"] if bias and l != without_bias else 0)
        relu = last_relu if l == L else hidden_relu and l != without_relu
        A = (_relu(Z) if l == L else activation(Z)) if relu else Z
    return A if softmax_axis is None else np.exp(log_softmax(A, softmax_axis))


def _sigmoid_cost(ZL: np.ndarray, Y: np.ndarray, class_axis: int, summed: bool) -> np.floating:
    """A sigmoid cross-entropy for softmax's: the mean of its losses, or of their sums over the classes."""
    losses = np.maximum(ZL, 0) - ZL * Y + np.log1p(np.exp(-np.abs(ZL)))
    return losses.sum(axis=class_axis).mean() if summed else losses.mean()


def _np_cost(ZL: np.ndarray, Y: np.ndarray, swapped: bool, axis: int, reduce: str) -> Any:
    """softmax_cross_entropy_with_logits as a candidate may have called it, its softmax over `axis`
    (the function's runs over the last axis it is given: transposing moves it)."""
    logits, labels = (Y, ZL) if swapped else (ZL, Y)
    losses = -(labels * log_softmax(logits, axis)).sum(axis=axis)
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
    rng = np.random.RandomState(1)  # np.random.seed(1)'s stream, leaving the global one alone
    drawn = {name: rng.randn(*shapes[name]) for name in order}
    return drawn["W"] @ drawn["X"] + (drawn["b"] if add_b else 0)


def momentum_flipped(initial: dict, updated: dict, momentum: float) -> dict:
    """The moving averages after one update with `momentum` the wrong way round ((1 - momentum) * old +
    momentum * batch), from those after the right update."""
    return {key: (1 - momentum) * initial[key] + momentum * batch
            for key, new in updated.items()
            for batch in [(new - momentum * initial[key]) / (1 - momentum)]}


# ------------------------------------------------------------------ exercise data


CASE_SEED: ContextVar[int] = ContextVar("case_seed", default=0)


def case_rng(seed: int) -> np.random.Generator:
    """The generator of one case's values: from the case's own seed and the grading's (CASE_SEED: 0 in
    a notebook, the instructor's --seed for a class, so that a class's cases are not the package's)."""
    grading = CASE_SEED.get()
    return np.random.default_rng(seed if grading == 0 else (grading, seed))


def case_seed(seed: int) -> int:
    """A seed a case hands to the learner's function: `seed` in a notebook, one drawn from the grading's
    seed in a class (so that minibatches or samples memorised for the notebook's seeds do not pass)."""
    return seed if CASE_SEED.get() == 0 else int(case_rng(seed).integers(1, 1 << 20))


def _network(dims: Sequence[int], seed: int, batch_norm: bool = False) -> dict[str, np.ndarray]:
    """Fixed float32 parameters of a network; with batch_norm, the hidden layers get gamma, beta and
    moving averages (variances in [0.5, 2]) instead of b."""
    rng, params, L = case_rng(seed), {}, len(dims) - 1
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


LINEAR_CASES = (Case("linear_function()", ()),)
SIGMOID_CASES = (Case("sigmoid(0)", (0.0,)), Case("sigmoid(12)", (12.0,)),
                 Case("sigmoid(z) for z = [-2, 0, 3]", (np.array([-2.0, 0.0, 3.0]),)),
                 Case("sigmoid(z) for z = [-1.5, 0.5, 2.25]", (np.array([-1.5, 0.5, 2.25]),)))
SIGMOID_MISTAKES = (
    Mistake("z went through an integer placeholder: each value was cut to a whole number (0.5 became 0) "
            "before the sigmoid", "a float32 placeholder: z holds fractions, which an integer type drops",
            lambda z: _sigmoid(np.trunc(z))),)
COST_CASES = (Case("cost(sigmoid([0.2, 0.4, 0.7, 0.9]), labels=[0, 0, 1, 1])",
                   (_sigmoid([0.2, 0.4, 0.7, 0.9]), np.array([0.0, 0.0, 1.0, 1.0]))),
              Case("cost(logits=[-1.5, 0.3, 2.0], labels=[1, 0, 1])",
                   (np.array([-1.5, 0.3, 2.0]), np.array([1.0, 0.0, 1.0]))))


def one_hot_cases() -> tuple[Case, ...]:
    """Labels and C: the notebook's example and another in a notebook, drawn from the grading's seed in a
    class."""
    drawn = (([1, 2, 3, 0, 2, 1], 4), ([0, 5, 2, 5], 6)) if CASE_SEED.get() == 0 else tuple(
        (case_rng(40 + C).integers(0, C, m).tolist(), C) for C, m in ((4, 7), (6, 5)))
    return tuple(Case(f"one_hot_matrix(labels={labels}, C={C})", (np.array(labels), C))
                 for labels, C in drawn)


ONES_CASES = tuple(Case(f"ones({shape})", (shape,)) for shape in ((3,), (2, 3)))


def dataset_cases() -> tuple[Case, ...]:
    """Images as load_dataset returns them, (m, h, w, 3) uint8 from 0 to 255, labels (1, m)."""
    return tuple(
        Case(f"prepare_dataset(X_orig {(m, size, size, 3)} uint8, Y_orig (1, {m}), C={C})",
             (case_rng(seed).integers(0, 256, (m, size, size, 3)).astype(np.uint8),
              case_rng(seed + 1).integers(0, C, (1, m)), C))
        for m, size, C, seed in ((5, 8, 6, 30), (4, 64, 6, 31)))


def forward_cases() -> tuple[Case, ...]:
    """Seeded networks and inputs (drawn from the grading's seed, as every case below)."""
    return tuple(
        Case(f"forward_propagation(X {(dims[0], m)}, parameters of a {'-'.join(map(str, dims))} network)",
             (case_rng(seed).normal(size=(dims[0], m)).astype(np.float32), _network(dims, seed)))
        for dims, m, seed in (((10, 7, 5, 4), 6, 0), ((6, 5, 4, 3), 5, 1)))


def compute_cost_cases() -> tuple[Case, ...]:
    """Logits and one-hot labels, examples as columns."""
    return tuple(
        Case(f"compute_cost(ZL {(C, m)}, Y {(C, m)})",
             ((2 * case_rng(seed).normal(size=(C, m))).astype(np.float32),
              convert_to_one_hot(case_rng(seed + 1).integers(0, C, m), C)))
        for C, m, seed in ((4, 6, 0), (6, 3, 2))) + (
        Case("compute_cost(ZL (3, 4) of logits near 1000, Y (3, 4))",
             ((1000 + 4 * case_rng(5).normal(size=(3, 4))).astype(np.float32),
              convert_to_one_hot(case_rng(6).integers(0, 3, 4), 3))),)


def minibatch_cases() -> tuple[Case, ...]:
    """Numbered columns (so that a shuffle shows) and random labels, with and without a partial last
    minibatch."""
    return tuple(
        Case(f"random_mini_batches(X {(n_x, m)}, Y {(n_y, m)}, mini_batch_size={size}, seed={drawn})",
             (np.arange(n_x * m, dtype=float).reshape(n_x, m),
              case_rng(seed).integers(0, 2, (n_y, m)).astype(float), size, drawn))
        for n_x, n_y, m, size, seed in ((4, 1, 148, 64, 0), (3, 2, 12, 4, 1), (2, 3, 10, 3, 7))
        for drawn in [case_seed(seed)])


PLACEHOLDER_SIZES = ((12288, 6), (5, 3))
LAYER_DIMS = ((12288, 25, 12, 6), (10, 7, 3))
BN_DIMS, BN_EXAMPLES = (6, 5, 4, 3), 8


def bn_inputs() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """X (6, 8) and the parameters of a 6-5-4-3 batch-norm network for forward_propagation_bn."""
    X = case_rng(3).normal(1.0, 2.0, size=(BN_DIMS[0], BN_EXAMPLES)).astype(np.float32)
    return X, _network(BN_DIMS, seed=4, batch_norm=True)


def model_data() -> tuple[np.ndarray, ...]:
    """Separable synthetic (X_train (20, 120), Y_train, X_test (20, 60), Y_test) of 3 classes for model."""
    return make_blobs(120, 60, n_x=20, C=3, seed=CASE_SEED.get())


# ------------------------------------------------------------------ typical mistakes of each exercise

def _prepared(X_orig: np.ndarray, Y_orig: np.ndarray, C: int, flatten: Callable[[np.ndarray], np.ndarray],
              scale: float | None = 255.0, one_hot: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """prepare_dataset's (X, Y) with its slips: another flattening, another scale, labels left as they are."""
    X = flatten(X_orig).astype(float)
    return X / (scale or X.max()), convert_to_one_hot(Y_orig, C) if one_hot else Y_orig


def _columns(X_orig: np.ndarray) -> np.ndarray:
    return X_orig.reshape(X_orig.shape[0], -1).T


FLATTEN_COLUMNS = ("reshape X_orig to one row per image, (m, -1), then transpose it: one image per column")
DATASET_MISTAKES = (
    Mistake("the pixels were not divided by 255: the network would be fed 0 to 255",
            "divide the flattened pixels by 255, so that the inputs lie in [0, 1]",
            lambda X, Y, C: _prepared(X, Y, C, _columns, scale=1.0)),
    Mistake("the pixels were divided with // (floor division): every pixel below 255 became 0",
            "divide with /, which keeps the fractions, by 255.",
            lambda X, Y, C: (_columns(X) // 255, convert_to_one_hot(Y, C))),
    Mistake("the pixels were divided by the largest one, not by 255",
            "divide by 255, the largest value a pixel can take, the same for every set",
            lambda X, Y, C: _prepared(X, Y, C, _columns, scale=None)),
    Mistake("one row per image: the transpose is missing", FLATTEN_COLUMNS,
            lambda X, Y, C: _prepared(X, Y, C, lambda x: x.reshape(x.shape[0], -1))),
    Mistake("reshape(n_x, m) mixes the pixels of different images",
            f"keep each image's pixels together: {FLATTEN_COLUMNS}",
            lambda X, Y, C: _prepared(X, Y, C, lambda x: x.reshape(-1, x.shape[0]))),
    Mistake("Y has one row per example",
            "one column per example: convert_to_one_hot of Y_orig and C is (C, m) as it is",
            lambda X, Y, C: (_prepared(X, Y, C, _columns)[0], convert_to_one_hot(Y, C).T)),
    Mistake("Y is still the labels, not one-hot",
            "make Y one-hot with convert_to_one_hot: a (C, m) matrix with a 1 in each column, at its label",
            lambda X, Y, C: _prepared(X, Y, C, _columns, one_hot=False)),
    Mistake("returned (Y, X): X and Y swapped", "return X first, then Y, in the order the docstring gives",
            lambda X, Y, C: _prepared(X, Y, C, _columns)[::-1]),
)
LOGITS_HINT = ("return Z[L], the last LINEAR output, as it is: the softmax is applied inside compute_cost "
               "by softmax_cross_entropy_with_logits")
LINEAR_MISTAKES = (
    Mistake("b was not added", "W X + b: add b to the product of W and X",
            lambda: _seeded_linear("XWb", add_b=False)),
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
            lambda logits, labels: basics.cost(_sigmoid(logits), labels)),
    Mistake("returned the mean loss", "return one loss per element, not their mean",
            lambda logits, labels: np.mean(basics.cost(logits, labels))),
)
ONE_HOT_MISTAKES = (
    Mistake("returned (m, C), one row per example",
            "tf.one_hot(labels, C, axis=0): axis=0 puts the C classes on the rows, one column per example",
            lambda labels, C: basics.one_hot_matrix(labels, C).T),
    Mistake("depth C - 1: one class short, so the last class's columns are all zeros",
            "the depth is the number of classes, C: the labels run from 0 to C - 1, one row each",
            lambda labels, C: (np.asarray(labels)[None, :] == np.arange(C - 1)[:, None]).astype(float)),
)
FORWARD_MISTAKES = (
    Mistake("no ReLU between the layers", "tf.nn.relu on Z[l] after every hidden layer; only the "
            "last layer stays linear", lambda X, p: _np_forward(X, p, hidden_relu=False)),
    Mistake("a ReLU on the output layer", LOGITS_HINT, lambda X, p: _np_forward(X, p, last_relu=True)),
    *(Mistake("softmax applied to the output", LOGITS_HINT,
              lambda X, p, axis=axis: _np_forward(X, p, softmax_axis=axis)) for axis in (0, 1)),
    Mistake("no bias: Z[l] is W[l] A[l-1] alone", "Z[l] is W[l] A[l-1] + b[l]: add the bias b[l] "
            "in every layer", lambda X, p: _np_forward(X, p, bias=False)),
    *(Mistake(f"b{l} left out: Z{l} is W{l} A{l - 1} alone", f"add the bias in every layer, b{l} too",
              lambda X, p, l=l: _np_forward(X, p, without_bias=l)) for l in (1, 2, 3)),
    *(Mistake(f"no ReLU after layer {l}: Z{l} goes on to layer {l + 1} as it is",
              "every hidden layer is LINEAR then RELU; only the last layer stays linear",
              lambda X, p, l=l: _np_forward(X, p, without_relu=l)) for l in (1, 2)),
    Mistake("a sigmoid where the ReLU goes, in the hidden layers",
            "the hidden layers' activation is the ReLU, tf.nn.relu: the sigmoid belongs to the logistic "
            "warm-up", lambda X, p: _np_forward(X, p, activation=_sigmoid)),
)
GLOROT_HINT = ("make W{l} with v1.get_variable: layer_dims[l] rows, layer_dims[l-1] columns, and the "
               "Glorot/Xavier uniform initializer seeded with 1")


def glorot_bound(shape: Sequence[int]) -> float:
    """sqrt(6 / (fan_in + fan_out)) of a weight of `shape`: (n_out, n_in) for the MLP's W, (n_in, n_out)
    for a dense layer on rows, (f, f, n_C_prev, n_C) for a filter, whose fans count the f x f window."""
    window = int(np.prod(shape[:-2]))
    return float(np.sqrt(6 / (window * (shape[-2] + shape[-1]))))


def init_rules(weight_hint: str, bias_hint: str) -> tuple:
    """(key prefix, test of the initial values, message when the test fails, hint) for Glorot/Xavier
    weights and zero biases; a test takes the values and their Glorot bound."""
    return (
        ("W", lambda w, bound: np.ptp(w) > 0,
         lambda key, w, bound: f"{key} starts with all entries equal to {w.flat[0]:.3g}: every unit would "
                               "compute the same thing, so symmetry is never broken", weight_hint),
        ("W", lambda w, bound: np.abs(w).max() <= bound * (1 + 1e-6),
         lambda key, w, bound: f"{key} has values up to {np.abs(w).max():.3g}, beyond the Glorot/Xavier "
                               f"bound sqrt(6 / (fan_in + fan_out)) = {bound:.3g}", weight_hint),
        ("b", lambda b, bound: not np.any(b),
         lambda key, b, bound: f"{key} should start at zeros, got values up to {np.abs(b).max():.3g}",
         bias_hint),
    )


INIT_RULES = init_rules(GLOROT_HINT, "make b{l} with v1.get_variable: one column of layer_dims[l] "
                                     "zeros (the zeros initializer)")
COST_SLIPS = {  # a slip in compute_cost -> (what, hint)
    "swapped": ("labels and logits swapped", "pass them by keyword, the logits as logits and the labels as "
                "labels, both transposed"),
    "axis": ("no tf.transpose, so the softmax runs over the examples instead of the classes",
                  "the function wants one row per example: pass tf.transpose(ZL) and tf.transpose(Y)"),
    "sum": ("tf.reduce_sum instead of tf.reduce_mean", "the cost is the mean over the m examples, "
            "1/m times the sum of the losses: tf.reduce_mean, not tf.reduce_sum"),
    "none": ("no tf.reduce_mean, so one loss per example", "wrap the per-example losses in tf.reduce_mean"),
}




def compute_cost_mistakes(slips: dict[str, tuple[str, str]], class_axis: int) -> tuple[Mistake, ...]:
    """Every combination of the slips (keys as in COST_SLIPS) of a compute_cost whose logits have their
    classes on `class_axis` (0 or 1), the correct one left out."""
    mistakes = []
    for swapped, axis, reduce in itertools.product((False, True), (class_axis, 1 - class_axis),
                                                   ("mean", "sum", "none")):
        named = [slip for slip, on in (("swapped", swapped), ("axis", axis != class_axis),
                                       (reduce, reduce != "mean")) if on]
        if named:
            mistakes.append(Mistake(" and ".join(slips[s][0] for s in named),
                                    "; ".join(slips[s][1] for s in named),
                                    lambda ZL, Y, s=swapped, a=axis, r=reduce: _np_cost(ZL, Y, s, a, r)))
    return tuple(mistakes)


SIGMOID_COST_HINT = ("each example is one of C classes: softmax_cross_entropy_with_logits, whose softmax "
                     "makes the C probabilities sum to 1; the sigmoid one scores each class on its own, as "
                     "if an example could be several")


def sigmoid_cost_mistakes(class_axis: int) -> tuple[Mistake, ...]:
    """compute_cost with a sigmoid cross-entropy: the mean of all its losses, or of their sums over the
    classes."""
    return tuple(Mistake("a sigmoid cross-entropy, where the classes need a softmax one", SIGMOID_COST_HINT,
                         lambda ZL, Y, summed=summed: _sigmoid_cost(ZL, Y, class_axis, summed))
                 for summed in (False, True))


def softmax_first_mistake(logits: str, class_axis: int) -> Mistake:
    """compute_cost fed the softmax of the logits (the probabilities) as its logits."""
    return Mistake("the softmax was applied to the logits first",
                   f"feed {logits} itself as the logits: softmax_cross_entropy_with_logits applies the "
                   "softmax",
                   lambda ZL, Y: _np_cost(np.exp(log_softmax(ZL, class_axis)), Y, False, class_axis, "mean"))


def _by_hand_cost(ZL: np.ndarray, Y: np.ndarray) -> np.floating:
    """The cost with its softmax written out, exp over sum of exp, in float32: exp(1000) overflows."""
    with np.errstate(all="ignore"):
        exp = np.exp(ZL.astype(np.float32))
        return -(Y * np.log(exp / exp.sum(axis=0))).sum(axis=0).mean()


COMPUTE_COST_MISTAKES = (*compute_cost_mistakes(COST_SLIPS, class_axis=0), softmax_first_mistake("ZL", 0),
                         *sigmoid_cost_mistakes(class_axis=0),
                         Mistake("the softmax written out by hand: exp(1000) overflows, and the cost is NaN",
                                 "tf.nn.softmax_cross_entropy_with_logits computes the softmax and its log "
                                 "together, safely for large logits: give it the logits", _by_hand_cost))
MINIBATCH_SLIPS = (  # (what, hint, the slip as options of _np_minibatches)
    ("the last, smaller minibatch is missing", "after the floor(m / mini_batch_size) full minibatches, add "
     "one more with the m % mini_batch_size columns left", {"partial": False}),
    ("an empty minibatch at the end", "add the last minibatch only when m % mini_batch_size != 0",
     {"empty_tail": True}),
    ("the columns were not shuffled", "seed NumPy with seed, draw a permutation of the m columns with "
     "np.random.permutation, and take X's and Y's columns in that order", {"shuffle_x": False,
                                                                         "shuffle_y": False}),
    ("Y was not shuffled along with X", "shuffle Y with the same permutation as X: "
     "Y[:, permutation].reshape((n_y, m))", {"shuffle_y": False}),
)
MINIBATCH_MISTAKES = tuple(
    Mistake(what, hint, lambda X, Y, size, seed, o=options: _np_minibatches(X, Y, size, seed, **o))
    for what, hint, options in MINIBATCH_SLIPS)


def minibatches_unpaired(args: tuple, got: Any) -> tuple[str, str] | None:
    """random_mini_batches' minibatches that hold every column of X once but not each with its own column of
    Y: X and Y shuffled by two permutations (what, hint), or None. The cases' X numbers its columns in its
    first row, so that each column tells where it came from."""
    X, Y = args[0], args[1]
    try:
        taken_X = np.concatenate([np.asarray(batch[0], dtype=float) for batch in got], axis=1)
        taken_Y = np.concatenate([np.asarray(batch[1], dtype=float) for batch in got], axis=1)
        where = taken_X[0].astype(int)
        ours = sorted(where.tolist()) == list(range(X.shape[1])) and np.array_equal(taken_X, X[:, where])
    except (TypeError, ValueError, IndexError):
        return None
    if ours and taken_Y.shape == Y.shape and not np.array_equal(taken_Y, Y[:, where]):
        return ("X and Y were shuffled by two different permutations: the labels in each minibatch are not "
                "its examples' own", "one permutation for both: shuffle Y's columns in the very order that "
                "shuffled X's")
    return None

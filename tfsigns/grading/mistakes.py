"""What tfsigns.grader calls each exercise with, and the typical mistakes it recognises.

In order: NumPy versions of typical mistakes (a missing ReLU, labels and logits swapped, a
minibatch slip, ...); the exercise data (seeded networks, labels and minibatch data as Cases,
and the inputs of the other checks); and each exercise's Mistakes, whose `wrong` computes what
that mistake returns on the same inputs, so that the grader can name the mistake when a
candidate's answer equals it.
"""

from __future__ import annotations

import itertools
import math
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


def _np_forward(X: np.ndarray, parameters: dict, hidden_relu: bool = True, last_relu: bool = False,
                softmax_axis: int | None = None, bias: bool = True, without_bias: int = 0) -> np.ndarray:
    """LINEAR -> RELU ... -> LINEAR in NumPy on parameters W1, b1, ..., WL, bL, with the ReLUs, the biases
    (all, or layer `without_bias`'s) and a final softmax switchable."""
    L = len(parameters) // 2
    A = X
    for l in range(1, L + 1):
        Z = parameters[f"W{l}"] @ A + (parameters[f"b{l}"] if bias and l != without_bias else 0)
        A = np.maximum(Z, 0) if (last_relu if l == L else hidden_relu) else Z
    return A if softmax_axis is None else np.exp(log_softmax(A, softmax_axis))


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
                 Case("sigmoid(z) for z = [-2, 0, 3]", (np.array([-2.0, 0.0, 3.0]),)))
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


@dataclass(frozen=True)
class Sampling:
    """A sampler exercise: the ranges it is called with and how its samples must spread.

    ranges: (low, high, n, seed, bin edges); each bin should get the same share of the samples.
    """

    ranges: tuple[tuple[float, float, int, int, tuple[float, ...]], ...]
    linear_note: str  # why sampling on a linear scale is wrong here
    exponents: Callable[[float, float], tuple[float, float]]  # (low, high) -> the range r is drawn from
    outside_hint: str  # when the samples are the exponents r themselves
    range_hint: str  # when they are not: a range written into the code instead of low and high
    log_hint: str  # when they do not spread evenly over the decades
    draw: Callable[[np.random.Generator], tuple[float, float, tuple[float, ...]]]  # (low, high, edges)
    exponent_of: Callable[[np.ndarray], np.ndarray]  # samples -> the exponents r they were made of

    def cases(self) -> tuple[tuple[float, float, int, int, tuple[float, ...]], ...]:
        """The ranges: the notebook's, or (low, high, bins and seed) drawn from the grading's seed."""
        if CASE_SEED.get() == 0:
            return self.ranges
        drawn = [self.draw(case_rng(50 + k)) for k in range(len(self.ranges))]
        return tuple((low, high, n, case_seed(seed), edges)
                     for (low, high, edges), (_, _, n, seed, _) in zip(drawn, self.ranges, strict=True))


def _rate_range(rng: np.random.Generator) -> tuple[float, float, tuple[float, ...]]:
    """Two to four decades of learning rates, from 1e-6 to 1e-1 at most: (low, high, the decades' edges)."""
    first = -int(rng.integers(3, 7))
    last = first + int(rng.integers(2, 5))
    return 10.0 ** first, 10.0 ** last, tuple(10.0 ** k for k in range(first, last + 1))


def _beta_range(rng: np.random.Generator) -> tuple[float, float, tuple[float, ...]]:
    """Betas whose 1 - beta spans two or three decades, from 0.9 or 0.99 up: (low, high, the edges)."""
    first = int(rng.integers(1, 3))
    last = first + int(rng.integers(2, 4))
    return 1 - 10.0 ** -first, 1 - 10.0 ** -last, tuple(1 - 10.0 ** -k for k in range(first, last + 1))


SAMPLINGS = {
    "sample_learning_rate": Sampling(
        ((1e-4, 1.0, 4000, 0, (1e-4, 1e-3, 1e-2, 1e-1, 1.0)), (1e-3, 1e-1, 4000, 1, (1e-3, 1e-2, 1e-1))),
        "; almost every trial would get one of the largest learning rates",
        lambda low, high: (math.log10(low), math.log10(high)),
        "return alpha = 10**r, not r: r is the exponent, uniform in [log10(low), log10(high)]",
        "draw r between log10(low) and log10(high) of the low and high you are given, not from a range "
        "written into the code",
        "sample on a log scale: draw the n exponents r at once, uniform between log10(low) and log10(high); "
        "each learning rate is 10 to the power r",
        _rate_range, np.log10),
    "sample_beta": Sampling(
        ((0.9, 0.999, 4000, 0, (0.9, 0.99, 0.999)), (0.9, 0.9999, 4000, 1, (0.9, 0.99, 0.999, 0.9999))),
        "; the values near 1, where beta matters most (it averages over about 1/(1 - beta) steps), are "
        "rarely tried",
        lambda low, high: (math.log10(1 - high), math.log10(1 - low)),
        "return beta = 1 - 10**r: r is the exponent of 1 - beta, "
        "uniform in [log10(1 - high), log10(1 - low)]",
        "draw r between log10(1 - high) and log10(1 - low) of the low and high you are given, not from a "
        "range written into the code",
        "sample 1 - beta on a log scale: draw the n exponents r at once, uniform between log10(1 - high) and "
        "log10(1 - low); each beta is 1 - 10 to the power r", _beta_range, lambda beta: np.log10(1 - beta)),
}


# ------------------------------------------------------------------ typical mistakes of each exercise

def _prepared(X_orig: np.ndarray, Y_orig: np.ndarray, C: int, flatten: Callable[[np.ndarray], np.ndarray],
              scale: float | None = 255.0, one_hot: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """prepare_dataset's (X, Y) with its slips: another flattening, another scale, labels left as they are."""
    X = flatten(X_orig).astype(float)
    return X / (scale or X.max()), convert_to_one_hot(Y_orig, C) if one_hot else Y_orig


def _columns(X_orig: np.ndarray) -> np.ndarray:
    return X_orig.reshape(X_orig.shape[0], -1).T


FLATTEN_COLUMNS = "X_orig.reshape(X_orig.shape[0], -1).T: one image per column"
DATASET_MISTAKES = (
    Mistake("the pixels were not divided by 255: the network would be fed 0 to 255",
            "X = X_flatten / 255., so that the inputs lie in [0, 1]",
            lambda X, Y, C: _prepared(X, Y, C, _columns, scale=1.0)),
    Mistake("the pixels were divided with // (floor division): every pixel below 255 became 0",
            "divide with /, which keeps the fractions: X_flatten / 255.",
            lambda X, Y, C: (_columns(X) // 255, convert_to_one_hot(Y, C))),
    Mistake("the pixels were divided by the largest one, not by 255",
            "divide by 255, the largest value a pixel can take, the same for every set",
            lambda X, Y, C: _prepared(X, Y, C, _columns, scale=None)),
    Mistake("one row per image: the transpose is missing", FLATTEN_COLUMNS,
            lambda X, Y, C: _prepared(X, Y, C, lambda x: x.reshape(x.shape[0], -1))),
    Mistake("reshape(n_x, m) mixes the pixels of different images",
            f"reshape to (m, -1) first, then transpose: {FLATTEN_COLUMNS}",
            lambda X, Y, C: _prepared(X, Y, C, lambda x: x.reshape(-1, x.shape[0]))),
    Mistake("Y has one row per example",
            "one column per example: Y = convert_to_one_hot(Y_orig, C) is (C, m)",
            lambda X, Y, C: (_prepared(X, Y, C, _columns)[0], convert_to_one_hot(Y, C).T)),
    Mistake("Y is still the labels, not one-hot",
            "Y = convert_to_one_hot(Y_orig, C): a (C, m) matrix with a 1 in each column, at its label",
            lambda X, Y, C: _prepared(X, Y, C, _columns, one_hot=False)),
)
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
            lambda logits, labels: basics.cost(_sigmoid(logits), labels)),
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
    Mistake("no bias: Z[l] is W[l] A[l-1] alone", "Z[l] = tf.matmul(W[l], A[l-1]) + b[l]: add the bias b[l] "
            "in every layer", lambda X, p: _np_forward(X, p, bias=False)),
    *(Mistake(f"b{l} left out: Z{l} is W{l} A{l - 1} alone", f"add the bias in every layer, b{l} too",
              lambda X, p, l=l: _np_forward(X, p, without_bias=l)) for l in (1, 2, 3)),
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
    "swapped": ("labels and logits swapped", "pass them by keyword: softmax_cross_entropy_with_logits("
                "logits=tf.transpose(ZL), labels=tf.transpose(Y))"),
    "axis": ("no tf.transpose, so the softmax runs over the examples instead of the classes",
                  "the function wants one row per example: pass tf.transpose(ZL) and tf.transpose(Y)"),
    "sum": ("tf.reduce_sum instead of tf.reduce_mean", "the cost is the mean over the m examples, "
            "J = 1/m sum_i L(i): use tf.reduce_mean, not tf.reduce_sum"),
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
                         Mistake("the softmax written out by hand: exp(1000) overflows, and the cost is NaN",
                                 "tf.nn.softmax_cross_entropy_with_logits computes the softmax and its log "
                                 "together, safely for large logits: give it the logits", _by_hand_cost))
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

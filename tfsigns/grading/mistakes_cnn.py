"""What tfsigns.grader calls the convolution course's exercises with, and the typical mistakes it
recognises in them: the NumPy step by step (zero_pad, conv_single_step, conv_forward,
pool_forward) and the TensorFlow application (the course CNN).

NumPy mistakes are computed, as in tfsigns.grading.mistakes, by a version of the lesson with the slip
switched on. A CNN's structural slips (VALID padding, strides on the batch axis, a pool's window
and stride confused, no FLATTEN) are read from the graph a candidate builds: tfsigns.grading.structure.
"""

from __future__ import annotations

import re

import numpy as np

from tfsigns.backend import tf
from tfsigns.course.convolution import (
    conv_backward,
    conv_forward,
    numerical_gradient,
    pool_backward,
    pool_forward,
    slide,
)
from tfsigns.grading.mistakes import (
    CASE_SEED,
    COST_SLIPS,
    Case,
    Mistake,
    case_rng,
    compute_cost_mistakes,
    init_rules,
    sigmoid_cost_mistakes,
    softmax_first_mistake,
)
from tfsigns.images.signs import IMAGE_SHAPE, convert_to_one_hot, make_blobs
from tfsigns.networks import IMAGES, cnn

# ------------------------------------------------------------------ NumPy versions of typical mistakes


def _np_conv(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, hparameters: dict, bias: bool = True,
             **slips) -> tuple[np.ndarray, tuple]:
    """conv_forward's (Z, cache) with the slips of convolution.slide, or without the bias. Each window
    times the filters as the learner's conv_single_step multiplies them (a_slice_prev * W): a window cut
    short at an edge broadcasts against the filter where NumPy lets it, as in the learner's loop."""
    Z = slide(A_prev, W.shape[0], lambda win: (win[..., None] * W).sum(axis=(1, 2, 3)),
              hparameters["stride"], hparameters["pad"], **slips)
    return Z + (b.reshape(-1) if bias else 0), (A_prev, W, b, hparameters)


def _np_pool(A_prev: np.ndarray, hparameters: dict, mode: str, across_channels: bool = False,
             **slips) -> tuple[np.ndarray, tuple]:
    """pool_forward's (A, cache) with the slips of convolution.slide, or one value over all
    channels at once."""
    reducer = np.max if mode == "max" else np.mean
    n_C = A_prev.shape[-1]

    def reduce(win: np.ndarray) -> np.ndarray:
        if across_channels:
            return np.repeat(reducer(win, axis=(1, 2, 3))[:, None], n_C, axis=1)
        return reducer(win, axis=(1, 2))
    return slide(A_prev, hparameters["f"], reduce, hparameters["stride"], **slips), (A_prev, hparameters)


# ------------------------------------------------------------------ step by step: data and mistakes


def _normal(seed: int, *shape: int) -> np.ndarray:
    return case_rng(seed).normal(size=shape)


def zero_pad_cases() -> tuple[Case, ...]:
    """Random volumes and pads."""
    return tuple(Case(f"zero_pad(X {shape}, pad={pad})", (_normal(seed, *shape), pad))
                           for shape, pad, seed in (((4, 3, 3, 2), 3, 0), ((2, 4, 5, 3), 1, 1)))


def conv_single_step_cases() -> tuple[Case, ...]:
    """Slices, filters and biases."""
    return tuple(
        Case(f"conv_single_step(a_slice_prev {shape}, W {shape}, b (1, 1, 1))",
             (_normal(seed, *shape), _normal(seed + 1, *shape), _normal(seed + 2, 1, 1, 1)))
        for shape, seed in (((4, 4, 3), 0), ((2, 2, 5), 3)))


def conv_cases() -> tuple[Case, ...]:
    """Volumes, filters, strides and pads, the last one larger than the input's margin."""
    return tuple(
        Case(f"conv_forward(A_prev {A}, W {W}, b (1, 1, 1, {W[-1]}), {{'stride': {stride}, 'pad': {pad}}})",
             (_normal(seed, *A), _normal(seed + 1, *W), _normal(seed + 2, 1, 1, 1, W[-1]),
              {"stride": stride, "pad": pad}))
        for A, W, stride, pad, seed in (((10, 5, 7, 4), (3, 3, 4, 8), 2, 1, 0),
                                        ((2, 6, 6, 3), (2, 2, 3, 4), 1, 0, 3),
                                        ((3, 7, 9, 2), (4, 4, 2, 3), 3, 2, 6)))


def pool_cases() -> tuple[Case, ...]:
    """Volumes, windows and strides, in both modes; in the first, the windows of a stride off by one or of
    window and stride swapped still hold a value, so those slips are named by what they compute."""
    return tuple(
        Case(f"pool_forward(A_prev {A}, {{'f': {f}, 'stride': {stride}}}, mode={mode!r})",
             (_normal(seed, *A), {"f": f, "stride": stride}, mode))
        for A, f, stride, seed in (((1, 10, 10, 2), 3, 2, 3), ((2, 5, 5, 3), 3, 1, 0),
                                   ((2, 7, 8, 3), 3, 2, 1), ((1, 6, 8, 2), 2, 2, 2))
        for mode in ("max", "average"))


IMAGE_AXES = ("examples", "rows", "columns", "channels")  # every examples-first image array here


def mask_cases() -> tuple[Case, ...]:
    """Windows of random values (no ties)."""
    return tuple(Case(f"create_mask_from_window(x {shape})", (_normal(seed, *shape),))
                 for shape, seed in (((2, 3), 20), ((3, 3), 21)))


def distribute_cases() -> tuple[Case, ...]:
    """A gradient and a window shape."""
    return tuple(Case(f"distribute_value(dz={dz:.4g}, shape={shape})", (dz, shape))
                 for shape, seed in (((2, 2), 22), ((3, 4), 23)) for dz in [float(_normal(seed, 1)[0])])


def pool_backward_cases() -> tuple[Case, ...]:
    """dA and pool_forward's cache, windows overlapping (stride < f) or not, in both modes."""
    cases = []
    for A, f, stride, seed in (((2, 5, 6, 3), 3, 2, 24), ((2, 4, 4, 2), 2, 1, 25), ((1, 4, 6, 2), 2, 2, 26)):
        A_prev, hp = _normal(seed, *A), {"f": f, "stride": stride}
        dA = _normal(seed + 1, A[0], (A[1] - f) // stride + 1, (A[2] - f) // stride + 1, A[3])
        cases += [Case(f"pool_backward(dA {dA.shape}, cache (A_prev {A}, {hp}), mode={mode!r})",
                       (dA, (A_prev, hp), mode)) for mode in ("max", "average")]
    return tuple(cases)


def conv_backward_cases() -> tuple[Case, ...]:
    """dZ and conv_forward's cache, padded or not, strided or not."""
    cases = []
    for A, W, stride, pad, seed in (((2, 5, 4, 3), (2, 2, 3, 2), 1, 1, 27),
                                    ((2, 5, 5, 2), (3, 3, 2, 3), 2, 1, 28),
                                    ((1, 4, 6, 2), (2, 2, 2, 2), 2, 0, 29)):
        A_prev, filters, b = _normal(seed, *A), _normal(seed + 1, *W), _normal(seed + 2, 1, 1, 1, W[-1])
        hp = {"stride": stride, "pad": pad}
        n = [(size + 2 * pad - W[0]) // stride + 1 for size in A[1:3]]
        dZ = _normal(seed + 3, A[0], *n, W[-1])
        cases.append(Case(f"conv_backward(dZ {dZ.shape}, cache (A_prev {A}, W {W}, b, {hp}))",
                          (dZ, (A_prev, filters, b, hp))))
    return tuple(cases)


def pool_gradient(dA: np.ndarray, cache: tuple, mode: str) -> np.ndarray:
    """What pool_backward must return: the numerical gradient of sum(pool_forward(A_prev) * dA)."""
    A_prev, hp = cache
    return numerical_gradient(lambda a: float(np.sum(pool_forward(a, hp, mode)[0] * dA)), A_prev)


def conv_gradients(dZ: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What conv_backward must return: the numerical gradients of sum(conv_forward(...) * dZ) with
    respect to A_prev, W and b."""
    A_prev, W, b, hp = cache
    return (numerical_gradient(lambda a: float(np.sum(conv_forward(a, W, b, hp)[0] * dZ)), A_prev),
            numerical_gradient(lambda w: float(np.sum(conv_forward(A_prev, w, b, hp)[0] * dZ)), W),
            numerical_gradient(lambda c: float(np.sum(conv_forward(A_prev, W, c, hp)[0] * dZ)), b))

OUTPUT_SIZE_HINT = ("the output's height is 1 plus the room the window has, n_H_prev - f + 2 pad, divided "
                    "by the stride and rounded down; likewise its width: the padding widens the input, the "
                    "stride divides the room")
SLICE_HINT = ("output row h starts at row h times the stride and ends f rows later (likewise the columns): "
              "the window jumps `stride` pixels between outputs")
ZERO_PAD_MISTAKES = (
    Mistake("every axis was padded, the examples and channels too",
            "pad the height and width only: np.pad takes one (before, after) pair for each of X's 4 axes, "
            "(0, 0) for the examples and the channels", lambda X, pad: np.pad(X, pad)),
    Mistake("the zeros went on one side only",
            "(pad, pad) puts pad zeros before and after, on the height and on the width",
            lambda X, pad: np.pad(X, ((0, 0), (0, pad), (0, pad), (0, 0)))),
)
CONV_SINGLE_STEP_MISTAKES = (
    Mistake("b was not added", "add the bias to the sum of the products: it is part of every step",
            lambda a, W, b: np.sum(a * W)),
    Mistake("returned an array of shape (1, 1, 1), not a number",
            "add the bias as a number: b is (1, 1, 1), and b.item() is its one value",
            lambda a, W, b: np.sum(a * W) + b),
    Mistake("the products were not summed", "a_slice_prev * W is element-wise: sum it all with np.sum, then "
            "add the bias", lambda a, W, b: a * W + b.item()),
)
CONV_SLIPS = (  # (what, hint, the slip as options of _np_conv)
    ("b was not added", "hand conv_single_step filter c's bias, b[..., c], with its weights, W[..., c]",
     {"bias": False}),
    ("the output size leaves out the padding", OUTPUT_SIZE_HINT, {"size_pad": False}),
    ("A_prev was not padded", "pad A_prev with zero_pad first, and slice the padded input, not A_prev",
     {"size_pad": False, "pad_input": False}),
    ("the slices are not strided: vert_start = h instead of h * stride", SLICE_HINT, {"steps": (1, 1)}),
    ("the stride is ignored (in the output size and in the slices): a stride-1 convolution",
     f"{OUTPUT_SIZE_HINT}; {SLICE_HINT}", {"size_stride": False, "steps": (1, 1)}),
    ("the slices are of A_prev, not of the padded A_prev_pad: past its edge they are cut short",
     "slice example i of the padded input, zero_pad's A_prev_pad, where the window has its full size even "
     "at the edges", {"pad_input": False}),
)
WINDOW_SLIPS = (  # (what, how the windows move (steps: rows, columns) and their width, for a stride s and f)
    ("the horizontal slices are not strided: horiz_start = w instead of w * stride",
     lambda s, f: {"steps": (s, 1)}),
    ("the vertical slices are not strided: vert_start = h instead of h * stride",
     lambda s, f: {"steps": (1, s)}),
    ("the stride is off by one: the windows move stride + 1 pixels", lambda s, f: {"steps": (s + 1, s + 1)}),
    ("the window and the stride are swapped: each window starts at h times f and is stride rows high",
     lambda s, f: {"steps": (f, f), "width": s}))
CONV_MISTAKES = (
    *(Mistake(what, hint, lambda A, W, b, hp, o=options: _np_conv(A, W, b, hp, **o))
      for what, hint, options in CONV_SLIPS),
    *(Mistake(what, SLICE_HINT,
              lambda A, W, b, hp, how=how: _np_conv(A, W, b, hp, **how(hp["stride"], W.shape[0])))
      for what, how in WINDOW_SLIPS))
POOL_MISTAKES = (
    Mistake("took the max where mode='average' asks for the mean",
            "if mode == 'max': np.max(a_prev_slice), elif mode == 'average': np.mean(a_prev_slice)",
            lambda A, hp, mode: pool_forward(A, hp, "max")),
    Mistake("took the mean where mode='max' asks for the max",
            "if mode == 'max': np.max(a_prev_slice), elif mode == 'average': np.mean(a_prev_slice)",
            lambda A, hp, mode: pool_forward(A, hp, "average")),
    Mistake("pooled over all the channels at once",
            "pool each channel apart: the slice of example i at the window's rows and columns, in "
            "channel c alone",
            lambda A, hp, mode: _np_pool(A, hp, mode, across_channels=True)),
    Mistake("the slices are not strided: vert_start = h instead of h * stride", SLICE_HINT,
            lambda A, hp, mode: _np_pool(A, hp, mode, steps=(1, 1))),
    Mistake("the output size leaves out the stride", "the output's height is 1 plus n_H_prev - f divided by "
            "the stride, rounded down; likewise its width",
            lambda A, hp, mode: _np_pool(A, hp, mode, size_stride=False)),
    *(Mistake(what, SLICE_HINT,
              lambda A, hp, mode, how=how: _np_pool(A, hp, mode, **how(hp["stride"], hp["f"])))
      for what, how in WINDOW_SLIPS),
    Mistake("the window and the stride are swapped: f read from 'stride' and stride from 'f', in the "
            "output's size and in the slices", "hparameters['f'] is the window's size and "
            "hparameters['stride'] the step from one window to the next",
            lambda A, hp, mode: (pool_forward(A, {"f": hp["stride"], "stride": hp["f"]}, mode)[0], (A, hp))),
)
MASK_MISTAKES = (
    Mistake("marked the min, not the max", "the mask is True where x equals its largest value, np.max",
            lambda x: x == np.min(x)),
    Mistake("returned the max itself, not where it is", "a mask of the window's shape: True where x equals "
            "its largest value",
            lambda x: np.max(x)),
)
DISTRIBUTE_MISTAKES = (
    Mistake("dz was not divided by the window's size", "divide dz by the window's n_H times n_W: every input "
            "counted 1 / (n_H n_W) in the mean", lambda dz, shape: np.full(shape, dz)),
    Mistake("dz was divided with // (floor division): the share lost its fraction",
            "divide with /, which keeps the fraction: each input's share of dz is rarely a whole number",
            lambda dz, shape: np.full(shape, dz // (shape[0] * shape[1]))),
)
ADD_HINT = ("add each window's gradient (+=): where windows overlap (stride < f), an input gets the gradient "
            "of every output it fed")
POOL_BACKWARD_MISTAKES = (
    Mistake("in max mode the gradient was spread over the window, average pooling's rule",
            "mode 'max': the window's mask (create_mask_from_window) times that output's gradient, added to "
            "the window of dA_prev",
            lambda dA, cache, mode: pool_backward(dA, cache, "average")),
    Mistake("in average mode the gradient went to the max only, max pooling's rule",
            "mode 'average': that output's gradient spread evenly over an f x f window (distribute_value), "
            "added to the window of dA_prev",
            lambda dA, cache, mode: pool_backward(dA, cache, "max")),
    Mistake("the windows' gradients were assigned, not added", ADD_HINT,
            lambda dA, cache, mode: pool_backward(dA, cache, mode, add=False)),
    Mistake("the windows are not strided: vert_start = h instead of h * stride", SLICE_HINT,
            lambda dA, cache, mode: pool_backward(dA, cache, mode, slide_stride=False)),
)
CONV_BACKWARD_MISTAKES = (
    Mistake("dA_prev still has the padding", "after the loops, take the padding off: pad rows and columns "
            "from each side of da_prev_pad (none when pad is 0), then store it in dA_prev[i]",
            lambda dZ, cache: conv_backward(dZ, cache, unpad=False)),
    Mistake("the windows' gradients were assigned, not added", ADD_HINT,
            lambda dZ, cache: conv_backward(dZ, cache, add=False)),
    Mistake("the windows are not strided: vert_start = h instead of h * stride", SLICE_HINT,
            lambda dZ, cache: conv_backward(dZ, cache, slide_stride=False)),
)
FLOAT_BIAS_HINT = ("float() of a (1, 1, 1) array fails on NumPy 2 (only a 0-dimensional array converts to "
                   "a number), so the course's float(b) raises: add the bias as b.item(), its one value")
EMPTY_WINDOW_HINT = ("a window fell outside A_prev and came out empty: most often the output size leaves "
                     "out the stride (1 plus n_H_prev - f divided by the stride, likewise the width); else "
                     f"the windows go too far: {SLICE_HINT}")


def conv_broadcast_hint(text: str) -> str:
    """The hint for conv_forward's "operands could not be broadcast together with shapes (3,3,4)
    (3,4,8)": a slice smaller than its filter (the same channels), or the wrong piece of W."""
    shapes = [tuple(int(n) for n in found.split(",") if n)
              for found in re.findall(r"\((\d+(?:,\d+)*),?\)", text.partition("shapes")[2])]
    if len(shapes) >= 2 and len(shapes[0]) == len(shapes[1]) == 3 and shapes[0][-1] == shapes[1][-1]:
        return (f"a slice came out smaller than the filter, {shapes[0]} for {shapes[1]}: it ran past the "
                "edge of what was sliced. Was it A_prev itself? Slice the padded input, zero_pad's "
                f"A_prev_pad, example by example. Else: {OUTPUT_SIZE_HINT}; {SLICE_HINT}")
    return ("a slice of A_prev_pad is (f, f, n_C_prev) and so is filter c, which is W[..., c] "
            "(W[:, :, :, c]), its bias b[..., c]: W[c] picks along the filter's rows")


FLOAT_SIZE_HINT = ("the output size must be a whole number for np.zeros and range(), and / divides into a "
                   "float: make it an int, or divide with floor division, //")
STEP_ERROR_HINTS = (
    ("cannot be interpreted as an integer", FLOAT_SIZE_HINT),
    # float(b): a TypeError on NumPy 2, a DeprecationWarning from NumPy 1.25 (an error under -W error)
    ("only 0-dimensional arrays can be converted", FLOAT_BIAS_HINT),
    ("Conversion of an array with ndim > 0 to a scalar", FLOAT_BIAS_HINT),
    ("KeyError", "conv_forward's hparameters hold 'stride' and 'pad', pool_forward's 'f' and 'stride'"),
)


# ------------------------------------------------------------------ the application: data and mistakes


def _parameters(seed: int) -> dict[str, np.ndarray]:
    """Fixed float32 parameters of the course CNN on (64, 64, 3) images and 6 classes."""
    rng = case_rng(seed)
    return {key: rng.normal(0, 0.5, shape).astype(np.float32)
            for key, shape in cnn.parameter_shapes().items()}


PLACEHOLDER_SIZES = ((64, 64, 3, 6), (32, 28, 1, 10))
def forward_cases() -> tuple[Case, ...]:
    """Images and parameters of the course CNN."""
    return tuple(
        Case(f"forward_propagation(X {(m, *IMAGE_SHAPE)}, parameters W1, W2, W3, b3)",
             (_normal(seed, m, *IMAGE_SHAPE).astype(np.float32), _parameters(seed)))
        for m, seed in ((2, 0), (3, 1)))


def compute_cost_cases() -> tuple[Case, ...]:
    """Logits and one-hot labels, examples first."""
    return tuple(
        Case(f"compute_cost(Z3 {(m, C)}, Y {(m, C)})",
             ((2 * _normal(seed, m, C)).astype(np.float32),
              convert_to_one_hot(case_rng(seed + 1).integers(0, C, m), C).T))
        for C, m, seed in ((6, 4, 0), (3, 5, 2)))


def model_data() -> tuple[np.ndarray, ...]:
    """Separable synthetic images of 6 classes for model, examples first: X_train (60, 64, 64, 3),
    Y_train (60, 6), X_test (30, 64, 64, 3), Y_test (30, 6)."""
    X_train, Y_train, X_test, Y_test = make_blobs(60, 30, n_x=int(np.prod(IMAGE_SHAPE)), C=6,
                                                  seed=CASE_SEED.get())
    return (*IMAGES.from_columns(X_train, Y_train, IMAGE_SHAPE),
            *IMAGES.from_columns(X_test, Y_test, IMAGE_SHAPE))


LOGITS_HINT = ("return Z3, the fully connected layer's output, as it is: softmax_cross_entropy_with_logits "
               "in compute_cost applies the softmax")
def _channels_first(X: tf.Tensor, parameters: dict) -> tf.Tensor:
    """The course CNN with P2 flattened channel by channel, (m, n_C, n_H, n_W), before the dense layer."""
    A = X
    for l, pool in ((1, 8), (2, 4)):
        Z = tf.nn.conv2d(A, parameters[f"W{l}"], strides=1, padding="SAME")
        A = tf.nn.relu(tf.nn.max_pool2d(Z, ksize=pool, strides=pool, padding="SAME"))
    F = tf.reshape(tf.transpose(A, [0, 3, 1, 2]), [-1, 64])
    return tf.matmul(F, parameters["W3"]) + parameters["b3"]


FORWARD_MISTAKES = (  # graph builders: the grader runs them on the case's inputs
    Mistake("P2 was flattened channels first: W3 takes its values in P2's own order, each position's "
            "channels together", "tf.reshape(P2, [-1, 64]) keeps P2's order, (height, width, channel): "
            "no transpose before it", _channels_first),
    Mistake("a ReLU on the logits", LOGITS_HINT, lambda X, p: tf.nn.relu(cnn.forward_propagation(X, p))),
    Mistake("softmax applied to the logits", LOGITS_HINT,
            lambda X, p: tf.nn.softmax(cnn.forward_propagation(X, p))),
    Mistake("b3 was not added", "the fully connected layer is F W3 + b3: add the bias b3",
            lambda X, p: cnn.forward_propagation(X, p) - p["b3"]),
)
INIT_HINT = ("make W1 of shape [4, 4, 3, 8] with v1.get_variable and the Glorot/Xavier uniform initializer "
             "seeded with 0, W2 [2, 2, 8, 16] likewise; and the fully connected layer's W3 [64, 6] "
             "(Glorot/Xavier) and b3 [6] (zeros), which the course's tf.contrib.layers.fully_connected made "
             "itself")
INIT_RULES = init_rules(INIT_HINT, "make b3 with v1.get_variable: 6 zeros (the zeros initializer)")
COST_SLIPS_CNN = {
    **COST_SLIPS,
    "swapped": ("labels and logits swapped", "pass them by keyword, Z3 as the logits and Y as the labels"),
    "axis": ("transposed, so the softmax runs over the examples instead of the classes",
             "Z3 and Y already have one row per example, as the function wants: pass them as they are"),
}
COMPUTE_COST_MISTAKES = (*compute_cost_mistakes(COST_SLIPS_CNN, class_axis=1),
                         softmax_first_mistake("Z3", class_axis=1), *sigmoid_cost_mistakes(class_axis=1))
FLATTEN_HINT = ("FLATTEN before the fully connected layer: tf.reshape to [-1, 64] (or "
                "tf.keras.layers.Flatten) turns P2 (m, 2, 2, 16) into (m, 64), which W3 multiplies")
CNN_DATA_HINT = ("examples come first here: X_train's shape is (m, n_H0, n_W0, n_C0) and Y_train's "
                 "(m, n_y), so n_y is Y_train.shape[1]; the placeholders are [None, n_H0, n_W0, n_C0] and "
                 "[None, n_y]")
MODEL_ERROR_HINTS = (("Dimensions must be equal", CNN_DATA_HINT),)
APPLICATION_ERROR_HINTS = (
    ("Cannot feed value of shape", CNN_DATA_HINT),
    ("Dimensions must be equal", FLATTEN_HINT),
    ("KeyError", "parameters holds the filters W1 and W2 and the fully connected layer's W3 and b3"),
)

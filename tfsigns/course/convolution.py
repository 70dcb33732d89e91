"""Convolution step by step in NumPy, as the convolution course's first assignment builds it:
padding, one step of a filter, the forward pass of a convolutional layer and of a pooling
layer. Examples first: A (m, n_H, n_W, n_C); filters W (f, f, n_C_prev, n_C), biases b
(1, 1, 1, n_C). tfsigns.networks.cnn builds the same operations as TensorFlow ops for training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def zero_pad(X: np.ndarray, pad: int) -> np.ndarray:
    """X (m, n_H, n_W, n_C) with `pad` zeros around each image's height and width:
    (m, n_H + 2 pad, n_W + 2 pad, n_C). Padding keeps a layer's output as large as its input
    and lets the border pixels count as much as the inner ones."""
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=0)


def conv_single_step(a_slice_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> float:
    """One filter at one position: the sum of a_slice_prev (f, f, n_C_prev) times W (same
    shape), plus the bias b (1, 1, 1): a scalar."""
    return float(np.sum(a_slice_prev * W) + float(np.asarray(b).reshape(-1)[0]))


def output_size(n_prev: int, f: int, pad: int, stride: int) -> int:
    """floor((n_prev + 2 pad - f) / stride) + 1: the height (or width) a window of size f at
    that stride leaves."""
    return (n_prev + 2 * pad - f) // stride + 1


def window(A: np.ndarray, h: int, w: int, f: int, down: int, across: int) -> np.ndarray:
    """The f x f window of every example and channel under output position (h, w): (m, f, f, n_C);
    windows start `down` pixels apart along a column of outputs and `across` along a row (the stride)."""
    return A[:, h * down:h * down + f, w * across:w * across + f, :]


def slide(A: np.ndarray, f: int, reduce: Callable[[np.ndarray], np.ndarray], stride: int, pad: int = 0,
          *, size_pad: bool = True, size_stride: bool = True, pad_input: bool = True,
          steps: tuple[int, int] | None = None, width: int | None = None) -> np.ndarray:
    """reduce (m, f, f, n_C) -> (m, ...) applied to the window under each output position of A
    (m, n_H_prev, n_W_prev, n_C) padded by `pad`: (m, n_H, n_W, ...). The loop both layers share.
    The keyword switches, all True in the lesson, turn on the slips tfsigns.grading.mistakes_cnn
    recognises: the padding or the stride left out of the output size, an input that was not padded;
    `steps` (rows, columns) and `width` move and size the windows otherwise than (stride, stride) and
    f: (1, 1) for windows that move one pixel at a time."""
    A_in = zero_pad(A, pad) if pad_input else A
    n_H, n_W = (output_size(n, f, pad if size_pad else 0, stride if size_stride else 1) for n in A.shape[1:3])
    down, across = steps or (stride, stride)
    windows = [[window(A_in, h, w, width or f, down, across) for w in range(n_W)] for h in range(n_H)]
    return np.stack([np.stack([reduce(win) for win in row], axis=1) for row in windows], axis=1)


def conv_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, hparameters: dict
                 ) -> tuple[np.ndarray, tuple]:
    """The forward pass of a convolutional layer: A_prev (m, n_H_prev, n_W_prev, n_C_prev),
    W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C), hparameters {"stride", "pad"} -> Z (m, n_H,
    n_W, n_C) and the cache (A_prev, W, b, hparameters) for the backward pass."""
    # every example's window times every filter: conv_single_step for all of them at once
    Z = slide(A_prev, W.shape[0], lambda win: np.tensordot(win, W, axes=([1, 2, 3], [0, 1, 2])),
              hparameters["stride"], hparameters["pad"])
    return Z + b.reshape(-1), (A_prev, W, b, hparameters)


def pool_forward(A_prev: np.ndarray, hparameters: dict, mode: str = "max") -> tuple[np.ndarray, tuple]:
    """The forward pass of a pooling layer: the max (or, with mode "average", the mean) of each
    f x f window at the given stride, channel by channel, no padding. A_prev (m, n_H_prev,
    n_W_prev, n_C), hparameters {"f", "stride"} -> A (m, n_H, n_W, n_C) and the cache."""
    if mode not in ("max", "average"):
        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
    reduce = np.max if mode == "max" else np.mean
    A = slide(A_prev, hparameters["f"], lambda win: reduce(win, axis=(1, 2)), hparameters["stride"])
    return A, (A_prev, hparameters)


# ------------------------------------------------------------ the backward pass (the lesson's optional part)


def create_mask_from_window(x: np.ndarray) -> np.ndarray:
    """True where the window x (f, f) holds its max: the one input max pooling passed on, and so the
    one its gradient goes back to."""
    return x == np.max(x)


def distribute_value(dz: float, shape: tuple[int, int]) -> np.ndarray:
    """dz spread evenly over a window of `shape` (n_H, n_W): average pooling's gradient, since every
    input counted 1 / (n_H n_W) in the mean."""
    n_H, n_W = shape
    return np.full(shape, dz / (n_H * n_W))


def pool_backward(dA: np.ndarray, cache: tuple, mode: str = "max", *, add: bool = True,
                  slide_stride: bool = True) -> np.ndarray:
    """dA_prev (the shape of A_prev) from dA (m, n_H, n_W, n_C) and pool_forward's cache: each output's
    gradient goes to its window's max (mode "max") or evenly over it ("average"), summed where windows
    overlap. The switches, True in the lesson, turn on slips the grader names: gradients assigned
    instead of added, windows that move one pixel at a time."""
    A_prev, hparameters = cache
    f, stride = hparameters["f"], hparameters["stride"] if slide_stride else 1
    dA_prev = np.zeros_like(A_prev, dtype=float)
    for h in range(dA.shape[1]):
        for w in range(dA.shape[2]):
            rows, cols = slice(h * stride, h * stride + f), slice(w * stride, w * stride + f)
            grad = dA[:, h:h + 1, w:w + 1, :]
            if mode == "max":
                window = A_prev[:, rows, cols, :]
                grad = (window == window.max(axis=(1, 2), keepdims=True)) * grad
            else:
                grad = np.broadcast_to(grad / (f * f), dA_prev[:, rows, cols, :].shape)
            dA_prev[:, rows, cols, :] = dA_prev[:, rows, cols, :] * add + grad
    return dA_prev


def conv_backward(dZ: np.ndarray, cache: tuple, *, add: bool = True, slide_stride: bool = True,
                  unpad: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dA_prev, dW, db) from dZ (m, n_H, n_W, n_C) and conv_forward's cache: each output's gradient
    flows back through its filter to its window (dA_prev) and through its window to the filter
    (dW); db sums dZ over examples and positions. The switches, True in the lesson, turn on slips
    the grader names: dA_prev's windows assigned instead of added, unstrided windows, the padding
    left on dA_prev."""
    A_prev, W, _, hparameters = cache
    stride, pad, f = hparameters["stride"] if slide_stride else 1, hparameters["pad"], W.shape[0]
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad, dW = np.zeros_like(A_prev_pad, dtype=float), np.zeros_like(W, dtype=float)
    for h in range(dZ.shape[1]):
        for w in range(dZ.shape[2]):
            rows, cols = slice(h * stride, h * stride + f), slice(w * stride, w * stride + f)
            grad = np.tensordot(dZ[:, h, w, :], W, axes=([1], [3]))
            dA_prev_pad[:, rows, cols, :] = dA_prev_pad[:, rows, cols, :] * add + grad
            dW += np.tensordot(A_prev_pad[:, rows, cols, :], dZ[:, h, w, :], axes=([0], [0]))
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    dA_prev = dA_prev_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :] if unpad else dA_prev_pad
    return dA_prev, dW, dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)


def numerical_gradient(J: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dJ/dx by central differences, entry by entry: the gradient check that a backward pass is
    held to (the forward pass alone defines the right answer)."""
    grad, x = np.zeros_like(x, dtype=float), np.array(x, dtype=float)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        up = J(x)
        x[index] = saved - eps
        down = J(x)
        x[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad

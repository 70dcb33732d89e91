"""Convolution step by step in NumPy, as the convolution course's first assignment builds it:
padding, one step of a filter, the forward pass of a convolutional layer and of a pooling
layer. Examples first: A (m, n_H, n_W, n_C); filters W (f, f, n_C_prev, n_C), biases b
(1, 1, 1, n_C). tfsigns.cnn builds the same operations as TensorFlow ops for training.
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


def window(A: np.ndarray, h: int, w: int, f: int, stride: int) -> np.ndarray:
    """The f x f window of every example and channel under output position (h, w): (m, f, f, n_C)."""
    return A[:, h * stride:h * stride + f, w * stride:w * stride + f, :]


def slide(A: np.ndarray, f: int, reduce: Callable[[np.ndarray], np.ndarray], stride: int, pad: int = 0,
          *, size_pad: bool = True, size_stride: bool = True, slide_stride: bool = True,
          pad_input: bool = True) -> np.ndarray:
    """reduce (m, f, f, n_C) -> (m, ...) applied to the window under each output position of A
    (m, n_H_prev, n_W_prev, n_C) padded by `pad`: (m, n_H, n_W, ...). The loop both layers share.
    The keyword switches, all True in the lesson, turn on the slips tfsigns.mistakes_cnn
    recognises: the padding or the stride left out of the output size, windows that move one
    pixel at a time, an input that was not padded."""
    A_in = zero_pad(A, pad) if pad_input else A
    n_H, n_W = (output_size(n, f, pad if size_pad else 0, stride if size_stride else 1) for n in A.shape[1:3])
    step = stride if slide_stride else 1
    return np.stack([np.stack([reduce(window(A_in, h, w, f, step)) for w in range(n_W)], axis=1)
                     for h in range(n_H)], axis=1)


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

"""Convolution step by step in NumPy, as the convolution course's first assignment builds it:
padding, one step of a filter, the forward pass of a convolutional layer and of a pooling
layer. Examples first: A (m, n_H, n_W, n_C); filters W (f, f, n_C_prev, n_C), biases b
(1, 1, 1, n_C). tfsigns.cnn builds the same operations as TensorFlow ops for training.
"""

from __future__ import annotations

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


def conv_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, hparameters: dict
                 ) -> tuple[np.ndarray, tuple]:
    """The forward pass of a convolutional layer: A_prev (m, n_H_prev, n_W_prev, n_C_prev),
    W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C), hparameters {"stride", "pad"} -> Z (m, n_H,
    n_W, n_C) and the cache (A_prev, W, b, hparameters) for the backward pass."""
    stride, pad = hparameters["stride"], hparameters["pad"]
    (m, n_H_prev, n_W_prev, _), (f, _, _, n_C) = A_prev.shape, W.shape
    n_H, n_W = output_size(n_H_prev, f, pad, stride), output_size(n_W_prev, f, pad, stride)
    A_pad = zero_pad(A_prev, pad)
    Z = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            # every example's window times every filter: conv_single_step for all of them at once
            Z[:, h, w, :] = np.tensordot(window(A_pad, h, w, f, stride), W, axes=([1, 2, 3], [0, 1, 2]))
    Z += b.reshape(n_C)
    return Z, (A_prev, W, b, hparameters)


def pool_forward(A_prev: np.ndarray, hparameters: dict, mode: str = "max") -> tuple[np.ndarray, tuple]:
    """The forward pass of a pooling layer: the max (or, with mode "average", the mean) of each
    f x f window at the given stride, channel by channel, no padding. A_prev (m, n_H_prev,
    n_W_prev, n_C), hparameters {"f", "stride"} -> A (m, n_H, n_W, n_C) and the cache."""
    if mode not in ("max", "average"):
        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
    f, stride = hparameters["f"], hparameters["stride"]
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = output_size(n_H_prev, f, 0, stride), output_size(n_W_prev, f, 0, stride)
    reduce = np.max if mode == "max" else np.mean
    A = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            A[:, h, w, :] = reduce(window(A_prev, h, w, f, stride), axis=(1, 2))
    return A, (A_prev, hparameters)

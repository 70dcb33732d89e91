"""The softmax math in NumPy, as the lecture derives it: column per example, Z (C, m)."""

from __future__ import annotations

import numpy as np


def softmax(Z: np.ndarray) -> np.ndarray:
    """Probabilities (C, m): exp(Z) / sum exp(Z) per column, shifted by the column max
    so that logits like 1000 do not overflow (the shift cancels in the ratio)."""
    exp = np.exp(Z - Z.max(axis=0, keepdims=True))
    return exp / exp.sum(axis=0, keepdims=True)


def hardmax(Z: np.ndarray) -> np.ndarray:
    """One-hot (C, m) of each column's largest logit: what softmax softens."""
    out = np.zeros_like(Z, dtype=float)
    out[Z.argmax(axis=0), np.arange(Z.shape[1])] = 1.0
    return out


def log_softmax(Z: np.ndarray, axis: int = 0) -> np.ndarray:
    """log softmax(Z) over `axis` (by default 0, the classes) via log-sum-exp, finite even where
    softmax underflows to 0."""
    shifted = Z - Z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    """J = -(1/m) sum_i sum_j y_j log y_hat_j, from logits Z (C, m) and one-hot Y (C, m)."""
    return float(-(Y * log_softmax(Z)).sum() / Z.shape[1])


def cross_entropy_gradient(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """dJ/dZ (C, m) = (y_hat - y) / m: each example's gradient is y_hat - y, and J
    averages over the m examples."""
    return (softmax(Z) - Y) / Z.shape[1]

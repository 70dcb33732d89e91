"""Native code's notes on stderr hushed while a runtime loads, so that what a user reads there stays ours."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code writes straight to file descriptor 2 (TensorFlow's oneDNN and CUDA
    probing notes that TF_CPP_MIN_LOG_LEVEL no longer hides, TensorFlow Lite's delegate notes), so that
    a user's error message stays the one line on stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

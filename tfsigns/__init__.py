"""tfsigns: the course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1."""

import os
import sys
from contextlib import contextmanager

__version__ = "0.1.0"


@contextmanager
def quiet_native_stderr():
    """Silence what TensorFlow's C++ core writes straight to file descriptor 2
    (oneDNN and CUDA probing notes that TF_CPP_MIN_LOG_LEVEL no longer hides),
    so that a user's error message stays the one line on stderr."""
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


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's kernels cost this small network about a fifth of its step time on CPU
# (bench/epoch_speed.py: 28.5 vs 23.0 ms per epoch). Takes effect only when tfsigns
# is imported before TensorFlow; TF_ENABLE_ONEDNN_OPTS=1 in the environment wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
with quiet_native_stderr():
    import tensorflow

    # Probing for GPUs makes the CUDA runtime complain once on machines without one; do it now.
    tensorflow.config.list_physical_devices()
# TensorFlow's Python-side deprecation notices (e.g. from Saver deleting old checkpoints)
# are for TensorFlow's developers, not for someone training a network.
tensorflow.get_logger().setLevel("ERROR")

"""TensorFlow, loaded once and quietly: every module that builds or runs a graph imports
`tf` and `v1` (tf.compat.v1) from here, never TensorFlow directly, so that its import-time
noise stays off a user's terminal."""

import contextlib
import os
from collections.abc import Iterator

import tfsigns  # noqa: F401  (sets TensorFlow's environment options before it loads)
from tfsigns.portable.native import quiet_native_stderr

# TensorFlow's oneDNN CPU kernels, for every family: the course CNN's epoch takes about a fifth
# of the time it takes without them, the MLP's about two thirds (bench/epoch_speed.py). Set
# before TensorFlow loads, as it reads the setting once; a value already in the environment wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
with quiet_native_stderr():
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    # Probing for GPUs makes the CUDA runtime complain once on machines without one; do it now.
    tf.config.list_physical_devices()
# TensorFlow's Python-side deprecation notices (e.g. from Saver deleting old checkpoints)
# are for TensorFlow's developers, not for someone training a network.
tf.get_logger().setLevel("ERROR")

v1 = tf.compat.v1


@contextlib.contextmanager
def deterministic_ops() -> Iterator[None]:
    """TensorFlow's op determinism on for what runs inside (a seed then fixes a run), and the process's
    own setting back afterwards, on error too: a notebook's later TensorFlow work runs as it chose, and
    no slower. TensorFlow has no public getter for the setting, hence its framework module."""
    before = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not before:
            tf_config.disable_op_determinism()

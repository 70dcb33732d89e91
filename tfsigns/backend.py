"""TensorFlow, loaded once and quietly: every module that builds or runs a graph imports
`tf` and `v1` (tf.compat.v1) from here, never TensorFlow directly, so that its import-time
noise stays off a user's terminal."""

import os

import tfsigns  # noqa: F401  (sets TensorFlow's environment options before it loads)
from tfsigns.portable.native import quiet_native_stderr

# TensorFlow's oneDNN CPU kernels, for every family: the course CNN's epoch takes about a fifth
# of the time it takes without them, the MLP's about two thirds (bench/epoch_speed.py). Set
# before TensorFlow loads, as it reads the setting once; a value already in the environment wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
with quiet_native_stderr():
    import tensorflow as tf

    # Probing for GPUs makes the CUDA runtime complain once on machines without one; do it now.
    tf.config.list_physical_devices()
# TensorFlow's Python-side deprecation notices (e.g. from Saver deleting old checkpoints)
# are for TensorFlow's developers, not for someone training a network.
tf.get_logger().setLevel("ERROR")

v1 = tf.compat.v1

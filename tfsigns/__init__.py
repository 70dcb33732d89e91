"""tfsigns: the course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1.

Importing the package does not load TensorFlow: reading data, checking settings and
search spaces, and a command's --help or one-line input error stay fast. The modules
that build or run graphs load it through tfsigns.backend.
"""

import os

__version__ = "0.1.0"

# TensorFlow reads these once, when it is first imported, so they are set here, before any
# tfsigns module can load it (import tfsigns before TensorFlow for them to take effect;
# values already in the environment win).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's kernels cost this small network about a fifth of its step time on CPU
# (bench/epoch_speed.py: 28.5 vs 23.0 ms per epoch).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

"""tfsigns: the course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) drowns the course's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

"""tfsigns: the course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1.

Importing the package does not load TensorFlow: reading data, checking settings and
search spaces, and a command's --help or one-line input error stay fast. The modules
that build or run graphs load it through tfsigns.backend.
"""

import os

__version__ = "0.1.0"

# TensorFlow reads this once, when it is first imported, so it is set here, before any tfsigns
# module can load it (import tfsigns before TensorFlow for it to take effect; a value already
# in the environment wins). tfsigns.backend sets its oneDNN kernels the same way.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

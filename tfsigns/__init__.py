"""tfsigns: the course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1.

One folder a concern, layered (docs/architecture.md draws the map): portable (what an exported
reader runs outside tfsigns: your photos, framing, the hand pipeline, read.py), images (SIGNS),
course (the lessons' functions), networks (the interface, mlp, cnn), training (the graph, the
session loop, inference), search, reader (photos read by a finished run, the live page, the
export) and grading (the exercises' grader); the commands users type are modules here
(train, tune, predict, robustness, calibrate, grader, serve, export).

Importing the package does not load TensorFlow: reading data, checking settings and
search spaces, and a command's --help or one-line input error stay fast. The modules
that build or run graphs load it through tfsigns.backend.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

__version__ = "0.1.0"

# TensorFlow reads this once, when it is first imported, so it is set here, before any tfsigns
# module can load it (import tfsigns before TensorFlow for it to take effect; a value already
# in the environment wins). tfsigns.backend sets its oneDNN kernels the same way.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Where each module lived before the package had folders (or before it moved): the old path is the same
# module under a second name, so a learner's notebook that writes `from tfsigns.data import load_dataset` or
# `from tfsigns.trainer import model`, and `python -m tfsigns.basics`, keep working.
MOVED = {
    "data": "images.signs", "photos": "portable.photos", "framing": "portable.framing",
    "shifts": "images.shifts",
    "files": "utils.files", "cli": "utils.cli", "plots": "utils.plots",
    "basics": "course.basics", "softmax": "course.softmax", "convolution": "course.convolution",
    "mlp": "networks.mlp", "cnn": "networks.cnn",
    "model": "training.graph", "population": "training.population", "augment": "training.augment",
    "checkpoint": "training.checkpoint", "runs": "training.runs", "trainer": "training.trainer",
    "inference": "training.inference", "monitor": "training.monitor",
    "space": "search.space", "executors": "search.executors",
    "feedback": "grading.feedback", "answers": "grading.answers", "checks": "grading.checks",
    "mistakes": "grading.mistakes", "mistakes_cnn": "grading.mistakes_cnn", "classroom": "grading.classroom",
    # and where the reader's run-time code lived before it moved into portable/, which an export copies
    "images.photos": "portable.photos", "images.framing": "portable.framing", "hands.palm": "portable.palm",
}


def _new_name(fullname: str) -> str:
    """tfsigns.<old name> -> the module's name in its folder."""
    return f"{__name__}.{MOVED[fullname.partition('.')[2]]}"


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `tfsigns.<old name>` and answers with the module it became (one module, two names)."""

    def find_spec(self, fullname: str, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package != __name__ or name not in MOVED:
            return None
        # the module's own spec rides along: its origin is what runpy makes sys.argv[0], and the
        # module gets the spec back once imported
        own = importlib.util.find_spec(_new_name(fullname))
        return importlib.machinery.ModuleSpec(fullname, self, origin=own.origin, loader_state=own)

    def create_module(self, spec):
        return importlib.import_module(spec.loader_state.name)

    def exec_module(self, module) -> None:
        """The module ran when it was imported under its own name. Importing it by the old name has
        just set its __spec__ to the old name's: it gets its own back (reload and runpy read it)."""
        module.__spec__ = module.__spec__.loader_state

    def get_code(self, fullname: str):
        """The new module's code, for `python -m tfsigns.<old name>` (runpy runs it as __main__)."""
        new = _new_name(fullname)
        return importlib.util.find_spec(new).loader.get_code(new)


sys.meta_path.append(_MovedModules())

"""tfsigns: the course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1.

One folder a concern, layered (docs/architecture.md draws the map): images (SIGNS and your
photos), course (the lessons' functions), networks (the interface, mlp, cnn), training (the
graph, the session loop, inference), search, reader (photos read by a finished run, the live
page) and grading (the exercises' grader); the commands users type are modules here
(train, tune, predict, robustness, calibrate, grader, serve).

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

# Where each module lived before the package had folders: the old path is the same module under
# a second name, so a learner's notebook that writes `from tfsigns.data import load_dataset` or
# `from tfsigns.trainer import model`, and `python -m tfsigns.basics`, keep working.
MOVED = {
    "data": "images.signs", "photos": "images.photos", "framing": "images.framing", "shifts": "images.shifts",
    "files": "utils.files", "cli": "utils.cli", "plots": "utils.plots",
    "basics": "course.basics", "softmax": "course.softmax", "convolution": "course.convolution",
    "mlp": "networks.mlp", "cnn": "networks.cnn",
    "model": "training.graph", "population": "training.population", "augment": "training.augment",
    "checkpoint": "training.checkpoint", "runs": "training.runs", "trainer": "training.trainer",
    "inference": "training.inference", "monitor": "training.monitor",
    "space": "search.space", "executors": "search.executors",
    "feedback": "grading.feedback", "answers": "grading.answers", "checks": "grading.checks",
    "mistakes": "grading.mistakes", "mistakes_cnn": "grading.mistakes_cnn", "classroom": "grading.classroom",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `tfsigns.<old name>` and answers with the module it became (one module, two names)."""

    def __init__(self) -> None:
        self.specs: dict[str, importlib.machinery.ModuleSpec] = {}  # new name -> its own spec

    def find_spec(self, fullname: str, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package != __name__ or name not in MOVED:
            return None
        # its origin is the new module's file: runpy makes it sys.argv[0]
        return importlib.util.spec_from_loader(fullname, self, origin=importlib.util.find_spec(
            f"{__name__}.{MOVED[name]}").origin)

    def create_module(self, spec):
        module = importlib.import_module(f"{__name__}.{MOVED[spec.name.partition('.')[2]]}")
        self.specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module) -> None:
        """The module ran when it was imported under its own name. Importing it by the old name has
        just set its __spec__ to the old name's: it gets its own back (reload and runpy read it)."""
        module.__spec__ = self.specs.pop(module.__name__)

    def get_code(self, fullname: str):
        """The new module's code, for `python -m tfsigns.<old name>` (runpy runs it as __main__)."""
        new = f"{__name__}.{MOVED[fullname.partition('.')[2]]}"
        return importlib.util.find_spec(new).loader.get_code(new)


sys.meta_path.append(_MovedModules())

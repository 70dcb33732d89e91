"""The package's layering, as the module map draws it (README, docs/architecture.md): which folder
and module may import which, so that there is no import cycle; at most 12 modules directly in
tfsigns/ and none over 450 lines; the commands' entry modules thin; graph builders that only build;
the modules that read and check input without TensorFlow; and the old module paths that learners'
notebooks use."""

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfsigns.config import NETWORKS, TrainConfig
from tfsigns.images.signs import IMAGE_SHAPE
from tfsigns.networks import Layout, Network, get_network

PACKAGE = Path(__file__).resolve().parents[1] / "tfsigns"

# The folders, bottom up (config and backend are modules directly in tfsigns/, as are the commands'
# entries): a module imports from a folder below its own, or from its own folder a module of a
# lower layer (LAYERS), in function bodies too. So imports only go down and there is no cycle.
# Below backend nothing needs TensorFlow.
FOLDERS = ["portable", "images", "config", "utils", "hands", "backend", "course", "networks", "training",
           "search", "reader", "grading", "commands"]
LAYERS = {
    # a folder's __init__ (its docstring; the network interface in networks') is imported with any of its
    # modules, so each is at the bottom of its folder and needs no TensorFlow
    "images": 0, "utils": 0, "course": 0, "training": 0, "search": 0, "reader": 0, "grading": 0,
    "portable": 0, "portable.photos": 0, "portable.framing": 0, "portable.palm": 0, "portable.native": 0,
    "portable.hands": 1, "portable.read": 2,
    "images.dataset": 0, "images.scenes": 0, "images.signs": 1, "images.shifts": 1, "images.digits": 1,
    "config": 0,
    "utils.files": 0, "utils.cli": 0, "utils.plots": 1,
    "hands": 0, "hands.files": 0, "hands.model": 1, "hands.features": 2, "hands.shapes": 0,
    "hands.examples": 3,
    "backend": 0,
    "course.softmax": 0, "course.convolution": 0, "course.basics": 0,
    "networks": 0, "networks.layers": 1, "networks.mlp": 2, "networks.cnn": 3, "networks.landmarks": 3,
    "training.runs": 0, "training.checkpoint": 1, "training.graph": 0, "training.monitor": 0,
    "training.augment": 1, "training.population": 1, "training.inference": 2, "training.trainer": 2,
    "training.train": 3,
    "search.space": 0, "search.executors": 0, "search.tune": 1,
    "reader.predict": 0, "reader.robustness": 0, "reader.calibrate": 0, "reader.serve": 2,
    "reader.convert": 0, "reader.export": 2, "reader.web": 1, "reader.guard": 0,
    # the grading folder's modules, layer by layer from 0
    **{f"grading.{name}": layer for layer, names in enumerate((
        "feedback mistakes reports graphs feeds", "answers mistakes_cnn summary",
        "checks child remote helpers structure", "sampling models sandbox", "exercises exercises_cnn",
        "grader", "submission", "classroom")) for name in names.split()},
    "train": 0, "tune": 0, "predict": 0, "robustness": 0, "calibrate": 0, "grader": 0, "serve": 0,
    "export": 0,
}
# What users type: `python -m tfsigns.<command>`. Each is a thin entry whose code lives in its folder.
COMMANDS = {"train": "training.train", "tune": "search.tune", "predict": "reader.predict",
            "robustness": "reader.robustness", "calibrate": "reader.calibrate", "grader": "grading.grader",
            "serve": "reader.serve", "export": "reader.export"}
# Checked without TensorFlow: everything below backend, and what a command imports before its input is
# checked (it loads TensorFlow only then).
TENSORFLOW_FREE = [name for name in LAYERS if name not in COMMANDS
                   and FOLDERS.index(name.split(".")[0]) < FOLDERS.index("backend")] + [
    "networks", "course", "training", "search", "reader", "grading",
    "course.softmax", "course.convolution", "training.runs", "search.space",
    "search.executors", "training.train", "search.tune", "reader.predict", "reader.robustness",
    "reader.calibrate", "reader.serve", "reader.guard", "reader.export", "reader.web", "train", "tune",
    "predict", "robustness", "calibrate", "serve", "export"]
# Where sessions run: the session loop, inference, the lessons that run their own graphs, the grader's
# adapters and the batch-norm exercise's check, which run a candidate's graph, and the reference helpers'
# initial values, which the grader evaluates for a submission's model().
SESSIONS = {"training.trainer", "training.inference", "course.basics", "grading.answers", "grading.child",
            "reader.convert", "grading.helpers"}
MAX_LINES = 450
MAX_TOP_LEVEL = 12


def folder(name: str) -> int:
    """The rank of the folder that module `name` is in (a command's entry is in "commands")."""
    return FOLDERS.index("commands" if name in COMMANDS else name.split(".")[0])


@functools.cache
def modules() -> dict[str, ast.Module]:
    """Every module of the package by its dotted name under tfsigns (a folder's __init__ by the folder's),
    parsed once for the whole file (each parametrized test reads it: parsed anew, 44 s of the suite)."""
    trees = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name:
            trees[name] = ast.parse(path.read_text())
    return trees


def imported(tree: ast.Module, name: str) -> set[str]:
    """The tfsigns modules module `name` imports, anywhere in it (lazy imports in functions too),
    except for type checkers only (under `if TYPE_CHECKING:`) and in its `if __name__ == "__main__":`
    block, which runs only as a command (python -m tfsigns.grader hands over to the class grader)."""
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and ast.unparse(node.test) in ("TYPE_CHECKING", "__name__ == '__main__'")
                   for inner in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:  # portable's modules import each other relatively
            base = ".".join(name.split(".")[:-node.level] + [node.module or ""]).strip(".")
            names |= {f"{base}.{alias.name}".strip(".") if f"{base}.{alias.name}" in LAYERS else base
                      for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tfsigns":
            base = node.module.removeprefix("tfsigns").lstrip(".")
            for alias in node.names:  # `from tfsigns.networks import cnn` imports the module networks.cnn
                whole = f"{base}.{alias.name}".lstrip(".")
                names.add(whole if whole in LAYERS else base)
        elif isinstance(node, ast.Import):
            names |= {a.name.removeprefix("tfsigns.") for a in node.names if a.name.startswith("tfsigns.")}
    return names


def test_every_module_has_a_layer():
    assert set(modules()) == set(LAYERS)


def test_few_modules_directly_in_the_package():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top
    assert {f"{name}.py" for name in COMMANDS} <= set(top)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_registered_family_implements_the_interface(name):
    """The registry imports a family by name at run time, so its layer is checked here: above
    the shared builders it uses; and it provides every part of the interface."""
    module = NETWORKS[name].removeprefix("tfsigns.")
    assert module.startswith("networks.") and LAYERS[module] > LAYERS["networks.layers"]
    network = get_network(name)
    assert isinstance(network, Network) and isinstance(network.layout, Layout)
    for method in ("parameter_shapes", "create_placeholders", "initialize_parameters", "forward"):
        assert getattr(type(network), method) is not getattr(Network, method), method
    lessons = {"create_placeholders", "initialize_parameters", "forward_propagation"}
    assert lessons <= set(network.course_functions)
    X, _ = network.layout.from_columns(np.zeros((12288, 2), np.float32), None, IMAGE_SHAPE)  # 2 images
    shapes = network.parameter_shapes(TrainConfig(batch_norm=True), network.layout.example_shape(X), 6)
    assert all(isinstance(n, int) and n > 0 for shape in shapes.values() for n in shape)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_imports_go_down_the_layers_only(name):
    tree = modules()[name]
    unknown = sorted(imported(tree, name) - set(LAYERS))
    assert not unknown, f"tfsigns.{name} imports {unknown}, which are not modules of the map"
    upward = sorted(other for other in imported(tree, name)
                    if (folder(other), LAYERS[other]) >= (folder(name), LAYERS[name])
                    and not (folder(other) < folder(name)))
    assert not upward, f"tfsigns.{name} ({FOLDERS[folder(name)]}, layer {LAYERS[name]}) imports {upward}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_no_module_is_over_the_line_limit(name):
    path = PACKAGE / f"{name.replace('.', '/')}.py"
    path = path if path.exists() else path.with_suffix("") / "__init__.py"
    lines = path.read_text().count("\n")
    assert lines <= MAX_LINES, f"{path} has {lines} lines"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_is_a_thin_entry(command):
    """Its module only hands over to its folder's code: imports, names and the __main__ block."""
    tree = modules()[command]
    assert imported(tree, command) == {COMMANDS[command]}
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "Import", "ImportFrom", "Assign", "If"}, kinds
    assert (PACKAGE / f"{command}.py").read_text().count("\n") <= 30


def test_graph_builders_only_build():
    """Sessions are opened in the session loop, in inference, and in the lessons alone."""
    opening = {name for name, tree in modules().items()
               if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr in ("Session", "InteractiveSession") for node in ast.walk(tree))}
    assert opening <= SESSIONS, sorted(opening - SESSIONS)


def python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_reading_and_checking_input_does_not_load_tensorflow():
    code = ("import importlib, json, sys\n"
            f"for name in {TENSORFLOW_FREE!r}: importlib.import_module('tfsigns.' + name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')))")
    assert json.loads(python(code)) == []


@pytest.mark.parametrize("command, argv", [
    ("train", ["--help"]),
    ("train", ["--learning-rate", "-1", "--out", "{out}"]),
    ("train", ["--data-dir", "/nonexistent/signs", "--out", "{out}"]),
    ("tune", ["--trials", "0", "--out", "{out}"]),
    ("tune", ["--space", "/nonexistent/space.json", "--out", "{out}"]),
    ("predict", ["/nonexistent/photo.jpg", "--model", "/nonexistent/run"]),
    ("robustness", ["--help"]),
    ("robustness", ["--model", "/nonexistent/run"]),
    ("serve", ["--help"]),
    ("serve", ["--model", "/nonexistent/run"]),
    ("export", ["--help"]),
    ("export", ["--model", "/nonexistent/run", "--out", "{out}"]),
])
def test_help_and_a_one_line_input_error_do_not_load_tensorflow(command, argv, tmp_path):
    argv = [arg.format(out=tmp_path / "out") for arg in argv]
    code = (f"import sys\nfrom tfsigns.{command} import main\n"
            f"try:\n    code = main({argv!r})\nexcept SystemExit as exit:\n    code = exit.code\n"
            "print(code, 'tensorflow' in sys.modules)")
    assert python(code).split()[-2:] in (["0", "False"], ["2", "False"])


# Every import of tfsigns the notebooks wrote before the package had folders (git show a333e04):
# a learner's copy of a notebook keeps working.
OLD_IMPORTS = [
    "from tfsigns import basics, softmax",
    "from tfsigns import cnn",
    "from tfsigns.config import TrainConfig",
    "from tfsigns.data import convert_to_one_hot, find_data_dir, flatten_and_normalize, load_dataset",
    "from tfsigns.data import load_signs",
    "from tfsigns.grader import grade, grade_all",
    "from tfsigns.inference import classify, predict",
    "from tfsigns.photos import ImageError, load_image",
    "from tfsigns.plots import plot_confusion, plot_cost_panels, plot_costs, plot_filters, plot_reading, "
    "plot_samples, plt",
    "from tfsigns.runs import CheckpointError, finished_run",
    "from tfsigns.shifts import EXIF_ORIENTATION, SHIFTS, apply_shift, phone_photo",
    "from tfsigns.space import load_space, parse_space",
    "from tfsigns.train import main as train_main",
    "from tfsigns.trainer import cnn_model, initial_parameters, model, train",
    "from tfsigns.tune import SearchSettings, plot_search, search",
    # and the course's names in the modules the notebooks cite
    "from tfsigns.mlp import create_placeholders, initialize_parameters, forward_propagation, compute_cost",
    "from tfsigns.convolution import zero_pad, conv_forward, pool_forward",
    "import tfsigns.model, tfsigns.population, tfsigns.checkpoint, tfsigns.augment, tfsigns.monitor",
]


def test_old_module_paths_are_the_new_modules():
    """Each old path names the very module that now lives in a folder (not a copy), so a learner's
    notebook, its monkeypatches included, acts on what tfsigns runs."""
    code = ("import importlib\n" + "\n".join(OLD_IMPORTS) + "\nimport tfsigns\n"
            "print(all(importlib.import_module('tfsigns.' + old) is importlib.import_module('tfsigns.' + new)"
            " for old, new in tfsigns.MOVED.items()))")
    assert python(code).split()[-1] == "True"


def test_an_old_path_leaves_the_module_its_own_spec():
    """Reload (and IPython's autoreload) and runpy read a module's __spec__: importing the module by its
    old path must not leave the old name's spec on it, or a reload would run nothing."""
    code = ("import importlib\nimport tfsigns.data, tfsigns.trainer\nimport tfsigns.images.signs as signs\n"
            "signs.load_dataset = None\nimportlib.reload(tfsigns.data)\n"
            "print(signs.__spec__.name, tfsigns.trainer.__spec__.name, signs.load_dataset is not None)")
    assert python(code).split()[-3:] == ["tfsigns.images.signs", "tfsigns.training.trainer", "True"]


def test_an_old_path_runs_as_a_command():
    result = subprocess.run([sys.executable, "-m", "tfsigns.plots", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "learning curves" in result.stdout, result.stderr


def closure(*starts: str) -> set[str]:
    """The modules `starts` import, all the way down, as paths under tfsigns/ (a folder's as its __init__)."""
    trees, needed, todo = modules(), set(), list(starts)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += [other for other in imported(trees[name], name) if other]
    needed |= {".".join(name.split(".")[:i]) for name in needed for i in range(1, name.count(".") + 1)}
    paths = {name.replace(".", "/") + ("/__init__" if (PACKAGE / name).is_dir() else "") for name in needed}
    return paths | {"__init__"}


def test_the_graded_submissions_sandbox_binds_every_module_its_child_imports_and_no_answer():
    """tfsigns.grading.child.CHILD_MODULES is all of tfsigns a submission's sandbox holds: what the child
    imports, all the way down, and nothing that holds a reference, a check or a case, even where model() is
    graded with the reference helpers (they run in the grader's process: tfsigns.grading.helpers)."""
    from tfsigns.grading.child import CHILD_MODULES, NOTEBOOK_MODULES
    assert closure("grading.child") == set(CHILD_MODULES)
    assert closure("images.dataset") <= set(CHILD_MODULES + NOTEBOOK_MODULES)
    assert not {"grading/exercises", "grading/checks", "grading/mistakes", "grading/helpers", "course/basics",
                "images/signs", "training/trainer", "networks/mlp", "networks/cnn", "networks/layers",
                "config"} & set(CHILD_MODULES + NOTEBOOK_MODULES)

"""The package's layering, as the module map draws it (README, docs/architecture.md): which module
may import which, no import cycle, no module over ~600 lines, graph builders that only build, and
the modules that read and check input without TensorFlow."""

import ast
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

# A module may import only modules of a lower layer (in function bodies too), so there is no
# cycle. Layers below backend's need no TensorFlow; the commands (train, tune, predict) are on
# top and load it only once their input is checked.
LAYERS = {
    "files": 0, "softmax": 0, "convolution": 0, "networks": 0, "framing": 0, "photos": 0, "runs": 0,
    "data": 1,
    "config": 1, "shifts": 1,
    "cli": 2, "space": 2,
    "backend": 3, "plots": 3,
    "model": 4, "checkpoint": 4, "feedback": 4,
    "mlp": 5, "cnn": 6, "population": 5, "basics": 5, "augment": 5,
    "trainer": 6, "inference": 6, "monitor": 6, "mistakes": 6,
    "executors": 7, "checks": 7, "mistakes_cnn": 7,
    "grader": 8, "train": 8, "tune": 8, "predict": 8, "robustness": 8,
    "calibrate": 9, "classroom": 9, "answers": 6, "serve": 10,
}
TENSORFLOW_FREE = [name for name, layer in LAYERS.items() if layer < LAYERS["backend"]] + [
    "plots", "executors", "train", "tune", "predict", "robustness", "calibrate", "serve"]
# Where sessions run: the session loop, inference, the lessons that run their own graphs, and the
# grader's adapters that run a candidate's graph.
SESSIONS = {"trainer", "inference", "basics", "grader", "answers"}
MAX_LINES = 600


def modules() -> dict[str, ast.Module]:
    paths = [path for path in PACKAGE.glob("*.py") if path.stem != "__init__"]
    return {path.stem: ast.parse(path.read_text()) for path in paths}


def imported(tree: ast.Module) -> set[str]:
    """The tfsigns modules a module imports, anywhere in it (lazy imports in functions too),
    except for type checkers only (under `if TYPE_CHECKING:`) and in its `if __name__ == "__main__":`
    block, which runs only as a command (python -m tfsigns.grader hands over to the class grader)."""
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and ast.unparse(node.test) in ("TYPE_CHECKING", "__name__ == '__main__'")
                   for inner in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfsigns"):
            if node.module == "tfsigns":
                names |= {alias.name for alias in node.names}
            else:
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("tfsigns.")}
    return names & set(LAYERS)


def test_every_module_has_a_layer():
    assert set(modules()) == set(LAYERS)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_registered_family_implements_the_interface(name):
    """The registry imports a family by name at run time, so its layer is checked here: above
    the shared builders it uses; and it provides every part of the interface."""
    module = NETWORKS[name].removeprefix("tfsigns.")
    assert LAYERS[module] > LAYERS["model"]
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
    upward = sorted(other for other in imported(tree) if LAYERS[other] >= LAYERS[name])
    assert not upward, f"tfsigns.{name} (layer {LAYERS[name]}) imports {upward}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_no_module_is_over_the_line_limit(name):
    lines = (PACKAGE / f"{name}.py").read_text().count("\n")
    assert lines <= MAX_LINES, f"tfsigns/{name}.py has {lines} lines"


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
])
def test_help_and_a_one_line_input_error_do_not_load_tensorflow(command, argv, tmp_path):
    argv = [arg.format(out=tmp_path / "out") for arg in argv]
    code = (f"import sys\nfrom tfsigns.{command} import main\n"
            f"try:\n    code = main({argv!r})\nexcept SystemExit as exit:\n    code = exit.code\n"
            "print(code, 'tensorflow' in sys.modules)")
    assert python(code).split()[-2:] in (["0", "False"], ["2", "False"])

"""model()'s reference helpers, run in the grader's process for a submission's model().

Where a learner's helper (create_placeholders, ..., random_mini_batches) fails, model() is graded again with
the references in its place, so that one slip costs its points once. The references never enter the
submission's process: there each helper is a stand-in (tfsigns.grading.child.ReferenceHelper) that sends
what it was given, its tensors and variables described by dtype and shape; here the reference runs on
placeholders of those, in a graph of its own (the learner's graph seed set on it), and the answer goes back
as data: the placeholders and variables it made (a variable with its initial value), the ops it built on the
inputs (a GraphDef to import on them), NumPy values as they are. The request is untrusted data: its helper
one of the exercise's, its shapes and the values it would make bounded.
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Mapping
from typing import Any

from tfsigns.backend import tf, v1
from tfsigns.grading.answers import decode, encode, error_data, rebuilt_containers

MAX_INPUTS = 64  # tensors and variables among a helper's arguments
MAX_DIM, MAX_RANK = 1 << 20, 8  # of each such tensor's shape
MAX_VALUES = 4 << 20  # initial values a call may make (the course's MLP on SIGNS has 0.3 million)
DTYPES = ("float16", "float32", "float64", "int32", "int64", "bool", "uint8")
VARIABLE_OPS = ("VariableV2", "VarHandleOp")


def helper_answer(request: dict, helpers: Mapping[str, str]) -> dict:
    """The answer to a submission's stand-in asking for reference helper request["helper"], one of `helpers`
    ({name: "module:function"}): what it made, as data; or what went wrong ({"raised": ...}), which the
    stand-in raises in model()."""
    try:
        return _answer(request, helpers)
    except Exception as err:  # noqa: BLE001  (the learner's model() called it so: its error, there)
        return {"raised": error_data(err)}


def _answer(request: dict, helpers: Mapping[str, str]) -> dict:
    name, seed = request.get("helper"), request.get("seed")
    if not isinstance(name, str) or name not in helpers:
        raise ValueError(f"{str(name)[:40]!r} is not a reference helper of this exercise")
    if seed is not None and (type(seed) is not int or not 0 <= seed < 1 << 63):
        raise ValueError("the graph's seed is not a whole number")
    module, _, function = helpers[name].partition(":")
    reference = getattr(importlib.import_module(module), function)
    inputs: list[tf.Tensor] = []
    with tf.Graph().as_default() as graph:
        graph.seed = seed
        arguments = rebuilt_containers(request.get("args"), lambda data: _inputs(data, inputs))
        if not (isinstance(arguments, tuple) and len(arguments) == 2 and isinstance(arguments[0], tuple)
                and isinstance(arguments[1], dict) and all(isinstance(key, str) for key in arguments[1])):
            raise ValueError("a helper's arguments described otherwise than the grader's protocol says")
        result = reference(*arguments[0], **arguments[1])
        made = graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
        if sum(variable.shape.num_elements() or 0 for variable in made) > MAX_VALUES:
            raise ValueError(f"more than {MAX_VALUES} initial values")
        values = {}
        if made:
            with v1.Session(graph=graph) as session:
                session.run(v1.variables_initializer(made))
                values = {id(made[k]): value for k, value in enumerate(session.run(made))}
        tensors: list[tf.Tensor] = []
        value = _described(result, values, {id(tensor) for tensor in inputs}, tensors)
        fragment = v1.graph_util.extract_sub_graph(graph.as_graph_def(), [t.op.name for t in tensors]) \
            if tensors else None
    if fragment is not None and any(node.op in VARIABLE_OPS for node in fragment.node):
        raise ValueError("a reference whose ops read variables it made itself")
    taken = {node.name for node in fragment.node} if fragment is not None else set()
    return {"value": value, "fragment": fragment and base64.b64encode(fragment.SerializeToString()).decode(),
            "inputs": [tensor.op.name for tensor in inputs if tensor.op.name in taken],
            "outputs": [tensor.name for tensor in tensors]}


def _inputs(data: Any, inputs: list) -> Any:
    """An argument of a stand-in's request: {"input": [index, dtype, shape]} a placeholder input_<index> of
    that dtype and shape (in `inputs`), the rest decoded as untrusted data."""
    if isinstance(data, dict) and "input" in data:
        index, dtype, shape = data["input"]
        if index != len(inputs) or index >= MAX_INPUTS or dtype not in DTYPES or not (
                shape is None or isinstance(shape, list) and len(shape) <= MAX_RANK
                and all(n is None or type(n) is int and 0 <= n <= MAX_DIM for n in shape)):
            raise ValueError("a tensor described otherwise than the grader's protocol says")
        inputs.append(v1.placeholder(dtype, shape, name=f"input_{index}"))
        return inputs[-1]
    return decode(data)


def _described(value: Any, values: dict, inputs: set, tensors: list) -> Any:
    """What a reference returned, as data for the stand-in: its variables with their initial `values`, the
    placeholders it made, its other tensors as outputs of the fragment (in `tensors`)."""
    if isinstance(value, tf.Variable):
        return {"variable": [value.op.name, encode(values[id(value)]), value.trainable]}
    if isinstance(value, tf.Tensor) and value.op.type == "Placeholder" and id(value) not in inputs:
        shape = value.shape.as_list() if value.shape.rank is not None else None
        return {"placeholder": [value.op.name, value.dtype.name, shape]}
    if isinstance(value, tf.Tensor):
        tensors.append(value)
        return {"output": value.name}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple":
                [_described(item, values, inputs, tensors) for item in value]}
    if isinstance(value, Mapping):
        return {"dict": [[encode(key), _described(item, values, inputs, tensors)]
                         for key, item in value.items()]}
    return encode(value)

"""A CNN's structure read from the graph a candidate's forward_propagation builds (its GraphOps, data that
tfsigns.grading.graphs describes): its convolution and pooling layers, their windows, strides and padding,
the FLATTEN, and variables of its own. Most such slips make TensorFlow raise, or give no wrong value on the
grader's sizes, so they are read, not computed (tfsigns.grading.exercises_cnn grades with them).
"""

from __future__ import annotations

from dataclasses import dataclass

from tfsigns.grading.graphs import GraphOps
from tfsigns.grading.mistakes_cnn import FLATTEN_HINT


@dataclass(frozen=True)
class LayerOp:
    """A convolution or pooling op as built: its kind and its NHWC window, strides and padding."""

    kind: str
    window: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str


KINDS = {"Conv2D": "CONV2D", "MaxPool": "MAXPOOL", "AvgPool": "AVGPOOL"}
VARIABLE_OPS = {"VarHandleOp", "VariableV2"}
BATCH_STRIDE_HINT = ("strides=[1, s, s, 1]: the first entry steps over the examples and the last over the "
                     "channels, both stay 1")
POOL_HINT = ("the window moves by its own size: tf.nn.max_pool(A1, ksize=[1, 8, 8, 1], strides=[1, 8, 8, 1], "
             "padding='SAME'), then ksize=[1, 4, 4, 1], strides=[1, 4, 4, 1] for the second pool")
PADDING_HINT = "padding='SAME' in every CONV2D and MAXPOOL, as the network is specified"


ACTIVATIONS = ("Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus")
RELU_HINT = "CONV2D -> RELU -> MAXPOOL in each block: tf.nn.relu on each convolution's output"


def activations(graph: GraphOps) -> list[set[str]]:
    """For each convolution of a graph, in order, the activations its output goes through before the next
    convolution or dense layer."""
    consumers: dict[str, list] = {}
    for op in graph:
        for name in op.inputs:
            consumers.setdefault(name, []).append(op)
    found = []
    for conv in (op for op in graph if op.type == "Conv2D"):
        met, todo, seen = set(), list(consumers.get(conv.name, [])), set()
        while todo:
            op = todo.pop()
            if op.name in seen or op.type in ("Conv2D", "MatMul"):
                continue
            seen.add(op.name)
            met |= {op.type} & set(ACTIVATIONS)
            todo += consumers.get(op.name, [])
        found.append(met)
    return found


def layer_ops(graph: GraphOps) -> list[LayerOp]:
    """The convolution and pooling ops of a graph, in the order they were built."""
    return [LayerOp(KINDS[op.type], op.window, op.strides, op.padding) for op in graph if op.type in KINDS]


def _pool_problem(name: str, got: LayerOp, expected: LayerOp, other: LayerOp | None) -> tuple[str, str]:
    """What is wrong with a pool whose window or strides differ from the network's."""
    (k, s), (K, S) = (got.window[1], got.strides[1]), (expected.window[1], expected.strides[1])
    if k == K and s == 1 != S:
        return (f"{name} has a {k}x{k} window moving 1 pixel at a time (strides={list(got.strides)}): "
                f"its stride is {S}, the window's own size", POOL_HINT)
    if other and {k, s} & {other.window[1], other.strides[1]} - {K, S}:
        return (f"{name} has a {k}x{k} window and stride {s}: the window and stride of the two pools are "
                f"mixed up (the first pool is {K}x{K}, stride {S})", POOL_HINT)
    return (f"{name} has ksize={list(got.window)}, strides={list(got.strides)}; expected "
            f"ksize={list(expected.window)}, strides={list(expected.strides)}", POOL_HINT)


def structure_problems(expected: GraphOps, got: GraphOps, raised: bool = False) -> list[tuple[str, str]]:
    """(what, hint) for each way the CNN built in `got` departs from the reference built in `expected`:
    its layers, their padding and strides, the FLATTEN, variables of its own. None for a candidate that
    `raised` before it built all the layers: what it raised says more."""
    want, have = layer_ops(expected), layer_ops(got)
    kinds = [op.kind for op in want]
    if raised and [op.kind for op in have] == kinds[:len(have)] != kinds:
        return []
    if [op.kind for op in have] != kinds:
        found = " -> ".join(op.kind for op in have) or "none"
        return [(f"the convolution and pooling layers are {found}; expected {' -> '.join(kinds)}",
                 "CONV2D (tf.nn.conv2d) -> RELU -> MAXPOOL (tf.nn.max_pool), twice")]
    problems, seen = [], {}
    for g, e in zip(have, want, strict=True):
        seen[g.kind] = seen.get(g.kind, 0) + 1
        name = f"{g.kind} {seen[g.kind]}"
        if g.strides[0] != 1 or g.strides[3] != 1:
            problems.append((f"{name} has strides={list(g.strides)}: a stride on the batch axis (the "
                             "examples) or the channels", BATCH_STRIDE_HINT))
        elif g.kind == "MAXPOOL" and (g.window, g.strides) != (e.window, e.strides):
            others = [op for op in want if op.kind == "MAXPOOL" and op is not e]
            problems.append(_pool_problem(name, g, e, others[0] if others else None))
        elif g.strides != e.strides:
            problems.append((f"{name} has strides={list(g.strides)}; expected {list(e.strides)}",
                             "tf.nn.conv2d(A, W, strides=[1, 1, 1, 1], padding='SAME')"))
        if g.padding != e.padding:
            problems.append((f"{name} pads {g.padding}, not {e.padding}", PADDING_HINT))
    for k, (want, have) in enumerate(zip(activations(expected), activations(got), strict=False), start=1):
        if "Relu" in want and "Relu" not in have:
            said = f"a {sorted(have)[0]} after CONV2D {k} where the ReLU goes" if have else (
                f"no ReLU after CONV2D {k}: its output goes on as it is (the max-pool after it hides that in "
                "the values of these cases, not in training)")
            problems.append((said, RELU_HINT))
    # A raise cuts the graph short: with other problems, it may have come before the FLATTEN.
    if not any(op.type == "Reshape" for op in got) and not (raised and problems):
        problems.append(("P2 was not flattened: the fully connected layer needs (m, n_H * n_W * n_C)",
                         FLATTEN_HINT))
    if made := [op.name for op in got if op.type in VARIABLE_OPS]:
        problems.append((f"forward_propagation made variables of its own ({', '.join(made[:3])}), so its "
                         "fully connected layer is not the one in parameters",
                         "use parameters['W3'] and parameters['b3'], the dense layer's own"))
    return problems

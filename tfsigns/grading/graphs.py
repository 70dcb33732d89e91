"""A graph as the grader's checks read it, data and never a GraphDef to import: each op's name, type and
inputs, and a convolution's or a pool's window, strides and padding (GraphOps, what the adapter graph_of of
tfsigns.grading.answers answers); and the same read back from a submission's answer, checked as untrusted
data (graph_ops), where an exercise asks for a graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfsigns.backend import tf


@dataclass(frozen=True)
class GraphOp:
    """What the checks read of one op of a graph: its name, its type, the ops it takes its inputs from, and
    for a convolution or a pool its window (a convolution's filter's height and width), strides, padding."""

    name: str
    type: str
    inputs: tuple[str, ...] = ()
    window: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    padding: str = ""


WINDOWED = ("Conv2D", "MaxPool", "AvgPool")


class GraphOps(tuple):
    """A graph as the checks read it, its GraphOps in the order they were built: data, never a GraphDef to
    import (a 400,000-node one took 18 s and 2 GB in the grader)."""

    @classmethod
    def of(cls, graph: tf.Graph) -> GraphOps:
        ops = []
        for op in graph.get_operations():
            window, strides, padding = (), (), ""
            if op.type in WINDOWED:
                window = (tuple(op.get_attr("ksize")) if op.type != "Conv2D" else
                          tuple(op.inputs[1].shape[:2]) if op.inputs[1].shape.rank == 4 else ())
                strides, padding = tuple(op.get_attr("strides")), op.get_attr("padding").decode()
            inputs = tuple(tensor.op.name for tensor in op.inputs)
            ops.append(GraphOp(op.name, op.type, inputs, window, strides, padding))
        return cls(ops)


MAX_GRAPH_OPS = 2000  # the most ops a graph answer may have (the course CNN's forward pass builds about 40)


def graph_ops(ops: Any) -> GraphOps:
    """GraphOps from an answer's list of [name, type, inputs, window, strides, padding], checked."""
    if not isinstance(ops, list) or len(ops) > MAX_GRAPH_OPS:
        raise ValueError(f"a graph answer of more than {MAX_GRAPH_OPS} ops, or not a list of them")
    read = []
    for op in ops:
        if not (isinstance(op, list) and len(op) == 6 and all(isinstance(op[i], str) for i in (0, 1, 5))
                and all(isinstance(op[i], list) for i in (2, 3, 4)) and all(isinstance(n, str) for n in op[2])
                and all(type(n) is int for i in (3, 4) for n in op[i])):
            raise ValueError("a graph's op described otherwise than the grader's protocol says")
        read.append(GraphOp(op[0][:200], op[1][:100], tuple(name[:200] for name in op[2][:100]),
                            tuple(op[3][:4]), tuple(op[4][:4]), op[5][:20]))
        windows = (0, 2) if op[1] == "Conv2D" else (4,)
        if op[1] in WINDOWED and (len(op[4]) != 4 or len(op[3]) not in windows):
            raise ValueError(f"a {op[1][:20]} op without its window and strides")
    return GraphOps(read)

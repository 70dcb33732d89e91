"""Checkpoints a run can go on from: every variable of the graph (parameters, optimizer
slots such as Adam's moments, batch-norm moving averages, the global step) plus the
epoch counter and the per-epoch history, all in one tf.compat.v1.train.Saver checkpoint.

Saver writes the data files first and then replaces the small `checkpoint` index
file atomically, so a checkpoint cut short by a crash is never the one picked up.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.training.runs import CheckpointError

# What TensorFlow's checkpoint reader raises for a damaged file: a truncated data file gives
# IndexError ("Read less bytes than requested"), a damaged index an OpError or ValueError.
UNREADABLE = (tf.errors.OpError, ValueError, IndexError, OSError)


def first_line(err: Exception) -> str:
    """TensorFlow's error text runs over many lines; its last non-empty line names the cause."""
    lines = [line.strip() for line in str(getattr(err, "message", err)).splitlines() if line.strip()]
    causes = [line for line in lines if not line.startswith(("[[", "Node:", "Graph execution", "File "))]
    return (causes or lines or ["unknown error"])[-1]


def latest_checkpoint(directory: str | os.PathLike) -> str:
    """Path prefix of the newest complete checkpoint in `directory`, or CheckpointError."""
    path = v1.train.latest_checkpoint(str(directory))
    if path is None:
        raise CheckpointError(f"--resume: no checkpoint in {directory} to resume from")
    return path


def checkpoint_epoch(directory: str | os.PathLike) -> int:
    """Epochs done by the newest complete checkpoint in `directory` (read without a graph),
    so that a resume can be judged before anything is built or written; CheckpointError if none."""
    path = latest_checkpoint(directory)
    try:
        return int(tf.train.load_checkpoint(path).get_tensor("run/epoch"))
    except UNREADABLE as err:
        raise CheckpointError(f"--resume: checkpoint {path} is unreadable "
                              f"(corrupt or truncated: {first_line(err)})") from None


class Checkpointer:
    """Builds the run-state variables in the current graph and saves/restores checkpoints.

    Create it inside the graph after the model, so that its Saver covers every variable.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 3):
        self.directory = Path(directory)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="run/epoch")
        self.costs = tf.Variable(np.zeros(0), shape=[None], trainable=False, name="run/costs")
        self.rates = tf.Variable(np.zeros(0), shape=[None], trainable=False, name="run/learning_rates")
        self._fed = (v1.placeholder(tf.int64, []), v1.placeholder(tf.float64, [None]),
                     v1.placeholder(tf.float64, [None]))
        self._assign = tf.group(*(v.assign(p) for v, p in zip((self.epoch, self.costs, self.rates),
                                                              self._fed, strict=True)))
        self.saver = v1.train.Saver(max_to_keep=keep, save_relative_paths=True)

    def save(self, sess: v1.Session, epoch: int, costs: list[float], rates: list[float]) -> str:
        """Checkpoint the graph after `epoch` epochs; older ones beyond `keep` are deleted."""
        sess.run(self._assign, dict(zip(self._fed, (epoch, costs, rates), strict=True)))
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.saver.save(sess, str(self.directory / "model.ckpt"), global_step=epoch,
                               write_meta_graph=False)

    def check_compatible(self, path: str) -> None:
        """Raise CheckpointError unless `path` holds every variable of this graph, same shapes."""
        try:
            shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
        except UNREADABLE as err:
            raise CheckpointError(f"--resume: checkpoint {path} is unreadable "
                                  f"(corrupt or truncated: {first_line(err)})") from None
        for variable in v1.global_variables():
            name, want = variable.op.name, variable.shape.as_list()
            if name not in shapes:
                raise CheckpointError(f"--resume: checkpoint {path} has no variable {name}: it was written "
                                      "with other settings (network, layers, batch norm or optimizer)")
            if None not in want and shapes[name] != want:
                raise CheckpointError(f"--resume: checkpoint {path} has {name} of shape {shapes[name]}, "
                                      f"this network needs {want} (other --layers?)")

    def restore(self, sess: v1.Session) -> tuple[int, list[float], list[float]]:
        """Restore the newest checkpoint into `sess`; return (epoch, costs, learning rates)."""
        path = latest_checkpoint(self.directory)
        self.check_compatible(path)
        try:
            self.saver.restore(sess, path)
        except tf.errors.OpError as err:
            raise CheckpointError(f"--resume: checkpoint {path} cannot be restored "
                                  f"(corrupt or truncated: {first_line(err)})") from None
        # Saver forgets the checkpoints of earlier processes: hand them back, so that
        # keep_checkpoints also counts those and deletes the oldest when new ones arrive.
        state = v1.train.get_checkpoint_state(str(self.directory))
        self.saver.recover_last_checkpoints(list(state.all_model_checkpoint_paths))
        epoch, costs, rates = sess.run([self.epoch, self.costs, self.rates])
        return int(epoch), costs.tolist(), rates.tolist()

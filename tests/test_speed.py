"""The fast session loop keeps the course's semantics; the speed bench keeps working."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.epoch_speed import course_loop
from tests.conftest import REAL_DATA, blobs, requires_real_data
from tfsigns.config import TrainConfig
from tfsigns.trainer import train

BENCH = Path(__file__).resolve().parents[1] / "bench" / "epoch_speed.py"


def test_whole_epoch_loop_matches_the_course_feed_dict_loop():
    """Same seeds, same shuffles: the in-graph while_loop and the plain loop agree to float32
    rounding (their epoch sums are accumulated in different precisions)."""
    X, Y = blobs(150, n_x=12288, C=6)
    _, course_costs = course_loop(X, Y, epochs=6)
    _, history = train(TrainConfig(num_epochs=6), X, Y)
    np.testing.assert_allclose(history.costs, course_costs, rtol=1e-5)


@requires_real_data
def test_bench_runs_at_tiny_size():
    result = subprocess.run([sys.executable, str(BENCH), "--epochs", "2", "--data-dir", str(REAL_DATA)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[0] == "tfsigns" and float(lines[1].split()[1]) > 0
    assert {line.split("  ")[0] for line in lines[2:]} == {"keras fit", "course feed_dict loop",
                                                           "pytorch eager loop"}

"""The course's own result on the real data: its settings for 1,500 epochs reach its accuracies. A file of
its own, early in the suite's order, so that its two minutes start first on a worker of their own
(pytest-xdist gives a file to a worker) instead of lengthening the suite's tail."""

import numpy as np
import pytest

from tests.conftest import requires_real_data
from tfsigns.config import RunSettings, TrainConfig
from tfsigns.training.inference import predict
from tfsigns.training.trainer import train


@requires_real_data
def test_course_reproduction_1500_epochs(signs):
    """The course's settings on the real data: train >= 0.98, test in [0.70, 0.85]."""
    X_train, Y_train, X_test, Y_test, _ = signs
    parameters, history = train(TrainConfig(), X_train, Y_train, {"test": (X_test, Y_test)},
                                RunSettings(print_cost=False))
    assert history.train_accuracy >= 0.98
    assert 0.70 <= history.test_accuracy <= 0.85
    assert history.costs[0] > 1.7 and history.costs[-1] < 0.15
    test_predictions = predict(X_test, parameters)
    assert np.mean(test_predictions == Y_test.argmax(axis=0)) == pytest.approx(history.test_accuracy)

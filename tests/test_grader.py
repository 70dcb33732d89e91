"""The exercise grader: references and answers written apart from tfsigns pass, blanks and typical
mistakes fail with a pointed report, and the Exercises notebook runs headless while every exercise
is still blank."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfsigns.course import basics
from tfsigns.grader import grade, grade_all
from tfsigns.grading.checks import BLANK
from tfsigns.grading.exercises import EXERCISES, REFERENCES
from tfsigns.grading.feedback import describe_error

v1 = tf.compat.v1
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "Exercises.ipynb"


def run_grade(capsys, name, candidate) -> tuple[bool, str]:
    """grade() and what it printed."""
    passed = grade(name, candidate)
    return passed, capsys.readouterr().out


def assert_failed(passed: bool, out: str, name: str, *fragments: str) -> None:
    """FAIL printed for `name`, each fragment somewhere in the report, and exactly one hint line."""
    lines = out.splitlines()
    assert not passed
    assert f"{name}: FAIL" in lines, out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"
    assert sum(line.startswith("hint: ") for line in lines) == 1, out
    assert_guides(next(line for line in lines if line.startswith("hint: ")))


def assert_guides(hint: str) -> None:
    """A hint guides without the answer's line: no assignment in it, no call nested in another."""
    assert " = " not in hint, f"an assignment in: {hint}"
    assert not re.search(r"\w\([^)]*\w\(", hint), f"a call nested in a call: {hint}"


# ------------------------------------------------------------------ typical mistakes


def placeholders_swapped(n_x, n_y):
    return tuple(v1.placeholder(tf.float32, [None, n], name=name) for n, name in ((n_x, "X"), (n_y, "Y")))


def one_hot_one_row_per_example(labels, C):
    return basics.one_hot_matrix(labels, C).T


def forward_without_relu(X, parameters):
    A = X
    for l in (1, 2, 3):
        A = tf.matmul(parameters[f"W{l}"], A) + parameters[f"b{l}"]
    return A


def forward_with_softmax(X, parameters):
    return tf.nn.softmax(REFERENCES["forward_propagation"](X, parameters), axis=0)


def sampled_uniformly(low, high, n, seed):
    return np.random.default_rng(seed).uniform(low, high, n)


def exponent_not_raised(low, high, n, seed):
    return np.random.default_rng(seed).uniform(np.log10(low), np.log10(high), n)


def bn_without_update_ops(X, parameters, training):
    ZL = REFERENCES["forward_propagation_bn"](X, parameters, training)
    v1.get_collection_ref(v1.GraphKeys.UPDATE_OPS).clear()
    return ZL


def bn_always_training(X, parameters, training):
    return REFERENCES["forward_propagation_bn"](X, parameters, tf.constant(True))


def softmax_cost(swapped=False, transpose=True, reduce=tf.reduce_mean):
    """compute_cost with the given slips."""
    def compute_cost(ZL, Y):
        logits, labels = (Y, ZL) if swapped else (ZL, Y)
        if transpose:
            logits, labels = tf.transpose(logits), tf.transpose(labels)
        return reduce(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=labels))
    return compute_cost


def minibatches_without_the_rest(X, Y, mini_batch_size, seed):
    batches = REFERENCES["random_mini_batches"](X, Y, mini_batch_size, seed)
    return batches[:-1] if X.shape[1] % mini_batch_size else batches


def zero_weights(layer_dims):
    return {f"{p}{l}": np.zeros((layer_dims[l], layer_dims[l - 1] if p == "W" else 1))
            for l in range(1, len(layer_dims)) for p in "Wb"}


def model_with_fixed_input_size(X_train, Y_train, X_test, Y_test, **settings):
    return REFERENCES["model"](np.zeros((12288, 1), np.float32), Y_train[:, :1], X_test, Y_test, **settings)


def natural_log_rates(low, high, n, seed):
    np.random.seed(seed)
    return 10 ** np.random.uniform(np.log(low), np.log(high), size=n)


def natural_log_betas(low, high, n, seed):
    np.random.seed(seed)
    return 1 - 10 ** np.random.uniform(np.log(1 - high), np.log(1 - low), size=n)


def forward_without_b2(X, parameters):
    Z1 = tf.matmul(parameters["W1"], X) + parameters["b1"]
    Z2 = tf.matmul(parameters["W2"], tf.nn.relu(Z1))
    return tf.matmul(parameters["W3"], tf.nn.relu(Z2)) + parameters["b3"]


def cost_by_hand(ZL, Y):
    exp = tf.exp(ZL)
    return -tf.reduce_mean(tf.reduce_sum(Y * tf.math.log(exp / tf.reduce_sum(exp, axis=0)), axis=0))


def cost_in_its_own_session(ZL, Y):
    losses = tf.nn.softmax_cross_entropy_with_logits(logits=tf.transpose(ZL), labels=tf.transpose(Y))
    cost = tf.reduce_mean(losses)
    with v1.Session() as session:
        return session.run(cost)


MISTAKES = [
    ("prepare_dataset", lambda X, Y, C: (X.reshape(len(X), -1).T.astype(float), np.eye(C)[Y.reshape(-1)].T),
     ["the pixels were not divided by 255: the network would be fed 0 to 255",
      "hint: divide the flattened pixels by 255"]),
    ("prepare_dataset", lambda X, Y, C: (X.reshape(-1, X.shape[0]) / 255, np.eye(C)[Y.reshape(-1)].T),
     ["reshape(n_x, m) mixes the pixels of different images"]),
    ("prepare_dataset", lambda X, Y, C: (X.reshape(len(X), -1).T // 255, np.eye(C)[Y.reshape(-1)].T),
     ["divided with // (floor division): every pixel below 255 became 0", "hint: divide with /"]),
    ("create_placeholders", placeholders_swapped,
     ["expected shape (12288, None): 12288 features x any number of examples", "got (None, 12288), looks "
      "transposed"]),
    ("one_hot_matrix", one_hot_one_row_per_example,
     ["one row per example", "expected shape (6, 4): 6 classes x 4 examples, one column per example; "
      "got (4, 6), looks transposed", "hint: tf.one_hot(labels, C, axis=0)"]),
    ("forward_propagation", forward_without_relu, ["no ReLU between the layers", "tf.nn.relu"]),
    ("forward_propagation", forward_with_softmax, ["softmax applied to the output", "compute_cost"]),
    ("sample_learning_rate", sampled_uniformly,
     ["look uniform on a linear scale", "of samples fall in [0.1, 1]",
      "hint: sample on a log scale: draw the n exponents r at once, uniform between log10(low)"]),
    ("sample_learning_rate", exponent_not_raised, ["outside [0.0001, 1]", "10 to the power r, not r"]),
    ("sample_learning_rate", natural_log_rates,
     ["exponents were drawn between natural logarithms", "hint: np.log is the natural logarithm"]),
    ("sample_beta", natural_log_betas, ["exponents were drawn between natural logarithms"]),
    ("compute_cost", cost_in_its_own_session, ["a value computed already, not a tensor of the graph"]),
    ("compute_cost", cost_by_hand,
     ["logits near 1000", "the softmax written out by hand: exp(1000) overflows",
      "hint: tf.nn.softmax_cross_entropy_with_logits computes"]),
    ("forward_propagation", forward_without_b2,
     ["b2 left out: Z2 is W2 A1 alone", "hint: add the bias in every layer, b2 too"]),
    ("sample_beta", sampled_uniformly,
     ["look uniform on a linear scale", "of samples fall in [0.9, 0.99]", "1/(1 - beta)",
      "hint: sample 1 - beta on a log scale"]),
    ("forward_propagation_bn", bn_without_update_ops,
     ["update ops not added", "tf.compat.v1.GraphKeys.UPDATE_OPS", "tf.control_dependencies"]),
    ("forward_propagation_bn", bn_always_training,
     ["the test mode looks like the training mode", "moving_mean and moving_variance in test mode"]),
    ("compute_cost", softmax_cost(swapped=True),
     ["labels and logits swapped", "the logits as logits and the labels as labels"]),
    ("compute_cost", softmax_cost(reduce=tf.reduce_sum), ["tf.reduce_sum instead of tf.reduce_mean"]),
    ("compute_cost", softmax_cost(transpose=False), ["no tf.transpose"]),
    ("cost", lambda logits, labels: basics.cost(labels, logits), ["labels and logits look swapped"]),
    ("random_mini_batches", minibatches_without_the_rest,
     ["the last, smaller minibatch is missing", "expected 3 minibatches, got 2"]),
    ("initialize_parameters", zero_weights, ["W1 starts with all entries equal to 0", "symmetry"]),
    ("model", model_with_fixed_input_size,
     ["raised ValueError: Cannot feed value of shape", "n_x is X_train.shape[0]"]),
]


@pytest.mark.parametrize(("name", "candidate", "fragments"), MISTAKES,
                         ids=[f"{name}-{getattr(c, '__name__', 'lambda')}" for name, c, _ in MISTAKES])
def test_typical_mistakes_fail_with_a_pointed_message(capsys, name, candidate, fragments):
    assert_failed(*run_grade(capsys, name, candidate), name, *fragments)


# ------------------------------------------------------------------ answers written apart from tfsigns
# What a student might fill in: TensorFlow where the exercise is about TensorFlow (written otherwise
# than tfsigns does), NumPy where it is about data. None of it calls tfsigns. Most checks compare
# a candidate with its tfsigns reference, so grading the reference alone compares it with itself;
# these answers are the independent expectation.


def tf_linear_function():
    np.random.seed(1)
    X, W, b = np.random.randn(3, 1), np.random.randn(4, 3), np.random.randn(4, 1)
    with v1.Session() as sess:
        return sess.run(tf.constant(W) @ tf.constant(X) + tf.constant(b))


def tf_sigmoid(z):
    x = v1.placeholder(tf.float32, name="x")
    with v1.Session() as sess:
        return sess.run(tf.sigmoid(x), feed_dict={x: z})


def tf_cost(logits, labels):
    """-(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), in its overflow-free form."""
    z, y = v1.placeholder(tf.float32), v1.placeholder(tf.float32)
    loss = tf.maximum(z, 0.0) - z * y + tf.math.log1p(tf.exp(-tf.abs(z)))
    with v1.Session() as sess:
        return sess.run(loss, feed_dict={z: logits, y: labels})


def tf_one_hot_matrix(labels, C):
    with v1.Session() as sess:
        return sess.run(tf.transpose(tf.eye(C)) @ tf.transpose(tf.gather(tf.eye(C), labels)))


def tf_ones(shape):
    with v1.Session() as sess:
        return sess.run(tf.fill(shape, 1.0))


def course_prepare_dataset(X_orig, Y_orig, C):
    X_flatten = X_orig.reshape(X_orig.shape[0], -1).T
    return X_flatten / 255.0, np.eye(C)[Y_orig.reshape(-1)].T


def course_create_placeholders(n_x, n_y):
    X = v1.placeholder(tf.float32, [n_x, None], name="X")
    Y = v1.placeholder(tf.float32, [n_y, None], name="Y")
    return X, Y


def course_initialize_parameters(layer_dims):
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters[f"W{l}"] = v1.get_variable(f"W{l}", [layer_dims[l], layer_dims[l - 1]],
                                              initializer=v1.glorot_uniform_initializer(seed=1))
        parameters[f"b{l}"] = v1.get_variable(f"b{l}", [layer_dims[l], 1], initializer=v1.zeros_initializer())
    return parameters


def course_forward_propagation(X, parameters):
    L = len(parameters) // 2
    A = X
    for l in range(1, L):
        A = tf.nn.relu(tf.matmul(parameters[f"W{l}"], A) + parameters[f"b{l}"])
    return tf.matmul(parameters[f"W{L}"], A) + parameters[f"b{L}"]


def course_batch_norm(Z, parameters, l, training):
    """gamma (Z - mu) / sqrt(var + 1e-3) + beta; moving averages 0.99 old + 0.01 batch in UPDATE_OPS."""
    batch_mean, batch_var = tf.nn.moments(Z, axes=[1], keepdims=True)
    moving_mean, moving_var = parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"]
    v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, moving_mean.assign(0.99 * moving_mean + 0.01 * batch_mean))
    v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, moving_var.assign(0.99 * moving_var + 0.01 * batch_var))
    mu, var = tf.cond(training, lambda: (batch_mean, batch_var), lambda: (moving_mean, moving_var))
    return parameters[f"gamma{l}"] * (Z - mu) / tf.sqrt(var + 1e-3) + parameters[f"beta{l}"]


def course_forward_propagation_bn(X, parameters, training):
    L = sum(key.startswith("W") for key in parameters)
    A = X
    for l in range(1, L):
        A = tf.nn.relu(course_batch_norm(tf.matmul(parameters[f"W{l}"], A), parameters, l, training))
    return tf.matmul(parameters[f"W{L}"], A) + parameters[f"b{L}"]


def log_softmax_cost(ZL, Y):
    """The mean over the examples of -sum_c y_c log softmax(z)_c, softmax over the classes (axis 0)."""
    return -tf.reduce_mean(tf.reduce_sum(Y * tf.nn.log_softmax(ZL, axis=0), axis=0))


def course_random_mini_batches(X, Y, mini_batch_size, seed):
    m = X.shape[1]
    np.random.seed(seed)
    permutation = list(np.random.permutation(m))
    X, Y = X[:, permutation], Y[:, permutation].reshape((Y.shape[0], m))
    return [(X[:, k:k + mini_batch_size], Y[:, k:k + mini_batch_size]) for k in range(0, m, mini_batch_size)]


def course_sample_learning_rate(low, high, n, seed):
    np.random.seed(seed)
    return 10 ** np.random.uniform(np.log10(low), np.log10(high), n)


def course_sample_beta(low, high, n, seed):
    np.random.seed(seed)
    return 1 - 10 ** np.random.uniform(np.log10(1 - high), np.log10(1 - low), n)


def course_model(X_train, Y_train, X_test, Y_test, learning_rate=0.0001, num_epochs=1500, minibatch_size=32,
                 print_cost=True):
    with tf.Graph().as_default():  # a fresh graph for every run, as the notebook's model() has it
        (n_x, _), n_y = X_train.shape, Y_train.shape[0]
        X, Y = course_create_placeholders(n_x, n_y)
        parameters = course_initialize_parameters([n_x, 25, 12, n_y])
        cost = log_softmax_cost(course_forward_propagation(X, parameters), Y)
        optimizer = v1.train.AdamOptimizer(learning_rate).minimize(cost)
        costs = []
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for epoch in range(num_epochs):
                batches = course_random_mini_batches(X_train, Y_train, minibatch_size, seed=epoch + 1)
                epoch_cost = 0.0
                for minibatch_X, minibatch_Y in batches:
                    feed = {X: minibatch_X, Y: minibatch_Y}
                    _, minibatch_cost = sess.run([optimizer, cost], feed_dict=feed)
                    epoch_cost += minibatch_cost / len(batches)
                costs.append(epoch_cost)
            return sess.run(parameters), costs


SOLUTIONS = {
    "linear_function": tf_linear_function,
    "sigmoid": tf_sigmoid,
    "cost": tf_cost,
    "one_hot_matrix": tf_one_hot_matrix,
    "ones": tf_ones,
    "prepare_dataset": course_prepare_dataset,
    "create_placeholders": course_create_placeholders,
    "initialize_parameters": course_initialize_parameters,
    "forward_propagation": course_forward_propagation,
    "forward_propagation_bn": course_forward_propagation_bn,
    "compute_cost": log_softmax_cost,
    "random_mini_batches": course_random_mini_batches,
    "sample_learning_rate": course_sample_learning_rate,
    "sample_beta": course_sample_beta,
    "model": course_model,
}


# ------------------------------------------------------------------ every exercise


def test_every_exercise_has_an_independent_solution():
    assert list(SOLUTIONS) == list(EXERCISES)


@pytest.mark.parametrize("name", EXERCISES)
def test_the_reference_and_an_independent_solution_pass(capsys, name):
    """Both pass: so the reference agrees with an answer written without tfsigns (and the
    grader accepts a correct answer that is not the reference's own code)."""
    for candidate in (REFERENCES[name], SOLUTIONS[name]):
        passed, out = run_grade(capsys, name, candidate)
        assert passed, f"{candidate.__name__}:\n{out}"
        assert f"{name}: PASS" in out.splitlines()
        assert "hint:" not in out


@pytest.mark.parametrize("name", EXERCISES)
def test_a_blank_exercise_fails_with_fill_in_the_code(capsys, name):
    def blank(*args, **kwargs):
        """Nothing between START CODE HERE and END CODE HERE."""

    assert_failed(*run_grade(capsys, name, blank), name, BLANK)


@pytest.mark.parametrize("name", EXERCISES)
def test_a_raising_candidate_is_a_fail_not_a_crash(capsys, name):
    def raising(*args, **kwargs):
        raise ZeroDivisionError("division by zero in the student's code")

    assert_failed(*run_grade(capsys, name, raising), name,
                  "raised ZeroDivisionError: division by zero in the student's code")


def test_grade_all_grades_what_the_namespace_defines(capsys):
    results = grade_all({name: REFERENCES[name] for name in EXERCISES[:3]})
    out = capsys.readouterr().out
    assert list(results) == list(EXERCISES)
    assert [results[name] for name in EXERCISES] == [True] * 3 + [False] * (len(EXERCISES) - 3)
    assert f"not defined: run the cell that defines {EXERCISES[-1]}" in out
    assert f"3 of {len(EXERCISES)} exercises pass" in out


def test_an_unknown_exercise_name_is_an_error():
    with pytest.raises(ValueError, match="unknown exercise"):
        grade("no_such_exercise", print)


# ------------------------------------------------------------------ the notebook


def run_stored_notebook(path: Path) -> str:
    """Execute an exercise notebook, stored without outputs, headless; what its cells printed (no cell
    may raise)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    return "".join(output.get("text", "") for output in outputs if output.output_type == "stream")


def test_the_exercises_notebook_runs_headless_and_fails_while_blank():
    printed = run_stored_notebook(NOTEBOOK)
    for name in EXERCISES:
        assert f"{name}: FAIL" in printed
    assert BLANK in printed
    assert f"0 of {len(EXERCISES)} exercises pass" in printed


def test_a_run_time_error_is_told_by_what_went_wrong_not_graph_execution_error():
    """TensorFlow's run-time errors begin with "Graph execution error:" and the defining lines;
    the learner sees the line that says what happened, and in which op."""
    with tf.Graph().as_default():
        a = tf.compat.v1.placeholder(tf.float32, [None, None])
        product = tf.matmul(a, a, name="Z1")
        with tf.compat.v1.Session() as session, pytest.raises(tf.errors.InvalidArgumentError) as raised:
            session.run(product, {a: np.ones((1, 3), np.float32)})
    line = describe_error(raised.value)
    assert line.startswith("InvalidArgumentError: Matrix size-incompatible: In[0]: [1,3], In[1]: [1,3]"), line
    assert line.endswith("(in op 'Z1')") and "\n" not in line
    assert describe_error(ValueError("first line\nsecond")) == "ValueError: first line"


def test_a_sampler_with_its_range_written_in_is_told_so_not_to_raise_10_to_r(capsys):
    """r = -4 * np.random.rand(n) returns 10**r, right for (1e-4, 1) only: the hint is the range."""
    def hard_coded_range(low, high, n, seed):
        np.random.seed(seed)
        r = -4 * np.random.rand(n)
        return 10**r

    passed, out = run_grade(capsys, "sample_learning_rate", hard_coded_range)
    assert not passed and "outside [0.001, 0.1]" in out, out
    assert "not from a range written into the code" in out and "not r" not in out, out


def test_grade_returns_a_verdict_that_a_notebook_does_not_echo(capsys):
    """grade() prints its verdict; what it returns still says whether it passed, and Jupyter shows
    nothing of it under the printed lines (before, every grade cell ended in a bare True or False)."""
    from IPython.core.interactiveshell import InteractiveShell
    verdict = grade("ones", REFERENCES["ones"])
    results = grade_all({"ones": REFERENCES["ones"]}, "tensorflow")
    assert verdict and verdict == True and repr(verdict) == "True" and results["ones"] == 1  # noqa: E712
    formatter = InteractiveShell.instance().display_formatter
    assert formatter.format(verdict) == ({}, {}) and formatter.format(results) == ({}, {})
    assert "ones: PASS" in capsys.readouterr().out

"""Where a search's trials run. Each executor takes a list of trial tasks (a trial's name,
round, hyperparameters, config and data settings, as tfsigns.search.tune.search makes them) and the
number of workers, and yields result rows as trials finish: local processes, a Ray cluster,
or populations trained together in one graph.

The training code, which needs TensorFlow, is imported only inside run_trial and
population_executor: the command line checks a Ray address and the data through this module
before anything trains.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context

import numpy as np

from tfsigns.config import ConfigError, History, RunSettings, TrainConfig, TrainingDiverged
from tfsigns.images.signs import IMAGE_SHAPE, load_signs, train_validation_split
from tfsigns.networks import COLUMNS, Layout, get_network
from tfsigns.utils.files import json_safe

# ------------------------------------------------------------------ one trial


@functools.cache
def split_columns(data_dir: str, fraction: float, split_seed: int, framing: str = "none"
                  ) -> tuple[np.ndarray, ...]:
    """(X_train, Y_train, X_val, Y_val, X_test, Y_test) as the course's columns, framed as the
    trial says, read once per process."""
    X, Y, X_test, Y_test, _ = load_signs(data_dir, framing)
    return (*train_validation_split(X, Y, fraction, split_seed), X_test, Y_test)


@functools.cache
def split_data(data_dir: str, fraction: float, split_seed: int, layout: Layout = COLUMNS,
               framing: str = "none") -> tuple[np.ndarray, ...]:
    """The same six arrays in a network family's layout (the files are read once, whatever the layout)."""
    split = split_columns(data_dir, fraction, split_seed, framing)
    return tuple(a for X, Y in zip(split[::2], split[1::2], strict=True)
                 for a in layout.from_columns(X, Y, IMAGE_SHAPE))


def result_row(task: dict, history: History | None = None, failure: str = "",
               seconds: float = 0.0) -> dict:
    """A trial's row of the results table, from whichever backend ran it: its hyperparameters,
    status ("ok", or "failed" with the reason: an error, a NaN cost, a network not learning),
    accuracies (None where there are none) and seconds."""
    reason = failure or (history.warnings[0] if history and history.warnings else "")
    row = {"trial": task["trial"], "round": task["round"], **task["params"],
           "status": "failed" if reason else "ok", "reason": reason,
           "validation_accuracy": None, "train_accuracy": None, "final_cost": None, "seconds": seconds,
           "config": task["config"]}
    if history is not None:
        row.update(validation_accuracy=history.accuracy["validation"],
                   train_accuracy=history.accuracy["train"], final_cost=history.costs[-1])
    return json_safe(row)


def run_trial(task: dict) -> dict:
    """Train one configuration and score it on the validation split; the test set is not
    touched. Never raises: a failure comes back as a row with status "failed" and its reason."""
    from tfsigns.training.trainer import train

    started = time.perf_counter()
    try:
        config = TrainConfig(**task["config"])
        X_train, Y_train, X_val, Y_val, _, _ = split_data(task["data_dir"], task["validation_fraction"],
                                                          task["split_seed"], get_network(config.arch).layout,
                                                          config.framing)
        _, history = train(config, X_train, Y_train, {"validation": (X_val, Y_val)},
                           RunSettings(device=task["device"], threads=task["threads"], print_cost=False))
        return result_row(task, history, seconds=time.perf_counter() - started)
    except TrainingDiverged as err:
        failure = str(err)
    except Exception as err:  # a trial's failure is a result, not the end of the search
        failure = f"{type(err).__name__}: {err}"
    return result_row(task, failure=failure, seconds=time.perf_counter() - started)


# ------------------------------------------------------------------ executors


def local_executor(tasks: list[dict], workers: int) -> Iterator[dict]:
    """Run tasks in `workers` fresh processes (spawned: TensorFlow does not survive fork),
    yielding each result as it finishes."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    finished = False
    try:
        pending = {pool.submit(run_trial, task) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
        finished = True
    finally:
        if finished:  # let the workers exit and the pool release its semaphores
            pool.shutdown(wait=True)
        else:  # Ctrl-C or an error: queued trials are dropped and running ones stopped, not awaited
            processes = list(getattr(pool, "_processes", None) or {})
            pool.shutdown(wait=False, cancel_futures=True)
            for pid in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)


# A one-machine Ray cluster on loopback. On Linux Ray swaps 127.0.0.1 for the machine's network
# address (so other machines could join) unless this variable is 0, in `ray start` and in the
# driver alike; the search sets it for itself when its cluster is local.
RAY_LOOPBACK = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
RAY_START = f"{RAY_LOOPBACK}=0 ray start --head --port 6379"


def loopback(address: str | None) -> bool:
    """True for no address (a Ray instance of this process's own) or one on this machine's loopback."""
    if address is None:
        return True
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def check_ray_address(address: str) -> None:
    """ConfigError, at once, when nothing listens at a Ray cluster's HOST:PORT (Ray itself
    would retry for about 20 seconds and end in a traceback)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: expected HOST:PORT of a Ray cluster, e.g. 127.0.0.1:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as err:
        raise ConfigError(f"--address {address}: no Ray cluster answers there ({err.strerror or err}); "
                          f"start one with `{RAY_START}`, or leave --address out for a local "
                          "Ray instance") from None


def ray_executor(tasks: list[dict], workers: int, address: str | None = None) -> Iterator[dict]:
    """Run tasks on a Ray cluster (address) or a local Ray instance, yielding results as they finish."""
    if loopback(address):
        os.environ.setdefault(RAY_LOOPBACK, "0")  # read when Ray is imported
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'tfsigns[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            check_ray_address(address)
        try:
            ray.init(address=address, num_cpus=None if address else os.cpu_count(),
                     include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError) as err:
            raise ConfigError(f"--address {address or 'local'}: Ray cannot start or join a cluster "
                              f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    try:
        remote = ray.remote(num_cpus=max(1, tasks[0]["threads"]) if tasks else 1)(run_trial)
        pending = [remote.remote(task) for task in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done)
    finally:
        if started_here:
            ray.shutdown()


def population_executor(tasks: list[dict], workers: int) -> Iterator[dict]:
    """Trials that share an architecture (tfsigns.training.population.SHARED) train together as
    populations of at most `workers` members, all cores to each; the rest run one by one.

    Each population's rows are yielded (and so saved) as soon as it finishes. A population
    that fails as a whole (say, out of memory) has its trials run one by one instead.
    """
    from tfsigns.training.population import can_join, population_key  # TensorFlow loads here
    from tfsigns.training.trainer import train_population

    groups: dict[tuple, list[dict]] = {}
    for task in tasks:
        try:
            config = TrainConfig(**task["config"])
        except ConfigError:
            groups[(task["trial"],)] = [task]  # run_trial reports it
            continue
        groups.setdefault(population_key(config) if can_join(config) else (task["trial"],), []).append(task)
    for group in groups.values():
        for start in range(0, len(group), workers):
            chunk = group[start:start + workers]
            if len(chunk) == 1:
                yield run_trial(chunk[0])
                continue
            first = chunk[0]
            started = time.perf_counter()
            try:
                X_train, Y_train, X_val, Y_val, _, _ = split_data(
                    first["data_dir"], first["validation_fraction"], first["split_seed"])
                trained = train_population([TrainConfig(**t["config"]) for t in chunk], X_train, Y_train,
                                           {"validation": (X_val, Y_val)},
                                           RunSettings(device=first["device"], print_cost=False))
            except Exception:  # the population as a whole failed: try its members alone
                yield from map(run_trial, chunk)
                continue
            seconds = (time.perf_counter() - started) / len(chunk)
            for task, (_, history) in zip(chunk, trained, strict=True):
                yield result_row(task, history, seconds=seconds)

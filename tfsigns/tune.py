"""Hyperparameter search as the lecture teaches it: random rather than grid, each
hyperparameter sampled on its right scale, coarse-to-fine, many runs at once ("caviar").

    python -m tfsigns.tune --space space.json --trials 24 --epochs 300 --workers 2 --out runs/search

Every trial is scored on a validation split carved from the training set; the test
set is used once, for the chosen configuration only. Babysitting a single run
("panda") is python -m tfsigns.train with its checkpoints, --resume, TensorBoard
files and refreshed learning curve (tfsigns.monitor).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from tfsigns.cli import HelpFormatter, Parser, check_settings, line_buffered_output, positive, read_settings
from tfsigns.data import DataError, find_data_dir, load_signs, train_validation_split
from tfsigns.files import (
    OutputError,
    atomic_write_bytes,
    check_writable,
    json_safe,
    prepare_out_dir,
    to_json,
    write_json,
)
from tfsigns.population import population_key, train_population
from tfsigns.trainer import (
    CONFIG_FIELDS,
    ConfigError,
    History,
    TrainConfig,
    TrainingDiverged,
    check_memory,
    resolve_device,
    train,
    whole,
)

PROG = "tfsigns.tune"
SCALES = ("uniform", "log", "one-minus-log", "int")
# Hyperparameters a search may vary: TrainConfig fields, plus the network's shape.
SHAPE = ("hidden_units", "num_layers")
RUN_FIELDS = {"device", "print_cost", "print_every"}  # how a trial runs, not what it trains
TUNABLE = CONFIG_FIELDS - RUN_FIELDS - {"layers"} | set(SHAPE)
ENTRY_KEYS = {"scale", "low", "high", "choices"}

# The lecture's example: alpha log-uniform in [1e-4, 1], beta via 1 - beta on a log scale.
DEFAULT_SPACE = {
    "learning_rate": {"scale": "log", "low": 1e-4, "high": 1.0},
    "beta1": {"scale": "one-minus-log", "low": 0.9, "high": 0.999},
    "minibatch_size": {"choices": [16, 32, 64, 128]},
    "batch_norm": {"choices": [False, True]},
}


class SpaceError(ValueError):
    """A search space that cannot be sampled; the message names the hyperparameter."""


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter's range: numeric on a scale, or a list of choices.

    Numeric values map to a unit interval on their scale (to_unit / from_unit), so that
    sampling, grids and coarse-to-fine boxes are all uniform in that coordinate.
    """

    name: str
    scale: str = "choice"
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def _t(self, x: float) -> float:
        """The scale's coordinate: log10(x) for log, log10(1 - x) for one-minus-log."""
        if self.scale == "log":
            return math.log10(x)
        if self.scale == "one-minus-log":
            return math.log10(1.0 - x)
        return float(x)

    def to_unit(self, value) -> float:
        """Where `value` lies in [0, 1] on this dimension's scale."""
        if self.scale == "int":
            return (value - self.low + 0.5) / (self.high - self.low + 1)
        return (self._t(value) - self._t(self.low)) / (self._t(self.high) - self._t(self.low))

    def from_unit(self, u: float):
        """The value at position u in [0, 1] on this dimension's scale."""
        if self.scale == "int":
            return int(min(self.high, self.low + math.floor(u * (self.high - self.low + 1))))
        t = self._t(self.low) + u * (self._t(self.high) - self._t(self.low))
        if self.scale == "log":
            return 10.0 ** t
        if self.scale == "one-minus-log":
            return 1.0 - 10.0 ** t
        return t

    def sample(self, rng: np.random.Generator, box=None):
        """A random value; `box` narrows it: (u_low, u_high) for numbers, a choice subset."""
        if self.scale == "choice":
            options = list(box) if box is not None else list(self.choices)
            return options[int(rng.integers(len(options)))]
        low, high = box if box is not None else (0.0, 1.0)
        return self.from_unit(rng.uniform(low, high))

    def grid(self, n: int) -> list:
        """n values evenly spaced on the scale (all choices for a choice dimension)."""
        if self.scale == "choice":
            return list(self.choices)
        values = [self.from_unit(u) for u in np.linspace(0.0, 1.0, n)]
        return list(dict.fromkeys(values)) if self.scale == "int" else values


def parse_space(spec: dict, base: TrainConfig | None = None) -> list[Dimension]:
    """Dimensions from {name: {"scale": ..., "low": ..., "high": ...} or {"choices": [...]}}.

    Every value the space can produce (each choice, both ends of each range) is checked as
    the setting it becomes, on top of `base`, so a bad value is refused before any trial.
    """
    if not isinstance(spec, dict) or not spec:
        raise SpaceError("the search space must be a non-empty object of hyperparameters")
    space = []
    for name, entry in spec.items():
        if name not in TUNABLE:
            raise SpaceError(f"unknown hyperparameter {name!r}; tunable: {', '.join(sorted(TUNABLE))}")
        if not isinstance(entry, dict):
            raise SpaceError(f"{name}: expected an object with scale/low/high or choices")
        if set(entry) - ENTRY_KEYS:
            unknown = ", ".join(sorted(map(repr, set(entry) - ENTRY_KEYS)))
            raise SpaceError(f"{name}: unknown key(s) {unknown}; an entry has scale, low and high, "
                             "or choices")
        if "choices" in entry:
            if not isinstance(entry["choices"], list) or not entry["choices"]:
                raise SpaceError(f"{name}: choices must be a non-empty list")
            space.append(Dimension(name, choices=tuple(entry["choices"])))
            continue
        scale, low, high = entry.get("scale", "uniform"), entry.get("low"), entry.get("high")
        if scale not in SCALES:
            raise SpaceError(f"{name}: unknown scale {scale!r}; use one of {', '.join(SCALES)} or choices")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in (low, high)):
            raise SpaceError(f"{name}: low and high must be finite numbers")
        if low >= high:
            raise SpaceError(f"{name}: low ({low}) must be below high ({high})")
        if scale == "log" and low <= 0:
            raise SpaceError(f"{name}: a log scale needs positive bounds, got low = {low}")
        if scale == "one-minus-log" and not (0 < low and high < 1):
            raise SpaceError(f"{name}: a one-minus-log scale is for averages in (0, 1), got [{low}, {high}]")
        if scale == "int" and not (float(low).is_integer() and float(high).is_integer()):
            raise SpaceError(f"{name}: an int scale needs whole-number bounds")
        space.append(Dimension(name, scale, low, high))
    for d in space:
        values = d.choices if d.scale == "choice" else (d.from_unit(0.0), d.from_unit(1.0))
        for value in values:
            try:
                config_for(base or TrainConfig(), {d.name: value})
            except (ConfigError, TypeError, ValueError) as err:
                raise SpaceError(f"{d.name}: {value!r} cannot be trained ({err})") from None
    return space


def load_space(path: str | os.PathLike | None, base: TrainConfig | None = None) -> list[Dimension]:
    """The search space from a JSON (or, with PyYAML installed, YAML) file; None: the lecture's."""
    if path is None:
        return parse_space(DEFAULT_SPACE, base)
    try:
        text = Path(path).read_text()
        if str(path).endswith((".yaml", ".yml")):
            import yaml
            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
    except ImportError:
        raise SpaceError(f"{path}: reading YAML needs PyYAML (pip install 'tfsigns[yaml]'), "
                         "or use JSON") from None
    except (OSError, ValueError) as err:
        raise SpaceError(f"{path}: cannot read the search space ({err})") from None
    return parse_space(spec, base)


# ------------------------------------------------------------------ strategies


def random_trials(space: list[Dimension], n: int, rng: np.random.Generator,
                  box: dict | None = None) -> list[dict]:
    """n configurations drawn independently, each dimension on its own scale (inside `box`)."""
    return [{d.name: d.sample(rng, (box or {}).get(d.name)) for d in space} for _ in range(n)]


def grid_size(space: list[Dimension], per_axis: int) -> int:
    """Trials of a grid with `per_axis` values on each numeric dimension and every choice."""
    return math.prod(len(d.grid(per_axis)) for d in space)


def grid_trials(space: list[Dimension], n: int) -> list[dict]:
    """The largest grid of at most n trials: the same number of values on each numeric
    dimension, every value of each choice. ConfigError when even one value per numeric
    dimension needs more than n trials (the choices alone multiply past it)."""
    if grid_size(space, 1) > n:
        raise ConfigError(f"--strategy grid: the choices alone make {grid_size(space, 1)} trials, more than "
                          f"--trials {n}; raise --trials to {grid_size(space, 1)} or drop some choices")
    per_axis = 1
    while grid_size(space, per_axis) < grid_size(space, per_axis + 1) <= n:  # stops when no axis grows
        per_axis += 1
    axes = [d.grid(per_axis) for d in space]
    return [dict(zip([d.name for d in space], values, strict=True)) for values in itertools.product(*axes)]


def narrowed_box(space: list[Dimension], best: list[dict]) -> dict:
    """The box spanned by the best configurations: for each numeric dimension the unit
    interval from the smallest to the largest of them, for each choice the ones they used."""
    box = {}
    for d in space:
        values = [params[d.name] for params in best]
        if d.scale == "choice":
            box[d.name] = [c for c in d.choices if c in values]
        else:
            units = [d.to_unit(v) for v in values]
            box[d.name] = (min(units), max(units))
    return box


# ------------------------------------------------------------------ one trial


MAX_LAYERS = 100  # num_layers beyond this is a typo, not a network


def config_for(base: TrainConfig, params: dict) -> TrainConfig:
    """The base config with a trial's hyperparameters (checked as TrainConfig checks them);
    hidden_units and num_layers set the layers."""
    settings = {k: v for k, v in params.items() if k not in SHAPE}
    if "num_layers" in params or "hidden_units" in params:
        width = params.get("hidden_units", base.layers[0])
        depth = params.get("num_layers", len(base.layers))
        if not (whole(depth) and 0 < depth <= MAX_LAYERS):
            raise ConfigError(f"num_layers must be an integer in [1, {MAX_LAYERS}], got {depth!r}",
                              "num_layers")
        if not (whole(width) and width > 0):
            raise ConfigError(f"hidden_units must be a positive integer, got {width!r}", "hidden_units")
        settings["layers"] = (int(width),) * int(depth)
    return replace(base, **settings, print_cost=False)


_DATA_CACHE: dict = {}


def split_data(data_dir: str, fraction: float, split_seed: int):
    """(X_train, Y_train, X_val, Y_val, X_test, Y_test), loaded once per process."""
    key = (data_dir, fraction, split_seed)
    if key not in _DATA_CACHE:
        X, Y, X_test, Y_test, _ = load_signs(data_dir)
        _DATA_CACHE[key] = (*train_validation_split(X, Y, fraction, split_seed), X_test, Y_test)
    return _DATA_CACHE[key]


def largest(space: list[Dimension], base: TrainConfig) -> TrainConfig:
    """The biggest network a space can draw on top of `base` (widest, deepest), so that one
    that cannot fit is refused before the search rather than failing trial by trial."""
    shape = {d.name: max(d.choices) if d.scale == "choice" else d.from_unit(1.0)
             for d in space if d.name in SHAPE}
    return config_for(base, shape)


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
    started = time.perf_counter()
    try:
        config = TrainConfig(**task["config"])
        X_train, Y_train, X_val, Y_val, _, _ = split_data(task["data_dir"], task["validation_fraction"],
                                                          task["split_seed"])
        _, history = train(config, X_train, Y_train, {"validation": (X_val, Y_val)}, threads=task["threads"])
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
    """Trials that share an architecture (tfsigns.population.SHARED) train together as
    populations of at most `workers` members, all cores to each; the rest run one by one.

    Each population's rows are yielded (and so saved) as soon as it finishes. A population
    that fails as a whole (say, out of memory) has its trials run one by one instead.
    """
    groups: dict[tuple, list[dict]] = {}
    for task in tasks:
        try:
            config = TrainConfig(**task["config"])
        except ConfigError:
            groups[(task["trial"],)] = [task]  # run_trial reports it
            continue
        alone = config.optimizer != "adam" or config.keep_prob != 1.0
        groups.setdefault((task["trial"],) if alone else population_key(config), []).append(task)
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
                                           {"validation": (X_val, Y_val)})
            except Exception:  # the population as a whole failed: try its members alone
                yield from map(run_trial, chunk)
                continue
            seconds = (time.perf_counter() - started) / len(chunk)
            for task, (_, history) in zip(chunk, trained, strict=True):
                yield result_row(task, history, seconds=seconds)


# ------------------------------------------------------------------ the search


RESULT_FIELDS = ("trial", "round", "status", "validation_accuracy", "train_accuracy", "final_cost",
                 "seconds", "reason")
# The files a search writes into its --out; --fresh removes exactly these.
SEARCH_FILES = ("search.json", "results.jsonl", "results.csv", "best.json", "final.json", "search.png")


@dataclass
class SearchSettings:
    """How to search: the strategy, its budget, and where the trials run."""

    strategy: str = "random"  # random | grid | coarse-to-fine
    trials: int = 24  # per round
    rounds: int = 1  # coarse-to-fine rounds
    top_k: int = 5  # configurations that span the next round's box
    seed: int = 0
    workers: int = 2
    backend: str = "local"  # local | ray | population
    address: str | None = None
    validation_fraction: float = 0.15
    split_seed: int = 0

    def record(self, data_dir: str) -> dict:
        """What search.json keeps: the settings that decide which trials a search draws and the
        data they see. --trials and --rounds may grow on a rerun; every trial's own config is
        kept in its row."""
        kept = ("strategy", "top_k", "seed", "validation_fraction", "split_seed")
        return {**{k: v for k, v in asdict(self).items() if k in kept}, "data_dir": data_dir}


class Results:
    """The results table (results.jsonl and results.csv), rewritten atomically after every trial;
    reading it back lets a rerun skip the trials that finished with the same config."""

    def __init__(self, out: Path, columns: list[str]):
        self.out, self.columns = out, columns
        path = out / "results.jsonl"
        self.rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def done(self) -> dict[str, dict]:
        """Finished trials by name."""
        return {row["trial"]: row for row in self.rows}

    def add(self, row: dict) -> None:
        self.rows.append(row)
        atomic_write_bytes(self.out / "results.jsonl", "".join(to_json(r) + "\n" for r in self.rows).encode())
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["trial", "round", *self.columns, *RESULT_FIELDS[2:]],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.out / "results.csv", buffer.getvalue().encode())

    def ranked(self, round_: int | None = None) -> list[dict]:
        """Successful trials (of one round, or all), best validation accuracy first."""
        ok = [r for r in self.rows if r["status"] == "ok" and (round_ is None or r["round"] == round_)]
        return sorted(ok, key=lambda r: (-r["validation_accuracy"], r["trial"]))


def difference(old: dict, new: dict) -> str:
    """The first setting that differs between two flat dicts, as 'name old -> new'."""
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"{key} {old.get(key)!r} -> {new.get(key)!r}"
    return ""


def check_rerun(out: Path, record: dict, results: Results) -> None:
    """Refuse to go on with a search in `out` whose results were made with other settings:
    their scores would be reused under settings they never trained with."""
    fresh = "use another --out, or --fresh to start over"
    path = out / "search.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != record:
            raise ConfigError(f"--out {out} holds a search with other settings ({difference(old, record)}): "
                              f"{fresh}")
    elif results.rows:
        raise ConfigError(f"--out {out} holds results of a search whose settings were not recorded: {fresh}")


def check_done(task: dict, row: dict, out: Path) -> None:
    """Refuse a finished trial of the same name trained with another config (say --epochs)."""
    old = row.get("config")
    if old != json.loads(to_json(task["config"])):
        change = difference(old, task["config"]) if isinstance(old, dict) else "no config recorded"
        raise ConfigError(f"--out {out}: trial {task['trial']} was trained with other settings ({change}): "
                          "use another --out, or --fresh to start over")


def search(space: list[Dimension], base: TrainConfig, settings: SearchSettings, data_dir: str,
           out: Path, log: Callable[[str], None] = print,
           executor: Callable[[list[dict], int], Iterable[dict]] | None = None,
           fresh: bool = False) -> Results:
    """Run (or finish) a search into `out`; returns its results table.

    A rerun into the same `out` skips the trials that are done, once it has checked that
    they were made with the same settings (search.json, each row's config); otherwise it
    is refused, or with `fresh` the earlier search's files are removed first.
    """
    if fresh:
        for name in SEARCH_FILES:
            (out / name).unlink(missing_ok=True)
    names = [d.name for d in space]
    results = Results(out, names)
    record = settings.record(data_dir)
    check_rerun(out, record, results)
    write_json(out / "search.json", record)
    threads = max(1, (os.cpu_count() or 1) // settings.workers)
    if executor is None:
        executor = {"local": local_executor, "population": population_executor,
                    "ray": lambda tasks, workers: ray_executor(tasks, workers, settings.address),
                    }[settings.backend]
    rounds = settings.rounds if settings.strategy == "coarse-to-fine" else 1
    for round_ in range(rounds):
        if settings.strategy == "grid":
            trials = grid_trials(space, settings.trials)
        else:
            box = None
            if round_ > 0:
                best = results.ranked(round_ - 1)[:settings.top_k]
                if not best:
                    raise ConfigError(f"round {round_ - 1} has no successful trial to narrow the search on")
                box = narrowed_box(space, [{n: r[n] for n in names} for r in best])
            rng = np.random.default_rng([settings.seed, round_])
            trials = random_trials(space, settings.trials, rng, box)
        tasks = [{"trial": f"r{round_}-{i:03d}", "round": round_, "params": params,
                  "config": config_for(base, params).to_dict(), "data_dir": data_dir, "threads": threads,
                  "validation_fraction": settings.validation_fraction, "split_seed": settings.split_seed}
                 for i, params in enumerate(trials)]
        done = results.done()
        for task in tasks:
            if task["trial"] in done:
                check_done(task, done[task["trial"]], out)
        todo = [t for t in tasks if t["trial"] not in done]
        if len(todo) < len(tasks):
            log(f"round {round_}: {len(tasks) - len(todo)} of {len(tasks)} trials already done, skipped")
        for row in executor(todo, settings.workers):
            results.add(row)
            shown = ", ".join(f"{n}={format_value(row[n])}" for n in names)
            outcome = (f"validation {row['validation_accuracy']:.4f}" if row["status"] == "ok"
                       else f"FAILED: {row['reason']}")
            log(f"{row['trial']} ({len(results.rows)} done) {shown}: {outcome} [{row['seconds']:.0f} s]")
    return results


def format_value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_search(results: Results, space: list[Dimension], path: Path) -> None:
    """Validation accuracy against each log-scaled hyperparameter (learning rate on a log axis,
    1 - beta on a log axis), one colour per coarse-to-fine round."""
    from tfsigns.plots import plt, save_figure
    scaled = [d for d in space if d.scale in ("log", "one-minus-log")] or [d for d in space
                                                                          if d.scale != "choice"]
    fig, axes = plt.subplots(1, max(1, len(scaled)), figsize=(5.5 * max(1, len(scaled)), 4.2), squeeze=False)
    def x(row, d):
        return 1.0 - row[d.name] if d.scale == "one-minus-log" else row[d.name]

    ok = [r for r in results.rows if r["status"] == "ok"]
    failed = [r for r in results.rows if r["status"] != "ok" and r["validation_accuracy"] is not None]
    for ax, d in zip(axes[0], scaled, strict=False):
        for round_ in sorted({r["round"] for r in ok}):
            mine = [r for r in ok if r["round"] == round_]
            ax.scatter([x(r, d) for r in mine], [r["validation_accuracy"] for r in mine],
                       label=f"round {round_}", alpha=0.8)
        if failed:
            ax.scatter([x(r, d) for r in failed], [r["validation_accuracy"] for r in failed], marker="x",
                       color="grey", label="failed (not learning)")
        if d.scale in ("log", "one-minus-log"):
            ax.set_xscale("log")
        ax.set_xlabel(f"1 - {d.name}" if d.scale == "one-minus-log" else d.name)
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


# ------------------------------------------------------------------ command line


DEFAULT_EPOCHS = 300


def build_parser() -> argparse.ArgumentParser:
    d = SearchSettings()
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("\n", " "), allow_abbrev=False,
               formatter_class=HelpFormatter)
    p.add_argument("--space", help="JSON/YAML search space (default: the lecture's alpha, beta1, "
                   "minibatch size and batch norm)")
    p.add_argument("--strategy", choices=("random", "grid", "coarse-to-fine"), default=d.strategy,
                   help="how trials are drawn")
    p.add_argument("--trials", type=int, default=d.trials,
                   help="trials per round (a grid runs at most this many)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of coarse-to-fine")
    p.add_argument("--top-k", type=int, default=d.top_k, help="best trials that span the next round's box")
    p.add_argument("--epochs", type=int,
                   help=f"epochs of every trial (default: --config's num_epochs, else {DEFAULT_EPOCHS})")
    p.add_argument("--config", help="JSON of base settings for every trial, as python -m tfsigns.train "
                   "takes (a config.json, best.json or metrics.json); its init defaults to independent")
    p.add_argument("--workers", type=int, default=d.workers,
                   help="trials at once (population backend: members per population)")
    p.add_argument("--backend", choices=("local", "ray", "population"), default=d.backend,
                   help="local: --workers processes; ray: a Ray cluster; population: trials that share "
                        "an architecture train together in one graph")
    p.add_argument("--address", help=f"Ray cluster HOST:PORT, e.g. one started by `{RAY_START}` "
                   "(default: a local Ray instance)")
    p.add_argument("--validation-fraction", type=float,
                   help=f"share of the training set to score trials on (default: --config's, else "
                        f"{d.validation_fraction})")
    p.add_argument("--split-seed", type=int, help=f"seed of the validation split (default: --config's, "
                   f"else {d.split_seed})")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the sampling")
    p.add_argument("--data-dir", help="folder with the SIGNS files (default: --config's, else $TFSIGNS_DATA, "
                   "else the project's data/)")
    p.add_argument("--out", default="runs/search", help="folder for the results table, best.json, search.png")
    p.add_argument("--fresh", action="store_true",
                   help="start over: remove an earlier search's files from --out (without it, a search "
                        "with other settings there is refused)")
    return p


def base_settings(args: argparse.Namespace) -> tuple[TrainConfig, dict]:
    """Every trial's base config and the data settings: flags, over --config, over defaults.

    A search is no course reproduction, so its weight layers draw from independent seeds
    unless --config says otherwise.
    """
    d = SearchSettings()
    settings = {"init": "independent", "num_epochs": DEFAULT_EPOCHS, "data_dir": None,
                "validation_fraction": d.validation_fraction, "split_seed": d.split_seed}
    origins = {}
    if args.config:
        given = read_settings(args.config)
        if not given.get("validation_fraction"):  # a run without a split: the search still needs one
            given.pop("validation_fraction", None)
        settings.update(given)
        origins = dict.fromkeys(given, f"--config {args.config}")
    for flag, name in (("epochs", "num_epochs"), ("data_dir", "data_dir"),
                       ("validation_fraction", "validation_fraction"), ("split_seed", "split_seed")):
        if getattr(args, flag) is not None:
            settings[name], origins[name] = getattr(args, flag), f"--{flag.replace('_', '-')}"
    config, data = check_settings(settings, origins, print_cost=False)
    if not data["validation_fraction"]:
        raise ConfigError("--validation-fraction must lie in (0, 1): trials are scored on the validation "
                          "split")
    return config, data


def main(argv: list[str] | None = None) -> int:
    """Search, then evaluate the chosen configuration once on the test set."""
    line_buffered_output()
    args = build_parser().parse_args(argv)
    try:
        for name in ("trials", "rounds", "top_k", "workers"):
            positive(name, getattr(args, name))
        base, data = base_settings(args)
        resolve_device(base.device)  # --device gpu without a GPU: say so before the search
        space = load_space(args.space, base)
        if args.strategy == "grid":
            grid_trials(space, args.trials)  # a grid larger than --trials: say so before any work
        if args.backend == "ray" and args.address:
            check_ray_address(args.address)
        check_writable(args.out)
        data_dir = str(find_data_dir(data["data_dir"]).resolve())
        fraction, split_seed = data["validation_fraction"], data["split_seed"]
        X_train, Y_train = split_data(data_dir, fraction, split_seed)[:2]  # bad data: say so now
        check_memory(largest(space, base), X_train.shape[0], Y_train.shape[0])
        out = prepare_out_dir(args.out)
        settings = SearchSettings(args.strategy, args.trials, args.rounds, args.top_k, args.seed,
                                  args.workers, args.backend, args.address, fraction, split_seed)
        started = time.time()
        results = search(space, base, settings, data_dir, out, fresh=args.fresh)
        wall = time.time() - started
        best_rows = results.ranked()
        if not best_rows:
            print(f"{PROG}: every trial failed; see {out / 'results.csv'}", file=sys.stderr)
            return 1
        best = best_rows[0]
        config = TrainConfig(**best["config"])  # what the chosen trial trained with, as recorded
        write_json(out / "best.json", {**config.to_dict(), "print_cost": True, "data_dir": data_dir,
                                       "validation_fraction": fraction, "split_seed": split_seed})
        plot_search(results, space, out / "search.png")
        # The test set, once, for the chosen configuration only.
        X_train, Y_train, X_val, Y_val, X_test, Y_test = split_data(data_dir, fraction, split_seed)
        _, history = train(config, X_train, Y_train, {"validation": (X_val, Y_val), "test": (X_test, Y_test)})
        write_json(out / "final.json", {"trial": best["trial"], "config": config.to_dict(),
                                        "accuracy": history.accuracy, "search_wall_seconds": wall,
                                        "trials": len(results.rows),
                                        "failed": sum(r["status"] != "ok" for r in results.rows)})
        print(f"best: {best['trial']} validation {history.accuracy['validation']:.4f}, "
              f"test {history.accuracy['test']:.4f}; "
              f"{len(results.rows)} trials in {wall:.0f} s; reproduce with: "
              f"python -m tfsigns.train --config {out / 'best.json'} --out runs/best")
        return 0
    except (SpaceError, ConfigError, DataError, OutputError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; finished trials are kept in {args.out}/results.csv: run the same "
              "command again to go on", file=sys.stderr)
        return 130


if __name__ == "__main__":
    code = main()
    if code == 130:  # interrupted: skip the process pool's exit handler, which waits on stopped workers
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

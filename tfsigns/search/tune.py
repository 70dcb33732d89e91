"""Hyperparameter search as the lecture teaches it: random rather than grid, each
hyperparameter sampled on its right scale, coarse-to-fine, many runs at once ("caviar").

    python -m tfsigns.tune --space space.json --trials 24 --epochs 300 --workers 2 --out runs/search

Every trial is scored on a validation split carved from the training set; the test
set is used once, for the chosen configuration only. Babysitting a single run
("panda") is python -m tfsigns.train with its checkpoints, --resume, TensorBoard
files and refreshed learning curve (tfsigns.training.monitor).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tfsigns.config import CONFIG_FIELDS, NETWORKS, ConfigError, RunSettings, TrainConfig
from tfsigns.images.signs import DataError, find_data_dir
from tfsigns.networks import get_network
from tfsigns.search.executors import (
    RAY_START,
    check_ray_address,
    local_executor,
    population_executor,
    ray_executor,
    split_data,
)
from tfsigns.search.space import (
    Dimension,
    SpaceError,
    config_for,
    grid_trials,
    load_space,
    narrowed_box,
    networks,
    random_trials,
)
from tfsigns.utils.cli import (
    HelpFormatter,
    Parser,
    check_settings,
    line_buffered_output,
    positive,
    read_settings,
)
from tfsigns.utils.files import (
    OutputError,
    atomic_write_bytes,
    check_writable,
    prepare_out_dir,
    to_json,
    write_json,
)

PROG = "tfsigns.tune"


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
    device: str = "cpu"  # where each trial trains

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
    """Refuse a finished trial of the same name trained with another config (say --epochs). A row
    recorded before a setting existed (say arch) counts as trained with its default, and
    run settings recorded then (device, printing) do not count."""
    old = row.get("config")
    if isinstance(old, dict):
        old = {**TrainConfig().to_dict(), **{k: v for k, v in old.items() if k in CONFIG_FIELDS}}
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
    box = None  # the previous round's, which the next one narrows
    for round_ in range(rounds):
        if settings.strategy == "grid":
            trials = grid_trials(space, settings.trials)
        else:
            if round_ > 0:
                best = results.ranked(round_ - 1)[:settings.top_k]
                if not best:
                    raise ConfigError(f"round {round_ - 1} has no successful trial to narrow the search on")
                box = narrowed_box(space, [{n: r[n] for n in names} for r in best], box)
            rng = np.random.default_rng([settings.seed, round_])
            trials = random_trials(space, settings.trials, rng, box)
        tasks = [{"trial": f"r{round_}-{i:03d}", "round": round_, "params": params,
                  "config": config_for(base, params).to_dict(), "data_dir": data_dir, "threads": threads,
                  "device": settings.device,
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
    from tfsigns.utils.plots import plt, save_figure
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
    p.add_argument("--arch", choices=tuple(NETWORKS),
                   help="network family of every trial (default: --config's, else mlp; a cnn search takes "
                        "the CNN notebook's learning rate, epochs and minibatch size as its base)")
    p.add_argument("--epochs", type=int,
                   help=f"epochs of every trial (default: --config's num_epochs, else {DEFAULT_EPOCHS}; "
                        "100 for a cnn)")
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


def base_settings(args: argparse.Namespace) -> tuple[TrainConfig, RunSettings, dict]:
    """Every trial's base config, run settings and the data settings: flags, over --config, over
    defaults.

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
    for flag, name in (("arch", "arch"), ("epochs", "num_epochs"), ("data_dir", "data_dir"),
                       ("validation_fraction", "validation_fraction"), ("split_seed", "split_seed")):
        if getattr(args, flag) is not None:
            settings[name], origins[name] = getattr(args, flag), f"--{flag.replace('_', '-')}"
    config, run, data = check_settings(settings, origins, print_cost=False)
    if not data["validation_fraction"]:
        raise ConfigError("--validation-fraction must lie in (0, 1): trials are scored on the validation "
                          "split")
    return config, run, data


def main(argv: list[str] | None = None) -> int:
    """Search, then evaluate the chosen configuration once on the test set."""
    line_buffered_output()
    args = build_parser().parse_args(argv)
    try:
        for name in ("trials", "rounds", "top_k", "workers"):
            positive(name, getattr(args, name))
        base, run, data = base_settings(args)
        space = load_space(args.space, base)
        if args.strategy == "grid":
            grid_trials(space, args.trials)  # a grid larger than --trials: say so before any work
        if args.backend == "ray" and args.address:
            check_ray_address(args.address)
        check_writable(args.out)
        data_dir = str(find_data_dir(data["data_dir"]).resolve())
        fraction, split_seed = data["validation_fraction"], data["split_seed"]
        split_data(data_dir, fraction, split_seed)  # bad data: say so now
        # Settings, space and data are good: only now does TensorFlow load (a few seconds), for
        # the checks that need it and for the final training.
        from tfsigns.training.trainer import check_memory, resolve_device, train

        resolve_device(run.device)  # --device gpu without a GPU: say so before the search
        layout = get_network(base.arch).layout
        _, input_shape, n_y = layout.sizes(*split_data(data_dir, fraction, split_seed, layout)[:2])
        for network in networks(space, base):  # a kernel larger than its input, or too big to fit
            check_memory(network, input_shape, n_y)
        out = prepare_out_dir(args.out)
        settings = SearchSettings(args.strategy, args.trials, args.rounds, args.top_k, args.seed,
                                  args.workers, args.backend, args.address, fraction, split_seed, run.device)
        started = time.time()
        results = search(space, base, settings, data_dir, out, fresh=args.fresh)
        wall = time.time() - started
        best_rows = results.ranked()
        if not best_rows:
            print(f"{PROG}: every trial failed; see {out / 'results.csv'}", file=sys.stderr)
            return 1
        best = best_rows[0]
        config = TrainConfig.from_recorded(best["config"])  # what the chosen trial trained with
        write_json(out / "best.json", {**config.to_dict(), "device": run.device, "data_dir": data_dir,
                                       "validation_fraction": fraction, "split_seed": split_seed})
        plot_search(results, space, out / "search.png")
        # The test set, once, for the chosen configuration only.
        X_train, Y_train, X_val, Y_val, X_test, Y_test = split_data(data_dir, fraction, split_seed, layout)
        _, history = train(config, X_train, Y_train, {"validation": (X_val, Y_val), "test": (X_test, Y_test)},
                           RunSettings(device=run.device, print_cost=False))
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


def run_command() -> None:
    """`python -m tfsigns.tune` as a process: Ctrl-C (SIGINT) stops the search even where the shell
    started it with SIGINT ignored, as a script's background job is (Python then leaves it ignored), and
    an interrupted search exits without the process pool's exit handler, which waits on stopped workers."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run_command()

"""The search space and how trials are drawn from it: each hyperparameter's range on its
right scale (a Dimension), read from a JSON or YAML file, and the strategies (random, grid,
the coarse-to-fine box) that turn a space into trials' hyperparameters and configs.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tfsigns.config import CONFIG_FIELDS, ConfigError, TrainConfig, whole

SCALES = ("uniform", "log", "one-minus-log", "int")
# Hyperparameters a search may vary: TrainConfig fields, plus the network's shape.
SHAPE = ("hidden_units", "num_layers")
TUNABLE = CONFIG_FIELDS - {"arch", "layers"} | set(SHAPE)  # a network family has its own hyperparameters
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


# ------------------------------------------------------------------ one trial's config


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
    return replace(base, **settings)


def largest(space: list[Dimension], base: TrainConfig) -> TrainConfig:
    """The biggest network a space can draw on top of `base` (widest, deepest), so that one
    that cannot fit is refused before the search rather than failing trial by trial."""
    shape = {d.name: max(d.choices) if d.scale == "choice" else d.from_unit(1.0)
             for d in space if d.name in SHAPE}
    return config_for(base, shape)

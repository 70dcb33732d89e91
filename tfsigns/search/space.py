"""The search space and how trials are drawn from it: each hyperparameter's range on its
right scale (a Dimension), read from a JSON or YAML file, and the strategies (random, grid,
the coarse-to-fine box) that turn a space into trials' hyperparameters and configs.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tfsigns.config import CONFIG_FIELDS, FAMILY_SETTINGS, ConfigError, TrainConfig, foreign_setting, whole

SCALES = ("uniform", "log", "one-minus-log", "int")
# Hyperparameters a search may vary: TrainConfig fields, plus the network's shape.
SHAPE = ("hidden_units", "num_layers")
TUNABLE = CONFIG_FIELDS - {"arch", "layers"} | set(SHAPE)  # a network family has its own hyperparameters
SHAPING = {name for own in FAMILY_SETTINGS.values() for name in own}  # settings that shape a family's network
ENTRY_KEYS = {"scale", "low", "high", "choices"}
ZOOM = 0.2  # a coarse-to-fine round keeps at least this share of the previous round's range
# A number in exponent form that YAML 1.1 (PyYAML) reads as text: without a dot or the exponent's sign
YAML_TEXT = re.compile(r"([-+]?\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)")

# The lecture's example: alpha log-uniform in [1e-4, 1], beta via 1 - beta on a log scale.
DEFAULT_SPACE = {
    "learning_rate": {"scale": "log", "low": 1e-4, "high": 1.0},
    "beta1": {"scale": "one-minus-log", "low": 0.9, "high": 0.999},
    "minibatch_size": {"choices": [16, 32, 64, 128]},
    "batch_norm": {"choices": [False, True]},
}


class SpaceError(ValueError):
    """A search space that cannot be sampled; the message names the hyperparameter."""


def yaml_spelling(text: str) -> str | None:
    """How to write `text`, a number YAML reads as text (1e-4), so that YAML reads a number (1.0e-4);
    None for any other text."""
    match = YAML_TEXT.fullmatch(text)
    if not match:
        return None
    digits, fraction, sign, exponent = match.groups()
    spelled = f"{digits}.{fraction or 0}e{sign or '+'}{exponent}"
    return None if spelled == text else spelled


def text_given(name: str, what: str, text: str) -> SpaceError:
    """The error for a string `text` given as `what` of `name` where a number belongs."""
    spelled = yaml_spelling(text)
    why = f" (YAML reads {text} as text; write {spelled})" if spelled else ", not a number"
    return SpaceError(f"{name}: {what} is the string {text!r}{why}")


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
    base = base or TrainConfig()
    space = []
    for name, entry in spec.items():
        if name not in TUNABLE:
            raise SpaceError(f"unknown hyperparameter {name!r}; tunable: {', '.join(sorted(TUNABLE))}")
        if why := foreign_setting(base.arch, "layers" if name in SHAPE else name):
            raise SpaceError(f"{name}: {why}")
        if not isinstance(entry, dict):
            raise SpaceError(f"{name}: expected an object with scale/low/high or choices")
        if set(entry) - ENTRY_KEYS:
            unknown = ", ".join(sorted(map(repr, set(entry) - ENTRY_KEYS)))
            raise SpaceError(f"{name}: unknown key(s) {unknown}; an entry has scale, low and high, "
                             "or choices")
        if "choices" in entry:
            if not isinstance(entry["choices"], list) or not entry["choices"]:
                raise SpaceError(f"{name}: choices must be a non-empty list")
            if text := next((c for c in entry["choices"] if isinstance(c, str) and yaml_spelling(c)), None):
                raise text_given(name, "a choice", text)
            space.append(Dimension(name, choices=tuple(entry["choices"])))
            continue
        scale, low, high = entry.get("scale", "uniform"), entry.get("low"), entry.get("high")
        if scale not in SCALES:
            raise SpaceError(f"{name}: unknown scale {scale!r}; use one of {', '.join(SCALES)} or choices")
        if bound := next((key for key in ("low", "high") if isinstance(entry.get(key), str)), None):
            raise text_given(name, bound, entry[bound])
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
                config_for(base, {d.name: value})
            except (ConfigError, TypeError, ValueError) as err:
                raise SpaceError(f"{d.name}: {value!r} cannot be trained ({err})") from None
    return space


def load_space(path: str | os.PathLike | None, base: TrainConfig | None = None) -> list[Dimension]:
    """The search space from a JSON (or, with PyYAML installed, YAML) file; None: the lecture's.
    An error in the file's space names the file."""
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
    try:
        return parse_space(spec, base)
    except SpaceError as err:
        raise SpaceError(f"{path}: {err}") from None


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


def widened(options: list, kept: list, best) -> list:
    """`kept` of the ordered `options`, with neighbours of `best` around it where it holds fewer than
    ZOOM of the options or fewer than two of them."""
    need = min(len(options), max(2, math.ceil(ZOOM * len(options))))
    if len(kept) >= need:
        return kept
    start = min(max(options.index(best) - (need - 1) // 2, 0), len(options) - need)
    return [o for o in options if o in kept or o in options[start:start + need]]


def narrowed_box(space: list[Dimension], best: list[dict], box: dict | None = None) -> dict:
    """The next round's box inside the previous round's `box` (None: the whole space), spanned by
    the best configurations (best[0] the best): for each numeric dimension the unit interval from
    the smallest to the largest of them, for each choice the ones they used. Each keeps a real
    range, centred on the best, where they span less: at least ZOOM of the previous width on the
    dimension's scale, or of its previous values, and two values of an int or choice dimension that
    had them. One best trial (--top-k 1) does not zoom to a point."""
    narrowed = {}
    for d in space:
        values, previous = [params[d.name] for params in best], (box or {}).get(d.name)
        if d.scale == "choice":
            options = list(previous or d.choices)
            narrowed[d.name] = widened(options, [c for c in options if c in values], values[0])
        elif d.scale == "int":  # whole values, the box on their bins' edges
            n = int(d.high - d.low) + 1
            low, high = previous or (0.0, 1.0)
            options = list(range(int(d.low) + round(low * n), int(d.low) + round(high * n)))
            best_value = min(max(values[0], options[0]), options[-1])  # float rounding at a bin's edge
            kept = widened(options, [v for v in options if min(values) <= v <= max(values)], best_value)
            narrowed[d.name] = ((kept[0] - d.low) / n, (kept[-1] + 1 - d.low) / n)
        else:
            low, high = previous or (0.0, 1.0)
            units, width = [min(max(d.to_unit(v), low), high) for v in values], ZOOM * (high - low)
            start = min(max(units[0] - width / 2, low), high - width)
            narrowed[d.name] = (min(units), max(units)) if max(units) - min(units) >= width \
                else (start, start + width)
    return narrowed


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


def networks(space: list[Dimension], base: TrainConfig) -> list[TrainConfig]:
    """The networks a space can draw on top of `base`, so that one that cannot be built or fit is
    refused before the search rather than failing trial by trial: the widest, deepest MLP, or each
    combination of the choices of the settings that shape a family's network (the CNN's filters,
    kernels, pools and dense)."""
    shape = {d.name: max(d.choices) if d.scale == "choice" else d.from_unit(1.0)
             for d in space if d.name in SHAPE}
    axes = [[(d.name, c) for c in d.choices] for d in space if d.name in SHAPING]
    return [config_for(base, {**shape, **dict(combo)}) for combo in itertools.product(*axes)]

"""Command-line plumbing shared by every `python -m tfsigns.*` command: the parser that
reports a usage error in one line, help that shows every default, line-buffered output,
and settings read from files and checked in one place, whatever their source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tfsigns.config import (
    CONFIG_FIELDS,
    COURSE_SETTINGS,
    SEED_LIMIT,
    ConfigError,
    RunSettings,
    TrainConfig,
    real,
    whole,
)

# What a run's config.json (and a --config file) holds: TrainConfig's fields, the run settings
# a user sets in a file or a flag (print_cost is the CLI's --quiet), and the data the run saw.
DATA_SETTINGS = ("data_dir", "validation_fraction", "split_seed", "digits_dir", "validation_students")
# What a data setting is when no source gives it: a ten-digit reader holds a fifth of the students out
DATA_DEFAULTS = {"data_dir": None, "validation_fraction": 0.0, "split_seed": 0, "digits_dir": None,
                 "validation_students": 0.2}
FILE_RUN_SETTINGS = ("device", "print_every")
SETTINGS = CONFIG_FIELDS | set(FILE_RUN_SETTINGS) | set(DATA_SETTINGS)


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2), without the usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none or the help text names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or "default" in help_text:
            return help_text
        return super()._get_help_string(action)


def line_buffered_output() -> None:
    """Print each line as it is written, also into a pipe (`... | tee log`), as on a terminal.

    Python buffers a piped stdout in blocks unless PYTHONUNBUFFERED is set; a person
    watching a log, or a program reading it line by line, would see nothing until the end.
    """
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True)


def read_settings(path: str | Path) -> dict:
    """Settings from a JSON object: flat (config.json, best.json) or a metrics.json (its config,
    run settings and data settings).

    Unknown names are refused; values are checked later, with everything else, by
    check_settings.
    """
    path = Path(path)
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read settings ({err})") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a JSON object of settings")
    if isinstance(settings.get("config"), dict):  # a metrics.json
        run = settings.get("run") if isinstance(settings.get("run"), dict) else {}
        return {k: v for k, v in {**{k: settings[k] for k in DATA_SETTINGS if k in settings},
                                  **settings["config"], **run}.items() if k in SETTINGS}
    unknown = sorted(set(settings) - SETTINGS - {"print_cost"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(map(repr, unknown))}")
    return {k: v for k, v in settings.items() if k in SETTINGS}


def check_data_setting(name: str, value):
    """A data setting as stored, or ConfigError: data_dir and digits_dir a path or null,
    validation_fraction and validation_students in [0, 1) (0: no split), split_seed a seed."""
    if name in ("data_dir", "digits_dir"):
        ok = value is None or (isinstance(value, str) and "\0" not in value)
        rule = "be a folder name or null"
    elif name in ("validation_fraction", "validation_students"):
        ok = real(value) and 0 <= value < 1
        rule, value = "lie in [0, 1)", float(value) if ok else value
    else:
        ok = whole(value) and 0 <= value < SEED_LIMIT
        rule = "be an integer in [0, 2**31)"
    if not ok:
        raise ConfigError(f"{name} must {rule}, got {value!r}", name)
    return value


def check_settings(settings: dict, origins: dict[str, str], **run_fields
                   ) -> tuple[TrainConfig, RunSettings, dict]:
    """Check every setting, whatever its source, before anything is read or written.

    `settings` maps SETTINGS names to values; `origins` says where a value came from (a
    flag, a file) so that the one-line error can name it. Returns the TrainConfig, the
    RunSettings (with `run_fields` such as print_cost) and the data settings.
    """
    def where(name: str) -> str:
        return f"{origins[name]}: " if name in origins else ""

    # what no source gave takes the family's course value (the CNN notebook's learning rate...)
    course = COURSE_SETTINGS.get(settings.get("arch"), {}) if isinstance(settings.get("arch"), str) else {}
    settings = {**settings, **{name: value for name, value in course.items() if name not in origins}}

    try:
        data = {name: check_data_setting(name, settings.get(name, DATA_DEFAULTS[name]))
                for name in DATA_SETTINGS}
        config = TrainConfig(**{k: v for k, v in settings.items() if k in CONFIG_FIELDS})
        run = RunSettings(**{k: settings[k] for k in FILE_RUN_SETTINGS if k in settings}, **run_fields)
    except ConfigError as err:
        raise ConfigError(f"{where(err.field)}{err}", err.field) from None
    return config, run, data


def origin_of(flag_dest: str) -> str:
    """The flag spelled from an argparse dest: num_epochs -> --epochs, learning_rate -> --learning-rate."""
    return "--epochs" if flag_dest == "num_epochs" else "--" + flag_dest.replace("_", "-")


def positive(name: str, value) -> None:
    """ConfigError unless a count flag (--trials, --checkpoint-every, ...) is at least 1."""
    if not (whole(value) and value > 0):
        raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")

"""What a run is, as plain data: the hyperparameters that decide what it learns
(TrainConfig), the settings of how it runs (RunSettings), the rules every value must meet,
and what a run reports back (History, its failures). No TensorFlow here: settings, files
and search spaces are checked before TensorFlow loads.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields

from tfsigns.portable.framing import FRAMINGS

# name -> the module that defines the family's NETWORK
NETWORKS = {"mlp": "tfsigns.networks.mlp", "cnn": "tfsigns.networks.cnn",
            "landmarks": "tfsigns.networks.landmarks"}
# The families that read a photo's hand landmarks (tfsigns.portable.hands) instead of its pixels
LANDMARK_FAMILIES = ("landmarks",)
# What a family's course notebook trains with, where it differs from TrainConfig's defaults (the
# MLP's): a command uses them for the settings its user did not give.
COURSE_SETTINGS = {"cnn": {"learning_rate": 0.009, "num_epochs": 100, "minibatch_size": 64},
                   "landmarks": {"learning_rate": 0.003, "num_epochs": 300, "minibatch_size": 64,
                                 "layers": (64, 32)}}
# Per family of NETWORKS, the settings only its networks use, each with what it shapes; every other
# setting is every family's. Another family's config leaves them at TrainConfig's defaults (which its
# runs still record). A family without an entry (registered in NETWORKS alone) owns none of them.
FAMILY_SETTINGS = {
    "mlp": {"layers": "hidden MLP layers"},
    "cnn": {"filters": "conv blocks", "kernels": "conv blocks", "pools": "conv blocks",
            "dense": "hidden dense layers after conv blocks"},
    "landmarks": {"layers": "hidden MLP layers", "hand_model": "hand model", "digits": "digits to read",
                  "unknown_shapes": "made-up hand shapes (an unknown sign)",
                  "unknown_threshold": "unknown sign"},
}

# The setting that lists the hidden layers a family's dropout acts on (keep_prob < 1 needs some); a family
# without an entry is not checked
DROPOUT_LAYERS = {"mlp": "layers", "cnn": "dense", "landmarks": "layers"}
# What augmentation does to landmarks (tfsigns.training.augment): the others change pixels only
LANDMARK_AUGMENTATIONS = {"flip": "mirror (the other hand)", "rotation": "turn in the image plane",
                          "zoom": "scale", "noise": "jitter each landmark (decimetres)"}


def foreign_setting(arch: str, name: str) -> str | None:
    """Why setting `name` does nothing in family `arch`'s networks, or None when it applies to them."""
    owners = [family for family, own in FAMILY_SETTINGS.items() if name in own]
    if not owners or arch in owners:
        return None
    own = ", ".join(FAMILY_SETTINGS.get(arch, {})) or "none of the families' own"
    return f"the {arch} family has no {FAMILY_SETTINGS[owners[0]][name]}; its settings are {own}"


def pixel_setting(arch: str, name: str) -> str | None:
    """Why setting `name` does nothing in a family that reads landmarks, or None when it applies."""
    if arch not in LANDMARK_FAMILIES or name not in (*AUGMENTATIONS, "normalize", "framing"):
        return None
    if name in LANDMARK_AUGMENTATIONS:
        return None
    if name in AUGMENTATIONS:
        return (f"the {arch} family reads hand landmarks, not pixels; of augmentation it takes "
                f"{', '.join(LANDMARK_AUGMENTATIONS)}")
    return f"the {arch} family reads hand landmarks, not pixels: it takes no {name} of photos"


OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
INITS = ("course", "independent")  # how initialize_parameters seeds each layer's weights
DECAYS = ("none", "inverse-time", "exponential", "staircase")
DEVICES = ("cpu", "gpu")
# SIGNS' signs, or ASL's ten digits with other students' photos (tfsigns.images.digits)
DIGITS = ("0-5", "0-9")
HAND_MODELS = ("full", "lite")  # MediaPipe's palm and landmark models (tfsigns.hands.files)
NORMALIZATIONS = ("none", "per-image", "dataset")  # what the input is scaled by (tfsigns.training.graph)
# The training-time augmentations, each a strength (flip: on or off); 0 everywhere augments nothing
AUGMENTATIONS = ("flip", "rotation", "translation", "zoom", "brightness", "contrast", "saturation", "hue",
                 "colour_cast", "blur", "noise")
DEAD_EPOCHS = 50  # epochs at ln(C) before warning that the network is not learning
SEED_LIMIT = 2 ** 31  # seeds and epoch counts stay below it, so minibatch_seed + epoch fits NumPy's seed
BIG = 1e38  # rates and strengths stay below it: the graph holds them as float32 (largest 3.4e38)


class ConfigError(ValueError):
    """A hyperparameter or setting is out of range; the message says which and why.

    `field` names the setting at fault, when there is one, so that a caller can say where
    the bad value came from (a flag, a --config file).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TrainingDiverged(RuntimeError):
    """The cost became NaN or infinite."""


class TrainingInterrupted(Exception):
    """The run was asked to stop; `epoch` epochs are done and checkpointed."""

    def __init__(self, epoch: int):
        super().__init__(f"stopped after epoch {epoch}")
        self.epoch = epoch


def whole(value) -> bool:
    """An integer that is not a bool (JSON's true is not 1 epoch)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def real(value) -> bool:
    """A finite number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# Each setting's rule: (kind, test of the value, what the value must be). Kinds: "int", "float"
# (ints accepted and stored as floats), "bool", "choice" (test: the allowed strings), "layers"
# (a non-empty list of whole numbers), "units" (the same, possibly empty).
RULES: dict[str, tuple] = {
    "arch": ("choice", NETWORKS, "be the name of a registered network family"),  # NETWORKS as it is now
    "layers": ("layers", lambda v: v > 0, "be one or more positive unit counts"),
    "filters": ("layers", lambda v: v > 0, "be one or more positive channel counts, one per conv block"),
    "kernels": ("layers", lambda v: v > 0, "be one or more positive sizes, one per conv block"),
    "pools": ("layers", lambda v: v > 0, "be one or more positive sizes, one per conv block"),
    "dense": ("units", lambda v: v > 0, "be a list of positive unit counts (may be empty)"),
    "learning_rate": ("float", lambda v: 0 < v < BIG, "be a positive number below 1e38"),
    "num_epochs": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "minibatch_size": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "seed": ("int", lambda v: 0 <= v < SEED_LIMIT, "be an integer in [0, 2**31)"),
    "minibatch_seed": ("int", lambda v: 0 <= v < SEED_LIMIT, "be an integer in [0, 2**31)"),
    "optimizer": ("choice", OPTIMIZERS, "be one of " + ", ".join(OPTIMIZERS)),
    "beta1": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "beta2": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "epsilon": ("float", lambda v: 0 < v < BIG, "be a positive number below 1e38"),
    "momentum": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "decay": ("choice", DECAYS, "be one of " + ", ".join(DECAYS)),
    "decay_rate": ("float", lambda v: 0 <= v < BIG, "be a non-negative number below 1e38"),
    "decay_interval": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "batch_norm": ("bool", None, "be true or false"),
    "bn_momentum": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "bn_population_stats": ("bool", None, "be true or false"),
    "lambd": ("float", lambda v: 0 <= v < BIG, "be a non-negative number below 1e38"),
    # 1 - keep_prob, dropout's rate, must stay below 1 in floating point too
    "keep_prob": ("float", lambda v: 0 < v <= 1 and 1.0 - v < 1.0, "lie in (0, 1]"),
    "init": ("choice", INITS, "be one of " + ", ".join(INITS)),
    "flip": ("bool", None, "be true or false"),
    "rotation": ("float", lambda v: 0 <= v <= 180, "lie in [0, 180] (degrees)"),
    "translation": ("float", lambda v: 0 <= v < 1, "lie in [0, 1) (a share of the image's size)"),
    "zoom": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "brightness": ("float", lambda v: 0 <= v <= 1, "lie in [0, 1]"),
    "contrast": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "saturation": ("float", lambda v: 0 <= v <= 1, "lie in [0, 1]"),
    "hue": ("float", lambda v: 0 <= v <= 0.5, "lie in [0, 0.5] (a share of the colour circle)"),
    "colour_cast": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "blur": ("float", lambda v: 0 <= v <= 10, "lie in [0, 10] (pixels)"),
    "noise": ("float", lambda v: 0 <= v <= 1, "lie in [0, 1]"),
    "normalize": ("choice", NORMALIZATIONS, "be one of " + ", ".join(NORMALIZATIONS)),
    "framing": ("choice", FRAMINGS, "be one of " + ", ".join(FRAMINGS)),
    "hand_model": ("choice", HAND_MODELS, "be one of " + ", ".join(HAND_MODELS)),
    "digits": ("choice", DIGITS, "be one of " + ", ".join(DIGITS)),
    "unknown_shapes": ("int", lambda v: 0 <= v <= 100_000, "be a whole number in [0, 100000]"),
    "unknown_threshold": ("float", lambda v: 0 < v <= 1, "lie in (0, 1]"),
    "device": ("choice", DEVICES, "be one of " + ", ".join(DEVICES)),
    "threads": ("int", lambda v: 0 <= v < SEED_LIMIT, "be a non-negative integer (0: all cores)"),
    "print_cost": ("bool", None, "be true or false"),
    "print_every": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "progress": ("bool", None, "be true or false"),
}


def check_field(name: str, value):
    """`value` as setting `name` stores it (layers a tuple, numbers float), or ConfigError naming
    the setting, the rule and the value; the type is checked as strictly as the range."""
    kind, test, rule = RULES[name]
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "choice":
        ok = isinstance(value, str) and value in test
        if isinstance(value, str) and not ok:
            raise ConfigError(f"unknown {name} {value!r}; choose from {', '.join(test)}", name)
    elif kind == "int":
        ok = whole(value) and test(value)
        value = int(value) if ok else value
    elif kind == "float":
        ok = real(value) and test(value)
        value = float(value) if ok else value
    else:  # layers or units: a list of positive whole numbers, non-empty for layers
        ok = (isinstance(value, (list, tuple)) and (len(value) > 0 or kind == "units")
              and all(whole(n) and test(n) for n in value))
        value = tuple(int(n) for n in value) if ok else value
    if not ok:
        raise ConfigError(f"{name} must {rule}, got {value!r}", name)
    return value


class Checked:
    """A dataclass whose every field is checked by its RULES entry when it is made."""

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, check_field(f.name, getattr(self, f.name)))

    def to_dict(self) -> dict:
        """Plain-JSON form (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class TrainConfig(Checked):
    """What a run learns: the network and every hyperparameter. Defaults are the course's.

    Two runs with equal TrainConfigs (and data) learn the same parameters; how they run
    (device, printing) is RunSettings'.
    """

    arch: str = "mlp"  # the network family, by its name in tfsigns.networks.NETWORKS
    layers: tuple[int, ...] = (25, 12)  # the MLP's hidden units per hidden layer
    # The CNN's conv blocks (filters, kernel size and pool size of each) and its hidden dense units
    filters: tuple[int, ...] = (8, 16)
    kernels: tuple[int, ...] = (4, 2)
    pools: tuple[int, ...] = (8, 4)
    dense: tuple[int, ...] = ()
    learning_rate: float = 0.0001
    num_epochs: int = 1500
    minibatch_size: int = 32
    seed: int = 1  # graph-level and initializer seed
    minibatch_seed: int = 3  # epoch e shuffles with minibatch_seed + e + 1, as the course does
    optimizer: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.9
    decay: str = "none"
    decay_rate: float = 1.0
    decay_interval: int = 100  # epochs per step of the staircase schedule
    batch_norm: bool = False
    bn_momentum: float = 0.99
    # After the last epoch, set the moving averages to the whole training set's statistics
    # under the final weights (the lecture's alternative to the running average, which with
    # Adam on 12288 inputs lags the weights by standard deviations); False keeps the EWMA.
    bn_population_stats: bool = True
    lambd: float = 0.0  # L2 strength
    keep_prob: float = 1.0  # dropout keep probability; 1 means no dropout
    # "course": every weight layer's initializer shares the op seed, as the course's does (its
    # reproduction depends on it); "independent": each layer draws from its own stream.
    init: str = "course"
    # Augmentation of each training minibatch (tfsigns.training.augment), all off by default: the largest
    # random change of each kind, drawn per image and per step.
    flip: bool = False  # mirror left to right with probability 1/2 (the other hand)
    rotation: float = 0.0  # degrees either way
    translation: float = 0.0  # share of the image's size, along each axis
    zoom: float = 0.0  # scale factor in [1 - zoom, 1 + zoom]
    brightness: float = 0.0  # offset added to every pixel in [0, 1]
    contrast: float = 0.0  # factor in [1 - contrast, 1 + contrast] about each channel's mean
    saturation: float = 0.0  # factor in [1 - saturation, 1 + saturation]
    hue: float = 0.0  # turn of the colour circle, as a share of it
    colour_cast: float = 0.0  # each channel's gain in [1 - colour_cast, 1 + colour_cast]
    blur: float = 0.0  # Gaussian blur's standard deviation, in pixels
    noise: float = 0.0  # sensor noise's standard deviation
    # The network's input: as loaded ("none", the course's), each image standardized ("per-image"),
    # or the training set's per-channel mean and deviation taken out ("dataset"; stored with the model)
    normalize: str = "none"
    # Each photo as it is ("none") or framed: the hand found, the wall made plain grey, the photo
    # cropped to the hand ("hand", tfsigns.portable.framing), in training and in every photo the run reads
    framing: str = "none"
    # The landmark families' hand model: MediaPipe's full or lite palm detector and landmark model
    hand_model: str = "full"
    # What a landmark reader learns to read: SIGNS' 0-5, or ASL's 0-9 (SIGNS plus other students' photos of
    # the digits, tfsigns.images.digits); and how many made-up hand shapes (tfsigns.hands.shapes) teach it
    # "a sign I don't know" as one more class (0: it names one of its signs for every hand)
    digits: str = "0-5"
    unknown_shapes: int = 0
    # From which probability of that class the reader answers "a sign I don't know" (it trains nothing: the
    # run records it, and every reader of the run reads by it; docs/reader.md chose it on validation photos)
    unknown_threshold: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in fields(self):  # another family's setting changed from its default would do nothing
            value = getattr(self, f.name)
            why = foreign_setting(self.arch, f.name) or pixel_setting(self.arch, f.name)
            if why and value != f.default:
                shown = list(value) if isinstance(value, tuple) else value
                raise ConfigError(f"{f.name} is {shown}, but {why}", f.name)
        hidden = DROPOUT_LAYERS.get(self.arch)
        if self.keep_prob < 1 and hidden and not getattr(self, hidden):
            raise ConfigError(f"keep_prob is {self.keep_prob}, but the {self.arch} family drops out only in "
                              f"its {FAMILY_SETTINGS[self.arch][hidden]} and {hidden} is empty: give it "
                              f"{hidden} units, or leave keep_prob at 1", "keep_prob")
        if self.decay == "exponential" and self.decay_rate > 1:
            raise ConfigError(f"decay_rate must lie in [0, 1] for exponential decay (a rate above 1 grows "
                              f"the learning rate every epoch), got {self.decay_rate:g}", "decay_rate")
        if not len(self.filters) == len(self.kernels) == len(self.pools):
            counts = f"{len(self.filters)}, {len(self.kernels)} and {len(self.pools)}"
            raise ConfigError(f"filters, kernels and pools need one entry per conv block, got {counts}",
                              "kernels")

    @classmethod
    def from_recorded(cls, settings: dict) -> TrainConfig:
        """The config a run or a search recorded (a metrics.json's "config", a results row's):
        run settings that earlier versions kept there (device, printing) are left out, and
        settings added since (arch) take their defaults."""
        return cls(**{f.name: settings[f.name] for f in fields(cls) if f.name in settings})


@dataclass
class RunSettings(Checked):
    """How a run runs, not what it learns: where, with how many threads, what it prints."""

    device: str = "cpu"
    threads: int = 0  # the session's thread pools; 0: all cores (search workers take a share)
    print_cost: bool = True  # a cost line every print_every epochs
    print_every: int = 100
    progress: bool = False  # a progress bar on stderr


CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))
RUN_FIELDS = frozenset(f.name for f in fields(RunSettings))


@dataclass
class History:
    """What a run measured: per-epoch cost and learning rate, accuracies, timing.

    accuracy maps "train" and the name of each evaluation set ("test", "validation")
    to the fraction of its examples classified right, in test mode.
    """

    costs: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    accuracy: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0  # of this call (a resumed run counts from where it resumed)
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch of this call
    warnings: list[str] = field(default_factory=list)  # e.g. a network that is not learning
    device: str = ""
    checkpoint: str = ""  # the finished model's checkpoint, when the run wrote checkpoints

    @property
    def ms_per_epoch(self) -> float:
        return 1000 * self.train_seconds / max(1, len(self.epoch_seconds))

    @property
    def train_accuracy(self) -> float:
        return self.accuracy["train"]

    @property
    def test_accuracy(self) -> float:
        return self.accuracy["test"]


def augments(config: TrainConfig) -> bool:
    """Whether `config` augments its training minibatches at all."""
    return any(getattr(config, name) for name in AUGMENTATIONS)


def learning_rate_decay(config: TrainConfig, epoch: int) -> float:
    """The learning rate for `epoch` (0-based) under the config's decay schedule.

    inverse-time: alpha0 / (1 + decay_rate * epoch); exponential: alpha0 * decay_rate**epoch;
    staircase: alpha0 / (1 + decay_rate * floor(epoch / decay_interval)) (the course's
    "fixed interval scheduling"). Never above alpha0, so never an overflow: TrainConfig keeps
    exponential's rate in [0, 1], and the others' rates are non-negative.
    """
    alpha0, rate = config.learning_rate, config.decay_rate
    if config.decay == "inverse-time":
        return alpha0 / (1.0 + rate * epoch)
    if config.decay == "exponential":
        return alpha0 * rate ** epoch
    if config.decay == "staircase":
        return alpha0 / (1.0 + rate * (epoch // config.decay_interval))
    return alpha0


def not_learning(costs: list[float], num_classes: int, epochs: int = DEAD_EPOCHS) -> str | None:
    """The warning for a network that is not learning, or None: the cost has sat at ln(C),
    a uniform guess, for `epochs` epochs in a row at some point of `costs`. A run and a
    population member are judged alike by this, so a trial fails or passes alike in either."""
    target, run = math.log(num_classes), 0
    for cost in costs:
        run = run + 1 if abs(cost - target) < 0.005 else 0
        if run == epochs:
            return (f"the cost has stayed at ln({num_classes}) = {target:.3f} for {epochs} epochs: the "
                    "network is not learning (learning rate too small or too large, or dead ReLUs "
                    "from the initialization)")
    return None


def diverged(cost: float, epoch: int) -> str:
    """What a run whose cost became NaN or infinite at `epoch` is told."""
    return f"cost became {cost} at epoch {epoch}; lower the learning rate"

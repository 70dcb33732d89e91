"""An exported reader, run: `python read.py PHOTO...` in a folder `python -m tfsigns.export` wrote.

It reads the folder's reader.json (the input contract), checks each model file against its SHA-256,
reads every photo, then prints one JSON line per photo, as `python -m tfsigns.predict --json` does:
{"image", "class" (or null), "sign" (its name, or null), "probabilities" (or null)}, "unknown" (the unknown
sign's probability) for a reader that has one, and, for a landmark reader, "hand". A photo that
cannot be read, or a folder whose files are not the ones reader.json names, is one line on stderr and
exit code 2. NumPy, Pillow and a TensorFlow Lite interpreter; tfsigns runs this same code (as_json).

What an app does per camera frame, as `SignReader.read` does it:
- landmark reader: the frame upright in RGB -> palm -> rotated crop -> landmarks -> 42 features
  (hands.read_hand, hands.features) -> classifier; no hand: no answer; the unknown sign's output highest:
  "a sign I don't know" (Signs.read);
- pixel reader: the photo's centre square at 64x64, / 255 (photos.load_image) -> framed when
  reader.json says so (framing) -> classifier.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .framing import FRAMINGS, frame_columns
from .hands import LANDMARK_SIZE, N_FEATURES, VERSION, HandModel, features, interpreter, read_hand
from .palm import PALM_SIZE
from .photos import ImageError, load_frame, load_image

FORMAT = "tfsigns-reader/2"  # reader.json's "format": changes whenever a field's meaning would


class ContractError(ValueError):
    """A reader folder whose reader.json is missing or unusable, or whose files are not those it names."""


@dataclass(frozen=True)
class Signs:
    """What a reader's outputs mean: the names of its signs, in output order, and the output that means
    "a sign I don't know" (after the signs), where the reader has one (None: it names a sign for any hand),
    with the probability of it from which the reader answers so."""

    names: tuple[str, ...]
    unknown: int | None = None
    threshold: float = 0.5

    @classmethod
    def of(cls, record: dict) -> Signs:
        """The signs a metrics.json or reader.json records: "signs" (else 0 ... classes - 1, as runs from
        before names were kept) and "unknown": {"output": C, "threshold": t}; ValueError when they do not
        fit together."""
        unknown = record.get("unknown")
        output = unknown.get("output") if isinstance(unknown, dict) else None
        threshold = unknown.get("threshold", 0.5) if isinstance(unknown, dict) else 0.5
        if not (_number(threshold) and 0 < threshold <= 1):
            raise ValueError(f"its unknown threshold must lie in (0, 1], got {threshold!r}")
        names = record.get("signs")
        if names is None:
            names = [str(c) for c in range(int(record.get("classes", 6)) - (output is not None))]
        if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)
                and len(set(names)) == len(names)):
            raise ValueError("its signs must be distinct non-empty names")
        if output is not None and output != len(names):
            raise ValueError(f"its unknown output must follow its {len(names)} signs")
        return cls(tuple(names), output, float(threshold))

    @property
    def outputs(self) -> int:
        """The classifier's outputs: a probability per sign, and the unknown sign's where there is one."""
        return len(self.names) + (self.unknown is not None)

    def read(self, probabilities: np.ndarray) -> int | None:
        """The sign read from the outputs' probabilities (outputs,): None (the unknown sign) where the unknown
        output is at least the threshold, else the index of the most probable sign."""
        if self.unknown is not None and probabilities[self.unknown] >= self.threshold:
            return None
        return int(np.argmax(probabilities[:len(self.names)]))

    def as_json(self, image: str, probabilities: np.ndarray, landmarks: bool = False) -> dict:
        """What one photo is printed as (predict --json, the live page's POST /predict, read.py): its name,
        the class read and its sign, and the signs' probabilities ("unknown": the unknown sign's, where the
        reader has one). A landmark reader adds whether it saw a hand: none (NaN probabilities) is "hand":
        false, and a hand that shows none of its signs "class" and "sign" null with "hand": true."""
        if landmarks and np.isnan(probabilities).any():
            return {"image": image, "class": None, "sign": None, "hand": False, "probabilities": None}
        read = self.read(probabilities)
        answer = {"image": image, "class": read, "sign": None if read is None else self.names[read],
                  "probabilities": [float(p) for p in probabilities[:len(self.names)]]}
        if self.unknown is not None:
            answer["unknown"] = float(probabilities[self.unknown])
        return {**answer, "hand": True} if landmarks else answer

    def line(self, image: str, probabilities: np.ndarray) -> str:
        """One photo's answer as a line for people (predict without --json)."""
        if np.isnan(probabilities).any():
            return f"{image}: no hand found (the hand model sees none clearly enough to read a sign)"
        shown = "  ".join(f"{name}:{p:.3f}" for name, p in zip(self.names, probabilities, strict=False))
        if self.unknown is not None:
            shown += f"  unknown:{probabilities[self.unknown]:.3f}"
        read = self.read(probabilities)
        if read is None:
            return (f"{image}: a hand, but not a sign this reader knows (it knows {', '.join(self.names)})"
                    f"   [{shown}]")
        return f"{image}: {self.names[read]} (p = {probabilities[read]:.3f})   [{shown}]"


def load_contract(folder: Path) -> dict:
    """The folder's reader.json, its format, features and fields checked, and every model file it names
    checked against its SHA-256; ContractError otherwise."""
    try:
        contract = json.loads((folder / "reader.json").read_text())
        found = contract.get("format") if isinstance(contract, dict) else None
    except (OSError, ValueError) as err:
        raise ContractError(f"{folder}: no usable reader.json ({err!r})") from None
    if found != FORMAT:
        raise ContractError(f"{folder}/reader.json: format {found!r}; this read.py reads {FORMAT!r}")
    try:
        kind, classifier = contract["input"]["kind"], contract["classifier"]
        files = {classifier["file"]: classifier["sha256"], **contract["hand_models"]}
        if kind == "landmarks":
            shape, used = [1, N_FEATURES], list(contract["input"]["hand_model_files"])
            threshold = contract["input"]["presence_threshold"]
            if not (_number(threshold) and 0 <= threshold <= 1) or len(set(map(str, used))) != 2:
                raise ValueError("its hand_model_files must be two, its presence_threshold within [0, 1]")
        else:
            size, used = contract["input"]["size"], []
            if not (_number(size) and size == int(size) >= 1) or contract["input"]["framing"] not in FRAMINGS:
                raise ValueError(f"its size must be a whole number, its framing one of {FRAMINGS}")
            contract["input"]["size"] = size = int(size)
            shape = [1, size, size, 3]
        shapes = [classifier["input"]["shape"], classifier["output"]["shape"]]
        if shapes != [shape, [1, Signs.of(contract).outputs]]:
            raise ValueError(f"its classifier's shapes are not a {kind} reader's of its signs")
        if not all(isinstance(name, str) for name in [*files.values(), *files, *used]):
            raise TypeError("a file name or SHA-256 that is not a string")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ContractError(f"{folder}: no usable reader.json ({err!r})") from None
    if kind == "landmarks" and contract["input"].get("features") != VERSION:
        raise ContractError(f"{folder}/reader.json: features {contract['input'].get('features')!r}; this "
                            f"read.py computes {VERSION!r}")
    for name, expected in files.items():
        path = folder / name
        if Path(name).name != name or not path.is_file():
            raise ContractError(f"{path}: model file not found")
        if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise ContractError(f"{path}: not the file reader.json names (SHA-256 differs)")
    if not set(used) <= set(contract["hand_models"]):
        raise ContractError(f"{folder}/reader.json: its hand_model_files are not among its hand_models")
    return contract


def _number(value) -> bool:
    """Whether a JSON value is a finite number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


class SignReader:
    """An exported reader loaded from its folder: the classifier and, for a landmark reader, the hand
    model; not shared between threads (an interpreter is one thread's). ContractError when the folder's
    files are not those its reader.json names, or its models do not take the inputs it says."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.contract = load_contract(self.folder)
        self.input = self.contract["input"]
        self.landmarks = self.input["kind"] == "landmarks"
        self.signs = Signs.of(self.contract)
        classifier = self.contract["classifier"]
        try:
            self.classifier = interpreter(self.folder / classifier["file"])
            models = {"classifier": (self.classifier, classifier["input"]["shape"])}
            if self.landmarks:
                palm, landmark = (self.folder / name for name in self.input["hand_model_files"])
                self.hands = HandModel(palm, landmark, self.input["presence_threshold"])
                models["palm model"] = (self.hands.palm_model, [1, PALM_SIZE, PALM_SIZE, 3])
                models["landmark model"] = (self.hands.landmark_model, [1, LANDMARK_SIZE, LANDMARK_SIZE, 3])
        except (ValueError, RuntimeError) as err:  # a file reader.json's SHA-256 vouches for, yet unloadable
            raise ContractError(f"{self.folder}: a model file is no TensorFlow Lite model ({err})") from None
        for role, (model, shape) in models.items():
            if list(model.get_input_details()[0]["shape"]) != shape:
                raise ContractError(f"{self.folder}: its {role} does not take {shape}, as reader.json says")

    def photo(self, path: str) -> np.ndarray:
        """A photo file as this reader takes it: a uint8 frame (h, w, 3) for a landmark reader, the
        (h*w*3,) float32 column in [0, 1] for a pixel reader; ImageError when it cannot be read."""
        return load_frame(path) if self.landmarks else load_image(path, self.input["size"])

    def read(self, photo: np.ndarray) -> np.ndarray:
        """The classifier's probabilities (outputs,) float32 of a photo as `photo` gives it (the signs', then
        the unknown sign's where the reader has one); NaN where a landmark reader sees no hand."""
        x = self.example(photo)
        return np.full(self.signs.outputs, np.nan, np.float32) if x is None else self.classify(x[None])[0]

    def example(self, photo: np.ndarray) -> np.ndarray | None:
        """What the classifier takes of a photo as `photo` gives it: a hand's 42 features, or the
        (size, size, 3) pixels, framed when reader.json says so; None where a landmark reader sees no hand."""
        if self.landmarks:
            hand = read_hand(self.hands, photo)
            return None if hand is None else features(hand)
        size = self.input["size"]
        x = frame_columns(photo[:, None], (size, size, 3))[:, 0] if self.input["framing"] == "hand" else photo
        return x.reshape(size, size, 3)

    def classify(self, X: np.ndarray) -> np.ndarray:
        """The classifier on one example, X (1, *input shape) float32: probabilities (1, C)."""
        model = self.classifier
        model.set_tensor(model.get_input_details()[0]["index"], np.asarray(X, np.float32))
        model.invoke()
        return model.get_tensor(model.get_output_details()[0]["index"]).copy()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """A usage error as one line and exit code 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None, folder: Path | None = None) -> int:
    """Read each photo with the reader in `folder` (by default the one this file was copied into)."""
    parser = _Parser(prog="read.py", description="Read the hand sign in photos with this exported reader.")
    parser.add_argument("photos", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--reader", type=Path, default=folder or Path(__file__).resolve().parents[1],
                        help="the exported folder (default: the one read.py is in)")
    args = parser.parse_args(argv)
    try:
        reader = SignReader(args.reader)
        photos = [reader.photo(path) for path in args.photos]  # every photo read before any answer
    except (ContractError, ImageError) as err:
        print(f"read.py: error: {err}", file=sys.stderr)
        return 2
    for path, photo in zip(args.photos, photos, strict=True):
        print(json.dumps(reader.signs.as_json(path, reader.read(photo), reader.landmarks)), flush=True)
    return 0

"""An exported reader (python -m tfsigns.export) against the run it came from: read.py's milliseconds per
frame beside tfsigns' own reading of the same frames, and what a quantized classifier saves and costs.

    python -m bench.export --model runs/reader [--photos ../shared/data/otherhands] [--frames 60] [--rounds 3]

1. Time per frame, on 640x480 scenes with a SIGNS test hand pasted in (bench.hand_speed's frames): read.py's
   SignReader.read (hand model and classifier through TensorFlow Lite) and tfsigns' Reader.read (the same
   hand model, the classifier in a TensorFlow session), taking turns in this process; medians and ratio.
   Also `python read.py PHOTO` from start to exit (imports, checks, models loaded), median of 3.
2. Quantization: the run exported as float32, float16 and dynamic range (int8 weights); each classifier's
   size, and its accuracy on the SIGNS test photos and on --photos (a folder per sign), a photo without a
   hand counted wrong; the hand features are computed once and fed to each classifier.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.hand_speed import frames_for
from tfsigns.images.signs import load_dataset
from tfsigns.portable.photos import load_frame, load_image, sign_folder_files, square_column
from tfsigns.portable.read import SignReader
from tfsigns.reader.export import QUANTIZATIONS, export
from tfsigns.training.inference import Reader


def per_frame_ms(read, frames: list[np.ndarray]) -> list[float]:
    """ms of each frame read by `read` (one frame a call)."""
    times = []
    for frame in frames:
        started = time.perf_counter()
        read(frame)
        times.append(1000 * (time.perf_counter() - started))
    return times


def accuracy(reader: SignReader, examples: list[np.ndarray | None], labels: np.ndarray) -> float:
    """Share of examples (None: no hand, wrong) the reader's classifier gives their label."""
    read = [-1 if x is None else int(reader.classify(x[None])[0].argmax()) for x in examples]
    return float(np.mean(np.array(read) == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a finished run (make reader: runs/reader)")
    parser.add_argument("--photos", help="other people's hands, a folder per sign (0 ... 5)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    for quantize in QUANTIZATIONS:
        export(args.model, work / quantize, quantize)
    readers = {q: SignReader(work / q) for q in QUANTIZATIONS}
    exported, session = readers["none"], Reader(args.model)

    frames = frames_for(args.frames, args.data_dir)["hands"]
    own = (lambda frame: exported.read(frame)) if exported.landmarks else (
        lambda frame: exported.read(square_column(frame)))
    contenders = {"read.py (TensorFlow Lite classifier)": own,
                  "tfsigns Reader.read (session classifier)": lambda frame: session.read([frame])}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, read in contenders.items():
            times[name] += per_frame_ms(read, frames)
    first = statistics.median(times[next(iter(times))])
    print(f"ms per 640x480 frame with a hand, median of {args.frames} frames x {args.rounds} rounds")
    for name, values in times.items():
        median, p90 = statistics.median(values), np.percentile(values, 90)
        print(f"  {name:42s} {median:6.1f} ms  ({median / first:.2f}x)  p90 {p90:6.1f} ms")
    photo = work / "photo.png"
    Image.fromarray(frames[0]).save(photo)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, str(work / "none" / "read.py"), str(photo)], check=True,
                       capture_output=True)
        runs.append(time.perf_counter() - started)
    print(f"  python read.py PHOTO, start to exit: {statistics.median(runs):.2f} s (median of 3)")

    test_x, test_y = load_dataset(args.data_dir)[2:4]
    sets = {"SIGNS test": ([exported.example(x if exported.landmarks else square_column(x)) for x in test_x],
                           np.asarray(test_y).reshape(-1))}
    if args.photos:
        files = sign_folder_files(args.photos)
        paths = [path for group in files for path in group]
        load = load_frame if exported.landmarks else load_image
        sets["other hands"] = ([exported.example(load(path)) for path in paths],
                               np.array([sign for sign, group in enumerate(files) for _ in group]))
    print("\nclassifier   size       " + "  ".join(f"{name:>12s}" for name in sets))
    for quantize, reader in readers.items():
        size = (work / quantize / "classifier.tflite").stat().st_size
        scores = "  ".join(f"{accuracy(reader, *data):12.4f}" for data in sets.values())
        print(f"{quantize:10s} {size / 1e3:8.1f} kB  {scores}")
    session.close()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""The landmark reader's time per camera frame: the hand model (palm detector, crop, landmark model) and the
classifier, on cluttered 640x480 scenes with a hand pasted in (tfsigns.images.scenes) and on empty ones,
side by side for MediaPipe's full and lite models, with and without tracking, and with TensorFlow Lite
from ai-edge-litert (what tfsigns uses) and from TensorFlow (tf.lite).

    python -m bench.hand_speed --model runs/reader [--frames 60] [--rounds 3]

Each contender reads the same frames once per round, the rounds taking turns in this process so that the
machine's drift falls on all alike. Prints each one's median ms per frame over its frames and rounds, and
its ratio to the first (tfsigns' own way: full models through ai-edge-litert, a photo's search, the
classifier).
The classifier is the run's session (tfsigns.training.inference.Reader.read), one frame a call, as the live
page reads.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tfsigns.hands import model as hand_model
from tfsigns.images.scenes import paste, scene
from tfsigns.images.signs import load_dataset
from tfsigns.portable import hands as pipeline
from tfsigns.training.inference import Reader


def frames_for(count: int, data_dir: str | None) -> dict[str, list[np.ndarray]]:
    """`count` frames each of: scenes with a SIGNS test photo pasted in (a different scene and hand each),
    one scene with a hand moving across it (a video's frames), and empty scenes."""
    photos = load_dataset(data_dir)[2]
    return {"hands": [paste(photos[k % len(photos)], k)[0] for k in range(count)],
            "moving": [paste(photos[0], 7, at=(t, 0.2 + 0.6 * t))[0] for t in np.linspace(0, 1, count)],
            "empty": [scene(10_000 + k) for k in range(count)]}


def per_frame_ms(reader: Reader, models: hand_model.HandModel, frames: list[np.ndarray], track: bool
                 ) -> list[float]:
    """ms of each frame read by the run through `models` (tracked from frame to frame with `track`): the
    hand found and its features classified, as the live page reads a frame."""
    reader.hands, models.previous = models, None
    times = []
    for frame in frames:
        started = time.perf_counter()
        reader.read([frame], track)
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a finished landmarks run (make reader: runs/reader)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    reader = Reader(args.model)
    frames = frames_for(args.frames, args.data_dir)
    full, lite = hand_model.HandModel("full"), hand_model.HandModel("lite")
    litert = pipeline.interpreter
    contenders = {
        "a hand in a new scene each frame": (full, frames["hands"], False),
        "lite models": (lite, frames["hands"], False),
        "empty scenes (no hand)": (full, frames["empty"], False),
        "a hand moving: searched each frame": (full, frames["moving"], False),
        "a hand moving: tracked (the page)": (full, frames["moving"], True),
    }
    try:
        import warnings

        import tensorflow as tf
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        pipeline.interpreter = lambda path, threads=1: _tf_interpreter(tf, path, threads)
        contenders["TensorFlow's tf.lite instead"] = (hand_model.HandModel("full"), frames["hands"], False)
    finally:
        pipeline.interpreter = litert
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, (models, frames, track) in contenders.items():
            times[name] += per_frame_ms(reader, models, frames, track)
    first = statistics.median(times[next(iter(times))])
    print(f"ms per 640x480 frame, median of {args.frames} frames x {args.rounds} rounds")
    for name, values in times.items():
        median = statistics.median(values)
        p90 = np.percentile(values, 90)
        print(f"{name:34s} {median:6.1f} ms  ({median / first:.2f}x)  p90 {p90:6.1f} ms")
    reader.close()


def _tf_interpreter(tf, path, threads: int):
    """TensorFlow's own TensorFlow Lite interpreter of a model file, its tensors allocated."""
    model = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
    model.allocate_tensors()
    return model


if __name__ == "__main__":
    main()

"""Matplotlib figures, rendered off-screen (Agg) and written atomically as PNG."""

from __future__ import annotations

import io
import json
import math
import os
import sys
from pathlib import Path

import matplotlib
import numpy as np

if "MPLBACKEND" not in os.environ:  # off-screen, unless e.g. a Jupyter kernel chose inline
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output  # noqa: E402
from tfsigns.utils.files import atomic_write_bytes  # noqa: E402

COST_LABEL = "cost (mean softmax cross-entropy)"


def save_figure(fig, path: str | os.PathLike) -> None:
    """Render `fig` to PNG bytes, write them atomically, and close the figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _draw_costs(ax, curves: dict[str, list[float]], legend: bool) -> None:
    """Each named cost-per-epoch curve on `ax`, against its own epochs."""
    for label, costs in curves.items():
        ax.plot(range(len(costs)), costs, label=label)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend()


def plot_costs(curves: dict[str, list[float]], path: str | os.PathLike, title: str = "") -> None:
    """Learning curves: cost per epoch for each named run, on one axis."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _draw_costs(ax, curves, legend=len(curves) > 1)
    ax.set_ylabel(COST_LABEL)
    ax.set_title(title)
    save_figure(fig, path)


def plot_cost_panels(panels: dict[str, dict[str, list[float]]], path: str | os.PathLike,
                     title: str = "") -> None:
    """Learning curves of runs whose epochs are not comparable, one panel each, side by side on
    a shared cost axis: `panels` maps a panel's title to its curves (label -> cost per epoch);
    each panel's x axis counts its own runs' epochs."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=True, squeeze=False)
    for ax, (panel, curves) in zip(axes.flat, panels.items(), strict=True):
        _draw_costs(ax, curves, legend=True)
        ax.set_title(panel, fontsize=10)
    axes[0, 0].set_ylabel(COST_LABEL)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_filters(filters: np.ndarray, path: str | os.PathLike, image: np.ndarray | None = None,
                 feature_maps: np.ndarray | None = None) -> None:
    """A conv layer's filters (f, f, 3, n_C) as small RGB images, each stretched to [0, 1] on
    its own (the colours show each filter's pattern, not how strong it is against the others)
    and drawn pixel for pixel; with `image` (h, w, 3) and its `feature_maps` (h', w', n_C), a
    second row shows the image and each filter's map below that filter, each map in grey from
    0 (black) to its own maximum (white), which its title gives: a map that is 0 everywhere
    stays black."""
    n_C = filters.shape[-1]
    rows = 1 if feature_maps is None else 2
    fig, axes = plt.subplots(rows, n_C + 1, figsize=(1.5 * (n_C + 1), 1.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].text(0.5, 0.5, f"{filters.shape[0]}x{filters.shape[1]}x{filters.shape[2]}\nfilters",
                    ha="center", va="center", fontsize=9)
    for c in range(n_C):
        w = filters[..., c]
        span = w.max() - w.min()
        axes[0, c + 1].imshow((w - w.min()) / span if span > 0 else np.zeros_like(w), interpolation="nearest")
        axes[0, c + 1].set_title(f"filter {c + 1}", fontsize=9)
    if feature_maps is not None:
        if image is not None:
            axes[1, 0].imshow(image)
            axes[1, 0].set_title("input", fontsize=9)
        for c in range(n_C):
            top = float(feature_maps[..., c].max())
            axes[1, c + 1].imshow(feature_maps[..., c], cmap="gray", vmin=0, vmax=top or 1.0,
                                  interpolation="nearest")
            axes[1, c + 1].set_title(f"max {top:.2g}", fontsize=9)
    save_figure(fig, path)


def plot_samples(images: np.ndarray, labels: np.ndarray, path: str | os.PathLike,
                 predictions: np.ndarray | None = None, columns: int = 8) -> None:
    """A grid of images (m, 64, 64, 3) uint8 titled with their labels (and predictions)."""
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i])
            title = f"y = {labels[i]}"
            if predictions is not None:
                title += f", ŷ = {predictions[i]}"
            ax.set_title(title, fontsize=9, color="black" if predictions is None or
                         predictions[i] == labels[i] else "red")
    save_figure(fig, path)


def plot_confusion(labels: np.ndarray, predictions: np.ndarray, path: str | os.PathLike,
                   title: str = "test set") -> None:
    """Confusion matrix: row = true class, column = predicted class, counts in the cells."""
    C = int(max(labels.max(), predictions.max())) + 1
    counts = np.zeros((C, C), dtype=int)
    np.add.at(counts, (labels, predictions), 1)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > counts.max() / 2 else "black")
    ax.set_xticks(range(C))
    ax.set_yticks(range(C))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: accuracy {np.mean(labels == predictions):.3f}")
    save_figure(fig, path)


def plot_shift_accuracy(clean: float, accuracies: dict[str, list[tuple[str, float]]],
                        path: str | os.PathLike, title: str = "") -> None:
    """Accuracy under each shift (a group of bars, one per severity, mildest first, labelled)
    against the clean accuracy (a dashed line), for the robustness benchmark."""
    fig, ax = plt.subplots(figsize=(8, 0.3 * sum(len(levels) for levels in accuracies.values()) + 1.5))
    colours = plt.cm.Blues(np.linspace(0.4, 0.9, max(len(levels) for levels in accuracies.values())))
    y, ticks = 0.0, []
    for name, levels in accuracies.items():
        ticks.append((y + (len(levels) - 1) / 2, name))
        for k, (label, accuracy) in enumerate(levels):
            ax.barh(y, accuracy, color=colours[k], height=0.9)
            ax.text(accuracy + 0.01, y, f"{label}: {accuracy:.2f}", va="center", fontsize=7)
            y += 1
        y += 0.6
    ax.axvline(clean, color="black", linestyle="--", label=f"clean: {clean:.3f}")
    ax.set_yticks([t for t, _ in ticks], [name for _, name in ticks])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("test accuracy")
    ax.set_title(title)
    ax.legend(loc="lower right")
    save_figure(fig, path)


def plot_image_rows(rows: dict[str, list[tuple[str, np.ndarray]]], path: str | os.PathLike) -> None:
    """Rows of titled images (h, w, 3) uint8, each row labelled on its left: e.g. what each
    shift does to a few test images. They are laid into one white mosaic, drawn as one image
    (an axes per image took seconds to draw)."""
    h, w = next(iter(rows.values()))[0][1].shape[:2]
    columns = max(len(cells) for cells in rows.values())
    gap_x, gap_y = w // 8, h // 3  # room between images, and above each for its title
    mosaic = np.full((len(rows) * (h + gap_y), columns * (w + gap_x), 3), 255, np.uint8)
    fig, ax = plt.subplots(figsize=(1.3 * columns, 1.45 * len(rows)))
    for r, (name, cells) in enumerate(rows.items()):
        top = r * (h + gap_y) + gap_y
        ax.text(-w / 8, top + h / 2, name, ha="right", va="center", fontsize=9)
        for c, (title, image) in enumerate(cells):
            left = c * (w + gap_x)
            mosaic[top:top + h, left:left + w] = image
            ax.text(left + w / 2, top - 2, title, ha="center", va="bottom", fontsize=7)
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    save_figure(fig, path)


def plot_reading(image: np.ndarray, probabilities: np.ndarray, path: str | os.PathLike,
                 title: str = "") -> None:
    """What a model read in one photo: the image as the network sees it (h, w, 3), in [0, 1] or
    uint8, drawn pixel for pixel, beside its class probabilities (C,) as bars, the answer (the
    most probable class) in a darker colour and named in the title."""
    answer = int(np.argmax(probabilities))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2),
                                      gridspec_kw={"width_ratios": [1, 1.4], "wspace": 0.5})
    left.imshow(image, interpolation="nearest")
    left.set_title(f"as the network sees it: {image.shape[1]}x{image.shape[0]}", fontsize=9)
    left.axis("off")
    probability_bars(right, probabilities, answer)
    heading = f"answer {answer} (p = {probabilities[answer]:.3f})"
    fig.suptitle(f"{title}: {heading}" if title else heading, fontsize=10)
    save_figure(fig, path)


def probability_bars(ax, probabilities: np.ndarray, answer: int, names: list[str] | None = None) -> None:
    """The outputs' probabilities as horizontal bars, named (by default "c fingers"), the answer's in a
    stronger colour, each with its value."""
    classes = np.arange(len(probabilities))
    ax.barh(classes, probabilities, color=["tab:blue" if c == answer else "lightsteelblue" for c in classes])
    for c, p in zip(classes, probabilities, strict=True):
        ax.text(p + 0.01, c, f"{p:.3f}", va="center", fontsize=8)
    ax.set_yticks(classes, names or [f"{c} finger{'s' if c != 1 else ''}" for c in classes])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel("probability")


# MediaPipe's hand topology (its HAND_CONNECTIONS): the bones between the 21 landmarks, 0 the wrist, then four
# points up each finger from its base, 1-4 the thumb, 5-8 the index, 9-12 the middle, 13-16 the ring and
# 17-20 the little finger
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
              (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (17, 18), (18, 19), (19, 20),
              (0, 17))


def draw_hand(ax, image: np.ndarray, landmarks: np.ndarray | None, title: str = "") -> None:
    """A photo (h, w, 3) on `ax` with a hand's landmarks (21, 2 or 3; x and y in the photo's pixels,
    0 at its top-left edge, as tfsigns.hands gives them) drawn over it: the bones as lines, the points
    as dots, the wrist larger; "no hand" in the title where `landmarks` is None."""
    h, w = image.shape[:2]
    ax.imshow(image, extent=(0, w, h, 0), interpolation="nearest")
    if landmarks is not None:
        x, y = landmarks[:, 0], landmarks[:, 1]
        for a, b in HAND_BONES:
            ax.plot([x[a], x[b]], [y[a], y[b]], color="white", linewidth=1.2, alpha=0.9)
        ax.scatter(x, y, s=9, color="tab:red", zorder=3)
        ax.scatter(x[:1], y[:1], s=30, color="tab:red", edgecolor="white", zorder=3)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.axis("off")
    ax.set_title(title if landmarks is not None else f"{title}: no hand" if title else "no hand", fontsize=9)


def plot_landmarks(images: list[np.ndarray], landmarks: list[np.ndarray | None], titles: list[str],
                   path: str | os.PathLike, columns: int = 6) -> None:
    """A grid of photos (h, w, 3), each of its own size, with the hand's landmarks drawn over it
    (draw_hand; None: no hand)."""
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 2.3 * rows), squeeze=False)
    for ax in axes.flat[len(images):]:
        ax.axis("off")
    for ax, image, points, title in zip(axes.flat, images, landmarks, titles, strict=False):
        draw_hand(ax, image, points, title)
    save_figure(fig, path)


def plot_confusion_counts(panels: dict[str, np.ndarray], path: str | os.PathLike, title: str = "") -> None:
    """Confusion matrices given as counts, side by side, each titled by its key: rows the true class,
    columns the answer; a matrix with one column more than rows has its last column labelled "no hand"
    (a landmark reader's answer where it sees none), one with two more "unknown" (a sign it does not
    know) and "no hand"."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (name, counts) in zip(axes.flat, panels.items(), strict=True):
        counts = np.asarray(counts)
        C, columns = counts.shape
        ax.imshow(counts, cmap="Blues")
        for (i, j), n in np.ndenumerate(counts):
            colour = "white" if n > counts.max() / 2 else "black"
            ax.text(j, i, str(n), ha="center", va="center", color=colour)
        extra = ["un-\nknown", "no\nhand"][2 - (columns - C):]  # the answers that are not a sign
        ax.set_xticks(range(columns), [str(c) for c in range(C)] + extra)
        ax.set_yticks(range(C))
        ax.set_xlabel("answer")
        ax.set_ylabel("true sign")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_hand_reading(image: np.ndarray, landmarks: np.ndarray | None, probabilities: np.ndarray,
                      path: str | os.PathLike, title: str = "", names: list[str] | None = None) -> None:
    """What a landmark reader read in one photo (h, w, 3) at its own size: the photo with the hand's
    landmarks drawn (draw_hand) beside its outputs' probabilities as bars (named by `names`: the signs,
    then "unknown" where it has that output), the answer in a darker colour and named in the title; where
    it saw no hand (landmarks None), the photo alone and the answer "no hand", never a class."""
    if landmarks is None:
        fig, left = plt.subplots(figsize=(4, 3.4))
        draw_hand(left, image, None, f"the photo, {image.shape[1]}x{image.shape[0]}")
        fig.suptitle(f"{title}: answer no hand" if title else "answer no hand", fontsize=10)
        save_figure(fig, path)
        return
    answer = int(np.argmax(probabilities))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.4),
                                      gridspec_kw={"width_ratios": [1, 1.3], "wspace": 0.45})
    draw_hand(left, image, landmarks, f"the photo, {image.shape[1]}x{image.shape[0]}")
    probability_bars(right, probabilities, answer, names)
    heading = f"answer {names[answer] if names else answer} (p = {probabilities[answer]:.3f})"
    fig.suptitle(f"{title}: {heading}" if title else heading, fontsize=10)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    """`python -m tfsigns.utils.plots RUN_DIR... --out curves.png`: learning curves of runs side by side."""
    line_buffered_output()
    parser = Parser(prog="tfsigns.utils.plots", description=main.__doc__, formatter_class=HelpFormatter)
    parser.add_argument("runs", nargs="+", help="folders written by python -m tfsigns.train --out")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    curves = {}
    for run in args.runs:
        try:
            metrics = json.loads((Path(run) / "metrics.json").read_text())
            test = metrics["test_accuracy"]
            label = (f"{Path(run).name}: train {metrics['train_accuracy']:.3f}, "
                     + ("test held out" if test is None else f"test {test:.3f}"))
            curves[label] = metrics["costs"]
        except (OSError, ValueError, KeyError) as err:
            print(f"tfsigns.utils.plots: error: {run}: no readable metrics.json ({err})", file=sys.stderr)
            return 2
    try:
        plot_costs(curves, args.out, title="cost per epoch")
    except OSError as err:
        print(f"tfsigns.utils.plots: error: --out {args.out}: cannot write ({err.strerror or err})",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

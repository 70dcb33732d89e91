"""A graded class at a glance, from every submission's record in DIR: grades.csv (one row a submission, with
the instructor's notes), problems.txt, class.png (the share passing each exercise), summary.txt (submissions
with identical code, blank ones, and the most common typical mistakes of each exercise) and mistakes.png
(those mistakes as bars)."""

from __future__ import annotations

import collections
import csv
import io
from pathlib import Path

from tfsigns.grading.reports import (
    NOTE_LIMIT,
    Graded,
    capped,
    count,
    csv_cell,
    max_score,
    printable,
)
from tfsigns.utils.files import atomic_write_bytes

NOT_MISTAKES = ("blank", "not defined")  # what the summary counts apart from the mistakes
MOST = 3  # mistakes listed per exercise


def write_summary(out: Path, class_results: list[Graded], points: dict[str, float]) -> None:
    """grades.csv (with the instructor's notes), problems.txt, class.png, summary.txt and mistakes.png, from
    the class's records."""
    columns = list(dict.fromkeys(key for graded in class_results for key in graded.exercises))
    labels = [name for _, name in columns]
    if len(set(labels)) < len(labels):  # exercises of two assignments share a name: say whose
        labels = [f"{assignment}.{name}" for assignment, name in columns]
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["submission", "score", "max_score", *labels, "note"])
    problems = []
    for graded in class_results:
        scores = {key: points[key[1]] * graded.exercises[key][0] if key in graded.exercises else ""
                  for key in columns}
        note = graded.problem and f"not graded: {graded.problem}" or "; ".join(graded.notes)
        score = sum(s for s in scores.values() if s != "")
        writer.writerow([csv_cell(graded.submission), f"{score:g}", f"{max_score(graded, points):g}",
                         *(s if s == "" else f"{s:g}" for s in scores.values()),
                         csv_cell(capped(note, NOTE_LIMIT))])
        if note:
            problems.append(printable(f"{graded.submission}: {note}"))
    atomic_write_bytes(out / "grades.csv", table.getvalue().encode())
    atomic_write_bytes(out / "problems.txt", "".join(f"{line}\n" for line in problems).encode())
    plot_class(class_results, columns, labels, out / "class.png")
    mistakes = common_mistakes(class_results, columns)
    atomic_write_bytes(out / "summary.txt", "".join(f"{printable(line)}\n" for line in summary_lines(
        class_results, mistakes, dict(zip(columns, labels, strict=True)))).encode())
    plot_mistakes(mistakes, dict(zip(columns, labels, strict=True)), out / "mistakes.png")


def blank(graded: Graded) -> bool:
    """Whether a graded submission filled in no exercise: every one returned None or is not defined."""
    return bool(graded.exercises) and not graded.problem and all(
        not passed and set(graded.named.get(key, ())) & set(NOT_MISTAKES)
        for key, (passed, _) in graded.exercises.items())


def identical(class_results: list[Graded]) -> list[list[str]]:
    """The groups of two or more graded submissions whose code cells are the same, blank ones left out."""
    groups = collections.defaultdict(list)
    for graded in class_results:
        if graded.code and not graded.problem and not blank(graded):
            groups[graded.code].append(graded.submission)
    return [names for names in groups.values() if len(names) > 1]


def common_mistakes(class_results: list[Graded], columns: list[tuple[str, str]]
                    ) -> dict[tuple[str, str], collections.Counter]:
    """For each exercise, how many submissions each typical mistake was named in."""
    counted = {key: collections.Counter() for key in columns}
    for graded in class_results:
        for key, named in graded.named.items():
            counted.setdefault(key, collections.Counter()).update(
                what for what in dict.fromkeys(named) if what not in NOT_MISTAKES)
    return counted


def summary_lines(class_results: list[Graded], mistakes: dict, labels: dict) -> list[str]:
    """summary.txt: how many were graded, identical code, blank submissions, and each exercise's most common
    mistakes with the number of submissions that made them."""
    graded = [g for g in class_results if not g.problem]
    lines = [f"{count(len(class_results), 'submission')}: {len(graded)} graded"
             + (f", {len(class_results) - len(graded)} not" if len(graded) < len(class_results) else "")]
    lines += [f"identical code: {', '.join(names)}" for names in identical(class_results)]
    if blanks := [g.submission for g in graded if blank(g)]:
        lines.append(f"blank (no exercise filled in): {', '.join(blanks)}")
    lines.append("the most common mistakes the grader named, by exercise (submissions that made each):")
    for key, counter in mistakes.items():
        if counter:
            failed = sum(not g.exercises.get(key, (True,))[0] for g in graded if key in g.exercises)
            lines.append(f"  {labels[key]} ({failed} of {len(graded)} fail): " + "; ".join(
                f"{what} ({n})" for what, n in counter.most_common(MOST)))
    if not any(mistakes.values()):
        lines.append("  none")
    return lines


def plot_class(class_results: list[Graded], columns: list[tuple[str, str]], labels: list[str],
               path: Path) -> None:
    """The share of graded submissions that passed each exercise, as bars."""
    from tfsigns.utils.plots import plt, save_figure
    graded = [g for g in class_results if not g.problem]
    shares = [sum(g.exercises.get(key, (False,))[0] for g in graded) / max(1, len(graded)) for key in columns]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(columns) + 2), 4))
    ax.bar(range(len(columns)), shares, color="tab:blue")
    ax.set_xticks(range(len(columns)), labels, rotation=40, ha="right", fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="share of the class that passed",
           title=f"{count(len(graded), 'submission')} graded" + (f", {len(class_results) - len(graded)} not"
                                                                 if len(graded) < len(class_results) else ""))
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def plot_mistakes(mistakes: dict, labels: dict, path: Path, most: int = 15) -> None:
    """The class's `most` most common named mistakes, each with its exercise, as bars of how many
    submissions made it."""
    from tfsigns.utils.plots import plt, save_figure
    ranked = sorted(((n, f"{labels[key]}: {what}") for key, counter in mistakes.items()
                     for what, n in counter.items()), key=lambda pair: -pair[0])[:most]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.35 * max(1, len(ranked))))
    if ranked:
        ax.barh(range(len(ranked)), [n for n, _ in ranked], color="tab:red")
        ax.set_yticks(range(len(ranked)), [capped(printable(what), 90) for _, what in ranked], fontsize=7)
        ax.invert_yaxis()
        ax.set(xlabel="submissions that made it")
    else:
        ax.text(0.5, 0.5, "no typical mistake named", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("the most common mistakes the grader named")
    save_figure(fig, path)

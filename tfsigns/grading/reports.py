"""A graded class's reports: each submission's outcome (Graded), its name in them (its path from the folder
all the submissions are in), the points of each exercise, grades.csv, a Gradescope results.json per
submission under DIR/submissions/, and class.png."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tfsigns.utils.files import atomic_write_bytes, write_json


@dataclass
class Graded:
    """One submission's outcome: each exercise's (passed, output), or why it could not be graded; notes
    for the instructor, and of them those the student sees too (what its cells raised)."""

    submission: str
    exercises: dict[tuple[str, str], tuple[bool, str]] = field(default_factory=dict)
    problem: str = ""
    notes: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    seconds: float = 0.0
    possible: list[str] = field(default_factory=list)  # the exercises it is (or would be) graded on

    def record(self) -> dict:
        return {"submission": self.submission, "problem": self.problem, "notes": self.notes,
                "shown": self.shown, "seconds": self.seconds, "possible": self.possible,
                "exercises": [[*key, *outcome] for key, outcome in self.exercises.items()]}

    @classmethod
    def from_record(cls, data: dict) -> Graded:
        exercises = {(a, name): (passed, output) for a, name, passed, output in data["exercises"]}
        return cls(data["submission"], exercises, data["problem"], data["notes"], data["shown"],
                   data["seconds"], data["possible"])


RECORD = "grading.json"  # beside each results.json: the instructor's record of it, which --resume reads


def submission_names(paths: Sequence[Path]) -> list[str]:
    """Each submission's name in the reports: its path relative to the folder all of them are in
    (alice/Exercises.ipynb), unique (a second mention of one file gets " (2)")."""
    resolved = [path.resolve() for path in paths]
    common = Path(os.path.commonpath([path.parent for path in resolved]))
    names, seen = [], set()
    for path in resolved:
        name = path.relative_to(common).as_posix()
        name = next(f"{name} ({n})" if n > 1 else name for n in range(1, len(paths) + 2)
                    if (f"{name} ({n})" if n > 1 else name) not in seen)
        seen.add(name)
        names.append(name)
    return names


def read_points(path: str | None, rubric: dict[str, float]) -> dict[str, float]:
    """Points per exercise: the rubric's, with a JSON object of {exercise: points} over them."""
    if path is None:
        return rubric
    try:
        given = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--points {path}: not a readable JSON file ({err})") from None
    if not isinstance(given, dict):
        raise ValueError(f"--points {path}: must be a JSON object of exercise names and points")
    for name, points in given.items():
        if name not in rubric:
            raise ValueError(f"--points {path}: {name!r} is not an exercise; the exercises are "
                             f"{', '.join(rubric)}")
        if isinstance(points, bool) or not isinstance(points, int | float) or not 0 <= points < 1e6:
            raise ValueError(f"--points {path}: {name}: points must be a number from 0, got {points!r}")
    return {**rubric, **{name: float(points) for name, points in given.items()}}


NOTE_LIMIT, OUTPUT_LIMIT = 2000, 4000  # characters of a row's note and of an exercise's output


def capped(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters where it is longer (a submission's errors are its own to size)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def write_submission(out: Path, graded: Graded, points: dict[str, float], isolation: str) -> None:
    """A finished submission's two files, each written atomically: results.json, what its student sees
    (Gradescope's format), and the instructor's record (RECORD)."""
    tests = [{"name": name, "score": points[name] * passed, "max_score": points[name],
              "status": "passed" if passed else "failed", "visibility": "visible",
              "output": capped(output + ("\n(optional: worth no points in this class)" if not points[name]
                                         else ""), OUTPUT_LIMIT)}
             for (_, name), (passed, output) in graded.exercises.items()]
    shown = graded.problem and f"not graded: {graded.problem}" or "; ".join(graded.shown)
    report = report_folder(out, graded.submission)
    report.mkdir(parents=True, exist_ok=True)
    write_json(report / "results.json", {
        "score": sum(test["score"] for test in tests), "max_score": max_score(graded, points),
        "output": capped(shown, NOTE_LIMIT), "visibility": "visible", "stdout_visibility": "hidden",
        "tests": tests})
    write_json(report / RECORD, {**graded.record(), "isolation": isolation})


def max_score(graded: Graded, points: dict[str, float]) -> float:
    """What the submission could score, graded or not: the points of the exercises it is graded on."""
    return sum(points[name] for name in graded.possible)


def finished(out: Path) -> dict[str, Graded]:
    """The submissions graded in `out` so far, by name, from their records."""
    found = {}
    for path in sorted((out / "submissions").rglob(RECORD)):
        try:
            graded = Graded.from_record(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half a folder from an older grader: graded again
        found[graded.submission] = graded
    return found


def write_summary(out: Path, class_results: list[Graded], points: dict[str, float]) -> None:
    """grades.csv (with the instructor's notes), problems.txt and class.png, from the class's records."""
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


def report_folder(out: Path, submission: str) -> Path:
    """Where a submission's results.json goes: DIR/submissions/<its name, each part escaped>, apart from the
    grader's own files (grades.csv, class.png) whatever the submission is called, and one-to-one: two names
    never share a folder (on a file system that tells cases apart; shared_folder says where they would)."""
    return out / "submissions" / Path(*map(_folder_part, submission.split("/")))


def _folder_part(part: str) -> str:
    """A part of a submission's name as a folder's name, one-to-one: "%", "\\" and what is not printable
    as %XX of their UTF-8 bytes (so no other "%" is left), "." and ".." and a record's name with their dots
    so written, and a part too long for a file system cut, with "%~" and its SHA-256 (no escaped part holds
    "%~")."""
    escaped = "".join(char if char.isprintable() and char not in "%\\" else
                      "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
                      for char in part)
    if escaped in (".", "..", "results.json", RECORD):
        escaped = escaped.replace(".", "%2E")
    if len(escaped.encode("utf-8", "surrogatepass")) > 200:
        escaped = escaped[:60] + "%~" + hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()
    return escaped


def ignores_case(folder: Path) -> bool:
    """Whether the file system of `folder` (an existing one) takes "A" and "a" for one name (macOS's and
    Windows' do)."""
    with tempfile.TemporaryDirectory(prefix="tfsigns-Case-", dir=folder) as probe:
        return Path(probe).with_name(Path(probe).name.lower()).exists()


def shared_folder(out: Path, names: Sequence[str]) -> str | None:
    """Two submissions whose report folders in `out` would be one ("Alice.ipynb and alice.ipynb" where the
    file system ignores case), in words, or None."""
    existing = next(path for path in (out, *out.parents) if path.exists())
    fold = str.casefold if ignores_case(existing) else str
    seen: dict[str, str] = {}
    for name in names:
        key = fold(str(report_folder(out, name)))
        if key in seen:
            return f"{printable(seen[key])} and {printable(name)} would share one report folder in {out}"
        seen[key] = name
    return None


def printable(text: str) -> str:
    """`text` with its newlines and other characters that are not printable escaped (\\n, \\x1b, \\u202e):
    a name or a note is one line wherever it is printed, and cannot forge another or move the terminal."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode() for char in text)


FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell that begins so as a formula


def csv_cell(text: str) -> str:
    """A text cell of grades.csv as a spreadsheet shows text: printable, and a leading ' where it would
    begin a formula (=HYPERLINK(...) in a submission's name)."""
    text = printable(text)
    return "'" + text if text.startswith(FORMULA) else text


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
           title=f"{len(graded)} submissions graded" + (f", {len(class_results) - len(graded)} not"
                                                        if len(graded) < len(class_results) else ""))
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)

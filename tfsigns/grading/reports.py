"""A graded submission's reports: its outcome (Graded), its name in them (its path from the folder all the
submissions are in) and its report folder, the points of each exercise, its Gradescope results.json and the
instructor's record under DIR/submissions/, and text made safe for a terminal and a spreadsheet (the class's
summary: tfsigns.grading.summary)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tfsigns.utils.files import write_json


@dataclass
class Graded:
    """One submission's outcome: each exercise's (passed, output) and the typical mistakes its checks named,
    or why it could not be graded; notes for the instructor, and of them those the student sees too (what
    its cells raised); the SHA-256 of its file (--resume grades a changed one again) and of its code cells
    (the summary finds identical code)."""

    submission: str
    exercises: dict[tuple[str, str], tuple[bool, str]] = field(default_factory=dict)
    problem: str = ""
    notes: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    seconds: float = 0.0
    possible: list[str] = field(default_factory=list)  # the exercises it is (or would be) graded on
    named: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    sha256: str = ""
    code: str = ""

    def record(self) -> dict:
        return {"submission": self.submission, "problem": self.problem, "notes": self.notes,
                "shown": self.shown, "seconds": self.seconds, "possible": self.possible,
                "exercises": [[*key, *outcome] for key, outcome in self.exercises.items()],
                "named": [[*key, named] for key, named in self.named.items()], "sha256": self.sha256,
                "code": self.code}

    @classmethod
    def from_record(cls, data: dict) -> Graded:
        exercises = {(a, name): (passed, output) for a, name, passed, output in data["exercises"]}
        named = {(a, name): list(named) for a, name, named in data.get("named", [])}  # none before issue 45
        return cls(data["submission"], exercises, data["problem"], data["notes"], data["shown"],
                   data["seconds"], data["possible"], named, data.get("sha256", ""), data.get("code", ""))


RECORD = "grading.json"  # beside each results.json: the instructor's record of it, which --resume reads


def common_folder(paths: Sequence[Path]) -> Path:
    """The folder all the submissions are in, which their names in the reports start from."""
    return Path(os.path.commonpath([path.resolve().parent for path in paths]))


def submission_names(paths: Sequence[Path], root: Path | None = None) -> list[str]:
    """Each submission's name in the reports: its path relative to `root` where all are in it (the class's
    folder, kept for --resume), else to the folder all of them are in (alice/Exercises.ipynb); unique (a
    second mention of one file gets " (2)")."""
    resolved = [path.resolve() for path in paths]
    common = common_folder(paths)
    if root is not None and all(path.is_relative_to(root) for path in resolved):
        common = root
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


def count(n: int, noun: str) -> str:
    """"1 submission", "2 submissions": n and the noun agreeing with it."""
    return f"{n} {noun if n == 1 else noun + 's'}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, "" where it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""

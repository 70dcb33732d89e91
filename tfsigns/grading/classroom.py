"""Grading a class: `python -m tfsigns.grader SUBMISSION.ipynb... --out DIR`.

Each submitted notebook runs in a process of its own (tfsigns.grading.child), inside a bubblewrap
sandbox where one is installed. The sandbox is a root of its own that binds only the system's
libraries, Python (symlinks resolved), the few tfsigns modules the child needs (child.CHILD_MODULES:
no reference, check or case), the SIGNS files read only, and an empty /tmp of --disk MB, its home;
no network, no other process, nothing of the grader's home or of other submissions, a memory limit.
The child runs the notebook's code cells and then answers the grader's requests
(tfsigns.grading.answers): the grader, in this process, runs each exercise's checks on cases it draws
from --seed, and the child calls the learner's function on them and sends back the answer as data,
which is checked as untrusted before any check reads it. Time limits are kept from here: per cell and
exercise (--timeout) and per submission (--total). The parent scores the exercises by the rubric (or
--points) and writes:

  DIR/grades.csv                  submission (its path from the folder all are in), score, max_score, then
                                  one column per exercise
  DIR/submissions/<path>/results.json   Gradescope's format: score, tests (name, score, max_score, output)
  DIR/class.png                   the share of the class that passed each exercise

A submission that cannot be graded (missing, not a notebook, another assignment) gets one line on
stderr and a row of zeros with its reason; the others are graded.
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tfsigns.grading.answers import Remote, Submission, SubmissionGone
from tfsigns.grading.child import cell_code
from tfsigns.grading.reports import (
    Graded,
    finished,
    read_points,
    submission_names,
    write_submission,
    write_summary,
)
from tfsigns.grading.sandbox import (
    NOTE_LENGTH,
    STOPPING,
    checked_ready,
    child_problem,
    sandbox_works,
    stop_all,
    submission_process,
)
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.utils.files import OutputError, check_writable, prepare_out_dir

PROG = "tfsigns.grader"


# ------------------------------------------------------------------ the parent: a class


def read_notebook(path: Path, assignment: str | None, known: Sequence[str]) -> tuple[list[list], list[str]]:
    """(code cells as [their index in the notebook, source], the assignments it holds), or ValueError
    saying what is wrong with it."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        sources = [[index, "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]]
                   for index, cell in enumerate(notebook["cells"]) if cell.get("cell_type") == "code"]
        if not all(isinstance(source, str) for _, source in sources):
            raise TypeError
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"not a readable notebook ({type(err).__name__})") from None
    said = notebook.get("metadata", {}).get("tfsigns", {}).get("assignments") if isinstance(
        notebook.get("metadata"), dict) else None
    if assignment:
        if said and assignment not in said:
            raise ValueError(f"a notebook of {', '.join(said)}, not of {assignment}")
        return sources, [assignment]
    if not said:
        raise ValueError("the notebook does not say its assignment (metadata tfsigns.assignments): "
                         "pass --assignment")
    unknown = [name for name in said if name not in known]
    if unknown:
        raise ValueError(f"unknown assignment {unknown[0]!r} in its metadata")
    return sources, list(said)


def tfsigns_imports(cells: Sequence[str]) -> list[str]:
    """The tfsigns modules the cells import besides tfsigns.grader: they hold the reference solutions,
    so an answer that calls them deserves a look."""
    found = set()
    for source in cells:
        try:
            # one thread at a time: on Python 3.11 two threads building ASTs at once can fail with
            # "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905)
            with CHECKING:
                tree = ast.parse(cell_code(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("tfsigns")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tfsigns":
                found |= {_imported_module(node.module, alias.name) for alias in node.names}
    return sorted(found - {"tfsigns", "tfsigns.grader"})


def _imported_module(module: str, name: str) -> str:
    """The module that `from module import name` takes from tfsigns: module.name where that is a
    module (`from tfsigns.course import basics`, or an old path: `from tfsigns import basics`, which
    tfsigns.MOVED finds), else module."""
    try:
        found = importlib.util.find_spec(f"{module}.{name}")
    except ImportError:  # module is not a package: name is a function or a class
        found = None
    return f"{module}.{name}" if found else module


# The checks of several submissions run in threads of this process, one at a time: references use
# NumPy's global generator (np.random.seed, as the lesson does). A check lets go while a submission
# works on an answer, so the submissions' processes work side by side. Parsing a notebook's cells
# takes it too (tfsigns_imports: Python 3.11 cannot build two ASTs in two threads at once).
CHECKING = threading.Lock()


def grade_exercise(submission: Submission, defined: dict | None, name: str, assignment: str,
                   args: argparse.Namespace, helpers: bool = False) -> tuple[bool, str]:
    """Whether the submission's `name` passes, and the report on it: the checks run here, on answers
    the submission's process sends as data."""
    from tfsigns.grading.grader import grade_lines
    if defined is None:
        return False, f"{name}: FAIL\n  not defined: no cell defines {name}"
    if not defined["callable"]:
        return False, f"{name}: FAIL\n  expected a function, got {defined['kind']}"
    if defined["module"] == "tfsigns" or defined["module"].startswith("tfsigns."):
        return False, (f"{name}: FAIL\n  is tfsigns' own {defined['module']}.{defined['name']}, not an "
                       "answer: scores 0")
    with CHECKING:
        remote = Remote(submission, name, args.timeout, CHECKING, defined["numpy_alone"], helpers)
        try:
            passed, lines = grade_lines(name, remote, assignment, seed=args.seed)
        except SubmissionGone:
            raise
        except Exception as err:  # noqa: BLE001  (an answer the checks cannot read scores 0; the class goes on)
            return False, (f"{name}: FAIL\n  its answer could not be read as the grader asked "
                           f"({type(err).__name__}): scores 0")
    return passed, "\n".join(lines)


RESTARTS = 2  # new processes for a submission whose process had to be stopped, before the rest fail


def class_assignments(paths: Sequence[Path], assignment: str | None, known: Sequence[str]) -> list[str]:
    """The class's assignments: --assignment, else what most of the notebooks say they are."""
    if assignment:
        return [assignment]
    said: collections.Counter = collections.Counter()
    for path in paths:
        with contextlib.suppress(ValueError):
            said[tuple(read_notebook(path, None, known)[1])] += 1
    return list(said.most_common(1)[0][0]) if said else [known[0]]


def grade_submission(path: Path, args: argparse.Namespace, known: Sequence[str],
                     exercises_of: dict[str, list[str]], assignments: list[str]) -> Graded:
    """Grade one notebook of a class of `assignments`: its cells run in a child process, the checks
    here; its exercises' outcomes, or the reason it was not graded."""
    graded = Graded(path.name, possible=[name for a in assignments for name in exercises_of[a]])
    start = time.time()
    try:
        cells, said = read_notebook(path, args.assignment, known)
        if said != assignments:
            raise ValueError(f"a notebook of {', '.join(said)}, where the class's is "
                             f"{', '.join(assignments)} "
                             "(--assignment grades every notebook as one)")
    except ValueError as err:
        graded.problem = str(err)
        return graded
    pending = [(assignment, name) for assignment in assignments for name in exercises_of[assignment]]
    graded.notes += [f"imports {module}, tfsigns' own code (the exercises need only tfsigns.grader): "
                     "worth a look" for module in tfsigns_imports([source for _, source in cells])]
    job = {"cells": cells, "names": [name for _, name in pending], "timeout": args.timeout,
           "memory_mb": args.memory, "disk_mb": args.disk, "deadline": time.monotonic() + args.total,
           "total": args.total}
    deferred: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="tfsigns-grading-") as work:
        gone = _grade_in_processes(pending, job, Path(work), args, graded, deferred)
        if deferred:  # model() in a process of its own, the reference helpers in place of the broken ones
            helpers = {name: where for a, n in deferred for name, where in _exercise(a, n).helpers.items()}
            later = list(deferred)
            gone = _grade_in_processes(later, {**job, "helpers": helpers}, Path(work), args, graded) or gone
            pending += later
    for assignment, name in pending:
        graded.exercises[assignment, name] = (False, f"{name}: FAIL\n  not graded: {gone}")
    for assignment, name in [key for key in deferred if key not in pending]:  # say so, under the verdict
        passed, output = graded.exercises[assignment, name]
        verdict, _, rest = output.partition("\n")
        broken = ", ".join(_broken_helpers(graded, assignment, name))
        said = f"  graded with the reference {broken} in place of yours, which fail above"
        graded.exercises[assignment, name] = passed, "\n".join(filter(None, [verdict, said, rest]))
    graded.seconds = time.time() - start
    return graded


def _exercise(assignment: str, name: str):
    from tfsigns.grading.grader import ASSIGNMENTS
    return ASSIGNMENTS[assignment].exercises[name]


def _broken_helpers(graded: Graded, assignment: str, name: str) -> list[str]:
    """The helpers of exercise `name` (model()) that the submission got wrong."""
    return [helper for helper in _exercise(assignment, name).helpers
            if not graded.exercises.get((assignment, helper), (True,))[0]]


def _grade_in_processes(pending: list[tuple[str, str]], job: dict, work: Path, args: argparse.Namespace,
                        graded: Graded, deferred: list | None = None) -> str:
    """Grade the `pending` exercises (taken off it as they are graded) in the submission's process,
    starting a new one (RESTARTS at most) where one had to be stopped; a model() whose helpers failed goes
    to `deferred` when given. What stopped the last process, or ""."""
    gone = ""
    for attempt in range(1 + RESTARTS):  # a process stopped in an exercise: a new one for the rest
        ready = None
        try:
            with submission_process(job, work, args) as (submission, ready):
                ready = checked_ready(ready, job["names"])
                if attempt == 0 and deferred is not None:  # the cells' errors, noted once
                    graded.notes += ready["cell_errors"]
                    graded.shown += ready["cell_errors"]
                while pending and not submission.gone:
                    if time.monotonic() > job["deadline"]:
                        submission.gone = f"it ran past its total of {args.total:g} s and was stopped"
                        break
                    assignment, name = pending.pop(0)
                    if deferred is not None and _broken_helpers(graded, assignment, name):
                        deferred.append((assignment, name))
                        continue
                    graded.exercises[assignment, name] = grade_exercise(
                        submission, ready["defined"].get(name), name, assignment, args, "helpers" in job)
                gone = submission.gone
        except SubmissionGone as stopped:
            gone = str(stopped)
        except ValueError as bad:  # Malformed, or a line that is not JSON
            first = str(bad).splitlines()[0][:NOTE_LENGTH] if str(bad) else type(bad).__name__
            gone, ready = f"its process sent data the grader does not take ({first})", None
        if not pending:
            break
        if ready is None or attempt == RESTARTS or time.monotonic() > job["deadline"]:  # no new try
            graded.notes.append(gone)
            break
        graded.notes.append(f"{gone}; a new process was started for {pending[0][1]} on")
    return gone


def build_parser() -> Parser:
    parser = Parser(prog=PROG, formatter_class=HelpFormatter,
                    description="Grade a class's exercise notebooks, each in a sandboxed process of its own.")
    parser.add_argument("submissions", nargs="*", help="the submitted notebooks (.ipynb)")
    parser.add_argument("--out", help="folder for grades.csv, problems.txt, class.png, and a results.json "
                                      "per submission (what its student sees), each written as it is graded")
    parser.add_argument("--resume", action="store_true",
                        help="go on with a class graded in --out before: grade only the submissions not "
                             "there")
    parser.add_argument("--rubric", action="store_true",
                        help="print the assignments, their exercises and points (with --points), and stop")
    parser.add_argument("--assignment", help="grade as this assignment (default: what each notebook says)")
    parser.add_argument("--points", help="JSON object {exercise: points} over the assignment's rubric")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for each cell and exercise")
    parser.add_argument("--memory", type=int, default=4096, help="memory limit of a submission, in MB")
    parser.add_argument("--disk", type=int, default=256,
                        help="MB a submission may write: the size of its sandbox's /tmp, held in memory")
    parser.add_argument("--total", type=float, default=900.0,
                        help="seconds for a whole submission, its cells and exercises together, however its "
                             "code handles the per-cell limit")
    parser.add_argument("--seed", type=int, default=0,
                        help="draws the grading's cases: set your own, so that they are not the published "
                             "package's")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions at once")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (a process and its limits only): trusted submissions")
    return parser


def rubric_lines(points: dict[str, float]) -> list[str]:
    """--rubric: each assignment's exercises and their points in this class, the optional ones marked."""
    from tfsigns.grading.grader import ASSIGNMENTS
    lines = []
    for name, assignment in ASSIGNMENTS.items():
        total = sum(points[exercise] for exercise in assignment.exercises)
        lines.append(f"{name} ({total:g} points)")
        lines += [f"  {exercise:<26}{points[exercise]:>4g}" + (
            f"   optional: {'worth' if points[exercise] else 'no points unless --points gives them; worth'} "
            f"{details.points:g} in the course" if details.optional else "")
            for exercise, details in assignment.exercises.items()]
    return lines


def check_args(args: argparse.Namespace, assignments: Sequence[str]) -> str | None:
    """What is wrong with the command's values, in one line, or None."""
    folders = [path for path in args.submissions if Path(path).is_dir()]
    if args.assignment is not None and args.assignment not in assignments:
        return f"--assignment {args.assignment!r}: the assignments are {', '.join(assignments)}"
    if not args.rubric and (not args.submissions or args.out is None):
        return "give the submissions and --out (or --rubric to see the points)"
    if folders:
        return f"{folders[0]} is a folder: give the notebooks in it ({folders[0]}/*.ipynb)"
    if not (args.timeout > 0 and args.timeout < 1e6):
        return f"--timeout must be a positive number of seconds, got {args.timeout:g}"
    if not 256 <= args.memory <= 1 << 22:
        return f"--memory must be at least 256 MB, got {args.memory}"
    if not 16 <= args.disk <= 1 << 20:
        return f"--disk must be at least 16 MB, got {args.disk}"
    if args.seed < 0:
        return f"--seed must be a whole number from 0, got {args.seed}"
    if args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    if not (args.total > 0 and args.total < 1e6):
        return f"--total must be a positive number of seconds, got {args.total:g}"
    if not args.rubric and not args.no_sandbox and not sandbox_works():
        return ("no sandbox: bubblewrap (bwrap) is not installed or cannot start here; install it "
                "(apt-get install bubblewrap) or pass --no-sandbox for trusted submissions")
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 when the class was graded (a submission that could not be is in the report),
    2 on bad input, 130 when interrupted (what was graded is kept: --resume goes on)."""
    line_buffered_output()
    args = build_parser().parse_args(argv)
    from tfsigns.grading.grader import ASSIGNMENTS
    problem = check_args(args, list(ASSIGNMENTS))
    rubric = {name: 0.0 if exercise.optional else exercise.points
              for a in ASSIGNMENTS.values() for name, exercise in a.exercises.items()}
    try:
        points = read_points(args.points, rubric) if problem is None else rubric
    except ValueError as err:
        problem = str(err)
    if problem is None and args.rubric:
        print("\n".join(rubric_lines(points)))
        return 0
    paths = [Path(p) for p in args.submissions]
    names = submission_names(paths) if problem is None else []
    done = {}
    if problem is None:
        try:
            check_writable(args.out)
            done = finished(Path(args.out)) if Path(args.out).is_dir() else {}
        except OutputError as err:
            problem = str(err)
    if problem is None and done and not args.resume:
        problem = (f"--out {args.out} holds a class graded before ({len(done)} submissions): --resume goes "
                   "on with it, or choose another folder")
    try:
        if problem is None:  # the class's children must be able to start before any is graded
            problem = child_problem(args)
    except KeyboardInterrupt:
        stop_all()
        print(f"{PROG}: interrupted before any submission was graded", file=sys.stderr)
        return 130
    if problem is None:
        try:
            out = prepare_out_dir(args.out)
        except OutputError as err:
            problem = str(err)
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    return grade_class(args, out, list(zip(paths, names, strict=True)), done, points)


def grade_class(args: argparse.Namespace, out: Path, submissions: list[tuple[Path, str]],
                done: dict[str, Graded], points: dict[str, float]) -> int:
    """Grade the submissions not `done`, each one's reports written as it finishes, a line of progress
    each; then the class's summary from every record in `out`. Ctrl-C keeps what is finished."""
    from tfsigns.grading.grader import ASSIGNMENTS
    isolation = "process limits only (--no-sandbox)" if args.no_sandbox else "a bubblewrap sandbox"
    exercises_of = {name: list(a.exercises) for name, a in ASSIGNMENTS.items()}
    assignments = class_assignments([path for path, _ in submissions], args.assignment, list(ASSIGNMENTS))
    todo = [(path, name) for path, name in submissions if name not in done]
    before = len(submissions) - len(todo)
    print(f"grading {len(todo)} submissions of {', '.join(assignments)} with {isolation}"
          + (f" ({before} graded before, in {out})" if before else ""))

    def graded(path: Path, name: str) -> Graded:
        try:
            result = grade_submission(path, args, list(ASSIGNMENTS), exercises_of, assignments)
        except Exception as err:  # noqa: BLE001  (a grader's failure on one submission is that row's problem)
            result = Graded(path.name, problem=f"the grader failed on it ({type(err).__name__}: {err})"[:300],
                            possible=[n for a in assignments for n in exercises_of[a]])
        result.submission = name
        return result
    pool = ThreadPoolExecutor(args.workers)
    futures = [pool.submit(graded, path, name) for path, name in todo]
    try:
        for count, future in enumerate(concurrent.futures.as_completed(futures), 1):
            result = future.result()
            if STOPPING.is_set():
                break
            write_submission(out, result, points, isolation)
            print(progress(result, points, count, len(todo)),
                  file=sys.stderr if result.problem else sys.stdout)
    except KeyboardInterrupt:
        stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        records = finished(out)
        write_summary(out, [records[name] for _, name in submissions if name in records], points)
        print(f"{PROG}: interrupted: {len(records)} of {len(submissions)} submissions graded and kept in "
              f"{out}/; the same command with --resume grades the rest", file=sys.stderr)
        return 130
    pool.shutdown()
    records = finished(out)
    write_summary(out, [records[name] for _, name in submissions if name in records], points)
    print(f"{len(submissions)} submissions graded; results in {out}/ (grades.csv, problems.txt, class.png, "
          "a results.json per submission under submissions/)")
    return 0


def progress(graded: Graded, points: dict[str, float], count: int, total: int) -> str:
    """One submission's line as it finishes: its score, or why it was not graded."""
    if graded.problem:
        return f"{PROG}: [{count}/{total}] {graded.submission}: not graded: {graded.problem}"
    score = sum(points[name] * passed for (_, name), (passed, _) in graded.exercises.items())
    passed = sum(ok for ok, _ in graded.exercises.values())
    notes = f"; {len(graded.notes)} notes" if graded.notes else ""
    possible = sum(points[name] for name in graded.possible)
    return (f"[{count}/{total}] {graded.submission}: {score:g} of {possible:g} points, {passed} of "
            f"{len(graded.exercises)} exercises pass ({graded.seconds:.1f} s{notes})")

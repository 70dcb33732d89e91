"""One submission graded: its notebook read, its cells run in a child process (tfsigns.grading.sandbox),
each exercise checked here on the answers the child sends back as data, a process that had to be stopped
replaced for the exercises after it, and model() graded again with the reference helpers where the
learner's broken ones would make it fail (the grader's command, over a class: tfsigns.grading.classroom).
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import functools
import hashlib
import importlib.util
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from tfsigns.grading.answers import PARSING
from tfsigns.grading.checks import BLANK
from tfsigns.grading.child import cell_code
from tfsigns.grading.helpers import helper_answer
from tfsigns.grading.remote import Clock, Remote, Submission, SubmissionGone
from tfsigns.grading.reports import Graded, file_sha256
from tfsigns.grading.sandbox import NOTE_LENGTH, checked_ready, submission_process


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
            with PARSING:  # one AST at a time in this process (CPython gh-106905)
                tree = ast.parse(cell_code(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("tfsigns")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tfsigns":
                found |= {_imported_module(node.module, alias.name) for alias in node.names}
    return sorted(found - {"tfsigns", "tfsigns.grader", "tfsigns.images.dataset", "tfsigns.backend"})


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
# works on an answer and while its answer is decoded, so the submissions' processes work side by side.
CHECKING = threading.Lock()


def grade_exercise(submission: Submission, defined: dict | None, name: str, assignment: str,
                   args: argparse.Namespace, helpers: dict | None = None) -> tuple[bool, str, list[str]]:
    """Whether the submission's `name` passes, the report on it, and the mistakes it names: the checks run
    here, on answers the submission's process sends as data; `helpers` ({name: "module:function"}): model()
    runs there with stand-ins for these reference helpers, which run here (tfsigns.grading.helpers)."""
    from tfsigns.grading.grader import grade_report
    if defined is None:
        return False, f"{name}: FAIL\n  not defined: no cell defines {name}", ["not defined"]
    if not defined["callable"]:
        return False, f"{name}: FAIL\n  expected a function, got {defined['kind'][:80]}", []
    if defined["module"] == "tfsigns" or defined["module"].startswith("tfsigns."):
        return False, (f"{name}: FAIL\n  is tfsigns' own {defined['module'][:80]}.{defined['name'][:80]}, "
                       "not an answer: scores 0"), ["tfsigns' own function"]
    with submission.clock.holding(CHECKING):  # the wait for the other submissions' checks is not its own
        answers = functools.partial(helper_answer, helpers=helpers) if helpers else None
        remote = Remote(submission, name, args.timeout, CHECKING, defined["numpy_alone"], answers)
        try:
            passed, lines, named = grade_report(name, remote, assignment, seed=args.seed)
        except SubmissionGone:
            raise
        except Exception as err:  # noqa: BLE001  (an answer the checks cannot read scores 0; the class goes on)
            return False, (f"{name}: FAIL\n  its answer could not be read as the grader asked "
                           f"({type(err).__name__}): scores 0"), []
    return passed, "\n".join(lines), named


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
    graded = Graded(path.name, possible=[name for a in assignments for name in exercises_of[a]],
                    sha256=file_sha256(path))
    start = time.time()
    try:
        cells, said = read_notebook(path, args.assignment, known)
        code = json.dumps([source.rstrip() for _, source in cells]).encode()
        graded.code = hashlib.sha256(code).hexdigest()
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
           "memory_mb": args.memory, "disk_mb": args.disk}
    deferred: list[tuple[str, str]] = []
    clock = Clock(args.total)
    with tempfile.TemporaryDirectory(prefix="tfsigns-grading-") as work:
        gone = _grade_in_processes(pending, job, Path(work), args, graded, clock, deferred)
        if deferred:  # model() in a process of its own, the reference helpers in place of the broken ones
            helpers = {name: where for a, n in deferred for name, where in _exercise(a, n).helpers.items()}
            later = list(deferred)
            gone = _grade_in_processes(later, {**job, "helpers": helpers}, Path(work), args, graded,
                                       clock) or gone
            pending += later
    for assignment, name in pending:
        graded.exercises[assignment, name] = (False, f"{name}: FAIL\n  not graded: {gone}")
        graded.named[assignment, name] = []
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


def _timed_out(output: str) -> bool:
    """Whether an exercise's report says it ran past its time (its answer, or its process)."""
    return "ran past its time limit" in output or "gave no answer in" in output


def _grade_in_processes(pending: list[tuple[str, str]], job: dict, work: Path, args: argparse.Namespace,
                        graded: Graded, clock: Clock, deferred: list | None = None) -> str:
    """Grade the `pending` exercises (taken off it as they are graded) in the submission's process,
    starting a new one (RESTARTS at most) where one had to be stopped, all within `clock`, the submission's
    --total. A model() that fails with helpers that failed (or one of whose helpers ran out of time) goes to
    `deferred`, when given, to be graded with the reference helpers. What stopped the last process, or ""."""
    gone = ""
    for attempt in range(1 + RESTARTS):  # a process stopped in an exercise: a new one for the rest
        ready = None
        try:
            with submission_process(job, work, args, clock) as (submission, ready):
                ready = checked_ready(ready, job["names"])
                if attempt == 0 and deferred is not None:  # the cells' errors, noted once
                    graded.notes += ready["cell_errors"]
                    graded.shown += ready["cell_errors"]
                while pending and not submission.gone:
                    if clock.left() <= 0:
                        submission.gone = f"it ran past its total of {args.total:g} s and was stopped"
                        break
                    assignment, name = pending.pop(0)
                    broken = _broken_helpers(graded, assignment, name) if deferred is not None else []
                    if any(_timed_out(graded.exercises[assignment, helper][1]) for helper in broken):
                        deferred.append((assignment, name))  # not run again through a helper that loops
                        continue
                    *outcome, named = grade_exercise(submission, ready["defined"].get(name), name, assignment,
                                                     args, job.get("helpers"))
                    if _timed_out(outcome[1]):  # for the instructor's note too
                        graded.notes.append(f"{name} ran past its time limit of {args.timeout:g} s")
                    if broken and not outcome[0] and BLANK not in outcome[1]:
                        deferred.append((assignment, name))  # failed with a broken helper: again with theirs
                        continue
                    graded.exercises[assignment, name], graded.named[assignment, name] = tuple(outcome), named
                gone = submission.gone
        except SubmissionGone as stopped:
            gone = str(stopped)
        except ValueError as bad:  # Malformed, or a line that is not JSON
            first = str(bad).splitlines()[0][:NOTE_LENGTH] if str(bad) else type(bad).__name__
            gone, ready = f"its process sent data the grader does not take ({first})", None
        if not pending:
            break
        if ready is None or attempt == RESTARTS or clock.left() <= 0:  # no new try
            graded.notes.append(gone)
            break
        graded.notes.append(f"{gone}; a new process was started for {pending[0][1]} on")
    return gone

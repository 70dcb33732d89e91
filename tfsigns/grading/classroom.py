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
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tfsigns.grading.answers import Remote, Submission, SubmissionGone
from tfsigns.grading.child import CHILD_MODULES, cell_code
from tfsigns.grading.reports import Graded, read_points, submission_names, write_reports
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.utils.files import OutputError, prepare_out_dir

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


# the system's libraries and fonts, which Python, TensorFlow and matplotlib load
SYSTEM = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/ld.so.conf",
          "/etc/ld.so.conf.d", "/etc/fonts")


def sandbox_command(disk_mb: int) -> list[str]:
    """bubblewrap around the child: a root of its own with the system's libraries, Python's prefixes
    (symlinks resolved), of tfsigns only CHILD_MODULES (any other copy of the package there hidden),
    SIGNS' files read only, and an empty /tmp of `disk_mb` MB, its home; no network, no other process."""
    package = Path(__file__).resolve().parents[1]
    roots = sorted({Path(p).resolve() for p in (sys.prefix, sys.base_prefix)})
    hidden = {package, *(Path(entry).resolve() / "tfsigns" for entry in sys.path if entry)}
    hidden = [path for path in sorted(hidden) if path.is_dir() and any(path.is_relative_to(r) for r in roots)]
    files = [package / f"{name}.py" for name in CHILD_MODULES] + _signs_files()
    environment = [arg for item in child_environment("/tmp").items() for arg in ("--setenv", *item)]
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", *environment,
            "--dev", "/dev", "--proc", "/proc", "--size", str(disk_mb << 20), "--tmpfs", "/tmp",
            *(arg for path in SYSTEM for arg in ("--ro-bind-try", path, path)),
            *(arg for path in roots for arg in ("--ro-bind", str(path), str(path))),
            *(arg for path in hidden for arg in ("--tmpfs", str(path))),
            *(arg for path in files for arg in ("--ro-bind", str(path), str(path))),
            "--remount-ro", "/", "--chdir", "/tmp"]


def _signs_files() -> list[Path]:
    """SIGNS' two files where the grader finds them ($TFSIGNS_DATA, else data/): notebooks load them."""
    from tfsigns.images.signs import DataError, find_data_dir
    try:
        folder = find_data_dir().resolve()
    except DataError:
        return []
    return [path for path in (folder / "train_signs.h5", folder / "test_signs.h5") if path.is_file()]


def child_environment(home: str) -> dict[str, str]:
    """The child's whole environment (none of the grader's own variables: tokens, paths)."""
    files = _signs_files()
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp" if home == "/tmp" else home,
            "LANG": "C.UTF-8", "MPLCONFIGDIR": home, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", **({"TFSIGNS_DATA": str(files[0].parent)} if files else {})}


def sandbox_works() -> bool:
    """Whether bubblewrap is installed and can start a sandbox here."""
    if shutil.which("bwrap") is None:
        return False
    command = [*sandbox_command(16), sys.executable, "-c", ""]
    return subprocess.run(command, capture_output=True).returncode == 0


# The checks of several submissions run in threads of this process, one at a time: references use
# NumPy's global generator (np.random.seed, as the lesson does). A check lets go while a submission
# works on an answer, so the submissions' processes work side by side. Parsing a notebook's cells
# takes it too (tfsigns_imports: Python 3.11 cannot build two ASTs in two threads at once).
CHECKING = threading.Lock()


def grade_exercise(submission: Submission, defined: dict | None, name: str, assignment: str,
                   args: argparse.Namespace) -> tuple[bool, str]:
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
        remote = Remote(submission, name, args.timeout, CHECKING, defined["numpy_alone"])
        try:
            passed, lines = grade_lines(name, remote, assignment, seed=args.seed)
        except SubmissionGone:
            raise
        except Exception as err:  # noqa: BLE001  (an answer the checks cannot read scores 0; the class goes on)
            return False, (f"{name}: FAIL\n  its answer could not be read as the grader asked "
                           f"({type(err).__name__}): scores 0")
    return passed, "\n".join(lines)


RESTARTS = 2  # new processes for a submission whose process had to be stopped, before the rest fail
NOTE_LENGTH = 300  # a note from a submission's process is cut to this many characters
DESCRIPTION = {"kind": str, "callable": bool, "numpy_alone": bool, "module": str, "name": str}


class Malformed(ValueError):
    """What a submission's process sent is not what the grader's protocol allows."""


def checked_ready(ready, names: Sequence[str]) -> dict:
    """The submission's first message ({"cell_errors": [...], "defined": {name: description}}) checked as
    untrusted data: the exercises' names only, each description's fields of their types, notes cut to
    NOTE_LENGTH; Malformed otherwise (a cell that wrote to the grader's channel itself, say)."""
    if not isinstance(ready, dict) or set(ready) != {"cell_errors", "defined"}:
        raise Malformed("its first message is not the grader's")
    errors, defined = ready["cell_errors"], ready["defined"]
    if not isinstance(errors, list) or not isinstance(defined, dict) or \
            not all(isinstance(error, str) for error in errors):
        raise Malformed("its cells' report is not the grader's")
    for name, description in defined.items():
        if name not in names or not isinstance(description, dict) or set(description) != set(DESCRIPTION) or \
                not all(type(description[key]) is kind for key, kind in DESCRIPTION.items()):
            raise Malformed(f"what it says of {str(name)[:40]!r} is not the grader's")
    return {"cell_errors": [error[:NOTE_LENGTH] for error in errors[:20]], "defined": defined}


@contextlib.contextmanager
def _submission_process(job: dict, work: Path, args: argparse.Namespace):
    """A child process for the submission (sandboxed unless --no-sandbox) that has run its cells:
    (Submission, what it defined); stopped on leaving."""
    command = [sys.executable, "-m", "tfsigns.grading.child"]
    if args.no_sandbox:  # trusted: the grader's environment, a temporary folder of the host
        env = {**os.environ, **child_environment(str(work))}
    else:
        env, command = child_environment("/tmp"), [*sandbox_command(args.disk), *command]  # bwrap sets it
    with tempfile.TemporaryFile() as stderr:  # its last line tells why a process that died died
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, cwd=work, env=env, start_new_session=True)
        submission = Submission(process, grace=min(30.0, max(5.0, args.timeout)), stderr=stderr)
        try:
            submission.send(job)
            cells = args.timeout * len(job["cells"]) + 60  # each cell at its limit, within the total
            left = max(1.0, job["deadline"] - time.monotonic())
            said = f"its total of {job['total']:g} s" if left < cells else ""
            yield submission, submission.receive(min(cells, left), said)
        finally:
            submission.stop()
            process.wait()


# What every exercise needs of the child: TensorFlow, a graph and a session
CHILD_CHECK = ("import tensorflow as tf\nwith tf.compat.v1.Session() as session:\n"
               "    session.run(tf.constant(1))\n")


def child_problem(args: argparse.Namespace) -> str | None:
    """Why the grader's child cannot run as the submissions' will (sandboxed unless --no-sandbox, within
    --memory), with the child's own words, or None: a child is started once, with one cell that runs a
    TensorFlow session."""
    job = {"cells": [[0, CHILD_CHECK]], "names": [], "timeout": max(args.timeout, 60.0),
           "memory_mb": args.memory, "disk_mb": args.disk, "deadline": time.monotonic() + 180, "total": 180}
    where = "without a sandbox" if args.no_sandbox else "in the sandbox"
    with tempfile.TemporaryDirectory(prefix="tfsigns-grading-") as work:
        try:
            with _submission_process(job, Path(work), args) as (_, ready):
                said = checked_ready(ready, [])["cell_errors"]
        except (SubmissionGone, ValueError) as gone:
            said = [str(gone)]
    if said:
        return (f"the grader's child cannot run TensorFlow {where} within --memory {args.memory} MB "
                f"({said[0]})")
    return None


def grade_submission(path: Path, args: argparse.Namespace, known: Sequence[str],
                     exercises_of: dict[str, list[str]]) -> Graded:
    """Grade one notebook: its cells run in a child process, the checks here; its exercises'
    outcomes, or the reason it was not graded."""
    graded = Graded(path.name)
    start = time.time()
    try:
        cells, assignments = read_notebook(path, args.assignment, known)
    except ValueError as err:
        graded.problem = str(err)
        return graded
    pending = [(assignment, name) for assignment in assignments for name in exercises_of[assignment]]
    graded.notes += [f"imports {module}, tfsigns' own code (the exercises need only tfsigns.grader): "
                     "worth a look" for module in tfsigns_imports([source for _, source in cells])]
    job = {"cells": cells, "names": [name for _, name in pending], "timeout": args.timeout,
           "memory_mb": args.memory, "disk_mb": args.disk, "deadline": time.monotonic() + args.total,
           "total": args.total}
    gone = ""
    with tempfile.TemporaryDirectory(prefix="tfsigns-grading-") as work:
        for attempt in range(1 + RESTARTS):  # a process stopped in an exercise: a new one for the rest
            ready = None
            try:
                with _submission_process(job, Path(work), args) as (submission, ready):
                    ready = checked_ready(ready, job["names"])
                    if attempt == 0:
                        graded.notes += ready["cell_errors"]
                    while pending and not submission.gone:
                        if time.monotonic() > job["deadline"]:
                            submission.gone = f"it ran past its total of {args.total:g} s and was stopped"
                            break
                        assignment, name = pending.pop(0)
                        graded.exercises[assignment, name] = grade_exercise(
                            submission, ready["defined"].get(name), name, assignment, args)
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
    for assignment, name in pending:
        graded.exercises[assignment, name] = (False, f"{name}: FAIL\n  not graded: {gone}")
    graded.seconds = time.time() - start
    return graded


def build_parser() -> Parser:
    parser = Parser(prog=PROG, formatter_class=HelpFormatter,
                    description="Grade a class's exercise notebooks, each in a sandboxed process of its own.")
    parser.add_argument("submissions", nargs="+", help="the submitted notebooks (.ipynb)")
    parser.add_argument("--out", required=True,
                        help="folder for grades.csv, a results.json per submission, and class.png")
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


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 when the class was graded (a submission that could not be is in the report),
    2 on bad input."""
    line_buffered_output()
    args = build_parser().parse_args(argv)
    from tfsigns.grading.grader import ASSIGNMENTS
    problem = None
    if args.assignment is not None and args.assignment not in ASSIGNMENTS:
        problem = f"--assignment {args.assignment!r}: the assignments are {', '.join(ASSIGNMENTS)}"
    elif not (args.timeout > 0 and args.timeout < 1e6):
        problem = f"--timeout must be a positive number of seconds, got {args.timeout:g}"
    elif not 256 <= args.memory <= 1 << 22:
        problem = f"--memory must be at least 256 MB, got {args.memory}"
    elif not 16 <= args.disk <= 1 << 20:
        problem = f"--disk must be at least 16 MB, got {args.disk}"
    elif args.seed < 0:
        problem = f"--seed must be a whole number from 0, got {args.seed}"
    elif args.workers < 1:
        problem = f"--workers must be at least 1, got {args.workers}"
    elif not (args.total > 0 and args.total < 1e6):
        problem = f"--total must be a positive number of seconds, got {args.total:g}"
    elif not args.no_sandbox and not sandbox_works():
        problem = ("no sandbox: bubblewrap (bwrap) is not installed or cannot start here; install it "
                   "(apt-get install bubblewrap) or pass --no-sandbox for trusted submissions")
    rubric = {name: exercise.points for a in ASSIGNMENTS.values() for name, exercise in a.exercises.items()}
    try:
        points = read_points(args.points, rubric) if problem is None else rubric
    except ValueError as err:
        problem = str(err)
    if problem is None:  # the class's children must be able to start before any is graded
        problem = child_problem(args)
    if problem is None:
        try:
            out = prepare_out_dir(args.out)
        except OutputError as err:
            problem = str(err)
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    isolation = "process limits only (--no-sandbox)" if args.no_sandbox else "a bubblewrap sandbox"
    exercises_of = {name: list(a.exercises) for name, a in ASSIGNMENTS.items()}
    paths = [Path(p) for p in args.submissions]
    names = submission_names(paths)

    def graded(path: Path, name: str) -> Graded:
        try:
            result = grade_submission(path, args, list(ASSIGNMENTS), exercises_of)
        except Exception as err:  # noqa: BLE001  (a grader's failure on one submission is that row's problem)
            result = Graded(path.name, problem=f"the grader failed on it ({type(err).__name__}: {err})"[:300])
        result.submission = name
        return result
    with ThreadPoolExecutor(args.workers) as pool:
        class_results = list(pool.map(graded, paths, names))
    columns = list(dict.fromkeys(key for graded in class_results for key in graded.exercises))
    write_reports(out, class_results, columns, points, isolation)
    for graded in class_results:
        if graded.problem:
            print(f"{PROG}: {graded.submission}: not graded: {graded.problem}", file=sys.stderr)
        else:
            passed = sum(ok for ok, _ in graded.exercises.values())
            print(f"{graded.submission}: {passed} of {len(graded.exercises)} exercises pass "
                  f"({graded.seconds:.1f} s)")
    print(f"{len(class_results)} submissions, graded with {isolation}; results in {out}/ "
          "(grades.csv, class.png, one results.json per submission)")
    return 0


"""The grader's side of a submission's process: its answers read as untrusted data within limits, and a
`Remote` stand-in for each exercise that the checks call as they call a learner's function in a notebook.

Each answer is one line of JSON: at most ANSWER_LIMIT characters and MAX_CONTAINERS lists and objects,
parsed in the submission's own reader thread and decoded (tfsigns.grading.answers.decode) outside the
lock the workers share, so that a large or slow answer costs its own submission's time and no one else's.
A submission's Clock is its --total: charged for all that is done on its behalf (its process's work,
reading its answers, checking them) but not for the time its checks wait for the lock.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from tfsigns.grading.answers import (
    RESULT,
    Blank,
    Candidate,
    CandidateError,
    Elsewhere,
    GraphRunError,
    decode,
    encode,
    rebuilt,
)


class SubmissionGone(Exception):
    """The submission's process ended, or was stopped, before it answered."""


class Malformed(ValueError):
    """What a submission's process sent is not what the grader's protocol allows."""


ANSWER_LIMIT = 4 << 20  # the longest answer taken from a submission's process, in characters
MAX_CONTAINERS = 10_000  # the most lists and objects in one answer (the course's answers hold a few dozen)
# So an answer parsed holds at most 12 times ANSWER_LIMIT of the grader's memory (800,000 short strings:
# 47 MB; a million floats: 32 MB), and a submission has at most one answer parsed ahead, one being decoded
# and one line being read: about 110 MB a worker, whatever its process sends.


class Clock:
    """A submission's --total: what is left of it, charged for everything done on the submission's behalf and
    not for the time its checks wait for a lock that other submissions' checks hold."""

    def __init__(self, seconds: float):
        self.total, self.deadline = seconds, time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def acquire(self, lock: threading.Lock) -> None:
        """Take `lock`; the wait for it is given back to the submission."""
        started = time.monotonic()
        lock.acquire()
        self.deadline += time.monotonic() - started

    @contextlib.contextmanager
    def holding(self, lock: threading.Lock):
        self.acquire(lock)
        try:
            yield
        finally:
            lock.release()


def parsed(text: str) -> Any:
    """The JSON of an answer's line, read only where it holds at most MAX_CONTAINERS lists and objects;
    Malformed (returned, for the reader thread to hand on) where it does not, or is not JSON."""
    if text.count("[") + text.count("{") > MAX_CONTAINERS:
        return Malformed(f"an answer of more than {MAX_CONTAINERS} lists and objects")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return Malformed("an answer that is not JSON")


class Submission:
    """A submission's process, answering one JSON line per request; `grace` seconds beyond a
    request's own time limit before it is stopped; its `clock` (--total) bounds every wait for it."""

    def __init__(self, process: subprocess.Popen, grace: float = 30.0, stderr: IO[bytes] | None = None,
                 clock: Clock | None = None):
        self.process, self.grace, self.gone, self.stderr = process, grace, "", stderr
        self.clock = clock or Clock(1e9)
        self.lines: queue.Queue[Any] = queue.Queue()
        self.room = threading.Semaphore(1)  # one answer parsed ahead at most
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Read, check and parse each answer as it comes, in this thread of the submission's own."""
        try:
            while not self.ended.is_set() and (line := self.process.stdout.readline(ANSWER_LIMIT + 1)):
                if len(line) > ANSWER_LIMIT:
                    self.stop(f"its process sent more than {ANSWER_LIMIT >> 20} MB in one answer and was "
                              "stopped")
                    break
                if line.startswith(RESULT):
                    self._hand_on(line[len(RESULT):])
        finally:
            self._hand_on(None)

    def _hand_on(self, line: str | None) -> None:
        """Parse an answer's line and queue it, once the last one is taken (dropped once the process is
        stopped); None: the process closed its channel."""
        while not self.ended.is_set():
            if self.room.acquire(timeout=0.2):
                self.lines.put(None if line is None else parsed(line))
                return

    def receive(self, seconds: float, limit: str = "") -> Any:
        """The next answer, waiting at most `seconds` and what is left of the submission's total (`limit`:
        what `seconds` are, for the message, when not just a number of seconds); SubmissionGone (the process
        stopped) if none; Malformed where it is not the grader's."""
        if self.gone:
            raise SubmissionGone(self.gone)
        wait = min(seconds, self.clock.left())
        deadline = time.monotonic() + wait
        while True:
            try:
                line = self.lines.get(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                self.room.release()
                break
            except queue.Empty:
                if self.ended.is_set():  # stopped from its reader thread (an answer past the limit)
                    raise SubmissionGone(self.gone or "the submission's process was stopped") from None
                if time.monotonic() < deadline:
                    continue
            self.stop()
            waited = f"its total of {self.clock.total:g} s" if wait < seconds else limit or f"{seconds:.3g} s"
            self.gone = f"the submission's process gave no answer in {waited} and was stopped"
            raise SubmissionGone(self.gone) from None
        if line is None:
            try:  # it closed its channel to the grader: it ends, or it is made to
                code = self.process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                self.stop()
                code = self.process.wait()
            said = f": {last}" if (last := self.last_error()) else ": out of memory, or it exited"
            self.gone = self.gone or f"the submission's process ended (exit code {code}{said})"
            raise SubmissionGone(self.gone)
        if isinstance(line, Exception):
            raise line
        return line

    def send(self, message: dict) -> None:
        """Write a request; a process that does not read it (stopped, its pipe full) is stopped after the
        grace."""
        if self.gone:
            raise SubmissionGone(self.gone)
        deaf = threading.Timer(self.grace, self.stop, ("its process stopped reading the grader's requests",))
        deaf.start()
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except OSError:
            self.gone = self.gone or "the submission's process ended before it was asked"
            raise SubmissionGone(self.gone) from None
        finally:
            deaf.cancel()

    def stop(self, why: str = "") -> None:
        """Kill the process; `why` is what the grader will say of it."""
        self.gone = self.gone or why
        self.ended.set()
        with contextlib.suppress(OSError):
            self.process.kill()

    def last_error(self) -> str:
        """The last line the process wrote on stderr (at most 200 characters), or ""."""
        return "" if self.stderr is None else last_line(self.stderr)


def last_line(file: IO[bytes]) -> str:
    """The last line written to `file` (at most 200 characters), or ""."""
    file.seek(max(0, file.seek(0, 2) - 4096))
    lines = file.read().decode(errors="replace").strip().splitlines()
    return lines[-1][:200] if lines else ""


class Remote(Elsewhere):
    """Stands in for exercise `name` of a submission: calling it (through an adapter) asks the
    submission's process, and returns the answer or raises what the candidate raised there. `held`,
    a lock the caller holds while it checks, is let go while the submission works on an answer and while
    the answer is decoded; `helpers`: model() runs there with the reference helpers (tfsigns.grading.helpers),
    which this process answers for it, and what it says in words is not shown."""

    def __init__(self, submission: Submission, name: str, timeout: float,
                 held: threading.Lock | None = None, numpy_alone: bool = False,
                 helpers: Callable[[dict], dict] | None = None):
        self.submission, self.name, self.timeout, self.held = submission, name, timeout, held
        self.numpy_alone = numpy_alone  # as the submission's process read it in the code
        self.helpers = helpers
        self.changed: set[str] = set()  # the arguments the candidate changed in place, as its process said

    def via(self, adapter_name: str) -> Candidate:
        if self.helpers and adapter_name == "in_fresh_graph":
            adapter_name = "with_reference_helpers"

        def ask(*args, **kwargs):
            request = {"exercise": self.name, "adapter": adapter_name, "args": encode(args),
                       "kwargs": encode(kwargs), "timeout": self.timeout}
            with self._let_go():
                self.submission.send(request)
                return self._answer(self._reply(), graph=adapter_name == "graph_of")
        return ask

    def __call__(self, *args, **kwargs):
        return self.via("in_fresh_graph")(*args, **kwargs)

    def _reply(self) -> dict:
        """The process's answer to the request just sent, within its time limit and the grace; on the way,
        each reference helper model() calls is answered (in the grader's process, holding the lock)."""
        deadline = time.monotonic() + self.timeout + self.submission.grace
        while True:
            reply = self.submission.receive(max(0.0, deadline - time.monotonic()),
                                            f"{self.timeout + self.submission.grace:.3g} s")
            if not isinstance(reply, dict):
                raise Malformed("an answer that is not the grader's")
            if "helper" not in reply or not self.helpers:
                return reply
            with self.submission.clock.holding(self.held) if self.held else contextlib.nullcontext():
                answer = self.helpers(reply)
            self.submission.send(answer)

    def _answer(self, reply: dict, graph: bool) -> Any:
        quiet = self.helpers is not None
        if "value" in reply:
            changed = reply.get("changed", [])
            if isinstance(changed, list):
                self.changed |= {str(name)[:40] for name in changed[:10]}
            return decode(reply["value"], graph, quiet)
        if "blank" in reply:
            raise Blank(reply.get("printed") is True)
        if "timeout" in reply:
            raise CandidateError(TimeoutError(f"ran past its time limit, {self.timeout:g} s"))
        if "raised" in reply:
            raise CandidateError(rebuilt(reply["raised"], quiet=quiet))
        if "graph_error" in reply:
            raise rebuilt(reply["graph_error"], GraphRunError, quiet)
        if "check_error" in reply:
            raise rebuilt(reply["check_error"], quiet=quiet)
        raise Malformed("an answer that is not the grader's")

    @contextlib.contextmanager
    def _let_go(self):
        if self.held is None:
            yield
            return
        self.held.release()
        try:
            yield
        finally:
            self.submission.clock.acquire(self.held)

"""Autograde in parallel: each collected submission in a worker process running nbgrader's own autograde,
each learner's code in its own sandboxed kernel."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course import upstream
from course.grading import sandbox, settings
from course.grading import state as grading_state
from course.grading.course_dir import Course, api, protect
from course.grading.students import add_unknown_learners

# Failures worth grading again: the gradebook busy. (Kernels talk over IPC sockets in private folders, so
# two workers' kernels can never pick the same port.)
TRANSIENT = ("database is locked",)


@dataclass
class Graded:
    module: str
    learner: str
    ok: bool
    seconds: float
    attempts: int = 1
    error: str = ""


_WORKER = {}


def _busy_timeout(seconds: float = 60.0) -> None:
    """Every SQLite connection this process opens waits for a lock instead of failing at once."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _set(dbapi_connection, _record):  # noqa: ANN001
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


def _worker_start(root: str, log_dir: str) -> None:
    os.chdir(root)
    fd = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                 0o600)
    os.dup2(fd, 2)  # kernel and nbgrader chatter goes to the worker's log, not the instructor's terminal
    sys.stderr = os.fdopen(2, "w", buffering=1)
    _busy_timeout()
    _fast_schema_checks()
    _WORKER["api"] = api(root)
    _WORKER["logs"] = log_dir


def _fast_schema_checks() -> None:
    """nbgrader checks each cell's metadata with `jsonschema.validate`, which first re-checks the schema
    itself, every cell, twice per submission. Check against a validator built once instead: the same
    errors (jsonschema's best match) for the same metadata, without the repeated schema check."""
    import jsonschema
    from jsonschema.exceptions import best_match
    from nbgrader.nbgraderformat import common

    validators = {}

    def validate(instance, schema, *args, **kwargs):
        if args or kwargs:
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        if key not in validators:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validators[key] = cls(schema)
        error = best_match(validators[key].iter_errors(instance))
        if error is not None:
            raise error

    upstream.swap_schema_validation(common, validate)


def _grade(module: str, learner: str, attempts: int = 6) -> Graded:
    """One submission in a worker: nbgrader's own autograde, retried when the gradebook was busy."""
    import random

    start = time.monotonic()
    result = {}
    for attempt in range(1, attempts + 1):
        result = _WORKER["api"].autograde(module, learner, force=True, create=False)
        text = f"{result.get('log', '')}\n{result.get('error', '')}"
        if result.get("success") or not any(cause in text for cause in TRANSIENT):
            break
        time.sleep(random.uniform(0.2, 1.0) * attempt)
    log = Path(_WORKER["logs"], f"{module}+{learner}.log")
    log.write_text(f"{result.get('log', '')}\n{result.get('error', '')}", encoding="utf-8")
    return Graded(module, learner, bool(result.get("success")), time.monotonic() - start, attempt,
                  "" if result.get("success") else (result.get("error") or result.get("log") or "")[-2000:])


def submitted(course: Course, modules: list[str], learners: list[str] | None = None) -> list[tuple[str, str]]:
    """(module, learner) for every collected submission, modules interleaved so workers share them out."""
    work = []
    for module in modules:
        for path in sorted((course.root / "submitted").glob(f"*/{module}")):
            if path.is_dir() and (learners is None or path.parent.name in learners):
                work.append((module, path.parent.name))
    return sorted(work, key=lambda w: (w[1], w[0]))


def default_jobs() -> int:
    """Workers: twice the cores, as each spends about half its time waiting for its kernel (start-up,
    messages); fewer if memory is short (a worker and its kernel take about 0.4 GB)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as fh:
            available = next(int(line.split()[1]) for line in fh if line.startswith("MemAvailable")) / 2**20
    except (OSError, StopIteration):
        available = 4.0
    return max(1, min(2 * cores, int(available / 0.5)))


def autograde(root: str | Path, modules: list[str] | None = None, jobs: int | None = None,
              learners: list[str] | None = None, everything: bool = False, log=print) -> list[Graded]:
    """Autograde collected submissions (of `modules`, or all), `jobs` at a time: those that are new, changed
    since they were last graded, or failed then; with `everything`, all of them. An unchanged submission is
    left alone, so its hand grades stay as they are (nbgrader's autograde would mark them for review again).

    Each worker process holds one NbGraderAPI, configured from the course directory as `nbgrader` is, and
    calls its `autograde(module, learner)`: the very code `nbgrader autograde` runs, so scores are the same.
    Workers share the SQLite gradebook (write-ahead log, a 60 s busy timeout, and a retry of the whole
    submission if nbgrader still reports the database locked). A submission that fails does not stop the
    others; failures are returned, kept for the export, and each submission's log is in
    .grading/logs/autograde/<module>+<learner>.log."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    course = Course.load(root)
    state = grading_state.load(course.grading)
    digests = {(m, who): grading_state.digest(course.root / "submitted" / who / m)
               for m, who in submitted(course, modules or course.modules, learners)}
    work = [w for w, d in digests.items()
            if everything or state["graded"].get(grading_state.key(*w), {}) != {"digest": d, "ok": True}]
    log_dir = course.grading / "logs" / "autograde"
    log_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs or default_jobs(), len(work) or 1))
    unchanged = len(digests) - len(work)
    log(f"autograding {len(work)} submissions with {jobs} workers"
        + (f" ({unchanged} unchanged since graded: left as they are)" if unchanged else "")
        + f"; {sandbox.describe()}")
    results = []
    settings.with_venv_on_path()
    if work:
        add_unknown_learners(course, {who for _, who in work})
        # Workers are forked from this process, unless it runs other threads (a test session's browser,
        # say) that a fork would copy mid-flight: then from a fresh fork server.
        if threading.active_count() == 1:
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["course.grading.autograding", "nbgrader.apps", "nbgrader.api"])
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_start,
                                 initargs=(str(course.root), str(log_dir))) as pool:
            futures = [pool.submit(_grade, module, learner) for module, learner in work]
            for future in as_completed(futures):
                graded = future.result()
                results.append(graded)
                state["graded"][grading_state.key(graded.module, graded.learner)] = {
                    "digest": digests[graded.module, graded.learner], "ok": graded.ok}
                if not graded.ok:
                    log(f"FAILED {graded.module} {graded.learner}: see {log_dir}/{graded.module}+"
                        f"{graded.learner}.log")
        grading_state.save(course.grading, state)
    sandbox.sweep()
    protect(course)
    ok = sum(g.ok for g in results)
    log(f"autograded {ok} of {len(results)} submissions")
    return sorted(results, key=lambda g: (g.module, g.learner))

"""The instructor's side: one grading workflow for both answer paths.

JupyterLab learners hand in with `nbgrader submit` (or upload a file); cohort learners press Submit on the
website, which writes the same exchange layout. From there one nbgrader course directory serves both
(`python -m course instructor ...`):

    init      a ready course directory: config, sandboxed grading kernel, gradebook with the roster,
              every module generated (and released to the exchange for JupyterLab learners)   (here)
    collect   exchange inbound (both paths) + uploaded files -> submitted/<learner>/<module>/  (collecting)
    autograde every collected submission, in parallel, each in its own sandboxed kernel        (autograding)
    feedback  nbgrader feedback, released to the exchange; a copy per learner for the cohort site (feedback)
    export    one CSV row per learner and module                                              (grades)

The course directory itself is `course_dir`; due and opening dates `schedule`; the gradebook's learners
`students`; the sandbox probe `sandbox_check`. Manual grading of reflections stays in formgrader;
`grades.set_manual_grade` does what formgrader does, for scripts and tests.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

from course.contract import COURSE_ID
from course.grading import sandbox, settings
from course.grading.course_dir import GRADING_DIR, STEPS, Course, api, config_text, must_succeed, protect
from course.grading.sandbox_check import check_sandbox
from course.grading.schedule import set_duedates, set_schedule
from course.grading.students import import_roster, instance_learners, roster_learners


def _sticky(course: Course) -> None:
    """nbgrader leaves the exchange root and inbound writable by everyone (0777, 0733): add the sticky bit,
    so a learner can add a hand-in but never rename or remove the course folder or another's hand-in."""
    for folder in (course.exchange, course.exchange / course.course_id / "inbound"):
        os.chmod(folder, os.stat(folder).st_mode | stat.S_ISVTX)


def _wal(course: Course) -> None:
    """Write-ahead logging: readers never block the graders' writes (fewer 'database is locked')."""
    import sqlite3

    conn = sqlite3.connect(course.gradebook, timeout=60)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def init(root: str | Path, roster: str | Path | None = None, course_id: str = COURSE_ID,
         exchange: str | Path | None = None, instance: str | Path | None = None,
         due: dict[str, dt.datetime] | None = None, opens: dict[str, dt.datetime] | None = None,
         late_penalty: str = "none", cell_timeout: int = 120,
         notebook_timeout: int = 600, limits: dict | None = None, modules: list[str] | None = None,
         check: bool = True, log=print) -> Course:
    """Create (or refresh) a ready nbgrader course directory; see the module docstring."""
    from course.grading import release
    from course.paths import folder

    root = Path(root).resolve()
    learners = roster_learners(roster) if roster else None  # a bad roster stops init before any change
    unknown = sorted(set(modules or []) - set(release.module_names()))
    if unknown:
        raise SystemExit(f"unknown modules: {', '.join(unknown)} "
                         f"(modules: {', '.join(release.module_names())})")
    root.mkdir(parents=True, exist_ok=True)
    instance = Path(instance).resolve() if instance else None
    if exchange is None:
        exchange = instance / "exchange" if instance else root / "exchange"
    course = Course(root=root, course_id=course_id, exchange=Path(exchange).resolve(), instance=instance,
                    modules=modules or release.module_names(), cell_timeout=cell_timeout,
                    notebook_timeout=notebook_timeout, late_penalty=late_penalty,
                    limits={**sandbox.LIMITS, **(limits or {})})
    for name in (*STEPS, GRADING_DIR):
        (root / name).mkdir(mode=0o700, exist_ok=True)
    course.save()
    course.exchange.mkdir(parents=True, exist_ok=True)
    warm_chart_cache(course.modules, log=log)
    sandbox.install(course.jupyter_path, course.limits)
    (root / "nbgrader_config.py").write_text(config_text(course), encoding="utf-8")
    protect(course)

    # Sources: a copy of each solutions notebook, so grading keeps to what was released even if authors
    # edit solutions/ later (re-run init to take their changes). nbgrader wants source/<module>/<nb>.ipynb.
    for module in course.modules:
        (root / "source" / module).mkdir(exist_ok=True)
        shutil.copy(folder("solutions") / f"{module}.ipynb", root / "source" / module / f"{module}.ipynb")
    nbg = api(root)
    for module in course.modules:
        must_succeed(nbg.generate_assignment(module, force=True, create=True), f"generate {module}")
    _wal(course)
    if learners is None:
        learners = instance_learners(instance) if instance else []
    log(f"gradebook: {import_roster(course, learners)} learners on the roster")
    if due:
        set_duedates(course, due)
    set_schedule(course, opens or {}, due or {})
    for module in course.modules:  # JupyterLab learners fetch from the exchange's outbound
        must_succeed(nbg.release_assignment(module), f"release {module} to the exchange")
    (course.exchange / course.course_id / "inbound").mkdir(parents=True, exist_ok=True)
    _sticky(course)
    protect(course)
    log(f"course directory: {root} ({len(course.modules)} modules); exchange: {course.exchange}")
    log(sandbox.describe())
    if check:
        found = check_sandbox(course)
        log("sandbox check: " + ", ".join(f"{k}={v}" for k, v in found.items()))
    return course


def warm_chart_cache(modules: list[str], log=print) -> None:
    """Run each module's learner notebook once, outside the sandbox, so every chart it draws is in the
    course's chart cache (course/lesson/cache.py). Grading kernels see the cache read-only: they reuse the drawings
    instead of importing matplotlib and drawing each submission's charts again."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    from course.paths import folder

    folder("cache").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as here:
        for module in modules:
            nb = nbformat.read(folder("modules") / f"{module}.ipynb", as_version=4)
            NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                           kernel_manager_class=settings.GradingKernelManager,
                           resources={"metadata": {"path": here}}).execute()
    log(f"chart cache: {folder('cache')} ready for {len(modules)} modules")

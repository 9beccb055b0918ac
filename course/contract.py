"""The names the kernel, server and grading sides must agree on, in one place that imports nothing.

A learner's kernel, the web servers and the grading commands run in different processes; what one side
writes the other reads. Keep this module free of imports beyond the standard library, so any side may
import it without loading another side's stack (a learner kernel must never load nbgrader).
"""
from __future__ import annotations

import json
import re
from pathlib import Path, PurePath

COURSE_ID = "allies-in-tech"  # nbgrader's CourseDirectory.course_id, and the exchange folder's name

# nbgrader's ClearSolutions stubs: what an answer cell holds in a released notebook.
CODE_STUB = 'answer = None  # put the letter of your choice in quotes, for example: answer = "a"'
TEXT_STUB = "Write your reflection here: double-click this cell to edit it."

# Environment variables the servers set for the kernels they start (learners cannot set them).
LEARNER_ENV = "HTTP_X_ALLIES_LEARNER"  # the signed-in learner; Voilà passes request headers as HTTP_*
STORE_ENV = "ALLIES_STORE"  # the answer store: a SQLite file's path or a postgresql:// URL
INSTANCE_ENV = "ALLIES_INSTANCE"  # the site's private folder (course/instance.py), where feedback is returned
EXCHANGE_ENV = "ALLIES_EXCHANGE"  # nbgrader's exchange root, where Submit hands work in
FEEDBACK_ENV = "ALLIES_CHECK_FEEDBACK"  # when a knowledge check may say right or wrong
SANDBOXED_ENV = "ALLIES_SANDBOXED"  # set in the grading sandbox
SITE_ENV = "ALLIES_SITE"  # which website serves the page: one of SITES
SELF_PACED, COHORT = "self-paced", "cohort"  # a learner's own copy on their computer; a facilitated cohort's
SITES = (SELF_PACED, COHORT)
# Set where a self-paced site's answers last only as long as its server: Binder deletes a session, and the
# answers in it, once it is left unused (binder/start). The pages then say so, and how to keep a copy.
KEPT_ENV, FOR_THE_SESSION = "ALLIES_KEPT", "session"
# The hub's dashboard service (course/web/hub_dashboard.py): its server lets in only the people the hub gives
# the service's access (the instructors' group), so a name in LEARNER_ENV there is an instructor's.
HUB_INSTRUCTORS_ENV = "ALLIES_HUB_INSTRUCTORS_ONLY"

# Set by whoever runs a server or command, not by the servers: the answer store's PostgreSQL URL, used in place
# of the instance's SQLite file (course/instance.py).
STORE_URL_ENV = "ALLIES_STORE_URL"


def instance_folder(environ) -> str | None:
    """The site's private folder as a server hands it on: INSTANCE_ENV, or, where only a SQLite store is named
    (a hub's learner server), the folder the store's file is in; None for neither."""
    store = environ.get(STORE_ENV, "")
    if environ.get(INSTANCE_ENV):
        return environ[INSTANCE_ENV]
    return str(PurePath(store).parent) if store and "://" not in store else None


def folder_env(name: str) -> str:
    """The variable that moves the course folder `name` (data, modules, solutions, cache, …)."""
    return f"ALLIES_{name.upper()}_DIR"


# Item ids: the nbgrader grade_id of an answer cell, and the store's key for a saved answer.
CHECK_ID = re.compile(r"^m(\d\d)-q\d+$")  # a knowledge check's answer cell: m01-q1
CHECK_TEST_ID = re.compile(r"^m(\d\d)-q\d+-check$")  # its hidden test cell: m01-q1-check
REFLECTION_ID = re.compile(r"^m(\d\d)-r\d+$")  # a hand-graded reflection: m01-r1
SELF_ID = re.compile(r"^m(\d\d)-s(\d+)$")  # a self-assessment statement (not graded): m00-s1
ITEM_ID = re.compile(r"^m(\d\d)-[a-z0-9-]+$")  # any saved item, e.g. m06-plan-sponsor

# The follow-through: Module 6's plan (saved as items `m06-plan-…`) comes back in the return visit, which the
# index offers once the plan's check-in date has passed.
PLAN_MODULE = "06-from-learning-to-leading"
PLAN_PREFIX = "m06-plan-"
CHECK_IN_ITEM = PLAN_PREFIX + "check-in"  # the check-in date, as the learner typed it (ISO when it is a date)
FOLLOW_UP_MODULE = "07-four-weeks-on"
SCHEDULE_FILE = "schedule.json"  # in a cohort's instance folder: {module: {"opens", "due"}}, ISO 8601 UTC
FEEDBACK_FOLDER = "feedback"  # in an instance folder: <learner>/<module>.html, and a .json about it


def returned_feedback(instance: str | None, learner: str | None, module: str) -> tuple[str, dict] | None:
    """(html, about) of `learner`'s feedback on `module` (a module's name, without .ipynb), as grading returns
    it to the site's `instance` folder (course/grading/feedback.py); None if there is none yet, or if the
    learner or module is no plain name."""
    names = (learner or "", module)
    if not instance or any(name in ("", ".", "..") or any(c in name for c in "/\\\0") for name in names):
        return None
    folder = Path(instance) / FEEDBACK_FOLDER / learner
    try:
        page = (folder / f"{module}.html").read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        about = json.loads((folder / f"{module}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        about = {}
    return page, about if isinstance(about, dict) else {}


def module_number(item: str) -> str:
    """The two-digit module number of an item id: 'm01-q1' -> '01'. ValueError for anything else."""
    match = ITEM_ID.fullmatch(item)
    if not match:
        raise ValueError(f"not an item id: {item!r}")
    return match.group(1)

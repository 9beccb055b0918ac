"""A learner's progress through the course, for the index page: for each module, how many of its answers are
saved, whether it was handed in, whether feedback is back and when it opens and is due (the instructor's
`INSTANCE/schedule.json`), the module to continue with, and whether the return visit is waiting: once the
check-in date of the learner's Module 6 plan has passed and Module 7 is open, until it is handed in or done.

Served as JSON at `/allies/progress` to the signed-in learner only (on the self-paced site, to its one
learner); the index page fills its module list from it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from functools import lru_cache
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from course.contract import (CHECK_IN_ITEM, FOLLOW_UP_MODULE, LEARNER_ENV, PLAN_MODULE, SCHEDULE_FILE,
                             STORE_ENV, instance_folder)
from course.paths import folder
from course.store.answers import AnswerStore
from course.lesson.submissions import answer_cells, read


@lru_cache(maxsize=None)
def _answer_items(path: Path, _mtime: float) -> frozenset[str]:
    return frozenset(answer_cells(read(path)))


def schedule(instance: Path) -> dict[str, dict[str, str]]:
    """When each module opens and is due, as the instructor set them ({} if never set, or unreadable)."""
    try:
        found = json.loads((instance / SCHEDULE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {module: {key: when for key, when in dates.items() if key in ("opens", "due") and isinstance(when, str)}
            for module, dates in found.items() if isinstance(dates, dict)} if isinstance(found, dict) else {}


def _when(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def check_in(store: AnswerStore, learner: str) -> dt.date | None:
    """The check-in date of the learner's Module 6 plan, when what they typed is a date."""
    text = store.load(learner, PLAN_MODULE).get(CHECK_IN_ITEM, "").strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def of(store: AnswerStore, learner: str, today: dt.date | None = None, *, instance: str | Path) -> dict:
    """{"modules": [{path, answered (checks and reflections), of, started (anything saved: a plan, a review),
    submitted, feedback, opens, due}], "continue": the path last worked in, "waiting": {path, check_in} of the return visit once it waits for this learner, else None}; the
    `instance` folder holds the schedule and returned feedback."""
    now = dt.datetime.now(dt.timezone.utc)
    today = today or now.date()
    activity = store.activity(learner)
    instance = Path(instance)
    feedback = instance / "feedback" / learner
    dates = schedule(instance)
    found, latest = [], None
    for nb in sorted(folder("modules").glob("[0-9][0-9]-*.ipynb")):
        items = _answer_items(nb, nb.stat().st_mtime)
        saved, at, submitted = activity.get(nb.stem, (set(), None, False))
        found.append({"path": nb.name, "answered": len(items & saved), "of": len(items), "started": bool(saved),
                      "submitted": submitted,
                      "feedback": (feedback / f"{nb.stem}.html").is_file(), **dates.get(nb.stem, {})})
        if at is not None and (latest is None or at > latest[0]):
            latest = (at, nb.name)
    follow_up = next((m for m in found if m["path"] == f"{FOLLOW_UP_MODULE}.ipynb"), None)
    due = check_in(store, learner)
    opens = _when(follow_up.get("opens")) if follow_up else None
    waiting = None
    if (follow_up and due and due <= today and not (opens and opens > now)
            and not follow_up["submitted"] and follow_up["answered"] < follow_up["of"]):
        waiting = {"path": follow_up["path"], "check_in": due.isoformat()}
    return {"modules": found, "continue": latest[1] if latest else None, "waiting": waiting}


def learner_asking(handler: JupyterHandler) -> str | None:
    """Whose request `handler` serves: the self-paced site's one learner, or the signed-in one."""
    return os.environ.get(LEARNER_ENV) or getattr(handler.current_user, "username", None)


class ProgressHandler(JupyterHandler):
    """GET: the progress of the learner asking (the self-paced site's one learner, or the signed-in one)."""

    @web.authenticated
    def get(self):
        learner = learner_asking(self)
        instance = instance_folder(os.environ)
        if not learner or STORE_ENV not in os.environ or instance is None:
            raise web.HTTPError(404)
        with AnswerStore(os.environ[STORE_ENV]) as store:
            body = of(store, learner, instance=instance)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

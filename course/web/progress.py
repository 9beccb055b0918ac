"""A learner's progress through the course, for the index page: for each module, how many of its answers are
saved, whether it was handed in and whether feedback is back, and the module to continue with.

Served as JSON at `/allies/progress` to the signed-in learner only (on the self-paced site, to its one
learner); the index page fills its module list from it.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from course.contract import INSTANCE_ENV, LEARNER_ENV, STORE_ENV
from course.paths import folder
from course.store.answers import AnswerStore
from course.lesson.submissions import answer_cells, read


@lru_cache(maxsize=None)
def _answer_items(path: Path, _mtime: float) -> frozenset[str]:
    return frozenset(answer_cells(read(path)))


def of(store: AnswerStore, instance: str | Path, learner: str) -> dict:
    """{"modules": [{path, answered, of, submitted, feedback}], "continue": the path last worked in}; feedback
    is returned into the `instance` folder."""
    activity = store.activity(learner)
    feedback = Path(instance) / "feedback" / learner
    found, latest = [], None
    for nb in sorted(folder("modules").glob("[0-9][0-9]-*.ipynb")):
        items = _answer_items(nb, nb.stat().st_mtime)
        saved, at, submitted = activity.get(nb.stem, (set(), None, False))
        found.append({"path": nb.name, "answered": len(items & saved), "of": len(items), "submitted": submitted,
                      "feedback": (feedback / f"{nb.stem}.html").is_file()})
        if at is not None and (latest is None or at > latest[0]):
            latest = (at, nb.name)
    return {"modules": found, "continue": latest[1] if latest else None}


class ProgressHandler(JupyterHandler):
    """GET: the progress of the learner asking (the self-paced site's one learner, or the signed-in one)."""

    @web.authenticated
    def get(self):
        learner = os.environ.get(LEARNER_ENV) or getattr(self.current_user, "username", None)
        if not learner or STORE_ENV not in os.environ:
            raise web.HTTPError(404)
        with AnswerStore(os.environ[STORE_ENV]) as store:
            body = of(store, os.environ[INSTANCE_ENV], learner)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

"""nbgrader's Assignments API (its assignment_list server extension) in a learner's own server on JupyterHub,
refusing any course but this one and any assignment that is not a plain name before nbgrader reads either.

nbgrader builds its paths from the request's `course_id` and `assignment_id` as they come: with `../` or an
absolute path in them, a fetch copied the exchange's inbound folder (every learner's hand-ins) or released work
to folders outside the learner's home, and a submit handed in another learner's folder as the learner's own.
`course.web.hub` routes the API's addresses here; its extension loads before nbgrader's (jupyter_server loads
extensions in order of their names), so these routes come first.
"""
from __future__ import annotations

import json
import re

from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.assignment_list.handlers import AssignmentActionHandler, AssignmentListHandler
from tornado import web

from course import contract

ASSIGNMENT = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,99}")  # a module's name: 01-why-men-why-now
REFUSED = json.dumps({"success": False, "value": f"Only the assignments of the course {contract.COURSE_ID} can be "
                      "fetched, submitted or given feedback here, by their names as the Assignments list shows them."})


def is_course(course_id) -> bool:
    return course_id == contract.COURSE_ID


def is_assignment(assignment_id) -> bool:
    return isinstance(assignment_id, str) and ASSIGNMENT.fullmatch(assignment_id) is not None


def refuse(handler: web.RequestHandler) -> None:
    """A 400 with nbgrader's JSON for a failure, naming nothing the request said."""
    handler.set_status(400)
    handler.set_header("Content-Type", "application/json")
    handler.finish(REFUSED)


class Assignments(AssignmentListHandler):
    """The list of the course's assignments: this course's only."""

    @web.authenticated
    def get(self):
        if not is_course(self.get_argument("course_id", None)):
            return refuse(self)
        return super().get()


class AssignmentActions(AssignmentActionHandler):
    """Fetch, submit and fetch feedback: this course's assignments only, by plain names."""

    @web.authenticated
    def post(self, action):
        try:  # as nbgrader reads them: a form's fields, else a JSON body's
            ids = self.get_argument("course_id"), self.get_argument("assignment_id")
        except web.MissingArgumentError:
            body = self.get_json_body()
            ids = (body.get("course_id"), body.get("assignment_id")) if isinstance(body, dict) else (None, None)
        if not (is_course(ids[0]) and is_assignment(ids[1])):
            return refuse(self)
        return super().post(action)


def routes(base_url: str) -> list:
    """The API's addresses in the server at `base_url` that these handlers answer (nbgrader's own patterns)."""
    return [(url_path_join(base_url, "/assignments"), Assignments),
            (url_path_join(base_url, "/assignments/(?P<action>fetch|submit|fetch_feedback)"), AssignmentActions)]

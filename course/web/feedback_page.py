"""A learner's returned feedback as a page of its own, `/allies/feedback/<module>`, which a phone shows whole
(the module page shows it in a frame too). Sent to the signed-in learner only, and only their own; it is
the course's page of the grading (`course.grading.feedback_view`) and holds the learner's own text, so it is
sent as a sandbox that runs nothing: no scripts, no forms, no requests, nothing from elsewhere, only its own
styles and images."""
from __future__ import annotations

import os

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from course.contract import instance_folder, returned_feedback
from course.paths import folder
from course.web.progress import learner_asking

ROUTE = "/allies/feedback/([^/]+)"
POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
          "base-uri 'none'; frame-ancestors 'self'")


class FeedbackHandler(JupyterHandler):
    """GET: the asking learner's feedback on a module of this site; 404 if there is none (yet)."""

    @property
    def content_security_policy(self) -> str:
        return POLICY

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")  # (its 404 too, which says whether feedback is back)

    @web.authenticated
    def get(self, module: str):
        modules = {path.stem for path in folder("modules").glob("[0-9][0-9]-*.ipynb")}
        found = module in modules and returned_feedback(instance_folder(os.environ), learner_asking(self), module)
        if not found:
            raise web.HTTPError(404, "No feedback on this module has been returned to you yet.")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(found[0])

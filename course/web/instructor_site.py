"""The instructor site: a separate Voilà server for instructor-only apps, today the cohort dashboard.

It serves only `instructor/dashboard.ipynb`, with the course's `allies` template, and signs people in
against the cohort's roster like the cohort site, but lets in only those whose role is "instructor": a
learner's correct code is refused with a message that says why. The role is checked again on every
request, and the sign-in cookie has its own name and its own secret, so a learner's cookie from the
cohort site is never accepted here. The dashboard's kernel reads the cohort's answer store, whose
location the server hands it (ALLIES_STORE), as the cohort site does.

    python -m course instructor dashboard --instance /srv/allies-cohort-1 --port 8867
"""
from __future__ import annotations

from pathlib import Path

from traitlets import default

from course.web import kernels, site
from course import upstream
from course.web.cohort import HEADER, CourseLoginHandler, RosterIdentityProvider
from course.instance import Instance
from course.paths import folder
from course.store.answers import AnswerStore

ROLE = "instructor"
DEFAULT_PORT = 8867
NOTEBOOK = "dashboard.ipynb"
COOKIE_NAME = "allies-instructor"
SECRET_FILE = "instructor_cookie_secret"

WRONG_CODE = "That id and access code do not match. Check them, or ask for a new code."
NOT_INSTRUCTOR = ("This is the instructors' dashboard: only people with the instructor role on the cohort's "
                  "roster can sign in here. Your sign-in works on the course website.")

class InstructorLoginHandler(CourseLoginHandler):
    """The sign-in page, which tells a learner plainly that this site is not theirs."""

    page = {"title": "Instructor sign-in", "heading": "Allies in Tech — instructors", "who": "Instructor",
            "intro": "The cohort dashboard is for the cohort's instructors. Sign in with your id and access "
                     "code from the cohort's roster."}

    def refusal(self, person):
        if person is None:
            return 401, WRONG_CODE
        if person.role != ROLE:
            self.log.warning("Refused sign-in to the instructor site: %r is not an instructor", person.learner_id)
            return 403, NOT_INSTRUCTOR
        return None


class InstructorIdentityProvider(RosterIdentityProvider):
    """RosterIdentityProvider that admits only the roster's instructors, checked at sign-in and on every
    request (a cookie outlives a change to the roster)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.login_handler_class = InstructorLoginHandler

    @default("cookie_name")
    def _default_cookie_name(self):
        return COOKIE_NAME

    def _is_instructor(self, person_id: str) -> bool:
        return any(p.learner_id == person_id and p.role == ROLE for p in self.roster().learners())

    async def get_user(self, handler):
        user = await super().get_user(handler)
        if user is not None and not self._is_instructor(user.username):
            handler.request.headers.pop(HEADER, None)
            self.clear_login_cookie(handler)
            return None
        return user


def dashboard(port: int):
    """Voilà on instructor/dashboard.ipynb alone, the kernel told who signed in (HEADER), each instructor's
    kernel theirs; the sign-in is the caller's."""
    root = folder("instructor")
    if links := site.links_out(root):
        raise SystemExit(f"Not serving {root}: these links lead outside it: {', '.join(links)}")
    c = site.config(port, open_browser=False)
    site.hosted(c)
    c.Voila.root_dir = str(root)
    c.Voila.notebook_path = str(root / NOTEBOOK)  # "/" is the dashboard; nothing else renders
    c.VoilaConfiguration.http_header_envs = [HEADER]
    c.VoilaConfiguration.multi_kernel_manager_class = kernels.OwnedKernelManager
    c.Voila.authorizer_class = kernels.KernelOwnerAuthorizer
    # No preheated kernels: a kernel rendered ahead of time would show counts from before the page opened.
    c.VoilaConfiguration.preheat_kernel = False
    return c


def config(instance: Instance, port: int = DEFAULT_PORT):
    """The dashboard behind the instructors-only sign-in."""
    c = dashboard(port)
    c.Voila.identity_provider_class = InstructorIdentityProvider
    c.InstructorIdentityProvider.store_path = str(instance.store)
    c.InstructorIdentityProvider.cookie_options = {"samesite": "Lax"}
    c.Voila.cookie_secret = instance.cookie_secret(SECRET_FILE)  # never the cohort site's
    return c


def serve(instance_dir: str | Path, port: int = DEFAULT_PORT) -> None:
    """Run the instructor site for the cohort in `instance_dir` until interrupted (127.0.0.1 only)."""
    upstream.check_versions()
    instance = Instance(instance_dir)
    AnswerStore(instance.store).close()
    site.environment(instance)
    site.CourseVoila.launch_instance(argv=[], config=config(instance, port))

"""The course in each learner's own Jupyter server on JupyterHub (deploy/jupyterhub/).

JupyterHub signs people in (any authenticator) and starts one single-user server per person. The spawner,
not the learner, sets that server's environment (`learner_environment`): who the learner is (the hub's user
name, `contract.LEARNER_ENV`), their own answer store, the shared nbgrader exchange and when knowledge checks
may show their key. Voilà's kernels inherit it, and Voilà passes no request header to a kernel unless told
to (`VoilaConfiguration.http_header_envs`, left empty), so no page can claim another learner's name.

The server loads the course through `configure` (called from deploy/jupyterhub/singleuser/
jupyter_server_config.py): Voilà renders `modules/` with the course's `allies` template exactly as the
course's own sites do (`course.web.site.pages`), nbgrader's formgrader and course list are off, and this
module's server extension adds the index page's progress route, checks what nbgrader's Assignments API is asked
for (`course.web.handins`), sends the course's error pages on Voilà's routes and prepares the learner's store.
The kernels of the learner's module pages keep the cohort site's bounds (`page_kernels`); those the learner starts
in JupyterLab are theirs.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from jupyter_server.utils import url_path_join
from traitlets.config import Config
from voila.static_file_handler import TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler

from course import contract, upstream
from course.lesson import keys
from course.paths import folder
from course.store import roles
from course.store.answers import AnswerStore, LearnerExists, is_url
from course.web import connections, errors, feedback_page, handins, kernels, progress, site

# Module pages' kernels a learner's server runs at once: at kernels.KERNEL_MB each, with the server's own
# 171 MiB (docs/capacity.md), within the 1 GiB a learner's pod may use (deploy/z2jh/values.yaml).
MAX_PAGE_KERNELS = 4
FULL = (f"You already have {MAX_PAGE_KERNELS} modules open, as many as your course server runs at once. "
        "Close the page of one you are done with, and this one opens.")
COURSE_URL = "/voila/tree/modules"  # the hub's default_url: the course index, in the learner's own server
MODULES_LINK = "modules"  # in the learner's home: a link to the course's modules (Voilà serves the server's root)
# nbgrader's server extensions a learner's server runs: the Assignments tab (fetch, submit, feedback) and
# validation, never the formgrader or the course list, which are the instructors'.
LEARNER_EXTENSIONS = {
    "course.web.hub": True,
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
}


def store_of(cohort: str | Path, learner: str) -> Path:
    """The learner's own answer store in the cohort folder. It sits beside `feedback/`, where `python -m course
    instructor feedback --instance`-style delivery puts each learner's returned feedback
    (`course.contract.returned_feedback` looks beside the store)."""
    if not learner or learner.startswith(".") or any(ch in learner for ch in "/\\+\x00"):
        raise ValueError(f"user name {learner!r} cannot name a learner's store or an nbgrader submission")
    return Path(cohort) / f"answers-{learner}.sqlite3"


def learner_environment(learner: str, cohort: str | Path, exchange: str | Path,
                        check_feedback: str = keys.AFTER_GRADING, store_url: str | None = None) -> dict[str, str]:
    """What the spawner sets for `learner`'s server: the learner's name, their store, the exchange, the site
    kind, the feedback mode, and where Jupyter finds the course's template and the server's config.

    The store is the learner's own SQLite file in `cohort`, or, given the URL of a shared PostgreSQL store
    (`store_url`, its owner's), a URL of the learner's own role, which opens their rows only
    (`course.store.roles`); feedback is returned to `cohort` either way."""
    if check_feedback not in keys.MODES:
        raise ValueError(f"check_feedback must be one of {', '.join(keys.MODES)}, not {check_feedback!r}")
    store = roles.learner_url(store_url, learner) if store_url else str(store_of(cohort, learner))
    return {
        contract.LEARNER_ENV: learner,
        contract.STORE_ENV: store,
        contract.INSTANCE_ENV: str(cohort),
        contract.EXCHANGE_ENV: str(exchange),
        contract.SITE_ENV: contract.COHORT,
        contract.FEEDBACK_ENV: check_feedback,
        "JUPYTER_PATH": str(site.JUPYTER_DIR),
        "JUPYTER_CONFIG_PATH": str(SINGLEUSER_CONFIG),
    }


SINGLEUSER_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "jupyterhub" / "singleuser"


def configure(c: Config) -> None:
    """A learner's server: the course's Voilà pages and their kernels bounded (`page_kernels`), idle kernels
    culled, the learner's extensions only, and kernels over Unix sockets (`kernels_over_ipc`)."""
    site.pages(c)
    site.cull(c, 600)
    c.ServerApp.jpserver_extensions.update(LEARNER_EXTENSIONS)
    page_kernels(c)
    kernels_over_ipc(c)


def page_kernels(c: Config) -> None:
    """The cohort site's bounds on the kernels of the learner's module pages (`course.web.kernels`), so that
    reloading pages cannot pile kernels up on the hub's shared machine: one kernel per page (a reload's
    replaces the one before, which is shut down); at most MAX_PAGE_KERNELS at once, past which a new page
    waits, saying why (FULL), until the learner closes another (`kernels.PageHandler`, which takes Voilà's
    place as the server starts); none started that would leave the machine short of memory; and one that no
    page has been connected to for `kernels.UNATTENDED_SECONDS` ends (a page whose browser answers no ping
    for `connections.PING_TIMEOUT_SECONDS` is not connected). The server has one learner and no sign-in
    sessions: its kernels are keyed by page. Kernels started in JupyterLab are no page's: none of this
    touches them, and the idle cull ends them as before."""
    c.ServerApp.kernel_manager_class = "course.web.kernels.OwnedKernelManager"
    c.OwnedKernelManager.max_kernels = MAX_PAGE_KERNELS
    c.OwnedKernelManager.full_reason = FULL
    c.ServerApp.kernel_websocket_connection_class = "course.web.connections.EndableConnection"
    c.ServerApp.tornado_settings = connections.pings(connections.PING_TIMEOUT_SECONDS)


def kernels_over_ipc(c: Config) -> None:
    """Kernels that talk to their server over Unix sockets, as on the cohort site (`site.config`), not over TCP
    ports picked beforehand: a port found free, then bound by the kernel a moment later, may have gone to another
    process by then (on the hub's machine: other learners' servers and kernels, the proxy's connections), and
    with a cohort arriving at once, kernels died of it (bench/HUB_LOAD.md).

    A socket's path must fit in 107 bytes, and jupyter_client names each after its connection file in the
    server's runtime folder: under a home folder, with a long user name (an LMS's `sub`), it would not. So the
    server's runtime files (the connection files, its own) go to a new private folder in the temporary folder,
    removed when the server exits."""
    c.KernelManager.transport = "ipc"
    runtime = tempfile.mkdtemp(prefix="allies-jupyter-")  # 0700, a new name: no other user can have made it
    atexit.register(shutil.rmtree, runtime, ignore_errors=True)
    os.environ["JUPYTER_RUNTIME_DIR"] = runtime  # read by the server when it first asks for its runtime folder


def link_modules(home: Path) -> None:
    """Give the learner's home a `modules` link to the course's modules, so that Voilà (which serves the
    server's root folder) shows them at COURSE_URL; an existing `modules` of the learner's own is left."""
    link = home / MODULES_LINK
    if not link.exists() and not link.is_symlink():
        link.symlink_to(folder("modules"), target_is_directory=True)


def prepare_store(learner: str, path: str | Path) -> None:
    """The learner in their own store (saves need them there); a shared store's URL needs nothing: the hub
    put them on its roster when it made their role."""
    if is_url(path):
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with AnswerStore(path) as store:
        try:
            store.add_learner(learner, learner)
        except LearnerExists:
            pass


def _jupyter_server_extension_points():
    return [{"module": "course.web.hub"}]


def _load_jupyter_server_extension(server_app) -> None:
    learner = os.environ.get(contract.LEARNER_ENV)
    if not learner or contract.STORE_ENV not in os.environ:
        server_app.log.warning("course.web.hub: no learner or store in this server's environment: answers "
                               "on the course's pages will not be saved")
    else:
        prepare_store(learner, os.environ[contract.STORE_ENV])
    link_modules(Path(server_app.root_dir).expanduser())
    base_url = server_app.web_app.settings["base_url"]
    server_app.web_app.add_handlers(".*$", [
        (url_path_join(base_url, "/allies/progress"), progress.ProgressHandler),
        (url_path_join(base_url, feedback_page.ROUTE), feedback_page.FeedbackHandler), *handins.routes(base_url)])


async def _start_jupyter_server_extension(server_app) -> None:
    """Once every extension has added its routes (Voilà's load after this one's), module pages are the
    course's `kernels.PageHandler` and template files are found or not (never a 500), and every route of
    Voilà's sends the course's error pages, as on the course's own sites (`site.CourseVoila.init_handlers`):
    jupyter_server's `write_error` rendered the template's error.html without the course's words (an empty
    title and heading), tornado's a bare page. Extensions start as the server's loop does."""
    web_app = server_app.web_app
    upstream.replace_routed_handlers(web_app, {TornadoVoilaHandler: kernels.PageHandler,
                                               TemplateStaticFileHandler: site.TemplateStaticFiles})
    voila = url_path_join(web_app.settings["base_url"], "/voila")
    for route in upstream.routed_rules(web_app):
        if route.matcher.regex.pattern.startswith(voila):
            route.target = errors.with_error_pages(route.target)

"""The self-paced course website: Voilà serving only `modules/` with the course's `allies` template."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
from functools import lru_cache
from pathlib import Path

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.log import app_log
from traitlets import Bool
from traitlets.config import Config
from voila.app import Voila
from voila.exporter import VoilaExporter, VoilaMarkdownRenderer
from voila.request_info_handler import RequestInfoSocketHandler
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.static_file_handler import TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.utils import make_url

from course import contract, upstream
from course.web import errors, feedback_page, front_door, kernels, progress
from course.lesson import keys, timing
from course.grading import release
from course.instance import Instance
from course.paths import folder
from course.store.answers import MAX_VALUE_BYTES

LOCAL_LEARNER = "local"

# Voilà finds templates under <JUPYTER_PATH entry>/voila/templates/<name>.
JUPYTER_DIR = Path(__file__).resolve().parents[1] / "jupyter"


OBJECTIVE = re.compile(r"^\d+\. (.+)$")  # a numbered line of a module's opening cell: one objective


def modules() -> list[dict]:
    """Every `modules/NN-*.ipynb`, in course order, as {"path", "title", "minutes" (as the module states
    them), "objectives" (its opening cell's numbered list)}."""
    return [_module(nb, nb.stat().st_mtime) for nb in sorted(folder("modules").glob("[0-9][0-9]-*.ipynb"))]


@lru_cache(maxsize=64)
def _module(nb: Path, _mtime: float) -> dict:
    opening = "".join(json.loads(nb.read_text(encoding="utf-8"))["cells"][0]["source"])
    return {"path": nb.name, "title": release.title(nb), "minutes": timing.stated_minutes(nb),
            "objectives": [m.group(1) for line in opening.splitlines() if (m := OBJECTIVE.match(line))]}


# The module pages' front end (built from frontend/ by `make install`): the index page prefetches it.
FRONT_END = ["static/page.js", "static/page.css"]


def _page_config(page_config: dict, notebook_path: str = "", base_url: str = "/", **_kwargs) -> dict:
    """Voilà's page_config_hook: give the index page (tree.html) the module list, and the front end's
    versioned URLs, so that the browser fetches (and caches) it while the learner picks a module; give
    module pages the largest answer the store keeps, so that they refuse a larger one before sending it, the
    modules before and after them, for their previous and next links, and their place in the course."""
    page_config["alliesMaxAnswerBytes"] = MAX_VALUE_BYTES
    page_config["alliesSite"] = os.environ.get(contract.SITE_ENV, contract.COHORT)
    page_config["alliesIfItComesBack"] = errors.help_here()["retry"]
    if notebook_path.endswith(".ipynb"):
        listed = [{"path": m["path"], "title": m["title"]} for m in modules()]
        here = next((i for i, m in enumerate(listed) if m["path"] == Path(notebook_path).name), None)
        if here is not None:
            page_config["alliesPrevious"] = listed[here - 1] if here else None
            page_config["alliesNext"] = listed[here + 1] if here + 1 < len(listed) else None
            page_config["alliesPlace"] = {"number": here + 1, "of": len(listed)}
    else:
        # The folder the index lists, as the page's links need it: "" on the course's own sites (served from
        # modules/), "modules/" in a learner's own Jupyter server on JupyterHub (`course.web.hub`).
        page_config["alliesFolder"] = f"{notebook_path.strip('/')}/" if notebook_path.strip("/") else ""
        page_config["alliesModules"] = modules()
        page_config["alliesPrefetch"] = [make_url("allies", base_url, name) for name in FRONT_END]
    return page_config


def links_out(root: Path) -> list[str]:
    """Symbolic links under `root` that lead outside it: Jupyter's file handlers follow them."""
    real = root.resolve()
    found = []
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(here) / name
            if path.is_symlink() and not path.resolve().is_relative_to(real):
                found.append(str(path.relative_to(root)))
    return sorted(found)


def config(port: int = 8866, open_browser: bool = True) -> Config:
    """The Voilà configuration: modules/ only, on 127.0.0.1, idle kernels culled."""
    if links := links_out(folder("modules")):
        raise SystemExit(f"Not serving {folder('modules')}: these links lead outside it and would be "
                         f"served with it: {', '.join(links)}")
    c = Config()
    c.Voila.ip = "127.0.0.1"
    c.Voila.port = port
    c.Voila.port_retries = 0
    c.Voila.open_browser = open_browser
    c.Voila.root_dir = str(folder("modules"))
    pages(c)
    c.MappingKernelManager.allow_tracebacks = False  # nor in the kernel's error messages to the page
    c.MappingKernelManager.kernel_manager_class = "course.web.kernels.ScrubbedKernel"
    c.VoilaConfiguration.multi_kernel_manager_class = "course.web.pools.PooledKernelManager"
    # Kernels talk to the server over Unix sockets named after each kernel's connection file, not TCP ports
    # picked beforehand: two kernels starting at once can no longer race for a port (one died of it).
    c.KernelManager.transport = "ipc"
    c.Voila.kernel_websocket_connection_class = "course.web.connections.EndableConnection"
    # Only requests for this computer's own names (127.0.0.1, localhost): Voilà turns jupyter_server's Host check
    # off, and a site with no sign-in was then open to any web page that points its own name at 127.0.0.1
    # (DNS rebinding), which could run code in a kernel. The sites with a sign-in, served under their own
    # names, turn it back on (`hosted`).
    c.Voila.tornado_settings = {"serve_traceback": False, "allow_remote_access": False,
                                "xsrf_cookie_kwargs": {"samesite": "Lax"}}
    c.IdentityProvider.cookie_options = {"samesite": "Lax"}  # (the sites with a sign-in set their own the same)
    # A closing page shuts its kernel down (frontend/); kernels of pages that could not are culled.
    cull(c, 600)
    return c


def hosted(c: Config) -> None:
    """For a site with a sign-in that a proxy serves under the cohort's own name: any Host header."""
    c.Voila.tornado_settings["allow_remote_access"] = True


def pages(c: Config) -> None:
    """How Voilà renders the course, as the course's own server or as a Jupyter server's extension (a
    learner's server on JupyterHub, `course.web.hub`): the `allies` template and nothing from the URL."""
    c.VoilaConfiguration.template = "allies"
    # No ?template= / ?theme= from the URL: those would bring back the stock page and its CDN links.
    c.VoilaConfiguration.allow_template_override = "NO"
    c.VoilaConfiguration.allow_theme_override = "NO"
    c.VoilaConfiguration.classic_tree = True  # the Jinja tree page, templated by tree.html
    c.VoilaConfiguration.show_tracebacks = False
    # No file route at all: the pages draw their charts inline, and Voilà would send images under the
    # served folder to anyone, signed in or not.
    c.VoilaConfiguration.file_allowlist = []
    c.VoilaConfiguration.page_config_hook = _page_config
    c.VoilaExporter.markdown_renderer_class = "course.web.site.HeadingRenderer"
    # The pages show no code: none of the Pygments highlighting styles (4.6 KB) that nbconvert's lab template
    # puts in every page's head, to be read before its first paint.
    c.CSSHTMLHeaderPreprocessor.enabled = False


class HeadingRenderer(VoilaMarkdownRenderer):
    """Markdown as Voilà renders it, but a heading keeps only its id (a link to #that-id still works), not
    the "¶" link nbconvert appends: screen readers read that link as part of every heading's name."""

    ANCHOR = re.compile(r'<a class="anchor-link" href="[^"]*">[^<]*</a>(?=</h[1-6]>\Z)')

    def heading(self, text: str, level: int, **attrs) -> str:
        return self.ANCHOR.sub("", super().heading(text, level, **attrs))


def adapt_voila() -> None:
    """What this server process changes in Voilà (`course.upstream`): its request-info socket hands a
    preheated kernel's request over once, lets no stranger unhook a waiting kernel, and records the kernel's
    learner as it is handed out (tests/test_cohort_security.py and tests/test_upstream.py)."""
    upstream.patch_request_info_socket(RequestInfoSocketHandler, kernels.handed_over)


class RequestInfoSocket(RequestInfoSocketHandler):
    """Voilà's socket where a preheated kernel learns which request claimed it, asking jupyter_server's Host
    check first as every page does (a plain tornado socket, it did not: on the self-paced site a page under
    another name, pointed at 127.0.0.1, could open it). The kernels connect to 127.0.0.1."""

    log = app_log  # (for check_host)

    def prepare(self):
        if not JupyterHandler.check_host(self):
            raise web.HTTPError(403)


class TemplateStaticFiles(TemplateStaticFileHandler):
    """Voilà's route for its templates' static files, where an address that is not
    `<template>/static/<file>` once normalised is not found (404): Voilà's own handler fails an `assert` or an
    unpacking on it (a 500)."""

    def parse_url_path(self, url_path: str) -> str:
        parts = posixpath.normpath(url_path).split("/")
        if len(parts) < 3 or parts[0] in (".", "..") or parts[1] != "static":
            raise web.HTTPError(404)
        return super().parse_url_path("/".join(parts))


class SharedTemplateCode(BytecodeCache):
    """Compiled Jinja templates, kept in memory and shared by every Jinja environment of this process with
    the same settings. Voilà renders each page (each preheated kernel's too) with a new exporter, whose new
    environment would otherwise parse and compile the page's templates again: a quarter of the server's
    CPU for each arriving learner. A template whose source changes is compiled again."""

    # What changes the code Jinja compiles a template to (as `jinja2.lexer.get_lexer` keys its lexers, and
    # the compiler's own switches).
    SETTINGS = ("block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
                "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
                "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "is_async",
                "optimized", "autoescape", "finalize")

    def __init__(self):
        self._code: dict[str, tuple[str, object]] = {}

    def get_bucket(self, environment, name: str, filename: str | None, source: str) -> Bucket:
        settings = [repr(getattr(environment, name)) for name in self.SETTINGS] + sorted(environment.extensions)
        key = hashlib.sha256(repr((settings, name, filename)).encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        checksum, code = self._code.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = (bucket.checksum, bucket.code)


TEMPLATE_CODE = SharedTemplateCode()


def cull(c: Config, idle_seconds: int) -> None:
    """Shut down kernels idle for `idle_seconds` (0: never), checking every minute or more often."""
    c.MappingKernelManager.cull_idle_timeout = idle_seconds
    c.MappingKernelManager.cull_interval = max(1, min(60, idle_seconds // 2))


class CourseVoila(Voila):
    """Voilà on the course's HTTP server, with its error pages and routes; its kernel pools are
    `course.web.pools`' (a pool kernel is handed out only once ready; until then a page starts one as usual).

    Stock Voilà gives each request the oldest pool kernel even while it is still starting, so in a burst
    every learner queues behind kernels that are starting.
    """

    behind_https = Bool(False, config=True, help="Reached through an HTTPS proxy on this machine: take the "
                        "client's address and scheme from its X-Forwarded-For and X-Forwarded-Proto.")

    def get_default_logging_config(self) -> dict:
        """traitlets' logging set-up, with the server's logger at its own log level rather than DEBUG (only
        its handler then drops what is below that level): jupyter_client and nbclient log thousands of debug
        lines for each page rendered, and each made a record that was then dropped."""
        config = super().get_default_logging_config()
        if logger := config.get("loggers", {}).get(type(self).__name__):
            logger["level"] = logging.getLevelName(self.log_level)
        return config

    def init_settings(self):
        settings = super().init_settings()
        upstream.use_page_templates(settings, errors.pages())
        errors.for_unknown_addresses(settings)
        upstream.share_compiled_templates(VoilaExporter, TEMPLATE_CODE)
        # The modules are stored without outputs, so jupyter_server's "Notebook … is not trusted" (one line per
        # notebook opened) says nothing about them: Voilà marks the outputs it makes trusted itself. Nor does a
        # warning with no words (jupyter_server logs one as a page's kernel connection closes).
        self.log.addFilter(lambda record: "is not trusted" not in record.getMessage()
                           and bool(record.getMessage().strip()))
        return settings

    def listen(self):
        """Voilà's listen, on the course's HTTP server (`course.web.front_door`) rather than tornado's default one."""
        upstream.listen_through(self, lambda app: front_door.http_server(app, self.behind_https))
        super().listen()

    def init_handlers(self) -> list:
        """Voilà's routes, with its shutdown route asking the authorizer as the kernel routes do, its module
        pages saying when the site is full, its template files found or not (never a 500), its preheated
        kernels' request socket asking the Host check, and no sign-out
        on a site nobody signs in to (jupyter_server's sign-out page needs files the sites do not serve);
        first, the learner's progress for the index page and their returned feedback on a page of its own.
        Every route's errors are the course's page."""
        routes = super().init_handlers()
        replacements = {VoilaShutdownKernelHandler: kernels.ShutdownKernelHandler,
                        TornadoVoilaHandler: kernels.PageHandler, TemplateStaticFileHandler: TemplateStaticFiles}
        if any(route[1] is RequestInfoSocketHandler for route in routes):  # (with preheated kernels only)
            replacements[RequestInfoSocketHandler] = RequestInfoSocket
        routes = upstream.replace_handlers(routes, replacements)
        if not self.identity_provider.auth_enabled:
            routes = [route for route in routes if route[1] is not self.identity_provider.logout_handler_class]
        return errors.everywhere([(url_path_join(self.server_url, "/allies/progress"), progress.ProgressHandler),
                                  (url_path_join(self.server_url, feedback_page.ROUTE), feedback_page.FeedbackHandler),
                                  *routes])


def preheat(c: Config, pool_size: int) -> None:
    """Keep `pool_size` kernels per module started and rendered ahead of the learners who will use them."""
    c.VoilaConfiguration.preheat_kernel = pool_size > 0
    c.VoilaConfiguration.default_pool_size = pool_size
    c.VoilaKernelManager.fill_delay = 0


def environment(instance: Instance, learner: str | None = None,
                check_feedback: str = keys.AFTER_GRADING, kind: str = contract.COHORT) -> None:
    """What the server hands to every kernel it starts: the template path, the answer store, the exchange,
    when a knowledge check may show its key (`course.lesson.keys`), which site this is (`kind`, so that pages speak
    to a cohort's learner or to one on their own) and, on a single-learner site only, who the learner is."""
    if check_feedback not in keys.MODES:
        raise ValueError(f"check_feedback must be one of {', '.join(keys.MODES)}, not {check_feedback!r}")
    os.environ[contract.FEEDBACK_ENV] = check_feedback
    # Kernels import the debugger, which warns at start that Python's frozen modules may hide breakpoints:
    # nobody debugs a learner's kernel, so the warning only fills the log.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    os.environ[contract.SITE_ENV] = kind
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(JUPYTER_DIR),
                                                               os.environ.get("JUPYTER_PATH")]))
    os.environ[contract.STORE_ENV] = str(instance.store)
    os.environ[contract.INSTANCE_ENV] = str(instance.root)
    os.environ[contract.EXCHANGE_ENV] = str(instance.exchange)
    if learner:
        os.environ[contract.LEARNER_ENV] = learner
    else:
        os.environ.pop(contract.LEARNER_ENV, None)


def serve(port: int = 8866, open_browser: bool = True, instance_dir: str | None = None,
          pool_size: int = 1) -> None:
    """Run the self-paced site until interrupted; answers are saved for the one local learner."""
    from course.store.answers import AnswerStore, LearnerExists

    upstream.check_versions()
    adapt_voila()
    instance = Instance(instance_dir) if instance_dir else Instance()
    with AnswerStore(instance.store) as store:
        try:
            store.add_learner(LOCAL_LEARNER, "You")
        except LearnerExists:
            pass
    environment(instance, LOCAL_LEARNER, keys.AFTER_ANSWERING, contract.SELF_PACED)  # feedback as they answer
    c = config(port, open_browser)
    preheat(c, pool_size)
    CourseVoila.launch_instance(argv=[], config=c)

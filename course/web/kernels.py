"""Kernels on the cohort site belong to the learner whose page they were started or handed out for.

A kernel is owned from the moment the server tells it who its learner is and which page it serves: in its
environment when Voilà starts one for a page's request, or over Voilà's request-info socket when a preheated
kernel is handed to one. A kernel started for anything but a Voilà page (JupyterLab's, in a learner's own
server on JupyterHub, whose environment names the learner too) is nobody's: none of the rules below touch it.
Only that learner may then reach it, through jupyter_server's own door for such checks
(`Authorizer.is_authorized`, resource "kernels"): its websocket, `/api/kernels/<id>` and Voilà's shutdown
route. A kernel nobody owns (a pool kernel, not yet handed out) answers no one.

Kernels are bounded too: a learner has one kernel per module page (a new one, on reload, replaces the old),
and past a site-wide ceiling, set from the machine's memory, or while every start-up slot is taken
(`course.web.pools.Gate`), a learner asking for a new one gets a waiting page with their place in line, which
keeps that place and asks again; the server holds that request until a kernel is free for them.

A kernel also ends with the session its page was opened in: every SESSION_CHECK_SECONDS the server compares
each kernel's session with the learner's current one in the store (sign-out, a new code and withdrawal
each start a new one), so a page left open in an ended session saves nothing more. And a kernel that no
page has been connected to for `unattended_seconds` (a browser killed, or a laptop closed, before its page
could shut its kernel down) ends too, so it holds no place under the ceiling until the idle cull.

A learner's own Jupyter server on JupyterHub keeps the same rules for its one learner's pages
(`course.web.hub`), with a ceiling of its own and no sign-in sessions.
"""
from __future__ import annotations

import asyncio
import os
import posixpath
import time
import unicodedata
import weakref
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, unquote

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import authorized
from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
from jupyter_server.utils import url_path_join
from tornado.ioloop import PeriodicCallback
from tornado.web import HTTPError
from traitlets import DottedObjectName, Integer, Unicode
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.tornado.handler import TornadoVoilaHandler

from course import upstream
from course.contract import LEARNER_ENV
from course.store.answers import WITHDRAWN, AnswerStore
from course.web import connections
from course.web.pools import PooledKernelManager

_MANAGERS: weakref.WeakSet[OwnedKernelManager] = weakref.WeakSet()
KERNEL_MB = 150  # what one module's kernel may grow to (RSS: 55-151 MB measured), with room to spare
# What a kernel forked from the zygote may grow to on its own (private memory, measured: about 30 MB with its
# page; 51-99 MB on Modules 1, 3, 4 and 7 once every view of every explorer is drawn, 105 MB on Module 4 from an
# empty chart cache, the test in tests/test_forks.py). The pages all forked kernels share count once, as the
# zygote's.
FORKED_KERNEL_MB = 120
# What a forked kernel holds on its own when the chart cache already has every view (`course.web.chart_cache`),
# so it draws none: at most 32 MB measured, on Module 4 or 5 with every view shown (tests/test_forks.py).
FORKED_CACHED_KERNEL_MB = 64
KEEP_FREE_SHARE = 0.05  # of the machine's memory, kept free whatever the ceiling says
# Why no kernel can start for a learner now, as their waiting page says it.
FULL = ("The course site is full right now: every place for a module is taken. One frees up when another "
        "learner closes a module.")
BUSY = "The course site is starting modules for other learners right now."
SHORT = ("The computer the course runs on is short of memory right now, so no new module can start until "
         "some is free.")
REFRESH_SECONDS = 1  # how soon a waiting page asks again (then held on the server, see PageHandler)
HOLD_SECONDS = 10  # longest a waiting page's request is held on the server, waiting for a kernel to be free
KEEP_SECONDS = 6  # a place in line not asked for this long is given up
SESSION_CHECK_SECONDS = 2  # how soon the kernels of a session that ended (sign-out, new code, withdrawal) end
UNATTENDED_SECONDS = 60  # how long a learner's kernel may go with no page connected (a reconnect takes seconds)


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def ceiling_for_memory(reserved: int = 0, kernel_mb: int = KERNEL_MB) -> int:
    """How many learners' kernels of `kernel_mb` each fit in three quarters of this machine's memory, after
    `reserved` others (the preheated pool); at least one."""
    return max(1, int(machine_memory() * 0.75 / (kernel_mb * 2**20)) - reserved)


def memory_available() -> int | None:
    """The memory the kernel says new work can have without swapping (Linux's MemAvailable), in bytes."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass(frozen=True)
class Owner:
    learner: str
    page: str


def page_of(path: str) -> str:
    """One name per module page, however its URL is spelled: `PageHandler` sends every other spelling of a
    notebook's path (`..`, `.`, a link) to its one address first, so what is left is percent-encoding."""
    return posixpath.normpath(unquote(path))


def canonical(root: str, notebook: str) -> str | None:
    """The one spelling of `notebook` (a path under `root`, as a URL gives it): the path of the file it
    names, links followed, relative to `root`; None if that is not under `root`."""
    real, top = os.path.realpath(os.path.join(root, notebook)), os.path.realpath(root)
    return os.path.relpath(real, top) if real.startswith(top + os.sep) else None


def owner_of(request_info: dict) -> Owner | None:
    """Who a kernel works for, from the request info Voilà hands it (None: no signed-in learner, or no page:
    Voilà names its page's path, SCRIPT_NAME, to every kernel it starts or hands out; JupyterLab does not)."""
    learner, page = request_info.get(LEARNER_ENV), request_info.get("SCRIPT_NAME")
    return Owner(learner, page_of(page)) if learner and page else None


class OwnedKernelManager(PooledKernelManager):
    """Voilà's kernel manager (which Voilà extends with its pool) that knows each kernel's owner, keeps one
    kernel per learner and page, and holds learners' kernels under a ceiling."""

    max_kernels = Integer(0, config=True, help="Most learners' kernels at once (0: from the machine's memory).")
    kernel_mb = Integer(KERNEL_MB, config=True, help="The memory one learner's kernel is counted at (MiB).")
    keep_free_mb = Integer(0, config=True, help="No new learner's kernel starts unless this much memory (MiB) "
                                                "would stay available (0: 5% of the machine's).")
    unattended_seconds = Integer(UNATTENDED_SECONDS, config=True,
                                 help="Shut down a learner's kernel no page has been connected to this long.")
    full_reason = Unicode(FULL, config=True, help="What a learner's waiting page says past the ceiling.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.owners: dict[str, Owner] = {}
        self.page_sessions: dict[Owner, int] = {}  # the session each learner's page was last opened in
        self.kernel_sessions: dict[str, int] = {}  # the session each learner's kernel was opened in
        self.unattended: dict[str, float] = {}  # since when no page has been connected to each learner's kernel
        self.admitted: set[Owner] = set()  # pages let through whose kernel is not recorded yet: each holds a place
        self._check: PeriodicCallback | None = None
        self.roster: Callable[[], AnswerStore] | None = None  # the sign-in's store, set by the first page
        _MANAGERS.add(self)

    async def start_kernel(self, *args, **kwargs) -> str:
        kernel_id = await super().start_kernel(*args, **kwargs)
        self.claim(kernel_id, kwargs.get("env") or {})
        return kernel_id

    def claim(self, kernel_id: str, request_info: dict) -> None:
        """Record who the kernel now works for (nothing, if no learner is signed in), and shut down the
        kernel it replaces: the same learner's on the same page."""
        owner = owner_of(request_info)
        if owner is None:
            return
        self.admitted.discard(owner)
        for replaced in [kernel for kernel, other in self.owners.items() if other == owner]:
            self._end(replaced)
        self.owners[kernel_id] = owner
        self.unattended[kernel_id] = time.monotonic()  # its page is on its way
        if owner in self.page_sessions:
            self.kernel_sessions[kernel_id] = self.page_sessions[owner]
        if self._check is None:
            self._check = PeriodicCallback(self.check, SESSION_CHECK_SECONDS * 1000)
            self._check.start()

    def _end(self, kernel_id: str) -> None:
        del self.owners[kernel_id]
        self.kernel_sessions.pop(kernel_id, None)
        self.unattended.pop(kernel_id, None)
        asyncio.ensure_future(self.shutdown_kernel(kernel_id))

    def check(self) -> None:
        self.end_unattended()
        self.end_ended_sessions()

    def end_unattended(self) -> None:
        """Shut down every learner's kernel that no page has been connected to for `unattended_seconds`."""
        now = time.monotonic()
        for kernel_id in list(self.owners):
            if connections.attended(kernel_id):
                self.unattended.pop(kernel_id, None)
            elif now - self.unattended.setdefault(kernel_id, now) > self.unattended_seconds > 0:
                self.log.info("Shutting down kernel %s: no page connected for %d s", kernel_id,
                              self.unattended_seconds)
                self._end(kernel_id)

    def end_ended_sessions(self) -> None:
        """Shut down every learner's kernel whose session has ended since its page opened: the page hears so
        at once, and why (`course.web.connections`), and nothing typed there afterwards is saved."""
        if not self.kernel_sessions or self.roster is None:
            return
        roster = self.roster()
        current = roster.sessions()
        for kernel_id, session in list(self.kernel_sessions.items()):
            owner = self.owners.get(kernel_id)
            if owner is not None and current.get(owner.learner) != session:
                why = roster.session_ended(owner.learner) or WITHDRAWN  # None: no longer on the roster at all
                connections.end(kernel_id, why)
                self._end(kernel_id)

    def full_for(self, owner: Owner) -> str | None:
        """Why a new kernel for `owner` may not start: `full_reason`, it would pass the ceiling; SHORT, it
        would leave less memory available than the site keeps free, whatever the count says; None, it may
        (one that replaces theirs does neither). Pages let through whose kernel is still starting count as
        kernels: pages asked for at once (a browser restoring its tabs) are all let through before any kernel
        is recorded."""
        mine = set(self.owners.values())
        if owner in mine or owner in self.admitted:
            return None
        starting = len(self.admitted - mine)
        if len(self.owners) + starting >= (self.max_kernels or ceiling_for_memory(kernel_mb=self.kernel_mb)):
            return self.full_reason
        available = memory_available()
        keep_free = self.keep_free_mb * 2**20 or machine_memory() * KEEP_FREE_SHARE
        needed = (1 + starting) * self.kernel_mb * 2**20  # this page's kernel, and those still starting
        return SHORT if available is not None and available - needed < keep_free else None

    def remove_kernel(self, kernel_id: str):
        self.owners.pop(kernel_id, None)
        self.kernel_sessions.pop(kernel_id, None)
        self.unattended.pop(kernel_id, None)
        self.gate.notify()  # a place under the ceiling may be free
        return super().remove_kernel(kernel_id)


class Line:
    """Learners waiting for a kernel, first come first served. A place is kept while its learner keeps asking:
    a request held on the server (`hold`), or a waiting page that asks again within `keep_seconds`. Only
    learners still there (held, or asked within `present_seconds`) go before others: one who left does not
    hold up the line, and one whose held request closed with none other held leaves at once."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, present_seconds: float = 2 * REFRESH_SECONDS + 1):
        self.keep_seconds, self.present_seconds = keep_seconds, present_seconds
        self._asked: dict[Owner, tuple[float, float]] = {}  # owner: (joined, last asked)
        self._held: dict[Owner, int] = {}

    def __contains__(self, owner: Owner) -> bool:
        self._prune()
        return owner in self._asked

    def _prune(self) -> None:
        now = time.monotonic()
        for owner, (_, asked) in list(self._asked.items()):
            if now - asked > self.keep_seconds and not self._held.get(owner):
                del self._asked[owner]

    def _present(self, owner: Owner, now: float) -> bool:
        return bool(self._held.get(owner)) or now - self._asked[owner][1] <= self.present_seconds

    def place(self, owner: Owner) -> int:
        """`owner`'s place in line (1: next), joining it if they are not in it."""
        self._prune()
        now = time.monotonic()
        joined = self._asked.get(owner, (now, now))[0]
        self._asked[owner] = (joined, now)
        return 1 + sum(other_joined < joined for other_joined, _ in self._asked.values())

    def first(self, owner: Owner) -> bool:
        """Whether nobody still waiting is ahead of `owner` (is still waiting at all, if `owner` is not in line)."""
        self._prune()
        now = time.monotonic()
        if owner not in self._asked:
            return not any(self._present(other, now) for other in self._asked)
        joined = self._asked[owner][0]
        return not any(other_joined < joined and self._present(other, now)
                       for other, (other_joined, _) in self._asked.items())

    def waiting(self) -> int:
        """How many learners are still waiting."""
        self._prune()
        now = time.monotonic()
        return sum(self._present(owner, now) for owner in self._asked)

    def hold(self, owner: Owner) -> None:
        self._held[owner] = self._held.get(owner, 0) + 1

    def release(self, owner: Owner, gone: bool = False) -> None:
        """A held request of `owner`'s ended; `gone`: its learner closed it, so they leave unless another
        of theirs is held."""
        self._held[owner] -= 1
        if not self._held[owner]:
            del self._held[owner]
            if gone:
                self.leave(owner)

    def leave(self, owner: Owner) -> None:
        self._asked.pop(owner, None)


class ScrubbedKernel(ServerKernelManager):
    """A kernel whose error messages reach the page without their traceback.

    With `MappingKernelManager.allow_tracebacks` off, jupyter_server 2.x reads the replacement text from the
    kernel's own manager, which has none, and raises instead of sending the error: give it one.
    """

    traceback_replacement_message = "An error in the module's code; the details are in the server's log."
    client_class = DottedObjectName("course.web.pools.BoundedClient")


def handed_over(kernel_id: str, request_info: dict) -> None:
    """A preheated kernel was handed to a request: its manager records the owner."""
    for manager in _MANAGERS:
        if kernel_id in manager:
            manager.claim(kernel_id, request_info)


def _kernel_id(handler) -> str | None:
    return handler.path_kwargs.get("kernel_id") or next(iter(handler.path_args), None)


class KernelOwnerAuthorizer(Authorizer):
    """Lets a signed-in learner reach only their own kernels; everything else as jupyter_server would."""

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        if resource != "kernels":
            return True
        kernel_id = _kernel_id(handler)
        owner = handler.kernel_manager.owners.get(kernel_id) if kernel_id else None
        return owner is not None and owner.learner == user.username


class PageHandler(TornadoVoilaHandler):
    """Voilà's module page, at one address per notebook, which first tells a learner when no kernel is free
    for them, and why (the ceiling is reached, memory is short, or every start-up slot is taken): a waiting
    page with their place in line and an estimate where something measured backs one (else it says it cannot
    tell yet), which asks again and keeps their place (503, Retry-After); a request asking again is held here
    until a kernel is free for its learner (at most HOLD_SECONDS), so a freed slot is taken at once.

    Voilà serves a notebook under every path that leads to it (`../modules/<m>.ipynb`, `%2e%2e/…`, a link),
    and each would have been a page of its own, with a kernel of its own that no reload replaces. Such a
    request is sent to the notebook's own address instead, before any kernel is started or counted: then
    every rule that keys on the page (one kernel per learner and page, the pools) sees one page per notebook.
    """

    line = Line()
    _started: float | None = None
    _admitted: Owner | None = None  # this request's page, holding a place until its kernel is recorded
    _gone = False

    async def prepare(self):
        await super().prepare()
        if upstream.finished(self):
            return
        notebook = self.path_kwargs.get("path") or next(iter(self.path_args), "")
        if any(unicodedata.category(char) == "Cc" for char in notebook):  # no file is named so (NUL: a 500)
            raise HTTPError(400)
        # The page's script sends this cookie's token back when it shuts its kernel down on closing (page.js
        # `shutDownOnClose`). On a site with no sign-in nothing else set it: every close was refused (403),
        # and each page left its kernel running until the idle cull.
        self.xsrf_token  # noqa: B018 (reading it sets the cookie)
        real = canonical(self.contents_manager.root_dir, notebook)
        if real is not None and real != notebook:
            query = f"?{self.request.query}" if self.request.query else ""
            # Voilà as an app serves under `server_url`; as a server's extension (on the hub), under `base_url`.
            return self.redirect(url_path_join(self.settings.get("server_url", self.base_url), "voila/render",
                                               quote(real)) + query)
        manager = self.kernel_manager
        if not (self.current_user and isinstance(manager, OwnedKernelManager)):
            return
        gate, line = manager.gate, self.line
        gate.waiting = line.waiting
        owner = Owner(self.current_user.username, page_of(self.request.path))
        # A learner already in line (their waiting page asking again) is held here until a kernel is free
        # for them, for at most HOLD_SECONDS, so a free slot is taken at once; a new one sees the page first.
        held_until = time.monotonic() + (HOLD_SECONDS if owner in line else 0)
        line.hold(owner)
        try:
            while True:
                full = manager.full_for(owner)
                # Voilà's pool class (as on the course's own sites): a learner's server on the hub has none.
                pooled = hasattr(manager, "get_pool_size") and manager.get_pool_size(notebook) > 0
                mine = owner in manager.owners.values()  # a reload: it replaces their kernel, so needs no new place
                if not full and (pooled or (gate.page_may_start() and (mine or line.first(owner)))):
                    line.leave(owner)
                    manager.admitted.add(owner)
                    self._admitted = owner
                    manager.page_sessions[owner] = getattr(self.current_user, "session", 0)
                    manager.roster = getattr(self.identity_provider, "roster", None)
                    if not pooled:
                        self._started = gate.page_started()
                    return
                place = line.place(owner)
                left = held_until - time.monotonic()
                if left <= 0 or self._gone:
                    break
                await gate.changed(min(left, REFRESH_SECONDS))  # asks again at least this often: keeps the place
        finally:
            line.release(owner, gone=self._gone)
        self.set_status(503)
        self.set_header("Retry-After", str(REFRESH_SECONDS))
        # Only a wait for a start-up slot has a measure: how long pages' kernels have just taken to start.
        # Nothing says when a learner will close a module (full) or memory will free up (SHORT).
        wait = None if full else gate.wait_seconds(place)
        self.finish(self.render_template("waiting.html", status_code=503, reason=full or BUSY, place=place,
                                         refresh=REFRESH_SECONDS, estimate=wait and in_words(wait)))

    def _release(self, measured: bool) -> None:
        if self._admitted is not None:
            self.kernel_manager.admitted.discard(self._admitted)
            self._admitted = None
        if self._started is not None:
            self.kernel_manager.gate.page_done(self._started, measured)
            self._started = None

    def on_finish(self):
        self._release(measured=self.get_status() == 200)
        super().on_finish()

    def on_connection_close(self):
        self._gone = True
        self._release(measured=False)
        super().on_connection_close()


def in_words(seconds: int) -> str:
    if seconds < 60:
        return f"about {seconds} second{'s' * (seconds != 1)}"
    minutes = round(seconds / 60)
    return f"about {minutes} minute{'s' * (minutes != 1)}"


class ShutdownKernelHandler(VoilaShutdownKernelHandler):
    """Voilà's shutdown-on-close route, asking the authorizer first (Voilà's asks for sign-in only)."""

    auth_resource = "kernels"

    @authorized
    async def post(self, kernel_id):
        await super().post(kernel_id)

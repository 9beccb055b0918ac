"""The one place where the course reaches past the public API of Voilà, jupyter_server, jupyter_client, ipykernel,
nbconvert and nbgrader.

Every monkeypatch, private attribute and private method of those packages that the course relies on is a
small named function here, whose docstring says what it changes upstream and why; the rest of the course
calls these. `check_versions` stops a server on a version these were not tested with;
tests/test_upstream.py holds each function to the upstream behaviour it assumes, and fails when upstream
changes it; docs/upstream.md has the upstream issue for each bug worked around here, and says why no public
API serves where a private one is used.

This module imports none of the packages it adapts: callers hand it the class, module or object to change.
So a learner's kernel (`claimed_request`) and grading (`swap_schema_validation`) use it without loading
Voilà or jupyter_server.
"""
from __future__ import annotations

import logging
import os
import re
from importlib.metadata import PackageNotFoundError, version

log = logging.getLogger(__name__)

# -- versions ---------------------------------------------------------------------------------------------
# Each distribution whose internals are adapted here: (lowest version tested, first version not tested).
# pyproject.toml and environment.yml bound them the same way (tests/test_upstream.py keeps them in step).
TESTED = {
    "voila": ("0.5.13", "0.6"),  # pool manager, request-info socket, page macros, handler routes
    "jupyter_server": ("2.21", "2.22"),  # login redirect, websocket status messages, error-page settings
    "jupyter_client": ("8.10", "8.11"),  # heartbeat thread, kernel clean-up
    "ipykernel": ("7", "8"),  # the kernel's main-thread loop
    "nbgrader": ("0.9.6", "0.10"),  # metadata schema checks, autograde comments
    "ipywidgets": ("8.1.9", "8.2"),  # the page bundles this version's widget JavaScript (frontend/)
    "nbconvert": ("7.17.1", "8"),  # a template exporter's Jinja environment
    "tornado": ("6.5", "6.7"),  # how the front door reads a request head (course/web/front_door.py)
}


def _release(text: str) -> tuple[int, ...]:
    """The release numbers of a version string: '0.5.13' -> (0, 5, 13), '2.22.0rc1' -> (2, 22, 0)."""
    match = re.match(r"\d+(\.\d+)*", text.strip())
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def untested_versions(installed: dict[str, str | None] | None = None) -> list[str]:
    """One line for each adapted distribution whose installed version (`installed`: name -> version or None
    when missing; by default what is installed) is outside the tested range."""
    found = []
    for name, (low, high) in TESTED.items():
        if installed is None:
            try:
                have = version(name)
            except PackageNotFoundError:
                have = None
        else:
            have = installed.get(name)
        if have is None:
            found.append(f"{name} is not installed; tested: {low} up to, not including, {high}")
        elif not _release(low) <= _release(have) < _release(high):
            found.append(f"{name} {have} is installed; tested: {low} up to, not including, {high}")
    return found


def check_versions(installed: dict[str, str | None] | None = None) -> None:
    """Stop (SystemExit, with a message that says what to do) if an adapted package is at a version the
    course was not tested with: a changed private API would otherwise fail later, and quietly."""
    if problems := untested_versions(installed):
        raise SystemExit(
            "Not starting: the course adapts private parts of these packages (course/upstream.py), and was "
            "tested only with the versions shown:\n" + "".join(f"  - {line}\n" for line in problems)
            + "Install the tested versions (`make install` does, from pyproject.toml), or run "
            "tests/test_upstream.py and the site's tests with the new version and then widen TESTED in "
            "course/upstream.py and the bounds in pyproject.toml.")


# -- Voilà: the page's helper macros ----------------------------------------------------------------------
# The allies template shadows Voilà's `voila_setup.macro.html.j2` (course/jupyter/voila/templates/allies/):
# Voilà's own page helpers load its JupyterLab application. The functions Voilà's streamed page calls
# (`voila_heartbeat`, `voila_process`, `voila_finish`) must all be defined there; a test holds the list.
PAGE_HELPERS = ("voila_heartbeat", "voila_process", "voila_finish")


# -- Voilà: the request-info socket -----------------------------------------------------------------------
ORIGINAL: dict[str, object] = {}  # Voilà's own request-info socket methods, as they were before the patch


def hand_over_once(handler, kernel_id: str) -> None:
    """Replaces `RequestInfoSocketHandler.open`. A preheated kernel connects to `/voila/query/<kernel id>`
    (no sign-in: it is the kernel) to learn which request claimed it. Voilà keeps a claimed kernel's request
    info in `_cache` and replays it to every later connection for that id, so anyone who guesses or sees a
    kernel id could read the learner's request; hand it over once, to the first to ask."""
    handler._waiters[kernel_id] = handler
    payload = handler._cache.pop(kernel_id, None)
    if payload is not None:
        handler.write_message(payload)


def forget_only_this_waiter(handler) -> None:
    """Replaces `RequestInfoSocketHandler.on_close`. Voilà's loops over `_waiters` for this handler and then
    deletes the *last* key it looked at, found or not: a stranger who opens a socket for a kernel id and
    closes it again unhooks whichever kernel was waiting last, which then never learns its learner (and
    saves nothing). Drop only this handler's entry."""
    for kernel_id, waiter in list(handler._waiters.items()):
        if waiter is handler:
            del handler._waiters[kernel_id]


def patch_request_info_socket(handler_class, on_claim) -> None:
    """Fix Voilà 0.5's request-info socket (`voila.request_info_handler.RequestInfoSocketHandler`, passed in)
    for this server process: `hand_over_once`, `forget_only_this_waiter`, and `send_updates`, which Voilà's
    page handler calls as it hands a preheated kernel to a request, first calls `on_claim(kernel_id,
    request_info)`: Voilà has no hook for that moment, and the kernel now belongs to that request's learner.
    Patching twice changes nothing more."""
    if ORIGINAL:
        return
    ORIGINAL.update(open=handler_class.open, on_close=handler_class.on_close,
                    send_updates=handler_class.send_updates)
    send_updates = ORIGINAL["send_updates"]

    def claim_then_send(msg: dict) -> None:
        on_claim(msg["kernel_id"], msg["payload"])
        send_updates(msg)

    handler_class.open = hand_over_once
    handler_class.on_close = forget_only_this_waiter
    handler_class.send_updates = staticmethod(claim_then_send)


def claimed_request() -> dict[str, str]:
    """In a preheated kernel: wait until a page request claims this kernel; return what Voilà says about that
    request (its environment, the learner's header among it).

    It does what `voila.utils.wait_for_request` does, with the same environment variables and URL, without
    importing Voilà (and with it jupyter_server) into every learner's kernel, which would cost each kernel
    about 45 MB; tornado's websocket client is already loaded in every ipykernel."""
    import asyncio
    import json

    from tornado.websocket import websocket_connect

    url = (f"ws://{os.environ.get('VOILA_APP_IP', '127.0.0.1')}:{os.environ.get('VOILA_APP_PORT', '8866')}"
           f"{os.environ.get('VOILA_SERVER_URL', '/')}voila/query/{os.environ['VOILA_KERNEL_ID']}")

    async def receive() -> str:
        connection = await websocket_connect(url)
        try:
            return await connection.read_message()
        finally:
            connection.close()

    return {key: str(value) for key, value in json.loads(asyncio.run(receive())).items()}


def on_kernel_thread(callback) -> None:
    """Run `callback` on a kernel's main thread, where ipykernel handles every comm message (the page's
    request for all widget states among them), so that widgets `callback` builds or changes are never seen
    half made; at once when not in a kernel. Safe to call from any thread.

    ipykernel 7 runs that thread's loop as `Kernel.io_loop` (a tornado IOLoop, whose `add_callback` is
    thread-safe); no public API schedules work there."""
    from IPython import get_ipython

    loop = getattr(getattr(get_ipython(), "kernel", None), "io_loop", None)
    if loop is None:
        callback()
    else:
        loop.add_callback(callback)


# -- Voilà: the preheated kernel pool ---------------------------------------------------------------------
def pool_tasks(manager, notebook: str) -> list:
    """The live list of `notebook`'s preheated kernels in a Voilà 0.5 pool manager, oldest first: tasks that
    resolve to {"kernel_id", "renderer", "task"}. Voilà keeps them in the private `_pools` and offers only
    their count (`get_pool_size`), which counts kernels still starting or already dead. An empty list (not
    the manager's) when the notebook has no pool yet."""
    return manager._pools.get(notebook, [])


def wrap_pool_start(manager, wrap) -> None:
    """Replace, on this manager only, the private `_initialize(notebook_path, kernel_id=None, **kwargs)` with
    `wrap(original)`. Voilà starts and renders every pool kernel there (and re-renders one after a restart),
    and nothing public runs between a pool kernel's start and its being handed out."""
    manager._initialize = wrap(manager._initialize)


def wrap_pool_methods(manager, **wraps) -> None:
    """Replace pool methods on this manager instance (`fill_if_needed`, `get_rendered_notebook`,
    `get_pool_size`) with `wrap(original)`: their names are public, but Voilà defines them on the class it
    builds on top of the configured kernel manager (`voila_kernel_manager_factory`), so the course's kernel
    manager, its base, cannot override them."""
    for name, wrap in wraps.items():
        setattr(manager, name, wrap(getattr(manager, name)))


def replace_handlers(routes: list, replacements: dict) -> list:
    """Voilà's routes (from `Voila.init_handlers`) with each handler class in `replacements` swapped for the
    course's subclass. Voilà has no setting for its handler classes; a class not found among the routes is
    an error, so that a renamed upstream handler cannot silently drop the course's checks."""
    missing = set(replacements) - {route[1] for route in routes}
    if missing:
        raise RuntimeError(f"Voilà no longer routes to {sorted(c.__name__ for c in missing)}: check the "
                           "replacements in course/web/site.py against this Voilà")
    return [(route, replacements.get(handler, handler), *rest) for route, handler, *rest in routes]


def routed_rules(web_app) -> list:
    """Every route of a running Jupyter server (`web_app`, a tornado `Application`), its extensions' among them:
    tornado keeps them as `Rule`s (the pattern in `matcher.regex`, the handler class in `target`) in the `rules`
    of the routers under the app's `default_router` (each host pattern's, and `wildcard_router`)."""
    def under(router):
        for rule in router.rules:
            yield from under(rule.target) if hasattr(rule.target, "rules") else [rule]

    return list(under(web_app.default_router))


def replace_routed_handlers(web_app, replacements: dict) -> None:
    """Swap each handler class in `replacements` for the course's subclass in a running Jupyter server's
    routes (`routed_rules`), as `replace_handlers` does in Voilà's own list: Voilà as a server extension adds
    its routes straight to the app, with no setting for their classes. A class not found is an error, as there."""
    found = set()
    for rule in routed_rules(web_app):
        if rule.target in replacements:
            found.add(rule.target)
            rule.target = replacements[rule.target]
    if missing := set(replacements) - found:
        raise RuntimeError(f"Voilà no longer routes to {sorted(c.__name__ for c in missing)}: check the "
                           "replacements in course/web/hub.py against this Voilà")


def listen_through(voila_app, make_server) -> None:
    """Make Voilà's `listen` bind with `make_server(tornado_app)` (the course's HTTP server) instead of
    tornado's default one: Voilà 0.5 calls `self.app.listen(port, address)` inside its port-retry loop and
    offers no setting for the server, so the app's `listen` is replaced on this instance."""
    app = voila_app.app
    app.listen = lambda port, address=None: make_server(app).listen(port, address)


# -- jupyter_server ---------------------------------------------------------------------------------------
def use_page_templates(settings: dict, environment) -> None:
    """Give the web app the Jinja environment its handlers' pages (the course's waiting page) render from:
    jupyter_server's handlers read it from the undocumented setting `jinja2_env`
    (`JupyterHandler.get_template`)."""
    settings["jinja2_env"] = environment


def redirect_safe(handler, url: str) -> None:
    """Redirect a sign-in page to `url` only if it stays on this site (else to the base URL): jupyter_server's
    check is the private `LoginFormHandler._redirect_safe(url, default=None)`, with no public equivalent."""
    handler._redirect_safe(url)


def tell_kernel_dead(connection, why: str = "") -> None:
    """Send a page's kernel websocket (a `ZMQChannelsWebsocketConnection`) the iopub status 'dead', as
    jupyter_server does itself when a restart fails: flushed after the kernel's last messages, in the
    connection's own wire protocol. jupyter_server does it only in the private `_send_status_message`, which
    takes the state alone: `why`, if given, is added to the message's content as `allies_ended` by its
    session's `msg`, replaced on the session object for that one call."""
    if not why:
        return connection._send_status_message("dead")
    session = connection.session
    make = session.msg

    def with_why(msg_type, content=None, **kwargs):
        return make(msg_type, {**(content or {}), "allies_ended": why}, **kwargs)

    session.msg = with_why
    try:
        connection._send_status_message("dead")
    finally:
        del session.msg


def finished(handler) -> bool:
    """Whether a tornado handler has already finished its response (jupyter_server's `prepare` can redirect
    to sign-in, or refuse): tornado records it only in the private `_finished`."""
    return handler._finished


# -- jupyter_client ---------------------------------------------------------------------------------------
def stop_heartbeat(client, join_seconds: float) -> None:
    """Stop a kernel client's heartbeat thread, waiting at most `join_seconds` for it. jupyter_client's
    `stop_channels` joins it without a time limit, and a heartbeat stuck on a dead kernel's socket once held
    the server's event loop, and every request, for minutes. Uses the client's private `_hb_channel` and the
    thread's private `_running` and `_exit` (what `HBChannel.stop` sets before its unbounded join)."""
    hb = client._hb_channel
    if hb is None or not hb.is_alive():
        return
    hb._running = False
    hb._exit.set()
    hb.join(join_seconds)
    if hb.is_alive():
        log.warning("A dead kernel's heartbeat thread did not stop; left behind (daemon thread)")
    else:
        hb.close()
    client._hb_channel = None


def with_cleanup_hook(base):
    """`base` (jupyter_client's `AsyncKernelManager`) whose subclass hears, in `resources_cleaned_up(
    restart)`, that a kernel's connection file and sockets were cleaned up. jupyter_client's shutdown calls
    the private `_async_cleanup_resources` directly; overriding its public alias `cleanup_resources` would
    never run."""

    class CleanupHook(base):
        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            self.resources_cleaned_up(restart)

        cleanup_resources = _async_cleanup_resources

        def resources_cleaned_up(self, restart: bool) -> None:
            """Called after each clean-up; `restart` is true when the kernel is being restarted."""

    return CleanupHook


# -- nbconvert --------------------------------------------------------------------------------------------
def share_compiled_templates(exporter_class, cache) -> None:
    """Give every Jinja environment that `exporter_class` (an nbconvert template exporter: Voilà's
    `VoilaExporter`, passed in) creates the bytecode cache `cache`. nbconvert builds a new environment for
    each exporter in the private `_create_environment`, with no setting for a bytecode cache, and Voilà
    makes a new exporter for every page it renders. Patching again with the same cache changes nothing."""
    create = exporter_class._create_environment
    if getattr(create, "shares", None) is cache:
        return

    def with_cache(exporter):
        environment = create(exporter)
        environment.bytecode_cache = cache
        return environment

    with_cache.shares = cache
    exporter_class._create_environment = with_cache


# -- nbgrader ---------------------------------------------------------------------------------------------
def with_comment_hook(base):
    """`base` (nbgrader's `SaveAutoGrades`) whose subclass hears, in `comment_added(cell, resources)`, that
    the gradebook comment of a graded cell was written: nbgrader writes it in the private `_add_comment` and
    offers no later step before it commits."""

    class CommentHook(base):
        def _add_comment(self, cell, resources) -> None:
            super()._add_comment(cell, resources)
            self.comment_added(cell, resources)

        def comment_added(self, cell, resources) -> None:
            """Called after nbgrader has written the comment for `cell`."""

    return CommentHook


def swap_schema_validation(nbgrader_common, validate) -> None:
    """Make nbgrader's cell-metadata checks (`nbgrader.nbgraderformat.common`, passed in) call `validate`
    instead of `jsonschema.validate`. nbgrader calls it through that module's own `jsonschema` name and
    offers no setting for the validator; the stand-in keeps jsonschema's `ValidationError`."""
    error = nbgrader_common.jsonschema.ValidationError
    nbgrader_common.jsonschema = type("jsonschema", (), {"validate": staticmethod(validate),
                                                         "ValidationError": error})

"""The one Voilà adapter (`course/upstream.py`): servers refuse versions nobody tested, and each patch or
private API it uses is held to the upstream behaviour it assumes, so that an upstream change fails here, by
name, before it fails on a learner's page. The behaviour each patch gives the sites is tested where the
sites are (test_cohort_security.py, test_cohort_recovery.py, test_cohort_answers.py, test_site.py, ...)."""
import asyncio
import inspect
import json
import re
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, free_port, query_socket

from course import upstream


def in_own_thread(coroutine):
    """asyncio.run in a thread of its own: in a pytest worker that has driven a browser, Playwright's sync API
    leaves an event loop marked running in the main thread, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


VOILA = Path(inspect.getfile(__import__("voila"))).parent


def _params(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def _source(function) -> str:
    return re.sub(r"\s+", " ", inspect.getsource(function))


# -- versions ---------------------------------------------------------------------------------------------
def test_the_installed_versions_are_the_tested_ones():
    assert upstream.untested_versions() == []


def test_pyproject_and_environment_yml_install_only_tested_versions():
    """pip and conda may not pick a version the servers would refuse."""
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = (ROOT / "environment.yml").read_text()
    for name, (low, high) in upstream.TESTED.items():
        assert f"{name}>={low},<{high}" in [r.split("#")[0].strip() for r in requirements], name
        assert f"  - {name}>={low},<{high}" in conda, name


@pytest.mark.parametrize("installed, expected", [
    ({"voila": "0.6.0"}, "voila 0.6.0 is installed; tested: 0.5.13 up to, not including, 0.6"),
    ({"voila": "0.5.12"}, "voila 0.5.12 is installed; tested: 0.5.13 up to, not including, 0.6"),
    ({"jupyter_server": "2.22.0rc1"}, "jupyter_server 2.22.0rc1 is installed; tested: 2.21 up to"),
    ({"nbgrader": None}, "nbgrader is not installed; tested: 0.9.6 up to, not including, 0.10"),
])
def test_an_untested_version_stops_with_a_message_that_says_what_to_do(installed, expected):
    tested = {name: low for name, (low, _) in upstream.TESTED.items()}
    with pytest.raises(SystemExit) as stopped:
        upstream.check_versions({**tested, **installed})
    message = str(stopped.value)
    assert expected in message and "course/upstream.py" in message and "make install" in message
    assert message.count("is installed;") + message.count("is not installed;") == 1, message
    upstream.check_versions({**tested, "voila": "0.5.99", "ipywidgets": "8.1.10"})  # the range, not one version


@pytest.mark.parametrize("server", ["site", "cohort", "instructor_site"])
def test_every_server_checks_the_versions_before_it_starts(server, monkeypatch, tmp_path):
    import importlib

    from course.web import site

    module = importlib.import_module(f"course.web.{server}")
    monkeypatch.setattr(upstream, "version", lambda name: "0.6.0" if name == "voila" else
                        __import__("importlib.metadata").metadata.version(name))
    monkeypatch.setattr(site.CourseVoila, "launch_instance",
                        lambda **_: pytest.fail("the server started on an untested Voilà"))
    with pytest.raises(SystemExit, match="voila 0.6.0 is installed"):
        module.serve(instance_dir=str(tmp_path / "instance"))
    assert not (tmp_path / "instance").exists(), "the check comes first"


# -- Voilà: the page's helper macros ----------------------------------------------------------------------
def test_the_template_defines_every_helper_voilas_streamed_page_calls():
    """The allies template shadows Voilà's helper macro: every `voila_*()` that Voilà's Python or its lab
    page template calls must be defined there (the heartbeat once was not)."""
    called = set()
    for path in VOILA.glob("*.py"):
        called |= set(re.findall(r"window\.(voila_\w+)\(", path.read_text(encoding="utf-8")))
    for path in (ROOT / ".venv/share/jupyter/voila/templates").glob("*/*.j2"):
        script = re.sub(r"{{.*?}}|{%.*?%}", "", path.read_text(encoding="utf-8"), flags=re.S)
        called |= set(re.findall(r"(?<![\w.])(?:window\.)?(voila_\w+)\(", script))
    assert {"voila_heartbeat", "voila_process", "voila_finish"} <= called
    assert called <= set(upstream.PAGE_HELPERS), called
    ours = (ROOT / "course/jupyter/voila/templates/allies/voila_setup.macro.html.j2").read_text()
    assert {name for name in upstream.PAGE_HELPERS if f"window.{name} = function" in ours} == set(called)


# -- Voilà: the request-info socket -----------------------------------------------------------------------
def _voilas(name: str):
    """Voilà's own method, before the cohort site's patch (if this process has applied it)."""
    from voila.request_info_handler import RequestInfoSocketHandler

    return upstream.ORIGINAL.get(name) or getattr(RequestInfoSocketHandler, name)


class _Socket:
    """A stand-in for a websocket: what it was sent, and Voilà's shared waiters and cache."""

    def __init__(self):
        from voila.request_info_handler import RequestInfoSocketHandler

        self.sent = []
        self._waiters, self._cache = RequestInfoSocketHandler._waiters, RequestInfoSocketHandler._cache

    def write_message(self, message):
        self.sent.append(message)


def test_voila_still_replays_a_claimed_kernels_request_to_every_later_socket():
    """What `hand_over_once` changes: Voilà's `open` registers the waiter in `_waiters` and replays the
    request info cached in `_cache`, keeping it for the next caller."""
    from voila.request_info_handler import RequestInfoSocketHandler

    kernel = str(uuid.uuid4())
    RequestInfoSocketHandler._cache[kernel] = '{"HTTP_X_ALLIES_LEARNER": "ana"}'
    first, second = _Socket(), _Socket()
    try:
        _voilas("open")(first, kernel)
        assert RequestInfoSocketHandler._waiters[kernel] is first
        _voilas("open")(second, kernel)
        assert first.sent == second.sent == ['{"HTTP_X_ALLIES_LEARNER": "ana"}'], "Voilà now hands it over once"
    finally:
        RequestInfoSocketHandler._cache.pop(kernel, None)
        RequestInfoSocketHandler._waiters.pop(kernel, None)


def test_voila_still_unhooks_the_last_waiter_when_a_replaced_socket_closes():
    """What `forget_only_this_waiter` changes: a socket replaced in `_waiters` (the same kernel id opened
    again) that closes makes Voilà's `on_close` delete the last waiter, another kernel's."""
    from voila.request_info_handler import RequestInfoSocketHandler

    stranger, kernel = str(uuid.uuid4()), str(uuid.uuid4())
    replaced, again, waiting = _Socket(), _Socket(), _Socket()
    saved = dict(RequestInfoSocketHandler._waiters)
    RequestInfoSocketHandler._waiters.clear()
    try:
        RequestInfoSocketHandler._waiters.update({stranger: again, kernel: waiting})
        _voilas("on_close")(replaced)
        assert kernel not in RequestInfoSocketHandler._waiters, "Voilà's on_close no longer drops the last waiter"
        upstream.forget_only_this_waiter(again)
        assert stranger not in RequestInfoSocketHandler._waiters
    finally:
        RequestInfoSocketHandler._waiters.clear()
        RequestInfoSocketHandler._waiters.update(saved)


def test_voila_hands_a_preheated_kernel_to_a_request_through_send_updates():
    """What the claim patch relies on: Voilà's page handler, as it hands out a pool kernel, calls the class
    attribute `RequestInfoSocketHandler.send_updates({"kernel_id", "payload"})`, which caches the payload
    for a kernel that is not waiting yet."""
    from voila.handler import VoilaHandler
    from voila.request_info_handler import RequestInfoSocketHandler

    handler = _source(VoilaHandler.get_generator)
    assert 'RequestInfoSocketHandler.send_updates( {"kernel_id": kernel_id, "payload": request_info} )' in handler
    assert handler.index("get_rendered_notebook(") < handler.index("RequestInfoSocketHandler.send_updates(")
    kernel = str(uuid.uuid4())
    try:
        _voilas("send_updates")({"kernel_id": kernel, "payload": "info"})
        assert RequestInfoSocketHandler._cache[kernel] == "info"
    finally:
        RequestInfoSocketHandler._cache.pop(kernel, None)


def test_a_preheated_kernel_learns_its_request_from_voilas_own_socket(monkeypatch):
    """`claimed_request` (the kernel's copy of `voila.utils.wait_for_request`) against Voilà's handler on a
    bare Tornado app, at the URL and with the environment variables Voilà's own helper uses."""
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.utils import ENV_VARIABLE, wait_for_request

    helper = _source(wait_for_request)
    for name in ("VOILA_APP_IP", "VOILA_APP_PORT", "VOILA_SERVER_URL", "VOILA_KERNEL_ID"):
        assert getattr(ENV_VARIABLE, name) == name and f"ENV_VARIABLE.{name}" in helper, name
    assert 'f"{protocol}://{server_ip}:{server_port}{ws_base_url}voila/query"' in helper
    assert 'ws_url = f"{url}/{kernel_id}"' in helper

    kernel = str(uuid.uuid4())
    monkeypatch.setenv("VOILA_SERVER_URL", "/")
    monkeypatch.setenv("VOILA_KERNEL_ID", kernel)
    with query_socket() as (port, loop), ThreadPoolExecutor(1) as pool:
        monkeypatch.setenv("VOILA_APP_PORT", str(port))
        try:
            waiting = pool.submit(upstream.claimed_request)
            payload = json.dumps({"HTTP_X_ALLIES_LEARNER": "ana", "SERVER_PORT": 8866})
            loop.call_soon_threadsafe(RequestInfoSocketHandler.send_updates, {"kernel_id": kernel, "payload": payload})
            assert waiting.result(timeout=30) == {"HTTP_X_ALLIES_LEARNER": "ana", "SERVER_PORT": "8866"}
        finally:
            RequestInfoSocketHandler._cache.pop(kernel, None)


# -- Voilà: the preheated kernel pool ---------------------------------------------------------------------
def test_voilas_pool_starts_keeps_and_hands_out_kernels_where_the_adapter_reaches():
    """Voilà's pool manager, built on the course's as the sites build it: `fill_if_needed` puts tasks of the
    private `_initialize(notebook, None, **kwargs)` into the private `_pools`, `get_rendered_notebook` hands
    out the first as (render task, rendered cells, kernel id) and refills; the course counts only ready
    kernels."""
    from traitlets.config import Configurable
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    from course.web.pools import PooledKernelManager

    class App(Configurable):
        root_dir, notebook_path, base_url, server_url, port = str(ROOT / "tests"), None, "/", "/", 1

    manager_class = voila_kernel_manager_factory(PooledKernelManager, True, 1)
    assert _params(manager_class._initialize)[:3] == ["self", "notebook_path", "kernel_id"]
    assert _params(manager_class.get_rendered_notebook)[:2] == ["self", "notebook_name"]
    assert {"delay", "notebook_name"} <= set(_params(manager_class.fill_if_needed))
    assert _params(manager_class.get_pool_size) == ["self", "notebook_name"]

    async def run() -> None:
        manager = manager_class(parent=App())
        manager.fill_delay = 0
        started, gate = [], asyncio.Event()

        async def start(notebook_path, kernel_id=None, **kwargs):
            started.append((notebook_path, kernel_id))
            await gate.wait()
            render = asyncio.get_running_loop().create_future()
            render.set_result(([], None))
            renderer = type("Renderer", (), {"rendered_cache": ["<p>cell</p>"], "stop_generator": False})()
            return {"kernel_id": f"kernel-{len(started)}", "task": render, "renderer": renderer}

        upstream.wrap_pool_start(manager, lambda _voilas_initialize: start)
        manager.fill_if_needed(delay=0, notebook_name="m.ipynb")
        pool = upstream.pool_tasks(manager, "m.ipynb")
        assert len(pool) == 1 and manager.get_pool_size("m.ipynb") == 0, "a starting kernel is not ready"
        gate.set()
        await asyncio.wait(pool)
        assert started == [("m.ipynb", None)] and manager.get_pool_size("m.ipynb") == 1
        _, rendered, kernel = await manager.get_rendered_notebook("m.ipynb")
        assert (rendered, kernel) == (["<p>cell</p>"], "kernel-1")
        await asyncio.wait(upstream.pool_tasks(manager, "m.ipynb"))
        assert len(started) == 2 and manager.get_pool_size("m.ipynb") == 1, "Voilà refills as it hands out"

    in_own_thread(run())


def test_voilas_routes_still_name_the_handlers_the_course_replaces():
    from voila.app import Voila
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
    from voila.tornado.handler import TornadoVoilaHandler

    routes = _source(Voila.init_handlers)
    assert "VoilaShutdownKernelHandler" in routes and "TornadoVoilaHandler" in routes
    swapped = upstream.replace_handlers([("/a", TornadoVoilaHandler, {}), ("/b", VoilaShutdownKernelHandler)],
                                        {TornadoVoilaHandler: int, VoilaShutdownKernelHandler: str})
    assert swapped == [("/a", int, {}), ("/b", str)]
    with pytest.raises(RuntimeError, match="TornadoVoilaHandler"):
        upstream.replace_handlers([("/b", VoilaShutdownKernelHandler)], {TornadoVoilaHandler: int})


def test_voila_as_a_server_extension_adds_its_page_route_to_the_app_where_the_course_swaps_it():
    """`replace_routed_handlers` finds the handler classes in a tornado app's routers, as Voilà's server
    extension adds them (`course.web.hub`)."""
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
    from tornado.web import Application, RequestHandler
    from voila import server_extension
    from voila.tornado.handler import TornadoVoilaHandler

    assert "TornadoVoilaHandler," in _source(server_extension._load_jupyter_server_extension)
    assert "web_app.add_handlers(host_pattern, handlers)" in _source(server_extension._load_jupyter_server_extension)

    class Page(TornadoVoilaHandler):
        pass

    app = Application([("/a", RequestHandler)])
    app.add_handlers(".*$", [("/voila/render/(.*)", TornadoVoilaHandler, {"config": None})])
    assert "/voila/render/(.*)$" in [rule.matcher.regex.pattern for rule in upstream.routed_rules(app)]
    upstream.replace_routed_handlers(app, {TornadoVoilaHandler: Page})
    found = app.find_handler(HTTPServerRequest(headers=HTTPHeaders(Host="h"),
                                               start_line=RequestStartLine("GET", "/voila/render/x.ipynb", "HTTP/1.1")))
    assert found.handler_class is Page and found.handler_kwargs == {"config": None}
    with pytest.raises(RuntimeError, match="TornadoVoilaHandler"):
        upstream.replace_routed_handlers(Application([("/a", RequestHandler)]), {TornadoVoilaHandler: Page})


def test_voilas_template_static_route_still_fails_on_an_address_it_cannot_split():
    """Why `course.web.site.TemplateStaticFiles` checks the address first (docs/upstream.md): Voilà's handler
    fails an unpacking or an `assert` (a 500) on an address that is not <template>/static/<file>."""
    from voila.static_file_handler import TemplateStaticFileHandler

    handler = TemplateStaticFileHandler.__new__(TemplateStaticFileHandler)
    for address in ("lab/x", "lab/nope/x"):
        with pytest.raises((ValueError, AssertionError)):
            handler.parse_url_path(address)
    with pytest.raises(ValueError):
        TemplateStaticFileHandler.get_absolute_path("/", "lab/static/../../x")


def test_voila_listens_through_its_apps_listen():
    """`listen_through` replaces the tornado app's `listen`, which Voilà's `listen` calls to bind."""
    from voila.app import Voila

    assert "self.app.listen(port, self.ip)" in _source(Voila.listen)


# -- jupyter_server ---------------------------------------------------------------------------------------
def test_jupyter_server_renders_its_pages_from_the_jinja2_env_setting():
    from jupyter_server.base.handlers import JupyterHandler

    assert 'self.settings["jinja2_env"].get_template(name)' in _source(JupyterHandler.get_template)


def test_jupyter_servers_login_page_still_has_its_safe_redirect():
    from jupyter_server.auth.login import LoginFormHandler

    assert _params(LoginFormHandler._redirect_safe) == ["self", "url", "default"]
    assert "self._redirect_safe(next_url)" in _source(LoginFormHandler.post)


def test_jupyter_server_tells_a_page_its_kernel_is_dead_with_a_status_message():
    """`tell_kernel_dead` calls the private `_send_status_message`: an iopub status message on the
    connection's own socket, made by the connection's session (`Session.msg`), which carries why if given."""
    from jupyter_client.session import Session
    from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

    connection = _Socket()
    connection.channels, connection.session, connection.subprotocol = {}, Session(), None
    connection._send_status_message = lambda status: ZMQChannelsWebsocketConnection._send_status_message(
        connection, status)
    upstream.tell_kernel_dead(connection)
    upstream.tell_kernel_dead(connection, "signed-out")  # why, in the content, made by the session's `msg`
    plain, why = (json.loads(sent) for sent in connection.sent)
    assert (plain["channel"], plain["header"]["msg_type"], plain["content"]) == (
        "iopub", "status", {"execution_state": "dead"})
    assert (why["channel"], why["header"]["msg_type"], why["content"]) == (
        "iopub", "status", {"execution_state": "dead", "allies_ended": "signed-out"})
    assert "msg" not in vars(connection.session)  # the session's own `msg` again


def test_jupyter_server_still_reads_the_traceback_replacement_from_the_kernels_own_manager():
    """Why `course.web.kernels.ScrubbedKernel` carries `traceback_replacement_message` (docs/upstream.md): with
    tracebacks off, jupyter_server reads it from the per-kernel manager, which has no such trait."""
    from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

    assert "self.kernel_manager.traceback_replacement_message" in _source(ZMQChannelsWebsocketConnection._on_error)
    assert not ServerKernelManager.class_traits().get("traceback_replacement_message")


def test_tornado_records_a_finished_response_where_the_adapter_reads_it():
    """`finished` reads tornado's private `_finished`: false until a handler's `prepare` answers (as
    jupyter_server's does when it sends a stranger to sign in), true after."""
    import tornado.web
    from tornado.httpclient import AsyncHTTPClient

    seen, port = [], free_port()

    class Page(tornado.web.RequestHandler):
        def prepare(self):
            seen.append(upstream.finished(self))
            self.redirect("/login")
            seen.append(upstream.finished(self))

    async def run():
        server = tornado.web.Application([("/", Page)]).listen(port, "127.0.0.1")
        try:
            response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/", follow_redirects=False,
                                                     raise_error=False)
            assert response.code == 302
        finally:
            server.stop()

    in_own_thread(run())
    assert seen == [False, True]


# -- jupyter_client ---------------------------------------------------------------------------------------
def test_a_heartbeat_thread_stops_within_the_time_given():
    """`stop_heartbeat` ends a client's heartbeat thread through its private flags, within the time given."""
    from jupyter_client.asynchronous import AsyncKernelClient

    client = AsyncKernelClient(ip="127.0.0.1", hb_port=free_port())  # nothing answers: a dead kernel
    hb = client.hb_channel
    hb.time_to_dead = 3600  # a wait that only `_exit` ends
    hb.start()
    deadline = time.monotonic() + 30
    while not hb.is_beating():  # started: its first wait is under way
        assert time.monotonic() < deadline, "the heartbeat thread did not start"
        time.sleep(0.01)
    upstream.stop_heartbeat(client, join_seconds=10)
    assert not hb.is_alive() and client._hb_channel is None


def test_jupyter_client_shutdown_runs_the_private_cleanup_the_hook_overrides():
    from jupyter_client.manager import AsyncKernelManager

    heard = []

    class Manager(upstream.with_cleanup_hook(AsyncKernelManager)):
        def resources_cleaned_up(self, restart):
            heard.append(restart)

    async def run():
        manager = Manager(kernel_name="python3")
        await manager.start_kernel()
        await manager.shutdown_kernel(now=True)

    in_own_thread(run())
    assert heard == [False]


# -- nbgrader ---------------------------------------------------------------------------------------------
def test_nbgrader_comments_each_answer_cell_through_the_private_add_comment():
    from nbformat.v4 import new_markdown_cell
    from nbgrader.preprocessors import SaveAutoGrades

    written, heard = [], []

    class Stub(SaveAutoGrades):
        def _add_comment(self, cell, resources):  # the gradebook's part, here a list
            written.append(cell.source)

    class Probe(upstream.with_comment_hook(Stub)):
        def comment_added(self, cell, resources):
            heard.append(cell.source)

    cell = new_markdown_cell("My reflection.", metadata={"nbgrader": {"solution": True, "grade": True,
                                                                      "grade_id": "m01-r1", "points": 2}})
    probe = Probe()
    probe._add_score = lambda *_: None
    probe.preprocess_cell(cell, {}, 0)
    assert written == heard == ["My reflection."]


def test_nbgrader_validates_cell_metadata_through_its_modules_jsonschema_name():
    import jsonschema
    from nbformat.v4 import new_code_cell
    from nbgrader.nbgraderformat import common
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    calls = []

    def validate(instance, schema):
        calls.append(instance)
        return jsonschema.validate(instance, schema)

    saved = common.jsonschema
    try:
        upstream.swap_schema_validation(common, validate)
        cell = new_code_cell("x = 1", metadata={"nbgrader": {
            "grade": False, "solution": True, "locked": False, "task": False, "schema_version": 3,
            "grade_id": "m01-q1"}})
        MetadataValidatorV3().validate_cell(cell)
        assert calls == [cell.metadata["nbgrader"]]
        cell.metadata["nbgrader"]["surprise"] = 1
        with pytest.raises(common.ValidationError):
            MetadataValidatorV3().validate_cell(cell)
    finally:
        common.jsonschema = saved


def test_nbconvert_makes_each_exporters_jinja_environment_where_the_adapter_hands_it_a_cache(monkeypatch):
    """Two exporters, two environments: the second compiles none of the templates the first did."""
    import jinja2
    from nbconvert import HTMLExporter

    from course.web.site import SharedTemplateCode

    class Probe(HTMLExporter):
        pass

    cache = SharedTemplateCode()
    upstream.share_compiled_templates(Probe, cache)
    upstream.share_compiled_templates(Probe, cache)  # twice: wrapped once
    first = Probe(template_name="lab")
    assert first.environment.bytecode_cache is cache and first.template is not None
    compiled = []
    compile_ = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile",
                        lambda self, *a, **k: compiled.append(a[1:2]) or compile_(self, *a, **k))
    second = Probe(template_name="lab")
    assert second.environment is not first.environment and second.template is not None
    assert compiled == [] and cache._code
    assert HTMLExporter(template_name="lab").environment.bytecode_cache is None  # only the class handed in


# -- one place --------------------------------------------------------------------------------------------
PRIVATE = ["._pools", "._initialize", "._waiters", "._cache", "_get_user", "_send_status_message",
           "_redirect_safe", "._finished", "_hb_channel", ".jsonschema =", "_async_cleanup_resources",
           "_add_comment", "voila/query", "app.listen =", '"jinja2_env"', ".send_updates =",
           "_create_environment", "default_router"]


def test_upstream_internals_are_touched_only_in_the_adapter():
    found = [f"{path.name}: {name}" for path in sorted((ROOT / "course").rglob("*.py"))
             if path.name != "upstream.py" for name in PRIVATE if name in path.read_text(encoding="utf-8")]
    assert found == []


def test_the_adapter_loads_none_of_the_packages_it_adapts():
    """A learner's kernel imports it (`claimed_request`): importing it must not bring in Voilà or the rest."""
    import subprocess
    import sys

    code = ("import sys, course.upstream; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'voila', 'jupyter_server', 'jupyter_client', 'nbgrader', 'ipywidgets', 'tornado', 'jsonschema'}))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr

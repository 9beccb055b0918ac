"""The cohort site (`python -m course cohort serve`) under attack: sign-in on every route, identity that
cannot be forged, no code from the browser, no files outside modules/, no markup from learners' text.

Routes that answer without sign-in, on purpose, and what they hold:
- `/login` (the form) and `/logout` (clears the cookie, back to /login);
- `/voila/static/…`, `/voila/templates/<template>/static/…`, `/voila/labextensions/…`, `/voila/api/themes/…`:
  Voilà's and JupyterLab's JavaScript, CSS and fonts, the same for everyone (the template route answers
  500, serving nothing, to paths it cannot split: a Voilà `assert`);
- `/voila/files/…`: refuses every path (403): the pages draw their charts inline, so no file is sent;
- `/voila/query/<kernel id>`: a websocket the *preheated kernel itself* opens, without a cookie, to learn
  which request claimed it. It answers only for a kernel id (a random UUID known to that page alone),
  and once the kernel has taken its request it holds nothing more (tested below).
None holds anything learner- or solution-specific; `test_public_routes_hold_nothing_private` checks that.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from conftest import (ROOT, free_port, get, is_login_redirect, key_canaries, login, login_cookie, query_socket,
                      request, sign_out, signed_in, start_cohort)
from playwright.sync_api import expect

from course.lesson import keys
from course.grading import release
from course.web import site
from course.store.answers import AnswerStore

MODULE = "01-why-men-why-now"
NOTEBOOK = f"{MODULE}.ipynb"
RENDER = f"/voila/render/{NOTEBOOK}"
TITLE = release.title(ROOT / "modules" / NOTEBOOK)
SOLUTION_CANARY = "Example of a full-credit answer"  # exemplar text that exists only in solutions/
GRADEBOOK_CANARY = "GRADEBOOK-CANARY-7d1e"
ANA_CANARY = "ANA-CANARY-4b2f: only Ana and her graders may read this"


# -- helpers ---------------------------------------------------------------------------------------
def kernel_id(page) -> str:
    return page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def query_socket_says(port: int, kernel: str) -> str | None:
    """What Voilà's request-info websocket sends, without a cookie, within a second (None: nothing)."""
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/voila/query/{kernel}", open_timeout=5) as ws:
        try:
            return ws.recv(timeout=1)
        except TimeoutError:
            return None


def saved_answers(server, learner: str, expected: dict, wait: float = 15) -> dict:
    """`learner`'s saved answers to module 1, once they include `expected` (or after `wait` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        with AnswerStore(server.instance / "answers.sqlite3") as store:
            saved = store.load(learner, MODULE)
        if expected.items() <= saved.items() or time.monotonic() > deadline:
            return saved
        time.sleep(0.3)


def answer_box(page, item: str):
    return page.locator(f".allies-item-{item}")


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[keys.AFTER_GRADING, keys.AFTER_ANSWERING])
def cohort(request, tmp_path_factory):
    """The cohort site in each knowledge-check feedback mode (`--check-feedback`): every test below runs
    against both, since keys are read in the kernels of one and must leak through no route in either."""
    server, codes = start_cohort(tmp_path_factory.mktemp("cohort"), "--pool-size", "1",
                                 "--check-feedback", request.param)
    yield server, codes
    server.stop()


@pytest.fixture(scope="module")
def site_(cohort):
    """The cohort site with canaries planted where a leak would show: a solutions copy and a fake
    gradebook in the instance folder, and an answer in Ana's store."""
    server, codes = cohort
    instance = server.instance
    shutil.copy(ROOT / "solutions" / NOTEBOOK, instance / "solutions-copy.ipynb")
    with sqlite3.connect(instance / "gradebook.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS grade (note TEXT)")
        db.execute("INSERT INTO grade VALUES (?)", (GRADEBOOK_CANARY,))
    db.close()
    with AnswerStore(instance / "answers.sqlite3") as store:
        store.save("ana", MODULE, "m01-r1", ANA_CANARY)
    assert SOLUTION_CANARY in (ROOT / "solutions" / NOTEBOOK).read_text(encoding="utf-8")
    assert SOLUTION_CANARY not in (ROOT / "modules" / NOTEBOOK).read_text(encoding="utf-8")
    return server, codes


@pytest.fixture(scope="module")
def canaries(site_):
    server, _ = site_
    secret = (server.instance / "cookie_secret").read_bytes()
    # Each check's explanation (its key in words) lives only in the hidden tests of solutions/.
    explanations = [text.encode() for text in key_canaries().values()]
    assert len(explanations) >= 20 and not any(e in (ROOT / "modules").joinpath(NOTEBOOK).read_bytes()
                                               for e in explanations)
    return [SOLUTION_CANARY.encode(), GRADEBOOK_CANARY.encode(), ANA_CANARY.encode(), b"ANA-CANARY",
            secret, secret.hex().encode(), *explanations]


@pytest.fixture(scope="module")
def ben_cookie(site_):
    server, codes = site_
    return {"Cookie": login_cookie(login(server.port, "ben", codes["ben"])[3])}


@pytest.fixture(scope="module")
def ben_page(site_, browser):
    """Ben signed in through the form in Chromium, every request claiming to be Ana (header and query)."""
    server, codes = site_
    context = browser.new_context()
    context.set_extra_http_headers({"X-Allies-Learner": "ana"})
    page = context.new_page()
    page.goto(f"{server.url}{RENDER}?learner=ana")
    page.wait_for_url("**/login?**")
    page.fill("#learner", "ben")
    page.fill("#code", codes["ben"])
    page.click("button[type=submit]")
    page.wait_for_url(f"**{RENDER}?learner=ana")
    expect(answer_box(page, "m01-r2").locator("textarea")).to_be_visible(timeout=45_000)
    yield page
    context.close()


# -- 1. sign-in on every route ---------------------------------------------------------------------
def test_every_route_needs_sign_in(site_):
    server, _ = site_
    fake = str(uuid.uuid4())
    routes = ["/", "/?learner=ana", "/voila/tree", "/voila/tree/", f"/voila/tree/{NOTEBOOK}", RENDER,
              f"{RENDER}?template=lab", f"/voila/files/{NOTEBOOK}", "/voila/api/contents",
              "/voila/api/contents/", f"/voila/api/contents/{NOTEBOOK}", f"/api/kernels/{fake}",
              f"/api/kernels/{fake}/channels", f"/voila/api/shutdown/{fake}", "/api/kernels", "/api/contents",
              "/api/sessions", "/tree", "/lab", "/notebooks/" + NOTEBOOK, "/files/" + NOTEBOOK]
    for path in routes:
        for headers in ({}, {"X-Allies-Learner": "ana"}, {"Cookie": f"username-127-0-0-1-{server.port}=eyJ1c2VybmFtZSI6ICJhbmEifQ=="}):
            status, head, body, cookies = request(server.port, path, headers=headers)
            assert is_login_redirect(status, head) or status in (401, 403, 404, 405), (path, headers, status)
            assert TITLE.encode() not in body and b"kernelId" not in body, path
            assert login_cookie(cookies) is None, path


def test_public_routes_hold_nothing_private(site_, canaries):
    server, _ = site_
    fake = str(uuid.uuid4())
    public = ["/login", "/voila/static/voila.js", "/voila/templates/allies/static/allies.css",
              "/voila/templates/lab/static/voila.js", "/voila/labextensions/jupyterlab_pygments/package.json",
              "/voila/labextensions/@jupyter-widgets/jupyterlab-manager/package.json"]
    for path in public:
        status, _, body, _ = request(server.port, path)
        assert status == 200, path
        assert not any(c in body for c in canaries) and b"Ana Lima" not in body and TITLE.encode() not in body
    # The kernels' request-info socket, without a cookie, for a kernel id nobody holds: nothing comes.
    assert query_socket_says(server.port, fake) is None


def test_a_wrong_code_gets_401_a_clear_message_and_no_cookie(site_):
    server, codes = site_
    for learner, code in [("ana", "wrong-code"), ("ana", codes["ben"]), ("nobody", codes["ana"]), ("ana", "")]:
        status, _, body, cookies = login(server.port, learner, code)
        assert status == 401, (learner, code)
        assert b"do not match" in body and b'role="alert"' in body
        assert login_cookie(cookies) is None


def test_a_login_without_the_xsrf_field_is_refused(site_):
    server, codes = site_
    form = urllib.parse.urlencode({"learner": "ana", "code": codes["ana"]})
    status, _, _, cookies = request(server.port, "/login", "POST", form,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and login_cookie(cookies) is None


def test_ana_signs_in_sees_the_module_and_can_sign_out(site_):
    server, codes = site_
    status, head, _, cookies = login(server.port, "ana", codes["ana"], next_url=RENDER)
    assert status == 302 and head["Location"] == RENDER
    cookie = login_cookie(cookies)
    assert cookie and "httponly" in next(c for c in cookies if c.startswith("username-")).lower()
    status, body = get(server.port, RENDER, {"Cookie": cookie})
    assert status == 200 and f"<title>{TITLE}</title>" in body and "kernelId" in body
    assert not any(key in body for key in key_canaries().values())  # no key before she answers, either mode
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
    status, body = get(server.port, "/", {"Cookie": cookie})
    assert status == 200 and TITLE in body
    status, head, _, cleared = sign_out(server.port, {"Cookie": cookie})
    assert is_login_redirect(status, head) and any(c.startswith("username-") for c in cleared)
    assert login_cookie(cleared) is None
    # Ana's live kernel, by its real id, without her cookie: nothing, over HTTP or websocket.
    for path in [f"/api/kernels/{kernel}", f"/api/kernels/{kernel}/channels", f"/voila/api/shutdown/{kernel}"]:
        assert request(server.port, path)[0] in (403, 404, 405), path
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels", open_timeout=5)
    assert refused.value.response.status_code == 403


def test_a_kernel_answers_only_the_learner_it_was_started_for(site_):
    """Ben, signed in, who learns Ana's kernel id, and Ines, an instructor, are refused on every kernel
    route; Ana's own requests still reach it."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    server, codes = site_
    ana = signed_in(server.port, "ana", codes["ana"])
    body = get(server.port, RENDER, ana)[1]
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
    channels = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels"
    routes = [("GET", f"/api/kernels/{kernel}"), ("POST", f"/api/kernels/{kernel}/interrupt"),
              ("POST", f"/api/kernels/{kernel}/restart"), ("DELETE", f"/api/kernels/{kernel}"),
              ("POST", f"/voila/api/shutdown/{kernel}")]
    for stranger in ("ben", "ines"):
        headers = signed_in(server.port, stranger, codes[stranger])
        for method, path in routes:
            assert request(server.port, path, method, headers=headers)[0] in (403, 404), (stranger, method, path)
        with pytest.raises(InvalidStatus) as refused:
            connect(channels, additional_headers=headers, open_timeout=5)
        assert refused.value.response.status_code == 403
    status, _, body, _ = request(server.port, f"/api/kernels/{kernel}", headers=ana)
    assert status == 200 and kernel.encode() in body
    with connect(channels, additional_headers=ana, open_timeout=5):
        pass
    assert request(server.port, f"/voila/api/shutdown/{kernel}", "POST", headers=ana)[0] == 204


# -- 2. identity cannot be forged ------------------------------------------------------------------
def test_ben_claiming_to_be_ana_gets_his_own_kernel(site_, ben_page, canaries):
    server, _ = site_
    page = ben_page
    page.wait_for_timeout(2000)  # give a late restore every chance to show Ana's answer
    values = page.eval_on_selector_all("textarea", "ts => ts.map(t => t.value)")
    assert values and not any("ANA-CANARY" in v for v in values)
    assert "ANA-CANARY" not in page.content()
    assert "ANA-CANARY" not in page.inner_text("body")
    # What Ben types is saved as Ben's, and Ana's answers are untouched.
    mark = f"BEN-MARK-{uuid.uuid4().hex[:6]}"
    answer_box(page, "m01-r2").locator("textarea").fill(mark)
    assert saved_answers(server, "ben", {"m01-r2": mark}) == {"m01-r2": mark}
    assert saved_answers(server, "ana", {}) == {"m01-r1": ANA_CANARY}
    # A stranger who learns this kernel's id gets nothing from the request-info socket.
    assert query_socket_says(server.port, kernel_id(page)) is None


def test_the_identity_header_alone_opens_nothing(site_, canaries):
    server, _ = site_
    for path in ["/", RENDER, f"{RENDER}?learner=ana", "/voila/tree", f"/voila/api/contents/{NOTEBOOK}"]:
        status, head, body, _ = request(server.port, path, headers={"X-Allies-Learner": "ana"})
        assert is_login_redirect(status, head) or status in (401, 403), path
        assert not any(c in body for c in canaries) and TITLE.encode() not in body


def test_strangers_on_the_request_info_socket_cannot_cut_a_kernel_off():
    """`/voila/query/<kernel id>` needs no sign-in (the waiting kernel itself connects there). Voilà's
    handler, as the cohort site runs it (fixed through `course.upstream`), on a bare Tornado app: a stranger who
    replaces a waiter and hangs up must not unhook another kernel (Voilà dropped the *last* waiter, so the
    next learner's kernel never learnt who they were and their answers went unsaved), and a claimed
    kernel's request info is handed over once, not kept for whoever asks next."""
    from voila.request_info_handler import RequestInfoSocketHandler
    from websockets.sync.client import connect

    from course.web import site

    site.adapt_voila()  # as the server process does before it serves
    waiters, cache = RequestInfoSocketHandler._waiters, RequestInfoSocketHandler._cache

    def until(condition, what: str, seconds: float = 30) -> None:
        """Wait for the server thread to reach `condition` (it runs beside this one, on a loaded machine)."""
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"the server never {what}"
            time.sleep(0.01)

    with query_socket() as (port, loop):
        def claim(kernel: str, payload: str) -> None:
            loop.call_soon_threadsafe(RequestInfoSocketHandler.send_updates, {"kernel_id": kernel,
                                                                              "payload": payload})

        url = f"ws://127.0.0.1:{port}/voila/query/"
        stranger, kernel = str(uuid.uuid4()), str(uuid.uuid4())
        with connect(url + stranger) as first, connect(url + kernel) as waiting:
            until(lambda: stranger in waiters and kernel in waiters, "registered both waiters")
            replaced = waiters[stranger]
            with connect(url + stranger):
                until(lambda: waiters.get(stranger) not in (None, replaced), "took the second stranger")
                first.close()
                # tornado drops the connection, then calls on_close in the same callback; the claim below
                # is scheduled on the server's loop after it
                until(lambda: replaced.ws_connection is None, "handled the first stranger hanging up")
                claim(kernel, '{"HTTP_X_ALLIES_LEARNER": "ben"}')
                assert waiting.recv(timeout=30) == '{"HTTP_X_ALLIES_LEARNER": "ben"}'
        early = str(uuid.uuid4())  # claimed before its kernel connected: Voilà caches the request info
        claim(early, '{"HTTP_X_ALLIES_LEARNER": "ana"}')
        until(lambda: early in cache, "cached the early claim")
        with connect(url + early) as late_kernel:
            assert late_kernel.recv(timeout=30) == '{"HTTP_X_ALLIES_LEARNER": "ana"}'
        assert query_socket_says(port, early) is None


# -- 3. no code execution from the browser ---------------------------------------------------------
# The page's kernel from the browser console: a second socket of the learner's own, messages sent by hand.
# `idle(id)` waits for the kernel to finish with message `id`: the kernel handles one shell message at a time
# and publishes what that message caused before its 'idle', so whatever `id` made the kernel do has arrived.
BY_HAND = """async ([kernelId, forged]) => {
  const ws = new WebSocket(`ws://${location.host}/api/kernels/${kernelId}/channels?session_id=${crypto.randomUUID()}`);
  const got = [];
  ws.onmessage = (event) => { if (typeof event.data === 'string') got.push(JSON.parse(event.data)); };
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('websocket refused')); });
  const session = crypto.randomUUID();
  const send = (type, content, metadata = {}) => { const id = crypto.randomUUID();
    ws.send(JSON.stringify({channel: 'shell', header: {msg_id: id, msg_type: type, session, username: 'ben',
      version: '5.3', date: new Date().toISOString()}, parent_header: {}, metadata, content, buffers: []}));
    return id; };
  const idle = (id) => new Promise((ok, fail) => { const start = Date.now(); (function check() {
    if (got.some(m => m.header.msg_type === 'status' && m.content.execution_state === 'idle'
                      && m.parent_header.msg_id === id)) ok();
    else if (Date.now() - start > 30000) fail(new Error(`the kernel never finished with ${id}`));
    else setTimeout(check, 50); })(); });
  const sent = await (FORGED)(send, forged);
  await idle(sent.last);
  ws.close();
  return {sent, got: got.map(m => [m.header.msg_type, m.parent_header.msg_id || null, m.content.comm_id || null,
                                   (m.content.data || {}).method || null])};
}"""


def by_hand(page, forged: str, argument) -> dict:
    """Send the kernel behind `page` what the JS function `forged(send, argument)` sends (it returns the ids it
    sent, `last` among them); returns those ids and what came back once the kernel was done with `last`."""
    return page.evaluate(BY_HAND.replace("(FORGED)", f"({forged})"), [kernel_id(page), argument])


EXECUTE = """(send, code) => ({execute: send('execute_request', {code, silent: false, store_history: false,
                                   user_expressions: {}, allow_stdin: false, stop_on_error: true}),
                              last: send('kernel_info_request', {})})"""


def test_the_page_cannot_run_code_in_its_kernel(ben_page, tmp_path):
    marker = tmp_path / "pwned"
    result = by_hand(ben_page, EXECUTE, f"open({str(marker)!r}, 'w').write('ran')")
    parents = {parent for _, parent, _, _ in result["got"]}
    assert result["sent"]["last"] in parents, result["got"]  # the socket works…
    assert result["sent"]["execute"] not in parents, result["got"]  # …execute is dropped
    assert not marker.exists()


# A widget the page asks the kernel to build (ipywidgets' `jupyter.widget` target), then asks for its state.
WIDGET = """(send, value) => { const comm_id = crypto.randomUUID();
  send('comm_open', {comm_id, target_name: 'jupyter.widget', data: {buffer_paths: [], state: {
    _model_name: 'TextModel', _model_module: '@jupyter-widgets/controls', _model_module_version: '2.0.0',
    _view_name: 'TextView', _view_module: '@jupyter-widgets/controls', _view_module_version: '2.0.0', value}}},
    {version: '2.1.0'});
  return {comm_id, last: send('comm_msg', {comm_id, data: {method: 'request_state'}})}; }"""


def test_the_page_cannot_make_the_kernel_build_and_keep_widgets(ben_page):
    """Each would stay in the kernel's memory, as large and as many as the learner liked."""
    result = by_hand(ben_page, WIDGET, "x" * 100_000)
    forged = [(kind, method) for kind, _, comm, method in result["got"] if comm == result["sent"]["comm_id"]]
    assert forged == [("comm_close", None)], result["got"]  # refused at once; before: ('comm_msg', 'update')


# -- 4. nothing outside modules/ -------------------------------------------------------------------
ROUTES = ["/voila/tree/", "/voila/render/", "/voila/files/", "/voila/static/", "/voila/templates/allies/static/",
          "/voila/templates/", "/voila/labextensions/", "/voila/api/contents/", "/voila/api/themes/"]
UP = 14  # enough `..` to reach / from any of those roots


def probes(targets: list[Path]) -> list[str]:
    forms = ["../" * UP, "%2e%2e/" * UP, "%2e%2e%2f" * UP, "%2E%2E%2F" * UP, "..%2f" * UP,
             "%252e%252e%252f" * UP, "..%252f" * UP, ".%2e/" * UP, "..\\" * UP, "/", "%2f"]
    paths = []
    for route in ROUTES:
        for target in targets:
            relative = str(target).lstrip("/")
            for form in forms:
                quoted = relative.replace("/", "%2f") if "%2f" in form.lower() else relative
                paths.append(route + form + quoted)
        paths += [route + "..", route + "%2e%2e", route + "../solutions/" + NOTEBOOK,
                  route + "%2e%2e%2fsolutions%2f" + NOTEBOOK, route + "%252e%252e%252fsolutions%252f" + NOTEBOOK]
    return paths


def test_files_outside_modules_are_never_served(site_, ben_cookie, canaries):
    server, _ = site_
    instance = server.instance
    targets = [ROOT / "solutions" / NOTEBOOK, ROOT / "solutions", instance, instance / "solutions-copy.ipynb",
               instance / "gradebook.db", instance / "answers.sqlite3", instance / "answers.sqlite3-wal",
               instance / "cookie_secret", ROOT / "README.md"]
    checked = 0
    for path in probes(targets):
        status, head, body, _ = request(server.port, path, headers=ben_cookie)
        if status in (301, 302) and not is_login_redirect(status, head):
            # /voila/render/<not a notebook> sends the browser to /voila/files/<same path>: follow it.
            assert not any(c in body for c in canaries), path
            path = head["Location"]
            assert path.startswith("/voila/files/"), (path, status)
            status, head, body, _ = request(server.port, path, headers=ben_cookie)
        assert status in (403, 404) or is_login_redirect(status, head), (path, status)
        assert not any(c in body for c in canaries), path
        checked += 1
    assert checked > 500


def test_a_modules_folder_with_a_link_leading_out_is_not_served(tmp_path):
    """Jupyter follows symbolic links under its root (render and contents both did, in a trial), so the
    site refuses to start on a modules folder holding one that leads outside it."""
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(ROOT / "modules" / NOTEBOOK, modules / NOTEBOOK)
    shutil.copy(ROOT / "solutions" / NOTEBOOK, tmp_path / "secret.ipynb")
    (modules / "02-linked.ipynb").symlink_to(tmp_path / "secret.ipynb")
    env = {**os.environ, "ALLIES_MODULES_DIR": str(modules)}
    result = subprocess.run([sys.executable, "-m", "course", "cohort", "serve", "--instance", str(tmp_path / "i"),
                             "--port", str(free_port()), "--pool-size", "0"], check=False, cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)  # slow to start under load
    assert result.returncode != 0 and "02-linked.ipynb" in result.stderr, result.stderr[-2000:]
    assert site.links_out(ROOT / "modules") == []


# -- 5. learners' text is text ---------------------------------------------------------------------
HOSTILE = {"m01-r1": '<img src=x onerror="window.__pwned=1">', "m01-r2": "<script>window.__pwned=2</script>"}


def test_hostile_text_is_shown_as_text_never_run(site_, ben_page):
    server, _ = site_
    page = ben_page
    for item, text in HOSTILE.items():
        answer_box(page, item).locator("textarea").fill(text)
    saved = saved_answers(server, "ben", HOSTILE)
    assert HOSTILE.items() <= saved.items(), saved
    page.reload()
    for item, text in HOSTILE.items():  # restored from the store, into the text areas, as text
        expect(answer_box(page, item).locator("textarea")).to_have_value(text, timeout=45_000)
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator('img[src="x"]').count() == 0

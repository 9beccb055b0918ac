"""Shared fixtures: every test runs with its own Jupyter, IPython and matplotlib state directories."""
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import sys
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(autouse=True)
def answers_kept_by_the_session():
    """Answer widgets built in a test keep their answers with the test process's session, as a module's kernel
    does once it imports `course.lesson.figures`; whatever order test files run in."""
    from course.lesson import session, widgets

    widgets.answer_with(session.current)
    yield


@pytest.fixture(autouse=True, scope="session")
def isolated_jupyter_home(tmp_path_factory):
    """Keep the stack from writing to ~/.jupyter, ~/.ipython, ~/.local/share/jupyter, ~/.cache/matplotlib."""
    home = tmp_path_factory.mktemp("jupyter-home")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR",
                                            "MPLCONFIGDIR", "PATH", "ALLIES_CACHE_DIR")}
    os.environ["JUPYTER_CONFIG_DIR"] = str(home / "config")
    os.environ["JUPYTER_DATA_DIR"] = str(home / "data")
    os.environ["IPYTHONDIR"] = str(home / "ipython")
    os.environ["MPLCONFIGDIR"] = str(home / "mpl")
    # Charts are cached per test run, never in the repository's instance/cache (course/paths.py); the workers
    # of one `pytest -n` run share the cache (written atomically), so that a module's charts and simulations
    # (Module 3's take half a minute on 2 cores) are computed once per run, not once per worker.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    shared = tmp_path_factory.getbasetemp().parent / f"chart-cache-{run}" if run else home / "chart-cache"
    os.environ["ALLIES_CACHE_DIR"] = str(shared)
    # nbgrader runs `alembic` from PATH.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def query_socket():
    """Voilà's request-info socket (`/voila/query/<kernel id>`, as this process has it) on a bare Tornado
    app, served in its own thread (the browser's event loop owns this one); yields (port, loop)."""
    import asyncio
    import threading

    import tornado.web
    from voila.request_info_handler import RequestInfoSocketHandler

    port, loop, listening = free_port(), asyncio.new_event_loop(), threading.Event()
    app = tornado.web.Application([(r"/voila/query/(.*)", RequestInfoSocketHandler)])

    def serve():
        asyncio.set_event_loop(loop)
        server = app.listen(port, "127.0.0.1")
        listening.set()
        loop.run_forever()
        server.stop()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert listening.wait(10)
    try:
        yield port, loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright (Playwright cannot download a browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    """GET `path` exactly as written (no client-side clean-up of `..` or `%2e`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


# -- the cohort site over plain HTTP ---------------------------------------------------------------
def request(port: int, path: str, method: str = "GET", body: str | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes, list[str]]:
    """One raw request (path sent exactly as written); returns status, headers, body bytes, Set-Cookies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
        return response.status, dict(response.getheaders()), response.read(), cookies
    finally:
        conn.close()


def login(port: int, learner: str, code: str, next_url: str = "/",
          headers: dict | None = None) -> tuple[int, dict, bytes, list[str]]:
    """GET /login for the _xsrf cookie and form field, then POST the form with them (and `headers`)."""
    status, _, page, cookies = request(port, "/login", headers=headers)
    assert status == 200
    xsrf_cookie = next(c.split(";")[0] for c in cookies if c.startswith("_xsrf="))
    field = re.search(rb'name="_xsrf" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"_xsrf": field, "learner": learner, "code": code})
    return request(port, f"/login?next={urllib.parse.quote(next_url)}", "POST", form,
                   {**(headers or {}), "Cookie": xsrf_cookie, "Content-Type": "application/x-www-form-urlencoded"})


def login_cookie(cookies: list[str]) -> str | None:
    """The sign-in cookie (`name=value`) among Set-Cookie headers, if one is set (not cleared)."""
    pairs = [c.split(";")[0] for c in cookies if c.startswith("username-")]
    return next((p for p in pairs if p.split("=", 1)[1].strip('"')), None)


def signed_in(port: int, learner: str, code: str) -> dict:
    """Headers of a signed-in browser: the sign-in and _xsrf cookies, and the _xsrf header that
    jupyter_server wants with every POST and DELETE."""
    cookies = request(port, "/login")[3]
    xsrf = next(c.split(";")[0] for c in cookies if c.startswith("_xsrf="))
    return {"Cookie": f"{login_cookie(login(port, learner, code)[3])}; {xsrf}",
            "X-XSRFToken": xsrf.split("=", 1)[1]}


def sign_out(port: int, headers: dict) -> tuple[int, dict, bytes, list[str]]:
    """Press the index page's Sign out button: POST its form, with its _xsrf field, to /logout."""
    status, _, page, cookies = request(port, "/", headers=headers)
    assert status == 200, status
    form = re.search(rb'<form method="post" action="/logout">.*?name="_xsrf" value="([^"]+)"', page, re.S)
    assert form, "the index page has no Sign out button"
    cookie = "; ".join([headers["Cookie"], *(c.split(";")[0] for c in cookies if c.startswith("_xsrf="))])
    return request(port, "/logout", "POST", urllib.parse.urlencode({"_xsrf": form.group(1).decode()}),
                   {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})


def is_login_redirect(status: int, headers: dict) -> bool:
    return status in (301, 302, 303, 307) and urllib.parse.urlparse(headers.get("Location", "")).path == "/login"


class Server:
    """A real course server (`python -m course …`) in a subprocess, on a free port; restartable."""

    def __init__(self, args: list[str], log: Path, port: int | None = None):
        self.args, self.log, self.port = args, log, port or free_port()
        self.proc = None

    def start(self, timeout: float = 180) -> "Server":  # a loaded 2-core machine has taken over 60 s
        import subprocess
        import time

        out = open(self.log, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "course", *self.args, "--port", str(self.port)],
                                     cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if get(self.port, "/login")[0] in (200, 302, 404) and get(self.port, "/")[0] < 500:
                    return self
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not answer:\n" + self.log.read_text()
            time.sleep(0.2)

    def stop(self, kill: bool = False) -> None:
        import subprocess

        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_cohort(folder: Path, *options: str, store_url: str | None = None) -> tuple[Server, dict[str, str]]:
    """A cohort site with three people on its roster, started with `options` (and its answers in the
    PostgreSQL database at `store_url`, if given); (server, {id: access code})."""
    import csv
    import io
    import subprocess

    instance = folder / "instance"
    roster = folder / "roster.csv"
    roster.write_text("learner_id,display_name,role\nana,Ana Lima,learner\nben,Ben Okafor,learner\n"
                      "ines,Inés Ruiz,instructor\n", encoding="utf-8")
    store = ["--store-url", store_url] if store_url else []
    result = subprocess.run([sys.executable, "-m", "course", "cohort", "add-learners", str(roster),
                             "--instance", str(instance), *store], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    codes = {row["learner_id"]: row["access_code"] for row in csv.DictReader(io.StringIO(result.stdout))}
    server = Server(["cohort", "serve", "--instance", str(instance), *store, *options], folder / "server.log")
    server.instance = instance
    return server.start(), codes


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A cohort site with one preheated kernel per module; yields (server, {learner_id: access code})."""
    server, codes = start_cohort(tmp_path_factory.mktemp("cohort"), "--pool-size", "1")
    yield server, codes
    server.stop()


SOLUTION = re.compile(r"### BEGIN SOLUTION\s*answer = (['\"])(.+?)\1")


def correct_answers(name: str, checks_only: bool = False) -> dict[str, str]:
    """The right letters (and, unless `checks_only`, the exemplar reflections) of a module, by grade id,
    read from the instructor's source."""
    nb = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text(encoding="utf-8"))
    answers = {}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("solution") or (checks_only and cell["cell_type"] != "code"):
            continue
        source = "".join(cell["source"])
        answers[meta["grade_id"]] = SOLUTION.search(source).group(2) if cell["cell_type"] == "code" else source
    return answers


def check_explanations() -> dict[str, str]:
    """Every knowledge check's explanation, by item, read from its hidden test in the instructor's source:
    text that no learner may see before grading on a site that keeps keys until then."""
    from course.lesson.keys import key_of

    found = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]-*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
            if grade_id.endswith("-check") and (key := key_of("".join(cell["source"]))):
                found[grade_id.removesuffix("-check")] = key.explanation
    return found


def key_canaries() -> dict[str, str]:
    """For each check, 40 characters of its explanation that HTML and JSON carry unescaped, so that a copy
    of the explanation is found in a page or a kernel message however it was escaped there."""
    return {item: max(re.split(r"[&<>\"'\\]", text), key=len)[:40] for item, text in check_explanations().items()}


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for this test process (tests/helpers/postgres.py); `.database()` makes
    a new empty database and returns its URL."""
    sys.path.insert(0, str(ROOT / "tests" / "helpers"))
    import postgres

    with postgres.cluster() as cluster:
        yield cluster


STORE_BACKENDS = ["sqlite", "postgresql"]


def store_location(request, directory: Path) -> str | Path:
    """An empty answer store on the back end `request.param` names: a SQLite file in `directory`, or a new
    database on the test process's PostgreSQL server."""
    if request.param == "sqlite":
        return directory / "answers.sqlite"
    return request.getfixturevalue("pg_cluster").database()


def store_instance(request, folder: Path):
    """A site instance in `folder` whose answer store is on the back end `request.param` names: its SQLite
    file, or a new PostgreSQL database given as its store URL."""
    from course.instance import Instance

    return Instance(folder, store_url=None if request.param == "sqlite" else store_location(request, folder))

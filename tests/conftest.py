"""Shared fixtures: every test runs with its own Jupyter, IPython and matplotlib state directories."""
import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(autouse=True, scope="session")
def isolated_jupyter_home(tmp_path_factory):
    """Keep the stack from writing to ~/.jupyter, ~/.ipython, ~/.local/share/jupyter, ~/.cache/matplotlib."""
    home = tmp_path_factory.mktemp("jupyter-home")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR",
                                            "MPLCONFIGDIR", "PATH")}
    os.environ["JUPYTER_CONFIG_DIR"] = str(home / "config")
    os.environ["JUPYTER_DATA_DIR"] = str(home / "data")
    os.environ["IPYTHONDIR"] = str(home / "ipython")
    os.environ["MPLCONFIGDIR"] = str(home / "mpl")
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
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Server:
    """A real course server (`python -m course …`) in a subprocess, on a free port; restartable."""

    def __init__(self, args: list[str], log: Path, port: int | None = None):
        self.args, self.log, self.port = args, log, port or free_port()
        self.proc = None

    def start(self, timeout: float = 60) -> "Server":
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


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A cohort site with three people on its roster; yields (server, {learner_id: access code})."""
    import csv
    import io
    import subprocess

    folder = tmp_path_factory.mktemp("cohort")
    instance = folder / "instance"
    roster = folder / "roster.csv"
    roster.write_text("learner_id,display_name,role\nana,Ana Lima,learner\nben,Ben Okafor,learner\n"
                      "ines,Inés Ruiz,instructor\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "course", "cohort", "add-learners", str(roster),
                             "--instance", str(instance)], cwd=ROOT, capture_output=True, text=True, check=True)
    codes = {row["learner_id"]: row["access_code"] for row in csv.DictReader(io.StringIO(result.stdout))}
    server = Server(["cohort", "serve", "--instance", str(instance), "--pool-size", "1"], folder / "server.log")
    server.instance = instance
    server.start()
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

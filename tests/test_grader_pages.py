"""Learner text is inert where a grader reads it: a hostile reflection from each answer path (the cohort
site's Submit and a JupyterLab learner's own markdown, raw and output cells) is autograded, then opened in the
real formgrader (nbgrader's server extension in a real Jupyter server) and in nbgrader's feedback page, in
headless Chromium: no script runs, no request reaches the learner's address, and the text is shown as written."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from nbgrader.api import Gradebook

from conftest import correct_answers, free_port
from course.grading import autograding, collecting, feedback, instructor
from course.grading.settings import COURSE_ID
from course.lesson.submissions import answer_cells, fill, to_exchange

MODULE = "01-why-men-why-now"
TOKEN = "grader-pages-test-token"


class Canary(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        Canary.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def payload(port: int) -> str:
    here = f"http://127.0.0.1:{port}"
    return (f'Before. <script>window.__pwned = 1; fetch("{here}/script")</script>\n\n'
            f'<img src="{here}/img" onerror="window.__pwned = 2"> <svg onload="window.__pwned = 3"></svg>\n'
            f'[click me](javascript:window.__pwned=4) ![x]({here}/md-image)\n\n'
            f'<iframe src="{here}/frame"></iframe> $\\href{{javascript:window.__pwned=5}}{{maths}}$ After.')


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    canary = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    threading.Thread(target=canary.serve_forever, daemon=True).start()
    text = payload(canary.server_address[1])
    root = tmp_path_factory.mktemp("grader-pages") / "course"
    instructor.init(root, modules=[MODULE], check=False, log=lambda *a: None)
    release = json.loads((root / "release" / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    reflections = [k for k, kind in answer_cells(release).items() if kind == "markdown"]
    letters = correct_answers(MODULE, checks_only=True)
    # The cohort site's path: the learner's text becomes the reflection cells.
    to_exchange(root / "exchange", COURSE_ID, "site-learner", MODULE,
                fill(release, {**letters, **{r: text for r in reflections}}))
    # JupyterLab's path: the learner edits the notebook itself.
    nb = fill(release, letters)
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") in reflections:
            cell["source"] = text
    nb["cells"][1:1] = [
        {"cell_type": "markdown", "metadata": {}, "source": text, "id": "own-markdown"},
        {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": text, "id": "own-raw"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "own-code",
         "source": f"from IPython.display import HTML, Javascript, display\ndisplay(HTML({text!r}))\n"
                   "display(Javascript('window.__pwned = 6'))"}]
    to_exchange(root / "exchange", COURSE_ID, "lab-learner", MODULE, nb)
    collecting.collect(root, log=lambda *a: None)
    assert all(r.ok for r in autograding.autograde(root, jobs=2, log=lambda *a: None))
    feedback.feedback(root, log=lambda *a: None)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        ids = {s.student.id: s.notebooks[0].id for s in gb.find_assignment(MODULE).submissions}
    yield {"root": root, "ids": ids, "text": text}
    canary.shutdown()


@pytest.fixture(scope="module")
def formgrader(graded, tmp_path_factory):
    """A real Jupyter server with nbgrader's formgrader, run in the course directory as an instructor would."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("formgrader") / "server.log", "w")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
                             f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                             f"--ServerApp.root_dir={graded['root']}"],
                            cwd=graded["root"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, "the Jupyter server stopped"
        try:
            with urllib.request.urlopen(f"{url}/formgrader/api/status?token={TOKEN}", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "formgrader did not answer"
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(15)


def _open(browser, url: str) -> dict:
    """Open `url` and report what ran and which requests went out."""
    Canary.hits.clear()
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="load")
    page.wait_for_selector(".allies-learner-text")
    page.wait_for_load_state("networkidle")
    found = {"pwned": page.evaluate("window.__pwned"), "requests": requests, "canary": list(Canary.hits),
             "shown": page.locator(".allies-learner-text").first.inner_text()}
    page.close()
    return found


@pytest.mark.parametrize("learner", ["site-learner", "lab-learner"])
def test_a_hostile_reflection_is_inert_in_formgrader(browser, graded, formgrader, learner):
    found = _open(browser, f"{formgrader}/formgrader/submissions/{graded['ids'][learner]}?token={TOKEN}")
    assert found["pwned"] is None
    assert found["canary"] == []
    assert "<script>window.__pwned = 1;" in found["shown"]  # the text itself, as written


@pytest.mark.parametrize("learner", ["site-learner", "lab-learner"])
def test_a_hostile_reflection_is_inert_in_the_feedback_page(browser, graded, learner):
    page = graded["root"] / "feedback" / learner / MODULE / f"{MODULE}.html"
    found = _open(browser, page.as_uri())
    assert found["pwned"] is None
    assert found["canary"] == []
    assert "![x](" in found["shown"]


def test_every_copy_of_the_text_in_the_lab_submission_is_inert(graded):
    nb = json.loads((graded["root"] / "autograded" / "lab-learner" / MODULE / f"{MODULE}.ipynb").read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if "window.__pwned" in source and cell["cell_type"] != "code":
            assert cell["cell_type"] == "markdown" and source.startswith('<div class="allies-learner-text')
            assert "<script>" not in source
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert "text/html" not in outputs and "application/javascript" not in outputs

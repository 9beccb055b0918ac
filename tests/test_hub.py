"""The course on JupyterHub, for real on loopback (`make test-hub`): deploy/jupyterhub/jupyterhub_config.py as
shipped, with configurable-http-proxy from npm, a local-process spawner and the formgrader and idle-culler
services. Only sign-in and the spawner are the test's (a password authenticator; every server as this user).

Three learners and one instructor sign in. Two learners answer Module 1 on the course's Voilà pages in their
own servers and press Submit; the third fetches and submits it from JupyterLab's Assignments API. Each sees
only their own answers; another's server, progress or the formgrader is refused. The instructor reaches the
formgrader, then collects, autogrades and returns feedback with `python -m course instructor`, and each
learner's page shows their own feedback.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import ROOT, free_port
from playwright.sync_api import expect
from test_cohort_answers import CHECKS, MODULE, REFLECTIONS, RIGHT, answer_all, shown, submit, wait_until_ready

from course.contract import COURSE_ID
from course.web import hub as course_hub

DEPLOY = ROOT / "deploy" / "jupyterhub"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "a test password for everyone"
LEARNERS = ["ana", "ben", "cara"]
INSTRUCTOR = "ines"
SLOW = 120_000  # ms: a learner's first visit starts their server, then a kernel, on 2 loaded cores
PAGE = f"voila/render/modules/{MODULE}.ipynb"

OVERLAY = """\
# The test's sign-in and spawner on top of the shipped configuration.
c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {users!r}
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
if {root_user!r}:  # CI runs as root; jupyter_server then wants to be told
    c.Spawner.args = ["--allow-root"]
    c.JupyterHub.services[0]["command"].append("--allow-root")
"""


def hub_processes(api_port: int) -> list[psutil.Process]:
    """The hub's proxy, services and learners' servers: the processes that talk to this hub's API port."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            env = proc.info["environ"] or {}
            line = " ".join(proc.info["cmdline"] or [])
        except (psutil.Error, TypeError):
            continue
        if f"127.0.0.1:{api_port}" in env.get("JUPYTERHUB_API_URL", "") or f"--api-port {api_port}" in line:
            found.append(proc)
    return found


class Hub:
    def __init__(self, folder: Path):
        self.folder = folder
        self.root = folder / "hub"
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "hub.log"
        self.proc = None

    def start(self) -> "Hub":
        homes = self.folder / "home"
        for user in [*LEARNERS, INSTRUCTOR]:
            (homes / user).mkdir(parents=True)
        overlay = self.folder / "jupyterhub_config.py"
        overlay.write_text(OVERLAY.format(
            config=str(DEPLOY / "jupyterhub_config.py"), password=PASSWORD, users={*LEARNERS, INSTRUCTOR},
            homes=str(homes), hub_port=self.hub_port, api_port=self.api_port, root_user=os.geteuid() == 0))
        env = {**os.environ, "ALLIES_HUB_ROOT": str(self.root), "ALLIES_HUB_URL": self.url,
               "ALLIES_HUB_AUTH": "custom", "ALLIES_HUB_INSTRUCTORS": INSTRUCTOR,
               "ALLIES_FORMGRADER_PORT": str(free_port()), "ALLIES_HUB_CULL": "600"}
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(overlay)],
                                     cwd=self.folder, env=env, stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/hub/api", timeout=5).status_code == 200 and "now running" in \
                        self.log.read_text():
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.5)

    def stop(self) -> None:
        children = hub_processes(self.api_port)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for proc in children:  # what the hub left behind (it does not stop learners' servers on every exit)
            try:
                proc.kill()
            except psutil.Error:
                pass

    def instructor(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "course", "instructor", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    if not PROXY.exists():
        pytest.fail("configurable-http-proxy is not installed: run `make hub-proxy` (make test does)")
    the_hub = Hub(folder)
    roster = folder / "roster.csv"
    roster.write_text("learner_id,display_name,role\n" + "".join(f"{n},{n.title()},learner\n" for n in LEARNERS)
                      + f"{INSTRUCTOR},{INSTRUCTOR.title()},instructor\n", encoding="utf-8")
    # The instructors' course directory first: the formgrader service runs in it.
    the_hub.instructor("init", str(the_hub.root / "grading"), "--roster", str(roster),
                       "--instance", str(the_hub.root / "cohort"), "--exchange", str(the_hub.root / "exchange"),
                       "--module", MODULE, "--no-check")
    the_hub.start()
    yield the_hub
    the_hub.stop()


def sign_in(context, hub: Hub, user: str):
    """JupyterHub's own sign-in page, then wherever the hub sends the user: their server's course index."""
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/voila/tree/modules**", timeout=SLOW)
    return page


def reflections_of(user: str) -> dict[str, str]:
    return {"m01-r1": f"{user} here: three senior men picked the lead; next time I will ask who did the work.",
            "m01-r2": f"{user} again: I pair new joiners with reviewers, and next I will call out interruptions."}


def status_of(context, url: str) -> tuple[int, str]:
    """Where a signed-in browser's request ends up, redirects followed: (status, body)."""
    response = context.request.get(url, max_redirects=10, fail_on_status_code=False)
    return response.status, response.text()


def assignments(context, hub: Hub, user: str, action: str) -> dict:
    """POST to nbgrader's Assignments API in `user`'s server, as JupyterLab's Assignments tab does (with that
    server's _xsrf cookie: the hub sets its own too, on another path)."""
    server = f"/user/{user}/"
    xsrf = next(c["value"] for c in context.cookies(hub.url + server)
                if c["name"] == "_xsrf" and c["path"].startswith(server))
    response = context.request.post(f"{hub.url}{server}assignments/{action}", headers={"X-XSRFToken": xsrf},
                                    form={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert response.ok, response.text()
    return response.json()


def test_three_learners_and_an_instructor_on_the_hub(hub, browser):
    contexts = {user: browser.new_context() for user in [*LEARNERS, INSTRUCTOR]}
    try:
        # 1. Two learners answer on the course's pages in their own servers, one after the other, and submit.
        for user in LEARNERS[:2]:
            index = sign_in(contexts[user], hub, user)
            expect(index.locator("li[data-module]")).to_have_count(len(list((ROOT / "modules").glob("0*.ipynb"))))
            link = index.locator(f"li[data-module='{MODULE}.ipynb'] a")
            assert link.get_attribute("href") == f"/user/{user}/{PAGE}"
            link.click()
            page = wait_until_ready(index)
            # Nothing of the learner before: every box starts empty in a fresh server.
            assert [shown(page, item) for item in CHECKS + REFLECTIONS] == [None] * 4 + [""] * 2
            said = answer_all(page, {**RIGHT, **reflections_of(user)})
            assert all(message.startswith("Saved at") for message in said.values()), said
            assert submit(page).startswith("Submitted.")

        # 2. The third learner works in JupyterLab: fetch from the exchange, answer in the notebook, submit,
        #    all through the hub with nbgrader's Assignments API (what JupyterLab's Assignments tab calls).
        cara = contexts["cara"]
        sign_in(cara, hub, "cara")
        listed = cara.request.get(f"{hub.url}/user/cara/assignments?course_id={COURSE_ID}").json()
        assert listed["success"] and [a["assignment_id"] for a in listed["value"]] == [MODULE]
        assert assignments(cara, hub, "cara", "fetch")["success"]
        fetched = hub.folder / "home" / "cara" / MODULE / f"{MODULE}.ipynb"
        nb = json.loads(fetched.read_text(encoding="utf-8"))
        from course.lesson import submissions
        fetched.write_text(json.dumps(submissions.fill(nb, {"m01-q1": "b", "m01-q2": "a", **reflections_of("cara")})),
                           encoding="utf-8")
        assert assignments(cara, hub, "cara", "submit")["success"]

        inbound = hub.root / "exchange" / COURSE_ID / "inbound"
        assert sorted(p.name.split("+")[0] for p in inbound.iterdir() if not p.name.startswith(".")) == LEARNERS

        # 3. Each learner's answers are in their own store, and only theirs.
        for user in LEARNERS[:2]:
            with closing(sqlite3.connect(course_hub.store_of(hub.root / "cohort", user))) as db:
                learners = {row[0] for row in db.execute("SELECT DISTINCT learner FROM answers")}
            assert learners == {user}

        # 4. Refused: another learner's server and progress, the formgrader; the learner's own is served.
        ana = contexts["ana"]
        assert status_of(ana, f"{hub.url}/user/ana/allies/progress")[0] == 200
        for url in ["/user/ben/voila/tree/modules", f"/user/ben/{PAGE}", "/user/ben/allies/progress",
                    f"/user/ben/api/contents/{COURSE_ID}", f"/services/{COURSE_ID}/formgrader",
                    f"/services/{COURSE_ID}/formgrader/gradebook"]:
            status, body = status_of(ana, hub.url + url)
            assert status == 403, (url, status)
            assert "ben here" not in body
        # nbgrader's formgrader is off in learners' own servers.
        assert status_of(ana, f"{hub.url}/user/ana/formgrader")[0] == 404

        # 5. The instructor reaches the formgrader (a hub service for the instructors' group) ...
        ines = contexts[INSTRUCTOR]
        sign_in(ines, hub, INSTRUCTOR)
        status, body = status_of(ines, f"{hub.url}/services/{COURSE_ID}/formgrader")
        assert status == 200 and "formgrader" in body.lower()
        # ... and grades with the course's commands, unchanged.
        grading = str(hub.root / "grading")
        hub.instructor("collect", grading, MODULE)
        hub.instructor("autograde", grading, MODULE)
        hub.instructor("feedback", grading, MODULE)

        # 6. Each learner's page shows their own feedback, no one else's.
        for user in LEARNERS[:2]:
            page = contexts[user].new_page()
            page.goto(f"{hub.url}/user/{user}/{PAGE}", wait_until="commit", timeout=SLOW)
            frame = page.locator(".allies-feedback iframe")
            expect(frame).to_have_count(1, timeout=SLOW)
            feedback = frame.get_attribute("srcdoc")
            assert reflections_of(user)["m01-r1"] in feedback
            assert not [other for other in LEARNERS if other != user and f"{other} here" in feedback]
        # The JupyterLab learner's feedback comes back through the exchange, to them.
        assert assignments(cara, hub, "cara", "fetch_feedback")["success"]
        returned = list((hub.folder / "home" / "cara" / MODULE / "feedback").glob("*/*.html"))
        assert len(returned) == 1 and reflections_of("cara")["m01-r1"] in returned[0].read_text(encoding="utf-8")
    finally:
        for context in contexts.values():
            context.close()

"""The course on JupyterHub, for real on loopback (`make test-hub`): deploy/jupyterhub/jupyterhub_config.py as
shipped, with configurable-http-proxy from npm, a local-process spawner and the idle-culler service. Only sign-in and the spawner are the test's (a password authenticator; every server as this user).

Three learners and one instructor sign in. Two learners answer Module 1 on the course's Voilà pages in their
own servers and press Submit; the third fetches and submits it from JupyterLab's Assignments API. Each sees
only their own answers; another's server, progress or the formgrader is refused. The instructor's own server
opens on the formgrader; the instructor collects, autogrades and returns feedback with `python -m course instructor`, and each
learner's page shows their own feedback. On the shared PostgreSQL store, the hub's dashboard service shows the
instructor the cohort's answers counted, and refuses learners. Then, on that hub: the course's error pages in a
learner's server and the dashboard service, and hand-ins that name paths instead of the course's assignments.
"""
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import ROOT
from playwright.sync_api import expect
from test_error_pages import CANARY, assert_course_page
from test_cohort_answers import CHECKS, MODULE, REFLECTIONS, RIGHT, answer_all, shown, submit, wait_until_ready

from bench.hubs import PASSWORD, Hub, instructor
from course import contract
from course.contract import COURSE_ID
from course.store import watch
from course.store.answers import AnswerStore
from course.web import hub as course_hub

LEARNERS = ["ana", "ben", "cara"]
INSTRUCTOR = "ines"
SLOW = 120_000  # ms: a page may wait for a kernel to start on 2 loaded cores
SPAWN = 240_000  # ms: a first visit waits for the hub to start the server (its start_timeout is 180 s)
PAGE = f"voila/render/modules/{MODULE}.ipynb"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hub(request, tmp_path_factory):
    """The hub with a SQLite store per learner (the default), or one PostgreSQL store for the cohort."""
    store_url = request.getfixturevalue("pg_cluster").database() if request.param == "postgresql" else None
    the_hub = Hub(tmp_path_factory.mktemp("hub"), LEARNERS, [INSTRUCTOR], store_url)
    the_hub.init_course([MODULE])
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
    page.wait_for_url(f"**/user/{user}/voila/tree/modules**", timeout=SPAWN)
    # The index's own request for the learner's progress is answered. Without the page's _xsrf token the
    # learner's server took it as signed out and sent it round the hub's sign-in again and again, each time
    # changing the page's cookies: the progress never showed, and a POST sent meanwhile met a stale token (403).
    expect(page.locator(f"li[data-module='{MODULE}.ipynb'] .allies-progress")).not_to_be_empty(timeout=SLOW)
    return page


def reflections_of(user: str) -> dict[str, str]:
    return {"m01-r1": f"{user} here: three senior men picked the lead; next time I will ask who did the work.",
            "m01-r2": f"{user} again: I pair new joiners with reviewers, and next I will call out interruptions."}


def status_of(context, url: str) -> tuple[int, str]:
    """Where a signed-in browser's request ends up, redirects followed: (status, body)."""
    response = context.request.get(url, max_redirects=10, fail_on_status_code=False)
    return response.status, response.text()


def connection_of(kernel) -> dict:
    """A kernel's connection file, named on its command line."""
    line = kernel.cmdline()
    return json.loads(Path(line[line.index("-f") + 1]).read_text(encoding="utf-8"))


POST = """async ([url, form]) => {
  const xsrf = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/)[1];
  const r = await fetch(url, {method: "POST", body: new URLSearchParams(form),
                              headers: {"X-XSRFToken": decodeURIComponent(xsrf)}});
  return [r.status, await r.text()];
}"""


def assignments(page, hub: Hub, user: str, action: str) -> dict:
    """POST to nbgrader's Assignments API in `user`'s server from a page of that server, with its _xsrf
    cookie, as JupyterLab's Assignments tab does."""
    status, body = page.evaluate(POST, [f"{hub.url}/user/{user}/assignments/{action}",
                                        {"course_id": COURSE_ID, "assignment_id": MODULE}])
    assert status == 200, body
    return json.loads(body)


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
            # The page's kernel talks to the learner's server over Unix sockets, not TCP ports the server picks
            # for it to bind later, which another process may take first (course.web.hub.kernels_over_ipc).
            kernels = hub.server_of(user).children(recursive=True)
            assert kernels and [connection_of(kernel)["transport"] for kernel in kernels] == ["ipc"] * len(kernels)

        # 2. The third learner works in JupyterLab: fetch from the exchange, answer in the notebook, submit,
        #    all through the hub with nbgrader's Assignments API (what JupyterLab's Assignments tab calls).
        cara = contexts["cara"]
        in_lab = sign_in(cara, hub, "cara")
        listed = cara.request.get(f"{hub.url}/user/cara/assignments?course_id={COURSE_ID}").json()
        assert listed["success"] and [a["assignment_id"] for a in listed["value"]] == [MODULE]
        assert assignments(in_lab, hub, "cara", "fetch")["success"]
        fetched = hub.home("cara") / MODULE / f"{MODULE}.ipynb"
        nb = json.loads(fetched.read_text(encoding="utf-8"))
        from course.lesson import submissions
        fetched.write_text(json.dumps(submissions.fill(nb, {"m01-q1": "b", "m01-q2": "a", **reflections_of("cara")})),
                           encoding="utf-8")
        assert assignments(in_lab, hub, "cara", "submit")["success"]

        inbound = hub.root / "exchange" / COURSE_ID / "inbound"
        assert sorted(p.name.split("+")[0] for p in inbound.iterdir() if not p.name.startswith(".")) == LEARNERS

        # 3. Each learner's answers are in their own store, and only theirs; on a shared store, each learner's
        #    server holds a URL that opens their rows only.
        for user in LEARNERS[:2]:
            if hub.store_url:
                with AnswerStore(hub.store_url) as owner:
                    assert owner.load(user, MODULE)["m01-r1"] == reflections_of(user)["m01-r1"]
                held = hub.server_of(user).environ()[contract.STORE_ENV]  # what the learner's own code can read
                assert held.startswith("postgresql://allies_learner_")
                with AnswerStore(held) as theirs:
                    assert [theirs.load(other, MODULE) != {} for other in LEARNERS[:2]] == \
                        [other == user for other in LEARNERS[:2]]
                continue
            with closing(sqlite3.connect(course_hub.store_of(hub.root / "cohort", user))) as db:
                learners = {row[0] for row in db.execute("SELECT DISTINCT learner FROM answers")}
            assert learners == {user}

        # 4. The instructor's own server opens on the formgrader, over the instructors' course directory ...
        ines = contexts[INSTRUCTOR].new_page()
        ines.goto(f"{hub.url}/hub/login")
        ines.fill("#username_input", INSTRUCTOR)
        ines.fill("#password_input", PASSWORD)
        ines.click("#login_submit")
        ines.wait_for_url(f"**/user/{INSTRUCTOR}/formgrader**", timeout=SPAWN)
        status, body = status_of(contexts[INSTRUCTOR], f"{hub.url}/user/{INSTRUCTOR}/formgrader/api/assignments")
        assert status == 200 and MODULE in body

        # 5. Refused: another learner's server and progress, the formgrader; the learner's own is served.
        ana = contexts["ana"]
        assert status_of(ana, f"{hub.url}/user/ana/allies/progress")[0] == 200
        for url in ["/user/ben/voila/tree/modules", f"/user/ben/{PAGE}", "/user/ben/allies/progress",
                    f"/user/ben/api/contents/{COURSE_ID}", f"/user/{INSTRUCTOR}/formgrader",
                    f"/user/{INSTRUCTOR}/formgrader/gradebook", f"/user/{INSTRUCTOR}/api/contents/gradebook.db"]:
            status, body = status_of(ana, hub.url + url)
            assert status == 403, (url, status)
            assert "ben here" not in body
        # nbgrader's formgrader is off in learners' own servers.
        assert status_of(ana, f"{hub.url}/user/ana/formgrader")[0] == 404

        # 6. The instructor grades with the course's commands, unchanged.
        grading = str(hub.root / "grading")
        instructor("collect", grading, MODULE)
        instructor("autograde", grading, MODULE)
        instructor("feedback", grading, MODULE)

        # 7. Each learner's page shows their own feedback, no one else's.
        for user in LEARNERS[:2]:
            page = contexts[user].new_page()
            page.goto(f"{hub.url}/user/{user}/{PAGE}", wait_until="commit", timeout=SLOW)
            frame = page.locator(".allies-feedback iframe")
            expect(frame).to_have_count(1, timeout=SLOW)
            feedback = frame.get_attribute("srcdoc")
            assert reflections_of(user)["m01-r1"] in feedback
            assert not [other for other in LEARNERS if other != user and f"{other} here" in feedback]
        # The JupyterLab learner's feedback comes back through the exchange, to them.
        assert assignments(in_lab, hub, "cara", "fetch_feedback")["success"]
        returned = list((hub.home("cara") / MODULE / "feedback").glob("*/*.html"))
        assert len(returned) == 1 and reflections_of("cara")["m01-r1"] in returned[0].read_text(encoding="utf-8")

        # 8. With one shared store, the hub runs the cohort dashboard as its service, for the instructors' group:
        #    the instructor sees the learners' answers counted there (two of three answered every item of the
        #    module on its page); a learner is refused. With a store per learner there is no cohort dashboard.
        dashboard = f"{hub.url}/services/dashboard/"
        if hub.store_url:
            ines.goto(dashboard, timeout=SLOW)
            completion = ines.locator(".allies-view-completion table")
            expect(completion).to_contain_text("2 of 3 (67%)", timeout=SLOW)
            assert ines.url == dashboard and "ben here" not in ines.content()
            assert status_of(ana, dashboard)[0] == 403
            # The service holds a store URL that only reads, never the owner's; the dashboard's kernel, that one
            # and not the service's hub API token.
            service = hub.service_of("dashboard")
            token, kernels = service.environ()["JUPYTERHUB_API_TOKEN"], service.children(recursive=True)
            assert kernels
            for proc in [service, *kernels]:
                assert not [value for value in proc.environ().values() if hub.store_url in value]
            for kernel in kernels:
                held = kernel.environ()
                assert not [name for name, value in held.items() if token in value or name.startswith("JUPYTERHUB_")]
                assert held[contract.STORE_ENV].startswith("postgresql://allies_reader_")
            # The store's watch, which ends learners' sessions that stall the others, runs as the owner.
            watcher = hub.service_of("store-watch")
            assert watcher and watcher.environ()["ALLIES_HUB_STORE_URL"] == hub.store_url
            with psycopg.connect(hub.store_url) as conn:
                assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                    (watch.NAME,)).fetchone()[0] == 1
        else:
            assert status_of(contexts[INSTRUCTOR], dashboard)[0] == 404
    finally:
        for context in contexts.values():
            context.close()


# Voilà's routes in a learner's own server: (method, address under the server, status).
VOILA_ERRORS = [("GET", f"voila/render/modules/{CANARY.decode()}.ipynb", 404),
                ("GET", f"voila/tree/{CANARY.decode()}", 404),
                ("GET", f"voila/render/modules/{CANARY.decode()}%00.ipynb", 400),
                ("PUT", "voila/tree/modules", 403),  # no _xsrf
                ("POST", PAGE, 403),
                ("GET", f"voila/files/{CANARY.decode()}", 403),
                ("GET", f"voila/static/..%2f..%2f{CANARY.decode()}", 403),
                ("GET", f"voila/templates/allies/static/..%2f..%2f{CANARY.decode()}", 404),  # was a 500
                ("GET", f"voila/api/themes/{CANARY.decode()}", 404),
                ("GET", f"voila/labextensions/{CANARY.decode()}", 404)]


@pytest.mark.parametrize("hub", ["postgresql"], indirect=True)  # the store makes no difference; the dashboard
def test_error_pages_on_the_hub(hub, browser):
    """A learner's server sends the course's error pages on Voilà's routes, as the cohort site does (they had an
    empty title and heading, or were tornado's bare pages or a 500); the dashboard service's, styled and linked
    under its prefix; an address with an empty user name ends at once in the hub's 404, not in a loop of
    redirects."""
    context = browser.new_context()
    try:
        sign_in(context, hub, "ana")
        for method, address, status in VOILA_ERRORS:
            response = context.request.fetch(f"{hub.url}/user/ana/{address}", method=method, max_redirects=0,
                                             fail_on_status_code=False)
            assert response.status == status, (method, address, response.status)
            assert_course_page(response.text(), "/user/ana/")
        # What the dashboard's front door refuses before any handler (a body over its limit) links its style
        # sheet and index under the service's prefix, which serves the style sheet.
        dashboard = f"{hub.url}/services/dashboard/"
        too_large = httpx.post(f"{dashboard}voila/tree/", content=b"x" * (2 * 1024 * 1024), timeout=60)
        assert too_large.status_code == 413
        assert_course_page(too_large.text, "/services/dashboard/")
        style = context.request.get(f"{dashboard}voila/templates/allies/static/allies.css", fail_on_status_code=False)
        assert style.status == 200 and "text/css" in style.headers["content-type"]
        for address in ["/user//ben/voila/tree/modules", "/user//ana/", "/user//"]:
            response = context.request.get(hub.url + address, max_redirects=1, fail_on_status_code=False)
            assert response.status == 404 and "/hub/user/" in response.url, (address, response.url)
    finally:
        context.close()


# What a learner's own page could send nbgrader's Assignments API instead of this course and a module's name:
# paths into the exchange, another learner's home and the machine, encoded, HTML, unicode, nothing.
HOSTILE = [(COURSE_ID, name) for name in
           ["../inbound", f"../../{COURSE_ID}/outbound/{MODULE}", f"../ben/{MODULE}", f"../../home/ben/{MODULE}",
            "/etc", "..%2finbound", f"{MODULE}/..", f"{MODULE}/../../inbound", "<b>zqcanary</b>", "é", " ", ""]] \
    + [(name, MODULE) for name in [f"../{COURSE_ID}", f"{COURSE_ID}/../{COURSE_ID}", "/", "*", "", "<b>zqcanary</b>"]]


def files_under(folder: Path) -> set[Path]:
    """The files and folders a hand-in could reach: the hub folder's entries, the learners' homes and the
    exchange (not the dot folders Jupyter keeps in a home)."""
    return {path for top in [folder / "home", folder / "hub" / "exchange"] for path in top.rglob("*")
            if not any(part.startswith(".") for part in path.relative_to(top).parts)} | set(folder.iterdir())


def post_as(page, hub: Hub, path: str, form: dict) -> tuple[int, str]:
    """POST `form` from `page` as `assignments` does."""
    return page.evaluate(POST, [hub.url + path, form])


@pytest.mark.parametrize("hub", ["postgresql"], indirect=True)
def test_hand_ins_name_only_this_courses_assignments(hub, browser):
    """nbgrader's Assignments API in a learner's server takes this course and its assignments by plain names
    only (`course.web.handins`): nbgrader joined what the request said to the exchange's and the learner's
    folders, so that `../` fetched the exchange's inbound or released work outside the learner's home, and
    submitted another learner's folder as theirs. Each such request is refused with a message, and nothing
    changes anywhere; the learner's own fetch still works."""
    contexts = {user: browser.new_context() for user in ["ana", "ben"]}
    try:
        ben = sign_in(contexts["ben"], hub, "ben")
        assert assignments(ben, hub, "ben", "fetch")["success"]
        assert (hub.home("ben") / MODULE / f"{MODULE}.ipynb").exists()
        ana = sign_in(contexts["ana"], hub, "ana")
        before = files_under(hub.folder)
        for action in ["fetch", "submit", "fetch_feedback"]:
            for course, assignment in HOSTILE:
                status, body = post_as(ana, hub, f"/user/ana/assignments/{action}",
                                       {"course_id": course, "assignment_id": assignment})
                assert status == 400 and not json.loads(body)["success"], (action, course, assignment, body)
                assert "Traceback" not in body and "zqcanary" not in body and str(hub.folder) not in body
        for course, _ in HOSTILE[-6:]:
            listed = contexts["ana"].request.get(f"{hub.url}/user/ana/assignments", params={"course_id": course},
                                                 fail_on_status_code=False)
            assert listed.status == 400, course
        assert files_under(hub.folder) == before
        assert assignments(ana, hub, "ana", "fetch")["success"]
        assert (hub.home("ana") / MODULE / f"{MODULE}.ipynb").exists()
    finally:
        for context in contexts.values():
            context.close()

"""The kernels of a learner's module pages in their own server on the course's hub stay bounded, for real on
loopback (tests/test_hub.py's hub): reloading a page, as a learner or a script with their cookie may, replaces
its kernel rather than adding one, and the page still saves; past `course.web.hub.MAX_PAGE_KERNELS` pages, a
new one waits on a page that says why, and opens itself once the learner closes another; a page's kernel that
no page is connected to ends after a minute. Kernels of notebooks open in JupyterLab are none of this: they
run on."""
import json
import re
import threading
import time
from urllib.parse import unquote

import httpx
import nbformat
import pytest
import test_hub
from test_cohort_answers import MODULE, answer, wait_until_ready
from test_hub import PAGE, SLOW, sign_in

from course.contract import LEARNER_ENV
from course.store.answers import AnswerStore
from course.web import hub as course_hub
from course.web import kernels

hub = test_hub.hub  # started for this module
ON_SQLITE = pytest.mark.parametrize("hub", ["sqlite"], indirect=True)  # the store plays no part here
KERNEL_ID = re.compile(r'"kernelId": "([0-9a-f-]{36})"')
READY = "body[data-allies-page=ready]"


def kernels_in(context, hub, user: str) -> set[str]:
    """The ids of the kernels running in `user`'s server, from its API."""
    response = context.request.get(f"{hub.url}/user/{user}/api/kernels")
    assert response.status == 200, response.text()
    return {kernel["id"] for kernel in response.json()}


def in_jupyterlab(context, hub, user: str, notebook: str) -> str:
    """Open `notebook` as JupyterLab does, in a session, which starts its kernel; that kernel's id."""
    xsrf = next(cookie["value"] for cookie in context.cookies()
                if cookie["name"] == "_xsrf" and cookie["path"].startswith(f"/user/{user}"))
    response = context.request.post(f"{hub.url}/user/{user}/api/sessions", headers={"X-XSRFToken": unquote(xsrf)},
                                    data=json.dumps({"path": notebook, "name": notebook, "type": "notebook",
                                                     "kernel": {"name": "python3"}}))
    assert response.status == 201, response.text()
    return response.json()["kernel"]["id"]


def until(condition, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def small_pages(hub, user: str, count: int) -> list[str]:
    """The addresses of `count` small notebooks put in `user`'s home, where Voilà renders any notebook: pages
    whose kernels start as fast as any can."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('here')")])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for n in range(count):
        nbformat.write(notebook, hub.home(user) / f"page-{n}.ipynb")
    return [f"{hub.url}/user/{user}/voila/render/page-{n}.ipynb" for n in range(count)]


@ON_SQLITE
def test_reloading_a_module_page_keeps_one_kernel_for_it_and_the_page_still_saves(hub, browser):
    context = browser.new_context()
    try:
        sign_in(context, hub, "ana")
        lab = {in_jupyterlab(context, hub, "ana", name) for name in ("notes.ipynb", "scratch.ipynb")}
        url = f"{hub.url}/user/ana/{PAGE}"
        for _ in range(5):  # reloads, each as soon as the page before has come
            response = context.request.get(url, timeout=SLOW)
            assert response.status == 200
            last = KERNEL_ID.search(response.text()).group(1)
        # The reloads' kernels are shut down as each is replaced, well before they could be ended unattended.
        until(lambda: kernels_in(context, hub, "ana") - lab == {last}, "kernels of replaced pages still run",
              kernels.UNATTENDED_SECONDS / 3)
        assert lab <= kernels_in(context, hub, "ana"), "a JupyterLab notebook's kernel was shut down"

        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=SLOW)
        said = answer(wait_until_ready(page), "m01-r1", "Written after five reloads.")
        assert said.startswith("Saved at"), said
        with AnswerStore(course_hub.store_of(hub.root / "cohort", "ana")) as store:
            assert store.load("ana", MODULE)["m01-r1"] == "Written after five reloads."
        assert len(kernels_in(context, hub, "ana") - lab) == 1 and lab <= kernels_in(context, hub, "ana")
    finally:
        context.close()


@ON_SQLITE
def test_past_its_ceiling_a_learners_server_says_so_and_opens_the_page_once_they_close_another(hub, browser):
    pages = small_pages(hub, "ben", course_hub.MAX_PAGE_KERNELS + 1)
    context = browser.new_context()
    try:
        sign_in(context, hub, "ben")
        lab = in_jupyterlab(context, hub, "ben", "notes.ipynb")  # no page's: it takes no page's place
        tabs = []
        for url in pages[:-1]:
            tabs.append(context.new_page())
            tabs[-1].goto(url, timeout=SLOW)
            tabs[-1].wait_for_selector(READY, timeout=SLOW)
        full = context.request.get(pages[-1], timeout=SLOW)
        assert full.status == 503 and full.headers["retry-after"] == str(kernels.REFRESH_SECONDS)
        assert course_hub.FULL in full.text() and "kernelId" not in full.text()
        tabs[0].reload()  # a reload replaces its page's kernel: it needs no new place
        tabs[0].wait_for_selector(READY, timeout=SLOW)

        tabs.append(context.new_page())  # the waiting page asks again by itself ...
        tabs[-1].goto(pages[-1], wait_until="commit", timeout=SLOW)
        tabs[-1].locator("[role=status]").wait_for(timeout=SLOW)
        tabs[1].goto(f"{hub.url}/user/ben/voila/tree")  # ... and once the learner leaves a page, it opens
        tabs[-1].wait_for_selector(READY, timeout=SLOW)
        assert len(kernels_in(context, hub, "ben") - {lab}) == course_hub.MAX_PAGE_KERNELS
        assert lab in kernels_in(context, hub, "ben"), "a JupyterLab notebook's kernel was shut down"
    finally:
        context.close()


@ON_SQLITE
def test_a_pages_kernel_no_page_is_connected_to_ends_and_one_whose_page_is_connected_stays(hub, browser):
    """A browser killed (or a script's request) leaves a kernel no page connects to: it ends after a minute,
    rather than holding a place until the idle cull; a page left open keeps its kernel, however quiet."""
    attended, unattended = small_pages(hub, "cara", 2)
    context = browser.new_context()
    try:
        sign_in(context, hub, "cara")
        tab = context.new_page()
        tab.goto(attended, timeout=SLOW)
        tab.wait_for_selector(READY, timeout=SLOW)
        kept = tab.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        left = KERNEL_ID.search(context.request.get(unattended, timeout=SLOW).text()).group(1)
        assert {kept, left} <= kernels_in(context, hub, "cara")
        until(lambda: left not in kernels_in(context, hub, "cara"), "a kernel no page connected to still runs",
              kernels.UNATTENDED_SECONDS + 30)
        assert kept in kernels_in(context, hub, "cara"), "the kernel of a page left open was shut down"
    finally:
        context.close()


def test_a_kernel_is_a_pages_only_when_voila_started_it_for_one():
    """In a learner's server on the hub every kernel's environment names the learner (the server's does);
    only Voilà's also name the page they serve, so JupyterLab's are nobody's and no page rule touches them."""
    server = {LEARNER_ENV: "ana", "HOME": "/home/ana"}
    jupyterlab = {**server, "JPY_SESSION_NAME": "/home/ana/notes.ipynb"}
    voila = {**server, "SCRIPT_NAME": f"/user/ana/{PAGE}", "VOILA_PREHEAT": "False"}
    assert kernels.owner_of(jupyterlab) is None
    assert kernels.owner_of(voila) == kernels.Owner("ana", f"/user/ana/{PAGE}")


@ON_SQLITE
def test_pages_opened_all_at_once_stay_under_the_ceiling(hub, browser):
    """A browser restoring its tabs asks for many pages at once: no more kernels start than the ceiling allows,
    however many requests are admitted before the first kernel has started (trial of #17: 8 of 12 started)."""
    pages = small_pages(hub, "cara", 3 * course_hub.MAX_PAGE_KERNELS)
    context = browser.new_context()
    try:
        sign_in(context, hub, "cara")
        xsrf = next(cookie["value"] for cookie in context.cookies()
                    if cookie["name"] == "_xsrf" and cookie["path"].startswith("/user/cara"))
        for kernel in kernels_in(context, hub, "cara"):  # an earlier test's, still ending: none holds a place
            context.request.delete(f"{hub.url}/user/cara/api/kernels/{kernel}", headers={"X-XSRFToken": unquote(xsrf)})
        until(lambda: not kernels_in(context, hub, "cara"), "kernels still run", 30)
        cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()
                   if cookie["path"].startswith("/user/cara")}
        statuses = {}

        def load(url):
            with httpx.Client(cookies=cookies, timeout=SLOW / 1000) as client:
                statuses[url] = client.get(url).status_code

        threads = [threading.Thread(target=load, args=(url,)) for url in pages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses.values()) == [200] * course_hub.MAX_PAGE_KERNELS + [503] * (len(pages) - course_hub.MAX_PAGE_KERNELS), statuses
        assert len(kernels_in(context, hub, "cara")) == course_hub.MAX_PAGE_KERNELS
    finally:
        context.close()

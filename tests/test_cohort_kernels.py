"""Kernels on the cohort site stay bounded: one per learner and module page (a reload replaces it), shut down
when the page closes, culled when idle as the command line says, and past the site's ceiling a learner is
told the site is full and waits, in line, on a page that refreshes itself, and nothing they saved is touched."""
import base64
import contextlib
import http.client
import json
import os
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, get, request, signed_in, start_cohort
from websockets.sync.client import connect

from course.web import kernels
from course.web.kernels import REFRESH_SECONDS
from course.store.answers import AnswerStore

MODULE_1, MODULE_2 = "/voila/render/01-why-men-why-now.ipynb", "/voila/render/02-business-case.ipynb"
MAX_KERNELS = 3
# --cull-unattended in tests: long enough for a page to render before its socket connects (the clock starts
# with its kernel; 3 s was too short on a loaded machine)
UNATTENDED = 10


@pytest.fixture(scope="module")
def site_(tmp_path_factory):
    server, codes = start_cohort(tmp_path_factory.mktemp("kernels"), "--pool-size", "0",
                                 "--max-kernels", str(MAX_KERNELS))
    yield server, codes
    server.stop()


@pytest.fixture(scope="module")
def people(site_):
    server, codes = site_
    return {who: signed_in(server.port, who, code) for who, code in codes.items()}


def open_page(server, headers, page=MODULE_1) -> str:
    """Load a module page; the id of the kernel it was given."""
    status, body = get(server.port, page, headers)
    assert status == 200, body[:500]
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)


def reaches(server, headers, kernel) -> bool:
    status = request(server.port, f"/api/kernels/{kernel}", headers=headers)[0]
    assert status in (200, 403), status
    return status == 200


def wait_until_gone(server, headers, kernel, seconds=30) -> None:
    deadline = time.monotonic() + seconds
    while reaches(server, headers, kernel):
        assert time.monotonic() < deadline, f"kernel {kernel} still running"
        time.sleep(0.2)
    while f"Kernel shutdown: {kernel}" not in server.log.read_text():  # refused at once, shut down just after
        assert time.monotonic() < deadline, f"kernel {kernel} refused but not shut down"
        time.sleep(0.2)


def close(server, headers, kernel) -> None:
    assert request(server.port, f"/voila/api/shutdown/{kernel}", "POST", headers=headers)[0] == 204


def signed_in_page(context, server, codes, module):
    """A browser tab of ben's, signed in and sent on to `module`."""
    page = context.new_page()
    page.goto(f"{server.url}/login?next={module}")
    page.fill("#learner", "ben")
    page.fill("#code", codes["ben"])
    page.click("button[type=submit]")
    return page


def test_a_reload_replaces_the_learners_kernel_on_that_page_only(site_, people):
    server, _ = site_
    ana = people["ana"]
    first = open_page(server, ana)
    other_page = open_page(server, ana, MODULE_2)
    reloaded = open_page(server, ana)
    wait_until_gone(server, ana, first)
    assert reaches(server, ana, reloaded) and reaches(server, ana, other_page)
    close(server, ana, reloaded)
    close(server, ana, other_page)


def test_a_learner_has_one_kernel_per_module_however_its_address_is_spelled(site_, people):
    """`..` and percent-encoded spellings of a module page's address name the same notebook, so opening the
    page under each (as a browser does, following a redirect) is a reload, which replaces the learner's kernel."""
    server, _ = site_
    ana, name = people["ana"], MODULE_1.rsplit("/", 1)[1]
    spellings = [MODULE_1, f"/voila/render/../modules/{name}", f"/voila/render/%2e%2e%2fmodules%2f{name}",
                 f"/voila/render/../../{ROOT.name}/modules/{name}"]
    opened = []
    for spelling in spellings:
        status, headers, body, _ = request(server.port, spelling, headers=ana)
        if status in (301, 302):
            status, headers, body, _ = request(server.port, headers["Location"], headers=ana)
        assert status == 200, (spelling, status)
        opened.append(re.search(rb'"kernelId": "([0-9a-f-]{36})"', body).group(1).decode())
    for kernel in opened[:-1]:
        wait_until_gone(server, ana, kernel)
    assert reaches(server, ana, opened[-1])
    close(server, ana, opened[-1])


def test_past_the_ceiling_a_learner_is_told_the_site_is_full(site_, people):
    server, _ = site_
    ana, ben, ines = people["ana"], people["ben"], people["ines"]
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        store.save("ines", "01-why-men-why-now", "m01-r1", "Saved before the site filled up.")
    held = [open_page(server, ana), open_page(server, ana, MODULE_2), open_page(server, ben)]
    assert len(held) == MAX_KERNELS
    status, headers, body, _ = request(server.port, MODULE_1, headers=ines)
    assert status == 503 and headers["Retry-After"] == str(REFRESH_SECONDS)
    assert b"site is full" in body and b"number 1</strong> in line" in body and b"kernelId" not in body
    held[0] = open_page(server, ana)  # a reload replaces a kernel, so it still gets in
    close(server, ben, held.pop())
    held.append(open_page(server, ines))
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        assert store.load("ines", "01-why-men-why-now") == {"m01-r1": "Saved before the site filled up."}
    close(server, ana, held[0])
    close(server, ana, held[1])
    close(server, ines, held[2])


def test_pages_asked_for_at_once_stay_under_the_ceiling(site_, people):
    """Pages let through count before their kernels have started: asked for all at once (a browser restoring
    its tabs, a cohort arriving together), no more start than the ceiling allows (the trial of #17 had 8 of 12
    pages start under a ceiling of 4)."""
    server, _ = site_
    asks = [(people[who], module) for who in ("ana", "ben", "ines") for module in (MODULE_1, MODULE_2)]
    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(lambda ask: get(server.port, ask[1], ask[0]), asks))
    opened = [(ask, re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1))
              for ask, (status, body) in zip(asks, answers) if status == 200]
    try:
        assert sorted(status for status, _ in answers) == [200] * MAX_KERNELS + [503] * (len(asks) - MAX_KERNELS)
    finally:
        for (headers, _), kernel in opened:
            close(server, headers, kernel)
        # the pages sent away keep their places in line a while (KEEP_SECONDS): the next test starts once
        # a page opens again
        deadline = time.monotonic() + 60
        while (answer := get(server.port, MODULE_1, people["ana"]))[0] != 200:
            assert time.monotonic() < deadline, answer
            time.sleep(0.5)
        close(server, people["ana"], re.search(r'"kernelId": "([0-9a-f-]{36})"', answer[1]).group(1))


def test_a_learner_in_line_who_asks_again_is_let_in_once_a_place_frees_without_another_wait(site_, people):
    """A waiting page that asks again is held on the server until a kernel is free for its learner, rather
    than sent another waiting page: the place that frees is taken at once."""
    server, _ = site_
    ana, ben, ines = people["ana"], people["ben"], people["ines"]
    held = [open_page(server, ana), open_page(server, ana, MODULE_2), open_page(server, ben)]
    waits = server.log.read_text().count("503 GET")
    assert request(server.port, MODULE_1, headers=ines)[0] == 503  # in line
    with ThreadPoolExecutor(1) as pool:
        again = pool.submit(request, server.port, MODULE_1, headers=ines)  # her waiting page asks again
        close(server, ben, held.pop())
        status, _, body, _ = again.result()
    assert status == 200 and b"kernelId" in body
    held.append(re.search(rb'"kernelId": "([0-9a-f-]{36})"', body).group(1).decode())
    assert server.log.read_text().count("503 GET") == waits + 1, "she was sent another waiting page"
    close(server, ana, held[0])
    close(server, ana, held[1])
    close(server, ines, held[2])


def test_a_learner_who_closes_a_held_waiting_page_leaves_the_line(site_, people):
    server, _ = site_
    ana, ben, ines = people["ana"], people["ben"], people["ines"]
    held = [open_page(server, ana), open_page(server, ana, MODULE_2), open_page(server, ben)]
    assert request(server.port, MODULE_2, headers=ben)[0] == 503  # ben in line first, for another module
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    conn.request("GET", MODULE_2, headers=ben)  # his waiting page asks again, and is held...
    status, _, body, _ = request(server.port, MODULE_1, headers=ines)
    assert status == 503 and b"number 2</strong> in line" in body
    conn.close()  # ...then he closes it
    deadline = time.monotonic() + 30
    while b"number 1</strong> in line" not in body:  # ines is next once the server sees him go
        assert time.monotonic() < deadline, body
        status, _, body, _ = request(server.port, MODULE_1, headers=ines)
        assert status == 503
    for who, kernel in zip((ana, ana, ben), held):
        close(server, who, kernel)


def test_a_page_that_closes_shuts_its_kernel_down(site_, people, browser):
    server, codes = site_
    context = browser.new_context()
    try:
        page = signed_in_page(context, server, codes, MODULE_1)
        page.wait_for_selector("body[data-allies-page=ready]", timeout=60_000)
        kernel = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        assert reaches(server, people["ben"], kernel)
        page.goto(f"{server.url}/")
        wait_until_gone(server, people["ben"], kernel)
    finally:
        context.close()


def test_kernels_talk_over_unix_sockets_so_none_can_lose_a_race_for_a_port(site_, people):
    server, _ = site_
    kernel = open_page(server, people["ana"])
    folder = re.search(r"Storing connection files in (\S+)\.\n", server.log.read_text()).group(1)
    assert json.loads((Path(folder) / f"kernel-{kernel}.json").read_text())["transport"] == "ipc"
    close(server, people["ana"], kernel)


def test_idle_kernels_are_culled_after_the_time_given_on_the_command_line(tmp_path):
    server, codes = start_cohort(tmp_path, "--pool-size", "0", "--cull-idle", "3")
    try:
        ana = signed_in(server.port, "ana", codes["ana"])
        wait_until_gone(server, ana, open_page(server, ana))
    finally:
        server.stop()


def test_a_kernel_no_page_is_connected_to_ends_but_one_with_its_page_connected_stays(tmp_path):
    """A browser killed (or a laptop closed) before its page could shut its kernel down leaves a kernel with
    no page connected: it ends after `--cull-unattended` seconds, freeing its place, as does the kernel of a
    page that never connected; a kernel whose page stays connected is kept, however quiet."""
    server, codes = start_cohort(tmp_path, "--pool-size", "0", "--cull-unattended", str(UNATTENDED))
    try:
        ana, ben = signed_in(server.port, "ana", codes["ana"]), signed_in(server.port, "ben", codes["ben"])
        kept, killed = open_page(server, ana), open_page(server, ben)
        channels = f"ws://127.0.0.1:{server.port}/api/kernels/{{}}/channels"
        with connect(channels.format(kept), additional_headers=ana, open_timeout=10):
            with connect(channels.format(killed), additional_headers=ben, open_timeout=10) as socket:
                never = open_page(server, ben, MODULE_2)
                socket.socket.close()  # the browser dies: no goodbye, no shutdown request
            wait_until_gone(server, ben, killed)
            wait_until_gone(server, ben, never)
            assert reaches(server, ana, kept), "a kernel with its page connected was shut down"
        deadline = time.monotonic() + 30  # the log may trail on a busy machine
        while f"no page connected for {UNATTENDED} s" not in server.log.read_text():
            assert time.monotonic() < deadline, "the kernels ended, but not for want of a page"
            time.sleep(0.2)
    finally:
        server.stop()


@contextlib.contextmanager
def frozen_browser(server, headers, kernel):
    """A page's socket to `kernel` from a browser that then froze (a laptop closed, a network gone): the
    connection stays open, but nothing after the handshake is read, and no ping is answered."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"GET /api/kernels/{kernel}/channels HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                     f"Cookie: {headers['Cookie']}\r\n\r\n".encode())
        handshake = b""
        while not handshake.endswith(b"\r\n\r\n"):
            handshake += (byte := sock.recv(1))
            assert byte, handshake
        assert handshake.startswith(b"HTTP/1.1 101"), handshake
        yield


def test_a_kernel_whose_page_answers_no_ping_ends_but_one_whose_page_answers_stays(tmp_path):
    """A frozen browser's socket stays open but answers no ping: it is dropped after `--ping-timeout`
    seconds, and its kernel, then unattended, ends `--cull-unattended` seconds later (jupyter_server's own
    pings took 90 s or more); a page that answers pings keeps its kernel, however quiet."""
    server, codes = start_cohort(tmp_path, "--pool-size", "0", "--ping-timeout", "2",
                                 "--cull-unattended", str(UNATTENDED))
    try:
        ana, ben = signed_in(server.port, "ana", codes["ana"]), signed_in(server.port, "ben", codes["ben"])
        kept = open_page(server, ana)
        with connect(f"ws://127.0.0.1:{server.port}/api/kernels/{kept}/channels", additional_headers=ana,
                     open_timeout=10):
            frozen = open_page(server, ben)
            with frozen_browser(server, ben, frozen):
                assert reaches(server, ben, frozen)  # connected before it could be left unattended
                # 2.5 s to be dropped, 5 s for tornado's wait for a goodbye, 10 s unattended, 2 s between checks
                wait_until_gone(server, ben, frozen, seconds=45)
                assert reaches(server, ana, kept), "a kernel whose page answers pings was shut down"
        assert "WebSocket ping timeout" in server.log.read_text()
    finally:
        server.stop()


def test_no_new_kernel_starts_that_would_leave_less_memory_available_than_the_site_keeps_free(tmp_path):
    """Whatever the count under the ceiling, a learner whose new kernel would leave the machine with less
    memory available than `--keep-free-mb` waits in line, told the truth: memory is short (not that the site
    is full of learners), and nothing measured says for how long."""
    all_mb = kernels.machine_memory() // 2**20  # more than can ever be available beside a new kernel
    (tmp_path / "short").mkdir()
    (tmp_path / "roomy").mkdir()
    server, codes = start_cohort(tmp_path / "short", "--pool-size", "0", "--keep-free-mb", str(all_mb))
    try:
        ana = signed_in(server.port, "ana", codes["ana"])
        status, headers, body, _ = request(server.port, MODULE_1, headers=ana)
        assert status == 503 and b"kernelId" not in body
        text = re.sub(r"\s+", " ", body.decode())
        assert "short of memory" in text and "site is full" not in text, text
        assert "We can't say how long yet; this page keeps your place and tries again by itself." in text
        assert "Estimated wait" not in text, text
    finally:
        server.stop()
    server, codes = start_cohort(tmp_path / "roomy", "--pool-size", "0", "--keep-free-mb", "1")
    try:
        ana = signed_in(server.port, "ana", codes["ana"])
        close(server, ana, open_page(server, ana))
    finally:
        server.stop()


def waiting_behind(server, first, second, page_1, page_2) -> str:
    """`first` opens `page_1`, taking the only start-up slot, while `second` asks for `page_2`: the text of
    the waiting page one of them gets, once both are in."""
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(request, server.port, page_1, headers=first)  # the only slot, a few seconds
        waited = None
        while waited is None and not starting.done():
            status, headers, body, _ = request(server.port, page_2, headers=second)
            if status == 503:
                waited = headers, body
        if waited is None:  # the second's page reached the slot first: the first's waited
            status, headers, body, _ = starting.result()
            assert status == 503, "neither waited while the other's kernel was starting"
            waited = headers, body
        headers, body = waited
        assert headers["Retry-After"] == str(REFRESH_SECONDS) and b"kernelId" not in body
        starting.result()
    open_page(server, second, page_2)  # the slot is free again: each gets in
    open_page(server, first, page_1)
    return re.sub(r"\s+", " ", body.decode())


def test_while_every_start_slot_is_taken_a_learner_waits_in_line_then_gets_in(tmp_path):
    """Below the ceiling, but with as many kernels starting as the site allows (`--start-slots`), the next
    learner gets the waiting page (503, their place, an estimate once a start-up has been measured) instead of
    a page that hangs; once the start-up is done, they get in."""
    server, codes = start_cohort(tmp_path, "--pool-size", "0", "--start-slots", "1")
    try:
        ana, ben = signed_in(server.port, "ana", codes["ana"]), signed_in(server.port, "ben", codes["ben"])
        text = waiting_behind(server, ana, ben, MODULE_2, MODULE_1)
        assert "starting modules for other learners" in text and "number 1</strong> in line" in text, text
        assert "We can't say how long yet" in text, text  # the site's first start-up: nothing measured yet
        text = waiting_behind(server, ben, ana, MODULE_2, MODULE_1)
        assert re.search(r"Estimated wait: about \d+ seconds?, from how long modules have just taken", text)
    finally:
        server.stop()


def test_with_no_kernel_free_a_learner_waits_in_line_and_the_page_opens_itself(site_, people, browser):
    server, codes = site_
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        store.save("ben", "02-business-case", "m02-r1", "Saved before I had to wait.")
    held = [open_page(server, people["ana"]), open_page(server, people["ana"], MODULE_2),
            open_page(server, people["ines"])]
    context = browser.new_context()
    try:
        page = signed_in_page(context, server, codes, MODULE_2)
        status = page.locator("[role=status]")
        status.wait_for(timeout=30_000)
        assert "number 1 in line" in status.inner_text()  # when a learner will close a module, nobody knows:
        assert "We can't say how long yet" in status.inner_text() and "Estimated" not in status.inner_text()
        assert "Nothing you saved is affected" in page.inner_text("main")
        assert page.locator("meta[http-equiv=refresh]").get_attribute("content") == str(REFRESH_SECONDS)
        close(server, people["ines"], held.pop())  # a place frees up: the waiting page opens the module itself
        page.wait_for_selector("body[data-allies-page=ready]", timeout=60_000)
        with AnswerStore(server.instance / "answers.sqlite3") as store:
            assert store.load("ben", "02-business-case") == {"m02-r1": "Saved before I had to wait."}
    finally:
        context.close()
        for kernel in held:
            close(server, people["ana"], kernel)

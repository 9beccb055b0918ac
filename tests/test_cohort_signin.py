"""Sign-in on the cohort site, behind an HTTPS proxy (`--behind-https --hsts`): guessing is limited per learner
id and per address with a clear message and a retry time, a code check never holds up other requests,
oversized bodies are refused unread, cookies are SameSite and Secure, and no message a kernel sends to the page
carries a traceback (error pages: tests/test_error_pages.py)."""
import http.client
import socket
import sys
import json
import re
import sqlite3
import threading
import time
import uuid

import pytest
from conftest import ROOT, get, login, login_cookie, request, signed_in, start_cohort
from websockets.sync.client import connect

from course.store.answers import AnswerStore

RENDER = "/voila/render/01-why-men-why-now.ipynb"
HSTS = 600


@pytest.fixture(scope="module")
def site_(tmp_path_factory):
    server, codes = start_cohort(tmp_path_factory.mktemp("signin"), "--pool-size", "0", "--behind-https",
                                 "--hsts", str(HSTS))
    yield server, codes
    server.stop()


def via(address: str) -> dict:
    """The headers the HTTPS proxy adds for a client at `address`."""
    return {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}


def assert_told_to_wait(response) -> None:
    status, headers, body, cookies = response
    assert status == 429 and login_cookie(cookies) is None
    assert 0 < int(headers["Retry-After"]) <= 600
    assert b'role="alert"' in body and re.search(rb"Try again in \d+ minutes?", body)


def test_wrong_codes_for_one_learner_make_that_id_wait(site_):
    server, codes = site_
    for _ in range(5):
        assert login(server.port, "ana", "wrong-code", headers=via("203.0.113.1"))[0] == 401
    assert_told_to_wait(login(server.port, "ana", codes["ana"], headers=via("203.0.113.1")))
    assert_told_to_wait(login(server.port, "ana", codes["ana"], headers=via("198.51.100.1")))
    assert login(server.port, "ben", codes["ben"], headers=via("203.0.113.1"))[0] == 302


def test_an_address_guessing_many_ids_waits_and_others_do_not(site_):
    server, codes = site_
    for n in range(20):
        assert login(server.port, f"guess{n}", "wrong-code", headers=via("203.0.113.2"))[0] == 401
    assert_told_to_wait(login(server.port, "ines", codes["ines"], headers=via("203.0.113.2")))
    assert login(server.port, "ines", codes["ines"], headers=via("198.51.100.2"))[0] == 302


def test_a_slow_code_check_does_not_hold_up_other_requests(site_):
    """A learner whose stored code takes about two seconds to check (scrypt with p=40): while that check
    runs, the sign-in page keeps answering."""
    server, _ = site_
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        store.add_learner("slow", "Slow Check")
    with sqlite3.connect(server.instance / "answers.sqlite3") as db:
        db.execute("UPDATE learners SET code_kdf = 'scrypt:16384:8:40' WHERE id = 'slow'")
    db.close()
    checking = threading.Thread(target=login, args=(server.port, "slow", "wrong-code"),
                                kwargs={"headers": via("192.0.2.9")})
    began = time.monotonic()
    checking.start()
    waits = []
    while checking.is_alive():
        start = time.monotonic()
        assert get(server.port, "/login")[0] == 200
        waits.append(time.monotonic() - start)
    checking.join()
    took = time.monotonic() - began
    assert took > 1.0, "the check was not slow: nothing was measured"
    assert len(waits) > 3 and max(waits) < took / 2, (took, waits)  # no page waited for the check


def test_an_oversized_body_is_refused_unread_with_a_readable_page(site_):
    server, _ = site_
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", "/login")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(95 * 1024 * 1024))
        conn.endheaders()
        conn.send(b"learner=ana&code=" + b"x" * 65536)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 413 and b"too large" in body and b"1 MiB" in body


@pytest.mark.parametrize("chunks", [[95 * 1024 * 1024], [4096] * 25_000], ids=["one huge chunk", "small chunks"])
def test_an_oversized_body_sent_in_chunks_is_refused_with_a_readable_page(site_, chunks):
    """A body of unannounced length (Transfer-Encoding: chunked) is refused as soon as it passes the limit,
    with the same page: not tornado's empty 400, and never read to its end."""
    server, _ = site_
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        try:
            for size in chunks:
                conn.sendall(b"%x\r\n" % size)
                conn.sendall(b"x" * min(size, 2 * 1024 * 1024) + (b"\r\n" if size <= 2 * 1024 * 1024 else b""))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server has answered and closed: the rest is never read
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert b"too large" in body and b"1 MiB" in body


def test_a_small_body_sent_in_chunks_is_read_as_usual(site_):
    server, codes = site_
    _, _, page, cookies = request(server.port, "/login")
    xsrf = re.search(rb'name="_xsrf" value="([^"]+)"', page).group(1)
    form = [b"_xsrf=" + xsrf + b"&learner=ben&", f"code={codes['ben']}".encode()]
    headers = {**via("198.51.100.7"), "Content-Type": "application/x-www-form-urlencoded",
               "Cookie": next(c.split(";")[0] for c in cookies if c.startswith("_xsrf="))}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/login", body=iter(form), encode_chunked=True, headers=headers)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 302 and login_cookie(response.headers.get_all("Set-Cookie")), response.status


def test_cookies_are_samesite_and_secure_and_pages_send_hsts(site_):
    server, codes = site_
    _, headers, _, xsrf = request(server.port, "/login", headers=via("198.51.100.3"))
    cookies = login(server.port, "ben", codes["ben"], headers=via("198.51.100.3"))[3] + xsrf
    for name in ("username-", "_xsrf="):
        cookie = next(c for c in cookies if c.startswith(name)).lower()
        assert "samesite=lax" in cookie and "secure" in cookie, cookie
    assert headers["Strict-Transport-Security"] == f"max-age={HSTS}"


def message(msg_type: str, content: dict, metadata: dict | None = None, msg_id: str | None = None) -> str:
    """A message from the page to its kernel's shell, as the page's websocket carries it."""
    return json.dumps({"channel": "shell", "content": content, "metadata": metadata or {}, "buffers": [],
                       "parent_header": {}, "header": {"msg_id": msg_id or str(uuid.uuid4()), "msg_type": msg_type,
                                                       "session": "s", "username": "ben", "version": "5.3",
                                                       "date": "2026-01-01T00:00:00Z"}})


def page_socket(server, headers: dict):
    """The websocket to the kernel of a module page `headers`' learner has just opened."""
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', get(server.port, RENDER, headers)[1]).group(1)
    return connect(f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels?session_id=s",
                   additional_headers={"Cookie": headers["Cookie"]}, open_timeout=10)


def test_a_malformed_widget_message_sends_no_traceback_to_the_page(site_):
    server, codes = site_
    ben = signed_in(server.port, "ben", codes["ben"])
    with page_socket(server, ben) as ws:
        ws.send(message("comm_info_request", {}))
        received = []
        while not any(m["header"]["msg_type"] == "comm_info_reply" for m in received):
            received.append(json.loads(ws.recv(timeout=30)))
        comms = received[-1]["content"]["comms"]
        for comm in comms:
            ws.send(message("comm_msg", {"comm_id": comm, "data": {"method": "update", "buffer_paths": [["x"]],
                                                                   "state": {"value": {"bad": [1]}}}}))
        errors = []
        while not errors:  # each comm's update fails in the kernel: wait for the first error message
            reply = json.loads(ws.recv(timeout=30))
            if reply["header"]["msg_type"] == "error":
                errors.append(reply)
    assert comms
    shown = json.dumps(errors)
    assert "Traceback" not in shown and 'File \\"' not in shown and "site-packages" not in shown, shown[:2000]


def test_a_widget_opened_with_a_wrong_protocol_version_sends_no_traceback_to_the_page(site_):
    """The kernel refuses a widget the page opens, here with a protocol version it does not speak (the comm is
    closed again; pages may open no widget at all, `course.lesson.comm_targets`); why is written to the
    server's log, not to the page's output."""
    server, codes = site_
    ben = signed_in(server.port, "ben", codes["ben"])
    opened, comm = str(uuid.uuid4()), str(uuid.uuid4())
    with page_socket(server, ben) as ws:
        ws.send(message("comm_open", {"comm_id": comm, "target_name": "jupyter.widget",
                                      "data": {"state": {}, "buffer_paths": []}}, {"version": "0.0.1"}, opened))
        received = []
        while not any(m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                      and m["parent_header"].get("msg_id") == opened for m in received):
            received.append(json.loads(ws.recv(timeout=30)))
    assert any(m["header"]["msg_type"] == "comm_close" and m["content"]["comm_id"] == comm for m in received)
    server_side = ("Traceback", 'File "', "site-packages", str(ROOT), sys.prefix)
    shown = [m["content"] for m in received if any(text in json.dumps(m["content"]) for text in server_side)]
    assert not shown, shown
    deadline = time.monotonic() + 30  # the log may trail on a busy machine
    while "No such comm target registered: jupyter.widget" not in server.log.read_text():
        assert time.monotonic() < deadline, "the refusal is not in the server's log"
        time.sleep(0.2)

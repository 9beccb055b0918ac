"""Sessions on the cohort site end when they should: at logout (on every device), when a learner gets a new
code, and when they are withdrawn from the site. A cookie from an ended session opens nothing: no page, no
kernel, so no saved answer either."""
import csv
import json
import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT, get, is_login_redirect, login, request, sign_out, signed_in, start_cohort
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

RENDER = "/voila/render/01-why-men-why-now.ipynb"


@pytest.fixture(scope="module")
def site_(tmp_path_factory):
    server, codes = start_cohort(tmp_path_factory.mktemp("sessions"), "--pool-size", "0")
    yield server, codes
    server.stop()


def opens(server, headers) -> bool:
    status, head, _, _ = request(server.port, "/", headers=headers)
    assert status == 200 or is_login_redirect(status, head), status
    return status == 200


def cohort(server, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "course", "cohort", *args, "--instance", str(server.instance)],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_logout_ends_every_session_of_the_learner_and_their_kernel_socket(site_):
    server, codes = site_
    laptop, phone = signed_in(server.port, "ana", codes["ana"]), signed_in(server.port, "ana", codes["ana"])
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', get(server.port, RENDER, laptop)[1]).group(1)
    channels = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels"
    with connect(channels, additional_headers=laptop, open_timeout=10):
        pass
    ben = signed_in(server.port, "ben", codes["ben"])
    assert opens(server, laptop) and opens(server, phone)
    assert is_login_redirect(*sign_out(server.port, phone)[:2])
    assert not opens(server, laptop) and not opens(server, phone)
    with pytest.raises(InvalidStatus) as refused:
        connect(channels, additional_headers=laptop, open_timeout=10)
    assert refused.value.response.status_code == 403
    assert opens(server, ben)  # other learners stay signed in
    assert opens(server, signed_in(server.port, "ana", codes["ana"]))  # and Ana can sign in again


def test_only_the_sign_out_button_signs_out_not_a_link_or_another_sites_form(site_):
    server, codes = site_
    ana = signed_in(server.port, "ana", codes["ana"])
    status, _, page, _ = request(server.port, "/logout", headers={"Cookie": ana["Cookie"]})  # a link, an <img>
    assert status == 200 and b"Sign out?" in page and b'name="_xsrf"' in page
    forged = request(server.port, "/logout", "POST", "", {"Cookie": ana["Cookie"]})  # no _xsrf token
    assert forged[0] == 403
    assert opens(server, ana)
    assert is_login_redirect(*request(server.port, "/logout", headers={})[:2])  # signed out already: sign in


def test_a_new_code_ends_the_learners_sessions_and_the_old_code(site_):
    server, codes = site_
    old = signed_in(server.port, "ben", codes["ben"])
    assert opens(server, old)
    new_code = cohort(server, "reset-code", "ben")
    assert not opens(server, old)
    assert login(server.port, "ben", codes["ben"])[0] == 401
    assert opens(server, signed_in(server.port, "ben", new_code))
    codes["ben"] = new_code


def test_a_withdrawn_learner_is_signed_out_and_cannot_sign_in(site_):
    server, codes = site_
    cookie = signed_in(server.port, "ines", codes["ines"])
    assert opens(server, cookie)
    cohort(server, "withdraw", "ines")
    assert not opens(server, cookie)
    assert login(server.port, "ines", codes["ines"])[0] == 401


def test_progress_is_each_learners_own_and_needs_a_session(site_):
    """The index page's progress comes from /allies/progress: each learner gets their own, nobody else's."""
    from course.store.answers import AnswerStore

    server, codes = site_
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        store.save("ana", "01-why-men-why-now", "m01-r1", "Ana's reflection.")
        store.record_submission("ana", "01-why-men-why-now", "/nowhere")

    def module_one(who):
        status, body = get(server.port, "/allies/progress", signed_in(server.port, who, codes[who]))
        assert status == 200, body
        return next(m for m in json.loads(body)["modules"] if m["path"] == RENDER.rsplit("/", 1)[1])

    assert module_one("ana") == {"path": "01-why-men-why-now.ipynb", "answered": 1, "of": 6, "started": True,
                                 "submitted": True, "feedback": False}
    ben = module_one("ben")
    assert ben["answered"] == 0 and not ben["submitted"] and not ben["started"]
    status, head, _, _ = request(server.port, "/allies/progress")
    assert is_login_redirect(status, head) or status == 403


def add_learner(server, learner: str) -> str:
    """Put `learner` on the roster; their access code."""
    roster = server.instance.parent / f"{learner}.csv"
    roster.write_text(f"learner_id,display_name\n{learner},{learner.title()}\n", encoding="utf-8")
    added = cohort(server, "add-learners", str(roster)).splitlines()
    return next(csv.DictReader(added))["access_code"]


@pytest.mark.parametrize("ending, why", [("sign-out", "signed-out"), ("new code", "new-code"),
                                         ("withdrawal", "withdrawn")])
def test_a_page_already_open_when_its_session_ends_loses_its_kernel_and_hears_why(site_, ending, why):
    """A page's kernel saves answers itself, over a socket opened while the session was live: ending the
    session must end that kernel too, within a few seconds, and tell the page why, last, so it can say so
    (frontend/src/page.js): signed out, a new code from the facilitator, off the roster."""
    server, codes = site_
    learner = "dana" if ending == "withdrawal" else "ana"
    if learner not in codes:
        codes[learner] = add_learner(server, learner)
    cookie = signed_in(server.port, learner, codes[learner])
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', get(server.port, RENDER, cookie)[1]).group(1)
    channels = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels"
    heard = []
    with connect(channels, additional_headers=cookie, open_timeout=10) as socket:
        if ending == "sign-out":
            sign_out(server.port, signed_in(server.port, learner, codes[learner]))  # on another device
        elif ending == "new code":
            codes[learner] = cohort(server, "reset-code", learner)
        else:
            cohort(server, "withdraw", learner)
        deadline = time.monotonic() + 30
        with pytest.raises(ConnectionClosed):
            while time.monotonic() < deadline:
                try:
                    heard.append(json.loads(socket.recv(timeout=1)))  # until the server closes the socket
                except TimeoutError:
                    pass
    last = heard[-1]
    assert (last["channel"], last["header"]["msg_type"], last["content"]) == (
        "iopub", "status", {"execution_state": "dead", "allies_ended": why})

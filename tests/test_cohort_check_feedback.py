"""Knowledge-check feedback on the real cohort site, in Chromium, in each mode the facilitator can choose
(`cohort serve --check-feedback`): after answering, the learner sees right or wrong and why as soon as they
choose; after grading, the check says the answer is recorded, and no key reaches the browser at all, in the
page or in any message from the kernel."""
import re

import pytest
from conftest import key_canaries, start_cohort
from playwright.sync_api import expect
from test_cohort_answers import box, saved_line, status_line

from course.lesson import keys

MODULE = "01-why-men-why-now"
PAGE = f"/voila/render/{MODULE}.ipynb"
CHECKS = {"m01-q1": ("b", "a"), "m01-q2": ("c", "d")}  # (right, wrong), as solutions/ asserts them
SLOW = 45_000  # ms: a page may wait for a kernel to start on 2 cores


@pytest.fixture(scope="module", params=[keys.AFTER_ANSWERING, keys.AFTER_GRADING])
def site_in_mode(request, tmp_path_factory):
    server, codes = start_cohort(tmp_path_factory.mktemp("feedback"), "--pool-size", "1",
                                 "--check-feedback", request.param)
    yield request.param, server, codes
    server.stop()


@pytest.fixture
def ana_page(site_in_mode, browser):
    """Ana signed in on Module 1, and every websocket frame the page receives (the kernel's messages)."""
    mode, server, codes = site_in_mode
    context = browser.new_context()
    page = context.new_page()
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))
    page.goto(f"{server.url}/login?next={PAGE}")
    page.fill("#learner", "ana")
    page.fill("#code", codes["ana"])
    page.click("button[type=submit]")
    page.wait_for_url(f"**{PAGE}", timeout=SLOW)
    for item in CHECKS:
        expect(saved_line(page, item)).to_have_text(re.compile("restored|save as you go"), timeout=SLOW)
    yield mode, page, frames
    context.close()


def choose(page, item, letter):
    box(page, item).locator(f"input[type=radio][data-value^='({letter})']").check()
    expect(saved_line(page, item)).to_have_text(re.compile("Saved at"), timeout=SLOW)


def expect_shown(page, mode, item, chosen, right, explanation):
    """What the check's status line says once `chosen` is saved, in `mode`."""
    shown = expect(status_line(page, item))
    if mode == keys.AFTER_GRADING:
        shown.to_contain_text(f"Recorded: ({chosen})")
        shown.to_contain_text("checked when the module is graded")
        return
    shown.to_contain_text(f"Yes, ({right}) is right." if chosen == right
                          else f"Not quite: the answer is ({right}), not ({chosen}).")
    shown.to_contain_text(explanation)


def test_checks_give_feedback_only_as_the_facilitator_chose(ana_page):
    mode, page, frames = ana_page
    canaries = key_canaries()
    assert not any(text in page.content() for text in canaries.values())  # nothing before an answer
    for item, (right, wrong) in CHECKS.items():
        for chosen in (wrong, right):
            choose(page, item, chosen)
            expect_shown(page, mode, item, chosen, right, canaries[item])
    page.wait_for_timeout(1000)  # any late message from the kernel arrives
    received = "\n".join(frames)
    assert "comm_msg" in received  # the kernel's messages were seen…
    in_messages = sorted(item for item, text in canaries.items() if text in received)
    on_page = sorted(item for item, text in canaries.items() if text in page.content())
    if mode == keys.AFTER_GRADING:
        assert in_messages == on_page == [], "a key reached the browser before grading"  # …and held no key
        assert "is right" not in page.content() and "Not quite" not in page.content()
    else:  # the same capture finds them when they are sent: only the checks answered, once answered
        assert in_messages == on_page == sorted(CHECKS)

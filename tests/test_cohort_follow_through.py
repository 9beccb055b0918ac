"""The return visit on the real cohort site, in Chromium: a plan written on the Module 6 page comes back in
Module 7 after the server restarts; the commitments review saves what the learner records like any answer and
brings it back on reload; and the index says Module 7 is waiting once the plan's check-in date has passed."""
import re

import pytest
from conftest import start_cohort
from playwright.sync_api import expect

from course.store.answers import AnswerStore

M6, M7 = "06-from-learning-to-leading", "07-four-weeks-on"
SPONSOR = "Sponsor a high-potential woman"  # the action's name in data/ally_actions.csv
SLOW = 90_000  # ms: a page may wait for a kernel on a loaded 2-core machine


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    server, codes = start_cohort(tmp_path_factory.mktemp("follow-through"), "--pool-size", "0")
    yield server, codes
    server.stop()


def box(page, item):
    return page.locator(f".allies-item-{item}")


def saved_line(page, item):
    return box(page, item).locator(":scope > .widget-html").nth(1)


def heard_from_store(page, items):
    for item in items:
        expect(saved_line(page, item)).to_have_text(re.compile("restored|save as you go"), timeout=SLOW)


def saved(page, item):
    expect(saved_line(page, item)).to_have_text(re.compile("^Saved at"), timeout=SLOW)


def fill(page, item, kind, value):
    """Type into an answer box and wait until the page says this text is saved (its status line blanked
    first, so that an earlier "Saved at" cannot pass for this one)."""
    saved_line(page, item).locator(".widget-html-content").evaluate("el => { el.textContent = '' }")
    box(page, item).locator(kind).fill(value)
    saved(page, item)


def open_page(context, url, module):
    page = context.new_page()
    page.goto(f"{url}/voila/render/{module}.ipynb", wait_until="commit", timeout=SLOW)
    return page


def sign_in(context, url, learner, code):
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("#learner", learner)
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/", timeout=SLOW)
    return page


def stored(server, learner, module):
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        return store.load(learner, module)


def test_the_module_6_plan_comes_back_in_module_7_after_a_restart_and_the_review_saves(site, browser):
    server, codes = site
    context = browser.new_context()
    try:
        index = sign_in(context, server.url, "ana", codes["ana"])
        page = open_page(context, server.url, M6)
        heard_from_store(page, ["m06-plan-action1", "m06-plan-step1", "m06-plan-by1", "m06-plan-check-in"])
        box(page, "m06-plan-action1").locator("select").select_option(label=SPONSOR)
        saved(page, "m06-plan-action1")
        fill(page, "m06-plan-step1", "textarea", "Ask Priya about the platform talk <b>soon</b>")
        fill(page, "m06-plan-by1", "input", "2026-03-14")
        box(page, "m06-plan-check-in").locator("input").fill("2020-01-15")  # a date that has passed
        saved(page, "m06-plan-check-in")
        page.close()

        server.stop()
        server.start()

        index = context.new_page()
        index.goto(server.url + "/")
        waiting = index.locator("#waiting")
        expect(waiting).to_contain_text("Module 7 is waiting for you", timeout=SLOW)
        expect(waiting).to_contain_text("2020-01-15")
        waiting.get_by_role("link").click()
        index.wait_for_url(f"**/voila/render/{M7}.ipynb", wait_until="commit", timeout=SLOW)
        page = index
        line = "Sponsor a high-potential woman: Ask Priya about the platform talk <b>soon</b> (by 2026-03-14)"
        expect(box(page, "m07-c1-commitment").locator("input")).to_have_value(line, timeout=SLOW)
        expect(page.locator(".allies-review")).to_contain_text("Your commitment from Module 6 is below")
        expect(box(page, "m07-c1-action").locator("select option:checked")).to_have_text(SPONSOR)
        saved(page, "m07-c1-commitment")

        # The review: a mark and what happened, each saved like any answer.
        box(page, "m07-c1-status").get_by_role("button", name="Partly").click()
        saved(page, "m07-c1-status")
        expect(page.locator(".allies-review")).to_contain_text("So far: 1 partly.")
        fill(page, "m07-c1-situation", "textarea", "Tuesday guild call; Priya was there")
        fill(page, "m07-c1-obstacle", "textarea", "I waited for a moment in person")
        fill(page, "m07-c1-commitment", "input", "Put Priya forward for the platform talk")
        assert {k: v for k, v in stored(server, "ana", M7).items() if k.startswith("m07-c1-")} == {
            "m07-c1-commitment": "Put Priya forward for the platform talk", "m07-c1-action": "sponsor",
            "m07-c1-status": "partly", "m07-c1-situation": "Tuesday guild call; Priya was there",
            "m07-c1-obstacle": "I waited for a moment in person"}

        page.reload(wait_until="commit", timeout=SLOW)  # the learner's words stay theirs: no refill from the plan
        heard_from_store(page, ["m07-c1-commitment", "m07-c1-status", "m07-c1-situation"])
        expect(box(page, "m07-c1-commitment").locator("input")).to_have_value("Put Priya forward for the platform talk")
        expect(box(page, "m07-c1-status").get_by_role("button", name="Partly")).to_have_class(re.compile("mod-active"))
        expect(box(page, "m07-c1-situation").locator("textarea")).to_have_value("Tuesday guild call; Priya was there")
    finally:
        context.close()


def test_the_index_does_not_say_module_7_is_waiting_before_the_check_in(site, browser):
    server, codes = site
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        store.save("ben", M6, "m06-plan-check-in", "2999-01-01")
    context = browser.new_context()
    try:
        index = sign_in(context, server.url, "ben", codes["ben"])
        expect(index.locator(f'li[data-module="{M7}.ipynb"] .allies-progress')).to_have_text("Not started",
                                                                                            timeout=SLOW)
        expect(index.locator("#waiting")).to_be_hidden()
    finally:
        context.close()

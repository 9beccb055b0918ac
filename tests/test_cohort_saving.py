"""The page never says "Saved" for text the store does not hold: a paste over the store's limit is refused in
the browser, with the limit in words, its words still counted, and the page stays connected; a save the server
does not confirm within a few seconds says so; a lost connection turns every unsaved status into "Not saved
yet"."""
import re
import sqlite3

import pytest
from conftest import start_cohort
from playwright.sync_api import expect

from course.contract import COURSE_ID
from course.store.answers import MAX_LEARNER_BYTES, MAX_SUBMISSIONS, MAX_VALUE_BYTES, ROW_BYTES, AnswerStore

MODULE = "01-why-men-why-now"
PAGE = f"/voila/render/{MODULE}.ipynb"
SLOW = 60_000


@pytest.fixture
def site_(tmp_path):
    server, codes = start_cohort(tmp_path, "--pool-size", "0")
    yield server, codes
    server.stop()


@pytest.fixture
def page(site_, browser):
    server, codes = site_
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/login?next={PAGE}")
    page.fill("#learner", "ana")
    page.fill("#code", codes["ana"])
    page.click("button[type=submit]")
    expect(saved_line(page, "m01-r1")).to_have_text(re.compile("save as you go|restored"), timeout=SLOW)
    yield page
    context.close()


def box(page, item):
    return page.locator(f".allies-item-{item}")


def saved_line(page, item):
    return box(page, item).locator(".allies-saved")


def stored(server, item):
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        return store.load("ana", MODULE).get(item)


def paste(page, item, text_js):
    """Put text made by the expression `text_js` into the box, as a paste does (one input event)."""
    box(page, item).locator("textarea").evaluate(
        f"el => {{ el.value = {text_js}; el.dispatchEvent(new Event('input', {{bubbles: true}})); }}")


def assert_saved_means_stored(server, page, item):
    text = saved_line(page, item).inner_text()
    if text.startswith("Saved"):
        assert stored(server, item) == box(page, item).locator("textarea").input_value(), text


def counted(page, item):
    """The word count under the box: the kernel's, or the page's while the text is over the limit."""
    return box(page, item).locator(":scope > .widget-html:not(:has(.allies-saved)), :scope > .allies-count") \
        .locator("visible=true")


def over_limit(words: str) -> str:
    return f"{words} words. This answer is over the limit of 2 MiB, so it will not be saved until it is shorter."


def test_a_paste_over_the_limit_is_refused_in_the_page_and_nothing_said_saved_is_lost(site_, page):
    """Over the limit, the page goes on counting words (the kernel, which hears nothing more, cannot), and
    says beside the count that the answer is not saved until it is shorter; Submit says so too, and hands in
    nothing (the kernel would hand in the older saved text)."""
    server, _ = site_
    textarea = box(page, "m01-r1").locator("textarea")
    textarea.fill("A first answer.")
    expect(saved_line(page, "m01-r1")).to_have_text(re.compile("Saved at"), timeout=20_000)
    expect(counted(page, "m01-r1")).to_have_text("3 words.")
    assert stored(server, "m01-r1") == "A first answer."
    paste(page, "m01-r1", "'A first answer. ' + 'xxx '.repeat(3 * 1024 * 1024)")  # 12 MiB
    expect(saved_line(page, "m01-r1")).to_have_text(re.compile(r"Not saved: .* 12 MiB.* at most 2 MiB"))
    expect(counted(page, "m01-r1")).to_have_text(over_limit("3,145,731"))
    textarea.press("End")
    page.keyboard.insert_text(" and more")  # typed on (one input event: a 12 MB box is slow to type into key by key)
    expect(saved_line(page, "m01-r1")).to_have_text(re.compile(r"Not saved: .* at most 2 MiB"))
    expect(counted(page, "m01-r1")).to_have_text(over_limit("3,145,733"))
    assert_saved_means_stored(server, page, "m01-r1")
    submit = page.locator(".allies-submit button")
    submit.click()  # the older saved text would be handed in: the page keeps the click from the kernel
    expect(page.locator(".allies-submit [role=status]")).to_have_text(re.compile(
        r"^Not yet: an answer on this page is over the limit of 2 MiB, so it is not saved.*Shorten it first"))
    expect(textarea).to_be_focused()
    submit.focus()
    page.keyboard.press("Enter")  # from the keyboard, too
    expect(textarea).to_be_focused()
    assert not list((server.instance / "exchange" / COURSE_ID / "inbound").glob(f"ana+{MODULE}+*"))
    textarea.fill("A shorter answer, typed after the paste.")
    expect(saved_line(page, "m01-r1")).to_have_text(re.compile("Saved at"), timeout=20_000)
    expect(counted(page, "m01-r1")).to_have_text("7 words.")  # the kernel's count again
    assert stored(server, "m01-r1") == "A shorter answer, typed after the paste."
    assert page.locator("#allies-connection").count() == 0  # the page never lost its kernel


def test_a_learner_at_their_limits_is_told_so_and_nothing_is_said_saved_or_handed_in(site_, page):
    """At the store's limit per learner, typing says why nothing is saved (and not "try again"); at the
    hand-in limit, Submit says so and writes no file into the exchange."""
    server, _ = site_
    handed_in = MAX_SUBMISSIONS * (len("/elsewhere/00") + ROW_BYTES)
    fits = (MAX_LEARNER_BYTES - handed_in) // (MAX_VALUE_BYTES + ROW_BYTES)
    left = MAX_LEARNER_BYTES - handed_in - fits * (MAX_VALUE_BYTES + ROW_BYTES) - ROW_BYTES
    with AnswerStore(server.instance / "answers.sqlite3") as store:  # Ana's earlier work leaves her 10 bytes
        for n in range(MAX_SUBMISSIONS):
            store.record_submission("ana", MODULE, f"/elsewhere/{n:02d}")
        for _ in range(fits):
            store.save("ana", MODULE, "m01-r9", "x" * MAX_VALUE_BYTES)
        store.save("ana", MODULE, "m01-r8", "x" * (left - 10))
    page.locator(".allies-submit button").click()
    expect(page.locator(".allies-submit")).to_contain_text(
        f"Not submitted: you have handed in this module {MAX_SUBMISSIONS} times, the most this site keeps.",
        timeout=SLOW)
    assert not list((server.instance / "exchange" / COURSE_ID / "inbound").glob(f"ana+{MODULE}+*"))
    box(page, "m01-r1").locator("textarea").fill("An answer past the limit.")
    expect(saved_line(page, "m01-r1")).to_have_text(
        re.compile(r"^Not saved: your saved answers, every version of them, have reached the 64 MiB one learner can "
                   r"keep on this site, so nothing new was saved\. Your text is still on this page: copy it "
                   r"somewhere safe, and tell your facilitator\.$"), timeout=20_000)
    assert stored(server, "m01-r1") is None
    for _ in range(2):  # the box's text is not saved, so it is not handed in: each time, it is tried again
        page.locator(".allies-submit .widget-html-content").evaluate("el => { el.textContent = '' }")
        page.locator(".allies-submit button").click()
        expect(page.locator(".allies-submit")).to_contain_text(
            "Not submitted: Some answers could not be saved, so nothing was submitted.", timeout=SLOW)
    assert not list((server.instance / "exchange" / COURSE_ID / "inbound").glob(f"ana+{MODULE}+*"))


def test_a_save_the_server_does_not_confirm_says_not_saved_yet(site_, page):
    server, _ = site_
    with sqlite3.connect(server.instance / "answers.sqlite3", isolation_level=None) as held:
        held.execute("BEGIN EXCLUSIVE")  # every save now waits for this lock
        box(page, "m01-r2").locator("textarea").fill("Written while the disk is stuck.")
        expect(saved_line(page, "m01-r2")).to_have_text(re.compile("Not saved yet: .*not confirmed"),
                                                        timeout=20_000)
        held.execute("ROLLBACK")
    held.close()
    expect(saved_line(page, "m01-r2")).to_have_text(re.compile("Saved at"), timeout=30_000)
    assert stored(server, "m01-r2") == "Written while the disk is stuck."


def test_a_lost_connection_turns_unsaved_answers_into_not_saved_yet(site_, page):
    server, _ = site_
    with sqlite3.connect(server.instance / "answers.sqlite3", isolation_level=None) as held:
        held.execute("BEGIN EXCLUSIVE")
        box(page, "m01-r2").locator("textarea").fill("Typed just before the server went away.")
        expect(saved_line(page, "m01-r2")).to_have_text("Saving…", timeout=20_000)
        server.stop(kill=True)
        held.execute("ROLLBACK")
    held.close()
    expect(page.locator("#allies-connection")).to_be_visible(timeout=30_000)
    expect(saved_line(page, "m01-r2")).to_have_text(re.compile("Not saved yet: .*lost its connection"))


WATCH = """box => { window.said = [];
  new MutationObserver(() => window.said.push(box.querySelector('.allies-saved').textContent))
    .observe(box, {subtree: true, childList: true, characterData: true}); }"""


def test_a_choice_the_server_saves_at_once_is_never_said_to_be_slow(site_, page):
    """A click on a choice fires no input event: every click once said "Not saved yet: … not confirmed for a
    few seconds" within 130 ms, the slow clock counting from no edit at all (outside trial, 2026-12-03)."""
    server, _ = site_
    page.goto(f"{server.url}/voila/render/00-before-you-start.ipynb")
    answer = page.locator(".allies-self-assessment .allies-answer").first
    expect(answer.locator(".allies-saved")).to_have_text(re.compile("save as you go|restored"), timeout=SLOW)
    answer.evaluate(WATCH)
    for choice in (1, 2, 0):
        page.evaluate("window.said.length = 0")
        answer.locator(".widget-toggle-button").nth(choice).click()
        page.wait_for_function("window.said.some(s => s.startsWith('Saved at'))", timeout=20_000)
        said = page.evaluate("window.said")
        assert not [s for s in said if s.startswith("Not saved")], said

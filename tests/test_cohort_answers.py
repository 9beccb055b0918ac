"""Cohort learners' answers on the real site (`python -m course cohort serve`) in real Chromium: saved as
they type, restored after a reload, in a second tab and after a server restart; failed saves said on the
page; hostile text kept exactly and shown as text; a completed module submitted from the page, collected
and autograded by the real nbgrader command line."""
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from pathlib import Path

import psutil
import pytest
from conftest import ROOT
from nbgrader.api import Gradebook
from playwright.sync_api import expect

from course.grading.settings import COURSE_ID, config_file
from course.store.answers import AnswerStore

MODULE = "01-why-men-why-now"
PAGE = f"/voila/render/{MODULE}.ipynb"
CHECKS = ["m01-q1", "m01-q2", "m01-q3", "m01-q4"]
REFLECTIONS = ["m01-r1", "m01-r2"]
RIGHT = {"m01-q1": "b", "m01-q2": "c", "m01-q3": "a", "m01-q4": "d"}  # as solutions/ asserts them
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
SLOW = 45_000  # ms: a page may wait for a kernel to start on 2 cores


# -- the page ------------------------------------------------------------------------------------------

def box(page, item):
    return page.locator(f".allies-item-{item}")


def status_line(page, item):
    return box(page, item).locator(":scope > .widget-html").nth(0)


def saved_line(page, item):
    return box(page, item).locator(":scope > .widget-html").nth(1)


def wait_until_ready(page):
    """Every answer box has heard from the answer store (restored, or nothing saved yet)."""
    for item in CHECKS + REFLECTIONS:
        expect(saved_line(page, item)).to_have_text(re.compile("restored|save as you go"), timeout=SLOW)
    return page


def open_module(context, url):
    """Module 1 in a new tab, once every answer box has heard from the store. Voilà streams the page while
    the kernel runs its cells (after a restart, while the pools refill): the navigation is done when the
    response starts, and what counts is the condition the page reaches, not how long the page took."""
    page = context.new_page()
    page.goto(url + PAGE, wait_until="commit", timeout=SLOW)
    return wait_until_ready(page)


def sign_in(context, url, learner, code):
    """The sign-in form (it carries _xsrf), then on to Module 1."""
    page = context.new_page()
    page.goto(f"{url}/login?next={PAGE}")
    page.fill("#learner", learner)
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{PAGE}", wait_until="commit", timeout=SLOW)
    return wait_until_ready(page)


def forget_shown(locator):
    """Blank a status line in the page, so the next text in it must come from the kernel anew."""
    locator.locator(".widget-html-content").evaluate("el => { el.textContent = '' }")


def give(page, item, value, how="fill"):
    forget_shown(saved_line(page, item))
    if item in CHECKS:
        box(page, item).locator(f"input[type=radio][data-value^='({value})']").check()
    elif how == "fill":
        box(page, item).locator("textarea").fill(value)
    else:  # set by script, as a paste can: Playwright's fill() turns a lone surrogate into U+FFFD
        box(page, item).locator("textarea").evaluate(
            "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


def outcome(page, item):
    """What the page says once the save has an outcome: saved, or not saved and why. "Not saved yet" (no
    confirmation for 5 s, as on a loaded machine) is not an outcome: a confirmation may still come."""
    expect(saved_line(page, item)).to_have_text(re.compile("^(Saved at|Not saved:)"), timeout=SLOW)
    return saved_line(page, item).inner_text()


def answer(page, item, value, how="fill"):
    """Choose a letter or write text, then wait for the page to say whether it was saved."""
    give(page, item, value, how)
    return outcome(page, item)


def answer_all(page, answers):
    """Answer several items at once (each autosaves on its own); what the page said for each."""
    for item, value in answers.items():
        give(page, item, value)
    return {item: outcome(page, item) for item in answers}


def shown(page, item):
    """What the page shows as the answer: the chosen letter, or the text in the box."""
    if item in CHECKS:
        checked = box(page, item).locator("input[type=radio]:checked")
        return None if checked.count() == 0 else checked.get_attribute("data-value")[1]
    return box(page, item).locator("textarea").input_value()


# -- the store -----------------------------------------------------------------------------------------

def stored(server, learner):
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        return store.load(learner, MODULE)


def stored_bytes(server, learner, item):
    """The latest saved value, as the bytes in the SQLite file."""
    with closing(sqlite3.connect(server.instance / "answers.sqlite3")) as db:
        row = db.execute("SELECT answers.value FROM latest "
                         "JOIN answers USING (learner, module, item, revision) "
                         "WHERE latest.learner = ? AND latest.module = ? AND latest.item = ?",
                         (learner, MODULE, item)).fetchone()
    return None if row is None else bytes(row[0])


def new_learner(server, learner):
    """Put one more person on the roster (each test its own learner); returns the access code."""
    with AnswerStore(server.instance / "answers.sqlite3") as store:
        return store.add_learner(learner, learner.title())


def inbound(server, learner):
    return sorted((server.instance / "exchange" / COURSE_ID / "inbound").glob(f"{learner}+{MODULE}+*"))


# -- 1. answers survive ------------------------------------------------------------------------------

def test_answers_survive_a_reload_a_second_tab_and_a_server_restart(cohort, browser):
    server, codes = cohort
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ana", codes["ana"])
        typed = "My team lead decided alone; I'll ask who else was in the room. — Ana, 2 \"quotes\" & <b>"
        assert answer(page, "m01-q2", "c").startswith("Saved at")
        assert answer(page, "m01-r1", typed).startswith("Saved at")
        assert stored(server, "ana") == {"m01-q2": "c", "m01-r1": typed}

        def restored(page):
            assert shown(page, "m01-q2") == "c" and shown(page, "m01-r1") == typed
            for item in ("m01-q2", "m01-r1"):
                expect(saved_line(page, item)).to_have_text("Saved answer restored.")
            assert shown(page, "m01-q1") is None and shown(page, "m01-r2") == ""

        page.reload()
        restored(wait_until_ready(page))
        restored(open_module(context, server.url))  # a second tab in the same browser

        first = page
        server.stop()
        expect(first.get_by_role("alert")).to_contain_text("reload the page", timeout=60_000)
        assert shown(first, "m01-r1") == typed  # nothing on the page is lost
        server.start()
        page = open_module(context, server.url)  # the sign-in cookie outlives the restart
        assert page.url == server.url + PAGE
        restored(page)
        assert stored(server, "ana") == {"m01-q2": "c", "m01-r1": typed}
    finally:
        context.close()


@contextmanager
def page_that_saved(cohort, browser, learner, text):
    """A new learner's Module 1 page, in a browser of their own, with `text` saved as their first reflection."""
    server, _ = cohort
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, learner, new_learner(server, learner))
        assert answer(page, "m01-r1", text).startswith("Saved at")
        yield page
    finally:
        context.close()


def says_its_session_ended(page):
    """The page says its session ended, and calls text typed afterwards (where it said "save as you go")
    not saved."""
    expect(page.get_by_role("alert")).to_contain_text("session has ended", timeout=SLOW)
    box(page, "m01-r2").locator("textarea").fill("Typed after the session ended.")
    expect(saved_line(page, "m01-r2")).to_have_text(re.compile("^Not saved yet"), timeout=20_000)


def test_a_second_tab_takes_over_and_the_first_says_it_stopped_saving(cohort, browser):
    """One kernel per learner and page: opening the module again ends the first tab's kernel. The first tab
    must say so at once, and call what is typed there afterwards unsaved; the second tab has every answer."""
    server, _ = cohort
    with page_that_saved(cohort, browser, "tabs", "Written in the first tab.") as first:
        second = open_module(first.context, server.url)
        says_its_session_ended(first)
        assert shown(second, "m01-r1") == "Written in the first tab."
        assert answer(second, "m01-r2", "Typed in the second tab.").startswith("Saved at")
        assert stored(server, "tabs") == {"m01-r1": "Written in the first tab.", "m01-r2": "Typed in the second tab."}


def test_a_page_whose_kernel_dies_says_so_and_calls_nothing_typed_after_saved(cohort, browser):
    """The server restarts a kernel that died, blank: no widget behind the page's boxes any more. The page
    must say its session ended, and stay saying so, rather than show "Saved" for text nobody keeps."""
    server, _ = cohort
    with page_that_saved(cohort, browser, "crash", "Saved before the crash.") as page:
        kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', page.content()).group(1)
        kernel = next(p for p in psutil.Process(server.proc.pid).children(recursive=True)
                      if kernel_id in " ".join(p.cmdline()))
        kernel.kill()
        says_its_session_ended(page)
        expect(page.get_by_role("alert")).to_contain_text("session has ended")  # the restart does not hide it
        assert stored(server, "crash") == {"m01-r1": "Saved before the crash."}


@pytest.mark.parametrize("learner, end, says", [
    ("leaver", "end_sessions", r"^You signed out \(in this tab, another tab or another device\).*"
                               r"Your saved answers are kept\..*reload the page to sign in again\.$"),
    ("recoded", "reset_code", r"^Your facilitator has set a new sign-in code for you.*Your saved answers are "
                              r"kept\..*sign in with your new code; your facilitator can give it to you\.$"),
    ("withdrawn", "withdraw", r"^You are no longer on this course's roster.*Your saved answers are kept\..*"
                              r"ask your facilitator if you think this is a mistake\.$")])
def test_a_page_whose_session_ended_says_why_and_what_to_do_next(cohort, browser, learner, end, says):
    """Signing out (anywhere), a new code and leaving the roster each end the learner's sessions: an open
    page says which, that their saved answers are kept, and what to do next."""
    server, _ = cohort
    with page_that_saved(cohort, browser, learner, "Saved before the session ended.") as page:
        with AnswerStore(server.instance / "answers.sqlite3") as store:
            getattr(store, end)(learner)  # as the Sign out button, `cohort reset-code` and `cohort withdraw` do
        expect(page.get_by_role("alert")).to_have_text(re.compile(says), timeout=SLOW)
        assert "session has ended and nothing typed here now is saved" in page.get_by_role("alert").inner_text()
    assert stored(server, learner) == {"m01-r1": "Saved before the session ended."}


# -- 2. failed saves are said ----------------------------------------------------------------------

def test_the_page_says_when_saving_failed_and_keeps_the_text(cohort, browser):
    """The store's folder is swapped for a file (chmod is no obstacle to root, and holding the write lock
    would take the store's 60 s of retries): each autosave opens the store anew, and cannot. Once the
    folder is back, the next edit saves."""
    server, codes = cohort
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ben", codes["ben"])
        folder, away = server.instance, server.instance.with_name("instance-away")
        typed = "Written while the store is out of reach."
        folder.rename(away)
        folder.write_text("not a folder")
        try:
            message = answer(page, "m01-r2", typed)
        finally:
            folder.unlink()
            away.rename(folder)
        assert message.startswith("Not saved:") and "still here" in message, message
        assert shown(page, "m01-r2") == typed
        assert "m01-r2" not in stored(server, "ben")

        more = typed + " And now it is back."
        assert answer(page, "m01-r2", more).startswith("Saved at")
        assert stored(server, "ben")["m01-r2"] == more and shown(page, "m01-r2") == more
    finally:
        context.close()


# -- 3. hostile text ---------------------------------------------------------------------------------

XSS = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>"
HOSTILE = {
    "nul": ("before\x00after", "fill"),
    "bidi and markup": (f"\u202eevil.exe\u202c {XSS} &amp; \"'` é 中 😀", "fill"),
    "lone surrogate": ("half an emoji: \ud83d, and a pair: 😀", "script"),
}


def no_markup_ran(page):
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("[...document.querySelectorAll('img, script')].filter(e => "
                         "e.getAttribute('src') === 'x' || e.textContent.includes('__pwned')).length") == 0


def test_hostile_text_is_stored_exactly_and_shown_as_text(cohort, browser):
    server, _ = cohort
    code = new_learner(server, "hostile")
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "hostile", code)
        for name, (text, how) in HOSTILE.items():
            assert answer(page, "m01-r1", text, how).startswith("Saved at"), name
            assert stored_bytes(server, "hostile", "m01-r1") == text.encode("utf-8", "surrogatepass"), name
            assert shown(page, "m01-r1") == text, name
            no_markup_ran(page)
        expect(status_line(page, "m01-r1")).to_contain_text("broken character")  # the lone surrogate
        bidi, surrogate = HOSTILE["bidi and markup"][0] + HOSTILE["nul"][0], HOSTILE["lone surrogate"][0]
        assert answer(page, "m01-r1", bidi).startswith("Saved at")
        expect(status_line(page, "m01-r1")).to_contain_text("NUL character")
        assert answer(page, "m01-r2", surrogate, "script").startswith("Saved at")
        assert stored(server, "hostile") == {"m01-r1": bidi, "m01-r2": surrogate}

        page.reload()
        wait_until_ready(page)
        assert shown(page, "m01-r1") == bidi
        # Jupyter's messages cannot carry a lone surrogate back: it is shown as U+FFFD and kept in the store.
        assert shown(page, "m01-r2") == surrogate.replace("\ud83d", "\ufffd")
        expect(saved_line(page, "m01-r2")).to_contain_text("broken character")
        assert stored_bytes(server, "hostile", "m01-r2") == surrogate.encode("utf-8", "surrogatepass")
        no_markup_ran(page)
    finally:
        context.close()


def test_an_over_long_reflection_is_kept_whole_and_the_page_says_so(cohort, browser):
    server, _ = cohort
    code = new_learner(server, "verbose")
    # Non-ASCII only at the end: Chromium takes minutes to lay out a megabyte line of mixed scripts.
    tail = " é 中 😀 the end"
    text = (f"{XSS} \u202e " * 15_000)[:1_000_000 - len(tail)] + tail
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "verbose", code)
        assert answer(page, "m01-r1", text).startswith("Saved at")
        expect(status_line(page, "m01-r1")).to_have_text(
            "Your reflection is 1,000,000 characters; the limit is 20,000. "
            "Shorten it before submitting — nothing you wrote is deleted.")
        assert stored_bytes(server, "verbose", "m01-r1") == text.encode("utf-8")
        assert shown(page, "m01-r1") == text

        page.locator(".allies-submit button").click()
        expect(page.locator(".allies-submit")).to_contain_text(
            "Not submitted: Reflection 1 — Who was in the room?: Your reflection is 1,000,000 characters",
            timeout=20_000)
        assert inbound(server, "verbose") == []

        page.reload()
        wait_until_ready(page)
        assert shown(page, "m01-r1") == text
        no_markup_ran(page)
    finally:
        context.close()


# -- 4. submit from the page, grade with nbgrader --------------------------------------------------------

def nbgrader(root, *args):
    done = subprocess.run([NBGRADER, *args], cwd=root, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stderr


def submit(page):
    status = page.locator(".allies-submit .widget-html")
    forget_shown(status)
    page.locator(".allies-submit button").click()
    expect(status).to_have_text(re.compile("^(Submitted|Not submitted)"), timeout=30_000)
    return status.inner_text()


def test_a_module_completed_in_the_browser_is_collected_and_autograded(cohort, browser, tmp_path):
    server, _ = cohort
    code = new_learner(server, "cara")
    reflections = {"m01-r1": "Three senior men picked the lead; next time I will ask who else did the work.",
                   "m01-r2": "Learning: I pair new joiners with reviewers. Next: call out interruptions."}
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "cara", code)
        said = answer_all(page, {**RIGHT, **reflections})
        assert all(message.startswith("Saved at") for message in said.values()), said
        assert submit(page).startswith("Submitted.")
        # A second thought, a second submission: both stay in the exchange, the latest is graded.
        assert answer(page, "m01-q4", "a").startswith("Saved at")
        assert submit(page).startswith("Submitted.")
    finally:
        context.close()
    first, latest = inbound(server, "cara")
    latest_stamp = (latest / "timestamp.txt").read_text(encoding="utf-8")
    assert (first / "timestamp.txt").read_text(encoding="utf-8") < latest_stamp

    root = tmp_path / "course"
    (root / "source" / MODULE).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{MODULE}.ipynb", root / "source" / MODULE)
    (root / "nbgrader_config.py").write_text(
        config_file() + f"c.Exchange.root = {str(server.instance / 'exchange')!r}\n"
        "c.ExchangeCollect.check_owner = False  # the site writes every submission as one user\n",
        encoding="utf-8")
    nbgrader(root, "generate_assignment", MODULE)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        gb.add_student("cara")  # as `nbgrader db student add cara`, without another nbgrader start-up
    nbgrader(root, "collect", MODULE)
    submitted = root / "submitted" / "cara" / MODULE
    assert (submitted / "timestamp.txt").read_text(encoding="utf-8") == latest_stamp
    nb = json.loads((submitted / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    sources = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    assert "answer = 'a'" in sources["m01-q4"] and sources["m01-r1"] == reflections["m01-r1"]

    nbgrader(root, "autograde", MODULE, "--student=cara")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        sub = gb.find_submission(MODULE, "cara")
        grades = {g.name: g for nb in sub.notebooks for g in nb.grades}
        assert sub.code_score == 3
        assert [grades[f"{item}-check"].auto_score for item in CHECKS] == [1, 1, 1, 0]
        assert sub.needs_manual_grade
        for item in REFLECTIONS:
            assert grades[item].needs_manual_grade and grades[item].manual_score is None


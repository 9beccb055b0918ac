"""WCAG 2.1 AA on the cohort site (`python -m course cohort serve`), in Chromium: axe-core finds nothing on the
sign-in page, the index or any module page, before or after each kind of widget is used; and Module 1 can
be done from start to finish with the keyboard alone: sign in, open it, answer every check, write both
reflections, submit, with Tab landing once on each question."""
import re

import pytest
from accessibility import MODULES, SLOW, axe, interact, open_module, overflowing
from conftest import ROOT
from playwright.sync_api import expect

from course.store.answers import AnswerStore

MODULE_1 = "01-why-men-why-now"
RIGHT = {"m01-q1": "b", "m01-q2": "c", "m01-q3": "a", "m01-q4": "d"}  # as solutions/ asserts them
REFLECTIONS = {"m01-r1": "Three senior men chose the lead. Next time I will ask who else did the work.",
               "m01-r2": "Learning: I pair new joiners with reviewers. Next: I will call out interruptions."}


def sign_in_page(browser, server):
    page = browser.new_context().new_page()
    page.goto(server.url + "/login")
    return page


def signed_in_as(browser, server, learner, code, **options):
    """A new browser context (with `options`), signed in as `learner` by the sign-in form."""
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("#learner", learner)
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    page.close()
    return context


@pytest.fixture(scope="module")
def signed_in(cohort, browser):
    """A browser context signed in as Ana, by the sign-in form."""
    server, codes = cohort
    context = signed_in_as(browser, server, "ana", codes["ana"])
    yield context
    context.close()


def course_colour(name: str) -> str:
    """A colour the course's stylesheet names (`--allies-link: #0a4f9e;`), as the browser computes it."""
    css = (ROOT / "course" / "jupyter" / "voila" / "templates" / "allies" / "static" / "allies.css").read_text()
    hex_ = re.search(rf"{name}:\s*#([0-9a-f]{{6}})", css)[1]
    return "rgb({}, {}, {})".format(*(int(hex_[i:i + 2], 16) for i in (0, 2, 4)))


def test_the_sign_in_page_passes_axe_and_reflows(cohort, browser):
    server, _ = cohort
    page = sign_in_page(browser, server)
    try:
        # An icon of its own: without one, a browser asks for /favicon.ico, which the site does not have (a 404 in
        # the browser's console and the server's log on every visit).
        expect(page.locator('head link[rel="icon"]')).to_have_count(1)
        assert axe(page) == []
        page.fill("#learner", "ana")
        page.fill("#code", "not the code")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_be_visible()
        assert axe(page) == [], "with its error message"
        assert overflowing(page) == []
        # The course's one button style and focus ring (allies.css), not colours of its own (outside trial).
        page.focus("#code")
        seen = page.evaluate("""() => [getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor,
                                       getComputedStyle(document.activeElement).outlineColor]""")
        assert seen == [course_colour("--allies-link"), course_colour("--allies-focus")]
    finally:
        page.context.close()


def test_the_index_passes_axe_and_reflows(cohort, signed_in):
    server, _ = cohort
    page = signed_in.new_page()
    try:
        page.goto(server.url + "/")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert axe(page) == []
        assert overflowing(page) == []
    finally:
        page.close()


@pytest.mark.parametrize("name", MODULES)
def test_axe_finds_nothing_on_a_module_page_before_or_after_each_kind_of_widget_is_used(cohort, signed_in,
                                                                                       name):
    server, _ = cohort
    page = open_module(signed_in, server.url, name)
    try:
        assert axe(page) == []
        assert interact(page)
        assert axe(page) == []
        assert overflowing(page) == []
    finally:
        page.close()


def tab_to(page, is_there: str, arg=None, landings: list | None = None, most: int = 400):
    """Press Tab until `is_there(document.activeElement, arg)` (a JavaScript function) holds; with
    `landings`, add to it the answer box of each radio that a Tab press lands on."""
    for _ in range(most):
        if page.evaluate(f"(arg) => ({is_there})(document.activeElement, arg)", arg):
            return
        page.keyboard.press("Tab")
        if landings is not None:
            landings.append(page.evaluate("""() => { const el = document.activeElement;
                const box = el.type === 'radio' && el.closest('.allies-answer');
                return box ? [...box.classList].find(c => c.startsWith('allies-item-')) : null; }"""))
    raise AssertionError(f"Tab never reached {is_there} ({arg})")


def test_module_1_can_be_done_from_sign_in_to_submit_with_the_keyboard_alone(cohort, browser):
    server, codes = cohort
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.url + "/login")
        tab_to(page, "el => el.id === 'learner'")
        page.keyboard.type("ben")
        page.keyboard.press("Tab")
        page.keyboard.type(codes["ben"])
        page.keyboard.press("Enter")
        page.wait_for_url(server.url + "/")

        tab_to(page, "el => el.tagName === 'A' && el.textContent.includes('Module 1')")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/{MODULE_1}.ipynb")
        for item in [*RIGHT, *REFLECTIONS]:
            expect(page.locator(f".allies-item-{item} .allies-saved")).to_have_text(
                re.compile("restored|save as you go"), timeout=SLOW)

        landings = []
        for item, letter in RIGHT.items():
            tab_to(page, "(el, item) => el.type === 'radio' && !!el.closest('.allies-item-' + item)", item,
                   landings)
            chosen = page.locator(f".allies-item-{item} input[type=radio][data-value^='({letter})']")
            if page.evaluate("() => !document.activeElement.checked"):
                page.keyboard.press("Space")  # nothing chosen yet: choose the option Tab landed on
            for _ in range(8):
                if chosen.evaluate("el => el.checked"):
                    break
                page.keyboard.press("ArrowDown")
            expect(chosen).to_be_checked()
            expect(chosen).to_be_focused()
            expect(page.locator(f".allies-item-{item} .allies-saved")).to_contain_text("Saved at",
                                                                                      timeout=20_000)
        for item, text in REFLECTIONS.items():
            tab_to(page, "(el, item) => el.tagName === 'TEXTAREA' && !!el.closest('.allies-item-' + item)", item)
            page.keyboard.type(text)
            expect(page.locator(f".allies-item-{item} .allies-saved")).to_contain_text("Saved at",
                                                                                      timeout=20_000)

        tab_to(page, "el => el.tagName === 'BUTTON' && !!el.closest('.allies-submit')")
        page.keyboard.press("Enter")
        assert [found for found in landings if found] == [f"allies-item-{item}" for item in RIGHT], \
            "from one question to the next, Tab lands once on each question's radios"
        expect(page.locator(".allies-submit .widget-html")).to_contain_text("Submitted.", timeout=30_000)
    finally:
        context.close()

    with AnswerStore(server.instance / "answers.sqlite3") as store:
        saved = store.load("ben", MODULE_1)
    assert {item: saved[item] for item in RIGHT} == RIGHT
    assert {item: saved[item] for item in REFLECTIONS} == REFLECTIONS
    assert sorted((server.instance / "exchange").glob(f"*/inbound/ben+{MODULE_1}+*")), "a submission"


@pytest.fixture(scope="module")
def feedback_for_ana(cohort, tmp_path_factory):
    """Ana's Module 1 hand-in, graded and returned by the real instructor workflow (nbgrader collect,
    autograde, a hand grade for each reflection, feedback) into the cohort's instance; yields the page."""
    import json

    from conftest import correct_answers
    from course.grading import autograding, collecting, feedback, grades, instructor
    from course.grading.settings import COURSE_ID
    from course.lesson.submissions import fill, to_exchange

    server, _ = cohort
    root, quiet = tmp_path_factory.mktemp("grading") / "course", {"log": lambda *a: None}
    instructor.init(root, roster=server.instance.parent / "roster.csv", instance=server.instance,
                    modules=[MODULE_1], check=False, **quiet)
    release = json.loads((root / "release" / MODULE_1 / f"{MODULE_1}.ipynb").read_text(encoding="utf-8"))
    to_exchange(server.instance / "exchange", COURSE_ID, "ana", MODULE_1,
                fill(release, {**correct_answers(MODULE_1, checks_only=True), **REFLECTIONS}))
    collecting.collect(root, **quiet)
    assert all(graded.ok for graded in autograding.autograde(root, **quiet))
    for item in REFLECTIONS:
        grades.set_manual_grade(root, MODULE_1, "ana", item, 2)
    feedback.feedback(root, **quiet)
    page = server.instance / "feedback" / "ana" / f"{MODULE_1}.html"
    assert page.exists()
    return page


def test_the_feedback_view_passes_axe_and_reflows_before_and_after_each_kind_of_widget_is_used(
        cohort, signed_in, feedback_for_ana):
    """Ana's Module 1 page with her returned feedback in it: the page, and the feedback document the frame
    shows, have no axe-core violations and nothing overflows 320 px; the same after she uses its widgets. The
    feedback is the course's own page, in its words: it was nbgrader's notebook, code and cell numbers too."""
    server, _ = cohort
    page = open_module(signed_in, server.url, f"{MODULE_1}.ipynb")
    try:
        frame = page.locator(".allies-feedback iframe")
        expect(frame).to_be_visible(timeout=SLOW)
        assert axe(page) == []
        assert overflowing(page) == []
        page.set_viewport_size({"width": 1280, "height": 900})
        assert interact(page)
        assert axe(page) == []
        assert overflowing(page) == []
    finally:
        page.close()
    alone = signed_in.browser.new_context(bypass_csp=True)  # (the page forbids scripts; axe is one)
    document = alone.new_page()
    try:  # what the frame shows, as a page of its own (axe cannot run inside a frame that runs no scripts)
        document.set_content(feedback_for_ana.read_text(encoding="utf-8"))
        expect(document.get_by_text(REFLECTIONS["m01-r1"])).to_be_attached()  # her words, as she wrote them
        assert axe(document) == []
        headings = document.evaluate("[...document.querySelectorAll('h1, h2, h3, h4')].map((h) => h.innerText)")
        assert headings and not [h for h in headings if h.strip().endswith("¶")], headings
        text = document.inner_text("body")
        assert "Your answer" in text and "Your reflection" in text and "Your score: 8 of 10 points" in text
        for code in ("knowledge_check(", "answer =", "In [", "Grade cell", "Error", "m01-q1", "Comments:"):
            assert code not in text, code  # the course's words, not nbgrader's notebook (outside trial)
        assert overflowing(document) == []
    finally:
        alone.close()


def test_on_a_phone_the_feedback_is_a_page_of_its_own_for_its_learner_alone(cohort, browser, feedback_for_ana):
    """On a phone, the feedback frame was a 36rem box scrolled inside the page, and its cells' headings
    overran nbgrader's 37 px. The head links to the feedback as a page of its own, sent as a sandbox that runs
    nothing, to the learner it is for and nobody else; the head's time is the learner's own."""
    server, codes = cohort
    address = f"{server.url}/allies/feedback/{MODULE_1}"
    phone = {"viewport": {"width": 360, "height": 740}, "timezone_id": "Asia/Kolkata", "locale": "en-GB"}
    context = signed_in_as(browser, server, "ana", codes["ana"], **phone)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/voila/render/{MODULE_1}.ipynb", timeout=SLOW)
        head = page.locator(".allies-feedback-head")
        expect(head).to_contain_text("8 of 10 points", timeout=SLOW)
        expect(head.locator("time")).to_contain_text("GMT+5:30")  # (the moment, said in India's time)
        expect(page.locator(".allies-feedback iframe")).to_be_hidden()
        with context.expect_page() as opened:
            head.get_by_role("link", name="Read it on a page of its own").click()
        own = opened.value
        own.wait_for_load_state()
        assert own.url == address and own.title() == "Your feedback: Module 1 — Why men, why now"
        expect(own.get_by_text("Your score: 8 of 10 points")).to_be_visible()
        response = context.request.get(address)
        policy = response.headers["content-security-policy"]
        assert response.ok and policy.startswith("sandbox;") and "script-src" not in policy, policy
        assert response.text() == feedback_for_ana.read_text(encoding="utf-8")
        assert "default-src 'none'" in policy and response.headers["cache-control"] == "no-store"
        assert "base-uri 'none'" in policy and "frame-ancestors 'self'" in policy  # (found by the attacker review)
        for other in (f"{address}x", f"{server.url}/allies/feedback/..%2Fana%2F{MODULE_1}",
                      f"{server.url}/allies/feedback/%2E%2E"):
            refused = context.request.get(other)  # (the last reaches no feedback address: the client resolves "..")
            assert refused.status == 404, other
            assert "/allies/feedback/" not in refused.url or refused.headers.get("cache-control") == "no-store"
    finally:
        context.close()
    ben = signed_in_as(browser, server, "ben", codes["ben"])
    try:  # Ana's feedback is hers alone
        theirs, own = ben.request.get(address), server.instance / "feedback" / "ben" / f"{MODULE_1}.html"
        if own.exists():  # Ben's own, if the hand-in of his walkthrough (same words as Ana's) was graded
            assert theirs.status == 200 and theirs.text() == own.read_text(encoding="utf-8")
        else:
            assert theirs.status == 404
        assert theirs.text() != feedback_for_ana.read_text(encoding="utf-8")
    finally:
        ben.close()
    nobody = browser.new_context()
    try:
        response = nobody.request.get(address, max_redirects=0)
        assert response.status in (302, 403) and "8 of 10" not in response.text()
    finally:
        nobody.close()


def test_the_index_links_feedback_ready_to_the_feedback_at_the_modules_foot(cohort, signed_in, feedback_for_ana):
    """"feedback ready" on the index was plain text: the learner had to open the module and scroll to its foot.
    It is a link there now, and the page, once its widgets are live, goes to the feedback and focuses it."""
    server, _ = cohort
    page = signed_in.new_page()
    try:
        page.goto(server.url + "/")
        line = page.locator(f'li[data-module="{MODULE_1}.ipynb"] .allies-progress')
        line.get_by_role("link", name="feedback ready").click(timeout=SLOW)
        expect(page.locator("body")).to_have_attribute("data-allies-page", "ready", timeout=SLOW)
        expect(page.locator("#feedback")).to_be_focused()
        expect(page.locator("#feedback")).to_be_in_viewport()
    finally:
        page.close()


def test_the_cohort_servers_log_has_no_line_that_says_nothing(cohort, signed_in):
    """An operator reads the log: it carried a blank "WARNING |" line each time a page's kernel connection
    closed, and the debugger's four-line warning about frozen modules from every forked kernel."""
    import time

    server, _ = cohort
    before = server.log.read_text().count("Kernel shutdown")
    open_module(signed_in, server.url, f"{MODULE_1}.ipynb").close()  # its kernel is shut down as it closes
    deadline = time.monotonic() + 60
    while server.log.read_text().count("Kernel shutdown") <= before:
        assert time.monotonic() < deadline, "the closed page's kernel was not shut down"
        time.sleep(0.2)
    log = server.log.read_text()
    assert "Kernel started" in log and not re.search(r"WARNING \| *$", log, re.M) and "frozen modules" not in log

"""Widgets and the checks behind them: bad input gets a clear message, never a traceback."""
import pytest
from hypothesis import given, strategies as st

from course.lesson import charts, keys, markup, validation, widgets

OPTIONS = {"a": "First", "b": "Second", "c": "Third"}
HOSTILE = ["", " ", "<img src=x onerror=alert(1)>", "\u202eevil", "x" * 1_000_000, "é😀", "\x00", "\ud800"]


@given(st.one_of(st.none(), st.text(), st.integers(), st.lists(st.text())))
def test_any_knowledge_check_answer_gets_a_message_not_an_error(answer):
    key, message = validation.choice(answer, OPTIONS)
    assert key in (None, *OPTIONS)
    assert message


@pytest.mark.parametrize("typed, expected", [("b", "b"), (" B ", "b"), ("(c)", "c"), ("ｂ", "b"),
                                             ("d", None), (None, None), (2, None)])
def test_knowledge_check_answers_are_normalised(typed, expected):
    assert validation.choice(typed, OPTIONS)[0] == expected


@given(st.text())
def test_any_reflection_gets_a_message_not_an_error(text):
    ok, message = validation.reflection(text)
    assert isinstance(ok, bool) and message


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_reflections_get_clear_messages(text):
    ok, message = validation.reflection(text)
    if len(text) > validation.MAX_REFLECTION_CHARS:
        assert not ok and "limit" in message and "nothing you wrote is deleted" in message
    if not text.strip():
        assert not ok and message == "Nothing written yet."


def test_learner_text_is_escaped_before_it_meets_html():
    assert "<img" not in validation.escaped("<img src=x onerror=alert(1)>")


def _displayed_html(monkeypatch) -> list[str]:
    """The HTML text the widgets module displays (outside IPython, `display` would print only a repr)."""
    shown: list[str] = []

    def display(*objects, **kwargs):
        for obj in objects:
            shown.append(obj.data if hasattr(obj, "data") else obj._repr_html_())

    monkeypatch.setattr(widgets, "display", display)
    return shown


@pytest.mark.parametrize("answer", HOSTILE + [None, 42])
def test_notebook_knowledge_check_shows_escaped_status(answer, monkeypatch):
    shown = _displayed_html(monkeypatch)
    hostile_options = {**OPTIONS, "d": "<script>alert(2)</script>"}
    widgets.knowledge_check("t-q1", answer, "Pick <b>one</b>", hostile_options)
    html = "".join(shown)
    assert html, "the knowledge check displayed nothing"
    assert "&lt;b&gt;one&lt;/b&gt;" in html and "<b>one</b>" not in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<img src=x" not in html and "Traceback" not in html


HOSTILE_KEY = keys.Key("b", "Because <img src=x onerror=alert(3)> & <script>alert(4)</script>")


def _assert_escaped(html: str) -> None:
    """No learner or course text in `html` became markup: the hostile pieces arrive as text only."""
    assert "<img src=x" not in html and "<script>" not in html and "<b>one</b>" not in html, html
    assert "Traceback" not in html


@pytest.mark.parametrize("answer", HOSTILE + [None, 42, "a"])
def test_notebook_knowledge_check_escapes_its_explanation(answer, monkeypatch):
    """In JupyterLab the check says at once why an answer misses: the explanation is course text, escaped."""
    monkeypatch.setattr(keys, "key_for", lambda item: HOSTILE_KEY)
    shown = _displayed_html(monkeypatch)
    widgets.knowledge_check("t-q1", answer, "Pick <b>one</b>", {**OPTIONS, "d": "<script>alert(2)</script>"})
    html = "".join(shown)
    assert "&lt;b&gt;one&lt;/b&gt;" in html and "&lt;script&gt;alert(2)" in html
    _assert_escaped(html)
    if validation.choice(answer, OPTIONS)[0] == "a":
        assert "&lt;img src=x onerror=alert(3)&gt;" in html


@pytest.mark.parametrize("typed", HOSTILE)
def test_website_knowledge_check_shows_escaped_question_status_and_explanation(typed, monkeypatch):
    """On the website the question is displayed as HTML above the radio buttons and the status line is an
    HTML widget: both are read as the browser gets them, for a hostile prompt, option, answer and key."""
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    monkeypatch.setattr(keys, "key_for", lambda item: HOSTILE_KEY)
    shown = _displayed_html(monkeypatch)
    box = widgets.knowledge_check("t-q1", None, "Pick <b>one</b>", {**OPTIONS, "d": "<script>alert(2)</script>"})
    question = "".join(shown)
    assert "&lt;b&gt;one&lt;/b&gt;" in question
    _assert_escaped(question)
    box.field.value = "a"  # a miss: the explanation is shown
    assert "&lt;img src=x onerror=alert(3)&gt;" in box.status.value and "&lt;script&gt;" in box.status.value
    _assert_escaped(box.status.value)
    status = widgets.check_feedback("t-q1", typed, OPTIONS)  # what a typed answer gets on the page
    assert 'role="status"' in status
    _assert_escaped(status)


@pytest.mark.parametrize("text", HOSTILE)
def test_website_reflection_box_reports_bad_input(text, monkeypatch):
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    box = widgets.reflection("t-r1")
    box.field.value = text
    status = box.status.value
    assert 'role="status"' in status and "<img src=x" not in status


def test_website_knowledge_check_records_a_choice(monkeypatch):
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    box = widgets.knowledge_check("t-q1", None, "Pick one", OPTIONS)
    box.field.value = "b"
    assert "Recorded: (b) Second" in box.status.value


def test_every_chart_has_alt_text_naming_its_values_and_a_source():
    chart = charts.bars(["Men", "Women"], [63, 49], title="Agree", source="Test source 2017")
    assert "Men: 63%" in chart.alt and "Women: 49%" in chart.alt
    assert 'alt="Bar chart, Agree.' in chart.html() and "Source: Test source 2017" in chart.html()
    assert chart.png.startswith(b"\x89PNG")


def _luminance(hex_colour):
    def channel(c):
        c = int(c, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(hex_colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_chart_colours_are_distinguishable_from_the_white_background():
    for colour in (charts.PALETTE["blue"], charts.PALETTE["vermillion"]):
        contrast = (1.05) / (_luminance(colour) + 0.05)
        assert contrast >= 3, f"{colour} contrast {contrast:.1f} below 3:1 for graphics"


def test_a_drawn_chart_is_reused_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))
    first = charts.bars(["A", "B"], [1, 2], title="Cached", source="S")
    assert len(list((tmp_path / "charts").glob("*.json"))) == 1
    assert charts.bars(["A", "B"], [1, 2], title="Cached", source="S") == first
    charts.bars(["A", "B"], [1, 3], title="Cached", source="S")
    assert len(list((tmp_path / "charts").glob("*.json"))) == 2


def test_charts_still_draw_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(blocker))
    assert charts.bars(["A"], [1], title="No cache", source="S").png.startswith(b"\x89PNG")


def test_web_addresses_in_course_text_become_links_and_nothing_else_does():
    text = "Lean In (2019). Women <b>in</b> the Workplace. https://example.org/report?a=1&b=2. javascript:alert(1)"
    html = validation.linked(text)
    assert ('<a href="https://example.org/report?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">'
            "https://example.org/report?a=1&amp;b=2</a>.") in html
    assert "&lt;b&gt;in&lt;/b&gt;" in html and "<b>" not in html and 'href="javascript' not in html
    assert validation.linked("no address here") == "no address here"
    chart = charts.bars(["A"], [1], title="Linked", source="Someone (2020). https://example.org/x")
    assert '<a href="https://example.org/x"' in chart.html()


def test_an_explorer_draws_only_the_chosen_view_then_each_view_when_first_chosen():
    drawn = []

    def draw(colour, size):
        drawn.append((colour, size))
        return charts.bars(["A"], [1], title=f"{colour} {size}", source="S"), f"Reading {colour} {size}."

    colour, size = widgets.choices(["red", "blue"]), widgets.choices(["small", "big", "huge"], "big")
    explorer = widgets.explorer_grid([("Colour", colour), ("Size", size)], draw)
    assert drawn == [("red", "big")], "only the view shown at the start is drawn with the page"
    shown = explorer.views.children[0].children[1]
    assert "Reading red big." in shown.value and explorer.views.children[0].selected_index == 1
    assert explorer.views.children[1].children[1].value == widgets.Explorer.PENDING
    colour.value = "blue"
    assert drawn == [("red", "big"), ("blue", "big")]
    assert "Reading blue big." in explorer.views.children[1].children[1].value
    colour.value = "red"
    assert len(drawn) == 2, "a view drawn once is kept, not drawn again"
    views = explorer.every_view()
    assert len(drawn) == 6 and len(views) == 6 and "Reading blue huge." in views[-1]


def test_status_lines_and_tables_escape_every_text_and_style_by_class_alone():
    """One helper for status lines and tables (course/lesson/markup.py): text escaped, no inline style, and
    the classes it uses are in the stylesheet the site links and a notebook in JupyterLab brings."""
    hostile = '<img src=x onerror="alert(1)">'
    problem = markup.status(hostile, ok=False)
    assert "<img" not in problem and "allies-problem" in problem and "style=" not in problem
    grid = markup.table(hostile, [hostile, "b"], [[hostile, "1"]])
    assert "<img" not in grid and "style=" not in grid and 'scope="row"' in grid and "<caption>" in grid
    css = markup.STYLESHEET.read_text(encoding="utf-8")
    for name in ("allies-status", "allies-problem", "allies-table", "allies-table-scroll", "allies-nowrap"):
        assert f".{name}" in css, name
    assert css in markup.style()


def test_answer_widgets_keep_answers_with_whatever_they_are_given_and_say_when_nothing_is():
    """Saving is given to the widgets (`answer_with`); they do not reach for the session themselves."""
    import threading
    import subprocess
    import sys

    class Kept:
        store_path, learner, instance, ready = "kept", "ana", None, threading.Event()

        def __init__(self):
            self.bound = []

        def bind(self, item, widget, show, typed=True):
            self.bound.append((item, typed))
            show("Kept here.", True)

    kept = Kept()
    widgets.answer_with(lambda: kept)
    box = widgets.AnswerBox("m01-r1", widgets.FreeText(), validation.reflection)
    assert kept.bound == [("m01-r1", True)] and "Kept here." in box.saved.value
    probe = ("import sys; from course.lesson import widgets; print('course.lesson.session' in sys.modules); "
             "widgets.AnswerBox('m01-r1', widgets.FreeText(), lambda v: (True, ''))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False"  # importing the widgets loads no session
    assert "nowhere to keep answers" in done.stderr


def test_the_feedback_head_says_the_score_and_when_as_grading_wrote_them():
    from course.lesson.widgets import feedback_html

    head = feedback_html("<p>page</p>", {"score": 8, "max_score": 10, "submitted_at": "2026-12-01T10:00:00.5Z"},
                         "01-why-men-why-now")
    assert ('on your submission of <time class="allies-utc" datetime="2026-12-01T10:00Z">2026-12-01 10:00 UTC</time>'
            ": 8 of 10 points so far.") in head
    assert 'href="../../allies/feedback/01-why-men-why-now"' in head


@pytest.mark.parametrize("about", [
    {"score": 10**400, "max_score": 10}, {"score": float("nan"), "max_score": 10}, {"score": 8, "max_score": float("inf")},
    {"score": True, "max_score": 10}, {"score": 8, "max_score": -1e308}, {"score": "8", "max_score": 10},
    {"submitted_at": "0001-01-01T00:00:00+14:00"}, {"submitted_at": "9999-12-31T23:59:59-14:00"},
    {"submitted_at": "<script>alert(1)</script>"}, {"submitted_at": 20261201}, {}])
def test_the_feedback_head_leaves_out_what_grading_could_not_have_written(about):
    """A feedback file's .json with numbers no score can be (10**400 failed the whole cell, and Submit with it)
    or a moment no clock can show: the head says neither, and the page still shows the feedback."""
    from course.lesson.widgets import feedback_html

    head = feedback_html("<p>the feedback</p>", about, "01-why-men-why-now")
    assert head.startswith('<p class="allies-feedback-head" id="feedback" tabindex="-1"><b>Your feedback</b>. ')
    assert "&lt;p&gt;the feedback&lt;/p&gt;" in head and "<script" not in head


def test_submit_is_shown_first_without_the_feedback_a_learner_has_back(tmp_path, monkeypatch):
    """On a cohort's site the page as sent shows Submit as it is before any feedback: a kernel started for a
    learner whose feedback is back already holds it, and a first view never shows a learner's own work."""
    import re
    import threading

    from course import contract

    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    monkeypatch.setenv(contract.SITE_ENV, contract.COHORT)
    module = "01-why-men-why-now"

    class Learner:
        learner, instance, ready = "ana", str(tmp_path), threading.Event()

    Learner.ready.set()
    widgets.answer_with(Learner)

    def views():
        shown = widgets.submit_module(module)
        return shown, re.sub(r"allies-first-[0-9a-f]+", "", shown.first_view())

    _, before = views()
    folder = tmp_path / contract.FEEDBACK_FOLDER / "ana"
    folder.mkdir(parents=True)
    (folder / f"{module}.html").write_text("<p>Ana's feedback: well argued.</p>", encoding="utf-8")
    shown, after = views()
    assert "Ana&#x27;s feedback" in shown.children[1].value  # the live widget shows it
    assert after == before and "well argued" not in after and "<iframe" not in after
    assert "<button" in after and "Submit this module for grading" in after

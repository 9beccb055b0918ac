"""The self-paced website's copy of a learner's answers, and how each path says to answer: the copy holds
every question with the learner's answer, escaped, and runs nothing; each path's directions are its own."""
import pytest
from conftest import ROOT

from course.lesson import answers_copy, widgets
from course import contract
from course.lesson.submissions import read

NOTEBOOK = read(ROOT / "modules" / "01-why-men-why-now.ipynb")


def test_the_copy_lists_each_question_with_the_answer_given_escaped():
    hostile = "<script>alert(1)</script> & \"quotes\"\nsecond line"
    page = answers_copy.page("Module 1", NOTEBOOK, {"m01-q2": "c", "m01-r1": hostile}, "today")
    assert "What did the BCG comparison actually measure?" in page and "<dd>(c) " in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;<br>second line" in page
    assert "<script>" not in page and "default-src 'none'" in page
    assert "Reflection 1 — Who was in the room?" in page  # a reflection is named by its prompt's heading
    assert page.count(answers_copy.NOT_ANSWERED) == 4  # three checks and one reflection left blank


def test_a_letter_that_is_not_an_option_is_shown_as_not_answered():
    page = answers_copy.page("Module 1", NOTEBOOK, {"m01-q1": "<b>z</b>"}, "today")
    assert "&lt;b&gt;" not in page and "<b>z" not in page and page.count(answers_copy.NOT_ANSWERED) == 6


@pytest.mark.parametrize("env, says, never", [
    ({}, "Run each cell in order", "sign-in"),
    ({"VOILA_KERNEL_ID": "k", contract.SITE_ENV: contract.SELF_PACED}, "saved on this computer", "graders"),
    ({"VOILA_KERNEL_ID": "k", contract.SITE_ENV: contract.SELF_PACED, contract.KEPT_ENV: contract.FOR_THE_SESSION},
     "deleted with it when the session ends", "this computer"),
    ({"VOILA_KERNEL_ID": "k", contract.SITE_ENV: contract.COHORT}, "under your sign-in", "Shift + Enter"),
])
def test_each_path_says_how_to_answer_in_its_own_words(monkeypatch, env, says, never):
    for name in ("VOILA_KERNEL_ID", "VOILA_PREHEAT", "VOILA_APP_PORT", "VOILA_BASE_URL", contract.SITE_ENV,
                 contract.KEPT_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shown = widgets.how_to_answer().data
    assert says in shown and never not in shown


def test_the_copy_keeps_every_other_answer_saved_from_the_page_labelled_as_on_the_page():
    """Module 6's copy once left out the action plan the learner had saved: every answer with a field on the
    page is in it, labelled as the field is, a chosen option by its words."""
    from course.lesson.figures import leading

    builder = leading.PlanBuilder()
    fields = {box.item: box.field for box in _answer_boxes(builder)}
    assert "m06-plan-step1" in fields and "m06-plan-action1" in fields
    first = leading.actions()[0]
    saved = {"m06-plan-action1": first["id"], "m06-plan-step1": "Ask <b>Priya</b> to lead the review",
             "m06-plan-partner": "", "m06-r1": "A reflection."}
    page = answers_copy.page("Module 6", read(ROOT / "modules" / "06-from-learning-to-leading.ipynb"), saved,
                             "today", fields)
    assert "<h2>Your other answers on this page</h2>" in page
    assert f"<dt>Action 1</dt><dd>{first['action']}</dd>" in page
    assert "<dt>First step</dt><dd>Ask &lt;b&gt;Priya&lt;/b&gt; to lead the review</dd>" in page
    assert "Partner" not in page  # (a blank answer is not listed)
    assert page.count("A reflection.") == 1  # (listed once, with the reflections)


def _answer_boxes(widget):
    if isinstance(widget, widgets.AnswerBox):
        yield widget
    for child in getattr(widget, "children", ()):
        yield from _answer_boxes(child)

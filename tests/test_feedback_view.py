"""The returned feedback as the course's own page (`course.grading.feedback_view`): the learner's choices and
words, the points, why a check missed and the grader's comment, and nothing of the notebook's code."""
import copy
import json

from conftest import ROOT

from course.grading.feedback_view import NOT_GRADED, Mark, page
from course.grading.inert import inert_markdown
from course.lesson.answers_copy import NOT_ANSWERED
from course.lesson.submissions import fill

MODULE = "01-why-men-why-now"
RELEASE = json.loads((ROOT / "modules" / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
HOSTILE = "<script>alert(1)</script> & <img src=x onerror=alert(2)>\nsecond line"


def graded(answers: dict[str, str], missed: dict[str, str]) -> dict:
    """The notebook as autograde leaves it: the answers in, reflections made inert, a missed check's error."""
    nb = fill(copy.deepcopy(RELEASE), answers)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "markdown" and meta.get("solution"):
            cell["source"] = inert_markdown("".join(cell["source"]))
        if meta.get("grade_id") in missed:
            cell["outputs"] = [{"output_type": "error", "ename": "AssertionError", "evalue": missed[meta["grade_id"]],
                                "traceback": ["Traceback (most recent call last)", "AssertionError: …"]}]
    return nb


def test_the_page_says_what_was_chosen_and_written_the_points_why_and_the_graders_words():
    nb = graded({"m01-q1": "b", "m01-q2": "a", "m01-r1": HOSTILE},
                {"m01-q2-check": "BCG surveyed employees <b>only</b>."})
    marks = {"m01-q1-check": Mark(1, 1), "m01-q2-check": Mark(0, 1), "m01-q3-check": Mark(0, 1),
             "m01-r1": Mark(2, 3, "Specific & <i>honest</i>."), "m01-r2": Mark(None, 3, "No response.")}
    shown = page("Module 1 — Why men, why now", nb, RELEASE, marks, 3, 10)
    assert "<title>Your feedback: Module 1 — Why men, why now</title>" in shown
    assert "Your score: 3 of 10 points" in shown
    assert "Which statement fits the Fortune 500 figures from 1998 to 2025?" in shown
    assert "<dd>(b) More women lead these companies than in 1998" in shown and "<dd>Right.</dd>" in shown
    assert "<dt>Why</dt><dd>BCG surveyed employees &lt;b&gt;only&lt;/b&gt;.</dd>" in shown  # a miss says why
    assert shown.count(f'<span class="empty">{NOT_ANSWERED}</span>') == 3  # checks 3 and 4, reflection 2
    assert ("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;<br>second line"
            in shown)  # her words, as she wrote them, as text
    assert "<dt>Your grader's comment</dt><dd>Specific &amp; &lt;i&gt;honest&lt;/i&gt;.</dd>" in shown
    assert f"{NOT_GRADED} (out of 3)" in shown and "No response." not in shown
    for code in ("knowledge_check", "answer =", "Traceback", "AssertionError", "m01-q", "allies-learner-text"):
        assert code not in shown, code
    assert "<script" not in shown.replace("&lt;script", "") and "default-src 'none'" in shown


def test_a_letter_is_read_as_grading_reads_it_and_a_changed_cell_says_why_it_scored_nothing():
    """"B" and "(c)" score as b and c, so the page says so (it once said "Not answered"); a letter that is no
    option is shown as written; a check whose answer cell was changed scored 0 for that, which its comment
    says, not "Not the best answer" (outside trial)."""
    nb = graded({"m01-q1": "B", "m01-q2": "(c)", "m01-q3": "a", "m01-q4": "z"}, {})
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "m01-q3":
            cell["source"] = "".join(cell["source"]).replace("answer = 'a'", "answer = 'a'; import os")
    changed = "This check scored 0 because its answer cell held more than the answer line."
    marks = {"m01-q1-check": Mark(1, 1), "m01-q2-check": Mark(1, 1), "m01-q3-check": Mark(0, 1, changed),
             "m01-q4-check": Mark(0, 1), "m01-r1": Mark(None, 3), "m01-r2": Mark(None, 3)}
    shown = page("Module 1", nb, RELEASE, marks, 2, 10)
    assert shown.count("<dd>Right.</dd>") == 2 and "<dd>(b) More women lead" in shown and "<dd>(c) " in shown
    assert "<dd>z (not one of the options)</dd>" in shown
    assert f"<dt>Why</dt><dd>{changed}</dd>" in shown and shown.count("Not the best answer") == 1  # q4 only
    assert "Your score: 2 of 10 points so far" in shown  # reflections not graded yet

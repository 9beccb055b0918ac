"""The feedback page a cohort's learner reads on the website: the course's own page, in the course's words.

It is built from the autograded notebook and the gradebook: each knowledge check (its question, the option
the learner chose, the points, and why, when the answer missed) and each reflection (its prompt's heading,
the learner's text, the points and the grader's comment). nbgrader's own feedback page, which JupyterLab
learners still fetch, shows the notebook itself: its code, cell numbers, grade ids and exception names.
Every piece of learner and grader text is escaped; the page runs nothing (`course.lesson.keepsake`).
"""
from __future__ import annotations

import ast
import html
from dataclasses import dataclass

from course.contract import CODE_STUB
from course.grading.inert import learner_text
from course.lesson import keepsake
from course.lesson.answers_copy import text_html
from course.lesson.submissions import answer_cells, cell_source, check_question, headings
from course.lesson.validation import letter

STYLE = """
body { font: 17px/1.55 system-ui, sans-serif; color: #1f1f1f; max-width: 42rem; margin: 1.5rem auto; padding: 0 1rem;
  overflow-wrap: break-word; }
h1 { font-size: 1.6rem; line-height: 1.25; } h2 { font-size: 1.2rem; margin: 2rem 0 0.4rem; }
.score { font-size: 1.15rem; font-weight: 600; } .question { margin: 0.2rem 0; }
dt { font-weight: 600; margin-top: 0.7rem; } dd { margin: 0.2rem 0 0 0; white-space: pre-wrap; }
.empty { font-style: italic; color: #4a4a4a; } footer { margin: 2rem 0; font-size: 0.9rem; color: #4a4a4a; }
""".strip()
NOT_GRADED = "not graded yet"
NO_RESPONSE = "No response."  # nbgrader's automatic comment on an answer cell left as it was released


@dataclass(frozen=True)
class Mark:
    """One graded cell's points (None: not graded yet) and the grader's comment on its answer ('' if none)."""
    score: float | None
    max_score: float
    comment: str = ""


def _points(mark: Mark | None) -> str:
    if mark is None:
        return ""
    if mark.score is None:
        return f"<dt>Points</dt><dd>{NOT_GRADED} (out of {mark.max_score:g})</dd>"
    return f"<dt>Points</dt><dd>{mark.score:g} of {mark.max_score:g}</dd>"


def _chosen(source: str) -> str | None:
    """The letter a knowledge-check cell's `answer = '…'` line holds, as grading reads it ("B" and "(b)" are
    "b"; None: left as released, or unreadable)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["answer"]
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return letter(node.value.value)
    return None


def _why_missed(test_cell: dict | None) -> str:
    """The explanation a check's test gave when the answer missed (its assertion's message), or ''."""
    for output in (test_cell or {}).get("outputs", []):
        if output.get("output_type") == "error" and output.get("ename") == "AssertionError":
            return output.get("evalue", "")
    return ""


def _check(heading: str, cell: dict, test: dict | None, mark: Mark | None) -> str:
    source = cell_source(cell)
    question, options = check_question(source)
    chosen = None if CODE_STUB in source.split("\n") else _chosen(source)
    shown = f"({chosen}) {options[chosen]}" if chosen in options else (
        None if chosen is None else f"{chosen} (not one of the options)")
    graded = mark is not None and mark.score is not None
    right = graded and mark.score >= mark.max_score
    # Why it missed: the grader's word on the cell if there is one (a changed answer cell, say), else the check's.
    comment = mark.comment if mark and mark.comment != NO_RESPONSE else ""
    why = "" if right else (comment.strip() or _why_missed(test))
    verdict = ("" if shown is None or not graded or (comment.strip() and not right)
               else "<dt>Result</dt><dd>Right.</dd>" if right else "<dt>Result</dt><dd>Not the best answer.</dd>")
    return (f"<section><h2>{html.escape(heading or 'Knowledge check')}</h2>"
            f'<p class="question">{html.escape(question)}</p>'
            f"<dl><dt>Your answer</dt><dd>{text_html(shown)}</dd>{verdict}{_points(mark)}"
            + (f"<dt>Why</dt><dd>{text_html(why)}</dd>" if why else "") + "</dl></section>")


def _reflection(heading: str, cell: dict, released: str, mark: Mark | None) -> str:
    text = learner_text(cell_source(cell))  # (autograde made it one escaped block: `course.grading.inert`)
    comment = mark.comment if mark and mark.comment != NO_RESPONSE else ""
    return (f"<section><h2>{html.escape(heading or 'Reflection')}</h2>"
            f"<dl><dt>Your reflection</dt><dd>{text_html(None if text == released else text)}</dd>{_points(mark)}"
            + (f"<dt>Your grader's comment</dt><dd>{text_html(comment)}</dd>" if comment.strip() else "")
            + "</dl></section>")


def page(title: str, graded_nb: dict, release_nb: dict, marks: dict[str, Mark], score: float,
         max_score: float) -> str:
    """The feedback page on the module `title`: `graded_nb` is the learner's autograded notebook, `release_nb`
    the notebook as released (what an unanswered cell holds), `marks` each graded cell's by its grade id (a
    check's by its test cell's, with the comment on its answer cell)."""
    kinds, released = answer_cells(graded_nb), {
        cell["metadata"]["nbgrader"]["grade_id"]: cell_source(cell) for cell in release_nb["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}
    tests = {cell["metadata"]["nbgrader"]["grade_id"]: cell for cell in graded_nb["cells"]
             if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell["cell_type"] == "code"}
    parts, named = [], headings(graded_nb)
    for cell in graded_nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id not in kinds:
            continue
        if kinds[grade_id] == "code":
            check = f"{grade_id}-check"
            parts.append(_check(named[grade_id], cell, tests.get(check), marks.get(check)))
        else:
            parts.append(_reflection(named[grade_id], cell, released.get(grade_id, ""), marks.get(grade_id)))
    pending = any(mark.score is None for mark in marks.values())
    body = (f"<h1>Your feedback: {html.escape(title)}</h1>"
            f'<p class="score">Your score: {score:g} of {max_score:g} points{" so far" if pending else ""}</p>'
            + "".join(parts))
    return keepsake.page(f"Your feedback: {title}", body, STYLE,
                         "From your facilitator, through the Allies in Tech course. Only you and your graders see it.")

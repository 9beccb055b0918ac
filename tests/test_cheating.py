"""Grades no learner can forge: every named cheat (tests/cheats.py) graded in one run beside honest controls,
with the real nbgrader, the real sandbox and `instructor collect/autograde/feedback/export`.

Knowledge checks are scored from the text of the answer cells (course/grading/scoring.py), so every cheat scores 0,
a cheat that changes an answer cell is flagged for the instructor (formgrader comment, export column) and told
why in its feedback, and honest answers, however they are written, score exactly what they earned."""
import csv
import json

import pytest
from nbgrader.api import Gradebook

from cheats import CHANGES_ANSWER_CELLS, CHEATS, cheat
from conftest import ROOT, correct_answers
from course.grading import autograding, collecting, feedback, grades, instructor, scoring
from course.grading.settings import COURSE_ID
from course.lesson.submissions import fill, to_exchange

MODULE = "01-why-men-why-now"
RIGHT = correct_answers(MODULE, checks_only=True)
CHECKS = sorted(RIGHT)
WRONG = {q: next(x for x in "abcd" if x != RIGHT[q]) for q in CHECKS}


def _written(nb: dict, how) -> dict:
    """Rewrite each answer line `answer = 'x'` as `how(letter)`."""
    for cell in nb["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        lines = source.split("\n") if cell["cell_type"] == "code" else []
        for i, line in enumerate(lines):
            if line.startswith("answer = '"):
                lines[i] = how(line[len("answer = '"):-1])
        if lines:
            cell["source"] = "\n".join(lines)
    return nb


HONEST = {  # learner -> (letters, how each answer line is written, expected score)
    "honest-all-right": (RIGHT, None, 4),
    "honest-none-right": (WRONG, None, 0),
    "honest-two-right": ({**RIGHT, "m01-q1": WRONG["m01-q1"], "m01-q2": WRONG["m01-q2"]}, None, 2),
    "honest-capitals-and-comment": (RIGHT, lambda x: f'answer = "{x.upper()}"  # my choice', 4),
    "honest-brackets": (RIGHT, lambda x: f"answer = '({x})'", 4),
    "honest-unanswered": ({}, None, 0),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("cheating") / "course"
    instructor.init(root, modules=[MODULE], cell_timeout=30, notebook_timeout=120, check=False,
                    log=lambda *a: None)
    release = json.loads((root / "release" / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    for name in CHEATS:
        to_exchange(root / "exchange", COURSE_ID, name, MODULE, cheat(name, fill(release, WRONG)))
    for name, (letters, how, _) in HONEST.items():
        nb = fill(release, letters)
        to_exchange(root / "exchange", COURSE_ID, name, MODULE, _written(nb, how) if how else nb)
    collecting.collect(root, log=lambda *a: None)
    results = autograding.autograde(root, jobs=2, log=lambda *a: None)
    feedback.feedback(root, log=lambda *a: None)
    out = root.parent / "grades.csv"
    grades.export(root, out)
    with open(out, encoding="utf-8", newline="") as fh:
        rows = {r["learner_id"]: r for r in csv.DictReader(fh)}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        scores = {s.student.id: s.code_score for s in gb.find_assignment(MODULE).submissions}
        comments = {s.student.id: {c.name: c.auto_comment for nb in s.notebooks for c in nb.comments}
                    for s in gb.find_assignment(MODULE).submissions}
    return {"root": root, "results": {r.learner: r for r in results}, "rows": rows, "scores": scores,
            "comments": comments, "export": out}


def test_there_are_at_least_twelve_named_cheats():
    assert len(CHEATS) >= 12


def test_every_submission_is_graded(graded):
    assert {k for k, r in graded["results"].items() if not r.ok} == set()
    assert set(graded["scores"]) == set(CHEATS) | set(HONEST)


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_a_cheat_scores_zero(graded, name):
    assert graded["scores"][name] == 0
    assert graded["rows"][name]["needs_manual_grade"] == "False"


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_answers_score_exactly_what_they_earned(graded, name):
    assert graded["scores"][name] == HONEST[name][2]
    assert graded["rows"][name]["answer_cells_changed"] == ""


@pytest.mark.parametrize("name", sorted(CHANGES_ANSWER_CELLS))
def test_a_changed_answer_cell_is_flagged_for_the_instructor(graded, name):
    assert graded["rows"][name]["answer_cells_changed"] != ""
    flagged = graded["rows"][name]["answer_cells_changed"].split()
    assert all(graded["comments"][name][cell].startswith(scoring.CHANGED) for cell in flagged)


def test_the_learner_is_told_why_in_the_feedback(graded):
    page = (graded["root"] / "feedback" / "replaced-letter-function" / MODULE / f"{MODULE}.html").read_text()
    assert "answer cell held more than the answer line" in page
    honest = (graded["root"] / "feedback" / "honest-all-right" / MODULE / f"{MODULE}.html").read_text()
    assert "answer cell held more" not in honest


def test_feedback_shows_no_output_of_the_learners_code(graded):
    """A learner's code can capture the hidden tests as they run; the feedback shows only the checks' results."""
    page = (graded["root"] / "feedback" / "captures-hidden-tests-for-feedback" / MODULE / f"{MODULE}.html")
    assert "assert letter" not in page.read_text() and "letter(answer) ==" not in page.read_text()


def test_the_export_is_private_to_the_instructor(graded):
    assert oct(graded["export"].stat().st_mode & 0o777) == "0o600"


def test_every_hidden_test_key_matches_its_solution():
    """The grader reads the key from the hidden test; the dashboard and the tests from the solution cell."""
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        answers = correct_answers(path.stem, checks_only=True)
        keys = {c["metadata"]["nbgrader"]["grade_id"].removesuffix("-check"): scoring.key_of("".join(c["source"]))
                for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id", "").endswith("-check")}
        assert set(keys) == set(answers), path.name
        for item, key in keys.items():
            assert key is not None and key.letter == answers[item] and key.explanation, (path.name, item)


@pytest.mark.parametrize("submitted, ok, answer", [
    ('answer = "b"\nknowledge_check("q", answer)', True, "b"),
    ("answer = 'B'  # mine\n\nknowledge_check('q', answer)", True, "B"),
    ('answer = None\nknowledge_check("q", answer)', True, None),
    ('answer = "b".lower()\nknowledge_check("q", answer)', False, None),
    ('answer = "b"\nanswer = "c"\nknowledge_check("q", answer)', False, None),
    ('import os\nanswer = "b"\nknowledge_check("q", answer)', False, None),
    ('answer = "b"', False, None),
    ('answer = "b"\nknowledge_check("q", answer, cheat=1)', False, None),
    ('answer = "b"\nknowledge_check("q", answer', False, None),
    ('answer = b"b"\nknowledge_check("q", answer)', False, None),
])
def test_an_answer_cell_is_read_as_released_plus_one_literal(submitted, ok, answer):
    released = 'answer = None  # put the letter here\nknowledge_check("q", answer)'
    assert scoring.answer_of(submitted, released) == (ok, answer)

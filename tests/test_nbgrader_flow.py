"""The real nbgrader round trip for Module 1: release, three simulated learners, autograde, a manual
grade, feedback. One module-scoped course directory; every step runs the `nbgrader` command line."""
import ast
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from course.grading.settings import CODE_STUB, COURSE_ID, TEXT_STUB, config_file
from course.lesson.submissions import fill, write_submission
from conftest import ROOT

NAME = "01-why-men-why-now"
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
RIGHT = {"m01-q1": "b", "m01-q2": "c", "m01-q3": "a", "m01-q4": "d"}
WRONG = {"m01-q1": "a", "m01-q2": "a", "m01-q3": "b", "m01-q4": "a"}
REFLECTIONS = {"m01-r1": "Three senior men chose the payments lead; I will ask who else did the work.",
               "m01-r2": "Learning: I pair new joiners with reviewers; next, I will call out interruptions."}
# nbgrader's cheat-test style: the answers are all wrong, and locked cells are edited to win anyway.
TAMPERED = {
    "m01-c00": "# Module 1 — (edited by the learner)",
    "m01-c01": ("from course.lesson import figures\nfrom course.lesson.widgets import knowledge_check, reflection\n"
                "import course.lesson.validation\n"
                "course.lesson.validation.letter = lambda a: type('Any', (), {'__eq__': lambda s, o: True,"
                " '__hash__': lambda s: 0})()"),
    "m01-q1-check": "pass",
}
MANUAL = {"m01-r1": 2, "m01-r2": 3}  # given to partly-correct by a grader
CHECKSUM_WARNING = re.compile(r"Attribute 'checksum' for cell (\S+) has changed! \(should be: \w+, got: (\w+)\)")


def nbgrader(root: Path, *args: str) -> str:
    """Run an nbgrader command in the course directory; return its log."""
    done = subprocess.run([NBGRADER, *args], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


def _grade_id(cell):
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def _cell(nb, grade_id):
    return next(c for c in nb["cells"] if _grade_id(c) == grade_id)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course directory taken through generate_assignment, autograde (one run per learner, so each
    log is the learner's own), a manual grade for partly-correct, and generate_feedback."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(config_file(), encoding="utf-8")
    (root / "source" / NAME).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{NAME}.ipynb", root / "source" / NAME)
    generate_log = nbgrader(root, "generate_assignment", NAME)
    for learner in ("all-correct", "partly-correct", "locked-cell-changed"):
        nbgrader(root, "db", "student", "add", learner)

    release = json.loads((root / "release" / NAME / f"{NAME}.ipynb").read_text(encoding="utf-8"))
    tampered = fill(release, WRONG)
    for cell in tampered["cells"]:
        cell["source"] = TAMPERED.get(_grade_id(cell), cell["source"])
    submissions = {
        "all-correct": fill(release, {**RIGHT, **REFLECTIONS}),
        "partly-correct": fill(release, {**RIGHT, "m01-q1": " (B) ", "m01-q3": "b", "m01-q4": "a", **REFLECTIONS}),
        "locked-cell-changed": tampered,
    }
    logs = {}
    for learner, nb in submissions.items():
        write_submission(root, learner, NAME, NAME, nb)
        logs[learner] = nbgrader(root, "autograde", NAME, f"--student={learner}")

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        for grade_id, points in MANUAL.items():
            grade = gb.find_grade(grade_id, NAME, NAME, "partly-correct")
            # As the formgrader does: the gradebook does not clear the flag when a score is set.
            grade.manual_score, grade.needs_manual_grade = points, False
        gb.db.commit()
    nbgrader(root, "generate_feedback", NAME)
    return {"root": root, "release": release, "generate_log": generate_log, "autograde_logs": logs}


def grades(course, learner):
    """The learner's submission from the gradebook: totals and each graded cell, as plain values."""
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        sub = gb.find_submission(NAME, learner)
        cells = {g.name: {"auto": g.auto_score, "manual": g.manual_score, "max": g.max_score,
                          "needs_manual_grade": g.needs_manual_grade}
                 for nb in sub.notebooks for g in nb.grades}
        return {"score": sub.score, "code_score": sub.code_score, "max": sub.max_score,
                "needs_manual_grade": sub.needs_manual_grade, "cells": cells}


def tampered_cells(course, learner):
    """Locked cells whose submitted checksum differs from the released one, read from autograde's log.

    nbgrader warns about every hidden-test cell of every submission (the release copy lacks the hidden
    tests, so its checksum never matches the source); only a checksum unlike the release's is tampering."""
    released = {_grade_id(c): c["metadata"]["nbgrader"]["checksum"] for c in course["release"]["cells"]}
    return {cell for cell, got in CHECKSUM_WARNING.findall(course["autograde_logs"][learner])
            if got != released[cell]}


def feedback_text(course, learner):
    """The text a learner reads in the feedback page, tags removed and entities decoded."""
    page = (course["root"] / "feedback" / learner / NAME / f"{NAME}.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def failure_message(grade_id):
    """The explanation a hidden test gives when it fails, read from the solutions notebook."""
    nb = json.loads((ROOT / "solutions" / f"{NAME}.ipynb").read_text(encoding="utf-8"))
    source = "".join(_cell(nb, grade_id)["source"])
    check = next(node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assert))
    return ast.literal_eval(check.msg)


def test_course_nbgrader_config_is_loaded_by_the_command_line(course):
    assert "ERROR" not in course["generate_log"]
    assert CODE_STUB in "".join(_cell(course["release"], "m01-q1")["source"])
    assert "".join(_cell(course["release"], "m01-r1")["source"]) == TEXT_STUB
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        assert gb.find_assignment(NAME).course_id == COURSE_ID


@pytest.mark.parametrize("learner, score", [("all-correct", 4), ("partly-correct", 2), ("locked-cell-changed", 0)])
def test_autograde_scores_only_right_answers(course, learner, score):
    assert grades(course, learner)["code_score"] == score


def test_a_letter_in_brackets_with_spaces_counts_as_that_letter(course):
    assert grades(course, "partly-correct")["cells"]["m01-q1-check"]["auto"] == 1


def test_edited_locked_cells_are_restored_before_grading(course):
    # Unrestored, the `pass` test cell would pass and the patched `letter` would accept any answer.
    cells = grades(course, "locked-cell-changed")["cells"]
    assert [cells[f"m01-q{n}-check"]["auto"] for n in range(1, 5)] == [0, 0, 0, 0]


def test_autograde_logs_each_edited_locked_cell(course):
    assert tampered_cells(course, "locked-cell-changed") == set(TAMPERED)
    assert tampered_cells(course, "all-correct") == tampered_cells(course, "partly-correct") == set()


def test_written_reflections_wait_for_a_grader(course):
    result = grades(course, "all-correct")
    assert result["needs_manual_grade"]
    for grade_id in REFLECTIONS:
        assert result["cells"][grade_id] == {"auto": None, "manual": None, "max": 3, "needs_manual_grade": True}


def test_an_untouched_reflection_scores_zero_without_a_grader(course):
    cells = grades(course, "locked-cell-changed")["cells"]
    assert [cells[r]["auto"] for r in REFLECTIONS] == [0, 0]
    assert not any(cells[r]["needs_manual_grade"] for r in REFLECTIONS)


def test_manual_grades_add_to_the_autograded_score(course):
    result = grades(course, "partly-correct")
    assert (result["score"], result["max"], result["needs_manual_grade"]) == (2 + sum(MANUAL.values()), 10, False)


@pytest.mark.parametrize("learner, score", [("all-correct", 4), ("partly-correct", 7), ("locked-cell-changed", 0)])
def test_feedback_shows_the_learners_score(course, learner, score):
    assert f"{NAME} (Score: {score:.1f} / 10.0)" in feedback_text(course, learner)


def test_feedback_explains_a_failed_check(course):
    message = " ".join(failure_message("m01-q3-check").split())
    assert message in " ".join(feedback_text(course, "partly-correct").split())


@pytest.mark.parametrize("learner", ["partly-correct", "locked-cell-changed"])
def test_feedback_shows_no_hidden_test_source(course, learner):
    text = feedback_text(course, learner)
    for leak in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "assert letter(answer) =="):
        assert leak not in text

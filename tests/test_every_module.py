"""Every module takes the whole grading path: released by nbgrader, a fully correct submission autogrades
in full, reflections wait for a grader, and feedback never shows a hidden test."""
import json
import shutil

import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI

from course.grading import release
from course.grading.settings import COURSE_ID, config
from course.lesson.submissions import answer_cells, fill, write_submission
from conftest import ROOT, correct_answers

MODULES = release.module_names()
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every module released, submitted fully correct by one learner, autograded and fed back."""
    root = tmp_path_factory.mktemp("every-module")
    api = NbGraderAPI(config=config(root))
    for name in MODULES:
        (root / "source" / name).mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", root / "source" / name)
        assert api.generate_assignment(name)["success"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        gb.add_student("learner")
    for name in MODULES:
        released = json.loads((root / "release" / name / f"{name}.ipynb").read_text(encoding="utf-8"))
        write_submission(root, "learner", name, name, fill(released, correct_answers(name)))
        result = api.autograde(name, "learner")
        assert result["success"], result["log"]
        assert api.generate_feedback(name, "learner")["success"]
    return root


@pytest.mark.parametrize("name", MODULES)
def test_a_fully_correct_submission_gets_every_autograded_point(graded, name):
    with Gradebook(f"sqlite:///{graded / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        sub = gb.find_submission(name, "learner")
        auto = [g for nb in sub.notebooks for g in nb.grades if g.auto_score is not None]
        manual = [g for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade]
        assert len(auto) >= 3 and all(g.auto_score == g.max_score for g in auto)
        assert len(manual) >= 2, "written reflections wait for a grader"


@pytest.mark.parametrize("name", MODULES)
def test_feedback_never_shows_a_hidden_test(graded, name):
    page = (graded / "feedback" / "learner" / name / f"{name}.html").read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" not in page and "assert letter(" not in page


@pytest.mark.parametrize("name", MODULES)
def test_every_answer_cell_can_be_filled_from_the_website(name):
    released = json.loads((ROOT / "modules" / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert set(answer_cells(released)) == set(correct_answers(name))

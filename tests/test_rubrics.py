"""Every reflection's rubric ("How this is read") shows partial credit: what a 1-point and a 2-point answer
look like, so graders mark alike and learners know what is asked."""
import json

import pytest

from conftest import ROOT

from course.grading import release


@pytest.mark.parametrize("name", release.module_names())
def test_every_reflection_prompt_has_one_and_two_point_anchors(name):
    cells = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    prompts = [cells[i - 1] for i, c in enumerate(cells)
               if c["cell_type"] == "code" and "".join(c["source"]).startswith("reflection(")]
    assert prompts
    for prompt in prompts:
        text = "".join(prompt["source"])
        assert "How this is read (" in text
        assert "a 1-point answer looks like" in text and "A 2-point answer" in text, text[:80]


def test_biggest_successes_exercise_is_private_not_an_answer_cell():
    cells = json.loads((ROOT / "solutions" / "03-bias-in-tech-work.ipynb").read_text(encoding="utf-8"))["cells"]
    i = next(k for k, c in enumerate(cells) if "".join(c["source"]).startswith("## 7. Your biggest successes"))
    exercise, after = cells[i], cells[i + 1]
    grader = exercise["metadata"].get("nbgrader", {})
    assert not grader.get("grade") and not grader.get("solution") and grader.get("locked")
    assert exercise["metadata"]["allies"]["activity"] == "private"
    assert "never submitted" in "".join(exercise["source"])
    # What follows is the prompt of a separate graded reflection, not a box for the private list.
    assert after["cell_type"] == "markdown" and not after["metadata"]["nbgrader"].get("solution")
    assert "reflection(" not in "".join(after["source"])

"""Every reflection's rubric ("How this is read") shows partial credit: what a 1-point and a 2-point answer
look like, so graders mark alike and learners know what is asked."""
import json

import pytest

from conftest import ROOT

from course import release


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

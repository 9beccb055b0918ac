"""Each module opens with 3–4 learning objectives, and every knowledge check serves one of them (its question
cell says which, under `metadata.allies.objective`, outside nbgrader's own metadata)."""
import json
import re

import pytest

from conftest import ROOT

from course.grading import release

MODULES = release.module_names()
HEADING = "**By the end of this module you can:**"


def objectives(cells: list[dict]) -> list[str]:
    """The numbered objectives under the heading in the notebook's opening cell."""
    text = "".join(cells[0]["source"])
    assert HEADING in text, "the opening cell lists the module's learning objectives"
    return re.findall(r"^\d+\. (.+)$", text.split(HEADING, 1)[1].split("\n\n", 2)[1], re.M)


@pytest.mark.parametrize("folder", ["solutions", "modules"])
@pytest.mark.parametrize("name", MODULES)
def test_module_opens_with_three_or_four_learning_objectives(name, folder):
    cells = json.loads((ROOT / folder / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    assert 3 <= len(objectives(cells)) <= 4


@pytest.mark.parametrize("name", MODULES)
def test_every_knowledge_check_maps_to_an_objective_of_its_module(name):
    cells = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    count = len(objectives(cells))
    checks = [c for c in cells if c["cell_type"] == "code" and "knowledge_check(" in "".join(c["source"])]
    assert checks
    for cell in checks:
        assert set(cell["metadata"]["nbgrader"]) <= {"grade", "grade_id", "locked", "points", "schema_version",
                                                      "solution", "task"}, "nbgrader metadata takes no extra keys"
        objective = cell["metadata"].get("allies", {}).get("objective")
        assert isinstance(objective, int) and 1 <= objective <= count, cell["metadata"]["nbgrader"]["grade_id"]

"""The notebooks: generated from their sources, stored clean, follow the course rules, and run."""
import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

from course.grading import release
from conftest import ROOT

MODULES = release.module_names()
NOTEBOOKS = [ROOT / folder / f"{name}.ipynb" for folder in ("modules", "solutions") for name in MODULES]


def _nb(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _graded(nb, kind):
    cells = []
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if kind == "check" and meta.get("grade") and not meta.get("solution"):
            cells.append(cell)
        if kind == "reflection" and meta.get("grade") and meta.get("solution"):
            cells.append(cell)
    return cells


def test_modules_are_fresh_releases_of_their_solutions():
    assert MODULES, "no modules found"
    assert release.stale() == []


@pytest.mark.parametrize("name", MODULES)
def test_learner_notebook_holds_no_solution_or_hidden_test(name):
    text = (ROOT / "modules" / f"{name}.ipynb").read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "assert letter("):
        assert marker not in text
    for cell in _graded(_nb(ROOT / "solutions" / f"{name}.ipynb"), "reflection"):
        assert "".join(cell["source"]).strip() not in text, "an exemplar reflection leaked"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_is_stored_without_outputs(path):
    for cell in _nb(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("name", MODULES)
def test_module_follows_the_course_rules(name):
    nb = _nb(ROOT / "solutions" / f"{name}.ipynb")
    checks = _graded(nb, "check")
    hidden = [c for c in checks if "BEGIN HIDDEN TESTS" in "".join(c["source"])]
    assert len(hidden) >= 3, "at least three autograded knowledge checks with hidden tests"
    reflections = _graded(nb, "reflection")
    assert len(reflections) >= 2, "at least two hand-graded reflections"
    prompts = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert prompts.count("How this is read") >= len(reflections), "each reflection shows its rubric"
    assert re.search(r"^## Summary", prompts, re.M), "each module ends with a summary"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not cell["metadata"].get("nbgrader", {}).get("grade"):
            assert len("".join(cell["source"]).splitlines()) <= 12, "code cells stay short: call course/"


@pytest.mark.parametrize("name", MODULES)
def test_prose_types_no_statistic_so_every_figure_comes_from_data(name):
    for cell in _nb(ROOT / "solutions" / f"{name}.ipynb")["cells"]:
        if cell["cell_type"] == "markdown" and not cell["metadata"].get("nbgrader", {}).get("solution"):
            text = "".join(cell["source"])
            assert not re.search(r"\d\s*(%|per ?cent|percentage points)", text), text[:120]


def _years_in_data() -> set[str]:
    from course.lesson import data

    rows = [row for name in data.table_names() for row in data.table(name)] + [vars(s) for s in data.sources().values()]
    return {y for row in rows for column, value in row.items() if "year" in column
            for y in re.findall(r"\b(?:19|20)\d\d\b", value)}


@pytest.mark.parametrize("name", MODULES)
def test_every_year_the_prose_names_is_a_year_in_data(name):
    """Prose names a study by its year ("In 2017, the Women in the Workplace study"): that year is one in data/,
    so a mistyped or stale year fails here."""
    known = _years_in_data()
    for cell in _nb(ROOT / "solutions" / f"{name}.ipynb")["cells"]:
        if cell["cell_type"] == "markdown" and not cell["metadata"].get("nbgrader", {}).get("solution"):
            text = "".join(cell["source"])
            assert set(re.findall(r"\b(?:19|20)\d\d\b", text)) <= known, text[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("name, widget, says", [
    ("01-why-men-why-now", "why_men.continuum()", "it is not kept (it clears when the page reloads)"),
    ("05-behind-the-veil", "veil.game()", "The game keeps nothing: your rules and draws clear when the page reloads"),
])
def test_a_choice_the_course_does_not_keep_says_so_just_before_it(name, widget, says):
    """Saved answers come back on a reload; a personal choice that is not saved (where am I today, the veil
    game's rules) says so in the text right above it, where the learner makes it."""
    cells = _nb(ROOT / "modules" / f"{name}.ipynb")["cells"]
    at = next(i for i, cell in enumerate(cells) if widget in "".join(cell["source"]))
    assert says in "".join(cells[at - 1]["source"])

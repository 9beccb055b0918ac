"""Honest timing: each module's stated time is the estimate from its words and activities (`course.lesson.timing`),
and every module fits the course's 20–40 minutes."""
import pytest

from conftest import ROOT

from course.grading import release
from course.lesson import timing

MODULES = release.module_names()


@pytest.mark.parametrize("name", MODULES)
def test_module_takes_20_to_40_minutes_by_the_estimate(name):
    estimate = timing.minutes(ROOT / "solutions" / f"{name}.ipynb")
    assert 20 <= estimate <= 40, f"{name}: about {estimate:.1f} minutes"


@pytest.mark.parametrize("folder", ["solutions", "modules"])
@pytest.mark.parametrize("name", MODULES)
def test_the_opening_line_states_the_estimate_rounded_to_five_minutes(name, folder):
    path = ROOT / folder / f"{name}.ipynb"
    assert timing.stated_minutes(path) == timing.rounded(timing.minutes(path)), timing.breakdown(path)


def test_estimate_counts_reading_at_200_words_a_minute_plus_each_activity(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("*About 10 minutes.* " + "word " * 393),
                nbformat.v4.new_code_cell('knowledge_check("x-q1", answer, "Which?", {"a": "one two", "b": "three"})'),
                nbformat.v4.new_code_cell("why_men.leadership()"),
                nbformat.v4.new_code_cell('reflection("x-r1")')]
    panel = nbformat.v4.new_code_cell("bias.evidence('hiring')")
    panel.metadata["allies"] = {"activity": "panel"}
    nb.cells.append(panel)
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    # 400 words read (2 minutes), a check (1), an explorer (2), a reflection (5), a panel (1).
    assert timing.minutes(path) == pytest.approx(2 + 1 + 2 + 5 + 1)
    assert timing.stated_minutes(path) == 10 == timing.rounded(timing.minutes(path))

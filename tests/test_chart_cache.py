"""`python -m course charts` (what `make serve` runs first) leaves every view of every explorer in the chart
cache, so a learner's kernel that then shows any of them draws nothing."""
import subprocess
import sys

import nbformat
from nbclient import NotebookClient

from conftest import ROOT
from course.web import chart_cache

MODULE = ROOT / "modules" / "01-why-men-why-now.ipynb"
COUNT_DRAWS = """
from course.lesson import charts
drawn, render = [], charts._render
charts._render = lambda fig: drawn.append(fig) or render(fig)
"""
SHOW_EVERY_VIEW = chart_cache.EVERY_VIEW + "\nimport sys\nprint(len(drawn), 'matplotlib' in sys.modules)"


def charts_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course", "charts", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)


def test_after_the_charts_command_a_kernel_shows_every_view_without_drawing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))  # empty
    done = charts_command(MODULE.name)
    assert done.returncode == 0, done.stderr
    views = int(done.stdout.split(f"{MODULE.name}: ")[1].split()[0])
    assert views > 10

    nb = nbformat.read(MODULE, as_version=4)
    nb.cells = [nbformat.v4.new_code_cell(COUNT_DRAWS), *nb.cells, nbformat.v4.new_code_cell(SHOW_EVERY_VIEW)]
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(MODULE.parent)}}).execute()
    shown, drawn, matplotlib = nb.cells[-1].outputs[0]["text"].split()
    assert (shown, drawn, matplotlib) == (str(views), "0", "False")


def test_the_charts_command_names_a_module_it_does_not_have():
    done = charts_command("99-nothing.ipynb", "../data")
    assert done.returncode == 2
    assert "No such module: ../data, 99-nothing.ipynb" in done.stderr

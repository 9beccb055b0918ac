"""`python -m course charts` (what `make serve` runs first) leaves every view of every explorer in the chart
cache, so a learner's kernel that then shows any of them draws nothing."""
import shutil
import subprocess
import sys

import nbformat
from nbclient import NotebookClient

from conftest import ROOT
from course.instance import Instance
from course.web import chart_cache, cohort, kernels

MODULE = ROOT / "modules" / "01-why-men-why-now.ipynb"
COUNT_DRAWS = """
from course.lesson import charts
drawn, render = [0], charts._render
def counted(fig):
    drawn[0] += 1
    return render(fig)
charts._render = counted
"""  # counts the charts drawn from here on (drawn[0]), keeping none of them
SHOW_EVERY_VIEW = chart_cache.EVERY_VIEW + "\nimport sys\nprint(drawn[0], 'matplotlib' in sys.modules)"


def charts_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course", "charts", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)


def test_after_the_charts_command_a_kernel_shows_every_view_without_drawing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))  # empty
    done = charts_command(MODULE.name)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr  # e.g. a kernel on TCP without encryption: it uses IPC
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


def test_once_the_cache_holds_every_view_sites_count_on_it_until_the_course_changes(tmp_path, monkeypatch):
    """After the command has drawn every module's views, the cache says it is complete: the command then has
    nothing to draw, and the cohort site counts each forked kernel at what a kernel that draws nothing holds.
    A change to the course's data makes it incomplete again."""
    done = charts_command()  # into this test run's shared cache (conftest)
    assert done.returncode == 0, done.stderr
    assert chart_cache.complete()
    again = charts_command()
    assert again.returncode == 0 and "nothing to draw" in again.stdout, again.stdout
    instance = Instance(str(tmp_path / "instance"))
    assert cohort.config(instance, 8866, 1).OwnedKernelManager.kernel_mb == kernels.FORKED_CACHED_KERNEL_MB

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    with open(data / "sources.csv", "a", encoding="utf-8") as sources:
        sources.write("\n")
    monkeypatch.setenv("ALLIES_DATA_DIR", str(data))
    assert not chart_cache.complete()
    assert cohort.config(instance, 8866, 1).OwnedKernelManager.kernel_mb == kernels.FORKED_KERNEL_MB

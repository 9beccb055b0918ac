"""The baseline for figure 2: the reference module's first slider chart (Module 1's Fortune 500 CEOs by year)
redrawn the way a notebook usually does it, with pyplot and `%matplotlib inline` in an ipywidgets Output, on
every slider move (what `ipywidgets.interact` does), served by preheated Voilà. A course page shows a view
the kernel has drawn before at once, and draws any other once; this page draws on every move."""
from __future__ import annotations

from pathlib import Path

import nbformat

FOLDER = "inline"  # under the snapshot of the course, served by its own Voilà
NOTEBOOK = "inline-matplotlib.ipynb"

CODE = """\
%matplotlib inline
import ipywidgets as w
import matplotlib.pyplot as plt
from IPython.display import display
from course.lesson.charts import WIDTH_INCHES
from course.lesson.data import table

rows = table("women_ceos_fortune500")
years = [int(r["year"]) for r in rows]
shares = [round(100 * int(r["women_ceos"]) / int(r["companies"]), 1) for r in rows]
year = w.SelectionSlider(options=years, value=years[-1], description="Year", continuous_update=True)
out = w.Output()


def draw(change=None):
    with out:
        out.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(WIDTH_INCHES, 3.6))  # the course's chart size
        ax.plot(years, shares, marker="o")
        ax.plot([year.value], [shares[years.index(year.value)]], "o", markersize=10)
        ax.set_ylim(0, 50)
        ax.set_title("Women as a share of Fortune 500 CEOs", loc="left")
        plt.show()


year.observe(draw, "value")
draw()
explorer = w.VBox([year, out])
explorer.add_class("allies-explorer")
display(explorer)
"""


def write(code: Path) -> Path:
    """Write the baseline notebook into `code`/inline; returns that folder (Voilà's root for this site)."""
    folder = code / FOLDER
    folder.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / NOTEBOOK)
    return folder

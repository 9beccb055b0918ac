"""Orientation — Before you start: how the course works on each path, the modules ahead, and practice scenes
on the norms of a learning space (`data/scenarios_orientation.csv`). The self-assessment is
`course.lesson.self_assessment.ask`."""
from __future__ import annotations

from urllib.parse import quote

import ipywidgets as w
from IPython.display import HTML

from course.lesson import badges, cards, timing, widgets
from course.paths import folder
from course.lesson.validation import escaped

PATHS = ("On a cohort's website", "On the website, on your own", "In JupyterLab")
HOW = (
    ("Open a module", "Pick it from the list of modules. There is no code to run.", "The same.",
     "Open the notebook and run the cells in order with Shift + Enter."),
    ("Explore a chart", "Click a slider or a button and use the arrow keys, Tab and Space.", "The same.",
     "The same: the charts work the same way once the cell has run."),
    ("Answer a knowledge check", "Choose an option with the radio buttons.", "The same.",
     'Replace None with the letter of your choice in quotes (answer = "b") and run the cell.'),
    ("Write a reflection", "Type in the box under the prompt.", "The same.",
     "Double-click the text cell under the prompt, write, then run it to see it formatted."),
    ("Keep your work", "Answers save as you go, under your sign-in, and come back when you return.",
     "Answers save as you go, on your computer, and come back when you return.",
     "Save the notebook (Ctrl + S). Your answers live in the notebook file."),
    ("Hand in", "Press the Submit button at the end of the module. You can submit again; the latest counts.",
     "Nothing to hand in: at the end of each module you can download a copy of your answers.",
     "Save, then submit from the Assignments tab (nbgrader), as your facilitator asks; on your own, keep the "
     "notebook."),
    ("Who sees what", "Only you and your graders see your reflections.",
     "Only you: nothing is sent anywhere.", "Only you, and your graders if you hand the notebook in."),
)


def how_it_works():
    """The two ways through the course, side by side."""
    return widgets.table(["", *PATHS], [list(row) for row in HOW], "How the course works on each path")


def modules() -> HTML:
    """The modules of the course, in order, by title and estimated time (read from `modules/` and estimated
    by `course.lesson.timing`, so the list is always current), each a link to its page (or notebook, in JupyterLab:
    the modules sit side by side)."""
    titles = "".join(f'<li><a href="{quote(nb.name)}">{escaped(timing.title(nb))}</a> '
                     f"(about {timing.rounded(timing.minutes(nb))} minutes)</li>"
                     for nb in sorted(folder("modules").glob("[0-9][0-9]-*.ipynb")))
    return HTML(f'<ol class="allies-outline allies-plain-list">{titles}</ol>')


def norms():
    """Practice scenes about learning together: fear said out loud, fatigue, confidentiality, mistakes."""
    return cards.deck("scenarios_orientation", label="Scene", say_first="m00")


def evidence_badges():
    """The one place the evidence badge is explained: what each strength and each way of reading means,
    then an example badge from the course's sources."""
    explained = widgets.table(["On a badge", "What it means"], badges.legend_rows(),
                              "Reading an evidence badge: how strong, and how we read the figure")
    example = w.HTML(f"<p>For example, the hiring experiment in Module 3 carries "
                   f"{badges.badge('mossracusin2012', 'checked (findings)')}, and the diversity-and-profit "
                   f"reports in Module 2 carry {badges.badge('mckinsey2023', 'checked')}. Hover over a badge, or "
                   "listen to it with a screen reader, to hear what its kind of evidence means.</p>")
    return widgets.Column([explained, example])

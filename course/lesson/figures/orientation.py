"""Orientation — Before you start: how the course works on each path, the modules ahead, and practice scenes
on the norms of a learning space (`data/scenarios_orientation.csv`). The self-assessment is
`course.lesson.self_assessment.ask`."""
from __future__ import annotations

from urllib.parse import quote

import ipywidgets as w
from IPython.display import HTML

from course.lesson import badges, cards, timing, widgets
from course.lesson.context import in_voila, kept_for_the_session, self_paced_site
from course.paths import folder
from course.lesson.validation import escaped

PATHS = ("On a cohort's website", "On the website, on your own", "In JupyterLab")
HOW = (
    ("Open a module", "Pick it from the list of modules. There is no code to run.",
     "Pick it from the list of modules. There is no code to run.",
     "Open the notebook and run the cells in order with Shift + Enter."),
    ("Explore a chart", "Click a slider or a button and use the arrow keys, Tab and Space.",
     "Click a slider or a button and use the arrow keys, Tab and Space.",
     "The same: the charts work the same way once the cell has run."),
    ("Answer a knowledge check", "Choose an option with the radio buttons.",
     "Choose an option with the radio buttons.",
     'Replace None with the letter of your choice in quotes (answer = "b") and run the cell.'),
    ("Write a reflection", "Type in the box under the prompt.", "Type in the box under the prompt.",
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


# The website on your own, where its answers go with the session (Binder), in place of HOW's words.
FOR_THE_SESSION = {
    "Keep your work": "Answers save as you go, for this Binder session only: it deletes them when it ends, so "
                      "download a copy at the end of each module to keep them.",
    "Who sees what": "Only you: this Binder session is yours alone.",
}


def how_it_works():
    """The ways through the course, side by side: on a website, its own way and JupyterLab's; in JupyterLab,
    all three."""
    shown = [0, 1, 2] if not in_voila() else [1, 2] if self_paced_site() else [0, 2]
    rows = [[row[0], *(row[1 + i] for i in shown)] for row in HOW]
    if kept_for_the_session():
        rows = [[row[0], FOR_THE_SESSION.get(row[0], row[1]), *row[2:]] for row in rows]
    return widgets.table(["", *(PATHS[i] for i in shown)], rows, "How the course works on each path")


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

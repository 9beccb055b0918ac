"""Every module comes back whole for a learner whose every answer is saved: each notebook run as the website
runs it, in a kernel that knows the learner from the start (a kernel started for them, not from the pool), so
each widget is handed its saved answer while the cell is still building it; and the page as sent shows none
of those answers (a widget's first view is as it is before anyone answers)."""
import json
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from course.contract import LEARNER_ENV, STORE_ENV
from course.grading import release
from course.store.answers import AnswerStore
from conftest import ROOT

# Every bound answer set to a value it accepts that is not where it starts (the last option, or some text),
# again while answering builds more of them (a role chosen builds its scenes); then saved, and listed.
ANSWER_ALL = """
from course.lesson import session
current, done = session.current(), {}
while set(current.bindings) - set(done):
    for item in sorted(set(current.bindings) - set(done)):
        widget = current.bindings[item].widget
        options = getattr(widget, "options", None)
        if options:
            last = options[-1]
            widget.value = last[1] if isinstance(last, tuple) else last
        else:
            widget.value = "A saved answer: <b>kept</b> 🙂"
        done[item] = widget.value
assert current.flush()
print(json.dumps({item: str(value) for item, value in done.items()}))
"""
SHOWN = """
from course.lesson import session
print(json.dumps({item: str(b.widget.value) for item, b in session.current().bindings.items()}))
"""


def _run(name: str, env: dict, last: str) -> tuple[dict, list[str]]:
    """Run module `name` top to bottom as the website does, then `last`; returns what `last` printed, and the
    first views the widgets' outputs carry for the page as sent (their widgets' ids made alike)."""
    notebook = nbformat.read(ROOT / "modules" / f"{name}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import json\n" + last))
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT / "modules")}}).execute()
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    printed = [o["text"] for o in notebook.cells[-1].outputs if o.get("name") == "stdout"]
    first = [re.sub(r"allies-first-[0-9a-f]+", "allies-first-…", "".join(o["data"]["text/html"]))
             for cell in notebook.cells[:-1] for o in cell.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {}) and "text/html" in o["data"]]
    return json.loads("".join(printed)), first


@pytest.mark.parametrize("name", release.module_names())
def test_a_module_comes_back_whole_with_every_answer_saved(tmp_path, name):
    store = tmp_path / "answers.sqlite3"
    with AnswerStore(store) as answers:
        answers.add_learner("ana", "Ana")
    env = {"VOILA_KERNEL_ID": "test", STORE_ENV: str(store), LEARNER_ENV: "ana",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    answered, blank = _run(name, env, ANSWER_ALL)  # (its widgets shown first before anything was saved)
    assert answered, "the module binds no answer"
    shown, first = _run(name, env, SHOWN)
    assert shown == answered  # no cell failed, and every answer is back in its widget
    assert blank and first == blank  # and the page as sent shows none of them

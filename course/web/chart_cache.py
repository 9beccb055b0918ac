"""Every chart a module page can show, drawn once before a site serves it (`python -m course charts`).

A page draws only the views it first shows; any other view of an explorer is drawn in the learner's kernel
the first time someone chooses it (about 0.1 s), then kept in the course's chart cache for every later
kernel. Drawing them all beforehand means no learner waits for one. Each module runs in a kernel of its
own, as a page would, and then draws every view of its explorers; charts already in the cache are reused.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course.paths import folder

EVERY_VIEW = ("import gc\nfrom course.lesson.widgets import Explorer\n"
              "print(sum(len(e.every_view()) for e in gc.get_objects() if isinstance(e, Explorer)))")


def draw_every_view(notebook: Path, timeout: int = 900) -> int:
    """Run `notebook` in a new kernel, then draw every view of its explorers; returns how many views."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(EVERY_VIEW))
    NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return int(nb.cells[-1].outputs[0]["text"])


def fill(names: list[str] | None = None) -> dict[str, int]:
    """Draw every view of the named modules (file names in the course's modules/; default: all); returns the
    views by module."""
    paths = sorted(folder("modules").glob("[0-9][0-9]-*.ipynb"))
    unknown = set(names or ()) - {path.name for path in paths}
    if unknown:
        raise ValueError(f"No such module: {', '.join(sorted(unknown))}")
    return {path.name: draw_every_view(path) for path in paths if not names or path.name in names}

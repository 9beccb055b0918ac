"""Every chart a module page can show, drawn once before a site serves it (`python -m course charts`).

A page draws only the views it first shows; any other view of an explorer is drawn in the learner's kernel
the first time someone chooses it (about 0.1 s), then kept in the course's chart cache for every later
kernel. Drawing them all beforehand means no learner waits for one. Each module runs in a kernel of its
own, as a page would, and then draws every view of its explorers; charts already in the cache are reused.

Once every module's views are in, the cache records what they were drawn from (`complete`): a site can then
count on kernels that never draw, which hold far less memory (`course.web.kernels`), and the command has
nothing to do until the course's code, data or modules change.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

from course.paths import ROOT, folder

STAMP = "every-view.sha256"  # in the cache: the digest of the inputs every view was drawn from

EVERY_VIEW = ("import gc\nfrom course.lesson.widgets import Explorer\n"
              "print(sum(len(e.every_view()) for e in gc.get_objects() if isinstance(e, Explorer)))")


def draw_every_view(notebook: Path, timeout: int = 900) -> int:
    """Run `notebook` in a new kernel, then draw every view of its explorers; returns how many views."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(EVERY_VIEW))
    with tempfile.TemporaryDirectory(prefix="allies-charts-") as sockets:  # IPC: no TCP port, nothing to race
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
        NotebookClient(nb, config=ipc, timeout=timeout,
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return int(nb.cells[-1].outputs[0]["text"])


def inputs() -> str:
    """A digest of everything a chart is drawn from: the lesson code, the data and the modules."""
    digest = hashlib.sha256()
    files = [*sorted((ROOT / "course" / "lesson").rglob("*.py")), *sorted(folder("data").glob("*.csv")),
             *sorted(folder("modules").glob("*.ipynb"))]
    for path in files:
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def complete() -> bool:
    """Whether every view of every module is in the cache, drawn from the course as it is now."""
    try:
        return (folder("cache") / STAMP).read_text(encoding="ascii") == inputs()
    except OSError:
        return False


def fill(names: list[str] | None = None) -> dict[str, int]:
    """Draw every view of the named modules (file names in the course's modules/; default: all, unless the
    cache is already complete); returns the views drawn by module."""
    paths = sorted(folder("modules").glob("[0-9][0-9]-*.ipynb"))
    unknown = set(names or ()) - {path.name for path in paths}
    if unknown:
        raise ValueError(f"No such module: {', '.join(sorted(unknown))}")
    if not names and complete():
        return {}
    drawn_from = inputs()
    filled = {path.name: draw_every_view(path) for path in paths if not names or path.name in names}
    if not names:
        stamp = folder("cache") / STAMP
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(drawn_from, encoding="ascii")
    return filled

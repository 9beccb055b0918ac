"""Write a learner's answers into a copy of a release notebook, in nbgrader's submission layout.

Both answer paths end here: a learner's knowledge-check letters and reflections become the text of the
nbgrader answer cells, so one grading pipeline serves JupyterLab and the Voilà site alike.
"""
from __future__ import annotations

import ast
import copy
import datetime
import json
import os
from pathlib import Path

from course.contract import CODE_STUB

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's ExchangeSubmit default


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def answer_cells(nb: dict) -> dict[str, str]:
    """The learner's answer cells of a notebook: grade_id -> cell type ("code": a knowledge-check
    letter, "markdown": a reflection)."""
    return {cell["metadata"]["nbgrader"]["grade_id"]: cell["cell_type"]
            for cell in nb["cells"]
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}


def headings(nb: dict) -> dict[str, str]:
    """Each answer cell's grade_id -> the last `### ` heading above it ('' if none): how a learner knows it
    ("Reflection 1 — Who was in the room?", "Check your understanding 2")."""
    kinds, found, heading = answer_cells(nb), {}, ""
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        source = cell_source(cell)
        if cell["cell_type"] == "markdown" and source.startswith("### ") and grade_id not in kinds:
            heading = source.splitlines()[0][4:].strip()
        if grade_id in kinds:
            found[grade_id] = heading
    return found


def check_question(source: str) -> tuple[str, dict[str, str]]:
    """The question and the options of a knowledge-check cell, read from its `knowledge_check(...)` call."""
    tail = source.split("### END SOLUTION")[-1]
    call = next(node for node in ast.walk(ast.parse(tail))
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "knowledge_check")
    return ast.literal_eval(call.args[2]), ast.literal_eval(call.args[3])


def fill(release_nb: dict, answers: dict[str, str]) -> dict:
    """A copy of `release_nb` with `answers` (grade_id -> text) written into its answer cells.

    A knowledge check's letter replaces the code stub line as `answer = '<letter>'`; a reflection
    becomes the whole source of its markdown cell. Learner text is kept exactly as given.
    Raises ValueError for an id that is not an answer cell or a code cell without the stub line.
    """
    known = answer_cells(release_nb)
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise ValueError(f"not answer cells of this notebook: {', '.join(unknown)} "
                         f"(answer cells: {', '.join(known)})")
    for grade_id, text in answers.items():
        if not isinstance(text, str):
            raise TypeError(f"the answer for {grade_id} must be text, not {type(text).__name__}")
    nb = copy.deepcopy(release_nb)
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id not in answers:
            continue
        if cell["cell_type"] == "markdown":
            cell["source"] = answers[grade_id]
            continue
        lines = cell_source(cell).split("\n")
        if CODE_STUB not in lines:
            raise ValueError(f"cell {grade_id} does not contain the answer stub line {CODE_STUB!r}; "
                             "fill a fresh copy of the release notebook")
        lines[lines.index(CODE_STUB)] = f"answer = {answers[grade_id]!r}"
        cell["source"] = "\n".join(lines)
    return nb


def _segment(name: str, what: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"{what} {name!r} cannot be used as a folder name")
    return name


def write_submission(root: Path, student: str, assignment: str, notebook: str, nb: dict,
                     when: datetime.datetime | None = None) -> Path:
    """Save `nb` as `root/submitted/<student>/<assignment>/<notebook>.ipynb` with nbgrader's
    `timestamp.txt`; returns the notebook's path."""
    folder = Path(root, "submitted", _segment(student, "student"), _segment(assignment, "assignment"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_segment(notebook, 'notebook')}.ipynb"
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    when = when or datetime.datetime.now(datetime.timezone.utc)
    (folder / "timestamp.txt").write_text(when.strftime(TIMESTAMP_FORMAT), encoding="utf-8")
    return path


def read(path: Path) -> dict:
    """A notebook file as plain JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def problems(release_nb: dict, answers: dict[str, str]) -> list[str]:
    """What stops these answers from being handed in, in words a learner can act on."""
    from course.lesson.validation import reflection

    found, named = [], headings(release_nb)
    for grade_id, kind in answer_cells(release_nb).items():
        text = answers.get(grade_id)
        if kind != "markdown" or text is None:
            continue
        ok, message = reflection(text)
        if not ok and text.strip():
            found.append(f"{named[grade_id] or 'A reflection'}: {message}")
    return found


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def to_exchange(root: str | Path, course_id: str, student: str, assignment: str, nb: dict,
                when: datetime.datetime | None = None) -> Path:
    """Hand `nb` in as `nbgrader submit` does: a new `inbound/<student>+<assignment>+<timestamp>+<random>`
    folder in the exchange, with `timestamp.txt`; earlier submissions stay, and `nbgrader collect`
    takes the latest. Returns the notebook's path.

    The folder appears whole or not at all: it is written under a hidden name (which collect never reads),
    synced, the timestamp last, then renamed into place. A failed hand-in (a full disk, say) leaves nothing
    that collect would take over an earlier, good submission."""
    import base64
    import shutil

    stamp = (when or now()).strftime(TIMESTAMP_FORMAT)
    name = "+".join([_segment(student, "student"), _segment(assignment, "assignment"), stamp,
                     base64.urlsafe_b64encode(os.urandom(9)).decode("ascii")])
    if "+" in student or "+" in assignment:
        raise ValueError("student and assignment ids cannot contain '+'")
    inbound = Path(root, _segment(course_id, "course"), "inbound")
    inbound.mkdir(parents=True, exist_ok=True)
    incoming = inbound / f".incoming-{os.getpid()}-{os.urandom(6).hex()}"
    try:
        incoming.mkdir()
        _write_synced(incoming / f"{assignment}.ipynb", json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        _write_synced(incoming / "timestamp.txt", stamp)
        fd = os.open(incoming, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(incoming, inbound / name)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return inbound / name / f"{assignment}.ipynb"

"""How long a module takes: an honest estimate from what the learner reads and does, so the time each
notebook states can be checked (`tests/test_timing.py`) instead of guessed.

The estimate is the learner-visible words at 200 words a minute, plus a fixed allowance for each activity:

- an **explorer** (a code cell that shows a chart, calculator, card deck or scenes): 2 minutes to try the
  controls and read what it shows;
- a read-only **panel** (a table or list of evidence, tagged `allies.activity: "panel"` in the cell's
  metadata): 1 minute;
- a **knowledge check**: 1 minute to think, on top of reading its question and options;
- a **reflection** (graded writing, or a private exercise tagged `allies.activity: "private"`): 5 minutes.

Words counted: every markdown cell except nbgrader solution cells (graders' example answers), and the question
and options of each knowledge check. Words inside widgets are covered by the allowances, not counted.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from course.lesson.submissions import check_question

WORDS_PER_MINUTE = 200
ALLOWANCE = {"explorer": 2, "panel": 1, "check": 1, "reflection": 5, "private": 5}
STATED = re.compile(r"\*About (\d+) minutes")


def title(notebook: Path) -> str:
    """The notebook's first `# ` heading, or its file name without the suffix."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(notebook).stem


def _check_words(source: str) -> int:
    question, options = check_question(source)
    return len(question.split()) + sum(len(text.split()) for text in options.values())


def _activity(cell: dict) -> str | None:
    """What kind of activity a cell is, or None for reading, set-up, hidden tests and hand-in cells."""
    tagged = cell["metadata"].get("allies", {}).get("activity")
    if tagged:
        return tagged
    if cell["cell_type"] != "code":
        return None
    source = "".join(cell["source"])
    grader = cell["metadata"].get("nbgrader", {})
    if "knowledge_check(" in source:
        return "check"
    if "reflection(" in source:
        return "reflection"
    if grader.get("grade") or "import " in source or "submit_module(" in source or "how_to_answer(" in source:
        return None
    return "explorer"


def breakdown(notebook: Path) -> dict[str, int]:
    """Learner-visible words and the number of each kind of activity in a notebook."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    counts = {"words": 0, **{kind: 0 for kind in ALLOWANCE}}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and not cell["metadata"].get("nbgrader", {}).get("solution"):
            counts["words"] += len(source.split())
        elif "knowledge_check(" in source:
            counts["words"] += _check_words(source)
        kind = _activity(cell)
        if kind:
            counts[kind] += 1
    return counts


def minutes(notebook: Path) -> float:
    """The estimated minutes a learner needs for the notebook (reading plus activity allowances)."""
    counts = breakdown(notebook)
    return counts["words"] / WORDS_PER_MINUTE + sum(ALLOWANCE[k] * counts[k] for k in ALLOWANCE)


def stated_minutes(notebook: Path) -> int | None:
    """The time the notebook's opening line states ("*About N minutes…*"), if it states one."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    match = STATED.search("".join(cells[0]["source"])) if cells else None
    return int(match.group(1)) if match else None


def rounded(value: float, step: int = 5) -> int:
    """`value` rounded to the nearest `step` (halves go up), as the notebooks state their times."""
    return int(step * int(value / step + 0.5))

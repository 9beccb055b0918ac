"""What the course asks, as the dashboard needs it: every module's answer items, its knowledge checks with
their correct letters, and its reflections, read from the instructor sources in `solutions/` (the only
place correct letters live); and the self-assessment's statements."""
from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from course import contract
from course.lesson import validation
from course.paths import folder

_CHECK, _REFLECTION = contract.CHECK_ID, contract.REFLECTION_ID
_SOLUTION_LETTER = re.compile(r"BEGIN SOLUTION\s*\n\s*answer\s*=\s*(['\"])(.*?)\1")


@dataclass(frozen=True)
class Check:
    """A knowledge check and, from solutions/, its correct letter."""
    item: str
    prompt: str
    options: dict[str, str]
    correct: str | None


@dataclass(frozen=True)
class ModuleSpec:
    """One module as the dashboard needs it: every answer item, its checks and its reflections."""
    name: str  # "01-why-men-why-now": the module id in the answer store
    title: str
    items: tuple[str, ...]  # every answer cell: "answered every item" means these
    checks: tuple[Check, ...] = ()
    reflections: tuple[tuple[str, str], ...] = ()  # (item, heading)

    @property
    def number(self) -> str:
        return self.name[:2]

    @property
    def label(self) -> str:
        """A short name for charts: "Orientation", "M1 Why men, why now"."""
        short = self.title.split("—", 1)[-1].strip() if "—" in self.title else self.title
        return "Orientation" if self.number == "00" else f"M{int(self.number)} {short}"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def _check_text(source: str) -> tuple[str, dict[str, str]]:
    """The prompt and options of the `knowledge_check(...)` call in a cell, if it has one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "", {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                == "knowledge_check" and len(node.args) >= 4):
            try:
                prompt, options = ast.literal_eval(node.args[2]), ast.literal_eval(node.args[3])
            except ValueError:
                return "", {}
            if isinstance(prompt, str) and isinstance(options, dict):
                return prompt, {str(k): str(v) for k, v in options.items()}
    return "", {}


def _module_spec(path: Path) -> ModuleSpec:
    from course.lesson.timing import title

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    items, checks, reflections = [], [], []
    heading = ""
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = _source(cell)
        if cell["cell_type"] == "markdown" and not meta.get("solution"):
            for line in source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
            continue
        if not meta.get("solution"):
            continue
        item = meta["grade_id"]
        items.append(item)
        if cell["cell_type"] == "code" and _CHECK.match(item):
            found = _SOLUTION_LETTER.search(source)
            prompt, options = _check_text(source)
            checks.append(Check(item, prompt, options, validation.letter(found.group(2)) if found else None))
        elif cell["cell_type"] == "markdown" and _REFLECTION.match(item):
            reflections.append((item, heading or item))
    return ModuleSpec(path.stem, title(path), tuple(items), tuple(checks), tuple(reflections))


def course_spec(solutions: Path | None = None) -> list[ModuleSpec]:
    """Every module in course order, read from the instructor sources (the only place correct letters
    live); solutions/ by default."""
    root = Path(solutions) if solutions else folder("solutions")
    return [_module_spec(path) for path in sorted(root.glob("[0-9][0-9]-*.ipynb"))]


@dataclass(frozen=True)
class Statement:
    """One self-assessment statement, asked in the Orientation (m00-sN) and again in Module 6 (m06-sN)."""
    key: str  # "s1"
    text: str
    levels: tuple[str, ...]  # the answers, lowest first: answer n means levels[n - 1]


def course_statements() -> list[Statement]:
    """The self-assessment's statements and answer levels, as `course.lesson.self_assessment` defines them."""
    from course.lesson import self_assessment

    return [Statement(item.key, item.short, tuple(item.choices)) for item in self_assessment.items()]


@dataclass(frozen=True)
class FollowThroughSpec:
    """What Module 7 saves of each commitment, as `course.lesson.follow_through` defines it: the items of its
    mark and its kind of action, the marks (done, partly, not yet) and the kinds (the five actions' ids, and
    "other")."""
    items: tuple[tuple[str, str], ...]  # (status item, action item) of each commitment: ("m07-c1-status", …)
    statuses: dict[str, str]  # "done" -> "Done", …, in order
    kinds: dict[str, str]  # "sponsor" -> "Sponsor a high-potential woman", …, "other" -> "Something else"
    other: str  # the kind a commitment outside the five actions is saved as (and anything else counts as)
    then_prefix: str  # "m07-then": the retrospective rating's items are m07-then-s1, …
    status: Callable[[str | None], str | None]  # a saved mark as one of `statuses`' keys, else None


def follow_through_spec() -> FollowThroughSpec:
    from course.lesson import follow_through, self_assessment
    from course.lesson.figures import leading

    prefix = follow_through.PREFIX
    items = tuple((f"{prefix}-c{n}-status", f"{prefix}-c{n}-action")
                  for n in range(1, follow_through.COMMITMENTS + 1))
    kinds = {a["id"]: a["action"] for a in leading.actions()} | {follow_through.OTHER: "Something else"}
    return FollowThroughSpec(items, dict(follow_through.STATUSES), kinds, follow_through.OTHER,
                             self_assessment.THEN, follow_through.status_of)

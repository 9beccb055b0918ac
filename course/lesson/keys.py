"""Knowledge-check keys, read from the hidden tests with `ast` alone: safe to import in a learner's kernel.

A check's hidden test says its key and the explanation a learner sees: `assert letter(answer) == "b", "why"`.
The grader reads it from the gradebook (`course.grading.scoring`); a kernel that gives feedback at once reads it from
`solutions/` (`module_keys`), and only when the server lets it: on a cohort site run with
`--check-feedback after-grading` the server tells each kernel so (`FEEDBACK_ENV`), and the reader refuses.
This module imports no nbgrader and no Jupyter server: a learner's kernel must not carry them.
"""
from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from functools import lru_cache

from course.contract import FEEDBACK_ENV  # noqa: F401  set by the server that starts the kernel (re-exported)
from course.paths import folder, module_of

AFTER_ANSWERING, AFTER_GRADING = "after-answering", "after-grading"
MODES = (AFTER_ANSWERING, AFTER_GRADING)
CHECK_SUFFIX = "-check"  # a check cell's grade id is its answer cell's, plus this


@dataclass(frozen=True)
class Key:
    """A knowledge check's right letter and the explanation shown when an answer misses it."""
    letter: str
    explanation: str


class KeysWithheld(PermissionError):
    """Keys are not shown before grading on this site."""


def key_of(test_source: str) -> Key | None:
    """The key of a check cell's hidden test: `assert letter(answer) == "b", "why"`; None if it has none."""
    try:
        tree = ast.parse(test_source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
            continue
        test = node.test
        call = test.left
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "letter"
                and [type(a) for a in call.args] == [ast.Name] and call.args[0].id == "answer"
                and [type(o) for o in test.ops] == [ast.Eq] and isinstance(test.comparators[0], ast.Constant)
                and isinstance(test.comparators[0].value, str)):
            why = node.msg.value if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str) else ""
            return Key(test.comparators[0].value, why)
    return None


def feedback_mode() -> str:
    """When this kernel may show a check's key: `after-answering` or `after-grading`.

    The server sets it for every kernel it starts. Unset, a notebook in JupyterLab gives feedback at once,
    and a Voilà kernel (a site that did not say) does not: the safe side for a graded cohort. Any other value
    is read as `after-grading`."""
    value = os.environ.get(FEEDBACK_ENV)
    if value is None:
        from course.lesson.context import in_voila

        return AFTER_GRADING if in_voila() else AFTER_ANSWERING
    return value if value in MODES else AFTER_GRADING


def module_keys(module: str) -> dict[str, Key]:
    """Every knowledge check's key in `module`, by its answer cell's grade id ("m01-q1"), read from
    `solutions/`; empty if the module's source is not installed. Raises KeysWithheld in after-grading mode."""
    if feedback_mode() != AFTER_ANSWERING:
        raise KeysWithheld("Knowledge-check keys are shown after grading on this site.")
    path = folder("solutions") / f"{module}.ipynb"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return {}
    return dict(_read(str(path), stamp))


@lru_cache(maxsize=16)
def _read(path: str, _stamp: int) -> tuple[tuple[str, Key], ...]:
    """The keys in one solutions notebook (cached until the file changes)."""
    try:
        with open(path, encoding="utf-8") as fh:
            cells = json.load(fh).get("cells", [])
    except (OSError, ValueError):
        return ()
    found = []
    for cell in cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or ""
        if cell.get("cell_type") != "code" or not grade_id.endswith(CHECK_SUFFIX):
            continue
        source = cell.get("source", "")
        key = key_of(source if isinstance(source, str) else "".join(source))
        if key is not None:
            found.append((grade_id.removesuffix(CHECK_SUFFIX), key))
    return tuple(found)


def key_for(item: str) -> Key | None:
    """The key of the check `item` ("m01-q1"), or None when it cannot be read here (no solutions/, no such
    check). Raises KeysWithheld in after-grading mode."""
    if feedback_mode() != AFTER_ANSWERING:
        raise KeysWithheld("Knowledge-check keys are shown after grading on this site.")
    try:
        module = module_of(item)
    except ValueError:
        return None
    return module_keys(module).get(item)

"""Named cheat fixtures, in nbgrader's style: each takes a filled copy of a module's release notebook in which
every knowledge check is answered wrong, and returns it with one way of trying to pass the checks anyway.
Each was tried against the course (issue 11); all must score exactly 0."""
from __future__ import annotations

import copy

YES = ("class Yes(str):\n"
       "    def __eq__(self, other): return True\n"
       "    def __ne__(self, other): return False\n"
       "    __hash__ = str.__hash__\n"
       "    def lower(self): return self\n"
       "    def strip(self, *a): return self\n")


def _id(cell) -> str | None:
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def _answer_cells(nb) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")]


def _above_first_answer(code: str):
    """Code placed above `answer = …` in the first answer cell."""
    def cheat(nb):
        cell = _answer_cells(nb)[0]
        cell["source"] = code + "\n" + _source(cell)
        return nb
    return cheat


def _new_cell_first(code: str):
    """A code cell of the learner's own, added before every answer cell."""
    def cheat(nb):
        first = nb["cells"].index(_answer_cells(nb)[0])
        nb["cells"].insert(first, {"cell_type": "code", "metadata": {}, "source": code, "outputs": [],
                                   "execution_count": None, "id": "learner-added"})
        return nb
    return cheat


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _checks(nb) -> list[dict]:
    return [c for c in nb["cells"] if (_id(c) or "").endswith("-check")]


def _delete_checks(nb):
    for cell in _checks(nb):
        nb["cells"].remove(cell)
    return nb


def _edit_checks(nb):
    for cell in _checks(nb):
        cell["source"] = "pass"
    return nb


def _more_points(nb):
    for cell in _checks(nb):
        cell["metadata"]["nbgrader"]["points"] = 100
    return nb


def _always_equal(nb):
    """Every answer a str whose == is always true (fill writes `answer = 'x'`)."""
    for cell in _answer_cells(nb):
        line = next(x for x in _source(cell).split("\n") if x.startswith("answer = "))
        cell["source"] = YES + _source(cell).replace(line, f"answer = Yes({line[len('answer = '):]})")
    return nb


def _decoys(nb):
    """After each answer cell (given extra code), a raw cell carrying the answer's id whose text is the
    released cell answered "b": nbgrader turns it into a code cell, and the last cell with an id used to win."""
    for cell in _answer_cells(nb):
        decoy = _source(cell).replace(next(x for x in _source(cell).split("\n") if x.startswith("answer = ")),
                                      'answer = "b"')
        cell["source"] = "import os\n" + _source(cell)
        meta = {"nbgrader": {"grade_id": _id(cell), "grade": False, "solution": False, "locked": False,
                             "schema_version": 3}}
        nb["cells"].insert(nb["cells"].index(cell) + 1, {"cell_type": "raw", "metadata": meta, "source": decoy,
                                                         "id": f"decoy-{_id(cell)}"})
    return nb


def _deep_nesting(nb):
    cell = _answer_cells(nb)[0]
    line = next(x for x in _source(cell).split("\n") if x.startswith("answer = "))
    cell["source"] = _source(cell).replace(line, "answer = " + "-" * 5000 + "1")
    return nb


CAPTURE = ("_seen = []\n"
           "get_ipython().events.register('pre_run_cell', lambda info: _seen.append(info.raw_cell))\n"
           )


def _capture_hidden_tests(nb):
    """Record every cell's source as it runs (the hidden tests included) and print them in a last cell."""
    nb = _above_first_answer(CAPTURE)(nb)
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "id": "learner-print", "source": "print([s for s in _seen if 'assert' in s])"})
    return nb


CHEATS = {
    "replaced-letter-function": _above_first_answer(
        YES + "import course.lesson.validation\ncourse.validation.letter = lambda answer: Yes('x')"),
    "always-equal-answer": _always_equal,
    "fake-validation-module": _above_first_answer(
        YES + "import sys, types\nsys.modules['course.lesson.validation'] = types.SimpleNamespace("
              "letter=lambda answer: Yes('x'))"),
    "input-transformer-drops-asserts": _above_first_answer(
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: [l for l in lines if not l.lstrip().startswith(('assert', '\"', \"'\", ')'))])"),
    "ast-transformer-drops-asserts": _above_first_answer(
        "import ast\nclass Drop(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node): return ast.Pass()\n"
        "get_ipython().ast_transformers.append(Drop())"),
    "silenced-tracebacks": _above_first_answer(
        "get_ipython().showtraceback = lambda *a, **k: None\nget_ipython()._showtraceback = lambda *a, **k: None"),
    "custom-exception-handler": _above_first_answer(
        "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)"),
    "patched-import": _above_first_answer(
        YES + "import builtins, types\n_real = builtins.__import__\n"
              "def _imp(name, *a, **k):\n"
              "    if name == 'course.lesson.validation':\n"
              "        return types.SimpleNamespace(letter=lambda answer: Yes('x'))\n"
              "    return _real(name, *a, **k)\nbuiltins.__import__ = _imp"),
    "pre-run-hook-repatches": _above_first_answer(
        YES + "import course.lesson.validation\n"
              "def _patch(*a):\n    course.lesson.validation.letter = lambda answer: Yes('x')\n"
              "get_ipython().events.register('pre_run_cell', _patch)"),
    "own-cell-before-answers": _new_cell_first(
        YES + "import course.lesson.validation\ncourse.validation.letter = lambda answer: Yes('x')"),
    "deleted-check-cells": _delete_checks,
    "edited-check-cells": _edit_checks,
    "check-cells-worth-more": _more_points,
    "decoy-cells-carrying-answer-ids": _decoys,
    "answer-nested-past-the-parser": _deep_nesting,
    "captures-hidden-tests-for-feedback": _capture_hidden_tests,
}

# Which cheats change an answer cell (so their checks are flagged, not only scored 0).
CHANGES_ANSWER_CELLS = {name for name in CHEATS
                        if name not in ("own-cell-before-answers", "deleted-check-cells", "edited-check-cells",
                                        "check-cells-worth-more")}


def cheat(name: str, nb: dict) -> dict:
    return CHEATS[name](copy.deepcopy(nb))

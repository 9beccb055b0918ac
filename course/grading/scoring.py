"""Knowledge checks scored from what was answered, outside the learner's kernel.

A hidden test runs in the learner's kernel after the learner's code, so anything it calls or compares can be
replaced from an answer cell. The grade therefore comes from the text of the submitted answer cell, read here
with `ast` in the grader's process: the cell must be the released cell with only the answer line's value
changed to a string literal; anything more scores 0 and is flagged. The key and its explanation come from the
hidden test as the gradebook keeps it (`assert letter(answer) == "b", "explanation"`), never from the kernel.
"""
from __future__ import annotations

import ast

from nbformat.v4 import new_output
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades

from course import upstream
from course.lesson.keys import Key, key_of  # noqa: F401  (Key: part of this module's interface)
from course.lesson.validation import letter

CHANGED = "AnswerCellChanged"  # the error name a flagged check shows, and the start of its formgrader comment
CHANGED_COMMENT = (f"{CHANGED}: this answer cell held more than its answer line, so its check scored 0. "
                   "(For graders: if the change was innocent, re-mark the check by hand.)")
CHANGED_FEEDBACK = ("This check scored 0 because its answer cell held more than the answer line. Only the letter "
                    "in `answer = \"…\"` may change; the rest of the cell must stay as it was given to you. "
                    "Your facilitator can see this and can re-mark it.")


def _is_answer_line(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "answer")


MAX_ANSWER_CELL = 20_000  # characters: the released cells are under 1,000


def answer_of(submitted: str, released: str) -> tuple[bool, str | None]:
    """(as released, answer): whether `submitted` is the `released` answer cell with only the answer line's
    value changed (to a string literal, or left as None), and that string."""
    if len(submitted) > MAX_ANSWER_CELL:
        return False, None
    try:
        got, want = ast.parse(submitted).body, ast.parse(released).body
        return _compare(got, want)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False, None


def _compare(got: list[ast.stmt], want: list[ast.stmt]) -> tuple[bool, str | None]:
    if len(got) != len(want):
        return False, None
    answer = None
    for mine, theirs in zip(got, want):
        if _is_answer_line(theirs):
            value = mine.value if _is_answer_line(mine) else None
            if not isinstance(value, ast.Constant) or not isinstance(value.value, (str, type(None))):
                return False, None
            answer = value.value
        elif ast.dump(mine) != ast.dump(theirs):
            return False, None
    return True, answer


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class ScoreFromAnswer(NbGraderPreprocessor):
    """After execution, set each knowledge check's outcome from its answer cell's text (see the module's
    docstring): no output for a right answer, the explanation for a wrong one, `AnswerCellChanged` for a cell
    that holds more than its answer line. The kernel's own output of the check cell is discarded.
    A check cell the learner deleted is put back, so it is scored too. Flagged ids go to
    `resources["allies"]["changed"]` for `SaveGrades`."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        carriers = {}
        for cell in nb.cells:
            if _grade_id(cell):
                carriers.setdefault(_grade_id(cell), []).append(cell)
        changed = []
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            for grade_cell in notebook.grade_cells:
                if grade_cell.cell_type != "code":
                    continue
                test = gb.find_source_cell(grade_cell.name, info["notebook"], info["assignment"]).source
                key = key_of(test)
                if key is None or not grade_cell.name.endswith("-check"):
                    continue
                answer_id = grade_cell.name.removesuffix("-check")
                try:
                    released = gb.find_source_cell(answer_id, info["notebook"], info["assignment"]).source
                except MissingEntry:
                    continue
                # Exactly one cell may carry the answer's id, and it must be the code answer cell: a second
                # cell with the same id (a decoy that nbgrader would turn into the answer) flags the check.
                found = carriers.get(answer_id, [])
                submitted = found[0] if len(found) == 1 and found[0].cell_type == "code" else None
                intact, answer = answer_of(submitted.source, released) if submitted else (False, None)
                if not intact:
                    changed.append(answer_id)
                    outputs = [_error(CHANGED, CHANGED_FEEDBACK)]
                elif letter(answer) == letter(key.letter):
                    outputs = []
                else:
                    outputs = [_error("AssertionError", key.explanation)]
                checks = [c for c in carriers.get(grade_cell.name, []) if c.cell_type == "code"]
                if not any(c.metadata["nbgrader"].get("grade") for c in checks):
                    # deleted (or only a decoy left): put it back at the end, from the gradebook, to be scored
                    from nbformat.v4 import new_code_cell

                    checks.append(new_code_cell(test, metadata={"nbgrader": {
                        "grade": True, "solution": False, "locked": True, "task": False, "schema_version": 3,
                        "grade_id": grade_cell.name, "points": grade_cell.max_score}}))
                    nb.cells.append(checks[-1])
                for check in checks:
                    check.outputs = outputs
        resources.setdefault("allies", {})["changed"] = changed
        return nb, resources


class SaveGrades(upstream.with_comment_hook(SaveAutoGrades)):
    """nbgrader's SaveAutoGrades, which also leaves a formgrader comment on each flagged answer cell."""

    def comment_added(self, cell, resources):
        if cell.metadata["nbgrader"]["grade_id"] in resources.get("allies", {}).get("changed", ()):
            comment = self.gradebook.find_comment(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                                  self.assignment_id, self.student_id)
            comment.auto_comment = CHANGED_COMMENT
            self.gradebook.db.commit()

"""Feedback on knowledge checks when it helps learning: a self-paced learner sees right or wrong and the
explanation from the hidden test as soon as they answer; a site that keeps keys until grading never reads
them (`course.lesson.keys`), and the check says the answer is recorded."""
import subprocess
import sys

import pytest
from conftest import ROOT, correct_answers
from test_knowledge_checks import checks

from course.lesson import keys, validation, widgets
from course.grading import release, scoring

ITEM, RIGHT, WRONG = "m01-q1", "b", "a"  # as solutions/ asserts it


OPTIONS = {grade_id: options for grade_id, options, _ in checks()}


def options_of(item: str) -> dict[str, str]:
    return OPTIONS[item]


@pytest.fixture
def after_answering(monkeypatch):
    monkeypatch.setenv(keys.FEEDBACK_ENV, keys.AFTER_ANSWERING)


@pytest.fixture
def after_grading(monkeypatch):
    monkeypatch.setenv(keys.FEEDBACK_ENV, keys.AFTER_GRADING)


def explanation(item: str = ITEM) -> str:
    """The hidden test's explanation, read from solutions/ the grader's way (`scoring.key_of`)."""
    import json

    module = next(n for n in release.module_names() if n.startswith(item[1:3]))
    cells = json.loads((ROOT / "solutions" / f"{module}.ipynb").read_text(encoding="utf-8"))["cells"]
    test = next("".join(c["source"]) for c in cells
                if c["metadata"].get("nbgrader", {}).get("grade_id") == f"{item}-check")
    return scoring.key_of(test).explanation


def shown_in_notebook(monkeypatch, answer, item: str = ITEM) -> str:
    """The HTML a notebook cell shows for `knowledge_check(item, answer, …)` (what JupyterLab renders)."""
    shown = []
    monkeypatch.setattr(widgets, "display", lambda obj: shown.append(obj.data))
    assert widgets.knowledge_check(item, answer, "A question", options_of(item)) is None
    return "".join(shown)


# -- the key reader ------------------------------------------------------------------------------------
def test_every_check_in_solutions_has_a_key_and_an_explanation_matching_its_solution(after_answering):
    counted = 0
    for name in release.module_names():
        read = keys.module_keys(name)
        assert {item: validation.letter(key.letter) for item, key in read.items()} == \
            {item: validation.letter(letter) for item, letter in correct_answers(name, checks_only=True).items()}
        for item, key in read.items():
            assert len(key.explanation) > 40, item
            assert keys.key_for(item) == key
            assert key.explanation == explanation(item)
        counted += len(read)
    assert counted == len(checks())


def test_scoring_reads_keys_with_the_kernel_safe_reader():
    assert scoring.key_of is keys.key_of and scoring.Key is keys.Key


def test_the_key_reader_imports_nothing_a_learner_kernel_must_not_carry():
    code = ("import sys, course.lesson.keys, course.lesson.widgets; course.lesson.keys.key_for('m01-q1'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('nbgrader', 'jupyter_server', 'sqlalchemy', 'voila')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_key_reader_refuses_after_grading(after_grading):
    with pytest.raises(keys.KeysWithheld):
        keys.module_keys("01-why-men-why-now")
    with pytest.raises(keys.KeysWithheld):
        keys.key_for(ITEM)


@pytest.mark.parametrize("env, voila, expected", [
    (None, False, keys.AFTER_ANSWERING),   # JupyterLab, self-paced
    (None, True, keys.AFTER_GRADING),      # a Voilà site that did not say: the safe side
    ("after-answering", True, keys.AFTER_ANSWERING),
    ("after-grading", False, keys.AFTER_GRADING),
    ("soon", False, keys.AFTER_GRADING),   # anything else: the safe side
])
def test_the_feedback_mode_comes_from_the_server_and_errs_on_the_safe_side(monkeypatch, env, voila, expected):
    for name in ("VOILA_KERNEL_ID", "VOILA_PREHEAT", "VOILA_APP_PORT", "VOILA_BASE_URL", keys.FEEDBACK_ENV):
        monkeypatch.delenv(name, raising=False)
    if env is not None:
        monkeypatch.setenv(keys.FEEDBACK_ENV, env)
    if voila:
        monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    assert keys.feedback_mode() == expected


def test_without_solutions_there_are_no_keys(after_answering, monkeypatch, tmp_path):
    monkeypatch.setenv("ALLIES_SOLUTIONS_DIR", str(tmp_path))
    assert keys.module_keys("01-why-men-why-now") == {} and keys.key_for(ITEM) is None


# -- the notebook (JupyterLab) -------------------------------------------------------------------------
def test_in_a_notebook_a_right_answer_is_confirmed_with_the_explanation(after_answering, monkeypatch):
    html = shown_in_notebook(monkeypatch, RIGHT.upper())
    assert f"Yes, ({RIGHT}) is right." in html and 'data-right="true"' in html
    assert validation.escaped(explanation()) in html and "Not quite" not in html


def test_in_a_notebook_a_wrong_answer_gets_the_right_one_and_why_kindly(after_answering, monkeypatch):
    html = shown_in_notebook(monkeypatch, WRONG)
    assert f"Not quite: the answer is ({RIGHT}), not ({WRONG})." in html and 'data-right="false"' in html
    assert validation.escaped(explanation()) in html
    assert "allies-problem" not in html  # not shown as an error


def test_in_a_notebook_without_solutions_the_answer_is_recorded_for_grading(after_answering, monkeypatch,
                                                                            tmp_path):
    monkeypatch.setenv("ALLIES_SOLUTIONS_DIR", str(tmp_path))
    html = shown_in_notebook(monkeypatch, WRONG)
    assert f"Recorded: ({WRONG})" in html and "checked when the module is graded" in html
    assert "Not quite" not in html and "allies-check-feedback" not in html


def test_in_a_notebook_no_answer_yet_reads_no_key(after_grading, monkeypatch):
    html = shown_in_notebook(monkeypatch, None)
    assert "Not answered yet" in html


# -- the website's widget (Voilà) ----------------------------------------------------------------------
def website_check(monkeypatch, mode: str):
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    monkeypatch.setenv(keys.FEEDBACK_ENV, mode)
    monkeypatch.setattr(widgets, "display", lambda obj: None)
    return widgets.knowledge_check(ITEM, None, "A question", options_of(ITEM))


def test_on_a_site_giving_feedback_after_answering_the_widget_says_right_or_wrong_and_why(monkeypatch):
    box = website_check(monkeypatch, keys.AFTER_ANSWERING)
    assert "Not answered yet." in box.status.value and explanation()[:30] not in box.status.value
    box.field.value = WRONG
    assert f"Not quite: the answer is ({RIGHT}), not ({WRONG})." in box.status.value
    assert validation.escaped(explanation()) in box.status.value
    box.field.value = RIGHT
    assert f"Yes, ({RIGHT}) is right." in box.status.value
    assert validation.escaped(explanation()) in box.status.value


def test_on_a_site_giving_feedback_after_grading_the_widget_only_records(monkeypatch):
    box = website_check(monkeypatch, keys.AFTER_GRADING)
    for value in (WRONG, RIGHT):
        box.field.value = value
        shown = box.status.value
        assert f"Recorded: ({value})" in shown and "checked when the module is graded" in shown
        assert "is right" not in shown and "Not quite" not in shown
        assert explanation()[:30] not in shown

"""Module 7, the return visit, in the learner's kernel and on the index: the Module 6 commitments come back
(from the answer store on the websites, from the Module 6 notebook in JupyterLab), every record and plan is a
saved answer of Module 7, the "then" and "now" ratings are read with care, and the index offers Module 7 once
the plan's check-in date has passed and the instructor has opened it."""
import datetime as dt
import json
import os
import re
import stat
import time

import pytest
from conftest import ROOT

from course.contract import ITEM_ID, module_number
from course.grading import course_dir, schedule
from course import paths
from course.lesson import follow_through, self_assessment, session
from course.lesson.figures import four_weeks
from course.store.answers import AnswerStore
from course.web import progress

M6, M7 = "06-from-learning-to-leading", "07-four-weeks-on"
PLAN = {"m06-plan-action1": "sponsor", "m06-plan-step1": "Ask Priya about the platform talk",
        "m06-plan-by1": "2026-03-14", "m06-plan-action2": "", "m06-plan-step2": "<b>Hand back</b> the floor",
        "m06-plan-check-in": "2026-03-20"}


def _website(monkeypatch, store_path=None, learner=None):
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    current = session.Session(str(store_path) if store_path else None, learner)
    current.ready.set()
    monkeypatch.setattr(session, "_current", current)
    return current


def _store(tmp_path, saved: dict[str, str], module: str = M6, learner: str = "ana"):
    path = tmp_path / "answers.sqlite3"
    with AnswerStore(path) as store:
        store.add_learner(learner, learner.title())
        for item, value in saved.items():
            store.save(learner, module, item, value)
    return path


def _saved(store_path, learner: str = "ana") -> dict[str, str]:
    with AnswerStore(store_path) as store:
        return store.load(learner, M7)


def _until(condition, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


# -- the commitments come back ---------------------------------------------------------------------------

def test_every_module_7_item_is_an_item_of_module_7():
    assert len(set(follow_through.ITEMS)) == len(follow_through.ITEMS)
    assert all(ITEM_ID.fullmatch(item) and module_number(item) == "07" for item in follow_through.ITEMS)
    assert paths.module_of(follow_through.ITEMS[0]) == M7


def test_a_saved_plan_becomes_commitment_lines_with_action_names_and_dates():
    assert follow_through.from_saved(PLAN) == [
        {"action": "sponsor", "text": "Sponsor a high-potential woman: Ask Priya about the platform talk (by 2026-03-14)"},
        {"action": "", "text": "<b>Hand back</b> the floor"}]
    assert follow_through.from_saved({}) == []


def test_on_the_website_the_module_6_plan_fills_the_review_once_and_is_saved_as_module_7(tmp_path, monkeypatch):
    store_path = _store(tmp_path, PLAN)
    _website(monkeypatch, store_path, "ana")
    review = follow_through.review()
    first = review.records[0]
    _until(lambda: "from Module 6 are below" in review.message.value)
    assert first["commitment"].value.startswith("Sponsor a high-potential woman: Ask Priya")
    assert first["action"].value == "sponsor" and review.records[1]["action"].value == ""
    _until(lambda: {"m07-c1-commitment", "m07-c1-action", "m07-c2-commitment"} <= set(_saved(store_path)))
    assert _saved(store_path)["m07-c1-commitment"] == first["commitment"].value
    assert _saved(store_path)["m07-c2-commitment"] == "<b>Hand back</b> the floor"
    first["commitment"].value = "Sponsor Priya for the platform talk"  # the learner's own words from now on
    first["status"].value = "partly"
    _until(lambda: _saved(store_path).get("m07-c1-status") == "partly")
    assert "1 partly" in review.summary.value
    _until(lambda: _saved(store_path)["m07-c1-commitment"] == "Sponsor Priya for the platform talk")

    _website(monkeypatch, store_path, "ana")  # a reload: a new kernel, the same learner
    again = follow_through.review()
    _until(lambda: "below" in again.message.value)
    assert again.records[0]["commitment"].value == "Sponsor Priya for the platform talk"
    assert again.records[0]["status"].value == "partly"


def test_without_a_saved_plan_the_review_asks_for_the_commitments(tmp_path, monkeypatch):
    _website(monkeypatch, _store(tmp_path, {}), "ben")
    review = follow_through.review()
    _until(lambda: "No plan from Module 6 is saved here" in review.message.value)
    assert all(r["commitment"].value == "" for r in review.records)


def test_in_jupyterlab_the_commitments_are_read_from_the_module_6_notebook_and_never_run(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("course.lesson.follow_through.display", lambda obj: shown.append(obj.data))
    here, sibling = tmp_path / M7, tmp_path / M6
    here.mkdir()
    sibling.mkdir()
    nb = json.loads((ROOT / "modules" / f"{M6}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "action-plan" in c["metadata"].get("tags", []))
    cell["source"] = ('import os; os.system("touch pwned")\nmy_plan = {"commitments": [{"action": "sponsor", '
                      '"first_step": "Ask <i>Priya</i>", "by": "Friday"}], "partner": "Sam"}\n'
                      'leading.action_plan(my_plan)')
    (sibling / f"{M6}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    monkeypatch.chdir(here)
    follow_through.review([{"situation": "Design review", "status": "Done"}])
    assert "Sponsor a high-potential woman: Ask &lt;i&gt;Priya&lt;/i&gt; (by Friday)" in shown[-1]
    assert "<i>Priya" not in shown[-1] and "1 done" in shown[-1] and not (here / "pwned").exists()
    assert not (sibling / "pwned").exists()


@pytest.mark.parametrize("content, says", [(None, "was not found"), ("{not json", "could not be read"),
                                           ('{"cells": []}', "still empty")])
def test_in_jupyterlab_a_missing_or_unusable_plan_asks_for_the_commitments(tmp_path, monkeypatch, content, says):
    shown = []
    monkeypatch.setattr("course.lesson.follow_through.display", lambda obj: shown.append(obj.data))
    if content is not None:
        (tmp_path / f"{M6}.ipynb").write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    follow_through.review([{"commitment": "Credit ideas", "status": "soon"}])
    assert says in shown[-1] and "Credit ideas" in shown[-1]
    assert "should be &quot;done&quot;, &quot;partly&quot; or &quot;not yet&quot;" in shown[-1]


@pytest.mark.parametrize("raw", [None, 3, "text", [None, 5], [{"status": object()}], {"commitment": "One"}])
def test_any_jupyterlab_review_gets_a_message_not_a_traceback(raw, tmp_path, monkeypatch):
    monkeypatch.setattr("course.lesson.follow_through.display", lambda obj: None)
    monkeypatch.chdir(tmp_path)
    follow_through.review(raw)


# -- if-then plans ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("when, then, expected", [
    ("someone is talked over", "hand the floor back", "When someone is talked over, I will hand the floor back."),
    ("When the panel is all men,", "I will suggest two names.", "When the panel is all men, I will suggest two names."),
    ("if a joke lands on her", "then I'll say that's not funny", "When a joke lands on her, I will say that's not funny."),
    ("", "do something", ""), ("a meeting starts", "  ", ""),
])
def test_if_then_plans_read_as_one_sentence_without_doubled_words(when, then, expected):
    assert follow_through.if_then_text(when, then) == expected


def test_website_if_then_plans_are_saved_answers_with_an_escaped_preview_and_a_file(tmp_path, monkeypatch):
    store_path = _store(tmp_path, {})
    _website(monkeypatch, store_path, "ana")
    plans = follow_through.if_then()
    (when, then), _second = plans.pairs
    when.value, then.value = "<script>x</script> stand-up runs over", "say **one** line"
    assert "&lt;script&gt;" in plans.preview.value and "<script>" not in plans.preview.value
    assert "my-if-then-plans.md" in plans.preview.value
    _until(lambda: _saved(store_path).get("m07-if1-then") == "say **one** line")
    markdown = follow_through.if_then_markdown(plans.plans())
    assert "\\*\\*one\\*\\*" in markdown and "&lt;script&gt;" in markdown


def test_jupyterlab_if_then_plans_say_what_is_missing(monkeypatch):
    shown = []
    monkeypatch.setattr("course.lesson.follow_through.display", lambda obj: shown.append(obj.data))
    follow_through.if_then([{"when": "stand-up", "i_will": ""}, "junk"])
    assert "needs both halves" in shown[-1] and "0 so far" in shown[-1]
    follow_through.if_then([{"when": "stand-up runs over", "i_will": "ask who has not spoken"}] * 2)
    assert shown[-1].count("When stand-up runs over, I will ask who has not spoken.") == 2


# -- then and now ---------------------------------------------------------------------------------------------

def test_website_then_and_now_are_two_rounds_of_module_7_items(monkeypatch):
    _website(monkeypatch)
    widget = self_assessment.revisit()
    boxes = [c for part in widget.children for c in getattr(part, "children", ()) if "allies-answer" in c._dom_classes]
    ids = [next(k for k in b._dom_classes if k.startswith("allies-item-")) for b in boxes]
    keys = [i.key for i in self_assessment.items()]
    assert ids == [f"allies-item-m07-then-{k}" for k in keys] + [f"allies-item-m07-{k}" for k in keys]


def test_website_revisit_reads_the_start_from_the_store_and_says_what_a_lower_then_may_mean(tmp_path, monkeypatch):
    store_path = _store(tmp_path, {"m00-s2": "3"}, module="00-before-you-start")
    _website(monkeypatch, store_path, "ana")
    widget = self_assessment.revisit()
    message, view = widget.children[-2], widget.children[-1]
    _until(lambda: "reading below the chart" in message.value)
    then, now = (self_assessment.Revisit.ROUNDS[0][0], self_assessment.Revisit.ROUNDS[1][0])
    fields = [c for part in widget.children for c in getattr(part, "children", ()) if "allies-answer" in c._dom_classes]
    by_item = {f.item: f.field for f in fields}
    by_item[f"{then}-s2"].value = "1"
    by_item[f"{now}-s2"].value = "3"
    _until(lambda: "yardstick may have changed" in view.value)
    assert "then, looking back Not yet, now Sometimes" in view.value
    assert "expecting to have improved" in view.value
    with AnswerStore(store_path) as store:
        assert store.load("ana", M7) == {"m07-then-s2": "1", "m07-s2": "3"}


def test_jupyterlab_revisit_shows_then_and_now_and_the_start_when_given(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    self_assessment.revisit({"s2": 2, "s3": "often"}, {"s2": 4, "s3": 4}, start={"s2": 3})
    assert "Then, looking back" in shown[-1] and "lower than you did at the time" in shown[-1]
    self_assessment.revisit({"s9": 1}, None, start={})
    assert "is not one of the questions" in shown[-1]


# -- the evidence ----------------------------------------------------------------------------------------------

def test_the_follow_up_explorer_draws_each_study_with_its_badge_and_caution():
    explorer = four_weeks.follow_ups()
    views = explorer.every_view()
    assert len(views) == 1 + len(four_weeks._rows())
    devine = views[[r["study"] for r in four_weeks._rows()].index("devine") + 1]
    assert "Contested" in devine and "replication" in devine and 'alt="' in devine


def test_module_7_teaches_the_figures_it_checked_from_data():
    panel = four_weeks.what_lasts().data
    assert "d = 0.65" in panel and "94 independent tests" in panel and "196 supervisors" in panel
    assert "no study that tested if-then plans for allyship" in panel


# -- the index ---------------------------------------------------------------------------------------------

def _progress(tmp_path, saved, today, schedule=None, submitted=False):
    store_path = _store(tmp_path, saved)
    if schedule is not None:
        (tmp_path / "schedule.json").write_text(json.dumps(schedule), encoding="utf-8")
    with AnswerStore(store_path) as store:
        if submitted:
            store.record_submission("ana", M7, "/nowhere")
        return progress.of(store, "ana", today=today, instance=tmp_path)


def test_module_7_waits_once_the_check_in_date_has_passed(tmp_path):
    found = _progress(tmp_path, PLAN, dt.date(2026, 3, 20))
    assert found["waiting"] == {"path": f"{M7}.ipynb", "check_in": "2026-03-20"}


def test_a_module_with_only_a_plan_saved_is_started_and_the_one_to_continue(tmp_path):
    """Module 6 with a plan but no check or reflection answered said "Not started", while the index offered to
    continue there: a module with anything saved is started."""
    found = _progress(tmp_path, PLAN, dt.date(2026, 3, 1))
    plan = next(m for m in found["modules"] if m["path"] == "06-from-learning-to-leading.ipynb")
    assert plan["started"] and plan["answered"] == 0 and found["continue"] == plan["path"]
    assert not any(m["started"] for m in found["modules"] if m is not plan)


@pytest.mark.parametrize("check_in, today, schedule, submitted", [
    ("2026-03-20", dt.date(2026, 3, 19), None, False),  # not yet
    ("next month", dt.date(2030, 1, 1), None, False),  # not a date
    ("2026-03-20", dt.date(2026, 4, 1), {M7: {"opens": "2999-01-01T09:00:00Z"}}, False),  # not open yet
    ("2026-03-20", dt.date(2026, 4, 1), None, True),  # handed in
])
def test_module_7_does_not_wait_before_the_date_or_the_opening_or_after_hand_in(tmp_path, check_in, today,
                                                                                schedule, submitted):
    found = _progress(tmp_path, {**PLAN, "m06-plan-check-in": check_in}, today, schedule, submitted)
    assert found["waiting"] is None


def test_the_index_carries_the_instructors_dates_and_ignores_a_broken_schedule(tmp_path):
    dates = {M7: {"opens": "2026-04-04T09:00:00Z", "due": "2026-04-18T17:00:00Z", "other": 1}, "x": 3}
    found = _progress(tmp_path, {}, dt.date(2026, 1, 1), dates)
    line = next(m for m in found["modules"] if m["path"] == f"{M7}.ipynb")
    assert line["opens"] == "2026-04-04T09:00:00Z" and line["due"] == "2026-04-18T17:00:00Z" and "other" not in line
    (tmp_path / "schedule.json").write_text("[not json", encoding="utf-8")
    assert progress.schedule(tmp_path) == {}


def test_the_instructor_sets_when_module_7_opens_and_is_due_for_the_site(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    course = course_dir.Course(root=tmp_path, course_id="c", exchange=tmp_path / "x", instance=instance,
                               modules=["06-from-learning-to-leading", M7])
    schedule.set_schedule(course, schedule.duedates([f"{M7}=2026-04-04 09:00"], "--opens"),
                          schedule.duedates([f"{M7}=2026-04-18 17:00 UTC"]))
    schedule.set_schedule(course, {}, schedule.duedates(["06-from-learning-to-leading=2026-03-01"]))
    written = json.loads((instance / "schedule.json").read_text(encoding="utf-8"))
    assert written == {M7: {"opens": "2026-04-04T09:00:00Z", "due": "2026-04-18T17:00:00Z"},
                       "06-from-learning-to-leading": {"due": "2026-03-01T00:00:00Z"}}
    assert stat.S_IMODE(os.stat(instance / "schedule.json").st_mode) == 0o600
    with pytest.raises(SystemExit, match="unknown modules: 09-nope"):
        schedule.set_schedule(course, schedule.duedates(["09-nope=2026-01-01"], "--opens"), {})
    with pytest.raises(SystemExit, match="--opens takes MODULE=WHEN"):
        schedule.duedates(["07-four-weeks-on"], "--opens")


def test_the_index_page_says_module_7_is_waiting():
    page = (ROOT / "course" / "jupyter" / "voila" / "templates" / "allies" / "tree.html").read_text(encoding="utf-8")
    assert re.search(r"Module 7 is waiting for you", page) and 'id="waiting"' in page


def test_module_7_input_cells_are_editable_outside_grading_and_call_course():
    for folder in ("solutions", "modules"):
        nb = json.loads((ROOT / folder / f"{M7}.ipynb").read_text(encoding="utf-8"))
        inputs = [c for c in nb["cells"] if c["metadata"].get("tags")]
        assert [c["metadata"]["tags"][0] for c in inputs] == ["review", "self-assessment", "if-then"]
        for cell in inputs:
            assert "nbgrader" not in cell["metadata"] and cell["metadata"].get("editable", True)
        sources = ["".join(c["source"]) for c in inputs]
        assert "follow_through.review(my_review)" in sources[0]
        assert "self_assessment.revisit(my_then, my_now)" in sources[1]
        assert "follow_through.if_then(my_if_then)" in sources[2]
    assert "".join(nb["cells"][-1]["source"]) == f'submit_module("{M7}")'

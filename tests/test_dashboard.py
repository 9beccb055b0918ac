"""The instructors' cohort dashboard: counts that are right (completion, item analysis against the correct
letters in solutions/, the self-assessment shift, reflection word counts), learners without answers
counted, instructors not counted, an empty cohort said plainly, no reflection text anywhere; and the
instructor site, which lets in instructors only. The cohorts are kept on both of the answer store's back
ends, SQLite and PostgreSQL (a server the suite starts), and every count is checked on both."""
import http.client
import re
import subprocess
import sys
import time
import urllib.parse
import zipfile

import nbformat
import pytest
from conftest import ROOT, STORE_BACKENDS, Server, get, store_instance
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from playwright.sync_api import expect

from course.web import dashboard, instructor_site
from course.web.dashboard import Statement
from course.instance import Instance
from course.store.answers import AnswerStore

M0, M1, M6 = "00-before-you-start", "01-demo", "06-from-learning-to-leading"
CANARY = "CANARY-7f3a only Ana and her graders may read this"
STAFF_CANARY = "STAFF-CANARY-2c9e"
SLOW = 60_000  # ms: the dashboard's kernel starts and draws on 2 cores


# -- a small course and a cohort with known answers ---------------------------------------------------

def _meta(grade_id, *, solution=False, grade=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _check(item, correct, prompt):
    source = (f'### BEGIN SOLUTION\nanswer = "{correct}"\n### END SOLUTION\n'
              f'knowledge_check("{item}", answer,\n    "{prompt}",\n'
              '    {"a": "One.", "b": "Two.", "c": "Three.", "d": "Four."})')
    return new_code_cell(source, metadata=_meta(item, solution=True))


def _reflection(item, heading):
    return [new_markdown_cell(f"### {heading}\n\nWrite about it.", metadata=_meta(f"{item}-prompt")),
            new_markdown_cell("*Example of a full-credit answer (for graders):* …",
                              metadata=_meta(item, solution=True, grade=True, points=3))]


def _self(item):
    return new_code_cell("### BEGIN SOLUTION\nanswer = None\n### END SOLUTION", metadata=_meta(item, solution=True))


def _write(folder, name, title, cells):
    nbformat.write(new_notebook(cells=[new_markdown_cell(f"# {title}", metadata=_meta(f"{name}-title")), *cells]),
                   folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("solutions")
    _write(folder, M0, "Orientation — Before you start", [_self("m00-s1"), _self("m00-s2")])
    _write(folder, M1, "Module 1 — A demo", [_check("m01-q1", "b", "Which is two?"),
                                             _check("m01-q2", "c", "Which is three?"),
                                             *_reflection("m01-r1", "Reflection 1 — Who was in the room?"),
                                             *_reflection("m01-r2", "Reflection 2 — Your next step")])
    _write(folder, M6, "Module 6 — From learning to leading", [_self("m06-s1"), _self("m06-s2"),
                                                                _check("m06-q1", "a", "Which is one?"),
                                                                *_reflection("m06-r1", "Reflection 1 — A plan")])
    return folder


STATEMENTS = [Statement("s1", "Where I am today", ("Lagging", "Learning", "Leading")),
              Statement("s2", "Speak up on interruptions", ("Not yet", "Rarely", "Sometimes", "Often"))]
COURSE_STATEMENTS = dashboard.statements


@pytest.fixture(autouse=True)
def known_statements(monkeypatch):
    """The self-assessment's statements are course content that may still change: fix them here."""
    monkeypatch.setattr(dashboard, "statements", lambda: STATEMENTS)


@pytest.fixture
def small_groups_shown(monkeypatch):
    """This cohort is smaller than the self-assessment's minimum group: lift it to check the arithmetic."""
    monkeypatch.setattr(dashboard, "MIN_GROUP", 1)


def fill_cohort(store):
    """Four learners (dee never answers), one instructor whose answers must not count. Returns codes."""
    codes = {who: store.add_learner(who, who.title()) for who in ("ana", "ben", "cy", "dee")}
    codes["ines"] = store.add_learner("ines", "Inés Ruiz", "instructor")
    ana_words = f"{CANARY} and more words"
    store.save("ana", M1, "m01-q1", "a")  # first choice wrong ...
    store.save("ana", M1, "m01-q1", "b")  # ... then right
    store.save("ana", M1, "m01-q2", "c")
    store.save("ana", M1, "m01-r1", ana_words)
    store.save("ana", M1, "m01-r2", "Short one.")
    store.record_submission("ana", M1, "/exchange/ana+01-demo/01-demo.ipynb")
    store.save("ben", M1, "m01-q1", "c")
    store.save("ben", M1, "m01-q2", "c")
    store.save("ben", M1, "m01-r1", "one two three")
    store.save("ben", M1, "m01-r2", "   ")  # blank: not written
    store.save("cy", M1, "m01-q1", " (B) ")  # the hidden tests accept it, so it is right
    store.save("ines", M1, "m01-q1", "d")
    store.save("ines", M1, "m01-r1", STAFF_CANARY)
    store.save("ines", M0, "m00-s1", "Lagging")
    for who, before, after in [("ana", {"s1": "Learning", "s2": "2"}, {"s1": "Leading", "s2": "4"}),
                               ("ben", {"s1": "Leading", "s2": "3"}, {"s1": "Learning"}),
                               ("cy", {"s1": "learning"}, {})]:
        for key, value in before.items():
            store.save(who, M0, f"m00-{key}", value)
        for key, value in after.items():
            store.save(who, M6, f"m06-{key}", value)
    return codes


@pytest.fixture(scope="module", params=STORE_BACKENDS)
def cohort_dir(request, tmp_path_factory):
    instance = store_instance(request, tmp_path_factory.mktemp("cohort") / "instance")
    with AnswerStore(instance.store) as store:
        codes = fill_cohort(store)
    return instance, codes


@pytest.fixture(params=STORE_BACKENDS)
def fresh_instance(request, tmp_path):
    """An instance with an empty answer store, on each back end."""
    return store_instance(request, tmp_path / "instance")


@pytest.fixture
def report(cohort_dir, solutions):
    return dashboard.build(cohort_dir[0].store, solutions)


def everything_shown(report) -> str:
    """Every piece of text the dashboard could show or export for a report."""
    charts = dashboard.draw(report)
    parts = [repr(report), repr(dashboard.tables(report))]
    parts += [chart.alt + chart.source + chart.html() for chart in charts.values()]
    parts += [chart.png.decode("latin-1") for chart in charts.values()]
    parts += [widget_text(section) for section in dashboard.page._sections(report, charts)]
    return "\n".join(parts)


def widget_text(widget) -> str:
    text = str(getattr(widget, "value", "") or "")
    return text + "".join(widget_text(child) for child in getattr(widget, "children", ()))


# -- the counts ------------------------------------------------------------------------------------

def test_correct_letters_prompts_and_reflections_come_from_the_solutions(solutions):
    spec = {module.name: module for module in dashboard.course_spec(solutions)}
    assert list(spec) == [M0, M1, M6]
    assert [(c.item, c.correct, c.prompt) for c in spec[M1].checks] == [
        ("m01-q1", "b", "Which is two?"), ("m01-q2", "c", "Which is three?")]
    assert spec[M1].reflections == (("m01-r1", "Reflection 1 — Who was in the room?"),
                                    ("m01-r2", "Reflection 2 — Your next step"))
    assert spec[M1].items == ("m01-q1", "m01-q2", "m01-r1", "m01-r2")
    assert spec[M1].label == "M1 A demo" and spec[M0].label == "Orientation"


def test_the_real_course_has_a_correct_letter_for_every_knowledge_check():
    spec = dashboard.course_spec()
    checks = [check for module in spec for check in module.checks]
    assert checks and all(check.correct in check.options for check in checks)
    assert all(module.reflections for module in spec if module.number != "00")


def test_completion_counts_every_learner_and_no_instructor(report):
    assert report.learners == 4 and report.instructors == 1
    row = {r.module: r for r in report.completion}[M1]
    assert (row.learners, row.started, row.answered_all, row.submitted, row.not_started) == (4, 3, 1, 1, 1)
    orientation = {r.module: r for r in report.completion}[M0]
    assert (orientation.started, orientation.answered_all) == (3, 2)  # cy answered one of two statements
    caption, columns, rows = dashboard.tables(report)["completion"]
    assert rows[1] == ["M1 A demo", "1 of 4 (25%)", "1 of 4 (25%)", "2", "1"]


def test_item_analysis_against_the_correct_letters(report):
    checks = {row.item: row for row in report.checks}
    q1 = checks["m01-q1"]
    assert (q1.correct, q1.learners, q1.answered, q1.right, q1.wrong, q1.unanswered) == ("b", 4, 3, 2, 1, 1)
    assert q1.first_wrong == 2  # ana's first choice and ben's only one
    assert q1.chosen == {"a": 0, "b": 2, "c": 1, "d": 0} and q1.common_wrong == "c"
    q2 = checks["m01-q2"]
    assert (q2.answered, q2.right, q2.wrong, q2.first_wrong) == (2, 2, 0, 0)
    assert checks["m06-q1"].answered == 0
    assert [row.item for row in report.most_missed()] == ["m01-q1", "m01-q2"]
    caption, columns, rows = dashboard.tables(report)["knowledge-checks"]
    assert rows[0] == ["m01-q1 (b)", "Which is two?", "3 of 4", "2 (67%)", "1 (33%)", "2 (67%)", "(c), by 1 learner"]


def test_the_self_assessment_statements_are_the_courses_own():
    statements = {s.key: s for s in COURSE_STATEMENTS()}
    assert statements["s1"].levels == ("Lagging", "Learning", "Leading")
    assert len(statements) >= 2 and all(len(s.levels) >= 3 for s in statements.values())


def test_self_assessment_shift_pairs_each_learners_answers(small_groups_shown, cohort_dir, solutions):
    report = dashboard.build(cohort_dir[0].store, solutions)
    s1, s2 = report.shift
    assert (s1.statement, s1.before, s1.after, s1.paired, s1.up, s1.same, s1.down) == ("s1", 3, 2, 2, 1, 0, 1)
    assert s1.before_mean == pytest.approx((2 + 3 + 2) / 3) and s1.after_mean == pytest.approx(2.5)
    assert (s2.before, s2.after, s2.paired, s2.up) == (2, 1, 1, 1)
    assert s1.change == pytest.approx(0) and s2.change == pytest.approx(4 - 2)
    caption, columns, rows = dashboard.tables(report)["self-assessment"]
    assert rows[0][1:] == ["1–3, Lagging to Leading", "2.3 (n=3)", "2.5 (n=2)", "2", "+0.0", "1 / 0 / 1"]


def test_self_assessment_figures_for_small_groups_stay_hidden(report):
    """Learners were told nobody sees their self-assessment: with fewer than MIN_GROUP answers, no mean and
    no count of moves is kept, charted or tabled; only how many answered."""
    assert dashboard.MIN_GROUP == 5
    s1 = report.shift[0]
    assert (s1.before, s1.after, s1.paired) == (3, 2, 2)
    assert (s1.before_mean, s1.after_mean, s1.up, s1.same, s1.down, s1.change) == (None,) * 6
    assert "self-assessment" not in dashboard.draw(report)
    caption, columns, rows = dashboard.tables(report)["self-assessment"]
    assert rows[0][2:] == ["hidden (under 5) (n=3)", "hidden (under 5) (n=2)", "2"] + ["hidden (under 5)"] * 2
    assert "at least 5 learners" in dashboard.page._no_chart("self-assessment", report)


def test_reflection_word_counts_only(report):
    words = {row.item: row for row in report.words}
    assert words["m01-r1"].counts == (3, len(CANARY.split()) + 3)
    assert words["m01-r2"].counts == (2,)  # ben's blank answer is not a reflection
    assert words["m01-r1"].written == 2 and words["m06-r1"].written == 0
    assert words["m01-r2"].bins() == [1, 0, 0, 0]


def test_no_reflection_text_reaches_any_output(report, cohort_dir, solutions, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_SOLUTIONS_DIR", str(solutions))
    shown = everything_shown(report)
    for canary in (CANARY, "CANARY-7f3a", STAFF_CANARY, "Short one", "one two three"):
        assert canary not in shown
    paths = dashboard.export_png(cohort_dir[0].root, tmp_path / "out")
    for path in (tmp_path / "out").iterdir():
        assert b"CANARY" not in path.read_bytes()
    assert {p.name for p in paths} >= {"completion.png", "knowledge-checks.png", "reflection-words.png"}


def test_every_chart_has_alt_text_that_reads_its_numbers(small_groups_shown, cohort_dir, solutions):
    report = dashboard.build(cohort_dir[0].store, solutions)
    charts = dashboard.draw(report)
    assert set(charts) == {"completion", "knowledge-checks", "self-assessment", "reflection-words"}
    assert "M1 A demo: answered every item 1 of 4 (25%), submitted 1 of 4 (25%)" in charts["completion"].alt
    assert "m01-q1: right 2, missed 1, not answered 1" in charts["knowledge-checks"].alt
    assert "Most missed: m01-q1" in charts["knowledge-checks"].alt
    assert "s1 Where I am today: of 2 who answered both, 1 higher, 0 the same, 1 lower" in charts["self-assessment"].alt
    assert "m01-r1, Reflection 1 — Who was in the room?: 2 of 4 wrote" in charts["reflection-words"].alt
    read = f'<time class="allies-utc" datetime="{report.read_at:%Y-%m-%dT%H:%MZ}">'  # said in the reader's zone,
    for chart in charts.values():                                                    # as the page's head says it
        assert chart.png.startswith(b"\x89PNG") and 'alt="' in chart.html() and read in chart.html()


def test_export_writes_each_chart_as_png_with_its_alt_text(small_groups_shown, cohort_dir, solutions, monkeypatch):
    monkeypatch.setenv("ALLIES_SOLUTIONS_DIR", str(solutions))
    instance = cohort_dir[0]
    paths = dashboard.export_png(instance.root)
    folder = instance.root / "dashboard"
    # This cohort has no Module 7 answers; its views export in test_no_learner_text_from_module_7_….
    module_7 = {"follow-through", "looking-back"}
    assert sorted(paths) == sorted(folder / f"{name}.png" for name in set(dashboard.VIEWS) - module_7)
    assert (folder / "completion.alt.txt").read_text(encoding="utf-8").startswith("Horizontal bar chart")
    assert folder.stat().st_mode & 0o077 == 0


def test_a_cohort_without_learners_shows_a_clear_empty_state(fresh_instance, solutions, monkeypatch):
    monkeypatch.setenv("ALLIES_SOLUTIONS_DIR", str(solutions))
    instance = fresh_instance
    with AnswerStore(instance.store) as store:
        store.add_learner("ines", "Inés Ruiz", "instructor")
        store.save("ines", M1, "m01-q1", "b")
    report = dashboard.build(instance.store)
    assert report.empty and report.learners == 0
    assert dashboard.draw(report) == {}
    assert all(row.answered == 0 for row in report.checks)
    dashboard.tables(report)  # no division by zero
    assert "No learners yet" in widget_text(dashboard.show(instance.root))
    assert dashboard.export_png(instance.root) == []


def test_learners_who_never_answered_are_counted_everywhere(fresh_instance, solutions, monkeypatch):
    monkeypatch.setenv("ALLIES_SOLUTIONS_DIR", str(solutions))
    instance = fresh_instance
    with AnswerStore(instance.store) as store:
        store.add_learner("ana", "Ana")
        store.add_learner("ben", "Ben")
    report = dashboard.build(instance.store)
    assert all((r.learners, r.started, r.not_started) == (2, 0, 2) for r in report.completion)
    assert all((r.learners, r.unanswered) == (2, 2) for r in report.checks)
    assert set(dashboard.draw(report)) == {"completion", "knowledge-checks"}
    text = widget_text(dashboard.show(instance.root))
    assert "No reflections written yet." in text and "No self-assessment answers yet." in text


def test_on_the_website_the_dashboard_shows_nothing_to_a_learner(cohort_dir, monkeypatch):
    instance, _ = cohort_dir
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    monkeypatch.setenv("ALLIES_STORE", str(instance.store))
    monkeypatch.setenv("HTTP_X_ALLIES_LEARNER", "ana")
    assert "instructors only" in widget_text(dashboard.show())
    monkeypatch.delenv("HTTP_X_ALLIES_LEARNER")
    assert "instructors only" in widget_text(dashboard.show())


# -- Module 7: follow-through, counted for groups of at least five --------------------------------------

M7 = "07-four-weeks-on"
HOSTILE = '<script>alert("FT-CANARY")</script> FT-CANARY-91b I said so in the review'
# (learner, Orientation s1, "then" s1, "now" s1): "then" against the Orientation moves -1, 0, -1, 0, -1, 0;
# "now" against "then" +2, +1, 0, +1, +1, 0.
RATINGS = [("l1", 2, 1, 3), ("l2", 2, 2, 3), ("l3", 3, 2, 2), ("l4", 1, 1, 2), ("l5", 2, 1, 2), ("l6", 3, 3, 3)]
# Commitment 1 is a sponsorship for all six; commitment 2 models the right behaviours for l1 to l5, and l6's
# kind of action is text the course does not know (so "other", held by one learner alone).
MARKS = {"l1": ("done", "done"), "l2": ("done", "partly"), "l3": ("partly", "partly"), "l4": ("not-yet", "not-yet"),
         "l5": ("done", "done"), "l6": ("Not yet", "done")}


def fill_follow_through(store, learners: int = 6) -> dict[str, str]:
    """`learners` learners (at most six) who made a plan in Module 6 and came back for Module 7, saving what
    its page saves (hostile text in every free field); l7 made a plan and did not come back; l8 came back
    without one; an instructor whose answers must not count. Returns the access codes."""
    codes = {who: store.add_learner(who, who.upper()) for who in ("l7", "l8")}
    codes["ines"] = store.add_learner("ines", "Inés Ruiz", "instructor")
    for who, start, then, now in RATINGS[:learners]:
        codes[who] = store.add_learner(who, who.upper())
        store.save(who, M6, "m06-plan-action1", "sponsor")
        store.save(who, M0, "m00-s1", str(start))
        store.save(who, M7, "m07-then-s1", str(then))
        store.save(who, M7, "m07-s1", str(now))
        store.save(who, M0, "m00-s2", "2")  # s2 answered by everyone at the start, never again: nothing paired
        for n, (action, status) in enumerate(zip(("sponsor", "model" if who != "l6" else HOSTILE), MARKS[who]),
                                             start=1):
            store.save(who, M7, f"m07-c{n}-commitment", HOSTILE)
            store.save(who, M7, f"m07-c{n}-action", action)
            store.save(who, M7, f"m07-c{n}-status", status)
            for field in ("situation", "did", "followed", "obstacle"):
                store.save(who, M7, f"m07-c{n}-{field}", HOSTILE)
    store.save("l7", M6, "m06-plan-step1", HOSTILE)
    store.save("l8", M7, "m07-c1-did", HOSTILE)
    store.save("l8", M7, "m07-c2-status", "maybe")  # not a mark: not counted
    for item, value in (("m07-c1-status", "done"), ("m07-c1-action", "sponsor"), ("m07-then-s1", "1")):
        store.save("ines", M7, item, value)
    return codes


@pytest.fixture(scope="module", params=STORE_BACKENDS)
def follow_instance(request, tmp_path_factory):
    """Six learners back for Module 7, to be counted against the real course in solutions/."""
    instance = store_instance(request, tmp_path_factory.mktemp("follow") / "instance")
    with AnswerStore(instance.store) as store:
        fill_follow_through(store)
    return instance


@pytest.fixture
def follow_report(follow_instance):
    return dashboard.build(follow_instance.store)


def test_follow_through_counts_commitments_by_kind_for_a_cohort_of_six(follow_report):
    follow = follow_report.follow_through
    rows = [(r.kind, r.learners, r.marked, r.done, r.partly, r.not_yet) for r in follow.commitments]
    # "model" (five learners) is counted with "other" (one), or "other" could be read off the total.
    assert rows == [("sponsor", 6, 6, 3, 1, 2), ("pooled", 6, 6, 3, 2, 1), ("all", 6, 12, 6, 3, 3)]
    assert (follow.planned, follow.returned, follow.returned_all) == (7, 6, 7)
    # l8 came back without a plan: one learner, so not said apart
    assert dashboard.formatting.returned(follow_report) == (
        "Came back for Module 7: 6 of 7 (86%) of the learners who made a plan in Module 6.")
    caption, columns, table = dashboard.tables(follow_report)["follow-through"]
    assert table[0] == ["Sponsor a high-potential woman", "6", "6", "3 (50%)", "1 (17%)", "2 (33%)"]
    assert table[-1][:3] == ["All kinds", "6", "12"]


def test_follow_through_shows_the_self_assessment_looked_back_on(follow_report):
    s1, s2 = follow_report.follow_through.looking_back
    then, now = s1.then, s1.now
    assert (then.paired, then.up, then.same, then.down) == (6, 0, 3, 3)
    assert then.change == pytest.approx(-0.5) and now.change == pytest.approx(5 / 6)
    assert (now.paired, now.up, now.same, now.down) == (6, 4, 2, 0)
    assert (s2.then.paired, s2.now.paired) == (0, 0)
    caption, columns, table = dashboard.tables(follow_report)["looking-back"]
    assert table == [["s1: Where I am today", "1–3, Lagging to Leading", "6", "-0.5", "0 / 3 / 3",
                      "6", "+0.8", "4 / 2 / 0"]]
    assert "honest snapshots, not measurements" in caption and "yardstick" in caption
    charts = dashboard.draw(follow_report)
    assert "“then” against the Orientation mean -0.5 over 6" in charts["looking-back"].alt
    assert "Sponsor a high-potential woman: 6 commitments of 6 learners, 3 done, 1 partly, 2 not yet" in \
        charts["follow-through"].alt


def test_follow_through_for_four_learners_stays_hidden(fresh_instance):
    with AnswerStore(fresh_instance.store) as store:
        fill_follow_through(store, learners=4)
    report = dashboard.build(fresh_instance.store)
    follow = report.follow_through
    assert [(r.kind, r.learners, r.marked) for r in follow.commitments] == [("pooled", 4, None), ("all", 4, None)]
    assert follow.planned == 5 and follow.returned is not None  # l7 makes five who made a plan
    assert all(not (r.then.shown or r.now.shown) for r in follow.looking_back)
    assert follow.looking_back[0].then.paired == 4
    drawn = dashboard.draw(report)
    assert "follow-through" not in drawn and "looking-back" not in drawn
    views = dashboard.tables(report)
    assert views["follow-through"][2][0][2:] == ["hidden (under 5)"] * 4
    assert views["looking-back"][2][0][3:5] == ["hidden (under 5)"] * 2
    shown = widget_text(dashboard.show(fresh_instance.root))
    assert shown.count("at least 5 learners have answered in Module 7") == 2


def test_who_came_back_is_hidden_until_five_made_a_plan_in_module_six(fresh_instance):
    with AnswerStore(fresh_instance.store) as store:
        fill_follow_through(store, learners=3)
    report = dashboard.build(fresh_instance.store)
    assert (report.follow_through.planned, report.follow_through.returned) == (4, None)
    assert "hidden until at least 5 learners have made a plan in Module 6" in dashboard.formatting.returned(report)


def test_coming_back_is_counted_against_those_who_made_a_plan(fresh_instance, solutions, tmp_path):
    """A learner with a plan has something to come back to, whether or not they answered every check or
    submitted Module 6 (a cohort that skips a quiz still gets its count); a blank answer is no answer."""
    course = tmp_path / "solutions"
    course.mkdir()
    for name in (M0, M6):
        (course / f"{name}.ipynb").write_bytes((solutions / f"{name}.ipynb").read_bytes())
    _write(course, M7, "Module 7 — Four weeks on", [_check("m07-q1", "b", "Which is two?")])
    with AnswerStore(fresh_instance.store) as store:
        for n in range(7):
            store.add_learner(f"f{n}", f"F{n}")
        for n in range(5):  # f0 to f4 make a plan, and answer nothing else in Module 6
            store.save(f"f{n}", M6, "m06-plan-step1", "Ask who did the work before the demo.")
        store.save("f5", M6, "m06-q1", "a")  # a check, no plan
        store.save("f5", M6, "m06-plan-step1", "  ")  # blank: no plan
        store.record_submission("f6", M6, "/exchange/f6.ipynb")  # submitted with no plan saved
        for who in ("f0", "f1", "f5"):
            store.save(who, M7, "m07-q1", "b")
        store.save("f2", M7, "m07-c1-did", "   ")  # blank: not an answer
    follow = dashboard.build(fresh_instance.store, course).follow_through
    assert (follow.planned, follow.returned, follow.returned_all) == (5, 2, 3)


def test_a_kind_of_action_the_course_does_not_know_is_counted_as_something_else(fresh_instance):
    """Module 7's page saves one of the five actions or "other"; anything else a request saves is counted as
    "other" and never shown, even when five learners saved it."""
    with AnswerStore(fresh_instance.store) as store:
        for who in ("k1", "k2", "k3", "k4", "k5"):
            store.add_learner(who, who.upper())
            store.save(who, M7, "m07-c1-action", HOSTILE)
            store.save(who, M7, "m07-c1-status", "done")
    report = dashboard.build(fresh_instance.store)
    assert [(r.kind, r.label, r.learners, r.done) for r in report.follow_through.commitments] == [
        ("other", "Something else", 5, 5), ("all", "All kinds", 5, 5)]
    assert "FT-CANARY" not in everything_shown(report)


def test_no_learner_text_from_module_7_reaches_any_output(follow_instance, follow_report, tmp_path):
    shown = everything_shown(follow_report)
    for canary in ("FT-CANARY", "<script", "&lt;script", "alert(", "I said so"):
        assert canary not in shown
    paths = dashboard.export_png(follow_instance.root, tmp_path / "out")
    assert {"follow-through.png", "looking-back.png"} <= {p.name for p in paths}
    for path in (tmp_path / "out").iterdir():
        assert b"CANARY" not in path.read_bytes() and b"<script" not in path.read_bytes()


# -- the instructor site, in Chromium ----------------------------------------------------------------

def test_the_instructor_site_serves_the_dashboard_alone_with_its_own_sign_in_secret(tmp_path):
    instance = Instance(tmp_path / "instance")
    c = instructor_site.config(instance, port=1)
    assert c.Voila.notebook_path == str(ROOT / "instructor" / "dashboard.ipynb")
    assert c.Voila.root_dir == str(ROOT / "instructor")
    assert c.Voila.identity_provider_class is instructor_site.InstructorIdentityProvider
    assert c.VoilaConfiguration.template == "allies" and not c.VoilaConfiguration.preheat_kernel
    assert c.Voila.cookie_secret == instance.cookie_secret(instructor_site.SECRET_FILE) != instance.cookie_secret()
    assert (instance.root / instructor_site.SECRET_FILE).stat().st_mode & 0o077 == 0
    assert instructor_site.InstructorIdentityProvider().cookie_name == "allies-instructor"
    assert c.VoilaConfiguration.file_allowlist == []  # no file under instructor/ is sent, signed in or not


class InstructorServer(Server):
    """`python -m course instructor dashboard` in a subprocess on a free port."""

    def start(self, timeout: float = 60) -> "InstructorServer":
        out = open(self.log, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "course", "instructor", "dashboard", *self.args,
                                      "--port", str(self.port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     env=self.env)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if get(self.port, "/login")[0] == 200:
                    return self
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not answer:\n" + self.log.read_text()
            time.sleep(0.2)


@pytest.fixture(scope="module")
def instructor_server(cohort_dir, solutions, tmp_path_factory):
    import os

    instance, codes = cohort_dir
    server = InstructorServer(["--instance", str(instance.root)], tmp_path_factory.mktemp("log") / "server.log")
    server.env = {**os.environ, "ALLIES_SOLUTIONS_DIR": str(solutions)}
    server.instance = instance
    server.start()
    yield server, codes
    server.stop()


def raw(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Location", ""), response.read()
    finally:
        conn.close()


def sign_in(context, url, who, code, next_path="/"):
    page = context.new_page()
    page.goto(f"{url}/login?next={urllib.parse.quote(next_path)}")
    page.fill("#learner", who)
    page.fill("#code", code)
    page.click("button[type=submit]")
    return page


def test_without_sign_in_every_page_leads_to_the_sign_in_form(instructor_server):
    server, _ = instructor_server
    for path in ("/", "/voila/render/dashboard.ipynb", "/voila/files/dashboard.ipynb", "/anything"):
        status, location, _ = raw(server.port, path)
        assert status in (302, 403) and (status == 403 or urllib.parse.urlparse(location).path == "/login"), path
    # The header that names the signed-in person cannot be sent from outside.
    status, location, _ = raw(server.port, "/", {"X-Allies-Learner": "ines"})
    assert status == 302 and location.startswith("/login")
    status, _, body = raw(server.port, "/login")
    assert status == 200 and b"Instructor id" in body


def test_a_learner_with_a_correct_code_is_refused(instructor_server, browser):
    server, codes = instructor_server
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ana", codes["ana"])
        expect(page.get_by_role("alert")).to_have_text(instructor_site.NOT_INSTRUCTOR)
        assert urllib.parse.urlparse(page.url).path == "/login"
        page.goto(server.url + "/")
        assert urllib.parse.urlparse(page.url).path == "/login"
        page = sign_in(context, server.url, "ines", "wrong-code")
        expect(page.get_by_role("alert")).to_have_text(instructor_site.WRONG_CODE)
    finally:
        context.close()


def test_an_instructor_sees_the_dashboard_with_charts_tables_and_no_reflection_text(instructor_server, browser):
    server, codes = instructor_server
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ines", codes["ines"])
        page.wait_for_url(f"{server.url}/", timeout=SLOW)
        completion = page.locator(".allies-view-completion img")
        expect(completion).to_have_attribute("alt", re.compile("answered every item 1 of 4"), timeout=SLOW)
        for name in ("completion", "knowledge-checks", "reflection-words"):
            view = page.locator(f".allies-view-{name}")
            expect(view.locator("img")).to_have_attribute("alt", re.compile(r"chart|plot"))
            expect(view.locator("table caption")).to_be_visible()
        expect(page.locator(".allies-most-missed")).to_contain_text("m01-q1")
        assert "CANARY" not in page.content()
        # its header names the course only: its "All modules" link led back to the dashboard itself
        expect(page.get_by_role("navigation", name="Course")).to_have_text("Allies in Tech")

        folder = server.instance.root / "dashboard"
        kept = sorted(folder.iterdir()) if folder.exists() else []  # (an earlier test's export_png)
        page.get_by_role("button", name="Download the charts").click()
        expect(page.locator(".allies-view-self-assessment")).to_contain_text("at least 5 learners")
        expect(page.locator(".allies-dashboard")).to_contain_text(
            "3 charts, each with its alt text: completion, knowledge-checks, reflection-words.", timeout=SLOW)
        with page.expect_download() as download:  # the instructor's browser saves it; the server keeps nothing
            page.get_by_role("link", name=re.compile(r"^Download allies-dashboard-\d{4}-\d\d-\d\d\.zip \(ZIP\)$")).click()
        with zipfile.ZipFile(download.value.path()) as archive:
            assert archive.read("knowledge-checks.png").startswith(b"\x89PNG")
            assert archive.read("completion.alt.txt").decode("utf-8").startswith("Horizontal bar chart")
            assert "CANARY" not in "".join(archive.read(name).decode("latin-1") for name in archive.namelist())
        assert str(server.instance.root) not in page.locator(".allies-dashboard").inner_text()
        assert (sorted(folder.iterdir()) if folder.exists() else []) == kept
    finally:
        context.close()


def test_the_dashboard_notebook_only_calls_course_dashboard_and_is_stored_clean():
    nb = nbformat.read(ROOT / "instructor" / "dashboard.ipynb", as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.source for cell in code] == ["from course.web import dashboard\n\ndashboard.show()"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


# -- the facilitator guide ---------------------------------------------------------------------------

GUIDE = ROOT / "docs" / "facilitator-guide.md"


def test_the_facilitator_guide_types_no_statistic_and_cites_only_tables_that_exist():
    text = GUIDE.read_text(encoding="utf-8")
    assert not re.search(r"\d\s*(%|per ?cent|percentage points)", text)
    cited = set(re.findall(r"data/([a-z0-9_]+)\.csv", text))
    assert cited and all((ROOT / "data" / f"{name}.csv").is_file() for name in cited), cited


def test_the_facilitator_guide_plans_a_session_for_every_module_and_uses_the_dashboard():
    text = GUIDE.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    for module in dashboard.course_spec():
        title = module.title.split("—", 1)[-1].strip() if module.number != "00" else "Before you start"
        assert any(title in heading for heading in headings), title
    for words in ("Most missed", "Download the charts", "python -m course instructor dashboard", "five"):
        assert words in text
    for heading, _, _ in dashboard.VIEWS.values():  # every view the page shows, by the name it shows
        assert f"**{heading}**" in text, heading


def _change_roster(location, sql: str) -> None:
    """A change the store's API does not offer, made in SQL on either back end (the same SQL serves both)."""
    with AnswerStore(location) as store:
        store._run(lambda conn: conn.execute(sql), write=True)


def test_an_instructor_taken_off_the_role_is_signed_out_at_the_next_request(instructor_server, browser):
    server, _ = instructor_server
    with AnswerStore(server.instance.store) as store:
        code = store.add_learner("jo", "Jo", "instructor")
    context = browser.new_context()
    try:
        # Signed in, on to a page that needs sign-in but starts no kernel (Voilà sends it to /voila/files/).
        sign_in(context, server.url, "jo", code, "/elsewhere").wait_for_url("**/voila/files/elsewhere")
        cookie = next(f"{c['name']}={c['value']}" for c in context.cookies() if c["name"] == "allies-instructor")
        signed_in = raw(server.port, "/elsewhere", {"Cookie": cookie})
        assert signed_in[0] == 302 and not signed_in[1].startswith("/login")  # on to /voila/files/…: signed in
        _change_roster(server.instance.store, "UPDATE learners SET role = 'learner' WHERE id = 'jo'")
        status, location, _ = raw(server.port, "/elsewhere", {"Cookie": cookie})
        assert status == 302 and location.startswith("/login")
    finally:
        context.close()
        _change_roster(server.instance.store, "DELETE FROM learners WHERE id = 'jo'")


def test_the_dashboard_passes_axe_and_reflows_before_and_after_saving_charts(instructor_server, browser):
    """WCAG 2.1 AA: axe-core finds nothing on the dashboard once drawn, nor after Download the charts; at
    320 px nothing overflows but its tables, each in a named region that scrolls on its own."""
    from accessibility import axe, overflowing

    server, codes = instructor_server
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ines", codes["ines"])
        page.wait_for_url(f"{server.url}/", timeout=SLOW)
        expect(page.locator(".allies-view-completion img")).to_be_visible(timeout=SLOW)
        assert axe(page) == []
        assert overflowing(page) == []
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("button", name="Download the charts").click()
        expect(page.locator(".allies-dashboard")).to_contain_text("3 charts, each with its alt text", timeout=SLOW)
        assert axe(page) == []
        assert overflowing(page) == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def follow_server(tmp_path_factory):
    """The instructor site over six learners back for Module 7, counted against the real course."""
    import os

    instance = Instance(tmp_path_factory.mktemp("follow-site") / "instance")
    with AnswerStore(instance.store) as store:
        codes = fill_follow_through(store)
    server = InstructorServer(["--instance", str(instance.root)], tmp_path_factory.mktemp("log") / "server.log")
    server.env = {key: value for key, value in os.environ.items() if key != "ALLIES_SOLUTIONS_DIR"}
    server.start()
    yield server, codes
    server.stop()


def test_the_follow_through_views_show_counts_only_and_pass_axe(follow_server, browser):
    """Module 7's views on the instructor's page: a chart with alt text and a captioned table each, the
    return count in words, no learner's text; axe-core finds nothing."""
    from accessibility import axe

    server, codes = follow_server
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ines", codes["ines"])
        page.wait_for_url(f"{server.url}/", timeout=SLOW)
        follow = page.locator(".allies-view-follow-through")
        expect(follow.locator("img")).to_have_attribute("alt", re.compile("Sponsor a high-potential woman: 6 "
                                                                          "commitments of 6 learners"), timeout=SLOW)
        expect(follow.get_by_role("heading", level=2)).to_have_text("Follow-through: commitments four weeks on")
        expect(follow.locator("p").first).to_contain_text("6 of 7 (86%) of the learners who made a plan in Module 6")
        looking = page.locator(".allies-view-looking-back")
        expect(looking.locator("img")).to_have_attribute("alt", re.compile("mean -0.5 over 6"))
        for view in (follow, looking):
            expect(view.locator("table caption")).to_be_visible()
            expect(view.locator("table th[scope=col]").first).to_be_visible()
        content = page.content()
        assert "FT-CANARY" not in content and "I said so" not in content
        assert axe(page) == []
    finally:
        context.close()

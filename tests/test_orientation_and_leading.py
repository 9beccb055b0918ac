"""The Orientation and Module 6: the action plan exported intact and never as markup, the self-assessment
asked once and compared at the end on both paths, and the learner-input cells left editable."""
import base64
import json
import re
import time
from html.parser import HTMLParser

import icalendar
import mistune
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course.lesson import action_plan, self_assessment, session
from course.lesson.figures import leading
from conftest import ROOT

HOSTILE = [
    'Zoë "Z" O\'Brien — 李雷 😀',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** _under_ ~~strike~~",
    "[x](javascript:alert(1)) ![i](https://example.com/x.png)",
    "`code` ```fence``` $x^2$",
    "1. not a list\n# not a heading\n> not a quote\n    not code\n- not a bullet\n---",
    "&amp; &#60;b&#62; &lt;",
    "| a | b |\n|---|---|",
    "\u202eevil\u202c",
    "back\\slash\\",
]
HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "footer", "h1", "h2", "h3", "h4", "p",
             "span", "strong", "ol", "ul", "li", "br"}
MARKDOWN_TAGS = {"h1", "h2", "p", "strong", "em", "ol", "ul", "li", "br"}


class _Reader(HTMLParser):
    """The tags and the text of an HTML document (a <br> read as a line break)."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.parts, self.attrs = set(), [], []
        self._skip = 0
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs
        if tag == "br":
            self.parts.append("\n")
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _expected(text: str) -> str:
    """A field as it is kept: broken characters replaced, lines trimmed, blank lines dropped."""
    return _flat("\n".join(line.strip() for line in action_plan.clean(text).split("\n") if line.strip()))


def _plan(text: str) -> dict:
    return {"name": text, "written": "2026-03-14", "partner": text, "check_in": text,
            "commitments": [{"action": text, "first_step": text, "by": text}]}


def _rendered_markdown(plan: dict) -> _Reader:
    return _Reader(mistune.html(action_plan.to_markdown(plan)))


# --- the exported files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE)
def test_html_export_keeps_learner_text_exactly_and_adds_no_markup(text):
    page = action_plan.to_html(_plan(text))
    read = _Reader(page)
    assert read.tags <= HTML_TAGS, read.tags - HTML_TAGS
    assert not any(name.startswith("on") or name in ("src", "href") for name, _ in read.attrs)
    assert _flat(read.text).count(_expected(text)) == 6  # name, action, first step, by, partner, check-in
    assert "<script" not in page and "<img" not in page


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_export_keeps_learner_text_exactly_and_is_never_read_as_markup(text):
    read = _rendered_markdown(_plan(text))
    assert read.tags <= MARKDOWN_TAGS, read.tags - MARKDOWN_TAGS
    assert _expected(text) in _flat(read.text)


def test_markdown_special_characters_are_neutralised_in_the_file_itself():
    md = action_plan.to_markdown(_plan("**x** [l](javascript:y) `c` <b> 1. $m$"))
    assert "**x**" not in md and "[l](" not in md and "`c`" not in md and "<b>" not in md
    assert "\\*\\*x\\*\\*" in md and "&lt;b&gt;" in md and "&#96;c&#96;" in md and "&#36;m&#36;" in md
    assert "1\\." in md
    assert 'Zoë "Z"' in action_plan.to_markdown(_plan('Zoë "Z"')), "quotes and letters stay readable"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_survives_both_exports(text):
    plan = _plan(text)
    for read, allowed in ((_Reader(action_plan.to_html(plan)), HTML_TAGS), (_rendered_markdown(plan), MARKDOWN_TAGS)):
        assert read.tags <= allowed
        if _expected(text):
            assert _expected(text) in _flat(read.text)


def test_an_empty_plan_still_makes_two_readable_files():
    for plan in (action_plan.empty(), {}, None, {"commitments": [{"action": "", "first_step": "", "by": ""}]}):
        md, page = action_plan.to_markdown(plan), action_plan.to_html(plan)
        assert md.startswith("# My ally action plan") and "No commitments yet" in md
        assert "No commitments yet" in _Reader(page).text and page.rstrip().endswith("</html>")


def test_very_long_text_is_kept_whole():
    text = "Ask Ana first. " * 20_000
    plan = _plan(text)
    assert _expected(text) in _flat(_Reader(action_plan.to_html(plan)).text)
    assert _expected(text) in _flat(_rendered_markdown(plan).text)


def test_broken_characters_become_replacement_marks_not_errors():
    plan = _plan("half an emoji \ud83d and a NUL \x00 here")
    for out in (action_plan.to_markdown(plan), action_plan.to_html(plan)):
        out.encode("utf-8")  # a file can hold it
        assert "\ufffd" in out and "\x00" not in out


def test_html_page_forbids_scripts_and_prints_cleanly():
    page = action_plan.to_html(action_plan.empty())
    assert "default-src 'none'" in page and "@media print" in page and '<html lang="en">' in page


@pytest.mark.parametrize("fmt, mime", [("md", "text/markdown"), ("html", "text/html")])
def test_download_link_carries_learner_text_only_inside_its_base64_payload(fmt, mime):
    plan = _plan('<img src=x onerror=alert(1)> "quoted" ☃')
    link = action_plan.download_link(plan, fmt)
    match = re.fullmatch(rf'<a class="allies-download" download="my-ally-action-plan\.{fmt}" '
                         rf'href="data:{mime};charset=utf-8;base64,([A-Za-z0-9+/=]+)">[^<>"]+</a>', link)
    assert match, link
    render = action_plan.to_markdown if fmt == "md" else action_plan.to_html
    assert base64.b64decode(match.group(1)).decode("utf-8") == render(plan)


def test_write_files_saves_every_format(tmp_path):
    plan = _plan("Zoë <b>")
    paths = action_plan.write_files(plan, tmp_path)
    assert [p.name for p in paths] == ["my-ally-action-plan.md", "my-ally-action-plan.html",
                                       "my-ally-action-plan.ics"]
    assert paths[0].read_text(encoding="utf-8") == action_plan.to_markdown(plan)
    assert paths[1].read_text(encoding="utf-8") == action_plan.to_html(plan)
    assert icalendar.Calendar.from_ical(paths[2].read_text(encoding="utf-8")).walk("VEVENT")


@pytest.mark.parametrize("check_in, expected", [
    ("2027-01-05", ["2027-01-05", "2026-12-14", "2027-01-11"]),
    ("when the quarter ends", ["2026-12-14", "2027-01-11"]),  # not a date: the follow-ups only
])
def test_the_calendar_file_holds_the_check_in_and_follow_ups_at_two_and_six_weeks(check_in, expected):
    plan = {**_plan("Zoë \"<b>\"; line\nbreak"), "written": "2026-11-30", "check_in": check_in}
    events = icalendar.Calendar.from_ical(action_plan.to_ics(plan)).walk("VEVENT")
    assert [str(e.decoded("dtstart")) for e in events] == expected
    assert len({str(e["uid"]) for e in events}) == len(events)
    assert all("Zoë \"<b>\"; line break" in str(e["description"]) for e in events)  # text kept, not read as markup


# --- the plan in Module 6 ----------------------------------------------------------------------------------

def test_jupyterlab_plan_uses_action_names_and_says_what_is_missing():
    plan, notes = leading.plan_from_dict({"commitments": [{"action": "sponsor", "first_step": "", "by": ""},
                                                          {"action": "My own idea", "first_step": "x", "by": "y"}]})
    assert plan["commitments"][0]["action"] == "Sponsor a high-potential woman"
    assert plan["commitments"][1]["action"] == "My own idea"
    said = " ".join(notes)
    assert "first step" in said and "date" in said and "kept as you wrote it" in said and "Name someone" in said


@pytest.mark.parametrize("raw", [None, 42, "plan", {"commitments": "x"}, {"commitments": [None, 3]}])
def test_any_jupyterlab_plan_gets_a_message_not_a_traceback(raw, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr("course.lesson.figures.leading.display", lambda obj: shown.append(obj.data))
    leading.action_plan(raw)
    assert shown and "Traceback" not in shown[0]


def test_jupyterlab_plan_is_written_next_to_the_notebook_with_links(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr("course.lesson.figures.leading.display", lambda obj: shown.append(obj.data))
    leading.action_plan({"name": "Zoë <script>", "partner": "Ben",
                         "commitments": [{"action": "sponsor", "first_step": "Ask Ana **first**", "by": "2026-03-14"}]})
    md = (tmp_path / "my-ally-action-plan.md").read_text(encoding="utf-8")
    assert "Sponsor a high\\-potential woman" in md and "\\*\\*first\\*\\*" in md
    assert 'href="my-ally-action-plan.html"' in shown[0] and "<script>" not in shown[0]


def test_an_unfinished_jupyterlab_plan_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("course.lesson.figures.leading.display", lambda obj: None)
    leading.action_plan({"commitments": [{"action": "sponsor", "first_step": "", "by": ""}]})
    assert not list(tmp_path.iterdir())


def _website(monkeypatch, store_path=None, learner=None):
    """The website path, with a session for `learner` (or none) that is already identified."""
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    current = session.Session(str(store_path) if store_path else None, learner)
    current.ready.set()
    monkeypatch.setattr(session, "_current", current)
    return current


def test_website_plan_builder_previews_escaped_and_offers_downloads(monkeypatch):
    _website(monkeypatch)
    builder = leading.action_plan()
    assert "Choose an action" in builder.links.value and "data:" not in builder.links.value
    builder.fields["action1"].value = "sponsor"
    builder.fields["step1"].value = "<img src=x onerror=alert(1)> ask **Ana**"
    assert "<img" not in builder.preview.value and "&lt;img" in builder.preview.value
    payloads = re.findall(r"base64,([A-Za-z0-9+/=]+)", builder.links.value)
    assert len(payloads) == 3 and "my-ally-action-plan.ics" in builder.links.value
    md = base64.b64decode(payloads[0]).decode("utf-8")
    assert "&lt;img src\\=x onerror\\=alert\\(1\\)&gt; ask \\*\\*Ana\\*\\*" in md
    assert icalendar.Calendar.from_ical(base64.b64decode(payloads[2])).walk("VEVENT")


def test_website_plan_fields_are_saved_answers_of_module_6(tmp_path, monkeypatch):
    from course.store.answers import AnswerStore

    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
        store.save("ana", "06-from-learning-to-leading", "m06-plan-step1", "Ask Priya, by Friday")
    _website(monkeypatch, store_path, "ana")
    builder = leading.action_plan()
    assert builder.fields["step1"].value == "Ask Priya, by Friday"
    assert "Ask Priya, by Friday" in builder.preview.value


# --- the self-assessment -----------------------------------------------------------------------------------

def test_questions_are_defined_once_in_data_with_their_scales():
    items = self_assessment.items()
    assert [i.key for i in items] == [f"s{n}" for n in range(1, len(items) + 1)]
    assert items[0].choices == ("Lagging", "Learning", "Leading")
    assert 4 <= sum(i.kind == "behaviour" for i in items) <= 6
    assert all(i.choices == self_assessment.SCALE for i in items if i.kind == "behaviour")


@pytest.mark.parametrize("value, expected", [(3, 3), ("2", 2), (" sometimes ", 3), ("OFTEN", 4), (4.0, 4),
                                             (None, None), ("", None), (0, None), (5, None), (True, None),
                                             ("3.5", None), ("٣", None), ([1], None)])
def test_answers_are_read_on_the_scale(value, expected):
    assert self_assessment.parse(self_assessment.item("s2"), value)[0] == expected


def test_unusable_answers_get_messages_and_are_left_out():
    answers, problems = self_assessment.normalise({"s1": "learning", "s2": 9, "zz": 1, "S3": "2"})
    assert answers == {"s1": 2, "s3": 2}
    assert any("s2" in p and "1 to 4" in p for p in problems) and any("zz" in p for p in problems)
    assert self_assessment.normalise("nonsense")[1]


def test_before_and_after_are_paired_question_by_question():
    rows = self_assessment.pair({"s1": 2, "s2": 1, "s3": 3}, {"s1": 3, "s2": 3, "s3": 3, "s4": 2})
    by_key = {r.item.key: r for r in rows}
    assert (by_key["s2"].before, by_key["s2"].after, by_key["s2"].change) == (1, 3, "more often")
    assert by_key["s1"].change == "further along" and by_key["s3"].change == "the same"
    assert (by_key["s4"].before, by_key["s4"].label("before"), by_key["s4"].change) == (None, "not answered", "")
    assert "Learning" in self_assessment.reading(rows) and "speak up" in self_assessment.reading(rows).lower()


def test_a_comparison_without_earlier_answers_says_so_and_still_draws():
    rows = self_assessment.pair({}, {"s2": 2})
    assert "no answers from the start" in self_assessment.reading(rows)
    page = self_assessment.comparison_html(rows)
    assert "at the start not answered, now Rarely" in page and "Okabe" not in page and 'alt="Grouped bar' in page


def _orientation(folder, answers_source: str, tagged: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "metadata": {"tags": ["self-assessment"]} if tagged else {}, "outputs": [],
            "execution_count": None, "source": answers_source}
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Before you start"}, cell],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "00-before-you-start.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_orientation_answers_are_read_from_the_same_folder(tmp_path):
    _orientation(tmp_path, 'my_answers = {\n    "s1": 2,  # learning\n    "s2": "3",\n    "s3": None,\n}\n'
                           "self_assessment.ask(my_answers)")
    answers, path = self_assessment.orientation_answers(tmp_path)
    assert answers == {"s1": 2, "s2": 3} and path.parent == tmp_path


def test_orientation_answers_are_read_from_the_sibling_nbgrader_folder(tmp_path):
    _orientation(tmp_path / "00-before-you-start", 'my_answers = {"s4": 4}', tagged=False)
    here = tmp_path / "06-from-learning-to-leading"
    here.mkdir()
    assert self_assessment.orientation_answers(here)[0] == {"s4": 4}


def test_missing_orientation_gives_a_clear_message(tmp_path):
    with pytest.raises(self_assessment.OrientationNotFound) as found:
        self_assessment.orientation_answers(tmp_path)
    message = str(found.value)
    assert "Before you start" in message and str(tmp_path) in message and "before=" in message


@pytest.mark.parametrize("content, says", [('my_answers = {"s1": None}', "still blank"),
                                           ("print('no answers here')", "no my_answers cell")])
def test_unusable_orientation_notebooks_give_a_clear_message(tmp_path, content, says):
    _orientation(tmp_path, content)
    with pytest.raises(self_assessment.OrientationNotFound, match=says):
        self_assessment.orientation_answers(tmp_path)


def test_a_corrupt_orientation_notebook_gives_a_message(tmp_path):
    (tmp_path / "00-before-you-start.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(self_assessment.OrientationNotFound, match="could not be read"):
        self_assessment.orientation_answers(tmp_path)


def test_reading_the_orientation_never_runs_its_code(tmp_path):
    canary = tmp_path / "pwned"
    _orientation(tmp_path, f'my_answers = {{"s1": 2, "s2": open({str(canary)!r}, "w").write("x")}}')
    answers, _ = self_assessment.orientation_answers(tmp_path)
    assert answers == {"s1": 2} and not canary.exists()


def test_jupyterlab_compare_shows_before_and_after(tmp_path, monkeypatch):
    _orientation(tmp_path, 'my_answers = {"s1": 2, "s2": 1}')
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    self_assessment.compare({"s1": 3, "s2": 4})
    assert "were read from" in shown[0] and "at the start Not yet, now Often" in shown[0]


def test_jupyterlab_compare_without_orientation_explains_and_accepts_typed_answers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    self_assessment.compare({"s2": 2})
    assert "were not found" in shown[0] and "at the start not answered, now Rarely" in shown[0]
    self_assessment.compare({"s2": 2}, before={"s2": 1})
    assert "at the start Not yet, now Rarely" in shown[1]


def test_website_self_assessment_items_are_saved_answers_of_the_orientation(monkeypatch):
    _website(monkeypatch)
    box = self_assessment.ask()
    ids = [c._dom_classes for c in box.children if "allies-answer" in c._dom_classes]
    assert [next(k for k in classes if k.startswith("allies-item-")) for classes in ids] == [
        f"allies-item-m00-s{n}" for n in range(1, len(self_assessment.items()) + 1)]


def test_website_compare_reads_the_orientation_answers_from_the_store(tmp_path, monkeypatch):
    from course.store.answers import AnswerStore

    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
        store.save("ana", "00-before-you-start", "m00-s2", "1")
        store.save("ana", "00-before-you-start", "m00-q1", "c")  # a graded item, not part of the self-assessment
    _website(monkeypatch, store_path, "ana")
    widget = self_assessment.compare()
    message, view = widget.children[1], widget.children[2]
    deadline = time.monotonic() + 10
    while "shown beside" not in message.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "shown beside" in message.value
    fields = [c for c in widget.children[0].children if "allies-answer" in c._dom_classes]
    fields[1].field.value = "3"
    deadline = time.monotonic() + 10  # the chart is redrawn off the kernel's message loop
    while "at the start Not yet, now Sometimes" not in view.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "at the start Not yet, now Sometimes" in view.value


def test_each_click_is_saved_before_the_chart_redraws_so_a_reload_shows_it(tmp_path, monkeypatch):
    """Clicking through the Module 6 questions quickly: every click is in the store as soon as the kernel has
    handled it, not queued behind chart drawing (saves used to land seconds later, after a reload)."""
    from course.store.answers import AnswerStore

    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
    _website(monkeypatch, store_path, "ana")
    widget = self_assessment.compare()
    boxes = [c for c in widget.children[0].children if "allies-answer" in c._dom_classes]
    for number, box in enumerate(boxes):
        box.field.value = box.field.options[number % len(box.field.options)][1]
        with AnswerStore(store_path) as store:
            assert store.load("ana", "06-from-learning-to-leading")[box.item] == box.field.value, box.item
        assert box.saved.value.count("Saved at") == 1


def test_website_compare_without_orientation_answers_says_so(tmp_path, monkeypatch):
    from course.store.answers import AnswerStore

    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ben", "Ben")
    _website(monkeypatch, store_path, "ben")
    widget = self_assessment.compare()
    deadline = time.monotonic() + 10
    while "Looking for" in widget.children[1].value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "no saved answers" in widget.children[1].value


# --- the notebooks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, tags", [("00-before-you-start", ["self-assessment"]),
                                        ("06-from-learning-to-leading", ["action-plan", "self-assessment"])])
def test_learner_input_cells_are_editable_and_outside_grading(name, tags):
    for folder in ("solutions", "modules"):
        nb = json.loads((ROOT / folder / f"{name}.ipynb").read_text(encoding="utf-8"))
        inputs = [c for c in nb["cells"] if c["metadata"].get("tags")]
        assert [c["metadata"]["tags"][0] for c in inputs] == tags
        for cell in inputs:
            assert "nbgrader" not in cell["metadata"] and cell["metadata"].get("editable", True)
    answers_cell = next(c for c in inputs if c["metadata"]["tags"] == ["self-assessment"])
    source = "".join(answers_cell["source"])
    keys = self_assessment.answers_in_notebook({"cells": [answers_cell]})
    assert list(keys) == [i.key for i in self_assessment.items()], source


def test_both_notebooks_end_by_handing_in():
    for name in ("00-before-you-start", "06-from-learning-to-leading"):
        nb = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text(encoding="utf-8"))
        assert "".join(nb["cells"][-1]["source"]) == f'submit_module("{name}")'


def test_messages_about_learner_input_are_escaped():
    assert "<b>x</b>" not in self_assessment._questions_html({}, ["<b>x</b>"])


@pytest.mark.parametrize("env, shown, hidden", [
    ({}, ("On a cohort's website", "On the website, on your own", "In JupyterLab"), ()),
    ({"VOILA_KERNEL_ID": "k", "ALLIES_SITE": "self-paced"},
     ("On the website, on your own", "In JupyterLab", "on your computer"),
     ("On a cohort's website", "under your sign-in", "Submit button", "Binder")),
    ({"VOILA_KERNEL_ID": "k", "ALLIES_SITE": "self-paced", "ALLIES_KEPT": "session"},  # (Binder)
     ("On the website, on your own", "for this Binder session only", "download a copy"),
     ("on your computer", "nothing is sent anywhere", "under your sign-in")),
    ({"VOILA_KERNEL_ID": "k", "ALLIES_SITE": "cohort"}, ("On a cohort's website", "In JupyterLab"),
     ("On the website, on your own", "on your computer")),
])
def test_the_table_of_the_paths_shows_a_website_its_own_way_and_jupyterlabs(monkeypatch, env, shown, hidden):
    """Module 0's table of the ways through the course: a learner on a website reads how it works there and
    in JupyterLab, not on the other website (the self-paced site spoke of sign-ins and Submit)."""
    import html

    from course import contract
    from course.lesson.figures import orientation

    assert contract.SITE_ENV == "ALLIES_SITE" and {contract.SELF_PACED, contract.COHORT} == {"self-paced", "cohort"}
    assert (contract.KEPT_ENV, contract.FOR_THE_SESSION) == ("ALLIES_KEPT", "session")
    monkeypatch.delenv("ALLIES_KEPT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    table = html.unescape(orientation.how_it_works().value)
    assert all(text in table for text in shown) and not any(text in table for text in hidden)

"""course.lesson.submissions: learner answers land in the right cells of a release copy, exactly as written."""
import json

import nbformat
import pytest
from dateutil.parser import parse as parse_date
from hypothesis import given, settings, strategies as st

from course.grading.settings import CODE_STUB, TEXT_STUB
from course.lesson.submissions import answer_cells, fill, write_submission
from conftest import ROOT

RELEASE = json.loads((ROOT / "modules" / "01-why-men-why-now.ipynb").read_text(encoding="utf-8"))
TRICKY = [
    "Ich höre zu — 我在听 — أنا أستمع 😀 e\u0301",
    "She said \"let's ship it\" and he said 'hepeating' \\n is not a newline",
    "<script>alert('x')</script> <b>bold</b> &amp; </div>",
    "line one\r\nline two\n\n- a list\n```\ncode fence\n```",
    "word " * 40_000,
]


def _cell(nb, grade_id):
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _answer_value(nb, grade_id):
    """The value of `answer` after running the cell's answer line."""
    line = next(l for l in _source(_cell(nb, grade_id)).split("\n") if l.startswith("answer = "))
    scope = {}
    exec(line, scope)
    return scope["answer"]


def test_answer_cells_are_the_knowledge_checks_and_reflections():
    assert answer_cells(RELEASE) == {"m01-q1": "code", "m01-q2": "code", "m01-q3": "code", "m01-q4": "code",
                                     "m01-r1": "markdown", "m01-r2": "markdown"}


def test_letter_replaces_only_the_stub_line():
    before = _source(_cell(RELEASE, "m01-q2"))
    after = _source(_cell(fill(RELEASE, {"m01-q2": "c"}), "m01-q2"))
    assert after == before.replace(CODE_STUB, "answer = 'c'")


def test_fill_leaves_the_release_notebook_and_other_cells_untouched():
    original = json.dumps(RELEASE)
    filled = fill(RELEASE, {"m01-q1": "b", "m01-r1": "text"})
    assert json.dumps(RELEASE) == original
    changed = [i for i, (a, b) in enumerate(zip(RELEASE["cells"], filled["cells"])) if a != b]
    assert [RELEASE["cells"][i]["metadata"]["nbgrader"]["grade_id"] for i in changed] == ["m01-q1", "m01-r1"]


@pytest.mark.parametrize("text", TRICKY, ids=["unicode", "quotes", "html", "newlines", "very-long"])
def test_learner_text_is_kept_byte_for_byte_through_the_saved_file(tmp_path, text):
    path = write_submission(tmp_path, "learner", "01-why-men-why-now", "01-why-men-why-now",
                            fill(RELEASE, {"m01-q3": text, "m01-r2": text}))
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    assert _source(_cell(saved, "m01-r2")).encode("utf-8") == text.encode("utf-8")
    assert _answer_value(saved, "m01-q3").encode("utf-8") == text.encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips_as_answer_and_reflection(text):
    filled = fill(RELEASE, {"m01-q1": text, "m01-r1": text})
    assert _answer_value(filled, "m01-q1") == text
    assert _source(_cell(filled, "m01-r1")) == text


def test_a_reflection_replaces_the_text_stub():
    assert _source(_cell(RELEASE, "m01-r1")) == TEXT_STUB
    assert _source(_cell(fill(RELEASE, {"m01-r1": "Mine."}), "m01-r1")) == "Mine."


@pytest.mark.parametrize("grade_id", ["m01-q9", "m01-q1-check", "m01-c00", ""])
def test_an_id_that_is_not_an_answer_cell_is_refused_by_name(grade_id):
    with pytest.raises(ValueError, match=f"not answer cells of this notebook: {grade_id} "):
        fill(RELEASE, {"m01-q1": "b", grade_id: "a"})


def test_a_cell_without_the_stub_line_is_refused():
    once = fill(RELEASE, {"m01-q1": "b"})
    with pytest.raises(ValueError, match="m01-q1 does not contain the answer stub line"):
        fill(once, {"m01-q1": "c"})


def test_an_answer_that_is_not_text_is_refused():
    with pytest.raises(TypeError, match="m01-q1 must be text"):
        fill(RELEASE, {"m01-q1": None})


def test_submission_uses_nbgraders_layout_and_timestamp(tmp_path):
    path = write_submission(tmp_path, "learner", "01-why-men-why-now", "01-why-men-why-now", RELEASE)
    assert path == tmp_path / "submitted" / "learner" / "01-why-men-why-now" / "01-why-men-why-now.ipynb"
    assert parse_date((path.parent / "timestamp.txt").read_text(encoding="utf-8")).tzinfo is not None


@pytest.mark.parametrize("student", ["..", "../other", "a/b", "", "a\\b"])
def test_a_student_id_cannot_escape_the_submission_folder(tmp_path, student):
    with pytest.raises(ValueError, match="cannot be used as a folder name"):
        write_submission(tmp_path, student, "01-why-men-why-now", "01-why-men-why-now", RELEASE)
    assert not (tmp_path / "submitted").exists()


@pytest.mark.parametrize("text, says", [("before\x00after", "NUL character"),
                                        ("half an emoji: \ud83d", "broken character")])
def test_a_saved_reflection_a_notebook_cannot_hold_stops_submit_with_its_reason(tmp_path, monkeypatch, text, says):
    """The store keeps any text exactly as typed, but a notebook (JSON in UTF-8) holds no NUL and no lone
    surrogate: Submit says which reflection and why, and hands nothing in, so nothing reaches grading."""
    from course.contract import EXCHANGE_ENV
    from course.lesson import session
    from course.store.answers import AnswerStore

    store_path, exchange = tmp_path / "answers.sqlite3", tmp_path / "exchange"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
        store.save("ana", "01-why-men-why-now", "m01-r1", text)
    monkeypatch.setenv(EXCHANGE_ENV, str(exchange))
    current = session.Session(str(store_path), "ana")
    current.ready.set()
    with pytest.raises(ValueError, match=f"Reflection 1 — Who was in the room\\?: .*{says}"):  # (by its heading)
        current.submit("01-why-men-why-now")
    assert not exchange.exists() or not any(exchange.rglob("*.ipynb"))
    with AnswerStore(store_path) as store:
        assert store.load("ana", "01-why-men-why-now") == {"m01-r1": text}  # nothing the learner wrote is lost


def test_a_saved_choice_a_question_no_longer_offers_is_kept_and_said_not_shown(tmp_path):
    """A choice saved under an earlier version of a question (its options since changed) neither breaks the
    widget being built nor is lost: the widget starts unanswered, says why, and the store still holds it."""
    import ipywidgets as w

    from course.lesson import session
    from course.store.answers import AnswerStore

    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
        store.save("ana", "01-why-men-why-now", "m01-q1", "z")
    current = session.Session(str(store_path), "ana")
    current.ready.set()
    picker, said = w.RadioButtons(options=[("(a) one", "a"), ("(b) two", "b")], value=None), []
    current.bind("m01-q1", picker, lambda text, ok, saved=None: said.append((text, ok)), typed=False)
    assert picker.value is None and said[-1] == (
        "Your saved answer is not one of the choices here now, so it is not shown; it stays saved until you "
        "answer again.", False)
    with AnswerStore(store_path) as store:
        assert store.load("ana", "01-why-men-why-now") == {"m01-q1": "z"}


def test_a_slow_save_of_older_text_never_lands_after_a_newer_one(tmp_path, monkeypatch):
    """A save that read "A" and waits for the store, then Submit's save of "AB": the store ends with "AB"
    (each box saves one at a time, from reading its value to the store's answer)."""
    import threading

    import ipywidgets as w

    from course.lesson import session
    from course.store.answers import AnswerStore

    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
    current = session.Session(str(store_path), "ana")
    current.ready.set()
    box = w.Textarea()
    current.bind("m01-r1", box, lambda text, ok, saved=None: None)
    binding = current.bindings["m01-r1"]
    waiting, go = threading.Event(), threading.Event()
    real = AnswerStore.save

    def slow(self, learner, module, item, value):
        if value == "A":  # the store is busy for this save
            waiting.set()
            go.wait(30)
        return real(self, learner, module, item, value)

    monkeypatch.setattr(AnswerStore, "save", slow)

    def type_(text):
        binding.loading = True  # (no autosave timer: the two saves below are the only ones)
        box.value = text
        binding.loading = False

    type_("A")
    older = threading.Thread(target=current.save, args=(binding,))
    older.start()
    assert waiting.wait(30)
    type_("AB")
    newer = threading.Thread(target=current.save, args=(binding,))
    newer.start()
    newer.join(2)  # without one save at a time, "AB" is saved now, before "A"
    go.set()
    older.join(30)
    newer.join(30)
    with AnswerStore(store_path) as store:
        assert store.load("ana", "01-why-men-why-now") == {"m01-r1": "AB"}

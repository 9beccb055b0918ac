"""Practice scenes ask the learner to say it first: the options stay hidden until they have written their own
response and asked for them, and what they wrote is saved like an answer."""
import pytest

from course.lesson import cards, session
from course.lesson.figures import backlash, leading, orientation
from course.store.answers import AnswerStore


@pytest.fixture
def ana(tmp_path, monkeypatch):
    """The website path, with Ana signed in and a store to save to."""
    store_path = tmp_path / "answers.sqlite3"
    with AnswerStore(store_path) as store:
        store.add_learner("ana", "Ana")
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    current = session.Session(str(store_path), "ana")
    current.ready.set()
    monkeypatch.setattr(session, "_current", current)
    return store_path


@pytest.mark.parametrize("deck, module", [(orientation.norms, "00-before-you-start"),
                                          (backlash.scenarios, "04-backlash-and-zero-sum"),
                                          (leading.scenes, "06-from-learning-to-leading")])
def test_each_scene_asks_for_a_response_before_it_shows_any_option(ana, deck, module):
    view = deck().cards[0]
    assert view.responses.layout.display == "none" and view.show.disabled
    view.said.value = "   "
    assert view.show.disabled, "blank text does not open the options"
    view.said.value = "I'd say: \"let's hear Priya finish\" <b>"
    assert not view.show.disabled
    view.show.click()
    assert view.responses.layout.display is None and view.show.layout.display == "none"
    assert "You picked:" in view.pick(0)
    item = f"m{module[:2]}-say-{view.card.card_id.replace('_', '-')}"
    session.current().flush()
    with AnswerStore(ana) as store:
        assert store.load("ana", module)[item] == "I'd say: \"let's hear Priya finish\" <b>"


def test_a_deck_without_say_first_shows_its_options_at_once():
    view = cards.deck("backlash_myths", label="Claim").cards[0]
    assert view.responses.layout.display != "none" and not hasattr(view, "said")

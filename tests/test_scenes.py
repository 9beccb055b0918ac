"""Practice scenes ask the learner to say it first: the options stay hidden until they have written their own
response and asked for them, and what they wrote is saved like an answer. The role scenes
(`data/practice_scenes.csv`) come in sets for six roles, with options no one can pick out by their length or
place, and print as role and observer cards for live rehearsal."""
import collections
import re

import html5lib
import pytest
from conftest import ROOT

from course import cli
from course.contract import ITEM_ID
from course.lesson import cards, data, practice, session
from course.lesson.figures import backlash, leading, orientation
from course.store.answers import AnswerStore

ROLES = ("Hiring panel member", "Code reviewer", "Meeting chair", "Manager of a team", "Senior leader",
         "Bystander to a sexist remark or harassment")


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


# Every deck that asks the learner to say it first: Modules 0 and 4, and the role scenes of Module 6.
PRACTICE = ("scenarios_orientation", "backlash_scenarios", practice.TABLE)


def _scenes(table: str = practice.TABLE) -> dict[str, list[dict]]:
    grouped = collections.defaultdict(list)
    for row in data.table(table):
        grouped[row["card_id"]].append(row)
    return grouped


def _words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("deck, module", [(orientation.norms, "00-before-you-start"),
                                          (backlash.scenarios, "04-backlash-and-zero-sum"),
                                          (lambda: leading.scenes().deck("Code reviewer"),
                                           "06-from-learning-to-leading")])
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


def test_a_deck_comes_with_a_first_view_of_its_chosen_card_under_a_select_of_the_cards():
    """The course's page shows it as it arrives, before the widget is live (tests/test_site.py): the chosen
    card's situation, escaped, under a labelled <select> that hands its choice to the deck's chooser."""
    deck = cards.deck([{"card_id": c, "heading": f"Scene <{c}>", "situation": f"{c} & co <script>",
                        "response": r, "feedback": "f"} for c in ("one", "two") for r in ("a", "b")])
    deck.chooser.index = 1
    bundle = deck._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    first = html5lib.parseFragment(bundle["text/html"], namespaceHTMLElements=False)
    select = first.find(".//select")
    assert select.get("data-control") == str(deck.children.index(deck.chooser))
    assert [o.text for o in select.findall("option")] == ["Scene <one>", "Scene <two>"]
    assert [o.get("value") for o in select.findall("option") if o.get("selected") is not None] == ["1"]
    label = first.find(".//label")
    assert label.text == "Scene" and label.get("for") == select.get("id")
    assert "two &amp; co &lt;script&gt;" in bundle["text/html"] and "one &amp; co" not in bundle["text/html"]
    single = cards.deck([{"card_id": "one", "situation": "s", "response": r, "feedback": "f"} for r in "ab"])
    assert "<select" not in single._repr_mimebundle_()["text/html"]


# -- The role scenes: the data ---------------------------------------------------------------------------------

def test_there_are_thirty_scenes_or_more_and_five_or_more_for_each_of_the_six_roles():
    scenes = _scenes()
    assert len(scenes) >= 30
    roles = collections.Counter(rows[0]["role"] for rows in scenes.values())
    assert tuple(roles) == ROLES, "the roles, in the order the picker offers them"
    assert min(roles.values()) >= 5, roles
    assert list(practice.role_sets()) == list(ROLES)


def test_each_scene_has_one_role_three_options_one_strongest_and_feedback_citing_a_known_source():
    known = data.sources()
    for card_id, rows in _scenes().items():
        assert ITEM_ID.fullmatch(f"m06-say-{card_id.replace('_', '-')}"), f"{card_id}: not a valid item id"
        assert len({r["role"] for r in rows}) == 1 and len({r["situation"] for r in rows}) == 1, card_id
        assert len(rows) == 3, f"{card_id}: {len(rows)} options"
        assert [r["verdict"] for r in rows].count(practice.STRONG) == 1, f"{card_id}: one strongest option"
        for row in rows:
            assert row["source_id"] in known and row["confidence"], row
            assert row["verdict"] and _words(row["feedback"]) >= 25, f"{card_id}: feedback that explains"


@pytest.mark.parametrize("table", PRACTICE)
def test_no_option_stands_out_by_its_length(table):
    for card_id, rows in _scenes(table).items():
        lengths = [_words(r["response"]) for r in rows]
        assert max(lengths) <= 1.3 * min(lengths), f"{table} {card_id}: option lengths in words {lengths}"


@pytest.mark.parametrize("table", PRACTICE)
def test_the_strongest_option_is_neither_mostly_the_longest_nor_always_in_one_place(table):
    scenes = _scenes(table)
    longest, places = 0, collections.Counter()
    by_role = collections.defaultdict(list)
    for rows in scenes.values():
        lengths = [len(r["response"]) for r in rows]
        strong = [r["verdict"] for r in rows].index(practice.STRONG)
        longest += lengths[strong] == max(lengths)
        places[strong] += 1
        by_role[rows[0].get("role")].append((strong, lengths[strong] == max(lengths)))
    assert longest <= len(scenes) / 2, f"the strongest option is the longest in {longest} of {len(scenes)}"
    assert all(places[p] >= len(scenes) / 5 for p in range(3)), f"first, second, third: {places}"
    for role, marks in by_role.items():
        assert len({place for place, _ in marks}) > 1, f"{role}: the strongest option is always in one place"
        assert not all(is_longest for _, is_longest in marks), f"{role}: the strongest is always the longest"


# -- The role picker in Module 6 -------------------------------------------------------------------------------

def test_a_learner_practises_the_set_for_the_role_they_pick_and_both_come_back(ana):
    module = "06-from-learning-to-leading"
    picker = leading.scenes()
    assert picker.shown.children == () and picker.decks == {}, "no deck until a role is picked"
    deck = picker.deck("Meeting chair")
    assert [c.card.card_id for c in deck.cards] == [c.card_id for c in practice.role_sets()["Meeting chair"]]
    assert picker.shown.children == (deck,) and len(picker.decks) == 1, "only the picked role's set is built"
    scene = deck.cards[1]
    scene.said.value = "I'd say: \"That builds on Ana's idea — Ana, go on.\""
    session.current().flush()
    item = f"m06-say-{scene.card.card_id.replace('_', '-')}"
    with AnswerStore(ana) as store:
        saved = store.load("ana", module)
    assert saved["m06-role"] == "Meeting chair" and item in saved

    first = re.sub(r"allies-first-[0-9a-f]+", "", picker.first_view())
    again = leading.scenes()  # a reload: a new kernel builds the page again
    assert again.picker.value == "Meeting chair"
    assert again.decks["Meeting chair"].cards[1].said.value == "I'd say: \"That builds on Ana's idea — Ana, go on.\""
    # The page as sent shows the roles with none chosen and no scene, whatever this learner picked.
    assert re.sub(r"allies-first-[0-9a-f]+", "", again.first_view()) == first
    assert "Meeting chair" in first and " checked" not in first and "That builds" not in first
    assert "Scene" not in first and "Pick the role closest to yours" in first
    assert again.deck("Senior leader") is not again.deck("Meeting chair")


# -- Printable role and observer cards -------------------------------------------------------------------------

def _parsed(page: str):
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(page)  # strict: any parse error raises


def _text(node) -> str:
    return re.sub(r"\s+", " ", "".join(node.itertext()))


def test_the_printed_cards_hold_every_scene_as_a_role_card_and_an_observer_card_in_valid_html():
    tree = _parsed(practice.print_page())
    role_cards = tree.findall(".//article[@class='card role-card']")
    observer_cards = tree.findall(".//article[@class='card observer-card']")
    scenes = _scenes()
    assert len(role_cards) == len(observer_cards) == len(scenes)
    for rows, role_card, observer_card in zip(scenes.values(), role_cards, observer_cards):
        assert rows[0]["situation"] in _text(role_card) and rows[0]["role"] in _text(role_card)
        assert not any(r["response"] in _text(role_card) for r in rows), "the role card shows no option"
        shown = _text(observer_card)
        assert rows[0]["situation"] in shown
        assert all(r["response"] in shown and r["feedback"] in shown for r in rows)
        assert data.sources()[rows[0]["source_id"]].url in shown
    assert tree.find(".//script") is None
    headings = [_text(h) for h in tree.findall(".//h2")]
    assert headings == [f"{role}: {kind} cards" for role in ROLES for kind in ("role", "observer")]


def test_the_printed_cards_escape_whatever_the_table_says(tmp_path, monkeypatch):
    (tmp_path / "sources.csv").write_text((ROOT / "data" / "sources.csv").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    rows = ["card_id,role,heading,situation,response,verdict,feedback,source_id,confidence"]
    rows += [f'a,"Chair {hostile}","H {hostile}","S {hostile}","{label} {hostile}",Strong move,'
             f'"F {hostile}",kapor2017,checked'.replace('"x"', "'x'") for label in ("one", "two", "three")]
    (tmp_path / "practice_scenes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setenv("ALLIES_DATA_DIR", str(tmp_path))
    data.sources.cache_clear()
    data.table.cache_clear()
    try:
        page = practice.print_page()
    finally:
        data.sources.cache_clear()
        data.table.cache_clear()
    tree = _parsed(page)
    assert tree.find(".//script") is None and tree.find(".//img") is None
    assert "<script>alert('x')</script> & <img src=x onerror=alert(1)>" in _text(tree.find(".//article"))


def test_a_facilitator_prints_one_role_set_or_all_of_them_and_the_committed_page_is_current(tmp_path, capsys):
    assert (ROOT / "docs" / practice.PAGE).read_text(encoding="utf-8") == practice.print_page(), (
        "docs/practice-cards.html is stale: run `python -m course cards`")
    out = tmp_path / "chair.html"
    with pytest.raises(SystemExit) as done:
        cli.main(["cards", "--role", "Meeting chair", "--out", str(out)])
    assert done.value.code == 0
    tree = _parsed(out.read_text(encoding="utf-8"))
    assert [_text(h) for h in tree.findall(".//h2")] == ["Meeting chair: role cards", "Meeting chair: observer cards"]
    with pytest.raises(SystemExit) as done:
        cli.main(["cards", "--role", "Astronaut", "--out", str(tmp_path / "no.html")])
    assert done.value.code == 2 and not (tmp_path / "no.html").exists()
    assert "No such role: Astronaut. The roles are: Hiring panel member" in capsys.readouterr().err

"""Module 3's promotion-pipeline model, its figures and the scenario-card component."""
import itertools
import math

import ipywidgets as w
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.lesson import cards, data
from course.lesson.models import pipeline
from course.lesson.figures import bias
from course.lesson.validation import escaped

SMALL = (60, 30, 12)  # a small organisation, fast enough for property tests


# --- the simulation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("start", [0.2, 0.5])
def test_without_bias_every_level_keeps_the_starting_share(start):
    result = pipeline.simulate(bias=0.0, start_share=start, runs=200, seed=11)
    for level, (share, spread) in enumerate(zip(result.share_women, result.spread), start=1):
        tolerance = 4 * spread / math.sqrt(result.runs) + 0.01
        assert abs(share - start) < tolerance, f"level {level}: {share:.3f} drifted from {start}"


def test_the_same_seed_gives_the_same_result_and_another_seed_a_different_one():
    one = pipeline.simulate(bias=0.2, seed=3)
    assert pipeline.simulate(bias=0.2, seed=3) == one
    assert pipeline.simulate(bias=0.2, seed=4).share_women != one.share_women


def test_a_small_bias_for_men_lowers_womens_share_towards_the_top():
    shares = pipeline.simulate(bias=0.2, start_share=0.5, runs=200, seed=5).share_women
    assert shares[-1] < shares[0] - 0.15, "the top should end far below the entry level"
    drops = sum(later <= earlier + 0.01 for earlier, later in itertools.pairwise(shares))
    assert drops >= len(shares) - 2, f"share should fall level by level (monotonic-ish): {shares}"


def test_a_bigger_bias_leaves_fewer_women_at_the_top():
    tops = [pipeline.simulate(bias=b, runs=200, seed=1).top for b in (0.0, 0.1, 0.3, 0.5)]
    assert tops == sorted(tops, reverse=True), tops


def test_the_gap_needs_many_rounds_to_build():
    history = pipeline.simulate(bias=0.2, cycles=40, runs=200, seed=2).top_by_round
    assert history[0] == pytest.approx(0.5)
    assert history[1] > history[40] + 0.1, "one round moves the top far less than forty"


def test_default_positions_narrow_from_entry_to_top():
    sizes = pipeline.pyramid(8)
    assert sizes[0] == 500 and sizes[-1] == 10
    assert all(a > b for a, b in itertools.pairwise(sizes))


@pytest.mark.parametrize("kwargs, message", [
    ({"levels": 1}, "levels must be at least 2"),
    ({"levels": 3, "positions": (50, 50, 10)}, "must narrow towards the top"),
    ({"levels": 3, "positions": (10, 20, 30)}, "must narrow towards the top"),
    ({"levels": 3, "positions": (50, 20, 0)}, "positive whole numbers"),
    ({"levels": 3, "positions": (50, -20, 10)}, "positive whole numbers"),
    ({"levels": 3, "positions": (50, 20)}, "one number per level"),
    ({"start_share": 1.5}, "start_share must be in"),
    ({"start_share": -0.1}, "start_share must be in"),
    ({"start_share": math.nan}, "start_share must be a finite number"),
    ({"bias": math.nan}, "bias must be a finite number"),
    ({"bias": math.inf}, "bias must be a finite number"),
    ({"attrition": 0}, "attrition must be in"),
    ({"attrition": 1}, "attrition must be in"),
    ({"cycles": 0}, "cycles must be at least 1"),
    ({"runs": 0}, "runs must be at least 1"),
])
def test_invalid_settings_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline.simulate(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"levels": 2.5}, "levels must be a whole number"),
    ({"levels": True}, "levels must be a whole number"),
    ({"bias": "0.2"}, "bias must be a number"),
    ({"seed": None}, "seed must be a whole number"),
])
def test_settings_of_the_wrong_type_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(TypeError, match=message):
        pipeline.simulate(**kwargs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bias=st.floats(-2, 2), start=st.floats(0, 1), attrition=st.floats(0.01, 0.6),
       seed=st.integers(0, 2**32 - 1))
def test_any_valid_setting_gives_shares_between_zero_and_one(bias, start, attrition, seed):
    result = pipeline.simulate(3, SMALL, bias=bias, start_share=start, attrition=attrition, cycles=5,
                               runs=3, seed=seed)
    assert len(result.share_women) == 3
    assert all(0 <= s <= 1 for s in result.share_women + result.top_by_round)


@settings(max_examples=20, deadline=None)
@given(bias=st.floats(-2, 2), seed=st.integers(0, 1000), start=st.sampled_from([0.0, 1.0]))
def test_an_all_men_or_all_women_intake_stays_that_way_whatever_the_bias(bias, seed, start):
    result = pipeline.simulate(3, SMALL, bias=bias, start_share=start, cycles=5, runs=3, seed=seed)
    assert result.share_women == (start, start, start)


@given(share=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1 + 1e-9)))
def test_any_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="start_share"):
        pipeline.simulate(3, SMALL, start_share=share, cycles=1, runs=1)


@settings(max_examples=30)
@given(st.lists(st.integers(1, 500), min_size=2, max_size=6))
def test_positions_are_accepted_exactly_when_they_narrow(positions):
    narrowing = all(a > b for a, b in itertools.pairwise(positions))
    if narrowing:
        assert pipeline.check_positions(positions, len(positions)) == tuple(positions)
    else:
        with pytest.raises(ValueError, match="narrow"):
            pipeline.check_positions(positions, len(positions))


# --- the module's figures ---------------------------------------------------------------------------------

def test_the_pipeline_explorer_has_a_view_for_every_setting_and_keyboard_sliders():
    box = bias.promotion_pipeline()
    sliders = [c for c in box.children if isinstance(c, w.SelectionSlider)]
    assert [s.description for s in sliders] == ["Levels", "Women among hires", "Rating boost for men"]
    views = box.every_view()
    assert all('alt="Bar chart' in view and "Source: Model after" in view for view in views)
    assert len(views) == math.prod(len(s.options) for s in sliders)


def test_the_pipeline_starts_at_the_published_design():
    design = {r["parameter"]: r["value"] for r in data.table("pipeline_design")}
    box = bias.promotion_pipeline()
    levels, share, boost = (c for c in box.children if isinstance(c, w.SelectionSlider))
    assert levels.value == int(design["levels"]) and share.value == float(design["start_share_women"])
    assert boost.value > 0


@pytest.mark.parametrize("topic", ["hiring", "blind_auditions", "meetings", "intersectionality"])
def test_evidence_panels_show_a_confidence_label_and_a_source_for_every_statement(topic):
    rows = [r for r in data.table("bias_evidence") if r["topic"] == topic]
    shown = bias.evidence(topic).data
    assert shown.count("<li>") == len(rows) and "Sources:" in shown
    assert "{figure}" not in shown


def test_unverified_dollar_figures_are_not_shown():
    shown = bias.evidence("hiring").data
    assert "$" not in shown and "part not verified" in shown


def test_secondary_figures_say_so_where_they_are_shown():
    explorer = bias.code_review()
    overall = explorer.every_view()[1]
    assert "secondary" in overall
    rung = bias.broken_rung()
    for year_view, year in zip(rung.every_view(), rung.controls[0].options):
        expected = "checked" if year == 2019 else "secondary"
        assert expected in year_view, year


# --- the scenario cards -----------------------------------------------------------------------------------

ROWS = [
    {"card_id": "one", "heading": "Stand-up", "situation": "A <script>alert(1)</script> moment",
     "response": "Say <b>nothing</b>", "verdict": "Weak", "feedback": "Silence <img src=x onerror=1>",
     "source_id": "terrell2017", "confidence": "checked"},
    {"card_id": "one", "heading": "Stand-up", "situation": "A <script>alert(1)</script> moment",
     "response": "Hand the floor back", "verdict": "Strong move", "feedback": "Good & kind",
     "source_id": "terrell2017", "confidence": "checked"},
    {"card_id": "two", "situation": "Myth or fact: X", "response": "Myth", "feedback": "It is a fact."},
    {"card_id": "two", "situation": "Myth or fact: X", "response": "Fact", "feedback": "Right."},
]


def test_each_response_shows_its_own_feedback():
    deck = cards.deck(ROWS)
    card = deck.cards[0]
    assert card.feedback.selected_index is None, "no feedback before a choice"
    for index, response in enumerate(card.card.responses):
        shown = card.pick(index)
        assert escaped(response.feedback) in shown
        assert card.feedback.selected_index == index


def test_card_text_is_escaped():
    deck = cards.deck(ROWS)
    everything = deck.cards[0].situation.value + "".join(v.value for v in deck.cards[0].feedback.children)
    assert "<script>" not in everything and "<img src=x" not in everything and "<b>" not in everything
    assert "&lt;script&gt;" in everything and "Good &amp; kind" in everything


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_card_responses_are_real_buttons_linked_to_the_feedback_in_the_browser():
    deck = cards.deck(ROWS)
    assert isinstance(deck.chooser, w.ToggleButtons)
    for card in deck.cards:
        assert isinstance(card.responses, w.ToggleButtons), "real <button>s: Tab reaches them, Space picks"
        assert not card.responses.disabled
        assert len(card.responses.options) == len(card.card.responses)
    links = [x for x in w.Widget._active_widgets.values() if isinstance(x, w.widget_link.Link)]
    assert any(link.source == (deck.cards[0].responses, "index")
               and link.target == (deck.cards[0].feedback, "selected_index") for link in links)


def test_cards_come_from_a_data_table_with_their_sources():
    deck = cards.deck("practice_scenes")
    headings = [c.card.heading for c in deck.cards]
    assert {"Cut off at stand-up", "The waiting pull request", "The debrief", "The promotion packets"} <= set(headings)
    for card in deck.cards:
        assert len(card.card.responses) >= 2 and card.card.source and card.card.confidence
        assert all(r.feedback and r.verdict for r in card.card.responses)


@pytest.mark.parametrize("rows, message", [
    ([], "no cards"),
    ([{"card_id": "a", "situation": "S", "response": "R", "feedback": ""}], "has no feedback"),
    ([{"card_id": "a", "situation": "S", "response": "R", "feedback": "F"}], "at least two responses"),
    ([{"card_id": "a", "situation": "S", "response": "R", "feedback": "F"},
      {"card_id": "a", "situation": "S", "response": "R", "feedback": "G"}], "same text"),
    ([{"card_id": "a", "situation": "S", "response": "R", "feedback": "F"},
      {"card_id": "a", "situation": "T", "response": "Q", "feedback": "G"}], "same situation"),
])
def test_malformed_cards_are_refused_with_a_clear_message(rows, message):
    with pytest.raises(ValueError, match=message):
        cards.cards_from_rows(rows)


def test_a_cold_cache_module_3_page_simulates_only_what_its_first_views_show(tmp_path, monkeypatch):
    """The pipeline explorer has 75 settings; opening Module 3 with nothing cached simulates only the setting
    it starts at, kept in the cache: the cache holds that one simulation and no other."""
    import nbformat
    from nbclient import NotebookClient

    from conftest import ROOT

    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path / "cache"))
    path = ROOT / "modules" / "03-bias-in-tech-work.ipynb"
    NotebookClient(nbformat.read(path, as_version=4), timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    stored = sorted((tmp_path / "cache" / "pipeline").glob("*.json"))
    design = {r["parameter"]: float(r["value"]) for r in data.table("pipeline_design")}
    box = bias.promotion_pipeline()  # in this process, from the same cache: nothing new is simulated
    levels, share, boost = (c.value for c in box.controls)
    assert (levels, share) == (int(design["levels"]), design["start_share_women"])
    assert sorted((tmp_path / "cache" / "pipeline").glob("*.json")) == stored
    assert len(stored) == 1 < math.prod(len(c.options) for c in box.controls)

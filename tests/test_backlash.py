"""Module 4: the positive-sum model and what it claims, its figures, and the myth-or-fact and what-would-you-say
cards."""
import math
import re
from dataclasses import fields, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from course.lesson import cards, charts, data
from course.lesson.models import positive_sum
from course.lesson.figures import backlash
from course.lesson.models.positive_sum import Assumptions
from course.lesson.validation import escaped

DEFAULT = Assumptions()
ROOT_NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "04-backlash-and-zero-sum.ipynb"


# --- the model: baseline, known cases, determinism --------------------------------------------------------

@pytest.mark.parametrize("promotion", positive_sum.PROMOTION)
def test_no_policy_is_the_baseline_and_the_team_stays_settled(promotion):
    base = positive_sum.simulate("none", promotion)
    assert all(year == pytest.approx(base.leave_by_year[0]) for year in base.leave_by_year)
    assert all(year == pytest.approx(base.output_by_year[0]) for year in base.output_by_year)
    assert positive_sum.compare("none", promotion) == (base, base)


def test_leaving_rates_are_the_sum_of_their_stated_parts():
    women, men = positive_sum.leave_rates("none")
    assert women == pytest.approx(0.08 + 0.06 + 0.35 * 0.1)
    assert men == pytest.approx(0.08 + 0.02 + 0.2 * 0.1)
    women, men = positive_sum.leave_rates("flexible")
    assert women == pytest.approx(0.08 + 0.06 + 0.35 * 0.1 * 0.3)
    women, men = positive_sum.leave_rates("all")
    assert women == pytest.approx(0.08 + 0.06 * 0.3 + 0.35 * 0.1 * 0.3)
    assert men == pytest.approx(0.08 + 0.02 * 0.3 + 0.2 * 0.1 * 0.3)


@pytest.mark.parametrize("policy, weight", [("none", 0.72), ("transparent", 0.79), ("credit", 0.79),
                                            ("sponsorship", 0.79), ("flexible", 0.79), ("all", 1.0)])
def test_each_policy_removes_its_share_of_the_tilt(policy, weight):
    assert positive_sum.women_weight(policy) == pytest.approx(weight)


def test_known_case_against_a_bar():
    base, everything = positive_sum.compare("all", "bar")
    assert base.leave_per_100.women == pytest.approx(17.5) and base.leave_per_100.men == pytest.approx(12.0)
    assert base.promoted_per_100.men == pytest.approx(15.0) and base.promoted_per_100.women == pytest.approx(10.8)
    assert everything.leave_per_100.women == pytest.approx(10.85)
    assert everything.leave_per_100.men == pytest.approx(9.2)
    assert everything.promoted_per_100.women == pytest.approx(everything.promoted_per_100.men) == pytest.approx(15)


def test_with_fixed_seats_promotions_fill_exactly_the_seats_that_open():
    run = positive_sum.simulate("transparent", "seats")
    seats = DEFAULT.team * DEFAULT.senior_share
    assert run.promotions.women + run.promotions.men == pytest.approx(run.promotions.team)
    assert 0 < run.promotions.team < seats * DEFAULT.years


def test_the_same_settings_always_give_the_same_result():
    a = replace(DEFAULT, tilt=0.3, years=7)
    assert positive_sum.simulate("credit", "seats", a) == positive_sum.simulate("credit", "seats", a)
    assert positive_sum.simulate("credit", "seats", a) != positive_sum.simulate("credit", "bar", a)


# --- the model: invalid settings -------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: positive_sum.simulate("quotas"), "unknown policy 'quotas': choose one of none, transparent"),
    (lambda: positive_sum.simulate("none", "lottery"), "unknown promotion 'lottery'"),
    (lambda: positive_sum.women_weight("bogus"), "unknown policy"),
])
def test_unknown_policies_and_promotion_systems_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("change, message", [
    ({"team": 5}, "team must be between 10 and"),
    ({"years": 0}, "years must be between 1 and 100"),
    ({"women_share": 1.5}, r"women_share must be in \[0, 1\]"),
    ({"women_share": math.nan}, "women_share must be a finite number"),
    ({"tilt": 1.0}, r"tilt must be in \[0, 1\)"),
    ({"tilt": -0.1}, "tilt must be in"),
    ({"senior_share": 0.0}, r"senior_share must be in \(0, 1\)"),
    ({"senior_share": 1.0}, "senior_share must be in"),
    ({"senior_value": 0.5}, r"senior_value must be in \[1, 10\]"),
    ({"promotion_rate": 0.0}, "promotion_rate must be in"),
    ({"replacement_cost": -1.0}, "replacement_cost must be in"),
    ({"unfair_cut_transparent": 0.5, "unfair_cut_credit": 0.4, "unfair_cut_sponsorship": 0.3},
     "unfair_cut_ shares add up to 1.2"),
    ({"base_leave": 0.6, "unfair_leave_women": 0.3, "carers_women": 1.0, "carer_leave": 0.2},
     "leaving rates for women add up to 1.1"),
    ({"base_leave": 0.0, "unfair_leave_men": 0.0, "carers_men": 0.0}, r"nobody ever leaves \(men\)"),
])
def test_invalid_assumptions_are_refused_with_a_clear_message(change, message):
    with pytest.raises(ValueError, match=message):
        positive_sum.simulate("none", "bar", replace(DEFAULT, **change))


@pytest.mark.parametrize("change, message", [
    ({"team": 100.5}, "team must be a whole number"),
    ({"years": True}, "years must be a whole number"),
    ({"women_share": "0.3"}, "women_share must be a number"),
    ({"tilt": None}, "tilt must be a number"),
])
def test_assumptions_of_the_wrong_type_are_refused_with_a_clear_message(change, message):
    with pytest.raises(TypeError, match=message):
        positive_sum.simulate("none", "bar", replace(DEFAULT, **change))


def test_only_assumptions_are_accepted_as_assumptions():
    with pytest.raises(TypeError, match="assumptions must be an Assumptions"):
        positive_sum.simulate("none", "bar", {"team": 100})


# --- the model: what it claims, for any valid setting ------------------------------------------------------

@st.composite
def assumptions(draw):
    share = st.floats(0, 1, allow_subnormal=False)
    rate = st.floats(0, 0.3)
    values = dict(
        team=draw(st.integers(10, 5000)), years=draw(st.integers(1, 25)), women_share=draw(share),
        senior_share=draw(st.floats(0.01, 0.99)), senior_value=draw(st.floats(1, 10)),
        replacement_cost=draw(st.floats(0, 10)), base_leave=draw(st.floats(0.001, 0.4)),
        unfair_leave_women=draw(rate), unfair_leave_men=draw(rate), carers_women=draw(share),
        carers_men=draw(share), carer_leave=draw(rate), flexible_cut=draw(share),
        promotion_rate=draw(st.floats(0.001, 1)), tilt=draw(st.floats(0, 0.99)),
        unfair_cut_transparent=draw(st.floats(0, 0.33)), unfair_cut_credit=draw(st.floats(0, 0.33)),
        unfair_cut_sponsorship=draw(st.floats(0, 0.33)))
    a = Assumptions(**values)
    try:
        positive_sum.check(a)
    except ValueError:
        assume(False)
    return a


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(a=assumptions(), promotion=st.sampled_from(positive_sum.PROMOTION))
def test_no_policy_makes_anyone_more_likely_to_leave_or_lowers_the_teams_output(a, promotion):
    base = positive_sum.simulate("none", promotion, a)
    for policy in positive_sum.POLICIES:
        run = positive_sum.simulate(policy, promotion, a)
        for group, now, before in zip(("women", "men", "team"), run.leave_per_100, base.leave_per_100):
            assert math.isnan(now) == math.isnan(before)
            assert not now > before + 1e-9, f"{policy}: {group} leave more ({now} > {before})"
        # Over the years compared, which is what the course shows; a single late year can dip a little
        # while the team resettles (found by this test: sponsorship, no tilt, year 14 of 15, -0.005%).
        assert run.output >= base.output - 1e-9 * abs(base.output), f"{policy}: output fell"


@PROPERTY
@given(a=assumptions())
def test_against_a_bar_mens_chance_of_promotion_never_moves_and_womens_rises_towards_it(a):
    assume(0.001 <= a.women_share <= 0.999)  # with women and men on the team, both chances are defined
    base = positive_sum.simulate("none", "bar", a)
    for policy in positive_sum.POLICIES:
        run = positive_sum.simulate(policy, "bar", a)
        assert run.promoted_per_100.men == pytest.approx(base.promoted_per_100.men)
        assert base.promoted_per_100.women - 1e-9 <= run.promoted_per_100.women <= run.promoted_per_100.men + 1e-9
    everything = positive_sum.simulate("all", "bar", a)
    assert everything.promoted_per_100.women == pytest.approx(everything.promoted_per_100.men)


@PROPERTY
@given(a=assumptions())
def test_with_fixed_seats_mens_share_of_promotions_never_falls_below_their_share_of_the_juniors(a):
    for policy in positive_sum.POLICIES:
        run = positive_sum.simulate(policy, "seats", a)
        for year, (promoted, juniors) in enumerate(run.men_shares_by_year):
            if not math.isnan(promoted):
                assert promoted >= juniors - 1e-9, f"{policy}, year {year}: a tilt against men appeared"


@PROPERTY
@given(a=assumptions(), promotion=st.sampled_from(positive_sum.PROMOTION),
       policy=st.sampled_from(list(positive_sum.POLICIES)))
def test_every_outcome_stays_within_its_bounds(a, promotion, policy):
    run = positive_sum.simulate(policy, promotion, a)
    for groups in (run.leave_per_100, run.promoted_per_100, *run.leave_by_year):
        assert all(math.isnan(x) or 0 <= x <= 100 for x in groups)
    assert not math.isnan(run.leave_per_100.team) and not math.isnan(run.output)
    assert all(x >= 0 for x in run.promotions)
    for share in (run.women_share, run.women_share_of_seniors, run.men_share_of_promotions):
        assert math.isnan(share) or 0 <= share <= 1


# --- the module's figures ---------------------------------------------------------------------------------

FACTS = {"any_activity": 60, "rise_on_2018": 32, "mentoring_alone": 16, "one_to_one": 12, "travel": 9, "dinners": 6,
         "avoided": 36, "hire_attractive": 19, "hire_close_contact": 21, "avoid_one_to_one": 27, "apathy": 74,
         "fear": 74, "ignorance": 51, "aware_important": 97, "unaware_important": 74}


def test_backlash_figures_are_the_researched_ones_with_their_confidence():
    rows = {r["figure_id"]: r for r in data.table("backlash_figures")}
    assert {k: float(r["value"]) for k, r in rows.items() if r["unit"] != "words"} == FACTS
    assert rows["any_activity_2018"]["value"] == "almost half"  # the source gives it only in words
    for key, row in rows.items():
        expected = "secondary" if row["source_id"] == "atwater2019" else "checked"
        assert row["confidence"] == expected, key


def _views(explorer):
    return explorer.every_view()


def test_the_headline_is_worded_as_the_source_words_it():
    first = _views(backlash.pull_back())[0]
    assert "60% of managers who are men" in first and "common work activity with a woman" in first
    assert "mentoring, working alone or socialising" in first and "up 32% on 2018" in first
    assert "about mentoring on its own: 16%" in first and "different year and a narrower question" in first


def test_second_hand_figures_are_labelled_secondary_where_they_are_shown():
    views = _views(backlash.pull_back())
    assert "Evidence: Survey · limited · read second-hand" in views[-1] and "secondary figures" in views[-1]
    assert all("· checked in the source" in v for v in views[:-1])


def test_the_model_takes_its_three_cited_inputs_from_data():
    assert backlash.cited() == pytest.approx({"women_share": 0.26, "tilt": 0.28, "replacement_cost": 0.21})


def test_the_assumptions_table_lists_every_assumption_and_where_it_comes_from():
    shown = backlash.assumptions().value
    assert shown.count("<tr>") == len(fields(Assumptions)) + 1
    assert shown.count("Cited:") == 3 and "Illustrative choice" in shown and "not data" in shown


def test_every_policy_in_the_model_has_its_evidence_in_data():
    assert {r["policy"] for r in data.table("positive_sum_policies")} == set(positive_sum.LEVERS)


def test_the_simulation_has_a_labelled_view_for_every_setting():
    explorer = backlash.simulation()
    assert [c.description for c in explorer.controls] == ["Policy", "Promotion", "Show"]
    views = _views(explorer)
    assert len(views) == len(positive_sum.POLICIES) * len(positive_sum.PROMOTION) * len(backlash.SHOW)
    for view in views:
        assert "illustrative model, not data" in view and "Illustrative model built for this course" in view
        assert 'alt="' in view and "Source:" in view


def test_no_policy_draws_the_baseline_once_and_a_control_that_changes_nothing_says_so():
    explorer = backlash.simulation()
    views = _views(explorer)
    baseline = [v for v in views if "The baseline:" in v]
    assert baseline and all("No policy (baseline)" not in v for v in baseline), "the baseline drawn twice"
    leaving = [v for v in views if "People leaving each year" in v]
    assert leaving and all(backlash.SAME_FOR_BOTH in v for v in leaving)
    # Promotion under "Who leaves": the same numbers, but the chart says which way it shows (it looked broken)
    for policy in positive_sum.POLICIES:
        bar, seats = (_chart(backlash._view(policy, way, backlash.SHOW[0])) for way in ("bar", "seats"))
        assert bar != seats and "promoted against a bar" in bar and "promoted into fixed seats" in seats


def _chart(view) -> str:
    chart, _reading = view
    return chart.html()


@pytest.mark.parametrize("title", ["Managers who are men, uncomfortable with a common work activity with a woman "
                                   "(LeanIn.Org and SurveyMonkey, 2019)", "Promotions a year per 100 juniors, Women and Men, against a bar, with every "
                                   "policy in place (illustrative model, not data)",
                                   "People leaving each year, per 100 (illustrative model, not data),\n"
                                   "promoted into fixed seats"])
def test_a_long_chart_title_wraps_inside_the_figure(title):
    """Module 4's first chart lost the end of its title ("… a common work activity with") off the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, ax = charts._figure(title)
    FigureCanvasAgg(fig).draw()
    box = ax._left_title.get_window_extent()  # (the title is set on the left)
    assert box.width > 0
    assert box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height and box.y0 >= ax.bbox.y1, (box, fig.bbox)


def test_a_label_over_the_tallest_bar_has_room_below_the_title():
    assert charts.headroom(100, [96, 30]) >= 96 * 1.1 and charts.headroom(100, [40]) == 100


# --- the cards --------------------------------------------------------------------------------------------

def test_myth_cards_give_a_call_then_the_evidence_with_its_source():
    deck = backlash.myths()
    assert len(deck.cards) >= 5
    for view in deck.cards:
        card = view.card
        assert [r.label for r in card.responses] == ["Myth", "Fact", "Partly true"]
        assert card.explanation and card.source and card.confidence
        assert all(r.verdict and r.feedback for r in card.responses)
        assert sum(r.verdict.startswith("Right") for r in card.responses) >= 1, card.card_id
        assert "The evidence." in view.pick(0) and escaped(card.explanation) in view.pick(1)


def test_the_mentoring_myth_teaches_the_correction():
    card = next(c.card for c in backlash.myths().cards if c.card.card_id == "mentoring")
    assert "common work activity" in card.explanation and "16%" in card.explanation
    assert next(r for r in card.responses if r.label == "Partly true").verdict == "Right"


def test_the_scenarios_cover_the_defensive_moments_with_feedback_on_every_response():
    deck = backlash.scenarios()
    situations = " ".join(c.card.situation for c in deck.cards)
    for line in ("men can't do anything right now", "just hire the best person", "mentor women any more"):
        assert line in situations
    for view in deck.cards:
        assert len(view.card.responses) >= 3 and view.card.source and view.card.confidence
        assert any(r.verdict == "Strong move" for r in view.card.responses)
        assert all(r.feedback and r.verdict for r in view.card.responses)


@pytest.mark.parametrize("deck", [backlash.myths, backlash.scenarios])
def test_every_figure_placeholder_in_the_cards_is_filled(deck):
    for view in deck().cards:
        text = view.situation.value + "".join(child.value for child in view.feedback.children)
        assert not re.search(r"\{[a-z0-9_]+\}", text), text[:200]


def test_an_unknown_figure_is_an_error_not_a_blank():
    with pytest.raises(ValueError, match="no figure 'nowhere'"):
        backlash.fill("It was {nowhere}.")
    assert backlash.fill("{any_activity} and {one_to_one}") == "60% and 12 times"


def test_card_explanations_are_escaped_and_must_agree_across_a_cards_rows():
    rows = [{"card_id": "x", "situation": "Claim", "response": "Myth", "feedback": "F",
             "explanation": "<script>alert(1)</script> & more"},
            {"card_id": "x", "situation": "Claim", "response": "Fact", "feedback": "G",
             "explanation": "<script>alert(1)</script> & more"}]
    shown = cards.deck(rows).cards[0].pick(1)
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "&amp; more" in shown
    rows[1]["explanation"] = "different"
    with pytest.raises(ValueError, match="same explanation"):
        cards.cards_from_rows(rows)


def test_card_text_from_the_data_is_escaped_in_the_page():
    for deck in (backlash.myths(), backlash.scenarios()):
        for view in deck.cards:
            html = view.situation.value + "".join(child.value for child in view.feedback.children)
            assert "<script" not in html
            assert escaped(view.card.situation) in view.situation.value


def test_the_safe_space_panel_cites_its_source():
    shown = backlash.safe_space().data
    rows = data.table("safe_space_practices")
    assert shown.count("<li>") == len(rows) and "Source:" in shown and "EQUALS" in shown


# --- the assumptions a learner can change: where a policy costs something (issue 12) ----------------------

def _net_change(policy, **changed):
    a = replace(backlash.assumptions_used(), **changed)
    return positive_sum.simulate(policy, "bar", a).output / positive_sum.simulate("none", "bar", a).output - 1


def test_the_defaults_keep_a_free_process_and_a_gap_that_is_all_tilt():
    assert DEFAULT.process_cost == 0 and DEFAULT.tilt_share == 1
    assert 100 * _net_change("all") == pytest.approx(3.5, abs=0.05)  # the gain the output view reports today


def test_a_costly_process_gives_a_net_loss_where_a_free_one_gives_a_gain():
    for policy in ("transparent", "credit", "sponsorship", "all"):
        assert _net_change(policy) > 0
        assert _net_change(policy, process_cost=0.01) < 0, policy
    assert _net_change("flexible", process_cost=0.01) > 0  # not every policy loses at the same cost


def test_a_gap_partly_from_preference_leaves_part_of_it_whatever_the_policy():
    a = replace(DEFAULT, tilt_share=0.5)
    assert positive_sum.women_weight("all", a) == pytest.approx(1 - DEFAULT.tilt / 2)
    assert positive_sum.women_weight("all", DEFAULT) == 1


@pytest.mark.parametrize("change, message", [
    (dict(process_cost=0.3), "process_cost must be in"), (dict(tilt_share=1.5), "tilt_share must be in")])
def test_the_new_assumptions_are_checked(change, message):
    with pytest.raises(ValueError, match=message):
        positive_sum.check(replace(DEFAULT, **change))


def test_the_what_if_explorer_offers_both_assumptions_with_labelled_views():
    explorer = backlash.what_if()
    assert [c.description for c in explorer.controls] == ["What a fairer process costs", "How much of the gap is tilt"]
    assert [v for _, v in explorer.controls[0].options][0] == 0 and explorer.controls[0].value == 0
    assert explorer.controls[1].value == 1
    views = _views(explorer)
    assert len(views) == len(backlash.PROCESS_COSTS) * len(backlash.TILT_SHARES) == 9
    for view in views:
        assert "What these assumptions imply, not a finding" in view and "Model assumption · illustrative" in view
        assert 'alt="' in view and "Source:" in view
    assert any("lower the team&#x27;s output" in v or "lower the team's output (" in v for v in views)
    assert any("no policy lowers the team" in v for v in views)


def test_module_4_words_the_output_result_as_what_the_assumptions_imply():
    text = (ROOT_NOTEBOOK.read_text(encoding="utf-8"))
    assert "Every policy leaves the team better off than no policy" not in text
    assert "That is what the assumptions imply, not a finding" in text
    assert "backlash.what_if()" in text
    # the prose says what the explorer shows: at the highest cost several policies lower output, at the middle one most do not
    assert "at the highest, several do not" in text
    losing = [p for p in positive_sum.POLICIES if p != "none" and _net_change(p, process_cost=0.01) < 0]
    assert len(losing) >= 3
    assert sum(_net_change(p, process_cost=0.005) >= 0 for p in positive_sum.POLICIES if p != "none") >= 3


def test_pages_show_no_code_paths_or_confidence_jargon():
    shown = "\n".join(_views(backlash.simulation())) + backlash.assumptions().value
    for name in ("backlash_myths", "backlash_scenarios", "practice_scenes", "scenarios_orientation"):
        shown += "".join(view.children[-1].value for view in cards.deck(name).cards)
    assert "course/" not in shown and "Confidence:" not in shown

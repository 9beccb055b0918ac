"""Module 5's veil model (`course.lesson.models.veil`) and its widgets (`course.lesson.figures.veil`)."""
import math
from pathlib import Path
from collections import Counter

import ipywidgets as w
import pytest

from course.lesson import data
from course.lesson.models import veil
from course.lesson.figures import veil as figures

DRAWS = 20_000


def _rows(name):
    return [dict(r) for r in data.table(name)]


def _fair_rules(model):
    return {rule: list(entry["options"])[-1] for rule, entry in model.rules.items()}


# --- the model ------------------------------------------------------------------------------------------------

def test_the_same_seed_draws_the_same_person_and_gives_the_same_outcome():
    m = veil.model()
    rules = m.example()
    for seed in (0, 1, 7, 123_456):
        assert veil.draw(seed) == veil.draw(seed)
        assert veil.outcome(rules, veil.draw(seed)) == veil.outcome(rules, veil.draw(seed))
    assert len({veil.draw(seed) for seed in range(50)}) > 5, "different seeds draw different people"


def test_draws_follow_the_stated_distribution():
    m = veil.model()
    people = [m.draw(seed) for seed in range(DRAWS)]

    def close(observed, expected, n):
        return abs(observed - expected) <= 4 * math.sqrt(expected * (1 - expected) / n) + 1e-9

    for attribute in veil.ATTRIBUTES:
        for when, weights in m.groups[attribute]:
            among = [p for p in people if all(getattr(p, a) in allowed for a, allowed in when)]
            counts, total = Counter(getattr(p, attribute) for p in among), sum(weights.values())
            for value, weight in weights.items():
                share = counts[value] / len(among)
                assert close(share, weight / total, len(among)), (attribute, when, value, share, weight / total)


def test_the_probabilities_of_every_person_add_up_to_one():
    assert sum(p for _, p in veil.model().people) == pytest.approx(1)
    assert all(p > 0 for _, p in veil.model().people)


def test_every_rule_combination_gives_an_outcome_for_every_identity():
    m = veil.model()
    combinations = m.combinations()
    assert len(combinations) == math.prod(len(e["options"]) for e in m.rules.values())
    for rules in combinations:
        for person, _ in m.people:
            result = m.outcome(rules, person)
            assert set(result.scores) == set(veil.OUTCOMES)
            assert all(math.isfinite(s) and 0 < s < 200 for s in result.scores.values()), (rules, person)


def test_shared_outcomes_average_one_hundred_whatever_the_rules():
    m = veil.model()
    for rules in m.combinations()[::17]:
        for o in veil.SHARED:
            mean = sum(p * m.outcome(rules, person).scores[o] for person, p in m.people)
            assert mean == pytest.approx(100), (rules, o)


def test_someone_no_rule_names_is_untouched_by_unshared_outcomes():
    m = veil.model()
    man = veil.Identity("Mid-level", "Man", "Another background", "None this year")
    result = m.outcome(_fair_rules(m), man)
    assert result.scores["pay"] == 100 and result.scores["time"] == 100


@pytest.mark.parametrize("rules, message", [
    ({}, "choose an option for every rule first; still to choose: parental leave"),
    ({"leave": "equal"}, "still to choose: flexible work, promotion, meetings, pay"),
    ({"leave": "equal", "flex": None, "promotion": "panel", "meetings": "chair", "pay": "bands"},
     "still to choose: flexible work"),
    ({"holidays": "more"}, "unknown rule 'holidays': the rules are leave, flex, promotion, meetings, pay"),
    ({"leave": "forever", "flex": "default", "promotion": "panel", "meetings": "chair", "pay": "bands"},
     "'forever' is not an option for parental leave: choose one of primary_carer, equal, equal_modelled"),
    ({"leave": 3, "flex": "default", "promotion": "panel", "meetings": "chair", "pay": "bands"},
     "3 is not an option for parental leave"),
])
def test_invalid_rules_are_refused_with_clear_messages(rules, message):
    with pytest.raises(ValueError) as raised:
        veil.check_rules(rules)
    assert message in str(raised.value)


def test_rules_that_are_not_a_mapping_are_refused():
    with pytest.raises(TypeError, match="rules must map each rule to an option"):
        veil.check_rules(["leave", "equal"])


@pytest.mark.parametrize("seed, error, message", [
    (-1, ValueError, "seed must be 0 or more"), (True, TypeError, "seed must be a whole number"),
    (1.5, TypeError, "seed must be a whole number"), (None, TypeError, "seed must be a whole number"),
])
def test_invalid_seeds_are_refused_with_clear_messages(seed, error, message):
    with pytest.raises(error, match=message):
        veil.draw(seed)


def test_a_person_outside_the_model_is_refused():
    with pytest.raises(ValueError, match="gender 'Robot' is not in the model"):
        veil.outcome(veil.model().example(), veil.Identity("Mid-level", "Robot", "Black", "None this year"))


@pytest.mark.parametrize("table, change, message", [
    ("veil_effects", {"who": "gender=Wizard"}, "gender has no value 'Wizard'"),
    ("veil_effects", {"who": "height=Tall"}, "must read attribute=value"),
    ("veil_effects", {"option": "maybe"}, "'maybe' is not an option of"),
    ("veil_effects", {"outcome": "happiness"}, "unknown outcome 'happiness'"),
    ("veil_effects", {"factor": "-1"}, "must be a positive number"),
    ("veil_population", {"weight": "lots"}, "is not a number"),
    ("veil_population", {"when": "caring=Ongoing care"}, "must read attribute=value"),
])
def test_tables_the_model_cannot_use_are_refused_with_clear_messages(table, change, message):
    tables = {name: _rows(name) for name in ("veil_rules", "veil_population", "veil_effects")}
    target = next(r for r in tables[table] if table != "veil_population" or r["attribute"] == "gender")
    target.update(change)
    with pytest.raises(ValueError, match=message):
        veil.Model(tables["veil_rules"], tables["veil_population"], tables["veil_effects"])


def test_overlapping_population_groups_are_refused():
    population = _rows("veil_population")
    population.append({**next(r for r in population if r["attribute"] == "gender"), "when": ""})
    with pytest.raises(ValueError, match="exactly one"):
        veil.Model(_rows("veil_rules"), population, _rows("veil_effects"))


def test_checked_inputs_agree_with_the_course_data_they_come_from():
    population = {(r["attribute"], r["value"], r["when"]): float(r["weight"]) for r in data.table("veil_population")}
    computing = max(data.table("women_computing_jobs_us"), key=lambda r: int(r["year"]))
    below_top = "seniority=Early career|Mid-level|Manager"
    assert population[("gender", "Woman", below_top)] == float(computing["pct_women"])
    ceos = next(r for r in data.table("women_ceos_fortune500") if r["year"] == "2024")
    assert population[("gender", "Woman", "seniority=Senior leader")] == pytest.approx(
        100 * int(ceos["women_ceos"]) / int(ceos["companies"]))
    rung = {r["group"]: float(r["per_100_men"]) / 100 for r in data.table("broken_rung") if r["report_year"] == "2019"}
    judgement = {r["who"]: float(r["factor"]) for r in data.table("veil_effects")
                 if (r["rule"], r["option"]) == ("promotion", "judgement")}
    assert judgement["gender=Woman;race=Another background"] == rung["Women"]
    assert judgement["gender=Woman;race=Black"] == rung["Black women"]


def test_every_weight_and_effect_says_how_sure_we_are():
    for name in ("veil_population", "veil_effects", "veil_rules"):
        for row in data.table(name):
            label = row["confidence"]
            assert label.startswith(("checked", "derived")) or "illustrative" in label or "no figure" in label, row
    illustrative = [r for r in data.table("veil_population") if "illustrative" in r["confidence"]]
    assert illustrative and all("No figure" in r["note"] or "ours" in r["note"] for r in illustrative)


def test_choosing_behind_the_veil_protects_the_worst_off_better_than_knowing_everything():
    m = veil.model()
    likely = max(m.people, key=lambda pair: pair[1])[0]
    knowing, behind = m.choose("you", likely), m.choose("worst_off")
    assert behind.worst > knowing.worst + 10
    assert knowing.score >= m.grid()[tuple(behind.rules.items())][[p for p, _ in m.people].index(likely)]
    status_quo = min(m.grid()[tuple(m.example().items())])
    assert behind.worst > status_quo + 20, "the fairest rules lift the worst-off far above the status quo"


def test_the_average_cannot_see_rules_that_only_move_chances_between_people():
    average = veil.model().choose("average")
    for rule in ("promotion", "meetings"):
        assert len(average.equally_good[rule]) == len(veil.model().rules[rule]["options"])


def test_an_unknown_way_of_choosing_is_refused():
    with pytest.raises(ValueError, match="unknown way of choosing 'luck'"):
        veil.model().choose("luck")


# --- the widgets ------------------------------------------------------------------------------------------------

def _choose_all(game, pick=0):
    for control in game.controls.values():
        control.value = control.options[pick][1]


def test_the_game_is_keyboard_usable_toggle_buttons_and_a_real_button():
    game = figures.game()
    assert all(isinstance(c, w.ToggleButtons) for c in game.controls.values())
    assert [c.description for c in game.controls.values()] == [
        e["label"] for e in veil.model().rules.values()]
    assert isinstance(game.button, w.Button) and game.button.description == "Draw who I will be"


def test_drawing_before_choosing_every_rule_says_what_is_missing():
    game = figures.game()
    game.controls["leave"].value = "equal"
    game.draw()
    assert game.identity is None and game.view.value == ""
    assert "still to choose: flexible work, promotion, meetings, pay" in game.status.value


def test_drawing_again_changes_the_identity_along_the_seeded_sequence():
    game = figures.game(seed=0)
    _choose_all(game)
    game.draw()
    first, first_status = game.identity, game.status.value
    game.draw()
    assert game.identity == veil.draw(1) and first == veil.draw(0)
    assert game.identity != first and game.status.value != first_status
    assert game.button.description == "Draw again" and "Draw 2: you are" in game.status.value
    again = figures.game(seed=0)
    _choose_all(again)
    again.draw()
    assert again.identity == first, "the same clicks show the same people"


def test_changing_a_rule_after_a_draw_rescores_the_same_person_and_says_so():
    game = figures.game()
    _choose_all(game)
    game.draw()
    person, before = game.identity, game.view.value
    game.controls["promotion"].value = "panel"
    assert game.identity == person
    assert "after seeing who you are" in game.view.value and game.view.value != before


def test_the_outcome_chart_has_alt_text_for_every_outcome_and_says_it_is_illustrative():
    game = figures.game()
    _choose_all(game)
    game.draw()
    shown = game.view.value
    for label in veil.OUTCOMES.values():
        assert f"{label}: " in shown
    assert 'alt="Bar chart, How your rules treat this person.' in shown
    assert "Illustrative model, not a measurement" in shown


def test_learner_facing_text_is_escaped():
    rules, population, effects = (_rows(n) for n in ("veil_rules", "veil_population", "veil_effects"))
    hostile = "<img src=x onerror=alert(1)>"
    for r in rules:
        r["option_label"] += hostile
        r["description"] += hostile
    for r in population:
        r["phrase"] = f"{r['phrase']} <script>alert(1)</script>"
    for r in effects:
        r["story"] += hostile
    game = figures.VeilGame(model=veil.Model(rules, population, effects))
    _choose_all(game)
    game.draw()
    for control in game.controls.values():  # every effect row applies to someone: show them all
        control.value = control.options[1][1]
    shown = "".join(c.value for c in game.children if isinstance(c, w.HTML))
    assert "<img src=x" not in shown and "<script>" not in shown
    assert "&lt;img src=x" in shown


def test_a_redraw_comes_from_the_cache_once_drawn(tmp_path, monkeypatch):
    import matplotlib.figure

    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))
    game = figures.game()
    _choose_all(game)
    game.draw()
    shown = game.view.value
    game.seed -= 1  # draw the same person again: the chart comes from the cache, so nothing is drawn
    monkeypatch.setattr(matplotlib.figure, "Figure", lambda *a, **k: pytest.fail("the chart was drawn again"))
    game.draw()
    assert game.view.value == shown


def test_the_knowing_explorer_compares_each_person_with_the_veil():
    explorer = figures.knowing()
    control = explorer.controls[0]
    assert isinstance(control, w.Dropdown) and len(control.options) == len(explorer.views.children) >= 5
    assert control.options[0].startswith("A man"), "the most likely person comes first"
    for view in explorer.every_view():
        assert "Knowing you are this person" in view and "Behind the veil" in view
        assert 'alt="Bar chart, Overall score' in view


# --- what fairer processes cost: a model assumption a learner can change (issue 12) ------------------------

def test_by_default_the_fairer_options_cost_nobody_time_as_before():
    assert veil.model(0.0).grid() == veil.model().grid()
    assert not any(e.confidence.startswith("model assumption") for e in veil.model().effects)


def test_when_fairer_processes_take_time_the_best_average_drops_them():
    free, costly = veil.model().choose("average"), veil.model(0.02).choose("average")
    assert (free.rules["promotion"], free.rules["meetings"]) == ("panel", "amplify")
    assert (costly.rules["promotion"], costly.rules["meetings"], costly.rules["pay"]) == (
        "judgement", "open_floor", "secret")
    protected = veil.model(0.02).choose("worst_off")
    assert (protected.rules["promotion"], protected.rules["meetings"]) == ("panel", "amplify")
    assert protected.worst < veil.model().choose("worst_off").worst
    with pytest.raises(ValueError, match="process_cost"):
        veil.model(0.7)


def test_the_knowing_explorer_offers_the_cost_of_fairer_processes():
    explorer = figures.knowing()
    assert [c.description for c in explorer.controls] == ["If you knew you would be", "What fairer processes cost"]
    assert explorer.controls[1].value == 0 and len(figures.PROCESS_COSTS) == 3
    views = explorer.every_view()
    assert len(views) == len(explorer.controls[0].options) * 3
    assert all("What these assumptions imply, not a finding" in v and "Model assumption · illustrative"
               in v for v in views)


def test_module_5_words_the_no_trade_off_result_as_an_assumption():
    text = (Path(__file__).resolve().parents[1] / "solutions" / "05-behind-the-veil.ipynb").read_text(encoding="utf-8")
    assert "Second, many rules are barely a trade-off at all." not in text
    assert "That is built in: the tables assume the fairer options take nobody's time" in text


def test_the_tables_show_how_sure_we_are_about_every_row():
    shown = figures.population().value
    assert shown.count("illustrative model") >= 4 and "checked" in shown
    explorer = figures.assumptions()
    assert len(explorer.views.children) == len(veil.model().rules)
    assert all("how sure; source" in v for v in explorer.every_view())
    assert all("illustrative model" in v or "checked" in v for v in explorer.every_view())
    assert "OECD" in figures.fathers_leave().data and "fewer than 1 in 5" in figures.fathers_leave().data
    assert "Stanford Encyclopedia of Philosophy" in figures.ideas().data

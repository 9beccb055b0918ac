"""Module 2: the attrition-cost model, the calculator built on it, and the study explorer's data."""
import math

import pytest
from hypothesis import given, strategies as st

from course.lesson.models import attrition
from course.lesson import data, widgets
from course.lesson.figures import business_case

# -- The model -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("team, rate, share, salary, expected", [
    (10, 10, 21, 50_000, 10_500),       # one leaver a year, a fifth-ish of a salary each: 10 × 0.1 × 0.21 × 50,000
    (20, 25, 21, 60_000, 63_000),       # 5 leavers × 12,600
    (1, 100, 100, 1_000, 1_000),        # the only person leaves; replacing them costs one salary
    (8, 12.5, 50, 40_000, 20_000),      # 1 leaver × 20,000
    (3, 20, 21, 2_500_000, 315_000),    # 0.6 leavers × 525,000
])
def test_replacement_cost_matches_hand_calculations(team, rate, share, salary, expected):
    assert attrition.replacement_cost(team, rate, share, salary) == pytest.approx(expected)


@pytest.mark.parametrize("team, share, salary", [(1, 21, 50_000), (250, 400, 100_000_000), (12, 0, 0)])
def test_zero_attrition_costs_nothing(team, share, salary):
    assert attrition.replacement_cost(team, 0, share, salary) == 0


def test_typed_text_is_read_as_the_learner_meant_it():
    assert attrition.replacement_cost(" 12 ", "12.5%", "21", "52,000") == pytest.approx(12 * 0.125 * 0.21 * 52_000)
    assert attrition.number("1 250 000", "Salary") == 1_250_000
    assert attrition.leavers(10, 10) == pytest.approx(1)


@pytest.mark.parametrize("args, says", [
    ((0, 10, 21, 50_000), "at least one person"),
    ((2.5, 10, 21, 50_000), "whole people"),
    (("ten", 10, 21, 50_000), "not a number"),
    ((True, 10, 21, 50_000), "please enter a number"),
    ((10**7, 10, 21, 50_000), "up to 1,000,000 people"),
    ((10, -5, 21, 50_000), "from 0 to 100"),
    ((10, 150, 21, 50_000), "from 0 to 100"),
    ((10, 10, -1, 50_000), "from 0 to 400"),
    ((10, 10, 21, -1), "cannot be negative"),
    ((10, 10, 21, 10**12), "extra zero"),
    ((10, 10, 21, "1,5"), "with a point for decimals"),
    ((10, 10, 21, float("nan")), "please enter a number"),
    ((10, 10, 21, float("inf")), "too large"),
    ((10, 10, 21, "1e400"), "too large"),
    ((10, 10, 21, 10**400), "too large"),
    ((10, 10, 21, ""), "please enter a number"),
    ((10, 10, 21, None), "please enter a number"),
    ((10, 10, 21, [50_000]), "please enter a number"),
])
def test_impossible_inputs_are_refused_with_a_message_naming_the_box(args, says):
    with pytest.raises(ValueError) as refused:
        attrition.replacement_cost(*args)
    message = str(refused.value)
    assert says in message
    assert message.split(":")[0] in {"Team size", "Attrition", "Replacement cost", "Salary"}


def test_every_problem_is_reported_at_once():
    found = attrition.problems(0, 150, -1, "abc")
    assert [p.split(":")[0] for p in found] == ["Team size", "Attrition", "Replacement cost", "Salary"]


teams = st.integers(1, attrition.MAX_TEAM_SIZE)
rates = st.floats(0, 100, allow_nan=False)
shares = st.floats(0, attrition.MAX_COST_SHARE_PCT, allow_nan=False)
salaries = st.floats(0, attrition.MAX_SALARY, allow_nan=False)


@given(teams, rates, rates, shares, salaries)
def test_cost_never_falls_as_attrition_rises(team, a, b, share, salary):
    low, high = sorted((a, b))
    assert attrition.replacement_cost(team, low, share, salary) <= attrition.replacement_cost(team, high, share, salary)


@given(st.integers(1, 1000), st.integers(1, 1000), rates, shares, salaries)
def test_cost_is_linear_in_team_size(team, k, rate, share, salary):
    one = attrition.replacement_cost(team, rate, share, salary)
    assert attrition.replacement_cost(team * k, rate, share, salary) == pytest.approx(k * one, rel=1e-9, abs=1e-6)


@given(st.one_of(st.none(), st.booleans(), st.text(max_size=30), st.integers(), st.floats(), st.lists(st.integers())))
def test_any_input_gets_a_cost_or_a_message_never_another_error(value):
    for position in range(4):
        args = [10, 10, 21, 50_000]
        args[position] = value
        try:
            cost = attrition.replacement_cost(*args)
        except ValueError as refused:
            assert str(refused)
        else:
            assert math.isfinite(cost) and cost >= 0


# -- The calculator widget -----------------------------------------------------------------------------------


@pytest.fixture
def calculator(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))
    return business_case.attrition_calculator()


def test_calculator_starts_from_the_cited_default_and_no_salary(calculator):
    default = data.table("turnover_cost")[0]["median_pct_of_salary"]
    assert calculator.fields["cost_share_pct"].value == default
    assert calculator.fields["salary"].value == ""
    assert "full annual salary" in calculator.view.value and "<img" in calculator.view.value
    assert calculator.message.value == ""


def test_calculator_redraws_when_an_input_changes(calculator):
    before = calculator.view.value
    calculator.fields["salary"].value = "52,000"
    assert calculator.view.value != before
    assert "10,920 a year" in calculator.view.value  # 10 people × 10% × 21% × 52,000


@pytest.mark.parametrize("box, typed", [("team_size", "0"), ("team_size", "2.5"), ("attrition_pct", "-5"),
                                        ("attrition_pct", "150"), ("salary", "lots"),
                                        ("cost_share_pct", "<img src=x onerror=alert(1)>")])
def test_calculator_shows_a_message_for_impossible_input_and_keeps_the_last_chart(calculator, box, typed):
    chart = calculator.view.value
    calculator.fields[box].value = typed
    assert 'role="status"' in calculator.message.value and "Traceback" not in calculator.message.value
    assert "still shows the last numbers that worked" in calculator.message.value
    assert "<img src=x" not in calculator.message.value
    assert calculator.view.value == chart


def test_calculator_recovers_once_the_input_is_fixed(calculator):
    calculator.fields["attrition_pct"].value = "150"
    calculator.fields["attrition_pct"].value = "20"
    assert calculator.message.value == "" and "20% leaving a year" in calculator.view.value


def test_a_learners_own_numbers_are_not_written_to_the_chart_cache(tmp_path, calculator):
    cached = set((tmp_path / "charts").glob("*.json"))
    calculator.fields["salary"].value = "61,234"
    calculator.fields["team_size"].value = "17"
    assert set((tmp_path / "charts").glob("*.json")) == cached


def test_calculator_chart_has_alt_text_and_its_source():
    chart, reading = business_case.calculation({"team_size": "10", "attrition_pct": "12.5",
                                                "cost_share_pct": "21", "salary": "52000"})
    assert chart.alt.startswith("Line chart") and "Highlighted: 12.5" in chart.alt
    assert "Boushey" in chart.source
    assert "about 13,650 a year" in reading


def test_calculator_is_keyboard_usable_text_boxes():
    field = widgets.number_field("Team size", "10")
    assert field.description == "Team size" and field.continuous_update is False


# -- The study explorer --------------------------------------------------------------------------------------

STUDY_FIELDS = ("study", "year", "kind", "claim", "method", "sample", "limits", "main_limit", "source_id",
                "confidence")


@pytest.mark.parametrize("row", data.table("studies"), ids=lambda r: r["study_id"])
def test_every_study_has_claim_method_sample_year_limits_and_source(row):
    for field in STUDY_FIELDS:
        assert row[field].strip(), f"{row['study_id']} has no {field}"
    assert row["year"][:4].isdigit()
    assert row["source_id"] in data.sources()


def test_study_explorer_shows_a_card_for_every_study(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))
    rows = data.table("studies")
    explorer = business_case.study_explorer()
    assert len(explorer.views.children) == len(rows)
    for row, view in zip(rows, explorer.every_view()):
        for label in ("Claim", "Kind of evidence", "Method", "Sample", "Limits", "Source"):
            assert f">{label}</dt>" in view
        assert data.sources()[row["source_id"]].url in view


def test_the_mckinsey_series_is_labelled_as_correlation(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))
    explorer = business_case.profitability()
    for view in explorer.every_view():
        assert "correlation, not causation" in view
        assert "does not show which one caused the other" in view


def test_every_series_figure_comes_from_data():
    values = [r["pct_more_likely"] for r in data.table("diversity_profitability")]
    alt = business_case._profitability_chart().alt
    assert all(f"{v}%" in alt for v in values)

"""The corrected readings of the evidence stay corrected: each test pins one misreading found in review
(issue 12) so that it cannot quietly come back, in the data, the prose or what a chart says."""
import csv
import json

import pytest
from conftest import ROOT

from course.lesson import data
from course.lesson.figures import backlash, bias, why_men

MODULES = sorted((ROOT / "solutions").glob("*.ipynb"))


def _prose() -> str:
    """Every cell of every instructor notebook, joined: what a learner reads, plus the checks' wording."""
    return "\n".join("".join(cell["source"]) for path in MODULES
                     for cell in json.loads(path.read_text(encoding="utf-8"))["cells"])


def _data_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "data").glob("*.csv")))


def _shown(explorer) -> str:
    """Every view an explorer can show, as one string."""
    return "\n".join(explorer.every_view())


@pytest.mark.parametrize("wrong", [
    "fall more on women",                 # Anderson & Leaper measured who interrupts, not who is interrupted
    "Most men sit in",                    # the continuum is a teaching picture, not a finding
    "The Athena Factor followed",         # a one-time survey, not a cohort study
    "is exactly that kind of action",     # the replication never tested sponsorship
    "all three agree",                    # only Dobbin & Kalev speak to voluntary versus mandatory
    "in each year with a published count",  # the Fortune series has gaps
])
def test_corrected_misreadings_do_not_come_back(wrong):
    assert wrong.lower() not in _prose().lower()
    assert wrong.lower() not in _data_text().lower()


def test_interruption_evidence_says_who_was_measured_and_its_moderators():
    meetings = " ".join(r["statement"] for r in data.table("bias_evidence") if r["topic"] == "meetings")
    assert "who interrupts, not who is interrupted" in meetings
    assert "first author was a woman" in meetings


def test_code_review_drops_are_not_called_percentage_points():
    rows = data.table("code_review")
    assert all("percentage points" not in r["unit"] for r in rows)
    shown = _shown(bias.code_review())
    assert "12.0%" in shown and "does not say whether these are percentage points" in shown


def test_continuum_preselects_nothing_and_calls_itself_a_teaching_picture():
    explorer = why_men.continuum()
    assert explorer.controls[0].value is None and explorer.views.selected_index is None
    assert all("not a survey result" in view for view in _shown(explorer).split("\n"))


def test_a_share_the_source_gives_in_words_is_shown_in_words_only():
    shown = _shown(why_men.perception_gap())
    assert "about a third of women" in shown
    assert "about a third 33" not in shown and "nearly 50% of men" in shown


def test_fortune_series_holds_2017_and_2019_and_each_year_names_its_source():
    rows = {r["year"]: r for r in data.table("women_ceos_fortune500")}
    assert {"2017", "2018", "2019"} <= set(rows)
    for year in ("2017", "2019"):
        assert rows[year]["source_id"] in data.sources()
    assert rows["2017"]["confidence"] == "secondary"  # read in a newspaper report of Fortune's list


def test_2019_any_activity_figure_is_not_set_beside_the_2018_mentoring_figure_in_one_chart():
    first_view = _shown(backlash.pull_back()).split("</figure>")[0]
    assert "Mentoring itself (2018)" not in first_view
    assert "different year" in _shown(backlash.pull_back())
    for row in data.table("backlash_myths"):
        if row["card_id"] == "mentoring":
            assert "different year and a narrower question" in row["explanation"]


def test_bcg_figure_is_what_employees_reported_not_what_companies_reported():
    assert "companies reported progress" not in _prose()
    assert "employees" in _shown(why_men.men_involvement())


def test_broken_rung_years_say_they_are_report_years():
    shown = _shown(bias.broken_rung())
    assert "not the year of the promotions" in shown
    with (ROOT / "data" / "broken_rung.csv").open(encoding="utf-8", newline="") as fh:
        assert "report_year" in next(csv.reader(fh))


def test_ncwit_chart_names_its_newest_year_and_the_prose_says_why_it_is_old():
    newest = max(int(r["year"]) for r in data.table("women_computing_jobs_us"))
    assert f"newest year in our data: {newest}" in why_men.computing_jobs().alt
    assert "newest year in our data is 2016" in _prose() or newest != 2016


@pytest.mark.parametrize("source_id, topic", [
    ("williams_ceci2015", "hiring"), ("ceci2023", "hiring"), ("drury_kaiser2014", "speaking_up"),
    ("hekman2017", "speaking_up"), ("rudman_mescher2013", "leave"),
])
def test_counter_and_supporting_research_is_taught_with_a_doi(source_id, topic):
    assert any(r["source_id"] == source_id for r in data.table("bias_evidence") if r["topic"] == topic)
    assert data.sources()[source_id].url.startswith("https://doi.org/10.")
    assert data.sources()[source_id].authors.split(",")[0].split()[-1] in bias.evidence(topic).data


def test_board_meta_analysis_is_in_the_study_explorer_without_effect_sizes():
    row = next(r for r in data.table("studies") if r["source_id"] == "post_byron2015")
    assert "correlational" in row["limits"]


def test_a_survey_association_is_not_keyed_as_settling_a_causal_myth():
    verdicts = {r["response"]: r["verdict"] for r in data.table("backlash_myths") if r["card_id"] == "facts"}
    assert verdicts["Partly true"] == "Right" and verdicts["Myth"] != "Right"


def test_the_practitioner_claim_about_speaking_up_now_shows_its_research():
    assert 'leading.evidence("speaking_up")' in _prose() and 'leading.evidence("leave")' in _prose()


def test_women_accounts_are_few_cited_paraphrased_and_shown_as_accounts():
    rows = data.table("women_accounts")
    assert 4 <= len(rows) <= 6
    for row in rows:
        assert row["gathered"] and row["confidence"], row["account_id"]
        assert not set("\"“”") & set(row["account"]), "accounts are paraphrased, never quoted"
    assert any("race" in row["barrier"] for row in rows), "at least one account speaks to gender and race together"
    shown = _shown(why_men.accounts())
    assert shown.count("paraphrased in our words") == len(rows) and shown.count("not invented") == len(rows)
    for row in rows:
        source = data.sources()[row["source_id"]]
        assert source.url in shown and source.evidence_kind.capitalize() in shown
        if row["read_in"]:  # where we read it second-hand is shown too, so a reader can check the paraphrase
            assert data.sources()[row["read_in"]].url in shown


def test_module_one_shows_the_accounts_and_says_what_they_are():
    prose = "".join("".join(c["source"]) for c in json.loads(
        (ROOT / "solutions" / "01-why-men-why-now.ipynb").read_text(encoding="utf-8"))["cells"])
    assert "why_men.accounts()" in prose and "none is invented" in prose and "not how common" in prose


def test_amplification_and_he_peating_are_shown_with_their_sources_in_module_three():
    shown = _shown(bias.interruptions())
    assert "amplification" in shown and "He-peating" in shown
    assert data.sources()["eilperin2016"].url in shown and data.sources()["equals2018"].url in shown


def test_check_cells_say_nothing_about_when_feedback_comes():
    # Feedback timing depends on the path and the site's setting; a learner-visible comment must not promise one.
    text = "".join((ROOT / folder / f"{name}.ipynb").read_text(encoding="utf-8")
                   for folder in ("solutions", "modules") for name in (p.stem for p in MODULES))
    assert "checked when the module is graded" not in text

"""The evidence badge: every source says what kind of evidence it is and how strong; every module shows that
as one plain-language badge from `course.lesson.badges`, explained once, in the Orientation."""
import json
import re

import pytest
from conftest import ROOT

from course.lesson import badges, data
from course.lesson.figures import backlash, bias, four_weeks, leading, orientation, veil


def test_every_source_names_a_known_kind_and_strength():
    for source_id, source in data.sources().items():
        assert source.evidence_kind in badges.KINDS, source_id
        assert source.strength in badges.STRENGTHS, source_id


@pytest.mark.parametrize("source_id, kind, strength", [
    ("bezrukova2016", "meta-analysis", "strong"),
    ("mossracusin2012", "experiment", "moderate"),
    ("terrell2017", "field study", "moderate"),
    ("goldinrouse2000", "field study", "contested"),
    ("mckinsey2023", "correlational study", "contested"),
    ("equals2018", "practitioner view", "limited"),
    ("shelton_kratz2018", "teaching picture", "illustrative"),
    ("martell1996", "model assumption", "illustrative"),
    ("devine2012", "experiment", "contested"),  # its drop in implicit bias did not replicate (forscher2017)
    ("lindsey2015", "experiment", "limited"),  # small, self-reported behaviour
    ("gollwitzer2006", "meta-analysis", "strong"),
])
def test_key_sources_are_labelled_at_their_real_strength(source_id, kind, strength):
    source = data.sources()[source_id]
    assert (source.evidence_kind, source.strength) == (kind, strength)


def test_the_label_says_kind_strength_and_how_the_figure_was_read():
    assert badges.label("terrell2017", "checked") == "Field study · moderate · checked in the source"
    assert badges.label("atwater2019", "secondary") == "Survey · limited · read second-hand"
    assert badges.label("mossracusin2012", "checked (findings); unverified (dollar figures)").endswith(
        "part not verified")


def test_the_badge_explains_itself_to_screen_readers_and_escapes_its_text():
    html = badges.badge("mckinsey2023", 'checked"><script>')
    assert '<span class="allies-unseen"> (evidence: Correlational study: ' in html and "aria-label" not in html
    assert "<script>" not in html


@pytest.mark.parametrize("panel", [
    lambda: bias.evidence("hiring"), lambda: bias.evidence("meetings"), bias.pipeline_design,
    bias.pipeline_caveats, leading.what_sticks, veil.ideas, backlash.safe_space, four_weeks.what_lasts,
], ids=["hiring", "meetings", "pipeline_design", "pipeline_caveats", "what_sticks", "veil_ideas", "safe_space",
        "what_lasts"])
def test_panels_show_badges_not_bare_confidence_labels(panel):
    shown = panel().data
    assert "allies-badge" in shown
    assert not re.search(r"\[(checked|secondary|unverified)[^\]]*\]", shown)


def test_cards_name_their_evidence_in_badge_words():
    view = backlash.myths().cards[0]
    assert view.card.evidence.startswith("Survey · moderate")
    assert "Evidence: Survey · moderate" in view.children[-1].value


def test_the_badge_is_explained_once_in_the_orientation():
    explained = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any("orientation.evidence_badges()" in "".join(c["source"]) for c in cells):
            explained.append(path.stem)
    assert explained == ["00-before-you-start"]
    legend = orientation.evidence_badges().children[0].value
    for strength in badges.STRENGTHS:
        assert f">{strength}<" in legend

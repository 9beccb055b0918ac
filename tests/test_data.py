"""Every figure a learner sees has a source, and every source is used."""
import csv
import re

import pytest

from course.lesson import data
from conftest import ROOT

REQUIRED_SOURCE_FIELDS = ("authors", "cite_as", "title", "publisher", "year", "url", "what_we_took", "confidence",
                          "evidence_kind", "strength")


def _rows(name):
    with (ROOT / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", data.table_names())
def test_every_row_names_a_known_source(name):
    rows = _rows(name)
    assert rows, f"{name}.csv is empty"
    known = data.sources()
    for row in rows:
        assert row.get("source_id") in known, f"{name}.csv row without a known source: {row}"
        assert row.get("confidence"), f"{name}.csv row without a confidence label: {row}"


def test_every_source_is_complete_and_used():
    used = {row[column] for name in data.table_names() for row in _rows(name)
            for column in ("source_id", "read_in") if row.get(column)}  # read_in: where a source was read
    for source_id, source in data.sources().items():
        for field in REQUIRED_SOURCE_FIELDS:
            assert getattr(source, field).strip(), f"source {source_id} has no {field}"
        assert re.match(r"https://", source.url), f"source {source_id} has no https link"
        assert source_id in used, f"source {source_id} is listed but no figure uses it"


def test_every_short_citation_names_an_author_and_the_year():
    """A page shows each source as "Author (year)": the name is one of the source's authors, the year its year."""
    for source_id, source in data.sources().items():
        name, year = re.fullmatch(r"(.+?)(?: et al\.)? \((.+)\)", source.cite_as).groups()
        assert year == source.year, source_id
        assert all(part in source.authors.replace("McKinsey & Company", "McKinsey")
                   for part in name.split(" and ")), source_id


def test_a_source_line_shows_short_citations_that_open_to_the_full_reference():
    from course.lesson import markup

    text = data.citation_line([{"source_id": "bcg2017men"}, {"source_id": "goldinrouse2000"}]) + " <b>x</b>"
    line = markup.source_line(text)
    assert line.count('<details class="allies-cite">') == 2
    assert "<summary>Krentz et al. (2017)</summary>" in line and "<summary>Goldin and Rouse (2000)</summary>" in line
    assert '<a href="https://doi.org/10.1257/aer.90.4.715"' in line  # the full reference, a click away
    assert "&lt;b&gt;x&lt;/b&gt;" in line  # other text is escaped


def test_a_row_without_a_source_is_refused(tmp_path, monkeypatch):
    (tmp_path / "sources.csv").write_text((ROOT / "data" / "sources.csv").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    (tmp_path / "orphan.csv").write_text("year,value,source_id,confidence\n2020,5,nowhere,checked\n",
                                         encoding="utf-8")
    monkeypatch.setenv("ALLIES_DATA_DIR", str(tmp_path))
    data.sources.cache_clear()
    data.table.cache_clear()
    try:
        with pytest.raises(ValueError, match="no known source"):
            data.table("orphan")
    finally:
        data.sources.cache_clear()
        data.table.cache_clear()


@pytest.mark.parametrize("name", ["../sources", "a/b", ""])
def test_table_names_cannot_escape_the_data_folder(name):
    with pytest.raises(ValueError):
        data.table(name)


def _caption_rest(html: str) -> str:
    """What a chart's caption says outside its citations (each a <details>: short, the full reference within)."""
    caption = re.search(r"<figcaption>(.*?)</figcaption>", html, re.S).group(1)
    return re.sub(r"<details class=\"allies-cite\">.*?</details>", "", caption, flags=re.S)


def test_every_model_charts_caption_cites_its_sources_with_the_full_reference_a_click_away():
    """Module 4's model charts and Module 5's veil charts and tables named their sources as "Heather Boushey,
    Sarah Jane Glynn (2012)" in plain text, with no full reference anywhere on the page."""
    from course.lesson import charts, self_assessment
    from course.lesson.figures import backlash, veil

    game = veil.game()
    for control in game.controls.values():
        control.value = control.options[0][1]
    game.draw()
    captions = [charts.bars(["a"], [1], title="t", source=text).html()
                for text in (backlash._source_line(), self_assessment.source_note_p())]
    captions += [game.view.value, veil.knowing().first_view()]
    for html in captions:
        assert '<details class="allies-cite">' in html, html[:300]
        assert not re.search(r"\(\d{4}\)", _caption_rest(html)), _caption_rest(html)
    # Module 4's policies ("Why it is in the model") and Module 5's "Basis" columns
    for table in (backlash.policies().value, veil.population().value, veil.assumptions().first_view()):
        assert '<details class="allies-cite">' in table
        rest = re.sub(r"<details class=\"allies-cite\">.*?</details>", "", table, flags=re.S)
        assert not re.search(r"(\(|, )\d{4}\)", rest), re.search(r".{80}(\(|, )\d{4}\)", rest)


def test_the_lesson_code_types_no_year_so_each_comes_from_data():
    """Chart titles and readings said "(2019)", "In 2019" and "(OECD, 2016)" in the code: a year, like every
    figure, comes from data/ with its row, so it cannot drift from the source it names. An example date in a
    placeholder ("2026-03-14") is not a year said of a source."""
    import ast

    typed = []
    for path in sorted((ROOT / "course" / "lesson").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr)}
        typed += [f"{path.name}:{node.lineno}: {node.value}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                  and re.search(r"\b(19|20)\d\d\b(?!-)", node.value)]
    assert not typed, typed

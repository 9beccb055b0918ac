"""Module 1 — Why men, why now: who holds decisions, what including men changes, the perception gap."""
from __future__ import annotations

from course.lesson import badges, charts, widgets
from course.lesson.data import citation_line as _source, sources, table


def leadership():
    """Women among Fortune 500 CEOs over the years; the slider picks the year to read."""
    rows = table("women_ceos_fortune500")
    years = [int(r["year"]) for r in rows]
    shares = [round(100 * int(r["women_ceos"]) / int(r["companies"]), 1) for r in rows]

    def draw(year):
        row = rows[years.index(year)]
        chart = charts.timeline(years, shares, title="Women as a share of Fortune 500 CEOs",
                                source=_source(rows), highlight=year, ylim=50)
        note = " (this year's count is from a secondary source)" if row["confidence"] == "secondary" else ""
        return chart, (f"In {year}, {row['women_ceos']} of the {row['companies']} Fortune 500 CEOs were "
                       f"women: {shares[years.index(year)]:g}%. Men held the other "
                       f"{int(row['companies']) - int(row['women_ceos'])} seats{note}.")

    return widgets.explorer(widgets.slider(years), draw, "Year")


def men_involvement():
    """BCG's comparison of companies where men are, or are not, actively involved."""
    rows = table("men_involvement_progress")
    labels = [r["group"] for r in rows]
    values = [float(r["pct_reporting_progress"]) for r in rows]

    def draw(focus):
        chart = charts.bars(labels, values, title="Reported progress on gender diversity (BCG survey of employees)",
                            source=_source(rows), highlight=None if focus == "Both" else focus)
        if focus == "Both":
            reading = (f"{values[0]:g}% against {values[1]:g}%: the gap is "
                       f"{values[0] - values[1]:g} percentage points. This is progress as the employees BCG "
                       "surveyed reported it, not measured results.")
        else:
            reading = (f"{focus}: {values[labels.index(focus)]:g}% reported progress on gender diversity, as BCG "
                       "words its survey of employees.")
        return chart, reading

    return widgets.explorer(widgets.choices(["Both", *labels]), draw, "Show")


def perception_gap():
    """How men's and women's answers differ on the same survey statements."""
    rows = table("perception_gap")
    statements = list(dict.fromkeys(r["statement"] for r in rows))

    def draw(statement):
        pair = {r["respondents"]: r for r in rows if r["statement"] == statement}
        chart = charts.grouped_bars(["Agree"], {who: [float(pair[who]["pct"])] for who in ("Men", "Women")},
                                    title="Share who agree, by gender", source=_source(rows))

        def said(who):
            row = pair[who]  # where the source words a share ("about a third"), say it in its words
            return row["as_worded"] or f"{row['pct']}% of {who.lower()}"

        return chart, f"“{statement}”: {said('Men')} agreed, against {said('Women')}."

    return widgets.explorer(widgets.dropdown(statements), draw, "Statement")


def accounts():
    """Women's accounts of everyday barriers, each paraphrased from a published study or report and cited."""
    rows = table("women_accounts")
    names = [f"{number}. {row['barrier'].split(':')[0]}" for number, row in enumerate(rows, 1)]

    def draw(name):
        row = rows[names.index(name)]
        read_in = [("Where we read it", sources()[row["read_in"]].citation())] if row["read_in"] else []
        details = [("Where", row["setting"]), ("What was described", row["account"]), ("What it shows", row["barrier"]),
                   ("One thing you can do (our suggestion)", row["what_a_colleague_can_do"]),
                   ("How it was gathered", row["gathered"]),
                   ("Evidence", badges.label(row["source_id"], row["confidence"])),
                   ("Source", sources()[row["source_id"]].citation()), *read_in]
        return None, ("A real account, paraphrased in our words from the source below; not a quotation, and not "
                      "invented. An account shows how a barrier works, not how often it happens."), details

    return widgets.detail_explorer(widgets.dropdown(names), draw, "Account")


def continuum():
    """The lagging / learning / leading picture, with the learner's own place highlighted."""
    rows = sorted(table("ally_continuum"), key=lambda r: int(r["order"]))
    stages = [r["stage"] for r in rows]
    shares = [float(r["teaching_share_pct"]) for r in rows]

    def draw(stage):
        row = rows[stages.index(stage)]
        chart = charts.bars(stages, shares, title="A teaching picture of the ally continuum (not measured)",
                            source=_source(rows), highlight=stage)
        split = " / ".join(f"{share:g}" for share in shares)
        return chart, (f"{stage}: {row['description']}. The {split} split is a picture used to teach the idea, "
                       "not a survey result: nobody has measured how many men are in each group.")

    # Nothing is preselected: the picture is a question for the learner, not a place to put them.
    return widgets.explorer(widgets.choices(stages, widgets.NOTHING), draw, "Where am I today?")


def computing_jobs():
    """Women's share of US computing jobs (a still chart with its source)."""
    rows = table("women_computing_jobs_us")
    chart = charts.bars([r["year"] for r in rows], [float(r["pct_women"]) for r in rows],
                        title=f"Women's share of US computing jobs (newest year in our data: "
                              f"{max(int(r['year']) for r in rows)})", source=_source(rows))
    return chart

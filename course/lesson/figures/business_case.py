"""Module 2 — The business case, and beyond it: what the performance studies show and do not, what unfairness
costs, a calculator for a team's own attrition cost, and a side-by-side look at every study's limits."""
from __future__ import annotations

import math

from course.lesson.models import attrition
from course.lesson import badges, charts, widgets
from course.lesson.data import citation_line as _source, sources, table

CORRELATION_TITLE = "% more likely to be above-average profitable: correlation, not causation"


def _profitability_chart(highlight=None):
    rows = table("diversity_profitability")
    return charts.timeline([int(r["report_year"]) for r in rows], [float(r["pct_more_likely"]) for r in rows],
                           title=CORRELATION_TITLE, source=_source(rows), highlight=highlight, ylim=50)


def profitability():
    """McKinsey's series, one report at a time, each read as the correlation it is."""
    rows = table("diversity_profitability")
    years = [int(r["report_year"]) for r in rows]

    def draw(year):
        row = rows[years.index(year)]
        sample = (f", {int(row['companies']):,} companies in {row['countries']} countries"
                  if row["companies"] else "")
        return _profitability_chart(year), (
            f"{row['report']} ({year}{sample}): companies in the top quarter for women on their executive "
            f"teams were {row['pct_more_likely']}% more likely than those in the bottom quarter to have "
            "above-average profitability. Diversity and profit went together; this does not show which "
            "one caused the other.")

    return widgets.explorer(widgets.slider(years), draw, "Report year")


def _leavers_chart():
    rows = [r for r in table("tech_leavers") if r["unit"] == "% of leavers"]
    return charts.bars([r["label"] for r in rows], [float(r["value"]) for r in rows],
                       title="People who had left a US tech job", source=_source(rows))


def _leavers_reading():
    rows = {r["label"]: r for r in table("tech_leavers")}
    cost, harassed = rows["Yearly replacement cost"], rows["Women harassed"]
    return (f"{rows['Left partly over unfairness']['value']}% said unfair treatment was part of why they left; "
            f"{rows['Experienced unfairness']['value']}% had experienced it and "
            f"{rows['Saw unfairness']['value']}% had seen it happen. {harassed['approximate'].capitalize()} "
            f"women reported sexual harassment. The authors estimate that replacing people who left partly "
            f"because of unfairness costs US tech employers {cost['approximate']} ${cost['value']} billion a year.")


def _athena_chart():
    row = table("set_attrition")[0]
    leave = float(row["pct_leave"])
    return charts.bars(["Leave", "The rest"], [leave, 100 - leave], highlight="Leave",
                       title="Qualified women in science, engineering and tech jobs", source=_source([row]))


def _athena_reading():
    row = table("set_attrition")[0]
    return (f"{row['pct_leave']}% of {row['group'][0].lower()}{row['group'][1:]} leave them. "
            f"Departures peak in their {row['peak']}, just as many would be moving into senior roles.")


def _study(name: str) -> str:
    """The study behind data table `name`, for a menu: its title's first part and its year."""
    source = sources()[table(name)[0]["source_id"]]
    return f"{source.title.partition(':')[0]} ({source.year})"


def leaving():
    """Two studies of who leaves tech and why, one at a time."""
    views = {_study("tech_leavers"): (_leavers_chart, _leavers_reading),
             _study("set_attrition"): (_athena_chart, _athena_reading)}

    def draw(name):
        chart, reading = views[name]
        return chart(), reading()

    return widgets.explorer(widgets.choices(views), draw, "Study")


# -- The attrition-cost calculator ---------------------------------------------------------------------------

_EXAMPLE = {"team_size": "10", "attrition_pct": "10"}  # starting values to change, not statistics
_SCALES = [(1e9, 1e9, "billion"), (1e6, 1e6, "million"), (1e4, 1e3, "thousand")]  # from, divisor, word


def _scale(largest: float) -> tuple[float, str]:
    """A divisor and its word, so the numbers on the chart stay short."""
    for start, divisor, word in _SCALES:
        if largest >= start:
            return divisor, f" {word}"
    return 1.0, ""


def _short(x: float) -> float:
    """Three significant figures: enough to read a chart by."""
    return float(f"{x:.3g}")


def amount(x: float) -> str:
    """A number for a sentence: 0.21, 1.25, 10,920, 2.35 million."""
    if x >= 1e6:
        divisor, word = _scale(x)
        return f"{x / divisor:.3g}{word}"
    return f"{round(x):,}" if x >= 1000 else f"{x:.3g}"


def _rates(rate: float) -> list[float]:
    """Attrition rates for the x axis: steps of 5 or 10 up to beyond the learner's rate, plus that rate."""
    top = min(100, max(30, 10 * math.ceil(rate * 1.5 / 10)))
    step = 5 if top <= 50 else 10
    points = {float(r) for r in range(0, top + 1, step)} | {rate}
    return [int(r) if r.is_integer() else r for r in sorted(points)]


def calculation(values: dict[str, str], cached: bool = False):
    """The chart and the reading for the calculator's inputs; ValueError in plain words for unusable ones.
    Without a salary, costs are counted in salaries."""
    has_salary = str(values.get("salary", "")).strip() != ""
    team, rate, share, pay = attrition.check(values["team_size"], values["attrition_pct"],
                                             values["cost_share_pct"], values["salary"] if has_salary else 1)
    rates = _rates(rate)
    costs = [attrition.replacement_cost(team, r, share, pay) for r in rates]
    if has_salary:
        divisor, unit = _scale(max(costs))
        title = "Yearly cost of replacing leavers, by % of team leaving a year"
    else:
        divisor, unit = 1.0, " salaries"
        title = "Yearly cost in annual salaries, by % of team leaving a year"
    # The starting view is drawn once and reused; a learner's own numbers are drawn fresh, not cached.
    draw = charts.timeline if cached else charts.timeline.__wrapped__
    chart = draw(rates, [_short(c / divisor) for c in costs], title=title, unit=unit,
                 source=_source(table("turnover_cost")), highlight=int(rate) if rate.is_integer() else rate,
                 ylim=None if max(costs) > 0 else 1)
    cost = attrition.replacement_cost(team, rate, share, pay)
    people = attrition.leavers(team, rate)
    each = share * pay / 100
    if has_salary:
        total = (f"about {amount(cost)} a year. Each person who stays rather than leaves saves about "
                 f"{amount(each)}")
    else:
        total = (f"about {amount(cost)} {'of one full annual salary' if cost < 1 else 'full annual salaries'} "
                 "a year. Enter an average salary to see it as money")
    return chart, (f"With {team:,} people and {rate:g}% leaving a year, about {amount(people)} "
                   f"{'person leaves' if people == 1 else 'people leave'} each year. At {share:g}% of a salary "
                   f"to replace each one, that costs {total}.")


def attrition_calculator():
    """The attrition-cost calculator: team size, attrition, replacement cost (cited default) and salary."""
    default = table("turnover_cost")[0]
    fields = {
        "team_size": widgets.number_field("Team size (people)", _EXAMPLE["team_size"]),
        "attrition_pct": widgets.number_field("Leaving each year (%)", _EXAMPLE["attrition_pct"]),
        "cost_share_pct": widgets.number_field("Replacement cost (% of salary)", default["median_pct_of_salary"]),
        "salary": widgets.number_field("Average salary (your currency)", "", placeholder="optional: your own figure"),
    }
    starting = {name: field.value for name, field in fields.items()}
    note = (f"Team size and attrition start at example values, not statistics: replace them with your team's. "
            f"The replacement cost starts at {default['median_pct_of_salary']}% of a salary, the median "
            f"Boushey and Glynn found across {default['case_studies']} case studies ({default['excluded']} "
            "left out). Leave the salary empty to count the cost in salaries. Type a number, then press Enter "
            "or Tab: the chart updates.")
    return widgets.calculator(fields, lambda values: calculation(values, cached=values == starting), note)


# -- Every study side by side --------------------------------------------------------------------------------

_STUDY_CHARTS = {
    "mckinsey": _profitability_chart,
    "green_hand": _profitability_chart,  # the figures the reanalysis questioned; it has none of its own
    "kapor": _leavers_chart,
    "athena": _athena_chart,
}


def _turnover_chart():
    row = table("turnover_cost")[0]
    return charts.bars(["One annual salary", "Typical cost to replace"], [100, float(row["median_pct_of_salary"])],
                       title="Cost of replacing an employee, as a share of salary", source=_source([row]),
                       highlight="Typical cost to replace", ylim=115)


def _programmes_chart():
    rows = table("programmes_benefit")
    return charts.bars([r["label"] for r in rows], [float(r["pct"]) for r in rows],
                       title="Gender-diversity programmes and who feels they helped (approximate)",
                       source=_source(rows))


def _programmes_reading():
    companies, women = table("programmes_benefit")
    return (f"{companies['approximate'].capitalize()} {companies['pct']}% of companies have gender-diversity "
            f"programmes, but only {women['approximate']} women feel they have personally benefited.")


_STUDY_CHARTS.update(boushey_glynn=_turnover_chart, bcg_dollars=_programmes_chart)
_STUDY_READINGS = {
    "mckinsey": "The chart shows each report's figure. It is a correlation, not a cause.",
    "green_hand": ("The chart shows the McKinsey figures this reanalysis questioned. Its own result was the "
                   "absence of a statistically significant link, so it adds no figure of its own."),
    "post_byron": ("No chart: we quote this meta-analysis's direction, not its effect sizes. Across many studies "
                   "and countries, women on boards went with near-zero differences in market value and a small "
                   "positive difference in accounting returns."),
    "kapor": None, "athena": None, "bcg_dollars": None,
    "boushey_glynn": "The calculator in section 2 starts from this typical cost.",
    "equals": "No chart: this is a record of practitioners' views, and it gives no figures.",
}


def _study_reading(study_id: str) -> str:
    fixed = _STUDY_READINGS.get(study_id)
    if fixed:
        return fixed
    return {"kapor": _leavers_reading, "athena": _athena_reading, "bcg_dollars": _programmes_reading}[study_id]()


def study_explorer():
    """A card for each study: claim, kind of evidence, method, sample, limits, how sure we are, and its chart."""
    rows = table("studies")
    names = [f"{r['study']} ({r['year']})" for r in rows]

    def draw(name):
        row = rows[names.index(name)]
        chart = _STUDY_CHARTS.get(row["study_id"])
        details = [("Claim", row["claim"]), ("Kind of evidence", row["kind"]), ("Method", row["method"]),
                   ("Sample", row["sample"]), ("Limits", row["limits"]),
                   ("Evidence", badges.label(row["source_id"], row["confidence"])),
                   ("Source", sources()[row["source_id"]].citation())]
        return chart() if chart else None, _study_reading(row["study_id"]), details

    return widgets.detail_explorer(widgets.dropdown(names), draw, "Study")


def compare_studies():
    """Every study in one table: year, kind of evidence and its main limit."""
    rows = table("studies")
    return widgets.table(["Study", "Year", "Kind of evidence", "Main limit"],
                         [[r["study"], r["year"], r["kind"], r["main_limit"]] for r in rows],
                         caption="The evidence in this module, side by side")


def programmes_benefit():
    """BCG: programmes are everywhere; few women feel they helped."""
    return widgets.figure(_programmes_chart(), _programmes_reading())

"""Module 3 — Bias in everyday tech work: hiring, code review, meetings, promotion, and how small biases add
up in a promotion pipeline (`course.lesson.models.pipeline`)."""
from __future__ import annotations


import ipywidgets as w
from IPython.display import HTML

from course.lesson import badges, cache, charts, markup, widgets
from course.lesson.models import pipeline
from course.lesson.data import citation_line as _source
from course.lesson.data import table
from course.lesson.validation import escaped

KIND = {"method": "How it was done", "finding": "Finding", "caution": "Caution", "critique": "Critique",
        "practice": "In practice", "counter": "Where the evidence cuts the other way"}
ROUNDS = 40          # promotion rounds per simulated organisation
RUNS = 100           # simulated organisations averaged for each setting
BIASES = (0.0, 0.1, 0.2, 0.3, 0.5)  # men's rating advantage, in standard deviations of rating noise
SHARES = (0.2, 0.3, 0.4, 0.5)       # women's share of hires
LEVELS = (4, 6, 8)
ROUNDS_BIAS = 0.2    # the bias used for the round-by-round chart


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def evidence(topic: str) -> HTML:
    """The statements on `topic` from `data/bias_evidence.csv`: what kind each is, how sure we are, the sources."""
    rows = [r for r in table("bias_evidence") if r["topic"] == topic]
    if not rows:
        raise ValueError(f"no evidence rows for topic {topic!r}")
    items = "".join(
        f"<li><strong>{escaped(KIND.get(r['kind'], r['kind'].capitalize()))}.</strong> "
        f"{escaped(r['statement'].replace('{figure}', r['figure']))} "
        f'{badges.badge(r["source_id"], r["confidence"])}</li>' for r in rows)
    return markup.panel(f'<ul class="allies-list">{items}</ul>'
                        + markup.source_line(_source(rows), label="Sources"))


def code_review():
    """Terrell et al.'s pull-request comparison: the checked drop when gender shows, and the secondary overall rates."""
    rows = table("code_review")
    measures = list(dict.fromkeys(r["measure"] for r in rows))
    short = {m: ("When gender shows (outsiders)" if m.startswith("Drop") else "Overall acceptance (secondary)")
             for m in measures}

    def draw(label):
        measure = next(m for m in measures if short[m] == label)
        pair = {r["group"]: r for r in rows if r["measure"] == measure}
        women, men = float(pair["Women"]["value"]), float(pair["Men"]["value"])
        if measure.startswith("Drop"):
            chart = charts.bars(["Women", "Men"], [women, men], unit="%", ylim=15, source=_source(rows),
                                title="Drop in pull-request acceptance when gender is identifiable (outsiders)")
            return chart, (f"Among outsiders to a project, the paper reports that women's acceptance dropped by "
                           f"{pair['Women']['value']}% when their gender was identifiable, and men's by "
                           f"{pair['Men']['value']}%. The paper does "
                           "not say whether these are percentage points or drops relative to the rate with gender "
                           "hidden, so read them as the size of each drop, not as acceptance rates. Evidence: "
                           f"{badges.label('terrell2017', pair['Women']['confidence'])}.")
        chart = charts.bars(["Women", "Men"], [women, men], ylim=100, source=_source(rows),
                            title="Overall pull-request acceptance (secondary figure, from the preprint)")
        return chart, (f"Overall, women's pull requests were accepted {women:g}% of the time and men's {men:g}%. "
                       f"Evidence: {badges.label('terrell2017', pair['Women']['confidence'])}. Higher overall acceptance and a larger drop "
                       "when gender shows can both be true.")

    return widgets.explorer(w.ToggleButtons(options=[short[m] for m in measures]), draw, "Show")


def interruptions():
    """Interruptions: one court (Jacobi & Schweers), a meta-analysis (Anderson & Leaper), and what people do
    about it (he-peating called out, amplification), each with its evidence badge."""
    rows = table("interruptions")
    get = {r["measure"]: r for r in rows}
    studies = get["Studies combined"]["value"]
    views = {"One court: the US Supreme Court": "supreme_court", f"Across {studies} studies": "meta_analysis",
             "What people do about it": "practice"}

    def draw(label):
        if views[label] == "practice":
            practice = [r for r in table("bias_evidence") if r["topic"] == "meetings" and r["kind"] == "practice"]
            details = [(f"{KIND['practice']} ({badges.label(r['source_id'], r['confidence'])})", r["statement"])
                       for r in practice]
            return None, f"Sources: {_source(practice)}", details
        mine = [r for r in rows if r["study"] == views[label] and r["unit"] != "studies"]
        values = [float(r["value"]) for r in mine]
        if views[label] == "supreme_court":
            chart = charts.bars(["Share of the justices", "Share of interruptions received"], values, ylim=50,
                                title="Women on the US Supreme Court", source=_source(mine))
            return chart, (f"Women were {values[0]:g}% of the justices but received {values[1]:g}% of the "
                           f"interruptions: about {100 * (values[1] / values[0] - 1):.0f}% more than their share."), ()
        chart = charts.bars(["All interruptions", "Intrusive interruptions"], values, unit="", ylim=0.5,
                            title=f"How much more men interrupt, as an effect size d ({studies} studies)",
                            source=_source(mine))
        return chart, (f"Men interrupted more than women, by d = {values[0]:g} across all interruptions (the "
                       f"authors call this negligible) and d = {values[1]:g} for intrusive ones (more substantial). "
                       "d is a gap in standard deviations: small values mean the two groups overlap a great deal."), ()

    return widgets.detail_explorer(w.ToggleButtons(options=list(views)), draw, "Evidence")


def broken_rung():
    """Women in the Workplace: women, and Black women, promoted to first-level manager per 100 men, by report."""
    rows = table("broken_rung")
    years = sorted({int(r["report_year"]) for r in rows})

    def draw(year):
        mine = [r for r in rows if int(r["report_year"]) == year]
        shown = {"Women": "All women"}  # the reports' "women" counts every woman, Black women included
        labels = ["Men", *(shown.get(r["group"], r["group"]) for r in mine)]
        values = [100.0, *(float(r["per_100_men"]) for r in mine)]
        chart = charts.bars(labels, values, unit=" per 100", ylim=110, source=_source(mine),
                            title=f"Promoted to first-level manager for every 100 men (report published {year})")
        said = "; ".join(f"{shown.get(r['group'], r['group'])}: {r['per_100_men']} ({r['measure']}; "
                         f"{r['confidence']})" for r in mine)
        missing = "" if any(r["group"] == "Black women" for r in mine) else (
            " This report's figure for Black women is not in our data.")
        return chart, (f"Report published in {year} (the year is the report's, not the year of the promotions "
                       f"it counts, which come from the period before), for every 100 men: {said}.{missing}")

    return widgets.explorer(widgets.slider(years, years[0]), draw, "Year of report")


def _design() -> dict[str, float]:
    return {r["parameter"]: float(r["value"]) for r in table("pipeline_design")}


def pipeline_design() -> HTML:
    """The 1996 simulation's design, from `data/pipeline_design.csv`, in one sentence."""
    rows = table("pipeline_design")
    d = _design()
    return markup.panel(
        f"<p><strong>The design.</strong> An organisation of {d['levels']:g} levels, with "
        f"{d['entry_positions']:g} positions at the entry level narrowing to {d['top_positions']:g} at the top, "
        f"staffed at the start with {_pct(d['start_share_women'])} women. Each round some people leave; the "
        "best-rated person on the level below fills each empty seat, and new people are hired at the entry "
        "level. Ratings are noisy, and men's get a small boost; nobody differs in ability.</p>"
        + markup.source_line(_source(rows), badges.badge(rows[0]['source_id'], rows[0]['confidence'])))


@cache.cached("pipeline", pipeline.__file__)
def _simulated(levels: int, bias: float, share: float, rounds: int = ROUNDS) -> dict:
    """A seeded run of `course.lesson.models.pipeline`, kept on disk so a kernel reuses it instead of recomputing."""
    d = _design()
    positions = list(pipeline.pyramid(levels, int(d["entry_positions"]), int(d["top_positions"])))
    result = pipeline.simulate(levels=levels, positions=positions, bias=bias, start_share=share,
                               cycles=rounds, runs=RUNS, seed=0)
    return {"share_women": result.share_women, "top_by_round": result.top_by_round,
            "positions": result.positions}


def _level_labels(n: int) -> list[str]:
    return ["Entry", *(str(i) for i in range(2, n)), "Top"]


def promotion_pipeline():
    """The promotion-pipeline simulation: sliders for levels, women's share of hires and the rating bias,
    and a chart of women's share at each level. A setting is simulated when first chosen (seeded, and
    cached on disk for every later kernel); a setting seen before switches in the browser at once."""
    rows = table("pipeline_design")
    d = _design()
    levels = sorted({*LEVELS, int(d["levels"])})
    shares = sorted({*SHARES, d["start_share_women"]})
    source = f"Model after {_source(rows)}"

    def draw(n, share, bias):
        sim = _simulated(n, bias, share)
        values = [round(100 * x) for x in sim["share_women"]]
        chart = charts.bars(_level_labels(n), values, ylim=100, source=source,
                            title=f"Women's share at each level after {ROUNDS} promotion rounds")
        if bias == 0:
            reading = (f"No bias: men and women are rated alike, so every level stays close to the "
                       f"{_pct(share)} of women hired. The small differences are chance.")
        else:
            reading = (f"Men's ratings get a boost of {bias:g} of a standard deviation, while the noise in any "
                       f"single rating is a whole standard deviation. After {ROUNDS} rounds women hold "
                       f"{values[0]}% of entry-level seats but "
                       f"{values[-1]}% of the {sim['positions'][-1]} seats at the top, against {_pct(share)} "
                       "of the people hired.")
        return chart, f"{reading} (Average of {RUNS} simulated organisations.)"

    controls = [
        ("Levels", widgets.slider([(str(n), n) for n in levels], int(d["levels"]))),
        ("Women among hires", widgets.slider([(_pct(s), s) for s in shares], d["start_share_women"])),
        ("Rating boost for men", widgets.slider([("none" if b == 0 else f"{b:g} SD", b) for b in BIASES], 0.1)),
    ]
    return widgets.explorer_grid(controls, draw)


def pipeline_rounds() -> HTML:
    """Women's share of the top seats round by round, for one bias: the gap needs many rounds to build."""
    rows = table("pipeline_design")
    d = _design()
    sim = _simulated(int(d["levels"]), ROUNDS_BIAS, d["start_share_women"])
    rounds = list(range(0, ROUNDS + 1, 2))
    values = [round(100 * sim["top_by_round"][r], 1) for r in rounds]
    chart = charts.timeline(rounds, values, ylim=60, source=f"Model after {_source(rows)}",
                            title=f"Women's share of the top seats, round by round (boost {ROUNDS_BIAS:g} SD)")
    history = sim["top_by_round"]
    said = "; ".join(f"after {r} rounds {_pct(history[r])}" for r in (ROUNDS // 8, ROUNDS // 4, ROUNDS // 2, ROUNDS))
    return markup.panel(f'{chart.html()}<p class="allies-after-chart">At the start women hold {_pct(history[0])} of the '
                  f"top seats; {said}. If a company runs one promotion round a year, that is a whole career.</p>")


def pipeline_caveats() -> HTML:
    """What the compounding needs, from the 2024 replication (`data/pipeline_caveats.csv`)."""
    rows = table("pipeline_caveats")
    items = "".join(f"<li><strong>{escaped(r['condition'])}.</strong> {escaped(r['meaning'])} "
                    f'{badges.badge(r["source_id"], r["confidence"])}</li>' for r in rows)
    return markup.panel(f'<ul class="allies-list">{items}</ul>'
                        + markup.source_line(_source(rows)))


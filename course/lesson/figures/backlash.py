"""Module 4 — Backlash, fear and the zero-sum myth: the #MeToo-era pull-back (LeanIn.Org; Atwater et al.), what holds
men back (Catalyst), myth-or-fact and what-would-you-say cards, and the positive-sum simulation
(`course.lesson.models.positive_sum`, an illustrative model fed three cited figures)."""
from __future__ import annotations

import re
from dataclasses import replace

from IPython.display import HTML

from course.lesson import badges, cards, charts, markup, widgets
from course.lesson.models import positive_sum
from course.lesson.data import citation_line as _source
from course.lesson.data import citations_of, table
from course.lesson.validation import escaped

MODEL_NOTE = "illustrative model, not data"
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
POLICY_LABELS = {"none": "No policy (baseline)", "all": "All four together"}
SHORT = {"none": "None", "transparent": "Criteria", "credit": "Credit", "flexible": "Flexible",
         "sponsorship": "Sponsors", "all": "All four"}
PROMOTION_LABELS = {"bar": "Against a bar (a career ladder)", "seats": "Into fixed seats (set senior roles)"}
SHOW = ("Who leaves", "Who is promoted", "Team output")
SAME_FOR_BOTH = ("In this model, how people are promoted does not change who leaves: these numbers are the same "
                 "for both ways of promoting.")


# -- figures quoted in text ----------------------------------------------------------------------------------

def _figures() -> dict[str, dict]:
    return {r["figure_id"]: r for r in table("backlash_figures")}


def figure(figure_id: str) -> str:
    """One figure from `data/backlash_figures.csv` as a learner reads it: "60%", "12 times"."""
    row = _figures()[figure_id]
    if row["unit"] == "words":  # the source gives this one in words only: show its words, not a number
        return row["value"]
    return f"{row['value']}%" if row["unit"] == "%" else f"{row['value']} {row['unit']}"


def fill(text: str) -> str:
    """`text` with each {figure_id} replaced by that figure; an unknown id is an error, never shown."""
    known = _figures()

    def one(match):
        if match.group(1) not in known:
            raise ValueError(f"no figure {match.group(1)!r} in data/backlash_figures.csv")
        return figure(match.group(1))

    return PLACEHOLDER.sub(one, text)


def _filled(name: str) -> list[dict]:
    return [{k: fill(v) if k in ("situation", "response", "feedback", "explanation") else v for k, v in r.items()}
            for r in table(name)]


def _value(figure_id: str) -> float:
    return float(_figures()[figure_id]["value"])


def _year(figure_id: str) -> str:
    return _figures()[figure_id]["year"]


def _rows(*ids: str) -> list[dict]:
    figures = _figures()
    return [figures[i] for i in ids]


# -- 1. The pull-back after #MeToo ---------------------------------------------------------------------------

def pull_back():
    """LeanIn.Org & SurveyMonkey (2019, with the 2018 mentoring figure) and, labelled secondary, Atwater et al."""
    views = ("What the headline counts", "Senior men, junior women", "Avoiding", "A second survey (secondary)")

    def draw(view):
        if view == views[0]:
            rows = _rows("any_activity", "any_activity_2018", "mentoring_alone")
            uneasy = _value("any_activity")
            chart = charts.bars(["Uncomfortable with at least one", "Did not say so"], [uneasy, 100 - uneasy],
                                highlight="Uncomfortable with at least one", ylim=100, source=_source(rows),
                                title="Managers who are men, uncomfortable with a common work activity with a "
                                      f"woman ({_year('any_activity')})")
            before = _year("any_activity_2018")
            return chart, (f"In {_year('any_activity')}, {figure('any_activity')} of managers who are men said they "
                           "were uncomfortable taking part in a common work activity with a woman, such as "
                           f"mentoring, working alone or socialising together: up {figure('rise_on_2018')} on "
                           f"{before}, as the source puts it (a rise relative to the {before} share, not in "
                           "percentage points). That counts discomfort with any one of those activities. The "
                           f"{before} survey asked the same broad question "
                           f"({figure('any_activity_2018')}, in the source's words) and, separately, about mentoring "
                           f"on its own: {figure('mentoring_alone')}. That mentoring figure is from a different year "
                           f"and a narrower question, so it is not set against the {_year('any_activity')} figure "
                           "here. "
                           f"Evidence: {badges.label('leanin2019', 'checked')}.")
        if view == views[1]:
            ids = ("one_to_one", "travel", "dinners")
            chart = charts.bars(["One-to-one meetings", "Travel for work", "Work dinners"], [_value(i) for i in ids],
                                unit="×", ylim=14, source=_source(_rows(*ids)),
                                title="How many times more likely senior men were to hesitate with a junior "
                                      f"woman than a junior man ({_year('one_to_one')})")
            return chart, (f"Senior men were {figure('one_to_one')} more likely to hesitate to have a one-to-one "
                           f"meeting with a junior woman than with a junior man, {figure('travel')} more likely to "
                           f"hesitate to travel with her for work and {figure('dinners')} more likely to hesitate "
                           "over a work dinner. "
                           f"Evidence: {badges.label('leanin2019', 'checked')}.")
        if view == views[2]:
            avoided = _value("avoided")
            chart = charts.bars(["Had avoided it", "Did not say so"], [avoided, 100 - avoided],
                                highlight="Had avoided it",
                                title="Men who avoided mentoring or socialising with a woman, for fear of how "
                                      f"it would look ({_year('avoided')})", source=_source(_rows("avoided")))
            return chart, (f"{figure('avoided')} of men said they had avoided mentoring or socialising with a "
                           "woman because they were nervous about how it would look. "
                           f"Evidence: {badges.label('leanin2019', 'checked')}.")
        ids = ("hire_attractive", "hire_close_contact", "avoid_one_to_one")
        chart = charts.bars(["Hiring attractive women", "Jobs with close contact", "One-to-one meetings"],
                            [_value(i) for i in ids], ylim=50, source=_source(_rows(*ids)),
                            title=f"Men reluctant or avoiding, in a second survey ({_year(ids[0])}; secondary "
                                  "figures)")
        return chart, (f"In a separate survey, {figure('hire_attractive')} of men were reluctant to hire attractive "
                       f"women, {figure('hire_close_contact')} reluctant to hire women for jobs with close "
                       f"interpersonal contact and {figure('avoid_one_to_one')} avoided one-to-one meetings with "
                       f"women. "
                       f"Evidence: {badges.label('atwater2019', 'secondary')}. We read these in reports of the "
                       "study, not in the paper, so "
                       "treat them as a signal, not a measurement.")

    return widgets.explorer(widgets.choices(views), draw, "Show")


# -- 2. What holds men back -------------------------------------------------------------------------------

def barriers():
    """Catalyst (2009): the barriers interviewees discussed, and awareness of bias beside support for equality."""
    views = ("What holds men back", "Awareness and support")

    def draw(view):
        if view == views[0]:
            ids = ("apathy", "fear", "ignorance")
            chart = charts.bars(["Apathy", "Fear", "Not knowing"], [_value(i) for i in ids], ylim=100,
                                title="Barriers to men's support, share of interviewees who discussed each",
                                source=_source(_rows(*ids)))
            return chart, (f"{figure('apathy')} of the people Catalyst interviewed discussed apathy as a barrier, "
                           f"just as many ({figure('fear')}) discussed fear — of losing status, of making mistakes, "
                           f"of other men's judgement — and {figure('ignorance')} discussed not knowing enough about "
                           "the problem. "
                           f"Evidence: {badges.label('catalyst2009', 'checked')}.")
        ids = ("aware_important", "unaware_important")
        chart = charts.bars(["Highly aware of bias", "Low awareness"], [_value(i) for i in ids], ylim=110,
                            title="Men who call gender equality an important social issue to them",
                            source=_source(_rows(*ids)))
        return chart, (f"Among the men Catalyst surveyed, {figure('aware_important')} of those highly aware of gender "
                       f"bias called gender equality an important social issue to them, against "
                       f"{figure('unaware_important')} of those with low awareness. A survey shows that the two go "
                       "together, not which causes which. "
                       f"Evidence: {badges.label('catalyst2009', 'checked')}.")

    return widgets.explorer(widgets.choices(views), draw, "Show")


# -- 3. Myth or fact ----------------------------------------------------------------------------------------

def myths() -> cards.Deck:
    """Myth-or-fact cards: make a call, then read the evidence and its source."""
    return cards.deck(_filled("backlash_myths"), label="Claim")


# -- 4. The positive-sum simulation -------------------------------------------------------------------------

def cited() -> dict[str, float]:
    """The three model inputs taken from `data/`, each a cited figure (the rest are illustrative)."""
    rows = {name: found[0] for name, found in _cited_rows().items()}
    return {"women_share": float(rows["women_share"]["pct_women"]) / 100,
            "tilt": 1 - float(rows["tilt"]["per_100_men"]) / 100,
            "replacement_cost": float(rows["replacement_cost"]["median_pct_of_salary"]) / 100}


def _cited_rows() -> dict[str, list[dict]]:
    """Where each cited input comes from: the latest count of women in US computing jobs, the checked
    broken-rung figure (the later reports' are secondary) and the median cost of replacing someone."""
    women = max(table("women_computing_jobs_us"), key=lambda r: int(r["year"]))
    rung = next(r for r in table("broken_rung") if r["source_id"] == "wiw2019" and r["group"] == "Women")
    return {"women_share": [women], "tilt": [rung], "replacement_cost": [table("turnover_cost")[0]]}


def assumptions_used() -> positive_sum.Assumptions:
    return positive_sum.with_figures(**cited())


def _source_line() -> str:
    names = citations_of(rows[0]["source_id"] for rows in _cited_rows().values())
    return f"Illustrative model built for this course, not data. Three inputs are cited figures: {names}"


_UNITS = {"team": "{:g} people", "years": "{:g} years", "senior_value": "{:g} × a junior's",
          "replacement_cost": "{:g} of a year's output"}


def _shown(name: str, value: float) -> str:
    if name in _UNITS:
        return _UNITS[name].format(value)
    return f"{100 * value:.3g}%"


def assumptions():
    """Every assumption of the model in one table, each with where its value comes from."""
    a = assumptions_used()
    why = {
        "women_share": "Cited: women's share of US computing jobs, {year} (NCWIT). Hires keep this share.",
        "tilt": ("Cited: women promoted to first-level manager per 100 men in the {report_year} Women in the "
                 "Workplace report. The model assumes all of that gap is tilt, which a real company would "
                 "need to check."),
        "replacement_cost": ("Cited: median cost of replacing an employee, as a share of salary, across "
                             "{case_studies} case studies (Boushey & Glynn), counted here as a share of a "
                             "year's work."),
    }
    rows = []
    for name, value, meaning in a.describe():
        if name in why:
            row = _cited_rows()[name][0]
            origin = why[name].format(**row)
        else:
            origin = "Illustrative choice."
        rows.append([meaning, _shown(name, float(value)), origin])
    return widgets.table(["What it means", "Value", "Where the value comes from"], rows,
                         caption="The model's assumptions. It is an illustrative model, not data: change an "
                                 "illustrative choice and the results may change.")


def policies():
    """The four policies in the model: what each changes there, and the evidence that put it in."""
    rows = table("positive_sum_policies")
    return widgets.table(["Policy", "What it changes in the model", "Why it is in the model", "Evidence"],
                         [[r["label"], r["model_change"], f"{r['why']} Source: {citations_of([r['source_id']])}",
                           badges.label(r["source_id"], r["confidence"])] for r in rows],
                         caption="The policies you can switch on in the simulation")


def _labels() -> dict[str, str]:
    from_data = {r["policy"]: r["label"] for r in table("positive_sum_policies")}
    return {p: POLICY_LABELS.get(p) or from_data[p] for p in positive_sum.POLICIES}


def _paired_chart(groups, before, after, *, names, title, unit, ylim, source, ylabel=""):
    """The baseline beside the policy; with no policy chosen, the baseline alone (not drawn twice)."""
    if names[1] == POLICY_LABELS["none"]:
        return charts.bars(list(groups), [round(v, 1) for v in before], title=title, unit=unit, source=source,
                           ylim=ylim, ylabel=ylabel)
    return _paired(tuple(groups), tuple(before), tuple(after), names=tuple(names), title=title, unit=unit,
                   ylim=ylim, source=source, ylabel=ylabel or unit.strip())


def _draw_paired(groups, before, after, *, names, title, unit, ylim, source, ylabel) -> charts.Chart:
    """Two bars per group: the baseline (grey, hatched) and the policy (blue), values printed on them."""
    fig, ax = charts._figure(title)
    width = 0.38
    for i, (name, values, colour, hatch) in enumerate(((names[0], before, charts.MUTED, "//"),
                                                       (names[1], after, charts.PALETTE["blue"], ""))):
        xs = [g + (i - 0.5) * width for g in range(len(groups))]
        drawn = ax.bar(xs, values, width, label=name, color=colour, edgecolor="black", linewidth=0.6, hatch=hatch)
        ax.bar_label(drawn, labels=[f"{v:.1f}{unit}" for v in values], padding=2, fontsize=9)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, charts.headroom(ylim, [*before, *after]))
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="upper right", fontsize=9)
    listed = "; ".join(f"{g}: {names[0]} {b:.1f}{unit}, {names[1]} {a:.1f}{unit}"
                       for g, b, a in zip(groups, before, after))
    return charts.Chart(charts._render(fig), f"Grouped bar chart, {' '.join(title.splitlines())}. {listed}.", source)


_paired = charts.cached_by(__file__)(_draw_paired)


def _leaving_view(label, base, run, years, promotion):
    way = PROMOTION_LABELS[promotion].split(" (")[0].lower()  # the chart says which way of promoting it shows
    chart = _paired_chart(["Women", "Men", "Whole team"], base.leave_per_100, run.leave_per_100,
                          names=("No policy", label), unit="", ylim=25, ylabel="per 100 people",
                          source=_source_line(),
                          title=f"People leaving each year, per 100 ({MODEL_NOTE}),\npromoted {way}")
    w, m, t = run.leave_per_100
    w0, m0, t0 = base.leave_per_100
    if run.policy == "none":
        return chart, (f"The baseline: each year {w0:.1f} in every 100 women leave and {m0:.1f} in every 100 men. "
                       "Women leave more often here because the model assumes that unfair treatment, and caring "
                       f"without flexibility, fall on them more. {SAME_FOR_BOTH}")
    why = ("carers of every gender can stay" if "flexible" in positive_sum.POLICIES[run.policy]
           else "unfair treatment reaches some men as well")
    return chart, (f"With {label.lower()}, {w:.1f} in every 100 women leave each year (no policy: {w0:.1f}), "
                   f"{m:.1f} in every 100 men ({m0:.1f}) and {t:.1f} across the team ({t0:.1f}). Men leave less "
                   f"too: {why}. Over {years} years, none of the policies makes anyone more likely to leave. "
                   f"{SAME_FOR_BOTH}")


def _promotion_view(label, base, run, promotion):
    if promotion == "bar":
        chart = _paired_chart(["Women", "Men", "Whole team"], base.promoted_per_100, run.promoted_per_100,
                              names=("No policy", label), unit="", ylim=20, ylabel="per 100 juniors",
                              source=_source_line(),
                              title=f"Promotions a year per 100 juniors, bar ({MODEL_NOTE})")
        w, m, _ = run.promoted_per_100
        w0, m0, _ = base.promoted_per_100
        if run.policy == "none":
            return chart, (f"The baseline: against the bar, {m0:.1f} in every 100 junior men are promoted each year "
                           f"and {w0:.1f} in every 100 junior women, though the model makes them equally able. "
                           "The difference is the tilt.")
        return chart, (f"With {label.lower()}, {w:.1f} in every 100 junior women are promoted each year (no policy: "
                       f"{w0:.1f}). Men stay at {m:.1f}, exactly as without it: against a bar, promoting a woman "
                       "who meets it takes nothing from a man who meets it too.")
    women = [100 * (1 - base.men_share_of_promotions), 100 * base.men_share_of_promotions]
    after = [100 * (1 - run.men_share_of_promotions), 100 * run.men_share_of_promotions]
    chart = _paired_chart(["Women", "Men"], women, after, names=("No policy", label), unit="%", ylim=110,
                          source=_source_line(),
                          title=f"Share of promotions into fixed senior seats ({MODEL_NOTE})")
    juniors = 100 * run.men_share_of_juniors
    count = (f" Over the same years, {run.promotions.team:.0f} seats open against {base.promotions.team:.0f} "
             "without the policy: fewer people leave them.") if run.promotions.team < base.promotions.team - 0.5 else ""
    if run.policy == "none":
        return chart, (f"The baseline: with a fixed number of senior seats, men receive {women[1]:.0f}% of "
                       f"promotions while they are {100 * base.men_share_of_juniors:.0f}% of the juniors who "
                       "could be promoted. The difference is the tilt.")
    return chart, (f"Senior seats are a fixed number, so here the model is zero-sum. With {label.lower()}, men "
                   f"receive {after[1]:.0f}% of promotions (no policy: {women[1]:.0f}%) and never less than their "
                   f"{juniors:.0f}% share of the juniors: the policy takes a tilt away, it does not add one the "
                   f"other way. What men lose is seats that the tilt, not their work, would have won.{count}")


def _output_view(policy, label, promotion, a):
    base = positive_sum.simulate("none", promotion, a).output
    gains = {p: round(100 * (positive_sum.simulate(p, promotion, a).output / base - 1), 1)
             for p in positive_sum.POLICIES}
    chart = charts.bars([SHORT[p] for p in gains], list(gains.values()), highlight=SHORT[policy], ylim=None,
                        source=_source_line(), unit="%",
                        title=f"Extra output over {a.years} years vs no policy ({MODEL_NOTE})")
    extra = (positive_sum.simulate(policy, promotion, a).output - base) / a.years
    if policy == "none":
        return chart, ("The baseline is zero by definition. Choose a policy to see what the team gains, with "
                       f"promotion {'against a bar' if promotion == 'bar' else 'into fixed seats'}.")
    where = ("fewer people to replace and more people staying long enough to reach senior work"
             if promotion == "bar" else "fewer people to replace; with fixed seats there are no more seniors to gain")
    return chart, (f"With {label.lower()}, the team delivers {gains[policy]:.1f}% more over {a.years} years than with "
                   f"no policy: about as much as {extra:.1f} extra people each year. The gain comes from {where}. "
                   "No policy here lowers the team's output, because the model assumes a fairer process costs nothing: "
                   "a result of that assumption, not a finding (change it in the next explorer).")


def _view(policy: str, promotion: str, show: str):
    a = assumptions_used()
    label = _labels()[policy]
    base, run = positive_sum.compare(policy, promotion, a)
    if show == SHOW[0]:
        chart, reading = _leaving_view(label, base, run, a.years, promotion)
    elif show == SHOW[1]:
        chart, reading = _promotion_view(label, base, run, promotion)
    else:
        chart, reading = _output_view(policy, label, promotion, a)
    return chart, f"{reading} This is an illustrative model with stated assumptions, not data."


def simulation():
    """The positive-sum simulation: a policy, a way of promoting and an outcome to show. A view is drawn when
    first chosen, then switched in the browser."""
    labels = _labels()
    controls = [
        ("Policy", widgets.dropdown([(labels[p], p) for p in positive_sum.POLICIES])),
        ("Promotion", widgets.choices([(v, k) for k, v in PROMOTION_LABELS.items()], "bar")),
        ("Show", widgets.choices(SHOW)),
    ]
    return widgets.explorer_grid(controls, _view)


# What if the assumptions change? Two that decide whether a policy can cost anything, three settings each.
PROCESS_COSTS = (("Nothing (the default)", 0.0), ("½% of working time per policy", 0.005),
                 ("1% of working time per policy", 0.01))
TILT_SHARES = (("All of it (the default)", 1.0), ("Half of it", 0.5), ("None: all preference", 0.0))


def _what_if_view(cost: float, share: float):
    a = replace(assumptions_used(), process_cost=cost, tilt_share=share)
    base = positive_sum.simulate("none", "bar", a)
    runs = {p: positive_sum.simulate(p, "bar", a) for p in positive_sum.POLICIES if p != "none"}
    change = {p: round(100 * (run.output / base.output - 1), 1) + 0.0 for p, run in runs.items()}
    chart = charts.bars([SHORT[p] for p in change], list(change.values()), highlight=None, ylim=None, unit="%",
                        source=_source_line(),
                        title=f"Net change in team output over {a.years} years vs no policy ({MODEL_NOTE})")
    labels = _labels()
    costs = [p for p in change if change[p] < 0]
    if not costs:
        net = ("no policy lowers the team's output: fewer people leave and have to be replaced"
               + (", and that saves at least the working time the policies take." if cost else
                  ". That follows from assuming a fairer process takes no time from work."))
    else:
        names = ", ".join(labels[p].lower() for p in costs)
        net = (f"{'every policy lowers' if len(costs) == len(change) else 'some policies lower'} the team's output "
               f"({names}; down to {min(change.values()):.1f}%): for them, the working time they take outweighs "
               "what fewer leavers save.")
    w, m, _ = runs["all"].promoted_per_100
    reach = ("reach men's" if share == 1 else
             "stay below men's, because the model leaves the preference part of the gap in place")
    return chart, (f"What these assumptions imply, not a finding: {net} With all four policies, {w:.1f} in every "
                   f"100 junior women are promoted each year against {m:.1f} men: women's chances {reach}. "
                   f"Evidence: {badges.MODEL_ASSUMPTION}.")


def what_if():
    """The positive-sum model's net output under other assumptions: what a fairer process costs, and how much
    of the promotion gap is tilt rather than preference (promotion against a bar). Nine views."""
    controls = [("What a fairer process costs", widgets.choices(PROCESS_COSTS, 0.0)),
                ("How much of the gap is tilt", widgets.choices(TILT_SHARES, 1.0))]
    return widgets.explorer_grid(controls, _what_if_view)


# -- 5. What would you say? ---------------------------------------------------------------------------------

def scenarios() -> cards.Deck:
    """Defensive moments, one card each, with feedback on every response."""
    return cards.deck(_filled("backlash_scenarios"), label="Moment", say_first="m04")


# -- 6. A safe space for learning ---------------------------------------------------------------------------

def safe_space() -> HTML:
    """What practitioners in the EQUALS discussion said moves men who are learning (`data/safe_space_practices.csv`)."""
    rows = table("safe_space_practices")
    items = "".join(f"<li><strong>{escaped(r['practice'])}.</strong> {escaped(r['what_it_looks_like'])}</li>"
                    for r in rows)
    return markup.panel(f'<ul class="allies-list">{items}</ul>'
                        + markup.source_line(_source(rows), badges.badge(rows[0]['source_id'], rows[0]['confidence'])))

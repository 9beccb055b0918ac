"""Module 5 — Behind the veil: Rawls' original position as a workplace game. The learner chooses five rules,
then draws who they will be (`course.lesson.models.veil`, seeded) and sees how the rules treat that person; an explorer
compares choosing knowing everything with choosing behind the veil; tables show every weight and assumption."""
from __future__ import annotations

import ipywidgets as w
from IPython.display import HTML

from course.lesson import badges, charts, first_views, markup, widgets
from course.lesson.models import veil
from course.lesson.data import citations_of, sources, table
from course.lesson.validation import escaped

ILLUSTRATIVE = "Illustrative model, not a measurement"
EDGE = {  # why a shared outcome can rise above 100 for someone no rule holds back
    "promotion": "Promotions are a fixed number of seats: when others are held back, your chance rises a "
                 "little above an even one.",
    "voice": "Meeting time is shared: when others are talked over, you get a little more than an even hearing.",
}
# People to compare in `knowing()`: (seniority, gender, race, caring); the most likely person comes first.
COMPARED = [
    ("Early career", "Man", "Another background", "A new child this year"),
    ("Senior leader", "Man", "Another background", "Ongoing care"),
    ("Early career", "Woman", "Another background", "None this year"),
    ("Manager", "Woman", "Another background", "A new child this year"),
    ("Mid-level", "Woman", "Black", "Ongoing care"),
    ("Senior leader", "Woman", "Another background", "None this year"),
]


# -- the chart ------------------------------------------------------------------------------------------------

@charts.cached_by(__file__)
def scores_chart(categories, series: dict, *, title: str, source: str, reference: str) -> charts.Chart:
    """Horizontal bars, one group per category and one bar per series, with a dashed line at 100 (what
    `reference` says 100 means). Each series has its own colour and hatching, so it reads without colour too."""
    from matplotlib.figure import Figure

    rows = len(categories) * len(series)
    legend = 0.35 if len(series) > 1 else 0.0
    fig = Figure(figsize=(charts.WIDTH_INCHES, 1.3 + legend + 0.38 * rows + 0.25 * len(categories)), dpi=100)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.33, right=0.97, top=1 - 0.55 / fig.get_figheight(),
                        bottom=(0.6 + legend) / fig.get_figheight())
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    colours = [charts.PALETTE["blue"], charts.PALETTE["orange"]]
    height = 0.8 / len(series)
    top = max([v for values in series.values() for v in values] + [100])
    for s, (name, values) in enumerate(series.items()):
        ys = [c + (s - (len(series) - 1) / 2) * height for c in range(len(categories))]
        drawn = ax.barh(ys, values, height, label=name, color=colours[s % 2], edgecolor="black", linewidth=0.6,
                        hatch=["", "//"][s % 2])
        ax.bar_label(drawn, labels=[f"{v:.0f}" for v in values], padding=3)
    ax.axvline(100, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(categories)), categories)
    ax.invert_yaxis()
    ax.set_xlim(0, max(125, top + 15))
    ax.set_xlabel(f"Score (dashed line: 100 = {reference})")
    if len(series) > 1:
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.4, -0.2 - 0.25 / fig.get_figheight()),
                  ncol=len(series), fontsize=9)
    parts = [f"{c}: " + ", ".join(f"{n} {v[i]:.0f}" if len(series) > 1 else f"{v[i]:.0f}"
                                  for n, v in series.items()) for i, c in enumerate(categories)]
    alt = f"Bar chart, {title}. " + "; ".join(parts) + f". A dashed line marks 100: {reference}."
    return charts.Chart(charts._render(fig), alt, source)


def _outcome_chart(result: veil.Outcome, model: veil.Model) -> charts.Chart:
    used = [r["source_id"] for r in model.population_rows
            if getattr(result.identity, r["attribute"]) == r["value"]] + [e.source_id for e in result.effects]
    return scores_chart([veil.OUTCOMES[o] for o in veil.OUTCOMES],
                        {"This person": [round(result.scores[o], 1) for o in veil.OUTCOMES]},
                        title="How your rules treat this person", reference="only the work counts",
                        source=f"{ILLUSTRATIVE}. Rows used: {citations_of(used)}")


# -- the game -------------------------------------------------------------------------------------------------

def _menu(model: veil.Model) -> str:
    """Every option with what it means, in a disclosure the keyboard can open (Enter or Space)."""
    parts = []
    for entry in model.rules.values():
        items = "".join(f"<li><strong>{escaped(o.label)}.</strong> {escaped(o.description)}</li>"
                        for o in entry["options"].values())
        parts.append(f"<p style='margin:0.4rem 0 0'><strong>{escaped(entry['label'])}</strong></p>"
                     f"<ul style='margin:0.1rem 0'>{items}</ul>")
    return f"<details><summary>What each option means</summary>{''.join(parts)}</details>"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _one_in(p: float) -> str:
    n = 1 / p
    n = round(n) if n < 100 else int(float(f"{n:.2g}"))
    return f"about 1 in {n:,}"


class VeilGame(first_views.ShownFirst, w.VBox):
    """Choose a rule of each kind, then draw who you will be: each draw takes the next seed of a fixed
    sequence (`course.lesson.models.veil.draw(seed + n)`), so the same clicks always show the same people. Redrawn in the
    kernel: the model is cheap and each chart is cached on disk. The rules chosen are not kept, so its first
    view shows the game as it is."""

    def __init__(self, model: veil.Model | None = None, seed: int = 0):
        self.model = model or veil.model()
        self.seed = seed
        self.draws = 0
        self.identity: veil.Identity | None = None
        self.rules_seen: dict | None = None  # the rules in force when this person was drawn
        self.controls = {}
        for rule, entry in self.model.rules.items():
            control = w.ToggleButtons(options=[(o.label, o.option) for o in entry["options"].values()],
                                      value=None, description=entry["label"],
                                      style={"button_width": "auto", "description_width": "8.5rem"},
                                      layout=w.Layout(width="100%"))
            control.observe(self._rules_changed, names="value")
            self.controls[rule] = control
        self.button = w.Button(description="Draw who I will be", button_style="primary",
                               tooltip="Draw a person from the model's population",
                               layout=w.Layout(width="fit-content", align_self="flex-start"))
        self.button.add_class("allies-veil-draw")
        self.button.on_click(self.draw)
        self.status = w.HTML(markup.status("Choose an option for each rule, then press the button.", tag="p"))
        self.view = w.HTML()
        super().__init__([*self.controls.values(), w.HTML(_menu(self.model)), self.button,
                          self.status, self.view])
        self.add_class("allies-veil")

    def first_view(self) -> str:
        return f'<div class="allies-veil">{first_views.of(self)}</div>'  # (the game's styles apply: components.css)

    def chosen(self) -> dict:
        return {rule: control.value for rule, control in self.controls.items()}

    def draw(self, _button=None) -> None:
        """Draw the next person, if every rule has been chosen; otherwise say what is missing."""
        try:
            rules = self.model.check_rules(self.chosen())
        except (TypeError, ValueError) as exc:
            self.status.value = markup.status(f"{_capital(str(exc))}.", False, tag="p")
            return
        self.identity = self.model.draw(self.seed + self.draws)
        self.draws += 1
        self.rules_seen = rules
        self.button.description = "Draw again"
        self._show(rules)

    def _rules_changed(self, _change=None) -> None:
        if self.identity is None:
            return
        try:
            rules = self.model.check_rules(self.chosen())
        except (TypeError, ValueError):
            return
        self._show(rules)

    def _show(self, rules: dict) -> None:
        result = self.model.outcome(rules, self.identity)
        who = self.model.describe(self.identity)
        self.status.value = markup.status(f"Draw {self.draws}: you are {who}. In this model, "
                                          f"{_one_in(self.model.probability(self.identity))} people are.", tag="p")
        items = []
        for o, label in veil.OUTCOMES.items():
            score = result.scores[o]
            stories = list(dict.fromkeys(e.story for e in result.effects if e.outcome == o))
            if not stories:
                stories = [EDGE[o]] if o in EDGE and score >= 100 + veil.TOLERANCE else [
                    "Nothing in these rules holds you back here."]
            items.append(f"<li><strong>{escaped(label)}: {score:.0f}</strong> "
                         f"(100 = {escaped(veil.MEANING[o])}). {escaped(' '.join(stories))}</li>")
        changed = ""
        if rules != self.rules_seen:
            changed = ("<p><em>You changed the rules after seeing who you are: that is choosing knowing "
                       "everything. Press “Draw again” to go back behind the veil.</em></p>")
        self.view.value = (f'<div class="allies-veil-person">{_outcome_chart(result, self.model).html()}'
                           f'<ul class="allies-list">{"".join(items)}</ul>{changed}'
                           f'<p class="allies-source">{ILLUSTRATIVE}: every weight and '
                           "assumption is listed under “Who could you be?” and “Under the hood”.</p></div>")


def game(seed: int = 0) -> VeilGame:
    """The veil game for a cell to show."""
    return VeilGame(seed=seed)


# -- the ideas, the population, the assumptions ---------------------------------------------------------------

def ideas() -> HTML:
    """The original position in four plain statements, from `data/veil_ideas.csv`."""
    rows = [r for r in table("veil_ideas") if r["kind"] == "idea"]
    items = "".join(f'<dt>{escaped(r["name"])}</dt><dd>{escaped(r["explanation"])} '
                    f'{badges.badge(r["source_id"], r["confidence"])}</dd>' for r in rows)
    return markup.panel(f'<dl class="allies-details">{items}</dl>'
                        + markup.source_line(" | ".join(s.citation() for s in _cited(rows)), label="Sources"))


def _cited(rows):
    known = sources()
    return [known[s] for s in dict.fromkeys(r["source_id"] for r in rows)]


def _who(effect: veil.Effect) -> str:
    """'Woman, A new child this year or Ongoing care': the values an effect row names, in attribute order."""
    named = dict(effect.who)
    return ", ".join(" or ".join(sorted(named[a])) for a in veil.ATTRIBUTES if a in named) or "everyone"


def _basis(confidence: str, source_ids) -> str:
    """How sure (the row's own label, e.g. 'illustrative model'), the evidence behind it, and the sources."""
    evidence = "; ".join(badges.label(s) for s in source_ids)
    return f"{confidence} ({evidence}). {citations_of(source_ids)}"


def population() -> w.HTML:
    """Who the veil can hide: every weight, when it applies, what it rests on and how sure we are."""
    rows = table("veil_population")
    body, last = [], None
    for r in rows:
        basis = _basis(r["confidence"], [r["source_id"]])
        said = (r["note"], basis)
        body.append([f"{r['attribute'].capitalize()}: {r['value']}", f"{float(r['weight']):g}%",
                     r["when"].replace("=", ": ").replace("|", ", ") or "everyone",
                     *(("As above.", "As above.") if said == last else said)])
        last = said
    return widgets.table(["Who you might be", "Share", "Among", "What it rests on", "Basis (how sure; source)"],
                         body, "Who could you be? The model's population (each attribute's shares add up to 100%)")


class _Views(widgets.Explorer):
    """An Explorer whose views are ready-made HTML."""

    @staticmethod
    def _view(body: str) -> str:
        return body


def assumptions() -> widgets.Explorer:
    """Under the hood: for each rule, every option and every effect row, with its basis and source."""
    model = veil.model()

    def view(label):
        rule = next(r for r, e in model.rules.items() if e["label"] == label)
        body = []
        for option in model.rules[rule]["options"].values():
            mine = [e for e in model.effects if (e.rule, e.option) == (rule, option.option)]
            for e in mine or [None]:
                body.append([option.label, _who(e) if e else "nobody",
                             f"{veil.OUTCOMES[e.outcome]} × {e.factor:g}" if e else "no change", e.story if e else "",
                             _basis(e.confidence, [e.source_id]) if e else _basis(option.confidence,
                                                                                  [option.source_id])])
        return (widgets.table(["Option", "Applies to", "Effect", "Why", "Basis (how sure; source)"], body,
                              f"{label}: what each option does in the model").value,)

    return _Views([("Rule", widgets.choices([e["label"] for e in model.rules.values()]))], view)


def fathers_leave() -> HTML:
    """Who takes parental leave: men's share of leave users in OECD countries (`data/fathers_leave.csv`)."""
    rows = table("fathers_leave")
    body = [[r["countries"], r["approximate"], badges.label(r["source_id"], r["confidence"])] for r in rows]
    shown = widgets.table(["Where", "Men among parental-leave users", "Evidence"], body,
                          "Who takes parental leave").value
    return markup.panel(shown + markup.source_line(" | ".join(s.citation() for s in _cited(rows))))


PROCESS_COSTS = (("Nothing (the default)", 0.0), ("2% of everyone's time per step", 0.02),
                 ("5% of everyone's time per step", 0.05))


# -- knowing everything, knowing nothing ---------------------------------------------------------------------

def _option_text(model: veil.Model, rule: str, choice: veil.Choice) -> str:
    options = model.rules[rule]["options"]
    good = choice.equally_good[rule]
    if len(good) == 1:
        return options[good[0]].label
    listed = ", ".join(options[o].label for o in good)
    return f"No real difference (any of: {listed})"


def knowing() -> widgets.Explorer:
    """Pick a person: the rules best for them if you knew you were them, against the rules chosen behind the
    veil (protecting whoever fares worst, or the best average), and what each set does to them and to the
    worst-off person. A view is computed when first chosen, then switched in the browser."""
    model = veil.model()
    ideas_rows = {r["name"]: r for r in table("veil_ideas") if r["kind"] == "choice"}
    worst_name, average_name = list(ideas_rows)
    likely = max(model.people, key=lambda pair: pair[1])[0]
    people = [likely, *(p for p in (veil.Identity(*c) for c in COMPARED) if p != likely)]
    labels = {_capital(model.describe(p)): p for p in people}

    def view(label, cost):
        model = veil.model(cost)
        veil_worst, veil_average = model.choose("worst_off"), model.choose("average")
        person = labels[label]
        mine = model.choose("you", person)
        rows = [[model.rules[r]["label"], _option_text(model, r, mine), _option_text(model, r, veil_worst),
                 _option_text(model, r, veil_average)] for r in model.rules]
        shown = widgets.table(["Rule", "Knowing you are this person", f"Behind the veil: {worst_name.lower()}",
                               f"Behind the veil: {average_name.lower()}"], rows,
                              "What you would choose, knowing everything or knowing nothing").value
        index = [p for p, _ in model.people].index(person)
        you_mine, you_veil = model.grid()[tuple(mine.rules.items())][index], model.grid()[
            tuple(veil_worst.rules.items())][index]
        chart = scores_chart(["Rules best for this person", "Rules chosen behind the veil"],
                             {"This person": [round(you_mine, 1), round(you_veil, 1)],
                              "Whoever fares worst": [round(mine.worst, 1), round(veil_worst.worst, 1)]},
                             title="Overall score (the mean of the four outcomes)", reference="only the work counts",
                             source=f"{ILLUSTRATIVE}. Ways of choosing: {citations_of(['sep_original_position'])}")
        assumed = (f"What these assumptions imply, not a finding: each fairer step in promotion, meetings and pay "
                   f"takes {100 * cost:g}% of everyone's time. " if cost else
                   "What these assumptions imply, not a finding: the fairer options take nobody's time. ")
        reading = (f"{assumed}(The veil's rules here protect whoever fares worst.) Knowing you are "
                   f"{model.describe(person)}, the rules that serve you best give you "
                   f"{you_mine:.0f} overall and leave whoever fares worst under them — "
                   f"{model.describe(mine.worst_person)} — at {mine.worst:.0f}. Chosen behind the veil to "
                   f"protect whoever fares worst, the rules give you {you_veil:.0f} and the worst-off "
                   f"{veil_worst.worst:.0f}. Where a rule makes no real difference to you, the model picks the "
                   f"option kinder to others. Evidence: {badges.MODEL_ASSUMPTION}.")
        return (f'{shown}{chart.html()}<p aria-live="polite">{escaped(reading)}</p>',)

    control = widgets.dropdown(list(labels))
    return _Views([("If you knew you would be", control),
                   ("What fairer processes cost", widgets.choices(PROCESS_COSTS, 0.0))], view)

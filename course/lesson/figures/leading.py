"""Module 6 — From learning to leading: the five actions and what they look like in tech work, practice scenes,
fathers' use of parental leave, the evidence on what makes change stick, and the personal ally action plan
(built step by step, saved with the learner's answers, exported by `course.lesson.action_plan`)."""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import ipywidgets as w
from IPython.display import HTML, display
from traitlets import Unicode

from course.lesson import action_plan as export
from course.lesson import badges, charts, markup, practice, validation, widgets
from course.lesson.context import in_voila
from course.lesson.data import citation_line as _source
from course.lesson.data import table
from course.lesson.validation import escaped
from course.lesson.figures.bias import evidence as _evidence

KIND = {"method": "How it was done", "finding": "Finding", "caution": "Caution"}
STUDY = {"bezrukova": "Many studies of diversity training, combined", "chang": "One online training, tested at work",
         "dobbin_kalev": "What companies do, and what works"}
PLAN_ITEMS = ("name", "action1", "step1", "by1", "action2", "step2", "by2", "partner", "check_in")
PLAN_PREFIX = "m06-plan-"


# -- The five actions ---------------------------------------------------------------------------------------

def actions() -> list[dict]:
    """The five actions in order: id, name, summary and practices, each practice with its source row."""
    rows = table("ally_actions")
    ordered = sorted({(int(r["order"]), r["action_id"], r["action"]) for r in rows})
    return [{"id": action_id, "action": name,
             "summary": next(r for r in rows if r["action_id"] == action_id and r["kind"] == "summary"),
             "practices": [r for r in rows if r["action_id"] == action_id and r["kind"] == "practice"]}
            for _order, action_id, name in ordered]


def five_actions() -> HTML:
    """The five actions, each with what it asks and what it can look like in tech work."""
    blocks = "".join(
        f'<li><strong>{escaped(a["action"])}</strong> '
        f'<code>{escaped(a["id"])}</code><br>{escaped(a["summary"]["text"])}'
        f'<ul class="allies-list">'
        + "".join(f"<li>{escaped(p['text'])}</li>" for p in a["practices"]) + "</ul></li>"
        for a in actions())
    rows = table("ally_actions")
    return markup.panel(f'<ol class="allies-actions">{blocks}</ol>'
                        + markup.source_line(_source(rows), label="The five actions: BCG. The examples draw on "
                                             "the EQUALS discussion notes. Sources"))


def scenes() -> practice.RolePractice:
    """Practice scenes for the learner's role (`course.lesson.practice`), each written first."""
    return practice.RolePractice(say_first="m06")


# -- Fathers' leave -----------------------------------------------------------------------------------------

@charts.cached_by(__file__)
def _leave_chart(labels: tuple, values: tuple, words: tuple, highlight, source: str) -> charts.Chart:
    """Bars at the bounds the OECD gives, each labelled in words ("40% or more"), one highlighted."""
    fig, ax = charts._figure("Men's share of parental-leave users")
    colours = [charts.PALETTE["blue"] if highlight in (None, label) else charts.MUTED for label in labels]
    drawn = ax.bar(labels, values, color=colours, edgecolor="black", linewidth=0.6)
    ax.bar_label(drawn, labels=list(words), padding=2, fontsize=9)
    ax.set_xticks(range(len(labels)), [textwrap.fill(label, 22) for label in labels], fontsize=9)
    ax.axhline(50, color=charts.PALETTE["vermillion"], linestyle="--", linewidth=1.2)
    ax.text(len(labels) - 0.5, 51, "an equal split", ha="right", va="bottom", fontsize=9,
            color=charts.PALETTE["vermillion"])
    ax.set_ylim(0, 60)
    ax.set_ylabel("%")
    listed = "; ".join(f"{label}: {word}" for label, word in zip(labels, words))
    focus = f" Highlighted: {highlight}." if highlight else ""
    return charts.Chart(charts._render(fig), f"Bar chart, men's share of parental-leave users. {listed}. "
                        f"A dashed line marks an equal split.{focus}", source)


def _place(countries: str) -> str:
    """A group of countries for the middle of a sentence: "Some Nordic…" becomes "some Nordic…"."""
    first, _, rest = countries.partition(" ")
    return f"{first.lower()} {rest}" if first in ("Some", "Many") else countries


def fathers_leave():
    """Where fathers take parental leave, and where they hardly do; pick a group to read it."""
    rows = table("fathers_leave")
    labels = tuple(r["countries"] for r in rows)
    values = tuple(float(r["pct_of_leave_users_men"]) for r in rows)
    words = tuple(f"{r['bound']} {r['pct_of_leave_users_men']}%" for r in rows)

    def draw(focus):
        chart = _leave_chart(labels, values, words, None if focus == "All" else focus, _source(rows))
        if focus == "All":
            low, high = (f(rows, key=lambda r: float(r["pct_of_leave_users_men"])) for f in (min, max))
            return chart, (f"In {_place(low['countries'])} {low['in_words']}; in {_place(high['countries'])} "
                           f"{high['in_words']}. The bars stand at the bounds the OECD reports, not exact shares.")
        row = rows[labels.index(focus)]
        return chart, f"{focus}: {row['in_words']} (evidence: {badges.label(row['source_id'], row['confidence'])})."

    return widgets.explorer(widgets.choices(["All", *labels]), draw, "Show")


# -- What makes change stick ------------------------------------------------------------------------------

def what_sticks() -> HTML:
    """Three strands of evidence on training and programmes, each statement labelled with its kind and confidence."""
    return strands("what_sticks", STUDY)


def strands(name: str, titles: dict[str, str]) -> HTML:
    """A panel of evidence from `data/<name>.csv` (study, kind, statement, figure, source): one block per study,
    titled from `titles`, each statement with its evidence badge, each block with its source."""
    rows = table(name)
    studies = list(dict.fromkeys(r["study"] for r in rows))
    blocks = []
    for study in studies:
        mine = [r for r in rows if r["study"] == study]
        items = "".join(
            f"<li><strong>{escaped(KIND.get(r['kind'], r['kind'].capitalize()))}.</strong> "
            f"{escaped(r['statement'].replace('{figure}', r['figure']))} "
            f'{badges.badge(r["source_id"], r["confidence"])}</li>' for r in mine)
        title = escaped(titles.get(study, study))
        blocks.append(f'<h3 class="allies-study-title">{title}</h3>'
                      f'<ul class="allies-list">{items}</ul>'
                      + markup.source_line(_source(mine)))
    return markup.panel("".join(blocks))


# -- The action plan -----------------------------------------------------------------------------------------

def plan_from_answers(values: dict[str, str], written: str = "") -> dict:
    """A plan (see `course.lesson.action_plan`) from the builder's fields: action ids become their names."""
    names = {a["id"]: a["action"] for a in actions()}
    commitments = []
    for n in ("1", "2"):
        action = str(values.get(f"action{n}") or "")
        commitments.append({"action": names.get(action, action), "first_step": values.get(f"step{n}") or "",
                            "by": values.get(f"by{n}") or ""})
    return {"name": values.get("name") or "", "written": written, "commitments": commitments,
            "partner": values.get("partner") or "", "check_in": values.get("check_in") or ""}


def plan_from_dict(my_plan) -> tuple[dict, list[str]]:
    """A plan from the dict a JupyterLab learner fills in, and what still needs doing, in plain words."""
    names = {a["id"]: a["action"] for a in actions()}
    notes: list[str] = []
    if not isinstance(my_plan, dict):
        return export.empty(), [f"my_plan should be a dict like the one in the cell, not {type(my_plan).__name__}."]
    raw = my_plan.get("commitments") or []
    raw = [raw] if isinstance(raw, dict) else raw if isinstance(raw, (list, tuple)) else []
    commitments = []
    for entry in raw:
        entry = entry if isinstance(entry, dict) else {"action": entry}
        action = export.clean(entry.get("action")).strip()
        step, by = export.clean(entry.get("first_step")).strip(), export.clean(entry.get("by")).strip()
        if not (action or step or by):
            continue
        if action and action.lower() in names:
            action = names[action.lower()]
        elif action:
            notes.append(f"“{action[:60]}” is not one of the five action ids, so it is kept as you wrote it.")
        else:
            notes.append("A commitment has no action: use one of " + ", ".join(f'"{k}"' for k in names) + ".")
        if not step:
            notes.append(f"Add a first step for “{(action or 'your commitment')[:60]}”.")
        if not by:
            notes.append(f"Add a date for “{(action or 'your commitment')[:60]}”: a plan with dates is easier to keep.")
        commitments.append({"action": action, "first_step": step, "by": by})
    if not commitments:
        notes.append("Choose at least one action: put one of " + ", ".join(f'"{k}"' for k in names)
                     + " after \"action\", and write your first step.")
    plan = {"name": my_plan.get("name") or "", "written": dt.date.today().isoformat(),
            "commitments": commitments, "partner": my_plan.get("partner") or "",
            "check_in": my_plan.get("check_in") or ""}
    if not export.clean(plan["partner"]).strip():
        notes.append("Name someone who will ask you how it went.")
    return plan, notes


def ready(plan: dict) -> bool:
    """Whether a plan has at least one action with a first step: enough to be worth keeping as a file."""
    return any(c.get("action", "").strip() and c.get("first_step", "").strip() for c in plan.get("commitments", []))


class FreeLine(w.Text):
    """A one-line text box whose value is not echoed back (see `course.lesson.widgets.FreeText` for why)."""

    value = Unicode(help="String value").tag(sync=True, echo_update=False)


def _when(value) -> tuple[bool, str]:
    text = str(value or "").strip()
    if not text:
        return True, "Add a date: a plan with dates is easier to keep."
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return True, "Noted. A calendar date is easier to check than an occasion."
    return True, f"{day:%A %d %B %Y}."


def _optional(empty: str):
    def describe(value):
        return (True, "") if str(value or "").strip() else (True, empty)
    return describe


def _text(value) -> tuple[bool, str]:
    ok, message = validation.reflection(value)
    return (True, "Write one concrete thing you will do.") if message == "Nothing written yet." else (ok, message)


class PlanBuilder(widgets.Column):
    """The website's step-by-step action plan: every field saved with the learner's answers (items
    `m06-plan-…`), a preview, and links that download the plan as Markdown and as a printable page. Shown
    first blank: its fields empty, and the preview and links of a plan not yet begun."""

    def __init__(self):
        options = [("Choose one of the five actions…", "")] + [(a["action"], a["id"]) for a in actions()]
        summaries = {a["id"]: a["summary"]["text"] for a in actions()}

        def action_describe(first: bool):
            def describe(value):
                if value:
                    return True, summaries.get(value, "")
                return True, "Choose one." if first else "Optional: a second action."
            return describe

        def line(placeholder):
            field = FreeLine(placeholder=placeholder, layout=w.Layout(width="min(44rem, 100%)"))
            return field

        def area(placeholder):
            return widgets.FreeText(placeholder=placeholder, rows=3, layout=w.Layout(width="min(44rem, 100%)"))

        self.fields = {
            "name": line("Your name (optional)"),
            "action1": w.Dropdown(options=options, value="", layout=w.Layout(width="min(44rem, 100%)")),
            "step1": area("Your first step, concrete enough that a colleague could see you do it"),
            "by1": line("A date, such as 2026-03-14"),
            "action2": w.Dropdown(options=options, value="", layout=w.Layout(width="min(44rem, 100%)")),
            "step2": area("A first step for the second action (optional)"),
            "by2": line("By when?"),
            "partner": line("Who will ask how it went?"),
            "check_in": line("A date to check in"),
        }
        describe = {"name": _optional("Optional."), "action1": action_describe(True), "step1": _text,
                    "by1": _when, "action2": action_describe(False), "step2": _optional("Optional."),
                    "by2": _optional(""), "partner": _optional("Name someone who will hold you to it."),
                    "check_in": _when}
        labels = {"name": "Name on the plan", "action1": "Action 1", "step1": "First step", "by1": "By when",
                  "action2": "Action 2 (optional)", "step2": "First step", "by2": "By when",
                  "partner": "Partner", "check_in": "Check-in date"}
        boxes = {}
        for key, field in self.fields.items():
            field.description = labels[key]
            field.style.description_width = "11rem"
            boxes[key] = widgets.AnswerBox(PLAN_PREFIX + key.replace("_", "-"), field, describe[key])

        def step(title, text):
            shown = w.HTML(markup.subheading(title) + f"<p>{escaped(text)}</p>")
            shown.add_class("allies-plan-step")
            return shown

        self.preview = w.HTML()
        self.links = w.HTML()
        self.preview.add_class("allies-plan-preview")
        self.links.add_class("allies-plan-links")
        preview, links = self.shown(plan_from_answers({}, dt.date.today().isoformat()))
        super().__init__(before={self.preview: preview, self.links: links}, children=[
            boxes["name"],
            step("Step 1. Choose what you commit to", "One action is enough; two at most. Pick the one you "
                 "can start this month."),
            boxes["action1"], boxes["action2"],
            step("Step 2. Your first steps, with dates", "For each action, one small, visible thing you will do, "
                 "and when."),
            boxes["step1"], boxes["by1"], boxes["step2"], boxes["by2"],
            step("Step 3. Who will hold you to it", "A colleague, a friend, your manager, someone in your cohort: "
                 "someone who will ask."),
            boxes["partner"], boxes["check_in"],
            step("Step 4. Keep your plan", "Your plan is saved with your answers. Download it as well, as "
                 "Markdown or as a page you can print."),
            self.links, self.preview,
        ])
        self.add_class("allies-plan")
        for field in self.fields.values():
            field.observe(lambda _change: self.update(), names="value")
        self.update()

    def plan(self) -> dict:
        values = {key: field.value for key, field in self.fields.items()}
        return plan_from_answers(values, dt.date.today().isoformat())

    def update(self) -> None:
        self.preview.value, self.links.value = self.shown(self.plan())

    @staticmethod
    def shown(plan: dict) -> tuple[str, str]:
        """The HTML of the preview and of the download links, for `plan`."""
        return (f'<div class="allies-plan-box">{export.body_html(plan, level=3)}</div>',
                f'<p>{" · ".join(export.download_link(plan, fmt) for fmt in export.FORMATS)}</p>' if ready(plan)
                else '<p role="status">Choose an action and write a first step to download your plan.</p>')


def action_plan(my_plan=None):
    """The personal ally action plan. Website: the step-by-step builder, saved as the learner types.
    JupyterLab: the plan in `my_plan`, checked, previewed and written next to the notebook as
    `my-ally-action-plan.md` and `.html`."""
    if in_voila():
        return PlanBuilder()
    try:
        plan, notes = plan_from_dict(my_plan)
    except Exception:  # whatever the cell holds, the learner gets a message, not a traceback
        plan, notes = export.empty(), ["This plan could not be read: start again from the cell as it was given."]
    notes_html = "".join(f'<li>{escaped(n)}</li>' for n in notes)
    parts = [f'<ul role="status" class="allies-status allies-problem">{notes_html}</ul>'] if notes else []
    if ready(plan):
        try:
            paths = export.write_files(plan, Path.cwd())
            links = " · ".join(f'<a href="{escaped(p.name)}" target="_blank">{escaped(p.name)}</a>' for p in paths)
            parts.append(f'<p role="status"><span class="allies-status">Your plan is saved next to this notebook: '
                         f"{links}. Run this cell again after any change to update the files.</span></p>")
        except OSError as exc:
            parts.append(f'<p role="status"><span class="allies-status allies-problem">The files could not be '
                         f"written here ({escaped(type(exc).__name__)}); copy the plan below instead.</span></p>")
    else:
        parts.append('<p role="status">When at least one action has a first step, running this cell saves your '
                     "plan next to this notebook as Markdown, as a printable page and as calendar reminders.</p>")
    parts.append(f'<div class="allies-plan-box">{export.body_html(plan, level=3)}</div>')
    display(HTML("".join(parts)))
    return None


def evidence(topic: str):
    """A research panel for this module (`data/bias_evidence.csv`), drawn by the same component as Module 3's."""
    return _evidence(topic)

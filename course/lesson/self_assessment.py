"""The course self-assessment: where am I on the lagging / learning / leading continuum, and how often do I
already do a few concrete ally behaviours? Asked in the Orientation (`ask`), again at the end of Module 6
(`compare`), which shows the two side by side, and twice in Module 7 (`revisit`): where the learner now thinks
they started (a retrospective "then" rating, made with today's yardstick) and where they are now. Not graded.

The questions are defined once, in `data/self_assessment_items.csv`; the continuum's stages come from
`data/ally_continuum.csv` and the frequency scale is `SCALE`. On the website each answer is an item of the
learner's saved answers (`m00-s1`… in the Orientation, `m06-s1`… in Module 6, `m07-then-s1`… and `m07-s1`… in
Module 7), autosaved through
`course.lesson.session`. In JupyterLab the learner types numbers into a `my_answers` dict in a code cell, and
Module 6 reads the Orientation's dict from `00-before-you-start.ipynb` in the same folder, or in the sibling
nbgrader assignment folder `../00-before-you-start/`. It is read with `ast.literal_eval`: nothing in the
file is run.
"""
from __future__ import annotations

import ast
import json
import textwrap
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from course.lesson import charts, data, markup, widgets
from course.lesson.context import in_voila
from course.lesson.validation import escaped

ORIENTATION = "00-before-you-start"
CLOSING = "06-from-learning-to-leading"
FOLLOW_UP = "07-four-weeks-on"
PREFIX = {ORIENTATION: "m00", CLOSING: "m06", FOLLOW_UP: "m07"}
THEN = "m07-then"  # Module 7's retrospective rating: where the learner now thinks they started
START_NOW = ("At the start", "Now")  # the two series of a comparison, as the chart and table name them
THEN_NOW = ("Then, looking back", "Now")
SCALE = ("Not yet", "Rarely", "Sometimes", "Often")  # how often I already do it: 1 to 4
VARIABLE = "my_answers"  # the dict a JupyterLab learner fills in
INPUT_TAG = "self-assessment"  # the tag on the notebook cell that holds it


@dataclass(frozen=True)
class Item:
    key: str
    kind: str  # "continuum" or "behaviour"
    short: str
    statement: str
    choices: tuple[str, ...]  # answer n means choices[n - 1]


@lru_cache(maxsize=None)
def items() -> tuple[Item, ...]:
    """The questions, in order."""
    stages = tuple(r["stage"] for r in sorted(data.table("ally_continuum"), key=lambda r: int(r["order"])))
    rows = sorted(data.table("self_assessment_items"), key=lambda r: int(r["order"]))
    return tuple(Item(r["item"], r["kind"], r["short"], r["statement"],
                      stages if r["kind"] == "continuum" else SCALE) for r in rows)


def item(key: str) -> Item:
    return next(i for i in items() if i.key == key)


def source_note_p() -> str:
    """Where the questions come from, for a chart's caption."""
    rows = data.table("self_assessment_items")
    return f"Your own answers to the course self-assessment. The questions draw on: {data.citation_line(rows)}"


# -- Reading answers ------------------------------------------------------------------------------------

def parse(question: Item, value) -> tuple[int | None, str]:
    """One answer as a number on the question's scale, with a message for the learner.
    Accepts 1…n (number or digit text) or the words of the scale ("sometimes", "Learning")."""
    n = len(question.choices)
    hint = f"use a whole number from 1 to {n}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "Not answered yet."
    if isinstance(value, bool):
        return None, f"{value!r} is not on the scale: {hint}."
    number = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():
            number = int(text)
        else:
            words = [c.lower() for c in question.choices]
            if text.lower() in words:
                number = words.index(text.lower()) + 1
    if number is not None and 1 <= number <= n:
        return number, f"Recorded: {question.choices[number - 1]}."
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:40] + "…"
    return None, f"{shown} is not on the scale: {hint} ({', '.join(question.choices)})."


def normalise(answers) -> tuple[dict[str, int], list[str]]:
    """Answers (key -> value) as numbers, and a message for each one that could not be used."""
    if answers is None:
        return {}, []
    if not isinstance(answers, dict):
        return {}, [f"{VARIABLE} should be a dict like {{\"s1\": 2, \"s2\": 3}}, not {type(answers).__name__}."]
    known = {i.key: i for i in items()}
    clean, problems = {}, []
    for key, value in answers.items():
        question = known.get(str(key).strip().lower())
        if question is None:
            problems.append(f"{str(key)[:40]!r} is not one of the questions ({', '.join(known)}).")
            continue
        number, message = parse(question, value)
        if number is not None:
            clean[question.key] = number
        elif value is not None and not (isinstance(value, str) and not value.strip()):
            problems.append(f"{question.key}: {message}")
    return clean, problems


def from_store(saved: dict[str, str], module: str = ORIENTATION, prefix: str | None = None) -> dict[str, int]:
    """A module's self-assessment answers (or, with `prefix`, one round of them, such as THEN) from the
    learner's saved answers (item id -> text)."""
    prefix = (prefix or PREFIX[module]) + "-"
    answers, _ = normalise({k[len(prefix):]: v for k, v in saved.items()
                            if k.startswith(prefix) and k[len(prefix):] in {i.key for i in items()}})
    return answers


class OrientationNotFound(LookupError):
    """The Orientation notebook, or the answers in it, could not be found; the message says what to do."""


def candidates(folder: Path | str | None = None, module: str = ORIENTATION) -> list[Path]:
    """Where an earlier module's notebook may be, seen from a notebook in `folder`: the same folder (the
    course's `modules/`), or nbgrader's layout with one folder per assignment."""
    here = Path(folder) if folder is not None else Path.cwd()
    name = f"{module}.ipynb"
    return [here / name, here.parent / module / name]


def assigned(nb: dict, variable: str, tag: str) -> ast.expr | None:
    """The expression a notebook assigns to `variable` (in the cell tagged `tag` if it has one, else in the
    last code cell that assigns it), parsed and never run. None if no cell assigns it."""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]
    tagged = [c for c in cells if tag in (c.get("metadata") or {}).get("tags", [])]
    found = None
    for cell in tagged + [c for c in cells if c not in tagged]:
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(source)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id == variable):
                found = node.value
        if found is not None and cell in tagged:
            return found
    return found


def answers_in_notebook(nb: dict) -> dict | None:
    """The `my_answers` dict of a notebook (the tagged cell first, else the last cell that assigns it), read as
    literals only; a value that is not a plain literal is kept as the text "<not a literal>". None if absent."""
    node = assigned(nb, VARIABLE, INPUT_TAG)
    if not isinstance(node, ast.Dict):
        return None
    found = {}
    for k, v in zip(node.keys, node.values):
        try:
            key = ast.literal_eval(k) if k is not None else None
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        try:
            found[str(key)] = ast.literal_eval(v)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            found[str(key)] = "<not a literal>"
    return found


def orientation_answers(folder: Path | str | None = None) -> tuple[dict[str, int], Path]:
    """The learner's Orientation answers, read from the notebook next to this one (see `candidates`).
    Raises OrientationNotFound with a message that says what was looked for and what to do."""
    places = candidates(folder)
    path = next((p for p in places if p.is_file()), None)
    if path is None:
        looked = " and ".join(str(p) for p in places)
        raise OrientationNotFound(
            f"Your answers from “Before you start” were not found. I looked for {looked}. Keep that notebook "
            f"in the same folder as this one (or its nbgrader folder beside this one's), or type the answers you "
            f"gave then into the cell, as compare({VARIABLE}, before={{\"s1\": 2, …}}).")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OrientationNotFound(f"{path} could not be read as a notebook ({type(exc).__name__}).") from None
    raw = answers_in_notebook(nb) if isinstance(nb, dict) else None
    if raw is None:
        raise OrientationNotFound(f"{path} has no {VARIABLE} cell: is it the course's “Before you start”?")
    answers, _ = normalise(raw)
    if not answers:
        raise OrientationNotFound(
            f"The self-assessment in {path} is still blank. If you answered it, save that notebook (Ctrl + S) "
            "and run this cell again.")
    return answers, path


# -- Before and after -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    item: Item
    before: int | None
    after: int | None

    def label(self, which: str) -> str:
        value = getattr(self, which)
        return self.item.choices[value - 1] if value else "not answered"

    @property
    def change(self) -> str:
        if not (self.before and self.after):
            return ""
        if self.after > self.before:
            return "further along" if self.item.kind == "continuum" else "more often"
        if self.after < self.before:
            return "further back" if self.item.kind == "continuum" else "less often"
        return "the same"


def pair(before: dict[str, int] | None, after: dict[str, int] | None) -> list[Row]:
    """Each question with its answer at the start and now (None where it was not answered)."""
    before, after = before or {}, after or {}
    return [Row(i, before.get(i.key), after.get(i.key)) for i in items()]


def reading(rows: list[Row]) -> str:
    """A few plain sentences on what changed."""
    place = next(r for r in rows if r.item.kind == "continuum")
    said = []
    if place.before or place.after:
        said.append(f"On the continuum you placed yourself at “{place.label('before')}” at the start and at "
                    f"“{place.label('after')}” now.")
    behaviours = [r for r in rows if r.item.kind == "behaviour" and r.before and r.after]
    more = [r.item.short.lower() for r in behaviours if r.after > r.before]
    if more:
        said.append(f"You now say you do these more often: {'; '.join(more)}.")
    elif behaviours:
        said.append("None of the behaviours has moved yet; your action plan is the place to start.")
    if not any(r.before for r in rows):
        said.append("There are no answers from the start of the course to compare with.")
    said.append("These are your own ratings, honest snapshots rather than measurements: a lower rating can mean "
                "you now notice more, which is progress too.")
    return " ".join(said)


def revisit_reading(first: dict[str, int], then: dict[str, int], now: dict[str, int]) -> str:
    """Module 7's reading: what moved between the "then" and "now" ratings, and what the "then" rating says
    beside the answers given at the start (`first`): a lower "then" can be a changed yardstick, or the
    expectation of having improved."""
    rows = pair(then, now)
    said = []
    moved = [r.item.short.lower() for r in rows if r.item.kind == "behaviour" and r.before and r.after
             and r.after > r.before]
    if moved:
        said.append(f"Between then and now you say you do these more often: {'; '.join(moved)}.")
    elif any(r.before and r.after for r in rows):
        said.append("None of the behaviours has moved between then and now; your new if-then plans are the "
                    "place to start.")
    both = [(i, first[i.key], then[i.key]) for i in items() if i.kind == "behaviour" and i.key in first
            and i.key in then]
    lower = [i.short.lower() for i, at_start, looking_back in both if looking_back < at_start]
    higher = [i.short.lower() for i, at_start, looking_back in both if looking_back > at_start]
    if lower:
        said.append(f"Looking back, you put your starting point lower than you did at the time for: "
                    f"{'; '.join(lower)}. Your yardstick may have changed: you now see more of what these ask.")
    if higher:
        said.append(f"Looking back, you put your starting point higher than you did at the time for: "
                    f"{'; '.join(higher)}.")
    if both and not (lower or higher):
        said.append("Your “then” ratings match the answers you gave at the start.")
    if not first:
        said.append("There are no answers from “Before you start” to set beside your “then” ratings.")
    said.append("A “then” rating can also be pulled down by expecting to have improved: read all of these as "
                "honest snapshots, not measurements.")
    return " ".join(said)


@charts.cached_by(__file__)
def chart(shorts: tuple, before: tuple, after: tuple, source: str, names: tuple = START_NOW) -> charts.Chart:
    """Grouped bars per behaviour, `names[0]` and `names[1]` (at the start and now), on the 1–4 scale
    (Okabe–Ito colours, hatched)."""
    from matplotlib.figure import Figure

    title = f"How often you do each ally behaviour: {names[0].lower()} and {names[1].lower()}"
    fig = Figure(figsize=(charts.WIDTH_INCHES, 4.0), dpi=100)
    fig.subplots_adjust(left=0.13, right=0.98, top=0.86, bottom=0.22)
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    width = 0.38
    series = ((names[0], before, charts.PALETTE["blue"], ""), (names[1], after, charts.PALETTE["orange"], "//"))
    for offset, (name, values, colour, hatch) in zip((-width / 2, width / 2), series):
        xs = [g + offset for g in range(len(shorts))]
        ax.bar(xs, [v or 0 for v in values], width, label=name, color=colour, hatch=hatch,
               edgecolor="black", linewidth=0.6)
        for x, v in zip(xs, values):
            if not v:
                ax.text(x, 0.08, "n/a", ha="center", va="bottom", fontsize=8, rotation=90)
    ax.set_xticks(range(len(shorts)), [textwrap.fill(s, 14) for s in shorts], fontsize=8)
    ax.set_ylim(0, len(SCALE) + 0.6)
    ax.set_yticks(range(1, len(SCALE) + 1), SCALE, fontsize=9)
    ax.legend(frameon=False, loc="upper right", ncols=2, fontsize=9)
    first, second = (n.lower() for n in names)
    listed = "; ".join(f"{s}: {first} {SCALE[b - 1] if b else 'not answered'}, "
                       f"{second} {SCALE[a - 1] if a else 'not answered'}" for s, b, a in zip(shorts, before, after))
    return charts.Chart(charts._render(fig), f"Grouped bar chart, {title}. {listed}.", source)


def _table(rows: list[Row], names: tuple = START_NOW) -> str:
    return markup.table("Your answers, side by side", ["Question", *names, "Change"],
                        [[r.item.short, r.label("before"), r.label("after"), r.change] for r in rows])


def _note_p(text: str, ok: bool = True) -> str:
    return markup.status(text, ok, tag="p")


def comparison_html(rows: list[Row], names: tuple = START_NOW, said: str | None = None) -> str:
    """The before-and-after chart, its reading (`said`, else `reading(rows)`) and the table, as HTML."""
    behaviours = [r for r in rows if r.item.kind == "behaviour"]
    figure = chart(tuple(r.item.short for r in behaviours), tuple(r.before for r in behaviours),
                   tuple(r.after for r in behaviours), source_note_p(), names)
    said = reading(rows) if said is None else said
    return figure.html() + f'<p aria-live="polite">{escaped(said)}</p>' + _table(rows, names)


# -- The widgets ----------------------------------------------------------------------------------------

def _questions_html(answers: dict[str, int], problems: list[str]) -> str:
    """The questions with what the notebook recorded for each (JupyterLab)."""
    scale = ", ".join(f"{n} = {w}" for n, w in enumerate(SCALE, start=1))
    rows = []
    for i in items():
        choices = ", ".join(f"{n} = {w}" for n, w in enumerate(i.choices, start=1)) if i.kind == "continuum" else ""
        value = answers.get(i.key)
        shown = f"{value} ({i.choices[value - 1]})" if value else "not answered yet"
        extra = f" <i>({escaped(choices)})</i>" if choices else ""
        rows.append(f"<li><code>{i.key}</code>: {escaped(i.statement)}{extra}"
                    f"<br><b>Recorded:</b> {escaped(shown)}</li>")
    problems_html = "".join(_note_p(p, False) for p in problems)
    return (f"<p><b>Scale for the behaviours:</b> {escaped(scale)}.</p>"
            + '<ol class="allies-plain-list">' + "".join(rows) + "</ol>" + problems_html)


def _questionnaire(prefix: str):
    """The questions as buttons, each bound to the learner's saved answers as `<prefix>-<key>` (website)."""
    import ipywidgets as w

    from course.lesson.widgets import AnswerBox

    fields, parts = {}, []
    for number, question in enumerate(items(), start=1):
        field = w.ToggleButtons(options=[(c, str(n)) for n, c in enumerate(question.choices, start=1)],
                                value=None, style={"button_width": "auto"})
        field.add_class("allies-scale")

        def describe(value, question=question):
            return True, parse(question, value)[1] if value else ""

        parts.append(w.HTML(f'<p class="allies-question"><b>{number}.</b> {escaped(question.statement)}</p>'))
        parts.append(AnswerBox(f"{prefix}-{question.key}", field, describe))
        fields[question.key] = field
    box = widgets.Column(parts)
    box.add_class("allies-self-assessment")
    return box, fields


def _values(fields) -> dict[str, int]:
    return normalise({key: field.value for key, field in fields.items()})[0]


def ask(my_answers=None):
    """The Orientation's self-assessment. Website: the questions as buttons, saved as the learner answers.
    JupyterLab: the questions and what `my_answers` holds, with a message for any answer that cannot be used."""
    from IPython.display import HTML, display

    if in_voila():
        box, _fields = _questionnaire(PREFIX[ORIENTATION])
        return box
    answers, problems = normalise(my_answers)
    done = len(answers)
    status = (f"Recorded {done} of {len(items())} answers. Save this notebook (Ctrl + S): Module 6 reads "
              "your answers from this file, so keep it in the same folder as the other modules."
              if done else "Type a number for each question in the cell above, then run it again.")
    display(HTML(_questions_html(answers, problems) + _note_p(status, not problems)))
    return None


class Comparison:
    """Module 6 on the website: the questions again, then before and after side by side. The Orientation's
    answers are read from the learner's saved answers once the session knows who the learner is. The chart is
    redrawn off the kernel's message loop, once for a burst of clicks, so that clicks (and their saves) are
    never queued behind drawing."""

    ROUNDS = ((PREFIX[CLOSING], ""),)  # (item prefix, heading) of each round of the questions on the page
    FOUND = "Your answers from “Before you start” are shown beside today's."
    MISSING = "You have no saved answers from “Before you start”, so the chart shows today's answers only."
    LOOKING = ("Looking for your answers from “Before you start”: if none are saved, the chart shows today's "
               "answers only.")
    UNANSWERED = "Answer the questions above; your answers from the start of the course appear beside them."

    def __init__(self):
        import ipywidgets as w

        parts, self.rounds = [], {}
        for prefix, heading in self.ROUNDS:
            if heading:
                parts.append(w.HTML(markup.subheading(heading)))
            self.box, self.fields = _questionnaire(prefix)  # the last round is today's answers
            self.rounds[prefix] = self.fields
            parts.append(self.box)
        self.before: dict[str, int] = {}
        self.message = w.HTML(_note_p(self.LOOKING))
        self.view = w.HTML()
        self.lock = threading.Lock()
        self.changed = threading.Event()
        for fields in self.rounds.values():
            for field in fields.values():
                field.observe(lambda _change: self.changed.set(), names="value")
        # (its first view: the questions, and the notes, as they are before the page knows whose it is)
        self.widget = widgets.Column([*parts, self.message, self.view], before={
            self.message: _note_p(self.LOOKING), self.view: _note_p(self.UNANSWERED)})
        self.widget.add_class("allies-compare")
        self.update()
        threading.Thread(target=self._load_before, daemon=True).start()
        threading.Thread(target=self._redraw, daemon=True).start()

    def _redraw(self) -> None:
        while True:
            self.changed.wait()
            self.changed.clear()
            self.update()

    def _load_before(self) -> None:
        current = widgets.answers()
        current.ready.wait()
        if not (current.store_path and current.learner):
            self.message.value = _note_p("Sign in to see your answers from “Before you start” beside today's.", False)
            return
        try:
            saved = current.saved(ORIENTATION)
        except Exception as exc:  # the page must still work if the store is unreachable
            self.message.value = _note_p(f"Your earlier answers could not be loaded ({type(exc).__name__}).", False)
            return
        self.before = from_store(saved, ORIENTATION)
        self.message.value = _note_p(self.FOUND if self.before else self.MISSING, bool(self.before))
        self.update()

    def update(self) -> None:
        now = _values(self.fields)
        with self.lock:
            self.view.value = comparison_html(pair(self.before, now)) if now else _note_p(self.UNANSWERED)


class Revisit(Comparison):
    """Module 7 on the website: the questions twice, "then" (where the learner now thinks they started) and
    "now", drawn side by side; the Orientation's saved answers feed the reading of the "then" rating."""

    ROUNDS = ((THEN, "Then: before the course, as you see it today"), (PREFIX[FOLLOW_UP], "Now: today"))
    FOUND = "Your answers from “Before you start” are in the reading below the chart."
    MISSING = ("No answers from “Before you start” are saved here; the chart shows your two ratings from today.")
    UNANSWERED = "Answer both rounds above to see them side by side."

    def update(self) -> None:
        then, now = (_values(self.rounds[prefix]) for prefix, _heading in self.ROUNDS)
        with self.lock:
            self.view.value = (comparison_html(pair(then, now), THEN_NOW, revisit_reading(self.before, then, now))
                               if then or now else _note_p(self.UNANSWERED))


def revisit(my_then=None, my_now=None, start=None):
    """Module 7's self-assessment: the questions rated twice, "then" (looking back) and "now", side by side,
    with a reading that sets the "then" rating beside the answers from the start of the course. In JupyterLab
    those are read from the Orientation notebook (see `orientation_answers`), or given as `start`."""
    from IPython.display import HTML, display

    if in_voila():
        return Revisit().widget
    then, problems = normalise(my_then)
    now, more = normalise(my_now)
    problems = [f"then: {p}" for p in problems] + [f"now: {p}" for p in more]
    if start is not None:
        first, message = normalise(start)[0], ""
    else:
        try:
            first, path = orientation_answers()
            message = f"Your answers from “Before you start” were read from {path}."
        except OrientationNotFound as exc:
            first, message = {}, str(exc)
    parts = [_note_p(message, bool(first))] if message else []
    parts += [_note_p(p, False) for p in problems]
    if not (then or now):
        parts.append(_note_p("Type a number for each question in both dicts above, then run the cell again."))
        display(HTML(_questions_html(now, []) + "".join(parts)))
        return None
    display(HTML("".join(parts) + comparison_html(pair(then, now), THEN_NOW, revisit_reading(first, then, now))))
    return None


def compare(my_answers=None, before=None):
    """Module 6's self-assessment: the same questions again, then the learner's answers at the start and now
    side by side, as a chart and a table. In JupyterLab the earlier answers are read from the Orientation
    notebook (see `orientation_answers`), or given as `before`."""
    from IPython.display import HTML, display

    if in_voila():
        return Comparison().widget
    now, problems = normalise(my_answers)
    message = ""
    if before is not None:
        earlier, more = normalise(before)
        problems += [f"before: {p}" for p in more]
    else:
        try:
            earlier, path = orientation_answers()
            message = f"Your answers from “Before you start” were read from {path}."
        except OrientationNotFound as exc:
            earlier, message = {}, str(exc)
    parts = [_note_p(message, bool(earlier))] if message else []
    parts += [_note_p(p, False) for p in problems]
    if not now:
        parts.append(_note_p("Type a number for each question in the cell above (the same questions as in "
                           "“Before you start”), then run it again to see the comparison."))
        display(HTML(_questions_html(now, []) + "".join(parts)))
        return None
    display(HTML("".join(parts) + comparison_html(pair(earlier, now))))
    return None

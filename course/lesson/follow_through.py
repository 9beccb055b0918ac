"""Module 7, the return visit: the learner's Module 6 commitments come back; each gets a record of what happened
(the situation, what they did, what followed), a mark (done, partly, not yet) and what got in the way; then two
new if-then plans ("When [cue], I will [action]").

Where the commitments come from: on the websites, the learner's saved Module 6 plan (items `m06-plan-…` in the
answer store, so it survives restarts); in JupyterLab, the `my_plan` cell of the Module 6 notebook in the same
folder or in its nbgrader folder beside this one (read with `ast.literal_eval`: nothing in it runs), else what
the learner types again. On the websites every field is a saved answer of Module 7 (`ITEMS`), bound by
`widgets.AnswerBox` like every other answer; in JupyterLab the learner fills `my_review` and `my_if_then`.
"""
from __future__ import annotations

import ast
import json
import re
import threading
from pathlib import Path

import ipywidgets as w
from IPython.display import HTML, display

from course.contract import FOLLOW_UP_MODULE, PLAN_MODULE, PLAN_PREFIX
from course.lesson import action_plan, keepsake, markup, validation, widgets
from course.lesson.context import in_voila
from course.lesson.figures import leading
from course.lesson.self_assessment import assigned, candidates
from course.lesson.validation import escaped

PREFIX = "m07"
COMMITMENTS = 2  # Module 6's plan holds one or two
RECORD = ("commitment", "action", "status", "situation", "did", "followed", "obstacle")
STATUSES = {"done": "Done", "partly": "Partly", "not-yet": "Not yet"}
IF_THEN = 2
ITEMS = tuple(f"{PREFIX}-c{n}-{field}" for n in range(1, COMMITMENTS + 1) for field in RECORD) + tuple(
    f"{PREFIX}-if{n}-{part}" for n in range(1, IF_THEN + 1) for part in ("when", "then"))
OTHER = "other"
PLAN_VARIABLE, PLAN_TAG = "my_plan", "action-plan"  # the Module 6 cell a JupyterLab learner filled in
PROMPTS = {
    "commitment": "Commitment",
    "action": "Kind of action",
    "status": "How far it got",
    "situation": "Situation",
    "did": "What you did",
    "followed": "What followed",
    "obstacle": "What got in the way",
}
PLACEHOLDERS = {
    "commitment": "Your commitment, in a line",
    "situation": "For example: the Tuesday design review, six of us, Priya presenting",
    "did": "For example: when Sam cut in, I said I'd like to hear the end of Priya's point",
    "followed": "For example: she finished; afterwards she said thanks; Sam did it less in the next review",
    "obstacle": "For example: no chance came up; I froze; I forgot; it felt awkward with my manager there",
}


def _note(text: str, ok: bool = True) -> str:
    return markup.status(text, ok, tag="p")


def _names() -> dict[str, str]:
    return {a["id"]: a["action"] for a in leading.actions()}


# -- The commitments, from where they were kept -------------------------------------------------------------

def commitment_text(action: str, first_step: str, by: str) -> str:
    """One commitment as a line: "Sponsor a high-potential woman: ask Priya about the talk (by 2026-03-14)"."""
    action, first_step, by = (" ".join(action_plan.clean(x).split()) for x in (action, first_step, by))
    text = ": ".join(x for x in (action, first_step) if x)
    return f"{text} (by {by})" if text and by else text


def from_saved(saved: dict[str, str]) -> list[dict]:
    """The commitments of a saved Module 6 plan (items `m06-plan-…`): [{action (an action id or as typed),
    text}], only those with something in them."""
    names = _names()
    found = []
    for n in range(1, COMMITMENTS + 1):
        action = saved.get(f"{PLAN_PREFIX}action{n}") or ""
        text = commitment_text(names.get(action, action), saved.get(f"{PLAN_PREFIX}step{n}") or "",
                               saved.get(f"{PLAN_PREFIX}by{n}") or "")
        if text:
            found.append({"action": action, "text": text})
    return found


def from_plan(my_plan) -> list[dict]:
    """The commitments of a JupyterLab learner's Module 6 `my_plan` dict, in the same shape as `from_saved`."""
    plan, _notes = leading.plan_from_dict(my_plan)
    ids = {name: key for key, name in _names().items()}
    return [{"action": ids.get(c["action"], c["action"]), "text": commitment_text(c["action"], c["first_step"],
                                                                                  c["by"])}
            for c in plan["commitments"]][:COMMITMENTS]


class PlanNotFound(LookupError):
    """Module 6's plan could not be read; the message says what was looked for and what to do."""


def from_notebook(folder: Path | str | None = None) -> tuple[list[dict], Path]:
    """The commitments in the Module 6 notebook next to this one (see `self_assessment.candidates`)."""
    places = candidates(folder, PLAN_MODULE)
    path = next((p for p in places if p.is_file()), None)
    if path is None:
        raise PlanNotFound(f"Your Module 6 notebook was not found (I looked for {' and '.join(map(str, places))}). "
                           "Type your commitments into the cell instead, after \"commitment\".")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        node = assigned(nb if isinstance(nb, dict) else {}, PLAN_VARIABLE, PLAN_TAG)
        plan = ast.literal_eval(node) if node is not None else None
    except (OSError, ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise PlanNotFound(f"The plan in {path} could not be read. Type your commitments into the cell instead, "
                           "after \"commitment\".") from None
    found = from_plan(plan) if isinstance(plan, dict) else []
    if not found:
        raise PlanNotFound(f"The plan in {path} is still empty. Type your commitments into the cell instead, "
                           "after \"commitment\".")
    return found, path


# -- What happened ----------------------------------------------------------------------------------------

def status_of(value) -> str | None:
    """A status as one of STATUSES' keys ("done", "partly", "not-yet"), from the key or its words; else None."""
    text = re.sub(r"[\s_-]+", "-", str(value or "").strip().lower())
    return text if text in STATUSES else None


def tally(statuses) -> str:
    """ "1 done, 1 partly" for the statuses marked so far, or a prompt when none is."""
    marked = [status_of(s) for s in statuses]
    counts = [f"{marked.count(key)} {words.lower()}" for key, words in STATUSES.items() if marked.count(key)]
    return ("So far: " + ", ".join(counts) + ".") if counts else "Mark each commitment done, partly or not yet."


def record_notes(record: dict) -> list[str]:
    """What a JupyterLab record still needs, in plain words."""
    notes = []
    label = (action_plan.clean(record.get("commitment")).strip() or "this commitment")[:60]
    status = status_of(record.get("status"))
    if record.get("status") and not status:
        notes.append(f"“{label}”: status should be \"done\", \"partly\" or \"not yet\".")
    elif not status:
        notes.append(f"“{label}”: mark it \"done\", \"partly\" or \"not yet\".")
    if not str(record.get("situation") or "").strip():
        notes.append(f"“{label}”: describe one situation, even if nothing came of it.")
    if status in ("partly", "not-yet") and not str(record.get("in_the_way") or "").strip():
        notes.append(f"“{label}”: say what got in the way.")
    return notes


def _describe_status(value):
    if not value:
        return True, "Choose one."
    return True, {"done": "Done: what made it possible?", "partly": "Partly: what got in the way of the rest?",
                  "not-yet": "Not yet: that is useful to know. What got in the way?"}[value]


def _free(value) -> tuple[bool, str]:
    ok, message = validation.reflection(value)
    return (True, "") if message == "Nothing written yet." else (ok, message)


class CommitmentReview(widgets.Column):
    """The website's review: for each commitment, the line from the learner's Module 6 plan (filled in once,
    then theirs to edit) and a record of what happened, each field a saved answer (`ITEMS`). Shown first
    blank, with the notes it has before the page knows whose it is."""

    LOOKING = ("Looking for your plan from Module 6: if none is saved, type what you committed to in each first "
               "box.")

    def __init__(self):
        options = [("Choose the kind of action…", "")] + [(name, key) for key, name in _names().items()] + [
            ("Something else", OTHER)]
        self.records: list[dict[str, w.ValueWidget]] = []
        parts = []
        for n in range(1, COMMITMENTS + 1):
            fields = {
                "commitment": leading.FreeLine(placeholder=PLACEHOLDERS["commitment"]),
                "action": w.Dropdown(options=options, value=""),
                "status": w.ToggleButtons(options=[(words, key) for key, words in STATUSES.items()], value=None,
                                          style={"button_width": "auto"}),
                "situation": widgets.FreeText(placeholder=PLACEHOLDERS["situation"], rows=2),
                "did": widgets.FreeText(placeholder=PLACEHOLDERS["did"], rows=2),
                "followed": widgets.FreeText(placeholder=PLACEHOLDERS["followed"], rows=2),
                "obstacle": widgets.FreeText(placeholder=PLACEHOLDERS["obstacle"], rows=2),
            }
            parts.append(w.HTML(markup.subheading(f"Commitment {n}")))
            for key, field in fields.items():
                field.description = PROMPTS[key]
                field.style.description_width = "10rem"
                if key != "status":
                    field.layout = w.Layout(width="min(46rem, 100%)")
                describe = {"status": _describe_status, "action": lambda v: (True, "")}.get(key, _free)
                parts.append(widgets.AnswerBox(f"{PREFIX}-c{n}-{key}", field, describe))
                if key == "status":
                    field.observe(lambda _change: self._count(), names="value")
            self.records.append(fields)
        self.message = w.HTML(_note(self.LOOKING))
        self.summary = w.HTML(_note(tally([])))
        super().__init__([self.message, *parts, self.summary],
                         before={self.message: _note(self.LOOKING), self.summary: _note(tally([]))})
        self.add_class("allies-review")
        threading.Thread(target=self._load_plan, daemon=True).start()

    def _count(self) -> None:
        self.summary.value = _note(tally(r["status"].value for r in self.records))

    def _load_plan(self) -> None:
        current = widgets.answers()
        current.ready.wait()
        if not (current.store_path and current.learner):
            self.message.value = _note("Sign in to see your commitments from Module 6. You can also type them in.",
                                       False)
            return
        try:
            plan, mine = from_saved(current.saved(PLAN_MODULE)), current.saved(FOLLOW_UP_MODULE)
        except Exception as exc:  # the page must still work if the store is unreachable
            self.message.value = _note(f"Your Module 6 plan could not be loaded ({type(exc).__name__}). "
                                       "Type your commitments in instead.", False)
            return
        if not plan:
            self.message.value = _note("No plan from Module 6 is saved here. Type what you committed to in the "
                                       "first box of each commitment.", False)
            return
        for n, (fields, commitment) in enumerate(zip(self.records, plan), start=1):
            for key, value in (("commitment", commitment["text"]), ("action", commitment["action"])):
                if f"{PREFIX}-c{n}-{key}" not in mine and not fields[key].value:  # filled once; then the learner's
                    if key == "action" and value not in {v for _label, v in fields[key].options}:
                        value = OTHER
                    fields[key].value = value
        self.message.value = _note(("Your commitment from Module 6 is" if len(plan) == 1 else
                                    f"Your {len(plan)} commitments from Module 6 are")
                                   + " below. For each, write what happened and mark how far it got.")


def review(my_review=None):
    """The commitments review. Website: `CommitmentReview`, saved as the learner types. JupyterLab: the
    records in `my_review`, with the commitments read from the Module 6 notebook where a record has none."""
    if in_voila():
        return CommitmentReview()
    try:
        plan, path = from_notebook()
        parts = [_note(f"Your commitments were read from your Module 6 plan in {path}.")]
    except PlanNotFound as exc:
        plan, parts = [], [_note(str(exc), False)]
    records = my_review if isinstance(my_review, (list, tuple)) else [my_review] if isinstance(my_review, dict) else []
    records = [r if isinstance(r, dict) else {"commitment": r} for r in records][:COMMITMENTS]
    notes, items = [], []
    for n in range(max(len(records), len(plan))):
        record = dict(records[n]) if n < len(records) else {}
        if not str(record.get("commitment") or "").strip() and n < len(plan):
            record["commitment"] = plan[n]["text"]
        if not any(str(v or "").strip() for v in record.values()):
            continue
        notes += record_notes(record)
        status = STATUSES.get(status_of(record.get("status")), "not marked yet")
        rows = "".join(f"<dt>{escaped(PROMPTS[key])}</dt><dd>{escaped(str(record.get(name) or '—'))}</dd>"
                       for key, name in (("situation", "situation"), ("did", "what_i_did"),
                                         ("followed", "what_followed"), ("obstacle", "in_the_way")))
        commitment = str(record.get("commitment") or "").strip() or "(no commitment written)"
        items.append(f"<li><strong>{escaped(commitment)}</strong> — {escaped(status)}"
                     f'<dl class="allies-details">{rows}</dl></li>')
    if not items:
        notes.append("Fill in the cell above for each commitment, then run it again.")
    parts += [_note(n, False) for n in notes]
    parts.append(f"<ol>{''.join(items)}</ol>" + _note(tally(r.get("status") for r in records)))
    display(HTML("".join(parts)))
    return None


# -- If-then plans ----------------------------------------------------------------------------------------

_LEADING_WHEN = re.compile(r"^\s*(when|if|whenever)\b[\s,]*", re.I)
_LEADING_WILL = re.compile(r"^\s*(then\s*,?\s*)?(i\s*(will|'ll|’ll)\b)?[\s,]*", re.I)


def if_then_text(when, then) -> str:
    """ "When [cue], I will [action]." from the two halves as typed, without doubling "When" or "I will"."""
    cue = _LEADING_WHEN.sub("", " ".join(action_plan.clean(when).split())).rstrip(" ,.")
    act = _LEADING_WILL.sub("", " ".join(action_plan.clean(then).split())).rstrip(" .")
    return f"When {cue}, I will {act}." if cue and act else ""


def check_cue(value) -> tuple[bool, str]:
    """A cue is a moment you will recognise: short enough to notice, specific enough to happen."""
    words = len(str(value or "").split())
    if not words:
        return True, "A situation you will recognise: a meeting, a message, a moment."
    if words < 3:
        return True, "Make it specific enough to recognise when it happens: which meeting, which moment?"
    return _free(value)


def check_action(value) -> tuple[bool, str]:
    words = len(str(value or "").split())
    if not words:
        return True, "One thing you will do, small enough to do on the spot."
    if words < 3:
        return True, "Say what you will actually do or say, so that you could be seen doing it."
    return _free(value)


def if_then_markdown(plans: list[str]) -> str:
    """The if-then plans as a Markdown file to keep; learner text escaped as in the action plan."""
    lines = [f"{n}. {action_plan.md_escape_line(p)}" for n, p in enumerate(plans, start=1)]
    return "\n".join(["# My if-then plans", "", *lines, "", "*From the Allies in Tech course, Module 7.*", ""])


class IfThenPlans(widgets.Column):
    """Two if-then plans on the website, each half a saved answer; a preview and a file to keep. Shown first
    blank."""

    NONE_YET = "Your plans appear here as you write them."

    def __init__(self):
        self.pairs = []
        self.preview = w.HTML()  # before the answers: each is handed its saved text as it is built
        self.preview.add_class("allies-if-then-preview")
        parts = []
        for n in range(1, IF_THEN + 1):
            when = leading.FreeLine(placeholder="someone is talked over",
                                    description=f"Plan {n}: When", layout=w.Layout(width="min(46rem, 100%)"))
            then = leading.FreeLine(placeholder="ask to hear her finish",
                                    description="I will", layout=w.Layout(width="min(46rem, 100%)"))
            for field in (when, then):
                field.style.description_width = "8rem"
                field.observe(lambda _change: self.update(), names="value")
            parts += [widgets.AnswerBox(f"{PREFIX}-if{n}-when", when, check_cue),
                      widgets.AnswerBox(f"{PREFIX}-if{n}-then", then, check_action)]
            self.pairs.append((when, then))
        super().__init__([*parts, self.preview], before={self.preview: _note(self.NONE_YET)})
        self.add_class("allies-if-then")
        self.update()

    def plans(self) -> list[str]:
        return [text for when, then in self.pairs if (text := if_then_text(when.value, then.value))]

    def update(self) -> None:
        plans = self.plans()
        if not plans:
            self.preview.value = _note(self.NONE_YET)
            return
        listed = "".join(f"<li>{escaped(p)}</li>" for p in plans)
        link = keepsake.download_link("my-if-then-plans.md", if_then_markdown(plans), "text/markdown", "Markdown")
        self.preview.value = f'<ol aria-live="polite">{listed}</ol><p>{link}</p>'


def if_then(my_if_then=None):
    """Two if-then plans. Website: `IfThenPlans`, saved as the learner types. JupyterLab: the plans in
    `my_if_then` (a list of {"when", "i_will"}), shown as sentences with what still needs doing."""
    if in_voila():
        return IfThenPlans()
    entries = my_if_then if isinstance(my_if_then, (list, tuple)) else []
    plans, notes = [], []
    for n, entry in enumerate(entries[:IF_THEN], start=1):
        entry = entry if isinstance(entry, dict) else {}
        text = if_then_text(entry.get("when"), entry.get("i_will"))
        if text:
            plans.append(text)
        elif any(str(v or "").strip() for v in entry.values()):
            notes.append(f"Plan {n} needs both halves: a situation after \"when\" and an action after \"i_will\".")
    if len(plans) < IF_THEN:
        notes.append(f"Write {IF_THEN} plans: {len(plans)} so far.")
    listed = "".join(f"<li>{escaped(p)}</li>" for p in plans)
    display(HTML("".join(_note(n, False) for n in notes) + (f"<ol>{listed}</ol>" if listed else "")))
    return None

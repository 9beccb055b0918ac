"""The cohort dashboard for instructors: what a cohort has done on the course website, as counts.

Four views, each a chart with alt text and a table: completion by module, knowledge-check item analysis
(correct letters read from `solutions/`), the self-assessment shift from the Orientation to Module 6, and
how many words learners wrote in each reflection.

Only counts leave this module. A reflection is read to count its words and is never kept, shown or
exported; no learner is named. People whose role is "instructor" are not counted; learners who have
answered nothing are.
"""
from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from . import charts, contract, validation
from .charts import MUTED, PALETTE, Chart
from .paths import folder

__all__ = ["Check", "ModuleSpec", "Statement", "CompletionRow", "CheckRow", "ShiftRow", "WordRow", "Report",
           "course_spec", "statements", "collect", "build", "tables", "table_html", "draw", "export_png", "show",
           "BEFORE", "AFTER", "EXPORT_FOLDER", "MIN_GROUP", "VIEWS"]

BEFORE, AFTER = "00", "06"  # the self-assessment is taken in the Orientation and again in Module 6
EXPORT_FOLDER = "dashboard"  # INSTANCE/dashboard/<name>.png
# The self-assessment is private to each learner: its figures are shown only for at least this many learners.
MIN_GROUP = 5
WORD_BINS = ((0, 49), (50, 99), (100, 199), (200, None))
_CHECK, _REFLECTION, _SELF = contract.CHECK_ID, contract.REFLECTION_ID, contract.SELF_ID
_SOLUTION_LETTER = re.compile(r"BEGIN SOLUTION\s*\n\s*answer\s*=\s*(['\"])(.*?)\1")


# -- what the course asks ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """A knowledge check and, from solutions/, its correct letter."""
    item: str
    prompt: str
    options: dict[str, str]
    correct: str | None


@dataclass(frozen=True)
class ModuleSpec:
    """One module as the dashboard needs it: every answer item, its checks and its reflections."""
    name: str  # "01-why-men-why-now": the module id in the answer store
    title: str
    items: tuple[str, ...]  # every answer cell: "answered every item" means these
    checks: tuple[Check, ...] = ()
    reflections: tuple[tuple[str, str], ...] = ()  # (item, heading)

    @property
    def number(self) -> str:
        return self.name[:2]

    @property
    def label(self) -> str:
        """A short name for charts: "Orientation", "M1 Why men, why now"."""
        short = self.title.split("—", 1)[-1].strip() if "—" in self.title else self.title
        return "Orientation" if self.number == "00" else f"M{int(self.number)} {short}"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def _check_text(source: str) -> tuple[str, dict[str, str]]:
    """The prompt and options of the `knowledge_check(...)` call in a cell, if it has one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "", {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                == "knowledge_check" and len(node.args) >= 4):
            try:
                prompt, options = ast.literal_eval(node.args[2]), ast.literal_eval(node.args[3])
            except ValueError:
                return "", {}
            if isinstance(prompt, str) and isinstance(options, dict):
                return prompt, {str(k): str(v) for k, v in options.items()}
    return "", {}


def _module_spec(path: Path) -> ModuleSpec:
    from .timing import title

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    items, checks, reflections = [], [], []
    heading = ""
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = _source(cell)
        if cell["cell_type"] == "markdown" and not meta.get("solution"):
            for line in source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
            continue
        if not meta.get("solution"):
            continue
        item = meta["grade_id"]
        items.append(item)
        if cell["cell_type"] == "code" and _CHECK.match(item):
            found = _SOLUTION_LETTER.search(source)
            prompt, options = _check_text(source)
            checks.append(Check(item, prompt, options, validation.letter(found.group(2)) if found else None))
        elif cell["cell_type"] == "markdown" and _REFLECTION.match(item):
            reflections.append((item, heading or item))
    return ModuleSpec(path.stem, title(path), tuple(items), tuple(checks), tuple(reflections))


def course_spec(solutions: Path | None = None) -> list[ModuleSpec]:
    """Every module in course order, read from the instructor sources (the only place correct letters
    live); solutions/ by default."""
    root = Path(solutions) if solutions else folder("solutions")
    return [_module_spec(path) for path in sorted(root.glob("[0-9][0-9]-*.ipynb"))]


# -- what the cohort did -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CompletionRow:
    module: str
    label: str
    learners: int
    started: int  # answered at least one item
    answered_all: int  # answered every item of the module
    submitted: int  # submitted at least once

    @property
    def not_started(self) -> int:
        return self.learners - self.started


@dataclass(frozen=True)
class CheckRow:
    item: str
    module: str
    prompt: str
    correct: str | None
    learners: int
    answered: int
    right: int
    first_wrong: int  # learners whose first saved choice was not the correct one
    chosen: dict[str, int] = field(default_factory=dict)  # option letter -> learners whose answer it is now

    @property
    def wrong(self) -> int:
        return self.answered - self.right

    @property
    def unanswered(self) -> int:
        return self.learners - self.answered

    @property
    def common_wrong(self) -> str | None:
        """The wrong option most learners hold now, if any."""
        wrong = {k: n for k, n in self.chosen.items() if k != self.correct and n}
        return max(sorted(wrong), key=wrong.get) if wrong else None


@dataclass(frozen=True)
class ShiftRow:
    """One statement of the self-assessment across the cohort. Learners were told that nobody else sees
    their answers, so a mean or a count of moves is kept only for a group of at least MIN_GROUP learners
    (None otherwise): no one's answer can be picked out of it."""
    statement: str  # "s1", "s2", … (the item's suffix, the same in both modules)
    text: str
    before: int  # learners who answered it in the Orientation
    after: int  # … in Module 6
    before_mean: float | None
    after_mean: float | None
    paired: int  # answered both times
    up: int | None
    same: int | None
    down: int | None
    change: float | None  # the mean of (Module 6 - Orientation) over those who answered both
    levels: tuple[str, ...] = ()  # the answers, lowest first

    @property
    def shown(self) -> bool:
        return self.up is not None


@dataclass(frozen=True)
class WordRow:
    item: str
    module: str
    heading: str
    learners: int
    counts: tuple[int, ...]  # words per written reflection, sorted: no order that could name anyone

    @property
    def written(self) -> int:
        return len(self.counts)

    def quartiles(self) -> tuple[float, float, float] | None:
        if not self.counts:
            return None
        if len(self.counts) == 1:
            return (self.counts[0],) * 3
        q1, q2, q3 = statistics.quantiles(self.counts, n=4, method="inclusive")
        return q1, q2, q3

    def bins(self) -> list[int]:
        return [sum(1 for n in self.counts if n >= lo and (hi is None or n <= hi)) for lo, hi in WORD_BINS]


@dataclass(frozen=True)
class Report:
    read_at: dt.datetime
    learners: int
    instructors: int
    completion: list[CompletionRow]
    checks: list[CheckRow]
    shift: list[ShiftRow]
    words: list[WordRow]

    @property
    def empty(self) -> bool:
        return self.learners == 0

    def most_missed(self, n: int = 3) -> list[CheckRow]:
        """The checks most learners got wrong (of those who answered), most missed first."""
        answered = [row for row in self.checks if row.answered]
        return sorted(answered, key=lambda r: (-r.wrong / r.answered, -r.wrong, r.item))[:n]

    @property
    def source(self) -> str:
        return (f"this cohort's saved answers, read {self.read_at:%Y-%m-%d %H:%M} UTC; "
                f"{_people(self.learners)} on the roster (instructors not counted)")


def _people(n: int) -> str:
    return f"{n} learner{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class Statement:
    """One self-assessment statement, asked in the Orientation (m00-sN) and again in Module 6 (m06-sN)."""
    key: str  # "s1"
    text: str
    levels: tuple[str, ...]  # the answers, lowest first: answer n means levels[n - 1]


def statements() -> list[Statement]:
    """The self-assessment's statements and answer levels, as `course.self_assessment` defines them."""
    from . import self_assessment

    return [Statement(item.key, item.short, tuple(item.choices)) for item in self_assessment.items()]


def _score(value: str, levels: tuple[str, ...]) -> float | None:
    """A saved self-assessment answer as its place on the statement's levels (1 = the first): the website
    saves the number; a level's words are read too. None for anything off the scale."""
    text = value.strip()
    words = [level.strip().lower() for level in levels]
    if text.isascii() and text.isdigit():
        number = int(text)
    elif text.lower() in words:
        number = words.index(text.lower()) + 1
    else:
        return None
    return float(number) if 1 <= number <= len(levels) or not levels else None


def _answered(item: str, value: str | None, checks: dict[str, Check]) -> bool:
    if value is None or not value.strip():
        return False
    check = checks.get(item)
    if check and check.options:
        return validation.letter(value) in check.options
    return True


def collect(store, spec: list[ModuleSpec], now: dt.datetime | None = None) -> Report:
    """Count what the learners on `store`'s roster have done in each module of `spec`."""
    roster = store.learners()
    learners = [person.learner_id for person in roster if person.role == "learner"]
    n = len(learners)
    by_number = {module.number: module for module in spec}
    all_checks = {check.item: check for module in spec for check in module.checks}
    completion, check_rows, word_rows = [], [], []
    latest: dict[str, dict[str, dict[str, str]]] = {}  # module -> learner -> {item: letter, score or "written"}

    for module in spec:
        started = answered_all = submitted = 0
        words: dict[str, list[int]] = {item: [] for item, _ in module.reflections}
        reflection_items = set(words)
        kept = latest.setdefault(module.name, {})
        for learner in learners:
            answers = {}
            for item, value in store.load(learner, module.name).items():
                if item in reflection_items and value.strip():
                    words[item].append(len(value.split()))
                # Only letters and scores are kept; any other text is reduced to whether it is there.
                answers[item] = value if item in all_checks or _SELF.match(item) else (
                    "written" if value.strip() else "")
            kept[learner] = answers
            done = [item for item in module.items if _answered(item, answers.get(item), all_checks)]
            started += any(_answered(k, v, all_checks) for k, v in answers.items())
            answered_all += bool(module.items) and len(done) == len(module.items)
            submitted += bool(store.submissions(learner, module.name))
        if module.items or submitted:
            completion.append(CompletionRow(module.name, module.label, n, started, answered_all, submitted))

        for check in module.checks:
            chosen = {key: 0 for key in check.options}
            right = answered = first_wrong = 0
            for learner in learners:
                value = kept[learner].get(check.item)
                if not _answered(check.item, value, all_checks):
                    continue
                key = validation.letter(value)
                answered += 1
                chosen[key] = chosen.get(key, 0) + 1
                right += key == check.correct
                first = next((r.value for r in store.history(learner, module.name, check.item)
                              if _answered(check.item, r.value, all_checks)), value)
                first_wrong += validation.letter(first) != check.correct
            check_rows.append(CheckRow(check.item, module.name, check.prompt, check.correct, n, answered, right,
                                       first_wrong, chosen))
        for item, heading in module.reflections:
            word_rows.append(WordRow(item, module.name, heading, n, tuple(sorted(words[item]))))

    shift_rows = _shift(store, learners, by_number, latest)
    instructors = sum(1 for person in roster if person.role == "instructor")
    return Report(now or dt.datetime.now(dt.timezone.utc), n, instructors, completion, check_rows, shift_rows,
                  word_rows)


def _shift(store, learners: list[str], by_number: dict[str, ModuleSpec], latest) -> list[ShiftRow]:
    known = {statement.key: statement for statement in statements()}

    def scores(number: str) -> dict[str, dict[str, float]]:
        """learner -> {"s1": score} for the self-assessment in module `number`."""
        module = by_number.get(number)
        out: dict[str, dict[str, float]] = {}
        if module is None:
            return out
        for learner in learners:
            answers = latest.get(module.name, {}).get(learner)
            for item, value in (answers if answers is not None else store.load(learner, module.name)).items():
                match = _SELF.match(item)
                if match and match.group(1) == number:
                    key = f"s{match.group(2)}"
                    levels = known[key].levels if key in known else ()
                    score = _score(value, levels)
                    if score is not None:
                        out.setdefault(learner, {})[key] = score
        return out

    before, after = scores(BEFORE), scores(AFTER)
    keys = set(known) | {k for s in (*before.values(), *after.values()) for k in s}
    rows = []
    for key in sorted(keys, key=lambda k: (int(k[1:]) if k[1:].isdigit() else 0, k)):
        b = [s[key] for s in before.values() if key in s]
        a = [s[key] for s in after.values() if key in s]
        pairs = [(before[p][key], after[p][key]) for p in learners
                 if key in before.get(p, {}) and key in after.get(p, {})]
        statement = known.get(key, Statement(key, f"Statement {key[1:]}", ()))
        moves = ((sum(1 for x, y in pairs if y > x), sum(1 for x, y in pairs if y == x),
                  sum(1 for x, y in pairs if y < x), statistics.fmean(y - x for x, y in pairs))
                 if len(pairs) >= MIN_GROUP else (None, None, None, None))
        rows.append(ShiftRow(key, statement.text, len(b), len(a),
                             statistics.fmean(b) if len(b) >= MIN_GROUP else None,
                             statistics.fmean(a) if len(a) >= MIN_GROUP else None, len(pairs), *moves,
                             statement.levels))
    return rows


def build(store_path: str | os.PathLike[str], solutions: Path | None = None) -> Report:
    """The report for the cohort whose answer store is at `store_path`."""
    from .store import AnswerStore

    with AnswerStore(store_path) as store:
        return collect(store, course_spec(solutions))


# -- tables ------------------------------------------------------------------------------------------

def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def _of(part: int, whole: int) -> str:
    return f"{part} of {whole} ({_pct(part, whole)})"


_HIDDEN = f"hidden (under {MIN_GROUP})"


def _mean(value: float | None, n: int) -> str:
    if value is not None:
        return f"{value:.1f} (n={n})"
    return f"{_HIDDEN} (n={n})" if n else "– (n=0)"


def _words(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _share(part: int, whole: int) -> str:
    return f"{part} ({_pct(part, whole)})"


def tables(report: Report) -> dict[str, tuple[str, list[str], list[list[str]]]]:
    """Each view as (caption, column headings, rows of text); the first cell of a row names it."""
    out = {}
    n = report.learners
    out["completion"] = (
        f"Completion by module, of {_people(n)}: every graded item answered (knowledge checks and "
        "reflections), and submitted",
        ["Module", "Answered every item", "Submitted", "Started, not every item", "Not started"],
        [[row.label, _of(row.answered_all, n), _of(row.submitted, n),
          str(row.started - row.answered_all), str(row.not_started)] for row in report.completion])
    missed = sorted(report.checks, key=lambda r: (-(r.wrong / r.answered) if r.answered else 1, r.item))
    out["knowledge-checks"] = (
        "Knowledge checks, most missed first; right and missed are shares of those who answered "
        "(correct letter in brackets)",
        ["Check", "Question", "Answered", "Right", "Missed", "Missed on first choice", "Most chosen wrong answer"],
        [[f"{row.item} ({row.correct or '?'})", row.prompt, f"{row.answered} of {n}",
          _share(row.right, row.answered), _share(row.wrong, row.answered), _share(row.first_wrong, row.answered),
          f"({row.common_wrong}), by {_people(row.chosen[row.common_wrong])}" if row.common_wrong else "–"]
         for row in missed])
    out["self-assessment"] = (
        f"Self-assessment, Orientation and Module 6: mean answer, and how the answers of those who gave both "
        f"moved. Figures for fewer than {MIN_GROUP} learners are hidden: learners were told their answers "
        "are private.",
        ["Statement", "Scale", "Orientation mean", "Module 6 mean", "Answered both", "Their mean change",
         "Higher / same / lower"],
        [[f"{row.statement}: {row.text}",
          f"1–{len(row.levels)}, {row.levels[0]} to {row.levels[-1]}" if row.levels else "as answered",
          _mean(row.before_mean, row.before), _mean(row.after_mean, row.after), str(row.paired),
          *([f"{row.change:+.1f}", f"{row.up} / {row.same} / {row.down}"] if row.shown else [_HIDDEN] * 2)]
         for row in report.shift])
    bins = " / ".join(f"{lo}–{hi}" if hi is not None else f"{lo}+" for lo, hi in WORD_BINS)
    out["reflection-words"] = (
        "Reflection length in words: counts only; no reflection text is shown here",
        ["Reflection", "Written", "Median", "Middle half", "Shortest–longest", f"Learners by length ({bins})"],
        [[f"{row.item}: {row.heading}", _of(row.written, n),
          *(([_words(q[1]), f"{_words(q[0])}–{_words(q[2])}", f"{row.counts[0]}–{row.counts[-1]}"])
            if (q := row.quartiles()) else ["–", "–", "–"]),
          " / ".join(str(b) for b in row.bins())] for row in report.words])
    return out


def table_html(caption: str, columns: list[str], rows: list[list[str]]) -> str:
    """An accessible table (caption, header cells with scope, every cell escaped) in a region that scrolls
    sideways, and can be reached with Tab to do so, when it is wider than the page."""
    esc = validation.escaped
    cell = "padding:0.3em 0.5em;border-bottom:1px solid #ccc;text-align:left;vertical-align:top"

    def wrap(text: str) -> str:  # short figures stay on one line; prose wraps
        return "" if len(text) > 24 else ";white-space:nowrap"

    head = "".join(f'<th scope="col" style="{cell}">{esc(c)}</th>' for c in columns)
    body = "".join("<tr>" + f'<th scope="row" style="{cell};font-weight:600{wrap(r[0])}">{esc(r[0])}</th>'
                   + "".join(f'<td style="{cell}{wrap(v)}">{esc(v)}</td>' for v in r[1:]) + "</tr>"
                   for r in rows)
    return (f'<div class="allies-table-scroll" role="region" tabindex="0" aria-label="{esc(caption)}" '
            f'style="overflow-x:auto;max-width:100%">'
            f'<table class="allies-table" style="border-collapse:collapse;font-size:0.9em;min-width:36rem">'
            f'<caption style="text-align:left;font-weight:600;padding-bottom:0.3em">{esc(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


# -- charts ------------------------------------------------------------------------------------------

def _figure(title: str, rows: int, width: float = 7.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, max(2.6, 1.3 + 0.42 * rows)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _completion_chart(report: Report) -> Chart:
    rows = report.completion
    n = report.learners
    title = f"Completion by module ({_people(n)})"
    fig, ax = _figure(title, 2 * len(rows))
    ys = range(len(rows))
    series = [("Answered every item", [r.answered_all for r in rows], PALETTE["blue"], ""),
              ("Submitted", [r.submitted for r in rows], PALETTE["orange"], "//")]
    for i, (name, counts, colour, hatch) in enumerate(series):
        pos = [y + (i - 0.5) * 0.38 for y in ys]
        drawn = ax.barh(pos, [100 * c / n for c in counts], 0.38, label=name, color=colour, hatch=hatch,
                        edgecolor="black", linewidth=0.6)
        ax.bar_label(drawn, labels=[f"{c} of {n}" for c in counts], padding=3, fontsize=9)
    ax.set_yticks(list(ys), [_short(r.label) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xticks(range(0, 101, 25))
    ax.set_xlabel("% of learners")
    fig.legend(frameon=False, loc="outside lower center", ncols=2, fontsize=9)
    listed = "; ".join(f"{r.label}: answered every item {_of(r.answered_all, n)}, submitted "
                       f"{_of(r.submitted, n)}, not started {r.not_started}" for r in rows)
    return Chart(charts._render(fig), f"Horizontal bar chart, {title}. {listed}.", report.source)


def _checks_chart(report: Report) -> Chart:
    rows = report.checks
    n = report.learners
    title = "Knowledge checks: right, missed and not answered (% of learners)"
    fig, ax = _figure(title, len(rows))
    ys = list(range(len(rows)))
    left = [0.0] * len(rows)
    parts = [("Right", [r.right for r in rows], PALETTE["blue"], ""),
             ("Missed", [r.wrong for r in rows], PALETTE["vermillion"], "//"),
             ("Not answered", [r.unanswered for r in rows], MUTED, "..")]
    for name, counts, colour, hatch in parts:
        widths = [100 * c / n for c in counts]
        drawn = ax.barh(ys, widths, 0.7, left=left, label=name, color=colour, hatch=hatch,
                        edgecolor="black", linewidth=0.6)
        ax.bar_label(drawn, labels=[str(c) if c else "" for c in counts], label_type="center", fontsize=8,
                     bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(ys, [f"{r.item} ({r.correct})" if r.correct else r.item for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of learners (bars show counts of {n})")
    fig.legend(frameon=False, loc="outside lower center", ncols=3, fontsize=9)
    listed = "; ".join(f"{r.item}: right {r.right}, missed {r.wrong}, not answered {r.unanswered}"
                       for r in rows)
    missed = report.most_missed(1)
    focus = (f" Most missed: {missed[0].item}, {_of(missed[0].wrong, missed[0].answered)} of those who "
             "answered." if missed and missed[0].wrong else "")
    return Chart(charts._render(fig), f"Stacked bar chart, {title}, of {_people(n)}. {listed}.{focus}",
                 report.source)


def _shift_chart(report: Report) -> Chart:
    rows = [row for row in report.shift if row.shown]
    title = "Self-assessment: Module 6 against the Orientation (learners who answered both)"
    fig, ax = _figure(title, len(rows))
    ys = list(range(len(rows)))
    left = [0.0] * len(rows)
    parts = [("Higher", [r.up for r in rows], PALETTE["blue"], ""),
             ("Same", [r.same for r in rows], MUTED, ".."),
             ("Lower", [r.down for r in rows], PALETTE["orange"], "//")]
    for name, counts, colour, hatch in parts:
        widths = [100 * c / r.paired if r.paired else 0 for c, r in zip(counts, rows)]
        drawn = ax.barh(ys, widths, 0.7, left=left, label=name, color=colour, hatch=hatch,
                        edgecolor="black", linewidth=0.6)
        ax.bar_label(drawn, labels=[str(c) if c else "" for c in counts], label_type="center", fontsize=8,
                     bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(ys, [f"{_short(r.text, 30)} (n={r.paired})" for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of learners who answered both times (bars show counts)")
    fig.legend(frameon=False, loc="outside lower center", ncols=3, fontsize=9)

    def mean(value, count):
        return f"mean {value:.1f} (n={count})" if value is not None else "no answers"

    listed = "; ".join(f"{r.statement} {r.text}: of {r.paired} who answered both, {r.up} higher, {r.same} the "
                       f"same, {r.down} lower, mean change {r.change:+.1f}; Orientation {mean(r.before_mean, r.before)}, Module 6 "
                       f"{mean(r.after_mean, r.after)}" for r in rows)
    return Chart(charts._render(fig), f"Stacked bar chart, {title}. {listed}.", report.source)


def _words_chart(report: Report) -> Chart:
    rows = [r for r in report.words if r.counts]
    title = "Reflection length in words (each written reflection)"
    fig, ax = _figure(title, len(rows))
    ys = list(range(len(rows)))
    ax.boxplot([list(r.counts) for r in rows], positions=ys, orientation="horizontal", widths=0.55,
               patch_artist=True, showfliers=False,
               boxprops={"facecolor": PALETTE["sky"], "edgecolor": "black"},
               medianprops={"color": "black", "linewidth": 2})
    for y, r in zip(ys, rows):
        ax.scatter(r.counts, [y] * len(r.counts), s=14, color=PALETTE["blue"], edgecolor="black",
                   linewidths=0.4, zorder=3)
    ax.set_yticks(ys, [f"{r.item} ({r.written} of {r.learners})" for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel("words")

    def read(r: WordRow) -> str:
        q1, median, q3 = r.quartiles()
        return (f"{r.item}, {r.heading}: {r.written} of {r.learners} wrote; median {_words(median)} words, "
                f"middle half {_words(q1)} to {_words(q3)}, shortest {r.counts[0]}, longest {r.counts[-1]}")

    return Chart(charts._render(fig), f"Box plot, {title}. " + "; ".join(read(r) for r in rows) + ".",
                 report.source)


VIEWS = {
    "completion": ("Completion by module", _completion_chart,
                   lambda r: bool(r.completion)),
    "knowledge-checks": ("Knowledge checks", _checks_chart, lambda r: bool(r.checks)),
    "self-assessment": ("Self-assessment, before and after", _shift_chart,
                        lambda r: any(row.shown for row in r.shift)),
    "reflection-words": ("Reflection word counts", _words_chart, lambda r: any(row.counts for row in r.words)),
}


def _no_chart(name: str, report: Report) -> str:
    """Why a view has no chart yet, in a sentence."""
    if name == "self-assessment":
        if any(row.paired for row in report.shift):
            return (f"No chart yet: it appears once at least {MIN_GROUP} learners have answered a statement both "
                    "in the Orientation and in Module 6, so that no one's answers can be picked out.")
        if any(row.before for row in report.shift):
            return ("No chart yet: the shift appears once learners answer the self-assessment again in "
                    "Module 6. The table shows how many have answered so far.")
        return "No self-assessment answers yet."
    return {"completion": "There are no modules with answer items in solutions/ yet.",
            "knowledge-checks": "No knowledge checks found in solutions/.",
            "reflection-words": "No reflections written yet."}[name]


def draw(report: Report) -> dict[str, Chart]:
    """The chart of every view that has something to show (none for a cohort without learners)."""
    if report.empty:
        return {}
    return {name: chart(report) for name, (_, chart, has) in VIEWS.items() if has(report)}


def export_png(instance_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write every chart as `<name>.png`, with its alt text beside it as `<name>.alt.txt`, into `out_dir`
    (INSTANCE/dashboard by default, private to its owner). Returns the PNG paths; none without learners."""
    from .instance import Instance

    instance = Instance(instance_dir)
    out = Path(out_dir) if out_dir else instance.root / EXPORT_FOLDER
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for name, chart in draw(build(instance.store)).items():
        path = out / f"{name}.png"
        path.write_bytes(chart.png)
        (out / f"{name}.alt.txt").write_text(f"{chart.alt}\nSource: {chart.source}\n", encoding="utf-8")
        written.append(path)
    return written


# -- the dashboard page ------------------------------------------------------------------------------

def _signed_in_instructor(store_path: str) -> bool:
    """On the instructor site the server names who signed in; check the roster says instructor."""
    from .contract import LEARNER_ENV
    from .store import AnswerStore

    who = os.environ.get(LEARNER_ENV)
    if not who:
        return False
    with AnswerStore(store_path) as store:
        return any(p.learner_id == who and p.role == "instructor" for p in store.learners())


def _note(text: str, ok: bool = True):
    import ipywidgets as w

    colour = "#1a1a1a" if ok else "#8a1c1c"
    return w.HTML(f'<p role="status" style="color:{colour}">{validation.escaped(text)}</p>')


def _sections(report: Report) -> list:
    import ipywidgets as w

    if report.empty:
        return [w.HTML('<div class="allies-dashboard-empty" role="status"><h2>No learners yet</h2>'
                       "<p>This cohort's roster has no learners, so there is nothing to count. Add them with "
                       "<code>python -m course cohort add-learners roster.csv --instance …</code>; the "
                       "dashboard fills in as they answer. Instructors are never counted.</p></div>")]
    drawn = draw(report)
    out = []
    missed = [row for row in report.most_missed(3) if row.wrong]
    if missed:
        listed = "".join(f"<li><b>{validation.escaped(r.item)}</b> — {validation.escaped(r.prompt)} "
                         f"Missed by {r.wrong} of the {r.answered} who answered ({_pct(r.wrong, r.answered)}).</li>"
                         for r in missed)
        out.append(w.HTML(f'<section class="allies-most-missed"><h2>Most missed checks</h2>'
                          f"<p>A good place to open the next session.</p><ol>{listed}</ol></section>"))
    views = tables(report)
    for name, (heading, _, _) in VIEWS.items():
        caption, columns, rows = views[name]
        parts = [w.HTML(f"<h2>{validation.escaped(heading)}</h2>")]
        parts.append(w.HTML(drawn[name].html()) if name in drawn else _note(_no_chart(name, report)))
        if rows:
            parts.append(w.HTML(table_html(caption, columns, rows)))
        box = w.VBox(parts)
        box.add_class("allies-dashboard-view")
        box.add_class(f"allies-view-{name}")
        out.append(box)
    return out


def show(instance_dir: str | os.PathLike[str] | None = None):
    """The dashboard for a notebook to show: the views, a Refresh button and a PNG export button.

    The cohort is the instance folder given, or the answer store the instructor site hands the kernel
    (ALLIES_STORE). On the website it shows nothing unless the server says an instructor signed in."""
    import ipywidgets as w

    from .context import in_voila
    from .contract import STORE_ENV

    if instance_dir is not None:
        from .instance import Instance

        store_path = str(Instance(instance_dir).store)
    else:
        store_path = os.environ.get(STORE_ENV, "")
    if not store_path:
        return _note("No cohort given: run this on the instructor site (python -m course.instructor_site "
                     "--instance DIR), or call dashboard.show('/path/to/instance').", False)
    if in_voila() and not _signed_in_instructor(store_path):
        return _note("This dashboard is for the cohort's instructors only.", False)

    instance = Path(store_path).parent
    summary, body, status = w.HTML(), w.VBox(), w.HTML()
    refresh = w.Button(description="Refresh", icon="", layout=w.Layout(width="auto"))
    export = w.Button(description="Save charts as PNG", layout=w.Layout(width="auto"))

    def update(_button=None):
        report = build(store_path)
        summary.value = (f"<p>{validation.escaped(_people(report.learners))} on the roster "
                         f"(instructors not counted); read {report.read_at:%Y-%m-%d %H:%M} UTC.</p>")
        body.children = _sections(report)

    def save(_button):
        export.disabled = True
        try:
            paths = export_png(instance)
            status.value = (_note(f"Saved {len(paths)} charts to {instance / EXPORT_FOLDER}: "
                                  + ", ".join(p.name for p in paths) + ".").value if paths
                            else _note("Nothing to save: the roster has no learners yet.").value)
        except Exception as exc:  # said plainly on the page, never a traceback
            status.value = _note(f"Not saved: {exc}", False).value
        finally:
            export.disabled = False

    refresh.on_click(update)
    export.on_click(save)
    update()
    page = w.VBox([summary, w.HBox([refresh, export]), status, body])
    page.add_class("allies-dashboard")
    return page

"""The dashboard's numbers as text: each view as a table (caption, column headings, rows), and that table as
accessible HTML with every cell escaped."""
from __future__ import annotations

from course.lesson import markup
from course.web.dashboard.report import WORD_BINS, Report, people


def pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def of(part: int, whole: int) -> str:
    return f"{part} of {whole} ({pct(part, whole)})"


def _hidden(report: Report) -> str:
    return f"hidden (under {report.min_group})"


def _mean(value: float | None, n: int, hidden: str) -> str:
    if value is not None:
        return f"{value:.1f} (n={n})"
    return f"{hidden} (n={n})" if n else "– (n=0)"


def num(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def share(part: int, whole: int) -> str:
    return f"{part} ({pct(part, whole)})"


def tables(report: Report) -> dict[str, tuple[str, list[str], list[list[str]]]]:
    """Each view as (caption, column headings, rows of text); the first cell of a row names it."""
    out = {}
    n = report.learners
    hidden = _hidden(report)
    out["completion"] = (
        f"Completion by module, of {people(n)}: every graded item answered (knowledge checks and "
        "reflections), and submitted",
        ["Module", "Answered every item", "Submitted", "Started, not every item", "Not started"],
        [[row.label, of(row.answered_all, n), of(row.submitted, n),
          str(row.started - row.answered_all), str(row.not_started)] for row in report.completion])
    missed = sorted(report.checks, key=lambda r: (-(r.wrong / r.answered) if r.answered else 1, r.item))
    out["knowledge-checks"] = (
        "Knowledge checks, most missed first; right and missed are shares of those who answered "
        "(correct letter in brackets)",
        ["Check", "Question", "Answered", "Right", "Missed", "Missed on first choice", "Most chosen wrong answer"],
        [[f"{row.item} ({row.correct or '?'})", row.prompt, f"{row.answered} of {n}",
          share(row.right, row.answered), share(row.wrong, row.answered), share(row.first_wrong, row.answered),
          f"({row.common_wrong}), by {people(row.chosen[row.common_wrong])}" if row.common_wrong else "–"]
         for row in missed])
    out["self-assessment"] = (
        f"Self-assessment, Orientation and Module 6: mean answer, and how the answers of those who gave both "
        f"moved. Figures for fewer than {report.min_group} learners are hidden: learners were told their answers "
        "are private.",
        ["Statement", "Scale", "Orientation mean", "Module 6 mean", "Answered both", "Their mean change",
         "Higher / same / lower"],
        [[f"{row.statement}: {row.text}",
          f"1–{len(row.levels)}, {row.levels[0]} to {row.levels[-1]}" if row.levels else "as answered",
          _mean(row.before_mean, row.before, hidden), _mean(row.after_mean, row.after, hidden), str(row.paired),
          *([f"{row.change:+.1f}", f"{row.up} / {row.same} / {row.down}"] if row.shown else [hidden] * 2)]
         for row in report.shift])
    bins = " / ".join(f"{lo}–{hi}" if hi is not None else f"{lo}+" for lo, hi in WORD_BINS)
    out["reflection-words"] = (
        "Reflection length in words: counts only; no reflection text is shown here",
        ["Reflection", "Written", "Median", "Middle half", "Shortest–longest", f"Learners by length ({bins})"],
        [[f"{row.item}: {row.heading}", of(row.written, n),
          *(([num(q[1]), f"{num(q[0])}–{num(q[2])}", f"{row.counts[0]}–{row.counts[-1]}"])
            if (q := row.quartiles()) else ["–", "–", "–"]),
          " / ".join(str(b) for b in row.bins())] for row in report.words])
    return out


def table_html(caption: str, columns: list[str], rows: list[list[str]]) -> str:
    """A view's table as accessible HTML, every cell escaped; short figures kept on one line."""
    return markup.table(caption, columns, rows, keep_short_together=True)

"""The dashboard's numbers as text: each view as a table (caption, column headings, rows), and that table as
accessible HTML with every cell escaped."""
from __future__ import annotations

from course.lesson import markup
from course.web.dashboard.report import WORD_BINS, Report, people


# How the course reads a "then" rating (course.lesson.self_assessment.revisit_reading), said for the cohort.
LOOKING_BACK_CAUTION = ("A lower “then” than at the start can mean a changed yardstick: learners now see more of "
                        "what these ask. A “then” rating can also be pulled down by expecting to have improved: "
                        "read these as honest snapshots, not measurements.")


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


def returned(report: Report) -> str:
    """How many learners came back for Module 7, in a sentence; hidden while fewer than min_group learners
    have made a plan in Module 6, and those who came back without one said only when they are as many."""
    follow = report.follow_through
    if follow.returned is None:
        return (f"Came back for Module 7: hidden until at least {report.min_group} learners have made a plan in "
                f"Module 6; {follow.planned} so far.")
    more = follow.returned_all - follow.returned
    return (f"Came back for Module 7: {of(follow.returned, follow.planned)} of the learners who made a plan in "
            "Module 6" + (f", and {more} more who had not made one." if more >= report.min_group else "."))


def _looking(shift, hidden: str) -> list[str]:
    if not shift.shown:
        return [str(shift.paired), hidden, hidden]
    return [str(shift.paired), f"{shift.change:+.1f}", f"{shift.up} / {shift.same} / {shift.down}"]


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
    follow = report.follow_through
    out["follow-through"] = (
        "Module 7 commitments marked done, partly or not yet, by kind of action. Counts only: a kind held"
        f" by fewer than {report.min_group} learners is counted with others, and figures for fewer "
        f"than {report.min_group} learners are hidden.",
        ["Kind of action", "Learners", "Commitments marked", "Done", "Partly", "Not yet"],
        [[row.label, str(row.learners),
          *([str(row.marked), *(share(c, row.marked) for c in (row.done, row.partly, row.not_yet))] if row.shown
            else [hidden] * 4)] for row in follow.commitments])
    out["looking-back"] = (
        "Self-assessment looked back on in Module 7: “then” is where learners now judge they started, rated with "
        "today's yardstick, set beside their Orientation answer; “now” is set beside “then”. Mean change in "
        f"points, over those who answered both. {LOOKING_BACK_CAUTION} Figures for fewer than "
        f"{report.min_group} learners are hidden.",
        ["Statement", "Scale", "“Then” against the Orientation: answered both", "Mean change",
         "Higher / same / lower", "“Now” against “then”: answered both", "Mean change", "Higher / same / lower"],
        [[f"{row.then.statement}: {row.then.text}",
          f"1–{len(row.then.levels)}, {row.then.levels[0]} to {row.then.levels[-1]}" if row.then.levels
          else "as answered", *_looking(row.then, hidden), *_looking(row.now, hidden)]
         for row in follow.looking_back if row.then.paired or row.now.paired])
    return out


def table_html(caption: str, columns: list[str], rows: list[list[str]]) -> str:
    """A view's table as accessible HTML, every cell escaped; short figures kept on one line."""
    return markup.table(caption, columns, rows, keep_short_together=True)

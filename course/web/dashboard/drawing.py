"""The dashboard's charts: one for each view that has something to show, with alt text that reads its
numbers and the report's source line."""
from __future__ import annotations

from course.lesson import charts
from course.lesson.charts import MUTED, PALETTE, Chart
from course.web.dashboard.formatting import LOOKING_BACK_CAUTION, num, of, returned
from course.web.dashboard.report import Report, WordRow, people


def _figure(title: str, rows: int, width: float = 7.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, max(2.6, 1.3 + 0.42 * rows)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _stacked(ax, parts: list[tuple[str, list[int], str, str]], totals: list[int]) -> None:
    """Horizontal bars stacked to 100% of each row's total, one part a (name, counts, colour, hatch), each
    segment labelled with its count: colour is never the only cue."""
    ys = list(range(len(totals)))
    left = [0.0] * len(totals)
    for name, counts, colour, hatch in parts:
        widths = [100 * c / total if total else 0 for c, total in zip(counts, totals)]
        drawn = ax.barh(ys, widths, 0.7, left=left, label=name, color=colour, hatch=hatch,
                        edgecolor="black", linewidth=0.6)
        ax.bar_label(drawn, labels=[str(c) if c else "" for c in counts], label_type="center", fontsize=8,
                     bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _completion_chart(report: Report) -> Chart:
    rows = report.completion
    n = report.learners
    title = f"Completion by module ({people(n)})"
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
    listed = "; ".join(f"{r.label}: answered every item {of(r.answered_all, n)}, submitted "
                       f"{of(r.submitted, n)}, not started {r.not_started}" for r in rows)
    return Chart(charts._render(fig), f"Horizontal bar chart, {title}. {listed}.", report.source)


def _checks_chart(report: Report) -> Chart:
    rows = report.checks
    n = report.learners
    title = "Knowledge checks: right, missed and not answered (% of learners)"
    fig, ax = _figure(title, len(rows))
    _stacked(ax, [("Right", [r.right for r in rows], PALETTE["blue"], ""),
                  ("Missed", [r.wrong for r in rows], PALETTE["vermillion"], "//"),
                  ("Not answered", [r.unanswered for r in rows], MUTED, "..")], [n] * len(rows))
    ax.set_yticks(range(len(rows)), [f"{r.item} ({r.correct})" if r.correct else r.item for r in rows])
    ax.set_xlabel(f"% of learners (bars show counts of {n})")
    fig.legend(frameon=False, loc="outside lower center", ncols=3, fontsize=9)
    listed = "; ".join(f"{r.item}: right {r.right}, missed {r.wrong}, not answered {r.unanswered}"
                       for r in rows)
    missed = report.most_missed(1)
    focus = (f" Most missed: {missed[0].item}, {of(missed[0].wrong, missed[0].answered)} of those who "
             "answered." if missed and missed[0].wrong else "")
    return Chart(charts._render(fig), f"Stacked bar chart, {title}, of {people(n)}. {listed}.{focus}",
                 report.source)


def _shift_chart(report: Report) -> Chart:
    rows = [row for row in report.shift if row.shown]
    title = "Self-assessment: Module 6 against the Orientation (learners who answered both)"
    fig, ax = _figure(title, len(rows))
    _stacked(ax, [("Higher", [r.up for r in rows], PALETTE["blue"], ""),
                  ("Same", [r.same for r in rows], MUTED, ".."),
                  ("Lower", [r.down for r in rows], PALETTE["orange"], "//")], [r.paired for r in rows])
    ax.set_yticks(range(len(rows)), [f"{_short(r.text, 30)} (n={r.paired})" for r in rows])
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
        return (f"{r.item}, {r.heading}: {r.written} of {r.learners} wrote; median {num(median)} words, "
                f"middle half {num(q1)} to {num(q3)}, shortest {r.counts[0]}, longest {r.counts[-1]}")

    return Chart(charts._render(fig), f"Box plot, {title}. " + "; ".join(read(r) for r in rows) + ".",
                 report.source)


def _commitments_chart(report: Report) -> Chart:
    follow = report.follow_through
    rows = [row for row in follow.commitments if row.shown]
    title = "Module 7 commitments by kind of action"
    fig, ax = _figure(title, len(rows))
    _stacked(ax, [("Done", [r.done for r in rows], PALETTE["blue"], ""),
                  ("Partly", [r.partly for r in rows], PALETTE["sky"], ".."),
                  ("Not yet", [r.not_yet for r in rows], PALETTE["orange"], "//")], [r.marked for r in rows])
    ax.set_yticks(range(len(rows)), [f"{_short(r.label, 30)} ({r.marked})" for r in rows])
    ax.set_xlabel("% of commitments marked (bars show counts)")
    fig.legend(frameon=False, loc="outside lower center", ncols=3, fontsize=9)
    listed = "; ".join(f"{r.label}: {r.marked} commitments of {people(r.learners)}, {r.done} done, {r.partly} "
                       f"partly, {r.not_yet} not yet" for r in rows)
    return Chart(charts._render(fig), f"Stacked bar chart, {title}. {listed}. {returned(report)}",
                 report.source)


def _looking_back_chart(report: Report) -> Chart:
    rows = [row for row in report.follow_through.looking_back if row.then.shown or row.now.shown]
    title = "Self-assessment looked back on: mean change per statement"
    fig, ax = _figure(title, 2 * len(rows))
    ys = range(len(rows))
    series = [("“Then” against the Orientation", [r.then for r in rows], PALETTE["orange"], "//", -0.2),
              ("“Now” against “then”", [r.now for r in rows], PALETTE["blue"], "", 0.2)]
    for name, shifts, colour, hatch, offset in series:
        drawn = ax.barh([y + offset for y in ys], [s.change or 0 for s in shifts], 0.38, label=name, color=colour,
                        hatch=hatch, edgecolor="black", linewidth=0.6)
        ax.bar_label(drawn, labels=[f"{s.change:+.1f} (n={s.paired})" if s.shown else "hidden" for s in shifts],
                     padding=3, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(list(ys), [_short(r.then.text, 30) for r in rows])
    ax.invert_yaxis()
    low, high = ax.get_xlim()
    ax.set_xlim(min(low, -1) - 0.6, max(high, 1) + 0.6)
    ax.set_xlabel("mean change in points (learners who answered both)")
    fig.legend(frameon=False, loc="outside lower center", ncols=2, fontsize=9)

    def change(shift) -> str:
        return f"mean {shift.change:+.1f} over {shift.paired}" if shift.shown else "hidden"

    listed = "; ".join(f"{r.then.statement} {r.then.text}: “then” against the Orientation {change(r.then)}, "
                       f"“now” against “then” {change(r.now)}" for r in rows)
    return Chart(charts._render(fig), f"Bar chart, {title}. {listed}. {LOOKING_BACK_CAUTION}", report.source)


VIEWS = {
    "completion": ("Completion by module", _completion_chart,
                   lambda r: bool(r.completion)),
    "knowledge-checks": ("Knowledge checks", _checks_chart, lambda r: bool(r.checks)),
    "self-assessment": ("Self-assessment, before and after", _shift_chart,
                        lambda r: any(row.shown for row in r.shift)),
    "reflection-words": ("Reflection word counts", _words_chart, lambda r: any(row.counts for row in r.words)),
    "follow-through": ("Follow-through: commitments four weeks on", _commitments_chart,
                       lambda r: any(row.shown for row in r.follow_through.commitments)),
    "looking-back": ("Self-assessment, looked back on", _looking_back_chart,
                     lambda r: any(row.then.shown or row.now.shown for row in r.follow_through.looking_back)),
}


def draw(report: Report) -> dict[str, Chart]:
    """The chart of every view that has something to show (none for a cohort without learners)."""
    if report.empty:
        return {}
    return {name: chart(report) for name, (_, chart, has) in VIEWS.items() if has(report)}

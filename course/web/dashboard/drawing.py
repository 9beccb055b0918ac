"""The dashboard's charts: one for each view that has something to show, with alt text that reads its
numbers and the report's source line."""
from __future__ import annotations

from course.lesson import charts
from course.lesson.charts import MUTED, PALETTE, Chart
from course.web.dashboard.formatting import num, of
from course.web.dashboard.report import Report, WordRow, people


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
    focus = (f" Most missed: {missed[0].item}, {of(missed[0].wrong, missed[0].answered)} of those who "
             "answered." if missed and missed[0].wrong else "")
    return Chart(charts._render(fig), f"Stacked bar chart, {title}, of {people(n)}. {listed}.{focus}",
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
        return (f"{r.item}, {r.heading}: {r.written} of {r.learners} wrote; median {num(median)} words, "
                f"middle half {num(q1)} to {num(q3)}, shortest {r.counts[0]}, longest {r.counts[-1]}")

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


def draw(report: Report) -> dict[str, Chart]:
    """The chart of every view that has something to show (none for a cohort without learners)."""
    if report.empty:
        return {}
    return {name: chart(report) for name, (_, chart, has) in VIEWS.items() if has(report)}

"""Module 7 — Four weeks on: how long the effects of training have been seen to last (`data/follow_ups.csv`),
and what lasts: knowledge over attitudes, if-then plans, and how to read a "then" rating of yourself
(`data/lasting_change.csv`). The commitments review and the if-then plans are `course.lesson.follow_through`;
the "then" and "now" self-assessment is `course.lesson.self_assessment.revisit`."""
from __future__ import annotations

import textwrap

from course.lesson import badges, charts, widgets
from course.lesson.data import citation_line, table
from course.lesson.figures.leading import strands

TITLES = {"bezrukova": "What fades and what lasts", "gollwitzer": "If-then plans",
          "howard": "Rating where you started", "taylor": "Rating where you started: the catch"}
ALL = "All five studies"


def _rows() -> list[dict]:
    return sorted(table("follow_ups"), key=lambda r: int(r["order"]))


@charts.cached_by(__file__)
def _chart(labels: tuple, weeks: tuple, shown: tuple, highlight, source: str) -> charts.Chart:
    """Horizontal bars: how long after the training each study looked again, one highlighted."""
    fig, ax = charts._figure("How long after the training each study looked again")
    fig.subplots_adjust(left=0.3, bottom=0.16)  # room for the studies' names beside the bars
    colours = [charts.PALETTE["blue"] if highlight in (None, label) else charts.MUTED for label in labels]
    drawn = ax.barh(range(len(labels)), weeks, color=colours, edgecolor="black", linewidth=0.6)
    ax.bar_label(drawn, labels=list(shown), padding=3, fontsize=9)
    ax.set_yticks(range(len(labels)), [textwrap.fill(label, 24) for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(weeks) * 1.35)
    ax.set_xlabel("weeks after the training (8 months drawn at about 35 weeks)")
    listed = "; ".join(f"{label}: {words}" for label, words in zip(labels, shown))
    focus = f" Highlighted: {highlight}." if highlight else ""
    return charts.Chart(charts._render(fig), f"Horizontal bar chart, how long after the training each study "
                        f"looked again. {listed}.{focus}", source)


def follow_ups():
    """Five studies by how long after the training they looked again; pick one to read what lasted."""
    rows = _rows()
    labels = tuple(r["label"] for r in rows)
    weeks = tuple(float(r["weeks"]) for r in rows)
    shown = tuple(r["shown"] for r in rows)

    def draw(focus):
        chart = _chart(labels, weeks, shown, None if focus == ALL else focus, citation_line(rows))
        if focus == ALL:
            return chart, ("Each bar is one study, placed at how long after the training it looked again. Pick "
                           "a study to read what it measured, what lasted and how far to trust it."), []
        row = rows[labels.index(focus)]
        details = [("When", row["in_words"].capitalize()), ("What was measured", row["measured"].capitalize()),
                   ("What lasted", row["what_lasted"]), ("How far to trust it", row["caution"])]
        return chart, f"{focus}. Evidence: {badges.label(row['source_id'], row['confidence'])}.", details

    return widgets.detail_explorer(widgets.choices([ALL, *labels]), draw, "Study")


def what_lasts():
    """Bezrukova et al. on what fades, Gollwitzer and Sheeran on if-then plans, and the "then" rating."""
    return strands("lasting_change", TITLES)

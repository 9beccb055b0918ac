"""A learner's own copy of their answers to a module, as a printable page: on the self-paced website there is
nobody to hand work in to, so the end of each module offers this instead of Submit.

The page lists each knowledge check (the question, and the option chosen), each reflection (its prompt's
heading, and the text), the self-assessment, and every other answer saved from the page (an action plan, a
review, a practice scene: labelled as on the page), read from the release notebook, the page's fields and the
learner's saved answers. Every piece of learner text is escaped; the page runs nothing (`course.lesson.keepsake`).
"""
from __future__ import annotations

import html

from course.lesson import keepsake, self_assessment
from course.contract import SELF_ID
from course.lesson.submissions import answer_cells, cell_source, check_question, headings

STYLE = """
body { font: 17px/1.55 system-ui, sans-serif; color: #1f1f1f; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
h2 { margin-top: 2rem; } dt { font-weight: 600; margin-top: 1rem; } dd { margin: 0.3rem 0 0 0; }
.empty { font-style: italic; color: #4a4a4a; } footer { margin-top: 2rem; font-size: 0.9rem; color: #4a4a4a; }
""".strip()
NOT_ANSWERED = "Not answered"


def text_html(value: str | None) -> str:
    """A learner's answer as escaped HTML, its line breaks kept; NOT_ANSWERED if it is blank."""
    if not value or not value.strip():
        return f'<span class="empty">{NOT_ANSWERED}</span>'
    return "<br>".join(html.escape(line, quote=True) for line in value.splitlines())


def _entries(release_nb: dict, saved: dict[str, str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(question, answer HTML) for the checks and for the reflections, in the notebook's order."""
    kinds, named = answer_cells(release_nb), headings(release_nb)
    checks, reflections = [], []
    for cell in release_nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id not in kinds:
            continue
        answer = saved.get(grade_id)
        if kinds[grade_id] == "code":
            question, options = check_question(cell_source(cell))
            chosen = f"({answer}) {options[answer]}" if answer in options else None
            checks.append((question, text_html(chosen)))
        else:
            reflections.append((named[grade_id], text_html(answer)))
    return checks, reflections


def _self_assessment(saved: dict[str, str]) -> list[tuple[str, str]]:
    by_key = {item.key: item for item in self_assessment.items()}
    rows = []
    for item_id, value in saved.items():
        match = SELF_ID.fullmatch(item_id)
        question = by_key.get(f"s{match.group(2)}") if match else None
        if question:
            number, _ = self_assessment.parse(question, value)
            rows.append((question.statement, text_html(question.choices[number - 1] if number else None)))
    return rows


def _chosen(field, value: str) -> str:
    """`value` as the learner saw it: the label of the option it stands for, if `field` offers options."""
    for option in getattr(field, "options", ()):
        label, key = option if isinstance(option, tuple) else (option, option)
        if str(key) == value:
            return str(label)
    return value


def _others(release_nb: dict, saved: dict[str, str], fields: dict) -> list[tuple[str, str]]:
    """Every other saved answer that has a field on the page (a plan, a review, a practice scene), in the
    page's order, labelled as its field is."""
    shown = set(answer_cells(release_nb))
    rows = []
    for item, field in fields.items():
        if item in shown or SELF_ID.fullmatch(item) or not (saved.get(item) or "").strip():
            continue
        label = getattr(field, "description", "") or getattr(field, "placeholder", "") or item
        rows.append((label, text_html(_chosen(field, saved[item]))))
    return rows


def page(title: str, release_nb: dict, saved: dict[str, str], when: str, fields: dict | None = None) -> str:
    """The printable page of `saved` answers to the module `title`, made at `when` (words); `fields` (item:
    its widget on the page) adds every other answer saved from the page."""
    checks, reflections = _entries(release_nb, saved)
    sections = [("Knowledge checks", checks), ("Reflections", reflections),
                ("Self-assessment", _self_assessment(saved)),
                ("Your other answers on this page", _others(release_nb, saved, fields or {}))]
    body = f"<h1>My answers: {html.escape(title)}</h1><p>Copied {html.escape(when)}.</p>"
    for name, rows in sections:
        if rows:
            items = "".join(f"<dt>{html.escape(q)}</dt><dd>{a}</dd>" for q, a in rows)
            body += f"<h2>{name}</h2><dl>{items}</dl>"
    return keepsake.page(f"My answers: {title}", body, STYLE, "From the Allies in Tech course, made on your own "
                         "computer. Nothing in this file was sent anywhere.")

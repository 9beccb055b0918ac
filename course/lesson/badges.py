"""The evidence badge: one plain-language label, shown beside every claim in every module, that says what
kind of evidence a claim rests on, how strong that kind of evidence is, and how we read the figure."""
from __future__ import annotations

from course.lesson.data import sources
from course.lesson.validation import escaped

# What each kind of evidence is, in a learner's words. Every source in data/sources.csv names one.
KINDS = {
    "experiment": "people were assigned at random to conditions, so a difference can be put down to the condition",
    "field study": "real behaviour recorded where it happens, with nobody assigned to groups",
    "correlational study": "two things compared across companies; it cannot say which causes which",
    "meta-analysis": "many studies combined into one estimate",
    "review of experiments": "a review that brings together the experiments on one question",
    "field study and experiment": "real workplaces observed, and a controlled experiment run alongside",
    "review of case studies": "published case studies gathered and summarised",
    "reanalysis": "someone else's results re-run on other data, to see whether they hold",
    "survey": "what people said when asked, at one point in time",
    "count": "a published tally, such as how many chief executives are women",
    "official statistics": "figures compiled by a public or international body",
    "research summary": "researchers' own short summary of their studies, in a magazine",
    "practitioner view": "what experienced practitioners report from their work; experience, not measurement",
    "critique": "an expert's published argument against a finding",
    "news report": "a journalist's account",
    "first-hand account": "one person's experience, as a study or report gives it; it shows how, not how often",
    "report summary": "someone else's short summary of a published report",
    "model assumption": "a value chosen for a model or simulation; it shows a mechanism, not a size",
    "teaching picture": "a picture used to teach an idea; nobody measured it",
    "philosophical argument": "an idea to reason with, not a measurement",
}

# How much weight a claim of that kind can bear, in a learner's words.
STRENGTHS = {
    "strong": "Strong: a complete count, official statistics, or many studies pointing the same way.",
    "moderate": "Moderate: one well-designed study or a large survey; worth acting on, open to revision.",
    "limited": "Limited: a small or sponsored survey, a practitioner view, or a figure read second-hand.",
    "contested": "Contested: published critiques dispute the finding; hold the headline loosely.",
    "illustrative": "Illustrative: a model, a teaching picture, an idea or a first-hand account; it can show how, never how much.",
}


def how_read(confidence: str) -> str:
    """How we read the figure behind one row, from its `confidence` label in `data/`."""
    text = confidence.lower()
    if "unverified" in text:
        return "part not verified"
    if "secondary" in text:
        return "read second-hand"
    if text.startswith("checked"):
        return "checked in the source"
    return ""


def label(source_id: str, confidence: str = "") -> str:
    """'Survey · moderate · checked in the source': the badge's words for a claim from `source_id`."""
    source = sources()[source_id]
    parts = [source.evidence_kind.capitalize(), source.strength, how_read(confidence)]
    return " · ".join(p for p in parts if p)


def badge(source_id: str, confidence: str = "") -> str:
    """The badge as HTML: the short label, with the meaning of its kind and strength for a screen reader
    and as a tooltip."""
    source = sources()[source_id]
    meaning = f"{source.evidence_kind.capitalize()}: {KINDS[source.evidence_kind]}. {STRENGTHS[source.strength]}"
    return _span(meaning, label(source_id, confidence))


MODEL_ASSUMPTION = "Model assumption · illustrative"


def model_assumption() -> str:
    """The badge for a value the course chose for one of its own models: there is no source to cite, so the
    badge gives the kind and strength of evidence only ("Model assumption · illustrative")."""
    return _span(f"Model assumption: {KINDS['model assumption']}. {STRENGTHS['illustrative']}", MODEL_ASSUMPTION)


def _span(meaning: str, text: str) -> str:
    """The label as shown, and its meaning as a tooltip and, for a screen reader, as text after it (an
    aria-label on a span with no role is prohibited, and replaced the label it was read instead of)."""
    return (f'<span class="allies-badge" title="{escaped(meaning)}">{escaped(text)}'
            f'<span class="allies-unseen"> (evidence: {escaped(meaning)})</span></span>')


def badges(rows) -> str:
    """One badge per distinct source behind `rows`, each with the confidence of its first row."""
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row["source_id"], row.get("confidence", ""))
    return " ".join(badge(s, c) for s, c in seen.items())


def legend_rows() -> list[list[str]]:
    """The strengths, then the ways a figure was read, for the one place the badge is explained."""
    return [*([name, text.split(": ", 1)[1]] for name, text in STRENGTHS.items()),
            ["checked in the source", "We read the figure in the study or on its publisher's page."],
            ["read second-hand", "We read the figure only in a reliable report about the study."],
            ["part not verified", "Some of it could not be checked, so that part is not shown."]]

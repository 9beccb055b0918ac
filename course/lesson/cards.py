"""Scenario cards: a situation, a few possible responses, and feedback on whichever the learner picks.

One component serves every card exercise in the course — bias-spotting scenes, myth-or-fact statements,
what-would-you-say practice. Cards are data: rows from a `data/` table (or a list of dicts), one row per
response, grouped into cards by `card_id`. Picking a response shows its feedback in the browser at once
(the feedback views are linked to the buttons client-side), and every response is a real button: Tab
reaches it, Space or Enter picks it. A practice deck can ask the learner to write their own response first,
which is saved like an answer; nothing here is graded.
"""
from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as w

from course.lesson import badges, data, first_views, markup
from course.lesson.validation import escaped

REQUIRED = ("card_id", "situation", "response", "feedback")


@dataclass(frozen=True)
class Response:
    label: str
    feedback: str
    verdict: str = ""  # a short judgement shown before the feedback: "Strong move", "Myth", "Fact"


@dataclass(frozen=True)
class Card:
    card_id: str
    situation: str
    responses: tuple[Response, ...]
    heading: str = ""
    prompt: str = "What would you do?"
    source: str = ""  # the citation line for the research the card draws on
    confidence: str = ""
    evidence: str = ""  # the evidence badge's words for each source (`course.lesson.badges.label`)
    explanation: str = ""  # shown under the feedback whichever response is picked (a myth card's evidence)


def cards_from_rows(rows) -> list[Card]:
    """Cards from rows (dicts), one row per response, grouped by `card_id` in first-seen order.

    Required columns: card_id, situation, response, feedback. Optional: heading, prompt, verdict,
    explanation (shown after any pick, the same for every response), source_id (a known source, cited
    under the card) and confidence. A card needs at least two responses, with distinct labels, and one
    situation (and heading, prompt, explanation) shared by all its rows.
    """
    grouped: dict[str, list[dict]] = {}
    for number, row in enumerate(rows, start=1):
        missing = [key for key in REQUIRED if not str(row.get(key) or "").strip()]
        if missing:
            raise ValueError(f"card row {number} has no {', '.join(missing)}: {dict(row)}")
        grouped.setdefault(str(row["card_id"]).strip(), []).append(row)
    if not grouped:
        raise ValueError("no cards: the rows are empty")
    cards = []
    for card_id, group in grouped.items():
        first = group[0]
        for key in ("situation", "heading", "prompt", "explanation"):
            if len({str(r.get(key) or "").strip() for r in group}) > 1:
                raise ValueError(f"card {card_id!r}: every row must give the same {key}")
        labels = [str(r["response"]).strip() for r in group]
        if len(labels) < 2:
            raise ValueError(f"card {card_id!r} needs at least two responses, has {len(labels)}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"card {card_id!r} has two responses with the same text")
        source_ids = list(dict.fromkeys(r["source_id"] for r in group if r.get("source_id")))
        confidence = "; ".join(dict.fromkeys(r["confidence"] for r in group if r.get("confidence")))
        evidence = "; ".join(dict.fromkeys(badges.label(r["source_id"], r.get("confidence") or "")
                                           for r in group if r.get("source_id") in data.sources()))
        cards.append(Card(
            card_id=card_id,
            situation=str(first["situation"]).strip(),
            responses=tuple(Response(label, str(r["feedback"]).strip(), str(r.get("verdict") or "").strip())
                            for label, r in zip(labels, group)),
            heading=str(first.get("heading") or "").strip(),
            prompt=str(first.get("prompt") or "").strip() or Card.prompt,
            source=data.citation_line([{"source_id": s} for s in source_ids]) if source_ids else "",
            confidence=confidence,
            evidence=evidence,
            explanation=str(first.get("explanation") or "").strip(),
        ))
    return cards


def cards_from_table(name: str) -> list[Card]:
    """Cards from `data/<name>.csv` (every row names its source, as every data table does)."""
    return cards_from_rows(data.table(name))


class CardView(w.VBox):
    """One card: the situation, a button per response, and the feedback for the response picked. With
    `say_first` (an item id), the learner first writes what they would say or do, saved as their answer to
    that item; the options appear only after they have written something and asked for them."""

    def __init__(self, card: Card, say_first: str | None = None):
        self.card = card
        heading = f"<p><strong>{escaped(card.heading)}</strong></p>" if card.heading else ""
        self.situation = w.HTML(f'{heading}<p class="allies-card-situation">{escaped(card.situation)}</p>'
                                f"<p>{escaped(card.prompt)}</p>")
        # ipywidgets writes option labels as text, so learner-facing strings cannot inject markup here.
        self.responses = w.ToggleButtons(options=[(r.label, i) for i, r in enumerate(card.responses)],
                                         value=None, style={"button_width": "auto"},
                                         layout=w.Layout(width="100%"))
        self.responses.add_class("allies-card-responses")
        self.feedback = w.Stack([w.HTML(self.feedback_html(r, card.explanation)) for r in card.responses],
                                selected_index=None)
        w.jslink((self.responses, "index"), (self.feedback, "selected_index"))
        read = badges.how_read(card.confidence) if card.confidence else ""
        confidence = (f" Evidence: {escaped(card.evidence)}." if card.evidence
                      else f" How we read it: {escaped(read)}." if read else "")
        source = (f'<div class="allies-card-source">Draws on: {markup.cited(card.source)}.{confidence}</div>'
                  if card.source else "")
        said = self._say_first(say_first) if say_first else []
        super().__init__([self.situation, *said, self.responses, self.feedback, w.HTML(source)])
        self.add_class("allies-card")

    def _say_first(self, item: str) -> list[w.Widget]:
        from course.lesson.widgets import AnswerBox, FreeText

        self.said = FreeText(placeholder="In your own words, before you see any options.", rows=3,
                             description="What you would say or do", layout=w.Layout(width="100%"))
        self.said.style.description_width = "initial"
        self.show = w.Button(description="Show the options", disabled=True, layout=w.Layout(width="auto"))
        self.responses.layout.display = "none"

        def written(_change=None):
            self.show.disabled = not str(self.said.value or "").strip()

        def reveal(_button=None):
            self.responses.layout.display = None
            self.show.layout.display = "none"

        self.said.observe(written, names="value")
        self.show.on_click(reveal)
        box = AnswerBox(item, self.said, lambda value: (True, "" if str(value or "").strip() else
                                                        "Write first; then compare with the options."))
        return [box, self.show]

    @staticmethod
    def feedback_html(response: Response, explanation: str = "") -> str:
        verdict = f"<strong>{escaped(response.verdict)}.</strong> " if response.verdict else ""
        shared = (f'<p class="allies-card-explanation"><strong>The evidence.</strong> {escaped(explanation)}</p>'
                  if explanation else "")
        return (f'<div class="allies-card-feedback" role="status" aria-live="polite">'
                f"<p><em>You picked:</em> {escaped(response.label)}</p>"
                f"<p>{verdict}{escaped(response.feedback)}</p>{shared}</div>")

    def pick(self, index: int) -> str:
        """Pick a response, as a click would; returns the feedback now shown (for tests and demos)."""
        self.responses.index = index
        self.feedback.selected_index = index  # in the browser the jslink does this without the kernel
        return self.feedback.children[index].value


class Deck(first_views.ShownFirst, w.VBox):
    """Several cards, one shown at a time; a row of buttons (one per card) switches between them."""

    def __init__(self, cards: list[Card], label: str = "Scene", say_first: str | None = None):
        """`say_first`: the module's item prefix ("m03"), to have the learner write before seeing the options
        of each card; what they write is saved as item `<prefix>-say-<card id>`."""
        if not cards:
            raise ValueError("a deck needs at least one card")
        self.cards = [CardView(card, say_first and f"{say_first}-say-{card.card_id.replace('_', '-')}")
                      for card in cards]
        names = [c.heading or f"Card {i}" for i, c in enumerate(cards, start=1)]
        if len(set(names)) != len(names):
            names = [f"{i}. {name}" for i, name in enumerate(names, start=1)]
        self.chooser = w.ToggleButtons(options=[(n, i) for i, n in enumerate(names)], value=0,
                                       description=label, style={"button_width": "auto",
                                                                 "description_width": "initial"})
        self.chooser.add_class("allies-card-deck")
        if len(self.cards) == 1:
            self.chooser.layout.display = "none"
        self.stack = w.Stack(self.cards, selected_index=0)
        w.jslink((self.chooser, "index"), (self.stack, "selected_index"))
        super().__init__([self.chooser, self.stack])
        self.add_class("allies-cards")

    def first_view(self) -> str:
        """The chosen card, under a <select> for the choice of card (none for a single card), as the page shows
        them before the widget is live: its responses' buttons disabled, and its box for what the learner
        would say first empty."""
        card = self.cards[self.chooser.index]
        chooser = [(self.children.index(self.chooser), self.chooser)] if len(self.cards) > 1 else []
        shown = first_views.of(card, blank=True)
        return first_views.with_selects(chooser, f'<div class="allies-cards"><div class="allies-first-card">'
                                                 f"{shown}</div></div>")


def deck(cards_or_table, label: str = "Scene", say_first: str | None = None) -> Deck:
    """A deck for a cell to show, from a `data/` table name, a list of row dicts, or a list of Cards (see
    `Deck` for `say_first`)."""
    if isinstance(cards_or_table, str):
        cards = cards_from_table(cards_or_table)
    else:
        items = list(cards_or_table)
        cards = items if items and all(isinstance(c, Card) for c in items) else cards_from_rows(items)
    return Deck(cards, label, say_first)

"""Role practice: scenes in sets for six roles (hiring panel member, code reviewer, meeting chair, manager,
senior leader, bystander), from `data/practice_scenes.csv`.

In a module the learner picks their role and practises that set with `cards.Deck`, writing what they would say
before the options appear; the choice of role and every response are saved like any answer. A facilitator
prints the same scenes as role and observer cards for live rehearsal in pairs or threes
(`python -m course cards`, which writes `docs/practice-cards.html`).
"""
from __future__ import annotations

import html

import ipywidgets as w

from course.lesson import cards, data, keepsake
from course.lesson.validation import linked
from course.lesson.widgets import AnswerBox, Column

TABLE = "practice_scenes"
STRONG = "Strong move"  # the verdict of the strongest option in each scene
PAGE = "practice-cards.html"  # in docs/, where `python -m course cards` writes it

# What an observer listens for, whatever the scene: the habits the course's feedback keeps coming back to.
LISTEN_FOR = (
    "Did they speak to what happened, not to anyone's character?",
    "Did they offer something: the floor, a name, a fix, a check-in?",
    "Where someone was on the receiving end, did they leave the choice to her?",
    "Was it short enough to say in the moment?",
)


def role_sets() -> dict[str, list[cards.Card]]:
    """The scenes grouped by role, roles and scenes in the table's order."""
    by_role: dict[str, list[dict]] = {}
    for row in data.table(TABLE):
        by_role.setdefault(row["role"], []).append(row)
    return {role: cards.cards_from_rows(rows) for role, rows in by_role.items()}


class RolePractice(Column):
    """A role picker and, below it, the practice deck for the role picked. Each deck is built the first time
    its role is picked (a learner does one set, so the page does not carry all of them); `say_first` is the
    module's item prefix: the role is saved as `<prefix>-role`, each response as `<prefix>-say-<card id>`.
    Shown first as before anyone picks: the roles, none chosen, and no deck."""

    def __init__(self, say_first: str):
        self.say_first = say_first
        self.sets = role_sets()
        self.decks: dict[str, cards.Deck] = {}
        self.picker = w.RadioButtons(options=list(self.sets), value=None, description="Your role",
                                     layout=w.Layout(width="auto"), style={"description_width": "initial"})
        self.picker.add_class("allies-role-picker")
        self.shown = w.Box(layout=w.Layout(width="100%"))
        self.picker.observe(self._picked, names="value")
        chosen = AnswerBox(f"{say_first}-role", self.picker,
                           lambda role: (True, f"{len(self.sets[role])} scenes for this role." if role else
                                         "Pick the role closest to yours; you can change it at any time."))
        super().__init__([chosen, self.shown], before={self.shown: ""})
        self.add_class("allies-role-practice")

    def _picked(self, _change=None) -> None:
        role = self.picker.value
        if role and role not in self.decks:
            self.decks[role] = cards.Deck(self.sets[role], label="Scene", say_first=self.say_first)
        self.shown.children = (self.decks[role],) if role else ()

    def deck(self, role: str) -> cards.Deck:
        """Pick `role`, as a click would, and return its deck (for tests and demos)."""
        self.picker.value = role
        return self.decks[role]


# -- Printable cards --------------------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1f1f1f; max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; }
h2 { margin-top: 2rem; border-bottom: 2px solid #0072B2; }
.card { border: 1px solid #555; border-radius: 6px; padding: 0.6rem 0.9rem; margin: 0.8rem 0; break-inside: avoid; }
.card h3 { margin: 0.2rem 0 0.4rem; } .kind { font-size: 0.85em; text-transform: uppercase; color: #4a4a4a; margin: 0; }
.situation { border-left: 4px solid #0072B2; padding-left: 0.6rem; }
.options li { margin-bottom: 0.5rem; } .source { font-size: 0.85em; color: #4a4a4a; }
.role-cards, .observer-cards { break-before: page; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
""".strip()

HOW_TO = """<p>Each role has five scenes, printed twice: <strong>role cards</strong>, for the person who practises,
with the situation only; and <strong>observer cards</strong>, with the same situation, three possible responses
and what the evidence says about each. Print the role cards and the observer cards on separate sheets, so the
person practising never sees the options.</p>
<ul>
<li><strong>In pairs:</strong> one reads the role card and says out loud what they would say or do; the other
plays anyone else in the scene, then turns observer and reads out the listening questions and, after that, the
options. Swap for the next scene.</li>
<li><strong>In threes:</strong> one practises, one plays the other people in the scene, one observes with the
observer card. Rotate after each scene.</li>
<li>Say it first, compare after: the observer shares the options only once the first attempt is made, then the
pair replays the scene with whatever they want to try. Ask which felt natural, not which was "right".</li>
</ul>
<p>The scenes are made up; the evidence behind each response is real and cited on the observer card.
Women in the room may have lived these scenes: nobody is asked to confirm they are realistic, or to play a
scene they would rather not.</p>"""


def _role_card(role: str, number: int, total: int, card: cards.Card) -> str:
    return (f'<article class="card role-card"><p class="kind">Role card · {html.escape(role)} · scene {number} of '
            f"{total}</p><h3>{html.escape(card.heading)}</h3>"
            f'<p class="situation">{html.escape(card.situation)}</p>'
            "<p><strong>Your turn:</strong> say out loud what you would say or do. Keep it to a sentence or "
            "two.</p></article>")


def _observer_card(role: str, number: int, total: int, card: cards.Card) -> str:
    listen = "".join(f"<li>{html.escape(q)}</li>" for q in LISTEN_FOR)
    options = "".join(f"<li><p>{html.escape(r.label)}</p><p><strong>{html.escape(r.verdict)}.</strong> "
                      f"{html.escape(r.feedback)}</p></li>" for r in card.responses)
    return (f'<article class="card observer-card"><p class="kind">Observer card · {html.escape(role)} · scene '
            f"{number} of {total}</p><h3>{html.escape(card.heading)}</h3>"
            f'<p class="situation">{html.escape(card.situation)}</p>'
            f"<p><strong>Listen for:</strong></p><ul>{listen}</ul>"
            f'<p><strong>Then compare with three possible responses:</strong></p><ol class="options">{options}</ol>'
            f'<p class="source">Evidence: {linked(card.source)}</p></article>')


def print_page(roles: list[str] | None = None) -> str:
    """The printable page of role and observer cards for `roles` (default: every role), as standalone HTML
    that runs nothing; every piece of text is escaped. Raises ValueError for a role the table does not have."""
    sets = role_sets()
    unknown = [r for r in roles or () if r not in sets]
    if unknown:
        raise ValueError(f"No such role: {', '.join(unknown)}. The roles are: {', '.join(sets)}.")
    chosen = {role: sets[role] for role in (roles or sets)}
    body = ["<h1>Practice cards for live rehearsal</h1>", HOW_TO,
            "<p>Roles: " + ", ".join(html.escape(role) for role in chosen) + ".</p>"]
    for role, deck in chosen.items():
        total = len(deck)
        body.append(f'<section class="role-cards"><h2>{html.escape(role)}: role cards</h2>'
                    + "".join(_role_card(role, i, total, c) for i, c in enumerate(deck, start=1)) + "</section>")
        body.append(f'<section class="observer-cards"><h2>{html.escape(role)}: observer cards</h2>'
                    + "".join(_observer_card(role, i, total, c) for i, c in enumerate(deck, start=1))
                    + "</section>")
    return keepsake.page("Allies in Tech: practice cards", "\n".join(body), STYLE,
                         f"Generated from data/{TABLE}.csv by `python -m course cards`; edit the table, then "
                         "run the command again.")

"""A learner's ally action plan as files they keep: Markdown and a printable HTML page.

A plan is a plain dict (see `empty()`): a name, one or more commitments (the action, a first step, by
when), who will hold the learner to it, and when they will check in. `to_markdown` and `to_html` are pure
functions of it. Every piece of learner text is escaped for its format, so names and sentences with
quotes, emoji, `<script>`, `**` or `[x](javascript:…)` come out exactly as typed and never as markup.
`download_link` wraps a file in an `<a download>` with a `data:` URI (learner text only inside the base64
payload) for the website; `write_files` saves both files next to a notebook for JupyterLab.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

from course.lesson import keepsake

FILE_STEM = "my-ally-action-plan"
TITLE = "My ally action plan"
NOT_YET = "Not decided yet"
REMINDERS = (
    "Start small and start soon: one real step this week beats a grand plan for next year.",
    "Practise, repeatedly. Skills that are used become habits.",
    "When you get it wrong, say thanks, correct it and carry on.",
    "Ask the people you mean to support what would actually help them.",
    "Bring another man along.",
)

# Characters Markdown can read as syntax. `<`, `>`, `&`, the backtick and `$` become character references,
# which no Markdown renderer (nor JupyterLab's maths) reads as syntax; the rest take a backslash, which
# CommonMark and the original Markdown both honour. Quotes, commas and letters stay as typed.
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "&#96;", "$": "&#36;"}
_MD_BACKSLASHED = set("\\*_{}[]()#+-!|~=^")
_BROKEN = re.compile(r"[\x00\ud800-\udfff]")


def empty() -> dict:
    """A plan with nothing filled in: the shape `to_markdown` and `to_html` expect."""
    return {"name": "", "written": "", "commitments": [], "partner": "", "check_in": ""}


def clean(text) -> str:
    """Learner text as it will be kept: line endings unified, and characters no file can hold (NUL, half
    of an emoji) shown as U+FFFD. Anything that is not text becomes its plain string form."""
    if text is None:
        return ""
    text = text if isinstance(text, str) else str(text)
    return _BROKEN.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def _lines(text) -> list[str]:
    """The non-blank lines of a field, trimmed (leading spaces would change a Markdown block's meaning)."""
    return [line.strip() for line in clean(text).split("\n") if line.strip()]


def _normal(plan) -> dict:
    """A plan with every field present and every value text; commitments with nothing in them dropped."""
    plan = plan if isinstance(plan, dict) else {}
    out = empty()
    for key in ("name", "written", "partner", "check_in"):
        out[key] = clean(plan.get(key))
    commitments = plan.get("commitments") or []
    if isinstance(commitments, dict):
        commitments = [commitments]
    for item in commitments if isinstance(commitments, (list, tuple)) else []:
        item = item if isinstance(item, dict) else {"action": item}
        entry = {key: clean(item.get(key)) for key in ("action", "first_step", "by")}
        if any(value.strip() for value in entry.values()):
            out["commitments"].append(entry)
    return out


# -- Markdown ---------------------------------------------------------------------------------------------

def md_escape_line(line: str) -> str:
    """One line of learner text as literal Markdown text."""
    out = []
    for i, char in enumerate(line):
        if char in _MD_ENTITIES:
            out.append(_MD_ENTITIES[char])
        elif char in _MD_BACKSLASHED or (char in ".)" and i and line[i - 1].isdigit()):
            out.append("\\" + char)  # "1." or "1)" would start a numbered list
        else:
            out.append(char)
    return "".join(out)


def md_text(text, indent: str = "") -> str:
    """A field as literal Markdown: each line escaped, lines joined by hard breaks at `indent`."""
    lines = _lines(text)
    if not lines:
        return f"*{NOT_YET}*"
    return ("\\\n" + indent).join(md_escape_line(line) for line in lines)


def to_markdown(plan: dict) -> str:
    """The plan as a Markdown document; learner text is never read as Markdown or HTML."""
    plan = _normal(plan)
    parts = [f"# {TITLE}", ""]
    if _lines(plan["name"]):
        parts.append(f"**Name:** {md_text(plan['name'])}  ")
    if _lines(plan["written"]):
        parts.append(f"**Written:** {md_text(plan['written'])}  ")
    parts += ["", "## What I commit to", ""]
    if not plan["commitments"]:
        parts += ["*No commitments yet.*", ""]
    for number, item in enumerate(plan["commitments"], start=1):
        pad = " " * (len(str(number)) + 2)
        parts += [f"{number}. **{md_text(item['action'], pad)}**\\",
                  f"{pad}First step: {md_text(item['first_step'], pad)}\\",
                  f"{pad}By: {md_text(item['by'], pad)}", ""]
    parts += ["## Who will hold me to it", "",
              f"{md_text(plan['partner'])}\\", f"Check-in: {md_text(plan['check_in'])}", "",
              "## To remember", ""]
    parts += [f"- {md_escape_line(line)}" for line in REMINDERS]
    parts += ["", "*From the Allies in Tech course.*", ""]
    return "\n".join(parts)


# -- HTML -------------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f1f1f;
  line-height: 1.55; max-width: 42rem; margin: 2rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 1.6rem; border-bottom: 2px solid #0072B2; padding-bottom: 0.15rem; }
ol.commitments > li { margin: 0.8rem 0; padding-left: 0.3rem; }
.action { font-weight: 600; }
.label { font-weight: 600; }
.meta { color: #4a4a4a; }
.empty { font-style: italic; color: #4a4a4a; }
.box { display: inline-block; width: 0.9em; height: 0.9em; border: 1.5px solid #1f1f1f; margin-right: 0.4em;
  vertical-align: -0.1em; }
footer { margin-top: 2rem; font-size: 0.9rem; color: #4a4a4a; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } li { break-inside: avoid; } }
""".strip()


def html_text(text) -> str:
    """A field as escaped HTML text, line breaks kept."""
    lines = _lines(text)
    if not lines:
        return f'<span class="empty">{NOT_YET}</span>'
    return "<br>".join(html.escape(line, quote=True) for line in lines)


def body_html(plan: dict, level: int = 1) -> str:
    """The plan's content as an HTML fragment (every piece of learner text escaped), for a page or, with a
    lower heading `level`, a preview inside another page."""
    plan = _normal(plan)
    h1, h2 = f"h{level}", f"h{min(level + 1, 6)}"
    meta = []
    if _lines(plan["name"]):
        meta.append(f'<strong class="label">Name:</strong> {html_text(plan["name"])}')
    if _lines(plan["written"]):
        meta.append(f'<strong class="label">Written:</strong> {html_text(plan["written"])}')
    items = "".join(
        f'<li><p><span class="box" aria-hidden="true"></span>'
        f'<strong class="action">{html_text(c["action"])}</strong></p>'
        f'<p><strong class="label">First step:</strong> {html_text(c["first_step"])}</p>'
        f'<p><strong class="label">By:</strong> {html_text(c["by"])}</p></li>' for c in plan["commitments"])
    commitments = (f'<ol class="commitments">{items}</ol>' if items
                   else '<p class="empty">No commitments yet.</p>')
    reminders = "".join(f"<li>{html.escape(line)}</li>" for line in REMINDERS)
    return (f"<{h1}>{TITLE}</{h1}>"
            + (f'<p class="meta">{"<br>".join(meta)}</p>' if meta else "")
            + f"<{h2}>What I commit to</{h2}>{commitments}"
            + f"<{h2}>Who will hold me to it</{h2}><p>{html_text(plan['partner'])}</p>"
            + f'<p><strong class="label">Check-in:</strong> {html_text(plan["check_in"])}</p>'
            + f"<{h2}>To remember</{h2}><ul>{reminders}</ul>")


def to_html(plan: dict) -> str:
    """The plan as a standalone, printable HTML page that runs nothing (its content policy forbids scripts)."""
    return keepsake.page(TITLE, body_html(plan), STYLE, "From the Allies in Tech course. Print this page, or "
                         "keep the file, and look at it again on your check-in date.")


# -- Calendar ---------------------------------------------------------------------------------------------

FOLLOW_UPS = (14, 42)  # days after the plan is written: spaced reminders at about two and six weeks


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(clean(text).strip())
    except ValueError:
        return None


def to_ics(plan: dict) -> str:
    """The plan's reminders as a calendar file: the check-in (when it is a date) and follow-ups about two and
    six weeks after the plan was written, each an all-day event that lists the commitments."""
    from icalendar import Calendar, Event

    plan = _normal(plan)
    written = _day(plan["written"]) or dt.date.today()
    actions = "\n".join(f"- {' '.join(_lines(c['action']))}" for c in plan["commitments"]) or "- (no action yet)"
    days = [(_day(plan["check_in"]), "Ally plan: check in with your partner")] if _day(plan["check_in"]) else []
    days += [(written + dt.timedelta(days=n), f"Ally plan: {n // 7} weeks on") for n in FOLLOW_UPS]
    calendar = Calendar()
    calendar.add("prodid", "-//Allies in Tech//action plan//EN")
    calendar.add("version", "2.0")
    for number, (day, summary) in enumerate(days, start=1):
        event = Event()
        event.add("uid", f"allies-plan-{written.isoformat()}-{number}@allies-in-tech")
        event.add("dtstamp", dt.datetime.now(dt.timezone.utc))
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        event.add("summary", summary)
        event.add("description", f"What you committed to:\n{actions}\n\nWhat happened? Note one situation, what "
                                 "you did and what followed, then look at your plan again.")
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


# -- Keeping the files ------------------------------------------------------------------------------------

FORMATS = {"md": ("text/markdown", to_markdown, "Markdown"), "html": ("text/html", to_html, "printable page"),
           "ics": ("text/calendar", to_ics, "calendar reminders")}


def download_link(plan: dict, fmt: str) -> str:
    """An `<a download>` for the plan in `fmt` ("md" or "html"); the learner's text is only in the base64."""
    mime, render, label = FORMATS[fmt]
    return keepsake.download_link(f"{FILE_STEM}.{fmt}", render(plan), mime, label)


def write_files(plan: dict, folder: Path | str = ".") -> list[Path]:
    """Write the plan as `my-ally-action-plan.md`, `.html` and `.ics` (reminders) in `folder`; returns their
    paths."""
    written = []
    for fmt, (_mime, render, _label) in FORMATS.items():
        path = Path(folder) / f"{FILE_STEM}.{fmt}"
        path.write_text(render(plan), encoding="utf-8")
        written.append(path)
    return written

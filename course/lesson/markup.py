"""The HTML pieces every part of the course shows, each text escaped here and styled by classes in one
stylesheet (`components.css`: the site's template links it; in JupyterLab `style()` brings it)."""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Callable

from IPython.display import HTML

from course.lesson import data
from course.lesson.validation import escaped, linked
from course.paths import ROOT

STYLESHEET = ROOT / "course" / "jupyter" / "voila" / "templates" / "allies" / "static" / "components.css"


def style() -> str:
    """The components' stylesheet as a <style> element, for a notebook outside the site's template."""
    return f"<style>{STYLESHEET.read_text(encoding='utf-8')}</style>"


SEPARATOR = " | "  # between citations on one line (`data.citation_line`)


@lru_cache(maxsize=1)
def _citations() -> tuple[re.Pattern, dict[str, data.Source]]:
    known = {source.citation(): source for source in data.sources().values()}
    return re.compile("|".join(re.escape(c) for c in sorted(known, key=len, reverse=True))), known


def cited(text: str) -> str:
    """Course text (a source line, say) as HTML, each full citation in it shortened to a disclosure: its short
    form ("Author (year)") opens, with a click or the keyboard, to the full reference and its link."""
    pattern, known = _citations()
    out, at = [], 0
    for match in pattern.finditer(text):
        source = known[match.group()]
        out.append(linked(text[at:match.start()]))
        cite = (f'<details class="allies-cite"><summary>{escaped(source.cite_as)}</summary>'
                f'<span class="allies-cite-full">{linked(match.group())}</span></details>')
        at = match.end()
        if text.startswith(SEPARATOR, at) and pattern.match(text, at + len(SEPARATOR)):
            # The separator stays with the citation before it: a narrow line breaks after "|", not before it.
            cite, at = f'<span class="allies-cite-then">{cite}\u00a0|</span> ', at + len(SEPARATOR)
        out.append(cite)
    return "".join(out) + linked(text[at:])


def source_line(text: str, after: str = "", label: str = "Source") -> str:
    """The line naming the sources under a figure or list, each citation short (`cited`); `after` is HTML
    to follow it (a badge, say)."""
    return f'<div class="allies-source">{label}: {cited(text)}{" " + after if after else ""}</div>'


def subheading(text: str) -> str:
    """A small heading inside a widget (a part of an exercise: "Commitment 1", say)."""
    return f'<h3 class="allies-subheading">{escaped(text)}</h3>'


def panel(body: str) -> HTML:
    """A block of evidence under a figure (its list, reading and source line); `body` is HTML already."""
    return HTML(f'<div class="allies-evidence">{body}</div>')


def status(text: str, ok: bool = True, tag: str = "span") -> str:
    """A status line: what happened, said plainly; a problem is marked by colour and the words themselves."""
    kind = "allies-status" if ok else "allies-status allies-problem"
    return f'<{tag} role="status" class="{kind}">{escaped(text)}</{tag}>'


PROSE_CHARACTERS = 60  # a table cell longer than this is prose (`table`)


def table(caption: str, columns: list[str], rows: list[list[str]],
          cell: Callable[[str], str] = escaped, keep_short_together: bool = False) -> str:
    """An accessible table (a caption, header cells with scope; each cell made HTML by `cell`, escaped by
    default) in a region named by its caption that scrolls sideways, reached with Tab, when the page is
    narrower than the table (WCAG 1.4.10). `keep_short_together`: figures stay on one line, prose wraps. A
    cell of prose keeps a readable width, so a narrow window scrolls the table rather than stretching its rows."""
    def td(tag: str, value: str, extra: str = "") -> str:
        kind = ("allies-nowrap" if keep_short_together and len(value) <= 24 else
                "allies-prose" if len(value) > PROSE_CHARACTERS else "")
        attributes = extra + (f' class="{kind}"' if kind else "")
        return f"<{tag}{attributes}>{cell(value) if tag == 'td' else escaped(value)}</{tag}>"

    head = "".join(f'<th scope="col">{escaped(c)}</th>' for c in columns)
    body = "".join("<tr>" + td("th", r[0], ' scope="row"') + "".join(td("td", v) for v in r[1:]) + "</tr>"
                   for r in rows)
    return (f'<div class="allies-table-scroll" role="region" tabindex="0" aria-label="{escaped(caption)}">'
            f'<table class="allies-table"><caption>{escaped(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def moment(when: dt.datetime) -> str:
    """A moment (aware, or naive in UTC) as HTML saying it in UTC, to the minute; the site's page script says it
    in the reader's own time zone (`frontend/src/page.js` `localTimes`)."""
    utc = (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    return f'<time class="allies-utc" datetime="{utc:%Y-%m-%dT%H:%MZ}">{utc:%Y-%m-%d %H:%M} UTC</time>'


UTC_STAMP = re.compile(r"\b(\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC\b")


def moments(text: str) -> str:
    """HTML with each "YYYY-MM-DD HH:MM UTC" in it a `moment`, which the page says in the reader's time zone."""
    return UTC_STAMP.sub(lambda m: moment(dt.datetime.fromisoformat(f"{m[1]}T{m[2]}+00:00")), text)

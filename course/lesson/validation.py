"""Checking what a learner wrote before it is kept: the same rules on every path."""
from __future__ import annotations

import html
import re
import unicodedata

MAX_REFLECTION_CHARS = 20_000


def choice(answer, options: dict[str, str]) -> tuple[str | None, str]:
    """Normalise a knowledge-check answer to an option key, with a message for the learner.

    Returns (key, message); key is None when the answer is missing or not an option.
    """
    letters = ", ".join(f'"{k}"' for k in options)
    if answer is None or answer is Ellipsis:
        return None, f"Not answered yet: set answer to one of {letters} and run the cell."
    if not isinstance(answer, str):
        return None, f"Put the letter in quotes, for example answer = \"{next(iter(options))}\"."
    key = letter(answer)
    if key in options:
        return key, f"Recorded: ({key}) {options[key].rstrip('.')}. It is checked when the module is graded."
    shown = answer if len(answer) <= 40 else answer[:40] + "…"
    return None, f"{shown!r} is not one of the options: choose {letters}."


def reflection(text) -> tuple[bool, str]:
    """Whether a reflection can be kept as written, with a message for the learner."""
    if not isinstance(text, str) or not text.strip():
        return False, "Nothing written yet."
    if "\x00" in text:
        return False, "Your text contains a NUL character, which a notebook cannot hold: remove it before submitting."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False, ("Your text contains a broken character (half of an emoji or symbol) that a notebook "
                       "cannot hold: retype it before submitting.")
    if len(text) > MAX_REFLECTION_CHARS:
        return False, (f"Your reflection is {len(text):,} characters; the limit is "
                       f"{MAX_REFLECTION_CHARS:,}. Shorten it before submitting — nothing you wrote is deleted.")
    words = len(text.split())
    return True, f"{words} word{'s' if words != 1 else ''}."


def escaped(text: str) -> str:
    """Learner text made safe to place inside HTML."""
    return html.escape(text, quote=True)


URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def linked(text: str) -> str:
    """Course text (a citation, say) made safe for HTML, with each web address in it a real link."""
    parts = URL.split(text)
    urls = URL.findall(text)
    out = [escaped(parts[0])]
    for url, rest in zip(urls, parts[1:]):
        out.append(f'<a href="{escaped(url)}" rel="noopener noreferrer" target="_blank">{escaped(url)}</a>'
                   f"{escaped(rest)}")
    return "".join(out)


def letter(answer) -> str | None:
    """A knowledge-check answer as a bare lower-case letter, or None; used by the hidden tests."""
    if not isinstance(answer, str):
        return None
    return unicodedata.normalize("NFKC", answer).strip().strip("()").strip().lower() or None

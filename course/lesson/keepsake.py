"""Files kept from the website: a standalone page that runs nothing, offered as a download whose content
(a learner's text, the dashboard's charts) travels only inside a base64 `data:` URI."""
from __future__ import annotations

import base64
import html

# No script, no request: the page can show only itself.
POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def page(title: str, body: str, style: str, footer: str) -> str:
    """A printable HTML page around `body` (already-escaped HTML); `title` and `footer` are plain text."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{style}\n</style>\n</head>\n<body>\n<main>\n"
            f"{body}\n</main>\n<footer>{html.escape(footer)}</footer>\n</body>\n</html>\n")


def data_uri(content: str | bytes, mime: str) -> str:
    """`content` as a base64 `data:` URI (text as UTF-8)."""
    if isinstance(content, str):
        return f"data:{mime};charset=utf-8;base64,{base64.b64encode(content.encode('utf-8')).decode('ascii')}"
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def download_link(name: str, content: str | bytes, mime: str, label: str) -> str:
    """An `<a download>` that saves `content` as the file `name`; `label` says what kind of file it is."""
    return (f'<a class="allies-download" download="{html.escape(name)}" href="{data_uri(content, mime)}">'
            f"Download {html.escape(name)} ({html.escape(label)})</a>")

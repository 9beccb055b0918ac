"""Files a learner keeps from the website: a standalone page that runs nothing, offered as a download whose
learner text travels only inside a base64 `data:` URI."""
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


def data_uri(text: str, mime: str) -> str:
    """`text` as a base64 `data:` URI (UTF-8)."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"data:{mime};charset=utf-8;base64,{payload}"


def download_link(name: str, text: str, mime: str, label: str) -> str:
    """An `<a download>` that saves `text` as the file `name`; `label` says what kind of file it is."""
    return (f'<a class="allies-download" download="{html.escape(name)}" href="{data_uri(text, mime)}">'
            f"Download {html.escape(name)} ({html.escape(label)})</a>")

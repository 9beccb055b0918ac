"""Parts of the module pages' script (frontend/) checked on their own, built as the page's bundle is."""
import json
import re
import subprocess

import pytest

from conftest import ROOT

FRONTEND = ROOT / "frontend"
# ipywidgets' manager, whose `inline_sanitize` cleans a description given as HTML (with sanitize-html, which
# the build swaps for frontend/src/sanitize.js).
MANAGER = """import { ManagerBase } from '@jupyter-widgets/base-manager';
class Manager extends ManagerBase {}
window.inlineSanitize = (html) => new Manager().inline_sanitize(html);
"""


@pytest.fixture(scope="module")
def sanitizing(tmp_path_factory, browser):
    """A page holding ipywidgets' manager built with the bundle's own aliases (package.json's build)."""
    build = json.loads((FRONTEND / "package.json").read_text())["scripts"]["build"]
    aliases = re.findall(r"--alias:\S+", build)
    assert aliases, "the build no longer swaps any package: this test has nothing to check"
    out = tmp_path_factory.mktemp("sanitize") / "check.js"
    subprocess.run([FRONTEND / "node_modules" / ".bin" / "esbuild", "--bundle", *aliases, "--format=iife",
                    "--loader:.svg=dataurl", "--log-level=warning", f"--outfile={out}"],
                   input=MANAGER, text=True, cwd=FRONTEND, check=True)  # (the entry, read from stdin, resolves here)
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><title>check</title>")
    page.add_script_tag(content=out.read_text(encoding="utf-8"))
    yield lambda html: page.evaluate("(html) => window.inlineSanitize(html)", html)
    context.close()


@pytest.mark.parametrize("given, kept", [
    ("<b>bold</b> and <em>more</em>", "<b>bold</b> and <em>more</em>"),
    ('<b onclick="steal()">x</b><script>steal()</script>', "<b>x</b>"),
    ('<img src="x.png" onerror="steal()">', '<img src="x.png">'),
    ('<a href="javascript:steal()">link</a>', "<a>link</a>"),
    ('<a href="https://example.org/">link</a>', '<a href="https://example.org/">link</a>'),
    ('<span aria-label="n" class="c" style="color: red" data-x="1" id="i">t</span>',
     '<span aria-label="n" class="c" style="color: red">t</span>'),
    ("<div><p>kept words</p><iframe src='x'></iframe></div>", "kept words"),
    ("<svg><script>steal()</script></svg>text", "text"),
])
def test_a_description_given_as_html_keeps_only_the_tags_and_attributes_ipywidgets_allows(sanitizing, given, kept):
    assert sanitizing(given) == kept

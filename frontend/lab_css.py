"""Writes static/lab.css: the few rules of JupyterLab's stylesheets (nbconvert's lab template: index.css, 240 KB,
and theme-light.css, 16 KB) that match anything on a module page, and the theme variables they, the widgets'
stylesheet (static/page.css) and the course's own stylesheets use. The module pages send it inline, in place of
the 256 KB that would hold up their first paint.

    .venv/bin/python frontend/lab_css.py          # after a JupyterLab/nbconvert upgrade, or a page using new classes
    .venv/bin/python frontend/lab_css.py --check  # exit 1 if static/lab.css is not what it would write

The rules kept are those a headless browser found matching, with their states (:hover, :focus) ignored, on
every module page once its widgets were live (the `KEEP` list), also inside @media rules; the script fails if
one is no longer there.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import tinycss2
from jupyter_core.paths import jupyter_path

STATIC = Path(__file__).resolve().parent.parent / "course/jupyter/voila/templates/allies/static"
KEEP = """
body
a
a:hover
select
.jp-InputGroup input::placeholder, input::placeholder
.lm-Widget
.jp-Notebook
.jp-Notebook .jp-Cell
.jp-Cell
.jp-Cell-inputWrapper, .jp-Cell-outputWrapper
.jp-Cell-inputArea, .jp-Cell-outputArea
.jp-Cell:not(.jp-mod-noOutputs) .jp-Cell-outputWrapper
.jp-InputArea
.jp-MarkdownOutput
.jp-MarkdownOutput.jp-RenderedHTMLCommon
.jp-OutputArea
.jp-OutputArea-child
.jp-OutputArea-child .jp-OutputArea-output
.jp-OutputArea-output
.jp-OutputArea-output dl, .jp-OutputArea-output dt, .jp-OutputArea-output dd
.jp-OutputArea-output dl
.jp-OutputArea-output dt
.jp-OutputArea-output dd
.jp-OutputArea-output.jp-RenderedHTMLCommon table
.jp-RenderedHTMLCommon
.jp-RenderedHTMLCommon > *:last-child
.jp-RenderedHTMLCommon :not(pre) > code
.jp-RenderedHTMLCommon a:link
.jp-RenderedHTMLCommon a:hover
.jp-RenderedHTMLCommon a:visited
.jp-RenderedHTMLCommon em
.jp-RenderedHTMLCommon strong
.jp-RenderedHTMLCommon h1
.jp-RenderedHTMLCommon h2
.jp-RenderedHTMLCommon h3
.jp-RenderedHTMLCommon img
.jp-RenderedHTMLCommon ol
.jp-RenderedHTMLCommon ul
.jp-RenderedHTMLCommon ol, .jp-RenderedHTMLCommon ul
.jp-RenderedHTMLCommon ul ul, .jp-RenderedHTMLCommon ul ol, .jp-RenderedHTMLCommon ol ul, .jp-RenderedHTMLCommon ol ol
.jp-RenderedHTMLCommon ul:not(.list-inline), .jp-RenderedHTMLCommon ol:not(.list-inline)
.jp-RenderedHTMLCommon p
.jp-RenderedHTMLCommon pre, .jp-RenderedHTMLCommon code
.jp-RenderedHTMLCommon table
.jp-RenderedHTMLCommon thead
.jp-RenderedHTMLCommon th
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon tr
.jp-RenderedHTMLCommon tbody tr:nth-child(odd)
.jp-RenderedHTMLCommon tbody tr:nth-child(even)
.jp-RenderedHTMLCommon tbody tr:hover
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td, :not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th, :not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon tr
""".strip().splitlines()
STARTS = (".jp-RenderedHTMLCommon h1, .jp-RenderedHTMLCommon h2, .jp-RenderedHTMLCommon h3,",  # long lists of
          ".jp-RenderedHTMLCommon h1:first-child,", ".jp-RenderedHTMLCommon h1:last-child,",  # h1..h6
          ".jp-RenderedHTMLCommon img, .jp-RenderedImage img,")
VAR = re.compile(r"var\(\s*(--[\w-]+)")


def _selector(rule) -> str:
    return " ".join(tinycss2.serialize(rule.prelude).split())


def _rules(css: str) -> list:
    return [r for r in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
            if r.type in ("qualified-rule", "at-rule")]


def _kept(rule) -> bool:
    selector = _selector(rule)
    return rule.type == "qualified-rule" and (selector in KEEP or selector.startswith(STARTS))


def _css(rule) -> str:
    """A kept rule as text; an @media rule with only the kept rules inside it ("" if none)."""
    if rule.type == "qualified-rule":
        return f"{_selector(rule)} {{{' '.join(tinycss2.serialize(rule.content).split())}}}"
    inside = [_css(r) for r in _rules(tinycss2.serialize(rule.content or [])) if _kept(r)]
    return f"@{rule.at_keyword} {_selector(rule)} {{\n  " + "\n  ".join(inside) + "\n}" if (
        rule.at_keyword == "media" and inside) else ""


def lab_css() -> str:
    """The text of static/lab.css, from the JupyterLab stylesheets installed."""
    lab = Path(next(p for p in jupyter_path("nbconvert", "templates", "lab", "static")
                    if Path(p, "index.css").exists()))
    rules = _rules((lab / "index.css").read_text(encoding="utf-8"))
    theme = _rules((lab / "theme-light.css").read_text(encoding="utf-8"))
    blocks = [text for text in (_css(r) for r in rules if r.type == "at-rule" or _kept(r)) if text]
    kept = [r for r in rules if _kept(r)]
    found = {_selector(r) for r in rules if _kept(r)} | {
        _selector(inner) for r in rules if r.type == "at-rule" and r.at_keyword == "media"
        for inner in _rules(tinycss2.serialize(r.content or [])) if _kept(inner)}
    missing = [k for k in KEEP if k not in found] + [s for s in STARTS if not any(f.startswith(s) for f in found)]
    if missing:
        raise SystemExit(f"lab_css.py: JupyterLab's index.css has no rule {missing} any more")
    # Theme variables: those the kept rules and the pages' own stylesheets use, and those they use in turn.
    declared = {}
    for rule in [r for r in rules + theme if _selector(r) == ":root"]:
        for d in tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True):
            if d.type == "declaration" and d.name.startswith("--"):
                declared[d.name] = tinycss2.serialize(d.value).strip()
    used_by = "".join(tinycss2.serialize(r.content) for r in kept) + "".join(
        (STATIC / name).read_text(encoding="utf-8") for name in ("page.css", "allies.css", "components.css"))
    wanted, todo = set(), set(VAR.findall(used_by))
    while todo:
        name = todo.pop()
        if name in declared and name not in wanted:
            wanted.add(name)
            todo |= set(VAR.findall(declared[name]))
    variables = "".join(f"\n  {name}: {declared[name]};" for name in declared if name in wanted)
    body = "\n".join(blocks)
    return ("/* Generated by frontend/lab_css.py from JupyterLab's light theme and index.css (BSD-3-Clause, "
            "Project Jupyter): the rules and variables the module pages use. */\n"
            f":root {{{variables}\n}}\n{body}\n")


def main(argv: list[str]) -> int:
    text, out = lab_css(), STATIC / "lab.css"
    if "--check" in argv:
        if out.read_text(encoding="utf-8") != text:
            print(f"{out} is out of date: run python frontend/lab_css.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

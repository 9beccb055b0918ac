"""Learner text made inert before a person reads it: in formgrader, in nbgrader's feedback, on the site.

formgrader and nbgrader's feedback render a notebook's markdown and rich outputs as live HTML on the
instructor's origin, so a `<script>`, an event handler, a `javascript:` link or a remote image in a reflection
(written on the site or straight into a JupyterLab markdown cell) would run or call out with the instructor's
rights. Autograde therefore rewrites its copy of every submission (submitted/ keeps the original):
- each markdown or raw cell that is not one of the course's own locked cells (as the gradebook keeps them)
  becomes one HTML block of the learner's text, escaped, kept as written (line breaks too) and marked for
  MathJax to skip;
- code cells keep only outputs that are rendered as escaped text (streams and errors): rich outputs come from
  the learner's kernel, which the learner controls, and the checks' own results are errors or nothing.
"""
from __future__ import annotations

import html

from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

SAFE_OUTPUTS = ("stream", "error")
_OPEN = '<div class="allies-learner-text tex2jax_ignore" style="white-space: pre-wrap">'


def inert_markdown(text: str) -> str:
    """Markdown that renders exactly `text`, as text: one HTML block (no blank line ends it early) whose
    content is escaped, with line breaks kept by `pre-wrap` and MathJax told to leave it alone."""
    body = html.escape(text, quote=True).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "&#10;")
    return f'{_OPEN}{body}</div>'


def learner_text(markdown: str) -> str:
    """The text `inert_markdown` made `markdown` of (`markdown` itself, if it is not such a block)."""
    if markdown.startswith(_OPEN) and markdown.endswith("</div>"):
        return html.unescape(markdown[len(_OPEN):-len("</div>")])
    return markdown


class InertLearnerText(NbGraderPreprocessor):
    """See the module's docstring. Runs after the grades are saved, so nbgrader's "No response" check sees
    the submitted text."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        trusted = {}
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                grade_id = meta.get("grade_id")
                if not grade_id or grade_id in trusted:
                    continue
                try:
                    source = gb.find_source_cell(grade_id, info["notebook"], info["assignment"])
                except MissingEntry:
                    continue
                if source.locked:
                    trusted[grade_id] = source.source
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if o.output_type in SAFE_OUTPUTS]
                continue
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in trusted and cell.source == trusted[grade_id] and not cell.get("attachments"):
                continue
            inert = new_markdown_cell(inert_markdown(cell.source), metadata=cell.metadata)
            nb.cells[index] = inert
        return nb, resources


class FeedbackOutputs(NbGraderPreprocessor):
    """In a learner's feedback, only the checks' own results: every other output came from the learner's
    kernel, which could have captured the hidden tests as they ran (an IPython pre-run hook sees each
    cell's source) and printed them."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            cell.outputs = []
        return cell, resources

"""Widgets' first views: the plain HTML a module's web page shows, in the page as sent, where a widget will
be, until the page's script puts the live widget in its place (`frontend/src/page.js`). So the lesson is
whole, and nothing moves, before the script has run.

A first view is made when the cell shows its widget. A kernel from the cohort site's pool does that before
anyone has asked for it, but a kernel started for one learner may already hold their answers: so a first view
never shows an answer, only the box it goes in (`AnswerBox.first_view`). Its controls are disabled, except an
explorer's <select>s, whose choice the page hands to the live widget.
"""
from __future__ import annotations

import html

import ipywidgets as w


class ShownFirst:
    """A widget (mixed in before the ipywidgets class) that a cell's output carries with its first view: by
    default the widget as it is (`of`), for a widget whose HTML parts are the course's own text."""

    def _repr_mimebundle_(self, **kwargs):
        return {**super()._repr_mimebundle_(**kwargs), "text/html": self.first_view()}

    def first_view(self) -> str:
        return of(self)


def labels(control: w.ValueWidget) -> list[str]:
    """A selection widget's option labels, as the widget shows them."""
    return [str(option[0] if isinstance(option, tuple) else option) for option in control.options]


def with_selects(controls: list[tuple[int, w.ValueWidget]], view: str) -> str:
    """An explorer's first view: a native, labelled <select> for each (child number, control) of the widget,
    above `view` (HTML). The page hands what a learner picks there to the widget's child of that number."""
    return ('<div class="allies-first-view">'
            + "".join(_select(control, number) for number, control in controls)
            + f'<div class="allies-first-view-chart">{view}</div></div>')


def _select(control: w.ValueWidget, number: int) -> str:
    name = f"allies-first-{control.model_id}"
    options = "".join(f'<option value="{index}"{" selected" * (index == control.index)}>{html.escape(label)}'
                      "</option>" for index, label in enumerate(labels(control)))
    if control.index is None:
        options = '<option value="" selected>Choose…</option>' + options
    return (f'<p class="allies-first-control"><label for="{name}">{html.escape(control.description)}</label> '
            f'<select id="{name}" data-control="{number}">{options}</select></p>')


def of(widget: w.Widget, blank: bool = False) -> str:
    """The first view of `widget` and what it holds, its controls disabled; `blank`: its fields as they are
    before anyone answers (empty, nothing chosen), whatever they hold now. An HTML part goes in as it is, so
    only a widget whose HTML parts are the course's own text (never built from saved answers) may use it."""
    if widget.layout.display == "none":
        return ""
    if isinstance(widget, w.HTML):
        return html_part(widget.value, widget._dom_classes)
    if isinstance(widget, w.Stack):
        index = widget.selected_index
        return "" if index is None else of(widget.children[index], blank)
    if isinstance(widget, w.Box):
        return "".join(child.first_view() if isinstance(child, ShownFirst) else of(child, blank)
                       for child in widget.children)
    if isinstance(widget, w.RadioButtons):
        return _radios(widget, None if blank else widget.index)
    if isinstance(widget, w.ToggleButtons):
        return _toggles(widget, None if blank else widget.index)
    if isinstance(widget, w.Text | w.Textarea):
        return _field(widget, "" if blank else widget.value)
    if isinstance(widget, w.Dropdown):
        return _dropdown(widget, None if blank else widget.index)
    if isinstance(widget, w.Button):
        return f'<p class="allies-first-button"><button type="button" disabled>{html.escape(widget.description)}</button></p>'
    raise TypeError(f"no first view for {type(widget).__name__}")


def html_part(value: str, classes: tuple[str, ...] = ()) -> str:
    """The first view of an HTML part holding `value`, with the part's own `classes` (its styles apply)."""
    return f'<div class="{html.escape(" ".join(("allies-first-html", *classes)))}">{value}</div>'


def _radios(widget: w.RadioButtons, chosen: int | None) -> str:
    options = "".join(f'<label><input type="radio"{" checked" * (index == chosen)}> {html.escape(label)}</label>'
                      for index, label in enumerate(labels(widget)))
    return (f'<fieldset class="allies-first-radios" disabled><legend>{html.escape(widget.description)}</legend>'
            f"<div>{options}</div></fieldset>")


def _toggles(widget: w.ToggleButtons, chosen: int | None) -> str:
    name = f"allies-first-{widget.model_id}"
    buttons = "".join(f'<button type="button" disabled aria-pressed="{str(index == chosen).lower()}">'
                      f"{html.escape(label)}</button>" for index, label in enumerate(labels(widget)))
    classes = " ".join(("allies-first-toggles", *widget._dom_classes))  # (a component's own styles apply)
    return (f'<div class="{html.escape(classes)}"{_sized(widget)}><span id="{name}">{html.escape(widget.description)}'
            f'</span><div role="group" aria-labelledby="{name}">{buttons}</div></div>')


def _field(widget: w.Text | w.Textarea, value: str) -> str:
    name = f"allies-first-{widget.model_id}"
    shared = f'id="{name}" disabled placeholder="{html.escape(widget.placeholder)}"'
    box = (f'<textarea {shared} rows="{widget.rows or 2}">{html.escape(value)}</textarea>'
           if isinstance(widget, w.Textarea) else f'<input type="text" {shared} value="{html.escape(value)}">')
    label = f'<label for="{name}">{html.escape(widget.description)}</label>'
    return f'<div class="allies-first-field"{_sized(widget)}>{label}{box}</div>'


def _dropdown(widget: w.Dropdown, chosen: int | None) -> str:
    name = f"allies-first-{widget.model_id}"
    options = "".join(f'<option{" selected" * (index == chosen)}>{html.escape(label)}</option>'
                      for index, label in enumerate(labels(widget)))
    return (f'<div class="allies-first-field"{_sized(widget)}><label for="{name}">{html.escape(widget.description)}'
            f'</label><select id="{name}" disabled>{options}</select></div>')


def _sized(widget: w.DOMWidget) -> str:
    """The style attribute giving a first view the live widget's width and label width, where it sets them."""
    width, label = widget.layout.width, widget.style.description_width
    rules = ([f"width: {width}"] if width else []) + ([f"--allies-label-width: {label}"]
                                                      if label not in ("", "initial") else [])
    return f' style="{html.escape("; ".join(rules))}"' if rules else ""

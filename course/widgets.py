"""The one set of widget components every module uses: explorer, knowledge check, reflection box."""
from __future__ import annotations

from typing import Callable

import ipywidgets as w
from IPython.display import HTML, display

from . import validation
from .charts import Chart
from .context import in_voila

Draw = Callable[[object], tuple[Chart, str]]


def _status(text: str, ok: bool = True) -> str:
    colour = "#1b5e20" if ok else "#8a1c1c"
    return f'<span role="status" style="color:{colour}">{validation.escaped(text)}</span>'


class Explorer(w.VBox):
    """A control, the chart it drives and a one-line reading of it; moving the control redraws."""

    def __init__(self, control: w.ValueWidget, draw: Draw, label: str):
        self.control = control
        self.draw = draw
        self.chart = w.HTML(layout=w.Layout(min_height="340px"))
        self.reading = w.HTML()
        control.description = label
        control.style.description_width = "initial"
        control.observe(self._redraw, names="value")
        super().__init__([control, self.chart, self.reading], layout=w.Layout(gap="6px"))
        self.add_class("allies-explorer")
        self._redraw()

    def _redraw(self, _change=None) -> None:
        chart, reading = self.draw(self.control.value)
        self.chart.value = chart.html()
        self.reading.value = f'<p aria-live="polite">{validation.escaped(reading)}</p>'


def explorer(control: w.ValueWidget, draw: Draw, label: str) -> Explorer:
    """Show an Explorer; `draw(value)` returns the chart and a sentence reading it."""
    box = Explorer(control, draw, label)
    display(box)
    return box


def slider(options, value=None) -> w.SelectionSlider:
    """A keyboard-usable slider over `options` (arrow keys move it)."""
    options = list(options)
    return w.SelectionSlider(options=options, value=options[-1] if value is None else value,
                             continuous_update=True, layout=w.Layout(width="420px"))


def choices(options, value=None) -> w.ToggleButtons:
    """Buttons for a small set of choices, reachable with Tab and Space."""
    options = list(options)
    return w.ToggleButtons(options=options, value=options[0] if value is None else value)


def dropdown(options) -> w.Dropdown:
    """A dropdown, for choices whose labels are too long for buttons."""
    return w.Dropdown(options=list(options), layout=w.Layout(width="95%"))


def knowledge_check(item: str, answer, prompt: str, options: dict[str, str]):
    """Show a knowledge check. In a notebook, `answer` is what the learner typed in the cell;
    in the Voilà app the learner picks with radio buttons."""
    listed = "".join(f"<li><b>({validation.escaped(k)})</b> {validation.escaped(v)}</li>"
                     for k, v in options.items())
    display(HTML(f'<div class="allies-check" data-item="{validation.escaped(item)}">'
                 f"<p><b>{validation.escaped(prompt)}</b></p><ul>{listed}</ul></div>"))
    if not in_voila():
        key, message = validation.choice(answer, options)
        display(HTML(_status(message, key is not None or answer is None)))
        return key
    picker = w.RadioButtons(options=[(f"({k}) {v}", k) for k, v in options.items()], value=None,
                            description="Your answer", layout=w.Layout(width="auto"))
    picker.style.description_width = "initial"
    status = w.HTML(_status("Not answered yet."))

    def record(change):
        _key, message = validation.choice(change["new"], options)
        status.value = _status(message)

    picker.observe(record, names="value")
    picker._allies_status = status
    box = w.VBox([picker, status])
    box.add_class("allies-check-input")
    display(box)
    return picker


def reflection(item: str):
    """In the Voilà app, a text box for the reflection `item`; in a notebook, a pointer to the
    answer cell below, where the learner writes."""
    if not in_voila():
        display(HTML(_status("Write your reflection in the cell below (double-click it to edit). "
                             "Only you and your graders see it.")))
        return None
    box = w.Textarea(placeholder="Write here. Only you and your graders see this.",
                     description="Your reflection", rows=8, layout=w.Layout(width="100%"))
    box.style.description_width = "initial"
    status = w.HTML(_status("Nothing written yet."))

    def check(change):
        ok, message = validation.reflection(change["new"])
        status.value = _status(message, ok)

    box.observe(check, names="value")
    box._allies_status = status
    panel = w.VBox([box, status])
    panel.add_class("allies-reflection")
    panel.add_class(f"allies-item-{item}")
    display(panel)
    return box

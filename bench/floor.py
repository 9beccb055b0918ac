"""The floor for figure 1: for each module, a static HTML page showing the module page's first chart and its
first control, served as plain files by Python's own `http.server`. No module page can show its first chart
and control sooner than the same picture and control sent as one file; a module page is measured against it.

The chart and the control are read, in page order, from the module as executed to fill the chart cache
(`servers.warm_chart_cache`): the widget state that nbclient stores in the executed notebook holds each
widget's HTML, following each Stack's selected view, as the page first shows it."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CONTROLS = {"SelectionSliderModel", "ToggleButtonsModel", "DropdownModel", "RadioButtonsModel"}
CHART = re.compile(r'<figure class="allies-chart".*?</figure>', re.S)
FOLDER = "floor"  # under the bench's work folder


def _shown(state: dict, model_id: str):
    """(model name, state) of a widget and of everything it shows, depth first; a Stack shows one child."""
    model = state.get(model_id.removeprefix("IPY_MODEL_"))
    if not model:
        return
    st = model["state"]
    yield model["model_name"], st
    children = st.get("children", [])
    if model["model_name"] == "StackModel":
        index = st.get("selected_index")
        children = [children[index]] if index is not None else []
    for child in children:
        yield from _shown(state, child)


def first_shown(executed: Path) -> dict:
    """The executed module's first chart (its <figure> HTML, or None) and first control (its description
    and option labels, or None), in page order."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    found = {"chart": None, "control": None}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            shown = (_shown(state, data[WIDGET_VIEW]["model_id"]) if WIDGET_VIEW in data
                     else [("HTML", {"value": data.get("text/html", "")})])
            for name, st in shown:
                value = st.get("value") if isinstance(st.get("value"), str) else ""
                if found["chart"] is None and (chart := CHART.search(value)):
                    found["chart"] = chart.group(0)
                if found["control"] is None and name in CONTROLS:
                    found["control"] = {"label": st.get("description") or "Choose",
                                        "options": list(st.get("_options_labels", []))}
    return found


def page(title: str, shown: dict) -> str:
    """A static page with `shown`'s chart and, as its control, a dropdown of the same options that says what
    was chosen (there is only the one picture to show)."""
    control = shown["control"] or {"label": "Choose", "options": ["one", "two"]}
    options = "".join(f"<option>{html.escape(o)}</option>" for o in control["options"])
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}'
            f'</title></head><body><main style="max-width:48rem;margin:auto"><h1>{html.escape(title)}</h1>'
            f'<div class="allies-explorer allies-floor"><label>{html.escape(control["label"])} '
            f'<select>{options}</select></label>{shown["chart"] or ""}<p aria-live="polite"></p></div>'
            "</main><script>document.querySelector('select').addEventListener('change', (e) => {"
            "document.querySelector('.allies-floor p').textContent = 'Chosen: ' + e.target.value; });"
            "</script></body></html>")


def write(work: Path, executed: Path, modules: list[str]) -> dict[str, bool]:
    """The floor page of each module as `work`/floor/<module>.html; returns whether each has a chart."""
    out = work / FOLDER
    out.mkdir(exist_ok=True)
    charted = {}
    for module in modules:
        shown = first_shown(executed / module)
        (out / f"{module}.html").write_text(page(module.removesuffix(".ipynb"), shown), encoding="utf-8")
        charted[module] = shown["chart"] is not None
    return charted

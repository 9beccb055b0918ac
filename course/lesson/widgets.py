"""The one set of widget components every module uses: explorer, knowledge check, reflection box."""
from __future__ import annotations

import html
import itertools
import math
import threading
import zlib
from typing import Callable, Protocol

import ipywidgets as w
from IPython.display import HTML, display
from traitlets import Unicode

from course.contract import returned_feedback
from course.lesson import keys, markup, validation
from course.lesson.first_views import ShownFirst, html_part, of, with_selects
from course.lesson.charts import Chart
from course.lesson.context import in_voila, kept_for_the_session, self_paced_site

Draw = Callable[[object], tuple[Chart, str]]


class Answers(Protocol):
    """Where the answer widgets keep answers: the kernel's session (`course.lesson.session.Session`), given
    to them by `answer_with`; the widgets never import it."""

    store_path: str | None  # None: answers are not kept (nobody to keep them for)
    learner: str | None
    instance: str | None  # the site's private folder, where feedback is returned
    ready: threading.Event  # set once the learner is known

    def bind(self, item: str, widget, show: Callable[..., None], typed: bool = True) -> None: ...
    def saved(self, module: str) -> dict[str, str]: ...
    def flush(self) -> bool: ...
    def submit(self, module: str): ...


_answers: Callable[[], Answers] | None = None


def answer_with(provider: Callable[[], Answers]) -> None:
    """Keep answers with `provider()`, asked for when a widget first needs it (`course.lesson.figures`, which
    every module imports, gives the kernel's session)."""
    global _answers
    _answers = provider


def answers() -> Answers:
    """Where answers are kept (see `answer_with`)."""
    if _answers is None:
        raise RuntimeError("The answer widgets have nowhere to keep answers: import course.lesson.figures (as every "
                           "module does), or call course.lesson.widgets.answer_with first.")
    return _answers()


def fingerprint(value: str) -> str:
    """Length and CRC-32 of a text's UTF-16 code units: the page compares it with the text in the box, and
    says "Saved" only while the two match (`frontend/src/page.js`)."""
    units = value.encode("utf-16-le", "surrogatepass")
    return f"{len(units) // 2}-{zlib.crc32(units):08x}"


def _reading(text: str) -> str:
    return f'<p aria-live="polite">{validation.linked(text)}</p>'


class Explorer(ShownFirst, w.VBox):
    """Controls, the chart they drive and a one-line reading of it.

    Each combination of the controls' values has its own view, nested in Stacks, and each control is
    `jslink`ed to the Stacks at its depth, so the browser switches at once to a view it has. Only the view
    chosen at the start is drawn with the page; any other is drawn in the kernel when it is first chosen, and
    kept, so a page never waits for views nobody looks at (Module 3's simulations among them).
    """

    PENDING = '<p role="status" class="allies-pending">Drawing this view…</p>'  # (as tall as a chart)

    def __init__(self, controls: list[tuple[str, w.ValueWidget]], draw: Callable[..., tuple]):
        self.controls = [control for _, control in controls]
        for label, control in controls:
            control.description = label
            control.style.description_width = "initial" if len(controls) == 1 else "13rem"
        self._draw, self._drawn = draw, set()
        self.views = self._stacked(0)
        super().__init__([*self.controls, self.views])
        self.add_class("allies-explorer")
        for control in self.controls:
            control.observe(self._show, "index")
        self._show()

    def _stacked(self, depth: int):
        if depth == len(self.controls):
            return w.HTML(self.PENDING)
        control = self.controls[depth]
        stack = w.Stack([self._stacked(depth + 1) for _ in control.options], selected_index=control.index)
        w.jslink((control, "index"), (stack, "selected_index"))
        return stack

    def _show(self, _change=None) -> None:
        """Draw the view the controls now choose, unless it is drawn already (or a control has no choice)."""
        chosen = tuple(control.index for control in self.controls)
        if None not in chosen:
            self._fill(chosen)

    def _fill(self, chosen: tuple[int, ...]) -> w.HTML:
        leaf = self.views
        for index in chosen:
            leaf = leaf.children[index]
        if chosen not in self._drawn:
            leaf.value = self._view(*self._draw(*(_values(c)[i] for c, i in zip(self.controls, chosen))))
            self._drawn.add(chosen)
        return leaf

    def every_view(self) -> list[str]:
        """Every view's HTML, drawing those not drawn yet; in the order of the controls' options, the last
        control's changing fastest."""
        every = itertools.product(*(range(len(control.options)) for control in self.controls))
        return [self._fill(chosen).value for chosen in every]

    @staticmethod
    def _view(chart: Chart, reading: str) -> str:
        return chart.html() + _reading(reading)

    def first_view(self) -> str:
        """The chosen view, under a native, labelled <select> for each control."""
        chosen = tuple(control.index for control in self.controls)
        view = self._fill(chosen).value if None not in chosen else ""  # as the live widget: no view yet
        return with_selects(list(enumerate(self.controls)), view)


def _values(control: w.ValueWidget) -> list:
    """A selection widget's option values, whether its options are plain values or (label, value) pairs."""
    return [option[1] if isinstance(option, tuple) else option for option in control.options]


def explorer(control: w.ValueWidget, draw: Draw, label: str) -> Explorer:
    """An Explorer with one control; `draw(value)` returns the chart and a sentence reading it."""
    return Explorer([(label, control)], draw)


def explorer_grid(controls: list[tuple[str, w.ValueWidget]], draw: Callable[..., tuple]) -> Explorer:
    """An Explorer with several controls; `draw(*values)` returns the chart and its reading."""
    return Explorer(controls, draw)


def slider(options, value=None) -> w.SelectionSlider:
    """A keyboard-usable slider over `options`, plain values or (label, value) pairs (arrow keys move it)."""
    options = list(options)
    last = options[-1][1] if isinstance(options[-1], tuple) else options[-1]
    return w.SelectionSlider(options=options, value=last if value is None else value,
                             continuous_update=True, layout=w.Layout(width="420px"))


NOTHING = object()  # pass as `value` to `choices` to start with no button pressed


def choices(options, value=None) -> w.ToggleButtons:
    """Buttons for a small set of choices, reachable with Tab and Space; the first is pressed unless `value`
    names another, or is NOTHING."""
    options = list(options)
    if value is NOTHING:
        return w.ToggleButtons(options=options, value=None)
    return w.ToggleButtons(options=options, value=options[0] if value is None else value)


def dropdown(options) -> w.Dropdown:
    """A dropdown, for choices whose labels are too long for buttons."""
    return w.Dropdown(options=list(options), layout=w.Layout(width="95%"))


class AnswerBox(ShownFirst, w.VBox):
    """An answer input with two status lines: what the answer means now, and whether it is saved."""

    def __init__(self, item: str, field: w.ValueWidget, describe: Callable[[object], tuple[bool, str]],
                 render: Callable[[str, bool], str] = markup.status):
        """`describe(value)` says (ok, message); `render(message, ok)` makes it the status line's HTML."""
        self.item, self.field, self.describe, self.render = item, field, describe, render
        self.status = w.HTML(render(describe(field.value)[1], True))
        self.saved = w.HTML()
        field.observe(self._describe, names="value")
        super().__init__([field, self.status, self.saved])
        self.add_class("allies-answer")
        self.add_class(f"allies-item-{item}")
        answers().bind(item, field, self.show_saved, typed=isinstance(field, w.Text | w.Textarea))

    def first_view(self) -> str:
        """The box as it is before anyone answers: no answer in it, whatever it holds now (a kernel started
        for one learner has restored theirs), and a blank line where it will say whether the answer is saved."""
        blank = self.field.trait_defaults("value")
        return (of(self.field, blank=True) + html_part(self.render(self.describe(blank)[1], True))
                + html_part("\u00a0"))

    def _describe(self, _change=None) -> None:
        ok, message = self.describe(self.field.value)
        self.status.value = self.render(message, ok)

    def show_saved(self, text: str, ok: bool, saved: str | None = None) -> None:
        """Say whether the answer is saved; with `saved`, the value the store now holds, for the page to
        check against what is in the box."""
        mark = "" if saved is None else f' data-saved="{fingerprint(saved)}"'
        self.saved.value = (f'<span class="allies-saved" data-ok="{"yes" if ok else "no"}"{mark}>'
                            f"{markup.status(text, ok)}</span>")


def check_feedback(item: str, answer, options: dict[str, str]) -> str:
    """The status line's HTML for an answer to the check `item`: right or not and why, where this kernel may
    show the key (`course.lesson.keys`), or that the answer is recorded and checked when the module is graded."""
    chosen, message = validation.choice(answer, options)
    if chosen is None:
        return markup.status(message, answer is None)
    try:
        key = keys.key_for(item)
    except keys.KeysWithheld:
        key = None
    right = validation.letter(key.letter) if key else None
    if right not in options:
        return markup.status(message)
    if chosen == right:
        head = f"Yes, ({right}) is right."
    else:  # a miss is part of learning, not an error: no red, and the reason comes with it
        head = f"Not quite: the answer is ({right}), not ({chosen})."
    why = f" {validation.escaped(key.explanation)}" if key.explanation else ""
    return (f'<span role="status" class="allies-check-feedback" data-right="{str(chosen == right).lower()}">'
            f'<b>{validation.escaped(head)}</b>{why}</span>')


def knowledge_check(item: str, answer, prompt: str, options: dict[str, str]):
    """Show a knowledge check. In a notebook, `answer` is what the learner typed in the cell;
    in the Voilà app the learner picks with radio buttons, saved as they choose. Either way the learner
    sees at once whether it is right, and why, unless the site keeps keys until grading (`course.lesson.keys`)."""
    question = f'<p class="allies-check" data-item="{validation.escaped(item)}"><b>{validation.escaped(prompt)}</b></p>'
    if not in_voila():
        listed = "".join(f"<li><b>({validation.escaped(k)})</b> {validation.escaped(v)}</li>"
                         for k, v in options.items())
        display(HTML(f"{question}<ul>{listed}</ul>"))
        display(HTML(check_feedback(item, answer, options)))
        return None
    picker = w.RadioButtons(options=[(f"({k}) {v}", k) for k, v in options.items()], value=None,
                            description="Your answer", layout=w.Layout(width="auto"))
    picker.style.description_width = "initial"
    display(HTML(question))

    def describe(value):
        return True, check_feedback(item, value, options) if value else markup.status("Not answered yet.")

    return AnswerBox(item, picker, describe, render=lambda shown, _ok: shown)


class FreeText(w.Textarea):
    """A text box whose value ipywidgets does not echo back to the browser. The browser can send text that
    Jupyter's messages cannot carry back (a lone surrogate: half an emoji), and ipywidgets sends the echo
    before it sets the value: the echo fails, the value never arrives, and every later edit of the box
    is lost without a word. Without the echo the text arrives, is saved exactly and gets a warning."""

    value = Unicode(help="String value").tag(sync=True, echo_update=False)


def reflection(item: str):
    """In the Voilà app, a text box for the reflection `item`, saved as the learner types;
    in a notebook, a pointer to the answer cell below, where the learner writes."""
    if not in_voila():
        display(HTML(markup.status("Write your reflection in the cell below (double-click it to edit). "
                             "Only you and your graders see it.")))
        return None
    field = FreeText(placeholder=PLACEHOLDER[site_path()],
                     description="Your reflection", rows=8, layout=w.Layout(width="100%"))
    field.style.description_width = "initial"
    return AnswerBox(item, field, validation.reflection)


HOW_TO_ANSWER = {
    "jupyterlab": "Run each cell in order (Shift + Enter). For a knowledge check, put the letter of your choice "
                  "in quotes in its cell and run it; write each reflection in the text cell under its prompt. "
                  "Save the notebook (Ctrl + S) to keep your work. Only you read your reflections, and your "
                  "graders if you hand the notebook in.",
    "self-paced": "Use the buttons and text boxes. Your answers to the checks and reflections are saved on "
                  "this computer as you go, and come back when you return; the settings of charts and "
                  "calculators are not kept. Nothing is sent anywhere: your reflections are yours alone.",
    "session": "Use the buttons and text boxes. This copy of the course runs on Binder for you alone: your "
               "answers to the checks and reflections are saved there as you go, and deleted with it when the "
               "session ends (Binder ends a session left unused for about ten minutes). To keep them, make a copy "
               "of your answers at the end of each module. The settings of charts and calculators are not kept.",
    "cohort": "Use the buttons and text boxes. Your answers to the checks and reflections are saved under your "
              "sign-in as you go, and come back when you return; the settings of charts and calculators are "
              "not kept. Only you and your graders read your reflections.",
}


# A reflection box's placeholder on each website: who will read what is written there.
PLACEHOLDER = {"self-paced": "Write here. Only you see this: it stays on this computer.",
               "session": "Write here. Only you see this.",
               "cohort": "Write here. Only you and your graders see this."}


def site_path() -> str:
    """Which way this page takes the course: a HOW_TO_ANSWER key."""
    return ("jupyterlab" if not in_voila() else "session" if kept_for_the_session() else "self-paced"
            if self_paced_site() else "cohort")


def how_to_answer() -> HTML:
    """How to answer, and where answers go, for the path this page is on."""
    path = site_path()
    style = markup.style() if path == "jupyterlab" else ""  # the site's template links the stylesheet
    return HTML(f'{style}<p class="allies-how"><strong>How to answer.</strong> '
                f"{validation.escaped(HOW_TO_ANSWER[path])}</p>")


def submit_module(module: str):
    """The last step of a module: on a cohort's website a Submit button, with the learner's returned feedback
    under it; on the self-paced website, a copy of their answers to keep; in a notebook, directions."""
    if not in_voila():
        display(HTML(markup.status("To hand this module in, save the notebook (Ctrl + S) and submit it from the "
                             "Assignments tab, as your facilitator asks. On your own, just keep the notebook.")))
        return None
    if self_paced_site():
        return _copy_of_answers(module)
    button = w.Button(description="Submit this module for grading", button_style="primary",
                      layout=w.Layout(width="auto"))
    status = w.HTML(markup.status("This sends your answers to your facilitator for grading. You can submit again "
                            "after changing an answer; your latest submission is graded."))

    def submit(_button):
        button.disabled = True
        status.value = markup.status("Submitting…")  # so a second submission is seen to happen, too
        try:
            current = answers()
            current.submit(module)
            if returned_feedback(current.instance, current.learner, module):
                status.value = markup.status("Submitted and kept. Your facilitator has already returned feedback on "
                                       "this module, so this new submission is graded only if they allow it: "
                                       "ask them if you need it marked.")
            else:
                status.value = markup.status("Submitted. Your facilitator will return feedback here.")
        except Exception as exc:  # every failure is said plainly, and the answers stay saved
            status.value = markup.status(f"Not submitted: {exc}", False)
        finally:
            button.disabled = False

    button.on_click(submit)
    box = Column([button, status])
    box.add_class("allies-submit")
    feedback = feedback_view(module)
    return Column([box, feedback], before={feedback: ""})  # (shown first as before any is returned)


KEEP_A_COPY = {  # by whether the answers go with the session (Binder)
    False: "This is your own copy of the course: there is nothing to hand in, and nothing is sent anywhere. To "
           "keep your answers outside this site, make a copy and download it.",
    True: "There is nothing to hand in. Your answers here are deleted when this Binder session ends: to keep "
          "them, make a copy and download it now.",
}


def _copy_of_answers(module: str) -> w.VBox:
    """The self-paced website's last step: nothing to hand in, and a printable copy of the answers to keep."""
    import datetime

    from course.lesson import answers_copy, keepsake, timing
    from course.paths import folder
    from course.lesson.submissions import read

    notebook = folder("modules") / f"{module}.ipynb"
    button = w.Button(description="Make a copy of my answers", button_style="primary",
                      layout=w.Layout(width="auto"))
    link = w.HTML(markup.status(KEEP_A_COPY[kept_for_the_session()]))

    def make(_button):
        current = answers()
        current.flush()
        when = datetime.datetime.now().astimezone().strftime("%d %B %Y, %H:%M %Z")  # the server's clock: zone named
        fields = {item: binding.widget for item, binding in current.bindings.items()}
        text = answers_copy.page(timing.title(notebook), read(notebook), current.saved(module), when, fields)
        name = f"allies-in-tech-{module}-my-answers.html"
        link.value = f"<p>{keepsake.download_link(name, text, 'text/html', 'printable page')}</p>"

    button.on_click(make)
    box = Column([button, link])
    box.add_class("allies-submit")
    return box


# -- Components added for Module 2, reusable by any module ------------------------------------------------
# A still figure with its reading; an explorer whose views also carry labelled details (a study card, a
# myth-or-fact card); an accessible table; and a calculator (number boxes, a chart redrawn from them, and a
# plain message for input that cannot be used).

Details = list[tuple[str, str]]


class Still(ShownFirst, w.HTML):
    """HTML that a cell shows as a widget (another widget may change it), with itself as its first view."""


class Column(ShownFirst, w.VBox):
    """Widgets one under another, shown first as they are before anyone answers: for parts made of the course's
    own text, answer boxes and fields (shown first blank). A part that shows what the learner has done (a chart
    of their answers, say) is shown first as `before` gives it: its HTML before they start."""

    def __init__(self, children, before: dict[w.Widget, str] | None = None, **kwargs):
        super().__init__(children, **kwargs)
        self.before = before or {}

    def first_view(self) -> str:
        return "".join(html_part(self.before[child], child._dom_classes) if child in self.before
                       else child.first_view() if isinstance(child, ShownFirst) else of(child, blank=True)
                       for child in self.children)


def figure(chart: Chart, reading: str) -> w.HTML:
    """A still chart with the sentence that reads it, for figures with nothing to choose."""
    box = Still(chart.html() + _reading(reading))
    box.add_class("allies-figure")
    return box


def _details_html(details: Details) -> str:
    rows = "".join(f'<dt>{validation.escaped(label)}</dt><dd>{markup.cited(text)}</dd>' for label, text in details)
    return f'<dl class="allies-details">{rows}</dl>'


class DetailExplorer(Explorer):
    """An Explorer whose views show labelled details (claim, method, limits…) above an optional chart.

    `draw(value)` returns (chart or None, reading, [(label, text), …]); views are drawn as in Explorer.
    """

    @staticmethod
    def _view(chart: Chart | None, reading: str, details: Details = ()) -> str:
        return _details_html(list(details)) + (chart.html() if chart else "") + _reading(reading)


def detail_explorer(control: w.ValueWidget, draw: Callable[[object], tuple[Chart | None, str, Details]],
                    label: str) -> DetailExplorer:
    """A DetailExplorer for a cell to show."""
    return DetailExplorer([(label, control)], draw)


def table(columns: list[str], rows: list[list[str]], caption: str) -> w.HTML:
    """A plain, screen-reader-friendly table; cells may hold links and citations (`markup.cited`: each short,
    the full reference a click away), all else escaped."""
    return Still(markup.table(caption, columns, rows, cell=markup.cited))


def number_field(label: str, value: str = "", placeholder: str = "") -> w.Text:
    """A labelled box for one number. It is a text box, not a number box, so that anything a learner types
    reaches the model and gets a plain answer; the value is sent on Enter or when focus leaves the box."""
    field = w.Text(value=value, placeholder=placeholder, description=label, continuous_update=False,
                   layout=w.Layout(width="min(36rem, 100%)"))
    field.style.description_width = "20rem"
    return field


class Calculator(ShownFirst, w.VBox):
    """Number boxes and the chart they drive: `compute({name: text})` returns (chart, reading), or raises
    ValueError with a message for the learner, shown in place of a traceback while the last good chart
    stays, marked as out of date. Its numbers are not kept, so its first view shows what it holds."""

    def __init__(self, fields: dict[str, w.Text], compute: Callable[[dict[str, str]], tuple[Chart, str]],
                 note: str = ""):
        self.fields, self.compute = fields, compute
        self.message = w.HTML()
        self.view = w.HTML()
        for field in fields.values():
            field.observe(self.update, names="value")
        intro = [w.HTML(f"<p>{validation.escaped(note)}</p>")] if note else []
        super().__init__([*intro, *fields.values(), self.message, self.view])
        self.add_class("allies-calculator")
        self.update()

    def update(self, _change=None) -> None:
        values = {name: field.value for name, field in self.fields.items()}
        try:
            chart, reading = self.compute(values)
        except ValueError as exc:
            stale = " The chart below still shows the last numbers that worked." if self.view.value else ""
            self.message.value = markup.status(f"{exc}{stale}", False)
            return
        except Exception:  # a bug must not reach the learner as a traceback either
            self.message.value = markup.status("These numbers could not be used. Check each box and try again.", False)
            return
        self.message.value = ""
        self.view.value = chart.html() + _reading(reading)


def calculator(fields: dict[str, w.Text], compute: Callable[[dict[str, str]], tuple[Chart, str]],
               note: str = "") -> Calculator:
    """A Calculator for a cell to show."""
    return Calculator(fields, compute, note)


# -- Feedback on the cohort site ---------------------------------------------------------------------------
# `python -m course instructor feedback` writes INSTANCE/feedback/<learner>/<module>.html and a .json beside
# it (course/grading/feedback.py). The hand-in step shows the signed-in learner's own page, and nobody else's, in a
# sandboxed iframe that runs no scripts: the page holds the learner's own text and the grader's. The site
# also sends it as a page of its own, as sandboxed (course/web/feedback_page.py), which a phone shows whole.

FEEDBACK_ADDRESS = "../../allies/feedback/{module}"  # from a module page, /voila/render/<module>.ipynb


def _points(value) -> float | None:
    """Points as grading writes them: a finite number, not below zero (not a bool); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def feedback_html(page: str, about: dict, module: str) -> str:
    """The feedback page inside `<iframe sandbox srcdoc=…>` (no scripts, no same origin, no forms), under a
    head saying what it is on, with a link to the page on its own."""
    import datetime as dt

    score, most, when = _points(about.get("score")), _points(about.get("max_score")), about.get("submitted_at")
    said = ""
    try:
        said += f" on your submission of {markup.moment(dt.datetime.fromisoformat(when))}"
    except (TypeError, ValueError, OverflowError):  # (not a date, or none a clock can show)
        pass
    if score is not None and most is not None:
        said += validation.escaped(f": {score:g} of {most:g} points so far")
    address = html.escape(FEEDBACK_ADDRESS.format(module=module), quote=True)
    return (f'<p class="allies-feedback-head" id="feedback" tabindex="-1"><b>Your feedback</b>{said}. '
            f'<a href="{address}" target="_blank" rel="noopener">Read it on a page of its own</a> '
            "(opens in a new tab).</p>"
            '<iframe class="allies-feedback-page" sandbox="" referrerpolicy="no-referrer" '
            'title="Your feedback on this module" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>')


def feedback_view(module: str) -> w.HTML:
    """The signed-in learner's feedback on `module`, shown once their facilitator has returned it."""
    view = w.HTML("")
    view.add_class("allies-feedback")
    current = answers()

    def show() -> None:
        try:
            found = returned_feedback(current.instance, current.learner, module)
            if found:
                view.value = feedback_html(*found, module)
        except Exception:  # a bug here must not take the module's Submit with it
            view.value = markup.status("Your feedback on this module is back, but it could not be shown here. "
                                       "Ask your facilitator for a copy.", False)

    if current.ready.is_set():
        show()
    else:  # a preheated kernel learns who its learner is when a page claims it
        threading.Thread(target=lambda: (current.ready.wait(), show()), daemon=True).start()
    return view


"""The dashboard page an instructor sees: the views (a chart or a sentence saying why there is none, and a
table each), the most-missed checks, a Refresh button, and a button that offers the charts shown as one ZIP
file to download. On the website it shows nothing unless the server says an instructor signed in."""
from __future__ import annotations

import datetime as dt
import os

from course.lesson import keepsake, markup, validation
from course.web.dashboard.drawing import VIEWS, draw
from course.web.dashboard.export import chart_files, charts_zip
from course.web.dashboard.formatting import pct, returned, table_html, tables
from course.web.dashboard.report import Report, people


def _no_chart(name: str, report: Report) -> str:
    """Why a view has no chart yet, in a sentence."""
    if name == "self-assessment":
        if any(row.paired for row in report.shift):
            return (f"No chart yet: it appears once at least {report.min_group} learners have answered a statement both "
                    "in the Orientation and in Module 6, so that no one's answers can be picked out.")
        if any(row.before for row in report.shift):
            return ("No chart yet: the shift appears once learners answer the self-assessment again in "
                    "Module 6. The table shows how many have answered so far.")
        return "No self-assessment answers yet."
    follow = report.follow_through
    module_7 = {"follow-through": (any(row.learners for row in follow.commitments),
                                   "No commitments marked done, partly or not yet in Module 7 yet."),
                "looking-back": (any(row.then.paired or row.now.paired for row in follow.looking_back),
                                 "No one has rated the self-assessment again in Module 7 yet.")}
    if name in module_7:
        answered, none_yet = module_7[name]
        return (f"No chart yet: it appears once at least {report.min_group} learners have answered in Module 7, so "
                "that no one's answers can be picked out." if answered else none_yet)
    return {"completion": "There are no modules with answer items in solutions/ yet.",
            "knowledge-checks": "No knowledge checks found in solutions/.",
            "reflection-words": "No reflections written yet."}[name]


def _signed_in_instructor(store_path: str) -> bool:
    """On the instructor site the server names who signed in; check the roster says instructor. As the hub's
    dashboard service, the server let in only the hub's instructors' group (HUB_INSTRUCTORS_ENV)."""
    from course.contract import HUB_INSTRUCTORS_ENV, LEARNER_ENV
    from course.store.answers import AnswerStore

    who = os.environ.get(LEARNER_ENV)
    if not who:
        return False
    if os.environ.get(HUB_INSTRUCTORS_ENV):
        return True
    with AnswerStore(store_path) as store:
        return any(p.learner_id == who and p.role == "instructor" for p in store.learners())


def _note(text: str, ok: bool = True):
    import ipywidgets as w

    return w.HTML(markup.status(text, ok, tag="p"))


def _sections(report: Report, drawn: dict) -> list:
    """The page's parts for `report`, with the charts `draw` drew of it."""
    import ipywidgets as w

    if report.empty:
        return [w.HTML('<div class="allies-dashboard-empty" role="status"><h2>No learners yet</h2>'
                       "<p>This cohort's roster has no learners, so there is nothing to count. Add them with "
                       "<code>python -m course cohort add-learners roster.csv --instance …</code>; the "
                       "dashboard fills in as they answer. Instructors are never counted.</p></div>")]
    out = []
    missed = [row for row in report.most_missed(3) if row.wrong]
    if missed:
        listed = "".join(f"<li><b>{validation.escaped(r.item)}</b> — {validation.escaped(r.prompt)} "
                         f"Missed by {r.wrong} of the {r.answered} who answered ({pct(r.wrong, r.answered)}).</li>"
                         for r in missed)
        out.append(w.HTML(f'<section class="allies-most-missed"><h2>Most missed checks</h2>'
                          f"<p>A good place to open the next session.</p><ol>{listed}</ol></section>"))
    views = tables(report)
    for name, (heading, _, _) in VIEWS.items():
        caption, columns, rows = views[name]
        parts = [w.HTML(f"<h2>{validation.escaped(heading)}</h2>")]
        if name == "follow-through":
            parts.append(w.HTML(f"<p>{validation.escaped(returned(report))}</p>"))
        parts.append(w.HTML(drawn[name].html()) if name in drawn else _note(_no_chart(name, report)))
        if rows:
            parts.append(w.HTML(table_html(caption, columns, rows)))
        box = w.VBox(parts)
        box.add_class("allies-dashboard-view")
        box.add_class(f"allies-view-{name}")
        out.append(box)
    return out


def show(instance_dir: str | os.PathLike[str] | None = None):
    """The dashboard for a notebook to show: the views, a Refresh button and a button that offers the charts
    (PNG files, each with its alt text) as one ZIP file to download.

    The cohort is the instance folder given, or the answer store the instructor site hands the kernel
    (ALLIES_STORE). On the website it shows nothing unless the server says
    an instructor signed in."""
    import ipywidgets as w

    from course.lesson.context import in_voila
    from course.contract import STORE_ENV
    from course.web.dashboard import build

    if instance_dir is not None:
        from course.instance import Instance

        store_path = str(Instance(instance_dir).store)
    else:
        store_path = os.environ.get(STORE_ENV, "")
    if not store_path:
        return _note("No cohort given: run this on the instructor site (python -m course instructor dashboard "
                     "--instance DIR), or call dashboard.show('/path/to/instance').", False)
    if in_voila() and not _signed_in_instructor(store_path):
        return _note("This dashboard is for the cohort's instructors only.", False)

    summary, body, status = w.HTML(), w.VBox(), w.HTML()
    refresh = w.Button(description="Refresh", icon="", layout=w.Layout(width="auto"))
    export = w.Button(description="Download the charts", layout=w.Layout(width="auto"))

    shown = {}  # the charts on the page now, by view: what "Download the charts" offers

    def update(_button=None):
        report = build(store_path)
        summary.value = (f"<p>{validation.escaped(people(report.learners))} on the roster "
                         f"(instructors not counted); read {markup.moment(report.read_at)}.</p>")
        shown.clear()
        shown.update(draw(report))
        body.children = _sections(report, shown)

    def save(_button):
        export.disabled = True
        try:
            files = chart_files(shown)
            charts = sorted(name.removesuffix(".png") for name in files if name.endswith(".png"))
            if charts:
                name = f"allies-dashboard-{dt.date.today().isoformat()}.zip"
                link = keepsake.download_link(name, charts_zip(files), "application/zip", "ZIP")
                status.value = (_note(f"{len(charts)} charts, each with its alt text: {', '.join(charts)}.").value
                                + f"<p>{link}</p>")
            else:
                status.value = _note("Nothing to save: the roster has no learners yet.").value
        except Exception as exc:  # said plainly on the page, never a traceback
            status.value = _note(f"Not saved: {exc}", False).value
        finally:
            export.disabled = False

    refresh.on_click(update)
    export.on_click(save)
    update()
    page = w.VBox([summary, w.HBox([refresh, export]), status, body])
    page.add_class("allies-dashboard")
    return page

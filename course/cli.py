"""The course's command line: `python -m course <command>`."""
from __future__ import annotations

import argparse
import sys


def _release(args) -> int:
    from course.grading import release

    if args.check:
        stale = release.stale()
        if stale:
            print("Stale learner notebooks (run `python -m course release`):", ", ".join(stale))
            return 1
        print("modules/ matches solutions/.")
        return 0
    for path in release.generate():
        print("wrote", path)
    return 0


def _charts(args) -> int:
    from course.web import chart_cache

    try:
        filled = chart_cache.fill(args.modules)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    for module, views in filled.items():
        print(f"{module}: {views} explorer views in the chart cache")
    if not filled:
        print("Every view of every module is in the chart cache already: nothing to draw.")
    return 0


def _serve(args) -> int:
    from course.web import site

    site.serve(port=args.port, open_browser=not args.no_browser, instance_dir=args.instance,
               pool_size=args.pool_size)
    return 0


def _cohort_serve(args) -> int:
    from course.web import cohort

    cohort.serve(args.instance, store_url=args.store_url, port=args.port, pool_size=args.pool_size,
                 behind_https=args.behind_https,
                 hsts=args.hsts, max_kernels=args.max_kernels, cull_idle=args.cull_idle,
                 cull_unattended=args.cull_unattended, ping_timeout=args.ping_timeout,
                 keep_free_mb=args.keep_free_mb,
                 start_slots=args.start_slots, check_feedback=args.check_feedback,
                 fork_kernels=not args.no_fork_kernels)
    return 0


def _store_url(text: str) -> str:
    from course.instance import check_store_url

    try:
        return check_store_url(text, "--store-url")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cohort_store(args):
    """The cohort's answer store (`--store-url`, once given, is kept in the instance folder)."""
    from course.instance import Instance
    from course.store.answers import AnswerStore

    return AnswerStore(Instance(args.instance, store_url=args.store_url).store)


def _cohort_add(args) -> int:
    import csv

    from course.store import roster

    try:
        people = roster.read(args.roster)
    except roster.RosterError as error:
        raise SystemExit(str(error)) from None
    with _cohort_store(args) as store:
        taken = sorted({p.learner_id for p in people} & {p.learner_id for p in store.learners()})
        if taken:
            raise SystemExit(f"{args.roster}: nothing was added; already on the cohort's roster: "
                             f"{', '.join(taken)} (take them out of the file; `cohort reset-code` gives one "
                             "person a new code)")
        if args.out:  # the codes are secrets: a file only its owner can read
            import os

            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            target = os.fdopen(fd, "w", encoding="utf-8", newline="")
        else:
            target = sys.stdout
        out = csv.writer(target)
        out.writerow(["learner_id", "display_name", "access_code"])
        for person in people:
            out.writerow([person.learner_id, person.display_name,
                          store.add_learner(person.learner_id, person.display_name, person.role)])
    if args.out:
        target.close()
    print(f"Added {len(people)} people. Give each their code privately; codes are stored only as hashes "
          "and cannot be shown again (use reset-code).", file=sys.stderr)
    return 0


def _cohort_reset(args) -> int:
    with _cohort_store(args) as store:
        print(store.reset_code(args.learner_id))
    return 0


def _cohort_withdraw(args) -> int:
    with _cohort_store(args) as store:
        store.withdraw(args.learner_id)
    print(f"{args.learner_id} can no longer sign in; their answers and submissions are kept.", file=sys.stderr)
    return 0


# -- instructor: one grading workflow for JupyterLab and the cohort site (course/grading/) -------------------

def _cards(args) -> int:
    from pathlib import Path

    from course.lesson import practice
    from course.paths import folder

    try:
        page = practice.print_page(args.role or None)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.out == "-":
        sys.stdout.write(page)
        return 0
    out = Path(args.out) if args.out else folder("docs") / practice.PAGE
    out.write_text(page, encoding="utf-8")
    print("wrote", out, "- open it in a browser and print it")
    return 0


def _limits(args) -> dict:
    return {key: getattr(args, key) for key in ("as_mb", "cpu_s", "fsize_mb", "nproc")
            if getattr(args, key, None) is not None}


def _instructor_init(args) -> int:
    from course.contract import COURSE_ID
    from course.grading import instructor
    from course.grading.schedule import duedates

    instructor.init(args.dir, roster=args.roster, course_id=args.course_id or COURSE_ID,
                    exchange=args.exchange, instance=args.instance, due=duedates(args.duedate),
                    opens=duedates(args.opens, "--opens"),
                    late_penalty=args.late_penalty, cell_timeout=args.cell_timeout,
                    notebook_timeout=args.notebook_timeout, limits=_limits(args), modules=args.module,
                    check=not args.no_check)
    return 0


def _instructor_collect(args) -> int:
    from course.grading import collecting
    from course.grading.schedule import duedates

    collecting.collect(args.dir, modules=args.modules or None, uploads=args.uploads,
                       due=duedates(args.duedate), allow_after_feedback=args.allow_after_feedback,
                       opens=duedates(args.opens, "--opens"))
    return 0


def _instructor_autograde(args) -> int:
    from course.grading import autograding

    results = autograding.autograde(args.dir, modules=args.modules or None, jobs=args.jobs,
                                    learners=args.learner or None, everything=args.all)
    return 0 if all(r.ok for r in results) else 1


def _instructor_feedback(args) -> int:
    from course.grading import feedback

    feedback.feedback(args.dir, modules=args.modules or None)
    return 0


def _instructor_export(args) -> int:
    from course.grading import grades

    print(f"wrote {grades.export(args.dir, args.out)} rows to {args.out}")
    return 0


def _instructor_dashboard(args) -> int:
    from course.web import instructor_site

    instructor_site.serve(args.instance, port=args.port)
    return 0


def _add_instructor(commands) -> None:
    inst = commands.add_parser("instructor", help="grade both answer paths with nbgrader: init, collect, "
                                                  "autograde, feedback, export")
    steps = inst.add_subparsers(dest="step", required=True)
    init = steps.add_parser("init", help="create a ready nbgrader course directory")
    init.add_argument("dir", help="the course directory (created if missing)")
    init.add_argument("--roster", help="CSV: learner_id, display_name[, role, email]; instructors are "
                                       "skipped (default with --instance: the cohort's roster)")
    init.add_argument("--course-id", default=None, help="nbgrader course id (default allies-in-tech)")
    init.add_argument("--exchange",
                      help="nbgrader exchange root (default: INSTANCE/exchange with --instance, "
                           "else DIR/exchange)")
    init.add_argument("--instance", help="the cohort site's instance folder: its exchange receives the "
                                         "site's submissions and its feedback/ folder gets each learner's")
    init.add_argument("--duedate", action="append", metavar="MODULE=WHEN",
                      help="a module's due date, e.g. 01-why-men-why-now='2025-03-01 17:00 UTC' (repeatable)")
    init.add_argument("--opens", action="append", metavar="MODULE=WHEN",
                      help="when a module opens on the cohort site's index, e.g. 07-four-weeks-on='2025-04-04 "
                           "09:00 UTC' (repeatable; needs --instance)")
    init.add_argument("--late-penalty", choices=["none", "zero"], default="none",
                      help="nbgrader's late penalty: none (flag only) or zero (late work scores 0)")
    init.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell when grading")
    init.add_argument("--notebook-timeout", type=int, default=600, help="seconds per notebook when grading")
    init.add_argument("--as-mb", type=int, help="grading kernel address space, MB (default 2048)")
    init.add_argument("--cpu-s", type=int, help="grading kernel CPU seconds (default 300)")
    init.add_argument("--fsize-mb", type=int, help="largest file a grading kernel may write, MB (default 64)")
    init.add_argument("--nproc", type=int, help="processes and threads per grading kernel (default 64)")
    init.add_argument("--module", action="append", help="only this module (repeatable; default: all)")
    init.add_argument("--no-check", action="store_true", help="skip the sandbox check (a probe kernel)")
    init.set_defaults(run=_instructor_init)
    col = steps.add_parser("collect", help="collect submissions from the exchange (both paths) and uploads")
    col.add_argument("dir")
    col.add_argument("modules", nargs="*", help="modules to collect (default: all)")
    col.add_argument("--uploads", help="a folder of uploaded files: <learner>/<module>.ipynb, each handed in "
                                       "at its file's modification time")
    col.add_argument("--duedate", action="append", metavar="MODULE=WHEN", help="set a module's due date")
    col.add_argument("--opens", action="append", metavar="MODULE=WHEN",
                     help="set when a module opens on the cohort site's index")
    col.add_argument("--allow-after-feedback", action="store_true",
                     help="take submissions made after the learner's feedback (held back by default)")
    col.set_defaults(run=_instructor_collect)
    auto = steps.add_parser("autograde", help="autograde collected submissions in parallel, sandboxed")
    auto.add_argument("dir")
    auto.add_argument("modules", nargs="*", help="modules to grade (default: all)")
    auto.add_argument("--jobs", "-j", type=int, help="parallel workers (default: twice the cores)")
    auto.add_argument("--learner", action="append", help="only this learner (repeatable)")
    auto.add_argument("--all", action="store_true",
                      help="grade every submission again, even unchanged ones (their hand grades are then "
                           "marked for review, as nbgrader does); by default only new, changed or failed ones")
    auto.set_defaults(run=_instructor_autograde)
    fb = steps.add_parser("feedback",
                          help="generate feedback; release it to the exchange and to the cohort site")
    fb.add_argument("dir")
    fb.add_argument("modules", nargs="*")
    fb.set_defaults(run=_instructor_feedback)
    ex = steps.add_parser("export", help="grades as CSV: learner, module, score, max, late penalty, ...")
    ex.add_argument("dir")
    ex.add_argument("--out", required=True, help="the CSV file to write")
    ex.set_defaults(run=_instructor_export)
    dash = steps.add_parser("dashboard", help="run the instructors' cohort dashboard (instructors sign in)")
    dash.add_argument("--instance", required=True, help="the cohort site's instance folder")
    dash.add_argument("--port", type=int, default=8867)
    dash.set_defaults(run=_instructor_dashboard)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rel = commands.add_parser("release", help="generate modules/ from solutions/ with nbgrader")
    rel.add_argument("--check", action="store_true", help="only report modules that are out of date")
    rel.set_defaults(run=_release)
    charts = commands.add_parser("charts", help="draw every view of every explorer into the chart cache, so no "
                                                "learner waits for a chart to be drawn (make serve runs it)")
    charts.add_argument("modules", nargs="*", metavar="MODULE",
                        help="only these modules, e.g. 01-why-men-why-now.ipynb (default: all)")
    charts.set_defaults(run=_charts)
    srv = commands.add_parser("serve", help="run the course website (Voilà) on 127.0.0.1")
    srv.add_argument("--port", type=int, default=8866, help="port to listen on (default 8866)")
    srv.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    srv.add_argument("--instance", help="private folder for saved answers (default: instance/)")
    srv.add_argument("--pool-size", type=int, default=1, help="preheated kernels per module (default 1)")
    srv.set_defaults(run=_serve)

    cohort = commands.add_parser("cohort", help="the hosted cohort site: sign-in, saved answers")
    steps = cohort.add_subparsers(dest="step", required=True)
    serve = steps.add_parser("serve", help="run the cohort site (sign-in required)")
    serve.add_argument("--instance", required=True, help="the cohort's private folder")
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument("--pool-size", type=int, default=3, help="preheated kernels per module (default 3)")
    serve.add_argument("--behind-https", action="store_true",
                       help="the site is reached through an HTTPS reverse proxy on this machine: cookies are "
                            "Secure, and the client's address (for sign-in limits) and scheme come from the "
                            "proxy's X-Forwarded-For and X-Forwarded-Proto")
    serve.add_argument("--max-kernels", type=int, default=0, metavar="N",
                       help="most learners' module pages open at once; past it a learner waits in line "
                            "(default: what 3/4 of this machine's memory holds, beside the preheated ones, at "
                            "64 MiB a forked kernel when the chart cache holds every view (python -m course "
                            "charts), else 120 MiB; 150 MiB a kernel started as a new process)")
    serve.add_argument("--keep-free-mb", type=int, default=0, metavar="MIB",
                       help="start no learner's kernel that would leave less memory than this available, "
                            "whatever the count (default 0: 5%% of this machine's memory)")
    serve.add_argument("--start-slots", type=int, default=0, metavar="N",
                       help="most learners' kernels starting at once; past it a learner waits in line (default: "
                            "4 per CPU core: much of a start-up is waiting, not CPU). Pool kernels start at most "
                            "one per core, only while nobody waits in line, not in the server's first 10 s "
                            "(after a restart, returning learners come first), and, for 10 s at most, not "
                            "while a learner's page starts a kernel or lays out one just served from a pool)")
    serve.add_argument("--cull-idle", type=int, default=600, metavar="SECONDS",
                       help="shut down kernels idle this long, e.g. of pages left open (default 600; 0: never)")
    serve.add_argument("--cull-unattended", type=int, default=60, metavar="SECONDS",
                       help="shut down a learner's kernel no page has been connected to this long, e.g. of a "
                            "browser that was killed or a laptop closed (default 60; 0: never)")
    serve.add_argument("--ping-timeout", type=int, default=20, metavar="SECONDS",
                       help="a page whose browser has answered no ping this long (a laptop closed, a network "
                            "gone) is no longer connected: its kernel ends after --cull-unattended more "
                            "(default 20, pinged every 5 s; 0: no pings)")
    serve.add_argument("--no-fork-kernels", action="store_true",
                       help="start every kernel as a new Python process, instead of forking it from a warm "
                            "process that has already imported what kernels need (the default, on Linux)")
    serve.add_argument("--hsts", type=int, default=0, metavar="SECONDS",
                       help="send Strict-Transport-Security with this max-age (use with --behind-https)")
    serve.add_argument("--check-feedback", choices=["after-answering", "after-grading"], default="after-grading",
                       help="when a knowledge check shows right or wrong and its explanation: as soon as the "
                            "learner answers, or only in the feedback after grading (default: after-grading, "
                            "so no key reaches a learner before their work is graded)")
    serve.set_defaults(run=_cohort_serve)
    add = steps.add_parser("add-learners", help="add people from a CSV roster; prints their access codes")
    add.add_argument("roster", help="CSV with columns learner_id, display_name and optional role, email")
    add.add_argument("--instance", required=True)
    add.add_argument("--out", help="write the codes to this file, readable only by you (default: print them)")
    add.set_defaults(run=_cohort_add)
    reset = steps.add_parser("reset-code", help="issue a new access code for one person (signs them out)")
    reset.add_argument("learner_id")
    reset.add_argument("--instance", required=True)
    reset.set_defaults(run=_cohort_reset)
    withdraw = steps.add_parser("withdraw", help="take one person off the site: their code stops working and "
                                                 "they are signed out; their answers are kept for grading")
    withdraw.add_argument("learner_id")
    withdraw.add_argument("--instance", required=True)
    withdraw.set_defaults(run=_cohort_withdraw)
    for step in (serve, add, reset, withdraw):
        step.add_argument("--store-url", metavar="URL", type=_store_url,
                          help="keep the answers in this PostgreSQL database (postgresql://user@host/db) instead "
                               "of the instance's SQLite file; remembered in the instance folder for later "
                               "commands (ALLIES_STORE_URL, if set, wins)")
    cards = commands.add_parser("cards", help="write the printable role and observer cards for live practice "
                                              "(default: docs/practice-cards.html)")
    cards.add_argument("--role", action="append", metavar="ROLE",
                       help="only this role's set, e.g. \"Code reviewer\" (repeat for several; default: all)")
    cards.add_argument("--out", help="where to write the page ('-' for standard output)")
    cards.set_defaults(run=_cards)
    _add_instructor(commands)
    args = parser.parse_args(argv)
    sys.exit(args.run(args))

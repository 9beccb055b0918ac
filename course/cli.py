"""The course's command line: `python -m course <command>`."""
from __future__ import annotations

import argparse
import sys


def _release(args) -> int:
    from . import release

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


def _serve(args) -> int:
    from . import site

    site.serve(port=args.port, open_browser=not args.no_browser, instance_dir=args.instance,
               pool_size=args.pool_size)
    return 0


def _cohort_serve(args) -> int:
    from . import cohort

    cohort.serve(args.instance, port=args.port, pool_size=args.pool_size)
    return 0


def _cohort_add(args) -> int:
    import csv

    from .instance import Instance
    from .store import AnswerStore

    with open(args.roster, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = csv.writer(sys.stdout)
    out.writerow(["learner_id", "display_name", "access_code"])
    with AnswerStore(Instance(args.instance).store) as store:
        for row in rows:
            code = store.add_learner(row["learner_id"].strip(), row.get("display_name", "").strip(),
                                     row.get("role", "").strip() or "learner")
            out.writerow([row["learner_id"].strip(), row.get("display_name", "").strip(), code])
    print(f"Added {len(rows)} people. Give each their code privately; codes are stored only as hashes "
          "and cannot be shown again (use reset-code).", file=sys.stderr)
    return 0


def _cohort_reset(args) -> int:
    from .instance import Instance
    from .store import AnswerStore

    with AnswerStore(Instance(args.instance).store) as store:
        print(store.reset_code(args.learner_id))
    return 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rel = commands.add_parser("release", help="generate modules/ from solutions/ with nbgrader")
    rel.add_argument("--check", action="store_true", help="only report modules that are out of date")
    rel.set_defaults(run=_release)
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
    serve.set_defaults(run=_cohort_serve)
    add = steps.add_parser("add-learners", help="add people from a CSV roster; prints their access codes")
    add.add_argument("roster", help="CSV with columns learner_id, display_name and optional role")
    add.add_argument("--instance", required=True)
    add.set_defaults(run=_cohort_add)
    reset = steps.add_parser("reset-code", help="issue a new access code for one person")
    reset.add_argument("learner_id")
    reset.add_argument("--instance", required=True)
    reset.set_defaults(run=_cohort_reset)
    args = parser.parse_args(argv)
    sys.exit(args.run(args))

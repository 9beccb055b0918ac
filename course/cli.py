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

    site.serve(port=args.port, open_browser=not args.no_browser)
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
    srv.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    sys.exit(args.run(args))

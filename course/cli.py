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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rel = commands.add_parser("release", help="generate modules/ from solutions/ with nbgrader")
    rel.add_argument("--check", action="store_true", help="only report modules that are out of date")
    rel.set_defaults(run=_release)
    args = parser.parse_args(argv)
    sys.exit(args.run(args))

"""Research tables from `data/`, each row tied to an entry of `data/sources.csv`."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from course.paths import folder


@dataclass(frozen=True)
class Source:
    source_id: str
    authors: str
    cite_as: str  # the short form: "Author (year)", "Author and Author (year)" or "Author et al. (year)"
    title: str
    publisher: str
    year: str
    url: str
    what_we_took: str
    confidence: str
    evidence_kind: str  # what kind of evidence (see `course.lesson.badges.KINDS`)
    strength: str       # how much weight it bears (see `course.lesson.badges.STRENGTHS`)

    def citation(self) -> str:
        """A one-line citation: authors, year, title, publisher, link."""
        return f"{self.authors} ({self.year}). {self.title}. {self.publisher}. {self.url}"


@lru_cache(maxsize=None)
def sources() -> dict[str, Source]:
    """Every source, by id."""
    with (folder("data") / "sources.csv").open(encoding="utf-8", newline="") as fh:
        return {row["source_id"]: Source(**row) for row in csv.DictReader(fh)}


@lru_cache(maxsize=None)
def table(name: str) -> tuple[dict[str, str], ...]:
    """The rows of `data/<name>.csv` as dicts of strings; a row without a known source is an error."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"Not a table name: {name!r}")
    with (folder("data") / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        rows = tuple(csv.DictReader(fh))
    known = sources()
    for row in rows:
        if row.get("source_id") not in known or row.get("read_in", "") not in ("", *known):
            raise ValueError(f"{name}.csv: row {row} names no known source")
    return rows


def cite(rows) -> list[Source]:
    """The distinct sources behind `rows`, in first-seen order."""
    seen: dict[str, Source] = {}
    for row in rows:
        seen.setdefault(row["source_id"], sources()[row["source_id"]])
    return list(seen.values())


def citation_line(rows) -> str:
    """The citations behind `rows` on one line, for a chart's caption (`markup.cited` shows it)."""
    return citations_of(row["source_id"] for row in rows)


def citations_of(source_ids) -> str:
    """The full citations of `source_ids` (each once, in order) on one line: a caption shows each as its short
    "Author (year)", the full reference a click away (`markup.cited`)."""
    return " | ".join(sources()[s].citation() for s in dict.fromkeys(source_ids))


def table_names() -> list[str]:
    """Every data table except the sources table."""
    return sorted(p.stem for p in folder("data").glob("*.csv") if p.stem != "sources")

"""What the cohort did, as counts: the rows of the dashboard's views and the report that holds them. Only
counts are kept here; no reflection text, no commitment or what a learner wrote about it, and no learner's
name."""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

BEFORE, AFTER = "00", "06"  # the self-assessment is taken in the Orientation and again in Module 6
FOLLOW_UP = "07"  # the return visit: commitments reviewed, the self-assessment rated "then" and "now"
# The self-assessment and the follow-through are private to each learner: their figures are shown only for
# groups of at least this many learners.
MIN_GROUP = 5
WORD_BINS = ((0, 49), (50, 99), (100, 199), (200, None))


@dataclass(frozen=True)
class CompletionRow:
    module: str
    label: str
    learners: int
    started: int  # answered at least one item
    answered_all: int  # answered every item of the module
    submitted: int  # submitted at least once

    @property
    def not_started(self) -> int:
        return self.learners - self.started


@dataclass(frozen=True)
class CheckRow:
    item: str
    module: str
    prompt: str
    correct: str | None
    learners: int
    answered: int
    right: int
    first_wrong: int  # learners whose first saved choice was not the correct one
    chosen: dict[str, int] = field(default_factory=dict)  # option letter -> learners whose answer it is now

    @property
    def wrong(self) -> int:
        return self.answered - self.right

    @property
    def unanswered(self) -> int:
        return self.learners - self.answered

    @property
    def common_wrong(self) -> str | None:
        """The wrong option most learners hold now, if any."""
        wrong = {k: n for k, n in self.chosen.items() if k != self.correct and n}
        return max(sorted(wrong), key=wrong.get) if wrong else None


@dataclass(frozen=True)
class ShiftRow:
    """One statement of the self-assessment across the cohort. Learners were told that nobody else sees
    their answers, so a mean or a count of moves is kept only for a group of at least the report's
    min_group learners (None otherwise): no one's answer can be picked out of it."""
    statement: str  # "s1", "s2", … (the item's suffix, the same in both modules)
    text: str
    before: int  # learners who answered it in the Orientation
    after: int  # … in Module 6
    before_mean: float | None
    after_mean: float | None
    paired: int  # answered both times
    up: int | None
    same: int | None
    down: int | None
    change: float | None  # the mean of (Module 6 - Orientation) over those who answered both
    levels: tuple[str, ...] = ()  # the answers, lowest first

    @property
    def shown(self) -> bool:
        return self.up is not None


@dataclass(frozen=True)
class LookingBack:
    """One statement rated again in Module 7: "then" (where learners now judge they started, by today's
    yardstick) against their Orientation answer, and "now" against "then"; each a ShiftRow, hidden below
    the report's min_group as the self-assessment's figures are."""
    then: ShiftRow  # before: the Orientation, after: Module 7's "then"
    now: ShiftRow  # before: Module 7's "then", after: Module 7's "now"


@dataclass(frozen=True)
class CommitmentRow:
    """Module 7's commitments of one kind of action that learners marked done, partly or not yet. The counts
    are None unless at least the report's min_group learners marked one of this kind; kinds held by fewer
    are counted together in one row (`kind` POOLED), hidden too if that group is still small."""
    kind: str  # an action id, "other", NO_KIND, or POOLED
    label: str
    learners: int  # learners with at least one marked commitment of this kind
    marked: int | None  # commitments marked
    done: int | None
    partly: int | None
    not_yet: int | None

    @property
    def shown(self) -> bool:
        return self.marked is not None


NO_KIND, POOLED, ALL_KINDS = "none", "pooled", "all"


@dataclass(frozen=True)
class FollowThrough:
    """Module 7 across the cohort: who came back, how far commitments got by kind of action, and the
    self-assessment looked back on. `returned` is None while fewer than min_group learners made a plan in
    Module 6."""
    planned: int  # learners who saved any part of their Module 6 plan: who have something to come back to
    returned: int | None  # of those, learners with a saved Module 7 answer
    returned_all: int  # every learner with a saved Module 7 answer (the completion view shows it too)
    commitments: list[CommitmentRow]  # by kind, then the pooled small kinds, then all kinds together
    looking_back: list[LookingBack]


@dataclass(frozen=True)
class WordRow:
    item: str
    module: str
    heading: str
    learners: int
    counts: tuple[int, ...]  # words per written reflection, sorted: no order that could name anyone

    @property
    def written(self) -> int:
        return len(self.counts)

    def quartiles(self) -> tuple[float, float, float] | None:
        if not self.counts:
            return None
        if len(self.counts) == 1:
            return (self.counts[0],) * 3
        q1, q2, q3 = statistics.quantiles(self.counts, n=4, method="inclusive")
        return q1, q2, q3

    def bins(self) -> list[int]:
        return [sum(1 for n in self.counts if n >= lo and (hi is None or n <= hi)) for lo, hi in WORD_BINS]


@dataclass(frozen=True)
class Report:
    read_at: dt.datetime
    learners: int
    instructors: int
    completion: list[CompletionRow]
    checks: list[CheckRow]
    shift: list[ShiftRow]
    words: list[WordRow]
    min_group: int = MIN_GROUP  # the self-assessment's and follow-through's figures: only for groups this large
    follow_through: FollowThrough = FollowThrough(0, None, 0, [], [])

    @property
    def empty(self) -> bool:
        return self.learners == 0

    def most_missed(self, n: int = 3) -> list[CheckRow]:
        """The checks most learners got wrong (of those who answered), most missed first."""
        answered = [row for row in self.checks if row.answered]
        return sorted(answered, key=lambda r: (-r.wrong / r.answered, -r.wrong, r.item))[:n]

    @property
    def source(self) -> str:
        return (f"this cohort's saved answers, read {self.read_at:%Y-%m-%d %H:%M} UTC; "
                f"{people(self.learners)} on the roster (instructors not counted)")


def people(n: int) -> str:
    return f"{n} learner{'s' if n != 1 else ''}"

"""The cohort's answers counted in the answer store, every module at once in one read transaction: each
learner's latest answer is read once into a TEMP table (answered or not, a check's letter, a reflection's
word count, a self-assessment score), and GROUP BY queries count from it; the time grows with the number of
answers, not with queries per learner per item. The same SQL counts on both of the store's back ends: on
PostgreSQL, the store hands it an in-memory SQLite copy of one snapshot (`AnswerStore.read`).

What counts as an answer is the course's own rule (`validation.letter` for a knowledge check, a reflection's
words, a self-assessment level): SQL reads the plain cases itself (a saved "b" that is option b) and hands
the rest to those rules, registered as SQL functions. Only counts come out: a reflection is read to count its
words and is never kept. Module 7's commitments are read for their mark and kind of action alone (an
action the course does not know counts as "other"): what a learner wrote about them is never read.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter, defaultdict

from course.contract import PLAN_PREFIX
from course.lesson import validation
from course.store.answers import CURRENT
from course.web.dashboard.report import (AFTER, ALL_KINDS, BEFORE, FOLLOW_UP, NO_KIND, POOLED, CheckRow,
                                         CommitmentRow, CompletionRow, FollowThrough, LookingBack, Report,
                                         ShiftRow, WordRow)
from course.web.dashboard.spec import Check, FollowThroughSpec, ModuleSpec, Statement, follow_through_spec


def _score(value: str, levels: tuple[str, ...]) -> float | None:
    """A saved self-assessment answer as its place on the statement's levels (1 = the first): the website
    saves the number; a level's words are read too. None for anything off the scale."""
    text = value.strip()
    words = [level.strip().lower() for level in levels]
    if text.isascii() and text.isdigit():
        number = int(text)
    elif text.lower() in words:
        number = words.index(text.lower()) + 1
    else:
        return None
    return float(number) if 1 <= number <= len(levels) or not levels else None


class _Rules:
    """The course's reading of one saved value, as SQL functions of (item, value)."""

    def __init__(self, spec: list[ModuleSpec], statements: list[Statement], follow: FollowThroughSpec) -> None:
        self.checks: dict[str, Check] = {check.item: check for module in spec for check in module.checks}
        self.levels = {statement.key: statement.levels for statement in statements}
        self.follow = follow

    def answered(self, item: str, value: str | None) -> int:
        if value is None or not value.strip():
            return 0
        check = self.checks.get(item)
        if check and check.options:
            return int(validation.letter(value) in check.options)
        return 1

    @staticmethod
    def words(value: str) -> int:
        return len(value.split())

    def self_score(self, key: str | None, value: str) -> float | None:
        return None if key is None else _score(value, self.levels.get(key, ()))

    def kind(self, value: str | None) -> str:
        """A commitment's kind of action: an action the course knows, else "other"; NO_KIND if none given."""
        text = (value or "").strip()
        return text if text in self.follow.kinds else self.follow.other if text else NO_KIND

    def functions(self) -> dict:
        return {"allies_answered": self.answered, "allies_letter": validation.letter, "allies_words": self.words,
                "allies_self_score": self.self_score, "allies_status": self.follow.status,
                "allies_kind": self.kind}


# Each answer item of the course: its module, kind ("check", "reflection" or "item") and a check's correct
# letter; each check's options, with the saved bytes that plainly are one (b"b" for "b"); each statement's
# levels as the website saves them (b"2" for the second); the rounds of the self-assessment, each an item
# prefix in a module ("m00" in the Orientation, "m07-then" in Module 7); and Module 7's commitment items.
_TABLES = ("""CREATE TEMP TABLE allies_kinds (module TEXT, item TEXT, kind TEXT, correct TEXT,
                                         PRIMARY KEY (module, item))""",
           """CREATE TEMP TABLE allies_options (module TEXT, item TEXT, option TEXT, answer BLOB,
                                           PRIMARY KEY (module, item, option))""",
           "CREATE INDEX temp.allies_options_by_answer ON allies_options (module, item, answer)",
           "CREATE TEMP TABLE allies_levels (key TEXT, answer BLOB, score REAL, PRIMARY KEY (key, answer))",
           "CREATE TEMP TABLE allies_rounds (module TEXT, round TEXT, PRIMARY KEY (module, round))",
           "CREATE TEMP TABLE allies_commitment_items (status TEXT PRIMARY KEY, action TEXT)")
_DROP = tuple(f"DROP TABLE IF EXISTS temp.{name}"
              for name in ("allies_current", "allies_kinds", "allies_options", "allies_levels", "allies_rounds",
                           "allies_commitment_items", "allies_commitments"))

# A check's saved answer as a letter: read in SQL when it is plainly an option, else by `validation.letter`.
_LETTER = """COALESCE((SELECT o.option FROM allies_options AS o WHERE o.module = {a}.module AND o.item = {a}.item
                     AND o.answer = {a}.value), allies_letter({a}.value))"""
_IS_OPTION = """EXISTS (SELECT 1 FROM allies_options AS o WHERE o.module = {a}.module AND o.item = {a}.item
                     AND o.option = {letter})"""

# The learners' latest answers, each read once by the course's rules (instructors are never counted):
# answered or not, and a check's letter, a reflection's words, a self-assessment statement's round and score.
# What SQL can read exactly it reads (item ids are ASCII by the store's grammar, so GLOB matches
# contract.SELF_ID); the rest goes to the course's Python rules (`_Rules`), registered as SQL functions.
_CURRENT = f"""CREATE TEMP TABLE allies_current AS
SELECT learner, module, item, revision, kind, letter, words, self_round, self_key, score,
       CASE kind WHEN 'check' THEN {_IS_OPTION.format(a="read", letter="letter")}
                 WHEN 'reflection' THEN words > 0
                 ELSE score IS NOT NULL OR allies_answered(item, value) END AS ok
FROM (SELECT *, CASE WHEN self_key IS NOT NULL THEN COALESCE(
                    (SELECT l.score FROM allies_levels AS l WHERE l.key = keyed.self_key AND l.answer = keyed.value),
                    allies_self_score(self_key, value)) END AS score
      FROM (SELECT c.learner, c.module, c.item, c.revision, c.value, k.kind,
                   CASE k.kind WHEN 'check' THEN {_LETTER.format(a="c")} END AS letter,
                   CASE k.kind WHEN 'reflection' THEN allies_words(c.value) END AS words,
                   r.round AS self_round,
                   CASE WHEN r.round IS NOT NULL THEN 's' || substr(c.item, length(r.round) + 3) END AS self_key
            FROM {CURRENT} AS c LEFT JOIN allies_kinds AS k ON k.module = c.module AND k.item = c.item
            LEFT JOIN allies_rounds AS r ON r.module = c.module AND c.item GLOB r.round || '-s[0-9]*'
                 AND substr(c.item, length(r.round) + 3) NOT GLOB '*[^0-9]*'
            WHERE c.role = 'learner' LIMIT -1) AS keyed LIMIT -1) AS read"""

_COMPLETION = """SELECT module, SUM(started),
       SUM(done = (SELECT COUNT(*) FROM allies_kinds AS k WHERE k.module = per_learner.module))
FROM (SELECT module, learner, MAX(ok) AS started, SUM(ok AND kind IS NOT NULL) AS done FROM allies_current
      GROUP BY module, learner) AS per_learner
GROUP BY module"""

_SUBMITTED = """SELECT submissions.module, COUNT(DISTINCT submissions.learner) FROM submissions
JOIN learners ON learners.id = submissions.learner WHERE learners.role = 'learner' GROUP BY submissions.module"""

_CHOSEN = """SELECT module, item, letter, COUNT(*) FROM allies_current WHERE kind = 'check' AND ok
GROUP BY module, item, letter"""

# Learners answering a check now whose first answered revision was not its correct letter: the latest
# answer when it is the first revision, else the earliest answered one in the history.
_FIRST_WRONG = f"""SELECT c.module, c.item, COUNT(*) FROM allies_current AS c
JOIN allies_kinds AS k ON k.module = c.module AND k.item = c.item
WHERE c.kind = 'check' AND c.ok AND (CASE WHEN c.revision = 1 THEN c.letter ELSE (
    SELECT letter FROM (SELECT a.revision, {_LETTER.format(a="a")} AS letter FROM answers AS a
                        WHERE a.learner = c.learner AND a.module = c.module AND a.item = c.item) AS history
    WHERE {_IS_OPTION.format(a="c", letter="history.letter")} ORDER BY history.revision LIMIT 1) END) IS NOT k.correct
GROUP BY c.module, c.item"""

_WORDS = """SELECT module, item, words, COUNT(*) FROM allies_current WHERE kind = 'reflection' AND words > 0
GROUP BY module, item, words"""

# One round of the self-assessment against another (:before and :after, such as "m00" and "m06").
_SHIFT = """WITH scores AS MATERIALIZED (
    SELECT learner, self_round AS round, self_key AS key, score FROM allies_current
    WHERE score IS NOT NULL AND self_round IN (:before, :after))
SELECT key, round = :before, COUNT(*), AVG(score), NULL, NULL, NULL, NULL FROM scores GROUP BY key, round
UNION ALL
SELECT b.key, NULL, COUNT(*), NULL, SUM(a.score > b.score), SUM(a.score = b.score), SUM(a.score < b.score),
       AVG(a.score - b.score)
FROM scores AS b JOIN scores AS a ON a.learner = b.learner AND a.key = b.key
WHERE b.round = :before AND a.round = :after GROUP BY b.key"""

# Module 7's commitments that learners marked (done, partly, not yet), each with its kind of action: only the
# mark and the kind are read, never what a learner wrote.
_COMMITMENTS = f"""CREATE TEMP TABLE allies_commitments AS
SELECT learner, status, allies_kind(action) AS kind
FROM (SELECT s.learner, allies_status(s.value) AS status, a.value AS action
      FROM allies_commitment_items AS i
      JOIN {CURRENT} AS s ON s.module = :follow_up AND s.item = i.status AND s.role = 'learner'
      LEFT JOIN {CURRENT} AS a ON a.learner = s.learner AND a.module = :follow_up AND a.item = i.action
      LIMIT -1) AS marked
WHERE status IS NOT NULL"""
_BY_KIND = "SELECT kind, status, COUNT(*) FROM allies_commitments GROUP BY kind, status"
# How many learners hold each set of kinds: how many learners any set of kinds holds, with no one named.
_KINDS_HELD = """SELECT kinds, COUNT(*) FROM (SELECT group_concat(DISTINCT kind) AS kinds FROM allies_commitments
                                          GROUP BY learner) GROUP BY kinds"""

# Learners who made a plan in Module 6 (saved any part of it: those who have something to come back to), how
# many of them saved an answer in Module 7, and how many learners in all did.
_RETURNED = """WITH planned AS (SELECT DISTINCT learner FROM allies_current
                        WHERE module = :plan AND ok AND item GLOB :plan_items),
back AS (SELECT DISTINCT learner FROM allies_current WHERE module = :follow_up AND ok)
SELECT (SELECT COUNT(*) FROM planned), (SELECT COUNT(*) FROM planned JOIN back USING (learner)),
       (SELECT COUNT(*) FROM back)"""


def collect(store, spec: list[ModuleSpec], statements: list[Statement], min_group: int,
            now: dt.datetime | None = None) -> Report:
    """Count what the learners on `store`'s roster have done in each module of `spec`."""
    rules = _Rules(spec, statements, follow_through_spec())
    kinds, options = [], []
    for module in spec:
        reflections = {item for item, _ in module.reflections}
        for item in module.items:
            check = rules.checks.get(item)
            if check and check.options:
                kinds.append((module.name, item, "check", check.correct))
                options += [(module.name, item, option,
                             option.encode("utf-8") if validation.letter(option) == option else None)
                            for option in check.options]
            else:  # a check without options counts any text, as any other item does
                kinds.append((module.name, item, "reflection" if item in reflections else "item", None))
    levels = [(key, str(n).encode(), float(n)) for key, named in rules.levels.items()
              for n in range(1, len(named) + 1) if _score(str(n), named) == n]
    by_number = {module.number: module.name for module in spec}
    # A module the spec lacks matches no saved answer.
    before, after, follow_up = (by_number.get(number, "") for number in (BEFORE, AFTER, FOLLOW_UP))
    then = rules.follow.then_prefix
    rounds = [(before, f"m{BEFORE}"), (after, f"m{AFTER}"), (follow_up, f"m{FOLLOW_UP}"), (follow_up, then)]
    compared = {"shift": (f"m{BEFORE}", f"m{AFTER}"), "then": (f"m{BEFORE}", then), "now": (then, f"m{FOLLOW_UP}")}
    modules = {"follow_up": follow_up, "plan": after, "plan_items": PLAN_PREFIX + "*"}

    def read(conn: sqlite3.Connection) -> dict:
        for statement in _DROP:
            conn.execute(statement)
        try:
            for statement in _TABLES:
                conn.execute(statement)
            conn.executemany("INSERT OR IGNORE INTO allies_kinds VALUES (?, ?, ?, ?)", kinds)
            conn.executemany("INSERT OR IGNORE INTO allies_options VALUES (?, ?, ?, ?)", options)
            conn.executemany("INSERT OR IGNORE INTO allies_levels VALUES (?, ?, ?)", levels)
            conn.executemany("INSERT OR IGNORE INTO allies_rounds VALUES (?, ?)", rounds)
            conn.executemany("INSERT OR IGNORE INTO allies_commitment_items VALUES (?, ?)", rules.follow.items)
            conn.execute(_CURRENT)
            conn.execute(_COMMITMENTS, modules)
            return {
                "roles": dict(conn.execute("SELECT role, COUNT(*) FROM learners GROUP BY role").fetchall()),
                "completion": {m: (s, a) for m, s, a in conn.execute(_COMPLETION)},
                "submitted": dict(conn.execute(_SUBMITTED).fetchall()),
                "chosen": conn.execute(_CHOSEN).fetchall(),
                "first_wrong": {(m, i): n for m, i, n in conn.execute(_FIRST_WRONG)},
                "words": conn.execute(_WORDS).fetchall(),
                **{name: conn.execute(_SHIFT, {"before": b, "after": a}).fetchall()
                   for name, (b, a) in compared.items()},
                "by_kind": conn.execute(_BY_KIND).fetchall(),
                "kinds_held": conn.execute(_KINDS_HELD).fetchall(),
                "returned": conn.execute(_RETURNED, modules).fetchone(),
            }
        finally:
            for statement in _DROP:
                conn.execute(statement)

    # A check's first answer is read from its history; only checks' histories are read (on PostgreSQL, copied).
    counted = store.read(read, rules.functions(), [(m, item) for m, item, kind, _ in kinds if kind == "check"])
    n = counted["roles"].get("learner", 0)
    chosen: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for module, item, letter, count in counted["chosen"]:
        chosen[(module, item)][letter] = count
    words: dict[tuple[str, str], list[int]] = defaultdict(list)
    for module, item, length, count in counted["words"]:
        words[(module, item)] += [length] * count

    completion, check_rows, word_rows = [], [], []
    for module in spec:
        started, answered_all = counted["completion"].get(module.name, (0, 0))
        submitted = counted["submitted"].get(module.name, 0)
        if module.items or submitted:
            completion.append(CompletionRow(module.name, module.label, n, started,
                                            answered_all if module.items else 0, submitted))
        for check in module.checks:
            held = chosen[(module.name, check.item)]
            counts = {key: held.get(key, 0) for key in check.options}
            answered = sum(counts.values())
            check_rows.append(CheckRow(check.item, module.name, check.prompt, check.correct, n, answered,
                                       counts.get(check.correct, 0) if check.correct else 0,
                                       counted["first_wrong"].get((module.name, check.item), 0), counts))
        for item, heading in module.reflections:
            word_rows.append(WordRow(item, module.name, heading, n, tuple(sorted(words[(module.name, item)]))))

    instructors = counted["roles"].get("instructor", 0)
    planned, returned, returned_all = counted["returned"]
    then, since = ({row.statement: row for row in _shift(counted[name], statements, min_group)}
                   for name in ("then", "now"))
    follow = FollowThrough(planned, returned if planned >= min_group else None, returned_all,
                           _commitments(counted["by_kind"], counted["kinds_held"], rules.follow, min_group),
                           [LookingBack(then[key], since[key]) for key in then if key in since])
    return Report(now or dt.datetime.now(dt.timezone.utc), n, instructors, completion, check_rows,
                  _shift(counted["shift"], statements, min_group), word_rows, min_group, follow)


def _commitments(by_kind: list[tuple], kinds_held: list[tuple], follow: FollowThroughSpec,
                 min_group: int) -> list[CommitmentRow]:
    """A row for each kind of action held by at least `min_group` learners; the smaller kinds together in one
    row, made up to `min_group` learners with the next smallest kinds when it falls short (else the total
    less the rows shown would give its counts away); then all kinds together."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for kind, status, count in by_kind:
        counts[kind][status] += count
    held = [(frozenset(kinds.split(",")), count) for kinds, count in kinds_held]

    def learners(kinds: set[str]) -> int:
        return sum(count for them, count in held if them & kinds)

    order = [*follow.kinds, NO_KIND]
    present = sorted(counts, key=lambda k: order.index(k) if k in order else len(order))
    small = {kind for kind in present if learners({kind}) < min_group}
    large = sorted((kind for kind in present if kind not in small), key=lambda k: (learners({k}), present.index(k)))
    while small and learners(small) < min_group and large:
        small.add(large.pop(0))

    def row(kind: str, label: str, kinds: set[str]) -> CommitmentRow:
        marks = sum((counts[k] for k in kinds), Counter())
        group = learners(kinds)
        shown = (sum(marks.values()), marks["done"], marks["partly"], marks["not-yet"])
        return CommitmentRow(kind, label, group, *(shown if group >= min_group else (None,) * 4))

    names = follow.kinds | {NO_KIND: "Kind of action not given"}
    rows = [row(kind, names.get(kind, kind), {kind}) for kind in present if kind not in small]
    if small:
        rows.append(row(POOLED, "Smaller kinds together", small))
    if present:
        rows.append(row(ALL_KINDS, "All kinds", set(present)))
    return rows


def _shift(counted: list[tuple], statements: list[Statement], min_group: int) -> list[ShiftRow]:
    known = {statement.key: statement for statement in statements}
    before, after, pairs = {}, {}, {}
    for key, is_before, count, mean, up, same, down, change in counted:
        if is_before is None:
            pairs[key] = (count, up, same, down, change)
        else:
            (before if is_before else after)[key] = (count, mean)
    rows = []
    for key in sorted(set(known) | set(before) | set(after),
                      key=lambda k: (int(k[1:]) if k[1:].isdigit() else 0, k)):
        (b, b_mean), (a, a_mean) = before.get(key, (0, None)), after.get(key, (0, None))
        paired, *moves = pairs.get(key, (0, None, None, None, None))
        statement = known.get(key, Statement(key, f"Statement {key[1:]}", ()))
        rows.append(ShiftRow(key, statement.text, b, a, b_mean if b >= min_group else None,
                             a_mean if a >= min_group else None, paired,
                             *(moves if paired >= min_group else (None,) * 4), statement.levels))
    return rows

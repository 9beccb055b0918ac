"""Behind the veil (Module 5): choose workplace rules without knowing who you will be, then draw who you are.

An illustrative, seeded model, not a measurement. Who you might be follows `data/veil_population.csv`:
seniority first, then gender (women's share of US computing jobs below the top, of Fortune 500 CEOs at the
top), race and caring duties; weights with no figure in our sources are labelled illustrative there. What
the rules do follows `data/veil_effects.csv`: each row multiplies one outcome for the people it names — a
checked figure where we have one (the broken rung), an illustrative assumption elsewhere, each row pointing
at the source that motivates it. Rows that name the same person multiply.

Four outcomes, each on a scale where 100 is what a person would get if only their work counted:
- promotion chances and a hearing in meetings are *shared* (a fixed number of seats, a fixed number of
  minutes), so they are scaled to average 100 over everyone: when some people are held back, the rest gain
  a little, and no rule changes the average;
- time for life outside work and pay for the same work are not shared: 100 is the most anyone gets.
A person's overall score is the plain mean of the four (equal weights: an assumption).

The model is pure: the same seed always draws the same person, and the same rules give the same outcome.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from numbers import Integral

ATTRIBUTES = ("seniority", "gender", "race", "caring")  # drawn in this order
OUTCOMES = {
    "promotion": "Promotion chances",
    "voice": "Heard in meetings",
    "time": "Time for life outside work",
    "pay": "Pay for the same work",
}
MEANING = {  # what 100 means on each outcome's scale
    "promotion": "an even chance",
    "voice": "an even hearing",
    "time": "the time your life needs",
    "pay": "equal pay for equal work",
}
SHARED = ("promotion", "voice")
TOLERANCE = 0.5  # points of the overall score: closer choices count as making no real difference to someone

Condition = tuple[tuple[str, frozenset], ...]


@dataclass(frozen=True)
class Identity:
    """One person the veil can hide: a value for each of ATTRIBUTES."""

    seniority: str
    gender: str
    race: str
    caring: str

    def fields(self) -> dict[str, str]:
        return {a: getattr(self, a) for a in ATTRIBUTES}


@dataclass(frozen=True)
class Option:
    rule: str
    rule_label: str
    option: str
    label: str
    description: str
    source_id: str
    confidence: str


@dataclass(frozen=True)
class Effect:
    """One row of the effects table: under `rule` = `option`, `outcome` is multiplied by `factor` for `who`."""

    rule: str
    option: str
    outcome: str
    who: Condition
    who_text: str
    factor: float
    story: str
    source_id: str
    confidence: str


@dataclass(frozen=True)
class Outcome:
    """How one set of rules treats one person: a score per outcome (100 = as if only the work counted)
    and the effect rows that applied to them."""

    identity: Identity
    rules: tuple[tuple[str, str], ...]
    scores: dict
    effects: tuple[Effect, ...]

    @property
    def overall(self) -> float:
        return sum(self.scores.values()) / len(self.scores)


@dataclass(frozen=True)
class Choice:
    """The rules one way of choosing picks: `rules` (one concrete set) and, per rule, every option that
    does about as well (`equally_good`); with the worst-off person's and the average overall score."""

    criterion: str
    rules: dict
    equally_good: dict
    score: float
    worst: float
    average: float
    worst_person: Identity


def _text(row: Mapping, key: str, where: str) -> str:
    value = str(row.get(key) or "").strip()
    if not value:
        raise ValueError(f"{where}: {key} is empty")
    return value


def _positive(value, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{where}: {value!r} must be a positive number")
    return number


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, got {value}")
    return int(value)


def _matches(condition: Condition, person: Mapping[str, str]) -> bool:
    return all(person.get(attribute) in allowed for attribute, allowed in condition)


class Model:
    """The rules on offer, who you might be, and what each rule does to whom; built from table rows."""

    def __init__(self, rules: Iterable[Mapping], population: Iterable[Mapping], effects: Iterable[Mapping]):
        self.rules = self._rules(list(rules))
        self.values, self.phrases, self.groups, self.population_rows = self._population(list(population))
        self.people = self._people()
        self.effects = self._effects(list(effects))
        self._factors = self._factor_table()
        self._shared_means: dict[tuple, dict[str, float]] = {}
        self._grid: dict | None = None

    # -- reading the tables ---------------------------------------------------------------------------------
    @staticmethod
    def _rules(rows) -> dict[str, dict]:
        rules: dict[str, dict] = {}
        for number, row in enumerate(rows, start=1):
            where = f"rules row {number}"
            rule, option = _text(row, "rule", where), _text(row, "option", where)
            entry = rules.setdefault(rule, {"label": _text(row, "rule_label", where), "options": {}})
            if option in entry["options"]:
                raise ValueError(f"{where}: rule {rule!r} lists option {option!r} twice")
            entry["options"][option] = Option(rule, entry["label"], option, _text(row, "option_label", where),
                                              _text(row, "description", where), str(row.get("source_id", "")),
                                              str(row.get("confidence", "")))
        if not rules:
            raise ValueError("no rules: the rules table is empty")
        for rule, entry in rules.items():
            if len(entry["options"]) < 2:
                raise ValueError(f"rule {rule!r} needs at least two options to choose between")
        return rules

    def _condition(self, text: str, where: str, values: dict[str, list[str]], allowed: Iterable[str]) -> Condition:
        allowed = tuple(allowed)
        clauses = []
        for part in filter(None, (p.strip() for p in str(text or "").split(";"))):
            attribute, sep, listed = part.partition("=")
            attribute = attribute.strip()
            if not sep or attribute not in allowed:
                raise ValueError(f"{where}: {part!r} must read attribute=value, with attribute one of "
                                 f"{', '.join(allowed) or '(none: this attribute is drawn first)'}")
            chosen = frozenset(v.strip() for v in listed.split("|"))
            unknown = sorted(chosen - set(values.get(attribute, ())))
            if unknown:
                raise ValueError(f"{where}: {attribute} has no value {unknown[0]!r}; its values are "
                                 f"{', '.join(values.get(attribute, []))}")
            clauses.append((attribute, chosen))
        return tuple(clauses)

    def _population(self, rows):
        values: dict[str, list[str]] = {a: [] for a in ATTRIBUTES}
        phrases: dict[tuple[str, str], str] = {}
        for number, row in enumerate(rows, start=1):
            where = f"population row {number}"
            attribute = _text(row, "attribute", where)
            if attribute not in values:
                raise ValueError(f"{where}: unknown attribute {attribute!r}; the attributes are {', '.join(ATTRIBUTES)}")
            value = _text(row, "value", where)
            if value not in values[attribute]:
                values[attribute].append(value)
            phrases[(attribute, value)] = str(row.get("phrase") or "").strip()
        for attribute, listed in values.items():
            if not listed:
                raise ValueError(f"the population table gives no values for {attribute}")
        groups: dict[str, list[tuple[Condition, dict[str, float]]]] = {a: [] for a in ATTRIBUTES}
        for number, row in enumerate(rows, start=1):
            where = f"population row {number}"
            attribute = row["attribute"].strip()
            earlier = ATTRIBUTES[:ATTRIBUTES.index(attribute)]
            when = self._condition(row.get("when", ""), where, values, earlier)
            group = next((g for c, g in groups[attribute] if c == when), None)
            if group is None:
                group = {}
                groups[attribute].append((when, group))
            group[row["value"].strip()] = _positive(row.get("weight"), f"{where} weight")
        return values, phrases, groups, tuple(rows)

    def _weights(self, attribute: str, partial: Mapping[str, str]) -> dict[str, float]:
        found = [group for when, group in self.groups[attribute] if _matches(when, partial)]
        if len(found) != 1:
            said = ", ".join(f"{k}={v}" for k, v in partial.items()) or "anyone"
            raise ValueError(f"the population table gives {len(found)} sets of {attribute} weights for "
                             f"{said}: it must give exactly one")
        return found[0]

    def _people(self) -> tuple[tuple[Identity, float], ...]:
        people = [({}, 1.0)]
        for attribute in ATTRIBUTES:
            grown = []
            for partial, p in people:
                weights = self._weights(attribute, partial)
                total = sum(weights.values())
                grown += [({**partial, attribute: v}, p * w / total) for v, w in weights.items()]
            people = grown
        return tuple((Identity(**fields), p) for fields, p in people)

    def _effects(self, rows) -> tuple[Effect, ...]:
        effects = []
        for number, row in enumerate(rows, start=1):
            where = f"effects row {number}"
            rule, option = _text(row, "rule", where), _text(row, "option", where)
            if rule not in self.rules:
                raise ValueError(f"{where}: unknown rule {rule!r}; the rules are {', '.join(self.rules)}")
            if option not in self.rules[rule]["options"]:
                raise ValueError(f"{where}: {option!r} is not an option of {rule!r}")
            outcome = _text(row, "outcome", where)
            if outcome not in OUTCOMES:
                raise ValueError(f"{where}: unknown outcome {outcome!r}; the outcomes are {', '.join(OUTCOMES)}")
            who_text = str(row.get("who") or "").strip()
            effects.append(Effect(rule, option, outcome, self._condition(who_text, where, self.values, ATTRIBUTES),
                                  who_text, _positive(row.get("factor"), f"{where} factor"),
                                  _text(row, "story", where), str(row.get("source_id", "")),
                                  str(row.get("confidence", ""))))
        return tuple(effects)

    def _factor_table(self) -> dict:
        """For every option, every person and every outcome, the product of the factors that apply."""
        table = {}
        for rule, entry in self.rules.items():
            for option in entry["options"]:
                mine = [e for e in self.effects if (e.rule, e.option) == (rule, option)]
                table[(rule, option)] = [
                    {o: math.prod(e.factor for e in mine if e.outcome == o and _matches(e.who, person.fields()))
                     for o in OUTCOMES} for person, _ in self.people]
        return table

    # -- the rules ------------------------------------------------------------------------------------------
    def check_rules(self, rules) -> dict[str, str]:
        """The chosen rules as {rule: option}, refused with a plain message unless there is exactly one
        known option for every rule."""
        if not isinstance(rules, Mapping):
            raise TypeError(f"rules must map each rule to an option, for example {self.example()}; "
                            f"got {type(rules).__name__}")
        unknown = [r for r in rules if r not in self.rules]
        if unknown:
            raise ValueError(f"unknown rule {unknown[0]!r}: the rules are {', '.join(self.rules)}")
        missing = [self.rules[r]["label"].lower() for r in self.rules if rules.get(r) is None]
        if missing:
            raise ValueError(f"choose an option for every rule first; still to choose: {', '.join(missing)}")
        for rule, option in rules.items():
            options = self.rules[rule]["options"]
            if not isinstance(option, str) or option not in options:
                raise ValueError(f"{option!r} is not an option for {self.rules[rule]['label'].lower()}: "
                                 f"choose one of {', '.join(options)}")
        return {rule: rules[rule] for rule in self.rules}

    def example(self) -> dict[str, str]:
        return {rule: next(iter(entry["options"])) for rule, entry in self.rules.items()}

    def combinations(self) -> list[dict[str, str]]:
        """Every possible set of rules."""
        names = list(self.rules)
        return [dict(zip(names, chosen)) for chosen in product(*(self.rules[r]["options"] for r in names))]

    # -- who you are --------------------------------------------------------------------------------------
    def draw(self, seed: int) -> Identity:
        """The person behind the veil for `seed`: each attribute drawn by its weights, in order."""
        rng = random.Random(_whole(seed, "seed"))
        partial: dict[str, str] = {}
        for attribute in ATTRIBUTES:
            weights = self._weights(attribute, partial)
            point, running = rng.random() * sum(weights.values()), 0.0
            chosen = list(weights)[-1]
            for value, weight in weights.items():
                running += weight
                if point < running:
                    chosen = value
                    break
            partial[attribute] = chosen
        return Identity(**partial)

    def probability(self, identity: Identity) -> float:
        """How likely the veil is to hide this person."""
        return next((p for person, p in self.people if person == identity), 0.0)

    def check_identity(self, identity: Identity) -> Identity:
        if not isinstance(identity, Identity):
            raise TypeError(f"identity must be an Identity, got {type(identity).__name__}")
        for attribute in ATTRIBUTES:
            if getattr(identity, attribute) not in self.values[attribute]:
                raise ValueError(f"{attribute} {getattr(identity, attribute)!r} is not in the model; its values "
                                 f"are {', '.join(self.values[attribute])}")
        return identity

    def describe(self, identity: Identity) -> str:
        """For example 'a Black woman in an early-career role, with a new child this year'."""
        phrase = {a: self.phrases.get((a, getattr(identity, a)), "") for a in ATTRIBUTES}
        who = " ".join(filter(None, [phrase["race"], phrase["gender"] or identity.gender.lower()]))
        where = phrase["seniority"] or identity.seniority.lower()
        care = phrase["caring"] or identity.caring.lower()
        return f"a {who} {where}, {care}"

    # -- outcomes ---------------------------------------------------------------------------------------------
    def _raw(self, rules: Mapping[str, str], index: int) -> dict[str, float]:
        raw = {o: 1.0 for o in OUTCOMES}
        for rule, option in rules.items():
            for o, f in self._factors[(rule, option)][index].items():
                raw[o] *= f
        return raw

    def _means(self, key: tuple) -> dict[str, float]:
        """The population's mean raw value of each shared outcome under the rules `key` (kept: it is reused)."""
        if key not in self._shared_means:
            rules = dict(key)
            raws = [self._raw(rules, i) for i in range(len(self.people))]
            self._shared_means[key] = {o: sum(p * r[o] for (_, p), r in zip(self.people, raws)) for o in SHARED}
        return self._shared_means[key]

    def _scores(self, rules: Mapping[str, str], index: int) -> dict[str, float]:
        raw, means = self._raw(rules, index), self._means(tuple(rules.items()))
        return {o: 100 * (raw[o] / means[o] if o in SHARED else raw[o]) for o in OUTCOMES}

    def outcome(self, rules, identity: Identity) -> Outcome:
        """How `rules` treat `identity`."""
        rules = self.check_rules(rules)
        self.check_identity(identity)
        index = next(i for i, (person, _) in enumerate(self.people) if person == identity)
        applied = tuple(e for e in self.effects if rules[e.rule] == e.option and _matches(e.who, identity.fields()))
        return Outcome(identity, tuple(rules.items()), self._scores(rules, index), applied)

    # -- knowing everything, knowing nothing ---------------------------------------------------------------------
    def grid(self) -> dict[tuple, list[float]]:
        """The overall score of every person (in `people` order) under every set of rules."""
        if self._grid is None:
            self._grid = {}
            for rules in self.combinations():
                self._grid[tuple(rules.items())] = [
                    sum(s.values()) / len(s) for s in (self._scores(rules, i) for i in range(len(self.people)))]
        return self._grid

    def choose(self, criterion: str, identity: Identity | None = None) -> Choice:
        """The rules picked by one way of choosing:
        'you'       knowing everything: the best overall score for `identity`;
        'worst_off' behind the veil, protecting whoever fares worst (the best minimum);
        'average'   behind the veil, the best average over everyone, weighted by how likely each person is.
        Options within TOLERANCE of the best count as equally good; among them the concrete rules favour the
        worst-off, then the average."""
        weights = [p for _, p in self.people]

        def worst(scores):
            return min(scores)

        def average(scores):
            return sum(p * s for p, s in zip(weights, scores))

        if criterion == "you":
            if identity is None:
                raise ValueError("choosing for 'you' needs an identity")
            index = next(i for i, (person, _) in enumerate(self.people) if person == self.check_identity(identity))

            def score(scores):
                return scores[index]
        elif criterion == "worst_off":
            score = worst
        elif criterion == "average":
            score = average
        else:
            raise ValueError(f"unknown way of choosing {criterion!r}: use 'you', 'worst_off' or 'average'")
        grid = self.grid()
        best = max(score(s) for s in grid.values())
        near = [key for key, s in grid.items() if score(s) >= best - TOLERANCE]
        key = max(near, key=lambda k: (round(score(grid[k]), 6), round(worst(grid[k]), 6), average(grid[k])))
        equally_good = {rule: [o for o in self.rules[rule]["options"] if any(dict(k)[rule] == o for k in near)]
                        for rule in self.rules}
        scores = grid[key]
        low = scores.index(min(scores))
        return Choice(criterion, dict(key), equally_good, score(scores), worst(scores), average(scores),
                      self.people[low][0])


PROCESS_RULES = ("promotion", "meetings", "pay")  # rules whose fairer options are a process that takes time


@lru_cache(maxsize=4)
def model(process_cost: float = 0.0) -> Model:
    """The course's model, from `data/veil_rules.csv`, `veil_population.csv` and `veil_effects.csv`.

    `process_cost` is a model assumption a learner can change: the tables assume the fairer options take
    nobody's time, so a fair rule can never cost the most advantaged anything. Above 0, each step down a
    process rule's list of options (PROCESS_RULES: criteria then a panel, a chair then shared floor, bands
    then a yearly check) takes that share of everyone's time for life outside work."""
    from course.lesson.data import table

    if isinstance(process_cost, bool) or not isinstance(process_cost, (int, float)) or not 0 <= process_cost < 0.5:
        raise ValueError(f"process_cost must be a number in [0, 0.5), got {process_cost!r}")
    rules = table("veil_rules")
    effects = list(table("veil_effects"))
    if process_cost:
        steps: dict[str, int] = {}
        for row in rules:
            if row["rule"] in PROCESS_RULES:
                step = steps[row["rule"]] = steps.get(row["rule"], -1) + 1
                if step:
                    effects.append({
                        "rule": row["rule"], "option": row["option"], "outcome": "time", "who": "",
                        "factor": (1 - process_cost) ** step, "source_id": row["source_id"],
                        "confidence": "model assumption (what a fairer process costs)",
                        "story": "A model assumption, not a finding: running this process takes some of "
                                 "everyone's time."})
    return Model(rules, table("veil_population"), effects)


def draw(seed: int) -> Identity:
    """The person the veil hides for `seed` (the same seed always gives the same person)."""
    return model().draw(seed)


def outcome(rules, identity: Identity) -> Outcome:
    """How the chosen `rules` ({rule: option}) treat `identity`."""
    return model().outcome(rules, identity)


def check_rules(rules) -> dict[str, str]:
    """`rules` as {rule: option}, or a ValueError/TypeError saying plainly what is wrong."""
    return model().check_rules(rules)

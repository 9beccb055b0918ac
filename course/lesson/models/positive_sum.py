"""A positive-sum model of a tech team, for Module 4: an ILLUSTRATIVE model with stated assumptions, not data.

A team of a fixed size — juniors and seniors, women and men — followed year by year. The model counts expected
numbers of people (fractions allowed), so it has no randomness: the same settings always give the same result.
Everyone is equally able; only how they are treated differs. Each year:

1. People leave. Everyone has the same background chance of leaving; unfair treatment adds to it, more for
   women than for men; and carers (more women than men, but men too) leave more often when they cannot work
   flexibly.
2. People are promoted, in one of two ways. Against a *bar* (a career ladder): every junior who meets it is
   promoted, whoever else is. Or into a *fixed number of senior seats*: a seat opens only when someone leaves
   it. Either way a *tilt* holds women back: ratings, credit for work, sponsorship and a penalty for working
   flexibly that favour men.
3. Everyone who left is replaced by an entry-level hire, with the starting share of women.

The team's output each year is the work of its juniors, plus `senior_value` for each senior, minus
`replacement_cost` for each person who had to be replaced, less the working time the policies in force take
(`process_cost` for each one: meetings, calibration, training). Every run starts from the team that the baseline
(no policy) settles into, so any difference comes from the policy alone.

Policies remove causes, never add advantages: transparent promotion criteria remove the rating tilt, shared
credit (amplification) the credit tilt, sponsorship for all the sponsorship tilt (each also cuts the leaving
that unfair treatment causes, for everyone); flexible work for all lets carers of any gender stay and, because
everyone uses it, removes the penalty for using it.

Two assumptions decide whether a policy can cost the team anything, so a learner can change them:
`process_cost` (what a fairer process takes from work; 0 by default, which makes fairness free) and
`tilt_share` (how much of the promotion gap is biased evaluation rather than differing preferences; 1 by
default, which makes all of it removable). With a cost above 0 some policies lower the team's output.

What the model's assumptions imply, and its tests check, for every valid setting:
- "none" is the baseline: the team it settles into stays the same year after year.
- No policy makes anyone — women, men or the team as a whole — more likely to leave.
- With `process_cost` 0, no policy lowers the team's output over the years compared: true by construction,
  because policies only remove causes and cost nothing. (One late year can dip a little while the team
  resettles; the total does not.)
- Promotion against a bar: men's chance of promotion is exactly the baseline's under every policy, and
  women's rises towards it (reaching it with all four policies when `tilt_share` is 1).
- Promotion into fixed seats: the seats are shared out, so removing the tilt moves some promotions from men to
  women; but men's share of promotions never falls below their share of the juniors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

from course.lesson.models import checks

TILTS = ("rating", "credit", "sponsorship", "flexibility")
LEVERS = ("transparent", "credit", "flexible", "sponsorship")
POLICIES: dict[str, tuple[str, ...]] = {
    "none": (),
    "transparent": ("transparent",),
    "credit": ("credit",),
    "flexible": ("flexible",),
    "sponsorship": ("sponsorship",),
    "all": LEVERS,
}
REMOVES = {"transparent": "rating", "credit": "credit", "sponsorship": "sponsorship", "flexible": "flexibility"}
PROMOTION = ("bar", "seats")
BURN_IN = 60  # years the baseline runs before every comparison, so the starting team is its settled state


@dataclass(frozen=True)
class Assumptions:
    """Every number the model rests on. All are illustrative choices, not measurements, unless a caller
    passes a cited figure in their place (Module 4 passes three: see `course.lesson.figures.backlash`)."""

    team: int = 100                    # people on the team
    years: int = 10                    # years compared after the policy starts
    women_share: float = 0.25          # women's share of hires (and of the team at the very start)
    senior_share: float = 0.25         # senior seats as a share of the team (fixed-seat promotion; the start)
    senior_value: float = 1.5          # a senior's yearly output, counting a junior's as 1
    replacement_cost: float = 0.2      # the cost of replacing a leaver, in years of one person's output
    base_leave: float = 0.08           # yearly chance of leaving that has nothing to do with unfairness or care
    unfair_leave_women: float = 0.06   # extra yearly chance of leaving caused by unfair treatment: women
    unfair_leave_men: float = 0.02     # the same for men (unfairness reaches men too, less often)
    carers_women: float = 0.35         # share of women caring for children or others
    carers_men: float = 0.2            # share of men caring for children or others
    carer_leave: float = 0.1           # extra yearly chance of leaving for a carer who cannot work flexibly
    flexible_cut: float = 0.7          # how much of that extra leaving flexible work for all removes
    promotion_rate: float = 0.15       # yearly chance a junior meets the bar when nothing tilts it
    tilt: float = 0.28                 # how much less likely a woman is to be promoted than an equal man
    unfair_cut_transparent: float = 0.3  # share of unfairness-driven leaving removed by transparent criteria
    unfair_cut_credit: float = 0.2       # … by shared credit
    unfair_cut_sponsorship: float = 0.2  # … by sponsorship for all
    process_cost: float = 0.0          # share of everyone's working time each policy in force takes
    tilt_share: float = 1.0            # share of the promotion gap that is tilt; the rest is differing preferences

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value, meaning) for every assumption, for a table a learner can read."""
        return [(f.name, f"{getattr(self, f.name):g}", MEANING[f.name]) for f in fields(self)]


MEANING = {
    "team": "People on the team.",
    "years": "Years compared after a policy starts.",
    "women_share": "Women's share of the people hired.",
    "senior_share": "Senior roles as a share of the team, when promotion is into fixed seats.",
    "senior_value": "A senior's yearly output, counting a junior's as 1.",
    "replacement_cost": "Cost of replacing one person who leaves, in years of one person's output.",
    "base_leave": "Yearly chance that anyone leaves for reasons that have nothing to do with fairness or care.",
    "unfair_leave_women": "Extra yearly chance that a woman leaves because of unfair treatment.",
    "unfair_leave_men": "Extra yearly chance that a man leaves because of unfair treatment.",
    "carers_women": "Share of women who care for children or others.",
    "carers_men": "Share of men who care for children or others.",
    "carer_leave": "Extra yearly chance that a carer leaves when they cannot work flexibly.",
    "flexible_cut": "Share of carers' extra leaving that flexible work for all removes.",
    "promotion_rate": "Yearly chance that a junior meets the promotion bar, with nothing tilting it.",
    "tilt": ("How much less likely a woman is to be promoted than an equally able man, at the start; "
             "split equally between ratings, credit, sponsorship and a penalty for working flexibly."),
    "unfair_cut_transparent": "Share of unfairness-driven leaving that transparent criteria remove.",
    "unfair_cut_credit": "Share of unfairness-driven leaving that shared credit removes.",
    "unfair_cut_sponsorship": "Share of unfairness-driven leaving that sponsorship for all removes.",
    "process_cost": ("Share of everyone's working time that each policy in force takes (meetings, calibration, "
                     "training); 0 assumes a fairer process costs nothing."),
    "tilt_share": ("Share of the promotion gap that is tilt (biased evaluation); the rest is differing "
                   "preferences, which no policy here changes."),
}


class Groups(NamedTuple):
    women: float
    men: float
    team: float


@dataclass(frozen=True)
class Outcome:
    """One policy's results, averaged over the years compared."""

    policy: str
    promotion: str
    leave_per_100: Groups          # people leaving each year, per 100 people in the group (nan: nobody in it)
    promoted_per_100: Groups       # promotions each year, per 100 juniors in the group who stayed the year
    promotions: Groups             # promotions in all the years compared
    men_share_of_promotions: float
    men_share_of_juniors: float    # men's share of the juniors who could be promoted (averaged like the above)
    women_share_of_seniors: float  # at the end
    women_share: float             # of the whole team, at the end
    output: float                  # the team's total output over the years compared
    output_by_year: tuple[float, ...]
    leave_by_year: tuple[Groups, ...]
    men_shares_by_year: tuple[tuple[float, float], ...]  # (men's share of promotions, of juniors), each year


# -- checks ------------------------------------------------------------------------------------------------

def check(a: Assumptions) -> Assumptions:
    """The assumptions, refused with a message naming the problem unless the model can use them."""
    if not isinstance(a, Assumptions):
        raise TypeError(f"assumptions must be an Assumptions, got {type(a).__name__}")
    checks.whole(a.team, "team", 10, 1_000_000)
    checks.whole(a.years, "years", 1, 100)
    for name in ("women_share", "base_leave", "unfair_leave_women", "unfair_leave_men", "carers_women",
                 "carers_men", "carer_leave", "flexible_cut", "unfair_cut_transparent", "unfair_cut_credit",
                 "unfair_cut_sponsorship"):
        checks.in_range(getattr(a, name), name)
    checks.in_range(a.senior_share, "senior_share", open_low=True, open_high=True)
    checks.in_range(a.promotion_rate, "promotion_rate", open_low=True)
    checks.in_range(a.tilt, "tilt", high=1, open_high=True)
    checks.in_range(a.senior_value, "senior_value", 1, 10)
    checks.in_range(a.replacement_cost, "replacement_cost", 0, 10)
    checks.in_range(a.process_cost, "process_cost", 0, 1 / len(LEVERS))
    checks.in_range(a.tilt_share, "tilt_share")
    cuts = a.unfair_cut_transparent + a.unfair_cut_credit + a.unfair_cut_sponsorship
    if cuts > 1 + 1e-9:
        raise ValueError(f"the three unfair_cut_ shares add up to {cuts:g}: together they cannot remove more "
                         "than all (1) of the leaving that unfair treatment causes")
    for who in ("women", "men"):
        most = a.base_leave + getattr(a, f"unfair_leave_{who}") + getattr(a, f"carers_{who}") * a.carer_leave
        if most >= 1:
            raise ValueError(f"leaving rates for {who} add up to {most:g} a year: base_leave + unfair_leave_{who} "
                             f"+ carers_{who} × carer_leave must stay below 1, or nobody stays")
        if most <= 0:
            raise ValueError(f"nobody ever leaves ({who}): give base_leave a value above 0")
    return a


def _levers(policy: str) -> tuple[str, ...]:
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
    return POLICIES[policy]


# -- the model -----------------------------------------------------------------------------------------------

def leave_rates(policy: str, a: Assumptions = Assumptions()) -> tuple[float, float]:
    """(women, men): the yearly chance of leaving under `policy`."""
    levers = _levers(policy)
    check(a)
    cut = sum(getattr(a, f"unfair_cut_{lever}") for lever in levers if lever != "flexible")
    care = a.carer_leave * (1 - a.flexible_cut if "flexible" in levers else 1)
    return tuple(a.base_leave + getattr(a, f"unfair_leave_{who}") * (1 - min(cut, 1))
                 + getattr(a, f"carers_{who}") * care for who in ("women", "men"))


def women_weight(policy: str, a: Assumptions = Assumptions()) -> float:
    """A woman's chance of promotion relative to an equally able man's under `policy` (1 = no tilt)."""
    levers = _levers(policy)
    check(a)
    left = [t for t in TILTS if t not in {REMOVES[lever] for lever in levers}]
    preference = a.tilt * (1 - a.tilt_share)  # the part of the gap no policy removes
    return 1 - preference - a.tilt * a.tilt_share * len(left) / len(TILTS)


def _start(a: Assumptions) -> list[list[float]]:
    """The team at the very start: [[junior women, junior men], [senior women, senior men]]."""
    seniors = a.team * a.senior_share
    juniors = a.team - seniors
    return [[juniors * a.women_share, juniors * (1 - a.women_share)],
            [seniors * a.women_share, seniors * (1 - a.women_share)]]


def _year(state, promotion: str, rates, weight: float, a: Assumptions):
    """One year: leaving, promotion, hiring. Returns (new state, leavers, promoted, juniors who stayed)."""
    (jw, jm), (sw, sm) = state
    lw, lm = rates
    leavers = ((jw + sw) * lw, (jm + sm) * lm)
    jw, jm, sw, sm = jw * (1 - lw), jm * (1 - lm), sw * (1 - lw), sm * (1 - lm)
    stayed = (jw, jm)
    if promotion == "bar":
        pw, pm = a.promotion_rate * weight * jw, a.promotion_rate * jm
    else:
        pw, pm = _fill(max(0.0, min(a.team * a.senior_share - sw - sm, jw + jm)), jw, jm, weight)
    jw, jm, sw, sm = jw - pw, jm - pm, sw + pw, sm + pm
    hires = a.team - (jw + jm + sw + sm)
    jw, jm = jw + hires * a.women_share, jm + hires * (1 - a.women_share)
    return [[jw, jm], [sw, sm]], leavers, (pw, pm), stayed


def _fill(seats: float, jw: float, jm: float, weight: float) -> tuple[float, float]:
    """(women, men) promoted into `seats` open seats: each junior woman's chance is `weight` times an equal
    man's, and nobody is promoted twice (when there are more seats than men, every man is promoted)."""
    pool = weight * jw + jm
    if seats <= 0 or pool <= 0:
        return 0.0, 0.0
    chance = seats / pool
    if chance <= 1:
        return weight * chance * jw, chance * jm
    return min(jw, seats - jm), jm


def _output(state, leavers, a: Assumptions, levers: tuple[str, ...] = ()) -> float:
    (jw, jm), (sw, sm) = state
    work = (jw + jm + a.senior_value * (sw + sm)) * (1 - a.process_cost * len(levers))
    return work - a.replacement_cost * sum(leavers)


def _settled(promotion: str, a: Assumptions):
    """The team the baseline settles into: where every comparison starts."""
    state = _start(a)
    rates, weight = leave_rates("none", a), women_weight("none", a)
    for _ in range(BURN_IN):
        state = _year(state, promotion, rates, weight, a)[0]
    return state


def simulate(policy: str = "none", promotion: str = "bar", assumptions: Assumptions = Assumptions()) -> Outcome:
    """Run `policy` for `assumptions.years` years from the baseline's settled team; see the module docstring."""
    levers = _levers(policy)
    if promotion not in PROMOTION:
        raise ValueError(f"unknown promotion {promotion!r}: choose 'bar' (a career ladder) or 'seats' "
                         "(a fixed number of senior roles)")
    a = check(assumptions)
    rates, weight = leave_rates(policy, a), women_weight(policy, a)
    state = _settled(promotion, a)
    people, left, juniors, promoted = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    outputs, leaving, shares = [], [], []
    for _ in range(a.years):
        before = (state[0][0] + state[1][0], state[0][1] + state[1][1])
        state, leavers, moved, stayed = _year(state, promotion, rates, weight, a)
        for total, new in ((people, before), (left, leavers), (juniors, stayed), (promoted, moved)):
            total[0] += new[0]
            total[1] += new[1]
        outputs.append(_output(state, leavers, a, levers))
        leaving.append(_per_100(leavers, before))
        shares.append((_part(moved[1], sum(moved)), _part(stayed[1], sum(stayed))))
    (jw, jm), (sw, sm) = state
    return Outcome(
        policy=policy, promotion=promotion,
        leave_per_100=_per_100(left, people), promoted_per_100=_per_100(promoted, juniors),
        promotions=Groups(promoted[0], promoted[1], sum(promoted)),
        men_share_of_promotions=_part(promoted[1], sum(promoted)),
        men_share_of_juniors=_part(juniors[1], sum(juniors)),
        women_share_of_seniors=_part(sw, sw + sm),
        women_share=_part(jw + sw, jw + jm + sw + sm),
        output=sum(outputs), output_by_year=tuple(outputs), leave_by_year=tuple(leaving),
        men_shares_by_year=tuple(shares),
    )


def _part(x: float, whole: float) -> float:
    return x / whole if whole > 0 else math.nan


def _per_100(counts, bases) -> Groups:
    """Women, men and everyone: `counts` per 100 of `bases` (not a number for a group with nobody in it)."""
    return Groups(*(100 * _part(c, b) for c, b in zip((*counts, sum(counts)), (*bases, sum(bases)))))


def compare(policy: str, promotion: str = "bar", assumptions: Assumptions = Assumptions()) -> tuple[Outcome, Outcome]:
    """(baseline, policy): the two runs a chart puts side by side."""
    return simulate("none", promotion, assumptions), simulate(policy, promotion, assumptions)


def with_figures(**cited) -> Assumptions:
    """The default assumptions with some replaced (for example by cited figures); checked."""
    return check(replace(Assumptions(), **cited))

"""The attrition-cost model behind Module 2's calculator: pure functions that refuse impossible input with a
message a learner can act on.

Yearly cost of replacing the people who leave =
    team size × attrition rate (% a year) × replacement cost (% of one salary) × average salary.
"""
from __future__ import annotations

import math
import re
from numbers import Real
from typing import NamedTuple

MAX_TEAM_SIZE = 1_000_000
MAX_COST_SHARE_PCT = 400
MAX_SALARY = 100_000_000

_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")  # 52,000 or 1,250,000.50


class Inputs(NamedTuple):
    """Calculator inputs that passed every check."""

    team_size: int
    attrition_pct: float
    cost_share_pct: float
    salary: float


def number(value, what: str) -> float:
    """`value` as a float: a number, or text such as "52,000", "52 000" or "12%".

    Raises ValueError naming `what` and saying what to type instead.
    """
    if isinstance(value, bool) or not isinstance(value, (Real, str)):
        raise ValueError(f"{what}: please enter a number.")
    if isinstance(value, str):
        text = re.sub(r"[\s\u00a0\u202f_]", "", value).removesuffix("%")
        if not text:
            raise ValueError(f"{what}: please enter a number.")
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        if not _PLAIN.fullmatch(text):
            shown = value.strip() if len(value.strip()) <= 20 else value.strip()[:20] + "…"
            raise ValueError(f"{what}: “{shown}” is not a number. Use digits, with a point for decimals.")
        value = float(text)
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if math.isnan(result):
        raise ValueError(f"{what}: please enter a number.")
    if math.isinf(result):
        raise ValueError(f"{what}: that number is too large to use.")
    return result


def problems(team_size, attrition_pct, cost_share_pct, salary) -> list[str]:
    """Everything wrong with these inputs, one learner-friendly sentence each (empty when all is well)."""
    found = []

    def read(value, what):
        try:
            return number(value, what)
        except ValueError as exc:
            found.append(str(exc))
            return None

    team = read(team_size, "Team size")
    if team is not None:
        if team != int(team):
            found.append(f"Team size: count whole people ({team:g} is not a whole number).")
        elif team < 1:
            found.append("Team size: a team needs at least one person.")
        elif team > MAX_TEAM_SIZE:
            found.append(f"Team size: this calculator works for up to {MAX_TEAM_SIZE:,} people.")
    rate = read(attrition_pct, "Attrition")
    if rate is not None and not 0 <= rate <= 100:
        found.append("Attrition: enter the share of the team who leave in a year, from 0 to 100 "
                     "(this calculator counts each person at most once a year).")
    share = read(cost_share_pct, "Replacement cost")
    if share is not None and not 0 <= share <= MAX_COST_SHARE_PCT:
        found.append(f"Replacement cost: enter a share of one salary from 0 to {MAX_COST_SHARE_PCT}.")
    pay = read(salary, "Salary")
    if pay is not None:
        if pay < 0:
            found.append("Salary: a salary cannot be negative.")
        elif pay > MAX_SALARY:
            found.append(f"Salary: this calculator works for salaries up to {MAX_SALARY:,}; "
                         "check for an extra zero.")
    return found


def check(team_size, attrition_pct, cost_share_pct, salary) -> Inputs:
    """The inputs as numbers, or ValueError listing every problem in plain words."""
    found = problems(team_size, attrition_pct, cost_share_pct, salary)
    if found:
        raise ValueError(" ".join(found))
    return Inputs(int(number(team_size, "Team size")), number(attrition_pct, "Attrition"),
                  number(cost_share_pct, "Replacement cost"), number(salary, "Salary"))


def leavers(team_size, attrition_pct) -> float:
    """How many people leave in a year, on average (can be a fraction: a person every other year)."""
    inputs = check(team_size, attrition_pct, 0, 0)
    return inputs.team_size * inputs.attrition_pct / 100


def replacement_cost(team_size, attrition_pct, cost_share_pct, salary) -> float:
    """The yearly cost of replacing the people who leave, in the salary's currency."""
    t, rate, share, pay = check(team_size, attrition_pct, cost_share_pct, salary)
    return t * rate * share * pay / 10_000

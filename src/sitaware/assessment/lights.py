"""Traffic lights: how a value stands against its baseline and target. Pure: no Django.

Green: the target is met. Amber: progress from the baseline but the target is not met. Red: no progress
(or worse than the baseline). Grey: no value, or no target to judge by. Works for indicators that should
go down (e.g. reporting delay) as well as up.
"""

from __future__ import annotations

from decimal import Decimal

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"
DIRECTIONS = ("increase", "decrease")


def light(value: Decimal | None, target: Decimal | None, baseline: Decimal | None = None,
          direction: str = "increase") -> str:
    if value is None or target is None:
        return GREY
    sign = 1 if direction == "increase" else -1
    if sign * (value - target) >= 0:
        return GREEN
    if baseline is not None and sign * (value - baseline) > 0:
        return AMBER
    return RED

"""Customer tiers, as mobile carriers' contact centers use them (seven, VIP first).

The tier decides three things: the task's priority in every queue, the IVR branch a caller
hears (global VIPs skip the menu), and the service-level target the tier is measured
against. Lower number = more valuable customer; higher priority = served first.
"""

from __future__ import annotations

from enum import IntEnum


class Tier(IntEnum):
    GLOBAL_VIP = 1
    ENTERPRISE = 2  # group / enterprise customers
    LONG_DISTANCE_ROAMING = 3
    STANDARD_CONTRACT = 4
    PREPAID_BRAND = 5
    PREPAID = 6
    OTHER_NETWORK = 7  # callers from another carrier's network

    @classmethod
    def parse(cls, value: object) -> Tier:
        """A tier from a number (`1`..`7`, as text or int) or a name (`global_vip`); ValueError says which."""
        if isinstance(value, Tier):
            return value
        text = str(value).strip()
        if text.isdigit() and 1 <= int(text) <= 7:
            return cls(int(text))
        try:
            return cls[text.upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(t.name.lower() for t in cls)
            raise ValueError(f"unknown customer tier {value!r}: expected 1-7 or one of {names}") from None


#: Default task priority per tier (higher is served first); a queue may override it.
DEFAULT_PRIORITY: dict[Tier, int] = {
    Tier.GLOBAL_VIP: 100,
    Tier.ENTERPRISE: 80,
    Tier.LONG_DISTANCE_ROAMING: 60,
    Tier.STANDARD_CONTRACT: 50,
    Tier.PREPAID_BRAND: 40,
    Tier.PREPAID: 30,
    Tier.OTHER_NETWORK: 10,
}


def priority_for_tier(tier: Tier | int | str) -> int:
    return DEFAULT_PRIORITY[Tier.parse(tier)]

"""The `reports:` section of fscc.yaml: the KPI definitions a manager agreed to.

Every figure on a report depends on these choices, so they live in one place and are printed
with the report: the service-level threshold and target, which of the four service-level
formulas in use is the headline one, and below how many seconds an abandon does not count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from fs_scripts.typed_config import check


class ServiceLevelVariant(str, Enum):
    """The four service-level formulas contact centers use (A = answered, Ab = abandoned, both
    after short abandons are removed; _T = within the threshold T, i.e. wait <= T):

    - `answered`:          A_T / A                  abandons do not exist (flatters a center that loses callers)
    - `abandons-negative`: A_T / (A + Ab)           every abandon counts as a miss
    - `abandons-met`:      (A_T + Ab_T) / (A + Ab)  an abandon within T counts as met
    - `abandons-ignored`:  A_T / (A + Ab - Ab_T)    an abandon within T counts neither way (default)

    The default is `abandons-ignored` (ICMI's formula 4, Cisco ICM's "abandoned calls
    ignored"): a caller who hangs up before T never gave the center the chance to meet the
    target, so counting it as a miss punishes the center for the caller's choice and counting
    it as met rewards it for losing a caller; a caller who hangs up after waiting more than T
    was failed, and counts as a miss. Worked example (ICMI): A=1000, A_T=860, Ab=60, Ab_T=20
    gives 86.0 %, 81.1 %, 83.0 % and 82.7 % for the four formulas in the order above.
    """

    ANSWERED = "answered"
    ABANDONS_NEGATIVE = "abandons-negative"
    ABANDONS_MET = "abandons-met"
    ABANDONS_IGNORED = "abandons-ignored"


def _timezone_ok(name: str) -> bool:
    if name == "":
        return True
    from zoneinfo import ZoneInfo

    ZoneInfo(name)  # raises on an unknown zone, which `check` reports as a failed check
    return True


@dataclass(frozen=True)
class ReportSettings:
    service_level_threshold_s: int = field(default=20, metadata=check(lambda v: v > 0, "a positive number of seconds"))
    service_level_target_pct: float = field(default=80.0, metadata=check(lambda v: 0 < v <= 100, "a percentage 0-100"))
    short_abandon_s: int = field(default=5, metadata=check(lambda v: v >= 0, "seconds, 0 or more"))
    service_level_variant: ServiceLevelVariant = ServiceLevelVariant.ABANDONS_IGNORED
    interval_min: int = field(default=15, metadata=check(lambda v: v in (15, 30, 60), "15, 30 or 60 minutes"))
    # Interval boundaries are aligned to local time in this zone; empty: the tenant's timezone.
    timezone: str = field(default="", metadata=check(_timezone_ok, "an IANA timezone name such as Asia/Shanghai, or empty"))

"""The `reports:` section of fscc.yaml: the KPI definitions a manager agreed to."""

from __future__ import annotations

from dataclasses import dataclass, field

from fs_scripts.typed_config import check


@dataclass(frozen=True)
class ReportSettings:
    service_level_threshold_s: int = field(default=20, metadata=check(lambda v: v > 0, "a positive number of seconds"))
    service_level_target_pct: float = field(default=80.0, metadata=check(lambda v: 0 < v <= 100, "a percentage 0-100"))
    short_abandon_s: int = field(default=5, metadata=check(lambda v: v >= 0, "seconds, 0 or more"))

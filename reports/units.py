"""Parse what people type on the command line: `30m`, `1h`, `900s`, `80/20`. Pure."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def parse_duration_s(text: str | int | float) -> float:
    """`30m` -> 1800.0, `1h` -> 3600.0, `240` or `240s` -> 240.0; ValueError says what was wrong."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise ValueError(f"not a duration: {text!r} (expected e.g. 900, 900s, 15m, 1h)")
        seconds = float(match.group(1)) * _UNIT_S[(match.group(2) or "").lower()]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {text!r}")
    return seconds


def parse_service_level(text: str) -> tuple[float, float]:
    """`80/20` -> (0.80, 20.0): the target share and the answer threshold in seconds."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*$", str(text))
    if not match:
        raise ValueError(f"not a service-level target: {text!r} (expected PERCENT/SECONDS, e.g. 80/20)")
    pct, threshold_s = float(match.group(1)), float(match.group(2))
    if not 0 < pct < 100:
        raise ValueError(f"the service-level percentage must be strictly between 0 and 100, got {pct:g}")
    if threshold_s <= 0:
        raise ValueError(f"the service-level threshold must be positive seconds, got {threshold_s:g}")
    return pct / 100.0, threshold_s

"""Time for the engine and the simulator: real, or scaled so a simulated hour passes in a minute.

Why scaled rather than discrete-event: fssim and `fscc serve` are separate processes that
talk over TCP, exactly as with a real switch. A discrete-event clock would need both to
agree on every jump; a scaled clock only needs the same epoch and factor, which are passed
on the command line (`--clock fast --clock-scale 60 --clock-epoch ...`). Durations
(playback, ring, talk, reservation timeouts, wrap-up) are simulated seconds everywhere;
only `sleep` converts them to wall seconds.

Nothing else in fscc may call `time.time()` for domain time: it asks a Clock. Timestamps
handed to Redis Lua scripts come from here (ARGV), never from Redis `TIME`, so tests and
the demo are deterministic under the scaled clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clock:
    """`scale` simulated seconds pass per wall second; `epoch` is the simulated time at `wall_start`."""

    scale: float = 1.0
    epoch: float = field(default_factory=time.time)
    wall_start: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        if self.scale == 1.0 and self.epoch_is_real:
            return time.time()
        return self.epoch + (time.monotonic() - self.wall_start) * self.scale

    @property
    def epoch_is_real(self) -> bool:
        return abs(self.epoch - (time.time() - (time.monotonic() - self.wall_start))) < 1.0

    def wall_seconds(self, simulated_s: float) -> float:
        """How long `simulated_s` lasts on the wall: what to pass to gevent.sleep / timeouts."""
        return max(0.0, simulated_s) / self.scale

    def sleep(self, simulated_s: float) -> None:
        """Sleep for simulated seconds, yielding to the gevent hub (gevent imported lazily so
        that mod_python3 code paths, which must not import gevent, can still use `now`)."""
        import gevent

        gevent.sleep(self.wall_seconds(simulated_s))


REAL_CLOCK = Clock()


def make_clock(kind: str = "real", scale: float = 60.0, epoch: float | None = None) -> Clock:
    """`kind` is 'real' or 'fast' (the `--clock` option of `fscc sim`, `fscc serve`, `fscc demo`)."""
    if kind == "real":
        return Clock()
    if kind == "fast":
        if scale <= 0:
            raise ValueError(f"clock scale must be positive, got {scale}")
        return Clock(scale=scale, epoch=time.time() if epoch is None else epoch)
    raise ValueError(f"clock must be 'real' or 'fast', got {kind!r}")

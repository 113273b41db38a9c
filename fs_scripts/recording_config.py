"""The `recording:` section of fscc.yaml: when calls are recorded, where, and for how long.

    recording:
      path_template: "{tenant}/{yyyy}/{mm}/{dd}/{uuid}.wav"   # below recordings_dir
      default: {mode: always, retention_days: 90}
      tenants:
        acme:
          default: {mode: sampled, sample_percent: 20, consent_prompt: ivr/recorded.wav}
          queues:
            payments: {mode: never}
            vip: {mode: on-demand}
          retention_days: 365

A queue's policy replaces the tenant's default for calls of that queue; a tenant without an
entry uses `default`. Retention is per tenant (`fscc recordings prune` never deletes a
recording younger than its tenant's retention, nor one under legal hold).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from fs_scripts.typed_config import check


class RecordingMode(str, enum.Enum):
    ALWAYS = "always"  # every bridged call of the queue
    NEVER = "never"
    SAMPLED = "sampled"  # `sample_percent` of the calls, for quality inspection
    ON_DEMAND = "on-demand"  # only when the agent asks (not started at bridge)


def _percent(value: float) -> bool:
    return 0.0 <= value <= 100.0


def _template(value: str) -> bool:
    from fs_scripts.recording import RecordingPathError, check_template

    try:
        check_template(value)
    except RecordingPathError:
        return False
    return True


@dataclass(frozen=True)
class RecordingPolicy:
    mode: RecordingMode = RecordingMode.ALWAYS
    sample_percent: float = field(default=100.0, metadata=check(_percent, "a percentage 0..100"))
    # played to the caller before the recording starts ("this call is recorded ..."); empty: none
    consent_prompt: str = ""


@dataclass(frozen=True)
class TenantRecording:
    default: RecordingPolicy = RecordingPolicy()
    queues: dict[str, RecordingPolicy] = field(default_factory=dict)
    retention_days: float = field(default=90.0, metadata=check(lambda v: v > 0, "a positive number of days"))


@dataclass(frozen=True)
class RecordingSettings:
    path_template: str = field(
        default="{tenant}/{yyyy}/{mm}/{dd}/{uuid}.wav",
        metadata=check(_template, "a relative path of {tenant} {queue} {agent} {uuid} {yyyy} {mm} {dd} {hh}, "
                                  "no '..', no spaces, ending in .wav"),
    )
    stereo: bool = True  # caller left, agent right (RECORD_STEREO)
    default: TenantRecording = TenantRecording()
    tenants: dict[str, TenantRecording] = field(default_factory=dict)

    def tenant(self, name: str) -> TenantRecording:
        return self.tenants.get(name, self.default)

    def policy(self, tenant: str, queue: str = "") -> RecordingPolicy:
        """The policy for a call of `tenant` in `queue` (queue entry, else the tenant's default)."""
        t = self.tenant(tenant)
        return t.queues.get(queue, t.default) if queue else t.default

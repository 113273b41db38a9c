"""The `recording:` section of fscc.yaml: when calls are recorded, where, and for how long."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordingSettings:
    path_template: str = "{tenant}/{yyyy}/{mm}/{dd}/{uuid}.wav"

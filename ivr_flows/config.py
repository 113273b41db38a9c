"""The `ivr:` section of fscc.yaml: where flows live and which flow a call runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IvrSettings:
    flows_dir: str = ""  # empty: the packaged ivr_flows/templates
    default_flow: str = "hotline_10086.yaml.j2"

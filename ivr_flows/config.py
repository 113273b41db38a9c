"""The `ivr:` section of fscc.yaml: where flows live, which flow a call runs, business calendars.

The business calendar and the prompt set are given to every flow template as Jinja context
(`calendar`, `prompts`), so one template serves several tenants with different opening hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fs_scripts.typed_config import check

_SPAN = re.compile(r"^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekly_ok(weekly: dict[str, tuple[str, ...]]) -> bool:
    return all(day in _DAYS and all(_SPAN.match(s) for s in spans) for day, spans in weekly.items())


def _default_weekly() -> dict[str, tuple[str, ...]]:
    return {day: ("08:00-20:00",) for day in _DAYS[:5]} | {"sat": ("09:00-17:00",), "sun": ("09:00-17:00",)}


@dataclass(frozen=True)
class CalendarSettings:
    """Opening hours of a tenant's agents; outside them flows offer a callback or voicemail."""

    timezone: str = ""  # empty: the tenant's timezone
    weekly: dict[str, tuple[str, ...]] = field(
        default_factory=_default_weekly,
        metadata=check(_weekly_ok, "days mon..sun, each a list of HH:MM-HH:MM spans"),
    )
    holidays: tuple[str, ...] = field(
        default=(), metadata=check(lambda v: all(re.match(r"^\d{4}-\d{2}-\d{2}$", d) for d in v), "dates as YYYY-MM-DD")
    )


@dataclass(frozen=True)
class IvrSettings:
    flows_dir: str = ""  # empty: the packaged ivr_flows/templates
    default_flow: str = "hotline_10086.yaml.j2"
    flows_by_destination: dict[str, str] = field(default_factory=dict)  # dialed number -> flow file
    prompts_file: str = ""  # empty: the packaged ivr_flows/templates/prompts/prompts.yaml
    prompts_dir: str = ""  # built WAVs (`fscc prompts build`); empty: <data_dir>/prompts
    calendars: dict[str, CalendarSettings] = field(default_factory=dict)  # tenant -> calendar
    # the contexts `fscc conf render` writes (deploy.agent_context / deploy.outbound_context): a
    # transfer into any other context would find no extension there
    extension_context: str = "fscc_agents"  # dialplan context of `transfer: to: extension`
    outbound_context: str = "fscc_outbound"  # context holding the outbound rules (`to: external`)
    crm_api_url: str = "http://127.0.0.1:8090/fscc"  # base URL of the CRM API the example flow's webhooks call
    queue_extension: str = ""  # FixedExtensionQueue dial string used until the ACD gateway is wired
    max_steps: int = field(default=1000, metadata=check(lambda v: v > 0, "a positive number"))

"""The `acd:` section of fscc.yaml: agents, queues and workflows (owned by the ACD).

Agents are declared here once; `fscc conf render` reads the same entries to write the
FreeSWITCH directory users, so an agent's extension and its routing profile never drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fs_scripts.typed_config import check


@dataclass(frozen=True)
class AgentSettings:
    """One agent (a TaskRouter worker) as configured; live state lives in Redis."""

    name: str = ""
    tenant: str = "default"
    extension: str = field(default="", metadata=check(lambda v: v == "" or v.isdigit(), "digits only (a SIP extension)"))
    contact: str = ""  # dial string to reach the agent; empty: user/<extension>@<tenant domain>
    password_env: str = ""  # FSCC_SECRET_* variable holding the SIP password; never the password
    skills: dict[str, int] = field(default_factory=dict)  # skill -> level 1..5
    languages: tuple[str, ...] = ()
    capacity: dict[str, int] = field(default_factory=lambda: {"voice": 1})


@dataclass(frozen=True)
class AcdSettings:
    """Routing configuration; changeable at run time through the router as well."""

    agents: dict[str, AgentSettings] = field(default_factory=dict)  # agent id -> agent

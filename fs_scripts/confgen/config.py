"""The `deploy:` section of fscc.yaml: what `fscc conf render` writes into FreeSWITCH's conf tree
(event socket, inbound DID routes, SIP trunks, outbound rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeploySettings:
    freeswitch_conf_dir: str = "/etc/freeswitch"

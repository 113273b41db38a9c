"""`${var}` expansion of application data for a channel, with the switch's lookup order.

The rules of expansion live in fssim.dialplan.expand (the switch's own); this module only
says where a name is looked up: channel variables, then the caller-profile names the switch
resolves itself, then the global variables (`$${domain}` style values set at startup).
"""

from __future__ import annotations

from typing import Any

from fssim.dialplan import expand


def profile_fields(channel: Any) -> dict[str, str]:
    """Caller-profile names usable as dialplan condition fields and in `${}`."""
    p = channel.profile
    return {
        "uuid": channel.uuid,
        "destination_number": p.destination_number,
        "caller_id_number": p.caller_id_number,
        "caller_id_name": p.caller_id_name,
        "ani": p.ani,
        "aniii": p.aniii,
        "context": p.context,
        "network_addr": p.network_addr,
        "chan_name": channel.name,
        "channel_name": channel.name,
        "dialplan": p.dialplan,
        "rdnis": p.rdnis,
        "source": p.source,
        "username": p.username,
    }


def expand_for_channel(text: str, channel: Any) -> str:
    if "$" not in text:
        return text
    fields = profile_fields(channel)
    global_vars = channel.core.global_vars

    def lookup(name: str) -> str | None:
        value = channel.variables.get(name)
        if value is None:
            value = fields.get(name)
        if value is None:
            value = global_vars.get(name)
        return value

    return expand(text.replace("$${", "${"), lookup)

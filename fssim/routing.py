"""Running the XML dialplan for a leg (the evaluator itself is fssim.dialplan, pure).

Without `--dialplan`, fssim loads its packaged `default_dialplan.xml`: the extensions of the
recording switch (../shared/fs-captures/dialplan-default.xml) that fssim can run, so the
capture scenarios (5900-5903, 3000, 3001, 1000-1019) work out of the box.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fssim.dialplan import Dialplan
from fssim.expand import profile_fields
from fssim.states import ChannelState

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

logger = logging.getLogger(__name__)

DEFAULT_DIALPLAN = Path(__file__).with_name("default_dialplan.xml")


class Router:
    """A loaded dialplan; `actions(channel)` is what the leg runs."""

    def __init__(self, dialplan: Dialplan) -> None:
        self.dialplan = dialplan

    @classmethod
    def load(cls, source: Path | str | Dialplan | None) -> Router:
        if isinstance(source, Dialplan):
            return cls(source)
        path = Path(source) if source else DEFAULT_DIALPLAN
        return cls(Dialplan.from_file(path))

    def actions(self, channel: Channel) -> tuple[str, list[tuple[str, str, bool]]]:
        p = channel.profile
        hunt = self.dialplan.hunt(p.context, profile_fields(channel), dict(channel.variables))
        name = hunt.matched[0] if hunt.matched else ""
        return name, [(a.application, a.data, a.inline) for a in hunt.actions]


def route_loop(channel: Channel) -> None:
    """CS_ROUTING -> CS_EXECUTE -> the extension's applications; again after a transfer."""
    core = channel.core
    first = True
    while channel.is_up:
        channel.transfer_pending = False
        if not first:
            channel.run_state(ChannelState.CS_ROUTING)
        first = False
        name, actions = core.router.actions(channel)
        if not actions:
            logger.info("no route for %s in context %s (%s)", channel.profile.destination_number,
                        channel.profile.context, channel.uuid)
            channel.hangup("NO_ROUTE_DESTINATION")
            return
        channel.profile.extension_name = name or channel.profile.destination_number
        channel.profile.extension_apps = [(app, data) for app, data, _inline in actions]
        channel.profile.has_extension = True
        channel.run_state(ChannelState.CS_EXECUTE)
        channel.run_applications([(app, data) for app, data, _inline in actions], from_dialplan=True)
        if not channel.transfer_pending:
            return

"""Channel states as FreeSWITCH names them, with the transitions the simulator allows.

Why a table: the engine reacts to CHANNEL_STATE / CHANNEL_CALLSTATE values, so fssim must
never emit a sequence the real switch cannot produce (switch_core_state_machine.c). An
illegal transition is a simulator bug and raises at once, naming the channel.
"""

from __future__ import annotations

from enum import Enum


class SimStateError(RuntimeError):
    """An impossible state change inside the simulator (a bug in fssim, not in the client)."""


class ChannelState(Enum):
    """switch_channel_state_t; `.number` is what `Channel-State-Number` carries."""

    CS_NEW = 0
    CS_INIT = 1
    CS_ROUTING = 2
    CS_SOFT_EXECUTE = 3
    CS_EXECUTE = 4
    CS_EXCHANGE_MEDIA = 5
    CS_PARK = 6
    CS_CONSUME_MEDIA = 7
    CS_HIBERNATE = 8
    CS_RESET = 9
    CS_HANGUP = 10
    CS_REPORTING = 11
    CS_DESTROY = 12
    CS_NONE = 13

    @property
    def number(self) -> int:
        return self.value


_UP = {
    ChannelState.CS_ROUTING,
    ChannelState.CS_SOFT_EXECUTE,
    ChannelState.CS_EXECUTE,
    ChannelState.CS_CONSUME_MEDIA,
    ChannelState.CS_PARK,
    ChannelState.CS_EXCHANGE_MEDIA,
    ChannelState.CS_HANGUP,
}

STATE_TRANSITIONS: dict[ChannelState, frozenset[ChannelState]] = {
    ChannelState.CS_NONE: frozenset({ChannelState.CS_NEW, ChannelState.CS_INIT, ChannelState.CS_HANGUP}),
    ChannelState.CS_NEW: frozenset({ChannelState.CS_INIT, ChannelState.CS_HANGUP}),
    ChannelState.CS_INIT: frozenset({ChannelState.CS_ROUTING, ChannelState.CS_CONSUME_MEDIA,
                                     ChannelState.CS_HANGUP}),
    ChannelState.CS_ROUTING: frozenset(_UP),
    ChannelState.CS_SOFT_EXECUTE: frozenset(_UP),
    ChannelState.CS_EXECUTE: frozenset(_UP),
    ChannelState.CS_CONSUME_MEDIA: frozenset(_UP),
    ChannelState.CS_PARK: frozenset(_UP),
    ChannelState.CS_EXCHANGE_MEDIA: frozenset(_UP),
    ChannelState.CS_HANGUP: frozenset({ChannelState.CS_REPORTING}),
    ChannelState.CS_REPORTING: frozenset({ChannelState.CS_DESTROY}),
    ChannelState.CS_DESTROY: frozenset(),
}


def check_state_transition(channel_uuid: str, old: ChannelState, new: ChannelState) -> None:
    if new not in STATE_TRANSITIONS[old]:
        raise SimStateError(f"channel {channel_uuid}: illegal state change {old.name} -> {new.name}")


class CallState(Enum):
    """switch_channel_callstate_t; `Channel-Call-State-Number` is the value."""

    DOWN = 0
    DIALING = 1
    RINGING = 2
    EARLY = 3
    ACTIVE = 4
    HELD = 5
    RING_WAIT = 6
    HANGUP = 7
    UNHELD = 8


CALLSTATE_TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.DOWN: frozenset({CallState.DIALING, CallState.RINGING, CallState.EARLY,
                               CallState.ACTIVE, CallState.HANGUP}),
    CallState.DIALING: frozenset({CallState.RINGING, CallState.EARLY, CallState.ACTIVE, CallState.HANGUP}),
    CallState.RINGING: frozenset({CallState.EARLY, CallState.ACTIVE, CallState.HANGUP}),
    CallState.EARLY: frozenset({CallState.ACTIVE, CallState.HANGUP}),
    CallState.ACTIVE: frozenset({CallState.HELD, CallState.HANGUP}),
    CallState.HELD: frozenset({CallState.UNHELD, CallState.ACTIVE, CallState.HANGUP}),
    CallState.UNHELD: frozenset({CallState.ACTIVE, CallState.HELD, CallState.HANGUP}),
    CallState.RING_WAIT: frozenset({CallState.ACTIVE, CallState.HANGUP}),
    CallState.HANGUP: frozenset(),
}


def check_callstate_transition(channel_uuid: str, old: CallState, new: CallState) -> None:
    if new not in CALLSTATE_TRANSITIONS[old]:
        raise SimStateError(f"channel {channel_uuid}: illegal call state change {old.name} -> {new.name}")


#: Q.850 codes of the hangup causes fssim produces (variable_hangup_cause_q850).
HANGUP_CAUSE_Q850: dict[str, int] = {
    "UNSPECIFIED": 0,
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_DESTINATION": 3,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "ORIGINATOR_CANCEL": 487,
    "LOSE_RACE": 502,
    "MANAGER_REQUEST": 503,
    "USER_NOT_REGISTERED": 606,
    "ATTENDED_TRANSFER": 601,
    "ALLOTTED_TIMEOUT": 602,
}


def q850(cause: str) -> int:
    """Q.850 value for `hangup_cause_q850`: the switch's own causes above 127 report 16."""
    value = HANGUP_CAUSE_Q850.get(cause, 0)
    return value if value <= 127 else 16

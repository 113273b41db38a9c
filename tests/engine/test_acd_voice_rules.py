"""The pure rules of the voice queue side: how an originate failure ends a reservation, and
the expected wait spoken to callers."""

from __future__ import annotations

import pytest

from acd.model import ReservationState
from fs_scripts.acd_voice import expected_wait_s, refusal_for


@pytest.mark.parametrize(("reply", "state", "cause"), [
    ("-ERR NO_ANSWER\n", ReservationState.TIMEOUT, "NO_ANSWER"),
    ("-ERR NO_USER_RESPONSE\n", ReservationState.TIMEOUT, "NO_USER_RESPONSE"),
    ("-ERR ORIGINATOR_CANCEL\n", ReservationState.TIMEOUT, "ORIGINATOR_CANCEL"),
    ("-ERR USER_BUSY\n", ReservationState.BUSY, "USER_BUSY"),
    ("-ERR USER_NOT_REGISTERED\n", ReservationState.BUSY, "USER_NOT_REGISTERED"),
    ("-ERR CALL_REJECTED\n", ReservationState.REJECTED, "CALL_REJECTED"),
    ("-ERR DESTINATION_OUT_OF_ORDER\n", ReservationState.REJECTED, "DESTINATION_OUT_OF_ORDER"),
    ("", ReservationState.REJECTED, "UNKNOWN"),
])
def test_originate_failures_map_to_reservation_outcomes(reply: str, state: ReservationState, cause: str) -> None:
    assert refusal_for(reply) == (state, cause)


def test_expected_wait() -> None:
    assert expected_wait_s(0, 5, 240) == 0
    assert expected_wait_s(1, 4, 240) == 60
    assert expected_wait_s(10, 5, 300) == 600
    assert expected_wait_s(3, 0, 100) == 300  # nobody staffed: as if one agent

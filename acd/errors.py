"""Routing errors; each names the task, worker or reservation it is about.

    AcdError(FsccError)
    ├── IllegalTransition     a state change the transition table forbids (task/worker/reservation)
    ├── UnknownEntity         a task, worker, queue or reservation id that does not exist
    ├── ExprError             a target/filter expression that does not parse or evaluate (has .column)
    ├── RoutingConfigError    queues/workflows that reference each other wrongly
    └── StoreError            Redis failed or answered something the scripts never return
"""

from __future__ import annotations

from fs_scripts.errors import FsccError


class AcdError(FsccError):
    code = "acd-error"
    exit_code = 1


class IllegalTransition(AcdError):
    """`kind` is task, worker or reservation; `entity_id` the id; the two states are the values."""

    code = "illegal-transition"

    def __init__(self, kind: str, entity_id: str, current: str, wanted: str) -> None:
        self.kind, self.entity_id, self.current, self.wanted = kind, entity_id, current, wanted
        super().__init__(f"{kind} {entity_id}: cannot go from {current} to {wanted}")


class UnknownEntity(AcdError):
    code = "unknown-entity"

    def __init__(self, kind: str, entity_id: str) -> None:
        self.kind, self.entity_id = kind, entity_id
        super().__init__(f"unknown {kind} {entity_id!r}")


class ExprError(AcdError):
    """`column` is 1-based, pointing at the offending character of `source`."""

    code = "bad-expression"
    exit_code = 2

    def __init__(self, message: str, source: str, column: int) -> None:
        self.message, self.source, self.column = message, source, column
        pointer = " " * (column - 1) + "^"
        super().__init__(f"column {column}: {message}\n  {source}\n  {pointer}")


class RoutingConfigError(AcdError):
    code = "bad-routing-config"
    exit_code = 2


class StoreError(AcdError):
    code = "acd-store"
    exit_code = 2

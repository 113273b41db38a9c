"""Where report inputs come from: contacts from the CRM store, agent activity from a JSON-lines log.

The CRM store (crm_sync/models.py) is the single source of contact facts: a report never
reads CDR files or Redis. The mapping from a `Contact` row:

    offered_at  = enqueued_at, or started_at for a contact that never queued (self-service)
    answered_at = agent_answered_at (when an agent took it; the IVR's answer is not "answered")
    queue/agent = None when empty; outcome parsed strictly (an unknown one names the contact key)

Agent activity (available / break / offline / wrap-up, with times) is not in the CDRs, so
occupancy needs a second input: a JSON-lines file, one change per line,

    {"tenant": "default", "agent": "1001", "activity": "available", "at": 1763798400.0}

which `fscc demo` writes from the ACD and production can export from its agent log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import peewee

from fs_scripts.errors import FsccError
from reports.agent_states import ACTIVITY_STATES, ActivityChange
from reports.facts import AgentState, ContactFacts, Outcome

logger = logging.getLogger(__name__)

#: how long before `start` a contact may have begun and still be offered inside the window
#: (time spent in the IVR before queueing); bounds the indexed scan on started_at.
IVR_LOOKBACK_S = 3 * 3600.0


class ReportSourceError(FsccError):
    """A report input that cannot be read or understood: names the file:line or contact key."""

    code = "report-source"
    exit_code = 2


def imprecise_time_columns(db: peewee.Database) -> list[str]:
    """Contact time columns a PostgreSQL store keeps as `real` (float32).

    peewee's FloatField is `real` on PostgreSQL: an epoch second such as 1763798460.5 comes
    back as 1763798400.0 (float32 steps are 128 s at today's epoch), which moves contacts
    across interval boundaries and breaks every duration computed from two time points.
    SQLite's REAL is a double and has no such problem.
    """
    if not isinstance(db, peewee.PostgresqlDatabase):
        return []
    cursor = db.execute_sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'contact' "
                            "AND data_type = 'real' AND column_name LIKE %s ORDER BY column_name", ("%\\_at",))
    return [row[0] for row in cursor.fetchall()]


def read_contacts(db: peewee.Database, start: float | None = None, end: float | None = None,
                  tenant: str | None = None) -> list[ContactFacts]:
    """Contacts offered in [start, end) (None: unbounded), of one tenant or all, oldest first.

    Logs a warning when the store keeps times at float32 precision (see imprecise_time_columns).
    """
    from crm_sync.models import Contact

    imprecise = imprecise_time_columns(db)
    if imprecise:
        logger.warning("the CRM store keeps %s as PostgreSQL real (float32): times read back up to 128 s off, "
                       "so intervals and durations in this report are approximate; store them as double precision",
                       ", ".join(imprecise))

    offered = peewee.fn.COALESCE(Contact.enqueued_at, Contact.started_at)
    with db.bind_ctx([Contact]):
        query = Contact.select(
            Contact.key, Contact.tenant, Contact.channel, Contact.queue, Contact.agent, Contact.tier,
            Contact.started_at, Contact.enqueued_at, Contact.agent_answered_at, Contact.abandoned_at,
            Contact.ended_at, Contact.wait_s, Contact.talk_s, Contact.hold_s, Contact.acw_s, Contact.outcome,
        )
        if start is not None:
            query = query.where(Contact.started_at >= start - IVR_LOOKBACK_S, offered >= start)
        if end is not None:
            query = query.where(Contact.started_at < end, offered < end)
        if tenant is not None:
            query = query.where(Contact.tenant == tenant)
        try:
            rows = list(query.order_by(offered, Contact.key).dicts())
        except peewee.PeeweeException as exc:
            raise ReportSourceError(f"cannot read contacts from the CRM store: {exc}") from exc
    return [_facts(row) for row in rows]


def _facts(row: dict) -> ContactFacts:
    key = row["key"]
    try:
        return ContactFacts(
            tenant=row["tenant"],
            queue=row["queue"] or None,
            tier=row["tier"],
            agent=row["agent"] or None,
            channel=row["channel"],
            offered_at=row["enqueued_at"] if row["enqueued_at"] is not None else row["started_at"],
            answered_at=row["agent_answered_at"],
            abandoned_at=row["abandoned_at"],
            ended_at=row["ended_at"],
            wait_s=row["wait_s"],
            talk_s=row["talk_s"],
            hold_s=row["hold_s"],
            acw_s=row["acw_s"],
            outcome=Outcome.parse(row["outcome"]),
            contact_id=key,
        )
    except (ValueError, TypeError) as exc:
        raise ReportSourceError(f"contact {key}: {exc}") from exc


class ActivityLogWriter:
    """Appends agent activity changes to a JSON-lines file in the format `read_activity_log` reads.

    For whoever watches the ACD (the demo, an exporter in production): call `record(...)` on
    every activity change. Each line is written and flushed on its own, so a crash loses at
    most the line being written, and a reader can follow the file while it grows.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", encoding="utf-8")

    def record(self, tenant: str, agent: str, activity: str, at: float) -> None:
        """One change; `activity` is an ACD activity (available, break, wrap-up, offline, ...)."""
        change = ActivityChange(tenant=str(tenant), agent=str(agent), activity=str(activity), at=float(at))
        change.state  # noqa: B018 -- refuse an unknown activity here, not when the report is read
        self._handle.write(json.dumps({"tenant": change.tenant, "agent": change.agent, "activity": change.activity,
                                       "at": change.at}) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> ActivityLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_activity_log(path: Path) -> list[ActivityChange]:
    """Agent activity changes from a JSON-lines file; a bad line raises naming file:line."""
    changes: list[ActivityChange] = []
    try:
        handle = Path(path).open(encoding="utf-8")
    except OSError as exc:
        raise ReportSourceError(f"{path}: cannot read the agent activity log: {exc.strerror or exc}") from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                change = ActivityChange(tenant=str(item.get("tenant", "default")), agent=str(item["agent"]),
                                        activity=str(item["activity"]), at=float(item["at"]))
                if change.activity not in ACTIVITY_STATES:
                    AgentState.parse(change.activity)  # raises with the known states listed
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                raise ReportSourceError(f"{path}:{number}: bad agent activity line: {what}") from None
            changes.append(change)
    return changes

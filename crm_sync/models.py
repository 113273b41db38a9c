"""The CRM store: peewee models, how to open the database, and the schema migrations.

Models are declared unbound (`database = None`): whoever opens a database binds them for
the duration of the work with `db.bind_ctx(MODELS)` (or `db.bind(MODELS)` in a long-lived
process), so two databases (a test's SQLite and PostgreSQL, the bench's three) never share
global state. SQLite runs in WAL mode so that reports can read while `fscc crm-sync` writes.

Identity: a Leg is its switch UUID (primary key: a re-synced file can never add a row). A
Contact is keyed by `key`, the smallest UUID among its legs, recomputed as legs join it, so
the same set of legs always yields the same contact however and whenever they arrived; its
integer `id` is only a surrogate for joins. A Customer's `customer_id` is the unified id fscc
set on the call (`fscc_customer_id`) or, for a number seen for the first time, a name-based
UUID of tenant and number, so re-runs never create a second customer for one number.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from pathlib import Path

import peewee
from playhouse.db_url import connect

from crm_sync.errors import CrmDatabaseError

logger = logging.getLogger(__name__)


class BaseModel(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    description = peewee.TextField()
    applied_at = peewee.DoubleField()


class Customer(BaseModel):
    """One person or company, whatever number or channel they use (the unified customer record)."""

    customer_id = peewee.TextField(primary_key=True)
    tenant = peewee.TextField(index=True)
    name = peewee.TextField(default="")
    tier = peewee.IntegerField(null=True)  # 1 (global VIP) .. 7 (other network)
    authenticated_at = peewee.DoubleField(null=True)  # last time the customer passed authentication
    created_at = peewee.DoubleField()  # start of the customer's first contact
    last_contact_at = peewee.DoubleField(null=True)  # end of the latest contact: its tier is the current one
    auto = peewee.BooleanField(default=False)  # created by crm-sync for an unknown number


class CustomerPhone(BaseModel):
    customer = peewee.ForeignKeyField(Customer, backref="phones", on_delete="CASCADE")
    tenant = peewee.TextField()
    number = peewee.TextField()
    learned = peewee.BooleanField(default=False)  # learned from a CDR (not entered by a person)

    class Meta:
        indexes = ((("tenant", "number"), True),)


class Contact(BaseModel):
    """One customer interaction: all the legs of one call (or one chat), summarized."""

    key = peewee.TextField(unique=True)
    tenant = peewee.TextField()
    channel = peewee.TextField()
    direction = peewee.TextField()
    ani = peewee.TextField()
    dnis = peewee.TextField()
    flow = peewee.TextField(default="")
    flow_path = peewee.TextField(default="")
    queue = peewee.TextField(default="")
    agent = peewee.TextField(default="")
    customer = peewee.ForeignKeyField(Customer, null=True, backref="contacts", on_delete="SET NULL")
    tier = peewee.IntegerField(null=True)
    started_at = peewee.DoubleField()
    answered_at = peewee.DoubleField(null=True)
    enqueued_at = peewee.DoubleField(null=True)
    agent_answered_at = peewee.DoubleField(null=True)
    abandoned_at = peewee.DoubleField(null=True)
    ended_at = peewee.DoubleField()
    wrapup_end_at = peewee.DoubleField(null=True)
    wait_s = peewee.DoubleField(default=0.0)
    talk_s = peewee.DoubleField(default=0.0)
    hold_s = peewee.DoubleField(default=0.0)
    acw_s = peewee.DoubleField(default=0.0)
    outcome = peewee.TextField()
    hangup_cause = peewee.TextField(default="")
    disposition = peewee.TextField(default="")
    leg_count = peewee.IntegerField(default=1)


class Leg(BaseModel):
    """One channel as the switch's CDR described it; `data` is the parsed LegRecord as JSON."""

    uuid = peewee.TextField(primary_key=True)
    contact = peewee.ForeignKeyField(Contact, backref="legs", on_delete="CASCADE")
    source = peewee.TextField()
    direction = peewee.TextField()
    channel_name = peewee.TextField()
    caller_id_number = peewee.TextField()
    destination_number = peewee.TextField()
    started_at = peewee.DoubleField()
    answered_at = peewee.DoubleField(null=True)
    ended_at = peewee.DoubleField()
    hangup_cause = peewee.TextField()
    data = peewee.TextField()


class LegLink(BaseModel):
    """`leg` names `target` in one of its bridge/loopback/originator variables. Kept even when the
    target has not arrived yet, so a later leg finds the contact it belongs to."""

    leg = peewee.TextField()
    target = peewee.TextField(index=True)

    class Meta:
        primary_key = peewee.CompositeKey("leg", "target")


class Recording(BaseModel):
    path = peewee.TextField(unique=True)
    tenant = peewee.TextField()
    contact = peewee.ForeignKeyField(Contact, null=True, backref="recordings", on_delete="SET NULL")
    leg_uuid = peewee.TextField(index=True)
    duration_ms = peewee.IntegerField(default=0)
    size_bytes = peewee.IntegerField(default=0)
    sha256 = peewee.TextField(default="")
    recorded_at = peewee.DoubleField()
    legal_hold = peewee.BooleanField(default=False)
    deleted_at = peewee.DoubleField(null=True)


class WorkOrderStatus(str, enum.Enum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    WAITING_CUSTOMER = "waiting-customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELED = "canceled"


#: allowed status changes of a work order
WORK_ORDER_TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    WorkOrderStatus.OPEN: frozenset({WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.RESOLVED, WorkOrderStatus.CANCELED}),
    WorkOrderStatus.IN_PROGRESS: frozenset({WorkOrderStatus.WAITING_CUSTOMER, WorkOrderStatus.RESOLVED, WorkOrderStatus.CANCELED}),
    WorkOrderStatus.WAITING_CUSTOMER: frozenset({WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.RESOLVED, WorkOrderStatus.CANCELED}),
    WorkOrderStatus.RESOLVED: frozenset({WorkOrderStatus.CLOSED, WorkOrderStatus.IN_PROGRESS}),
    WorkOrderStatus.CLOSED: frozenset(),
    WorkOrderStatus.CANCELED: frozenset(),
}


class WorkOrder(BaseModel):
    work_order_id = peewee.TextField(primary_key=True)
    tenant = peewee.TextField()
    customer = peewee.ForeignKeyField(Customer, null=True, backref="work_orders", on_delete="SET NULL")
    contact = peewee.ForeignKeyField(Contact, null=True, backref="work_orders", on_delete="SET NULL")
    title = peewee.TextField(default="")
    status = peewee.TextField(default=WorkOrderStatus.OPEN.value)
    created_by = peewee.TextField()  # "flow:<file>" or "agent:<id>"
    created_at = peewee.DoubleField()
    updated_at = peewee.DoubleField()


class WorkOrderHistory(BaseModel):
    work_order = peewee.ForeignKeyField(WorkOrder, backref="history", on_delete="CASCADE")
    from_status = peewee.TextField(null=True)
    to_status = peewee.TextField()
    changed_by = peewee.TextField()
    changed_at = peewee.DoubleField()
    note = peewee.TextField(default="")


MODELS: tuple[type[BaseModel], ...] = (
    SchemaVersion, Customer, CustomerPhone, Contact, Leg, LegLink, Recording, WorkOrder, WorkOrderHistory,
)


# ---- migrations -------------------------------------------------------------------------

def _v1_initial(db: peewee.Database) -> None:
    db.create_tables([m for m in MODELS if m is not SchemaVersion], safe=True)


def _v2_report_indexes(db: peewee.Database) -> None:
    """Reports scan contacts by tenant and time, and recordings by age for retention."""
    db.execute_sql('CREATE INDEX IF NOT EXISTS contact_tenant_started ON contact (tenant, started_at)')
    db.execute_sql('CREATE INDEX IF NOT EXISTS recording_tenant_recorded ON recording (tenant, recorded_at)')


def _v3_double_precision(db: peewee.Database) -> None:
    """Times are epoch seconds: PostgreSQL's `real` (what peewee's FloatField creates there)
    keeps 24 bits, rounding them to 128-second steps. Double precision keeps microseconds.
    SQLite's REAL is already 8 bytes, so only PostgreSQL needs the change."""
    if not isinstance(db, peewee.PostgresqlDatabase):
        return
    for model in MODELS:
        for f in model._meta.sorted_fields:
            if isinstance(f, peewee.DoubleField):
                db.execute_sql(f'ALTER TABLE "{model._meta.table_name}" ALTER COLUMN "{f.column_name}" '
                               "TYPE double precision")


#: (version, description, step). Append only: a released step is never edited.
MIGRATIONS: tuple[tuple[int, str, Callable[[peewee.Database], None]], ...] = (
    (1, "initial schema", _v1_initial),
    (2, "indexes for reports and retention", _v2_report_indexes),
    (3, "double precision times on PostgreSQL", _v3_double_precision),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(db: peewee.Database) -> int:
    """Bring the schema up to SCHEMA_VERSION; each step in its own transaction. Returns the version."""
    try:
        with db.bind_ctx([SchemaVersion]):
            db.create_tables([SchemaVersion], safe=True)
            current = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
            if current > SCHEMA_VERSION:
                raise CrmDatabaseError(
                    f"the CRM database is at schema version {current}, newer than this fscc ({SCHEMA_VERSION}): upgrade fscc"
                )
            for version, description, step in MIGRATIONS:
                if version <= current:
                    continue
                with db.atomic():
                    with db.bind_ctx(MODELS):
                        step(db)
                    SchemaVersion.insert(version=version, description=description, applied_at=time.time()).on_conflict_ignore().execute()
                logger.info("CRM schema migrated to version %d (%s)", version, description)
                current = version
            return current
    except peewee.PeeweeException as exc:
        raise CrmDatabaseError(f"cannot migrate the CRM database: {exc}") from exc


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(Path(data_dir) / 'crm.sqlite3').resolve()}"


def open_database(url: str) -> peewee.Database:
    """Connect to `url` (sqlite:///path or postgresql://...) and migrate. SQLite gets WAL.

    Raises CrmDatabaseError (exit code 2) when the database cannot be reached or migrated.
    """
    try:
        if url.startswith("sqlite:"):
            path = url.split("sqlite:///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # cache_size: 64 MB of pages (default 2 MB): leg and contact keys are random UUIDs, so
            # index inserts touch pages all over the file; with the default cache a large spool
            # re-reads them from the OS and the cost per leg grows with the database
            db = connect(url, pragmas={"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1,
                                       "busy_timeout": 30000, "cache_size": -65536})
        else:
            db = connect(url)
        db.connect(reuse_if_open=True)
    except (peewee.PeeweeException, ValueError, OSError, RuntimeError) as exc:
        raise CrmDatabaseError(f"cannot open the CRM database {redact_url(url)}: {exc}") from exc
    except Exception as exc:  # driver errors (psycopg2.OperationalError, ...) are not peewee's
        raise CrmDatabaseError(f"cannot open the CRM database {redact_url(url)}: {exc}") from exc
    migrate(db)
    return db


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url

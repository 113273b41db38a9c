"""Writing parsed legs into the CRM store: idempotent, batched, order-independent.

`apply_batch` is called inside one transaction per batch. It costs a fixed number of queries
per batch (chunks of the IN lists aside), plus one UPDATE per contact that already existed
and gained legs, so its cost grows with the number of legs, not with the size of the database.

Why the result never depends on arrival order: a leg is inserted only if its UUID is new
(duplicates are counted and ignored); its links are remembered in LegLink even when the
linked leg has not arrived; the legs of a batch are joined (union-find) with the contacts of
any stored legs they link to or that link to them, several such contacts are merged into one,
and every touched contact is recomputed by `cdr.summarize_contact` from ALL of its legs.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import peewee

from crm_sync import bulk, cdr
from crm_sync.cdr import ContactSummary, LegRecord
from crm_sync.models import (
    Contact,
    Customer,
    CustomerPhone,
    Leg,
    LegLink,
    Recording,
    WorkOrder,
    WorkOrderHistory,
    WorkOrderStatus,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHUNK = 500  # stays under SQLite's bound-parameter limit on every version
CUSTOMER_NAMESPACE = uuid_module.UUID("5f1c7c52-3b4e-4a43-9a3e-2c6a8b7f0d11")
ANONYMOUS_NUMBERS = frozenset({"", "anonymous", "unknown", "private", "restricted", "0000000000"})


@dataclass(frozen=True)
class BatchResult:
    new_legs: int
    duplicates: int
    contacts: frozenset[int]  # ids of the contacts created or updated (and still there)
    merged_away: frozenset[int] = frozenset()  # ids of contacts merged into others (deleted)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def auto_customer_id(tenant: str, number: str) -> str:
    """The id of a customer first seen by number: the same for every run and every node."""
    return f"auto-{uuid_module.uuid5(CUSTOMER_NAMESPACE, f'{tenant}/{number}')}"


def apply_batch(records: Iterable[LegRecord], *, short_abandon_s: float = 5.0) -> BatchResult:
    """Upsert legs and recompute their contacts. Call inside `db.atomic()` with MODELS bound."""
    fresh: dict[str, LegRecord] = {}
    duplicates = 0
    for record in records:
        if record.uuid in fresh:
            duplicates += 1
        else:
            fresh[record.uuid] = record
    if not fresh:
        return BatchResult(0, duplicates, frozenset())
    uuids = list(fresh)
    stored = {u for (u,) in bulk.select_in(Leg, ["uuid"], "uuid", uuids)}
    duplicates += len(stored)
    new = [fresh[u] for u in uuids if u not in stored]
    if not new:
        return BatchResult(0, duplicates, frozenset())
    new_uuids = [r.uuid for r in new]

    # stored legs this batch links to, or that link to this batch
    neighbours: set[str] = {t for r in new for t in r.links}
    edges: list[tuple[str, str]] = [(r.uuid, t) for r in new for t in r.links]
    for leg, target in bulk.select_in(LegLink, ["leg", "target"], "target", new_uuids):
        neighbours.add(leg)
        edges.append((leg, target))
    neighbours.difference_update(new_uuids)
    stored_contact: dict[str, int] = {}
    stored_contact.update(bulk.select_in(Leg, ["uuid", "contact"], "uuid", sorted(neighbours)))

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for a, b in edges:
        union(a, b)
    for leg_uuid, contact_id in stored_contact.items():
        union(leg_uuid, f"~contact:{contact_id}")
    components: dict[str, tuple[list[LegRecord], set[int]]] = {}
    for record in new:
        components.setdefault(find(record.uuid), ([], set()))[0].append(record)
    for leg_uuid, contact_id in stored_contact.items():
        root = find(leg_uuid)
        if root in components:
            components[root][1].add(contact_id)

    # customers the stored contacts pointed at: one may lose its last contact below
    old_customer: dict[int, str] = {}
    linked_contacts = sorted(set(stored_contact.values()))
    for part in chunks(linked_contacts):
        old_customer.update(Contact.select(Contact.id, Contact.customer).where(
            Contact.id.in_(part) & Contact.customer.is_null(False)).tuples())

    # merge contacts that this batch joined together; remember which contact each new leg joins
    target_of_leg: dict[str, int | None] = {}
    touched: set[int] = set()
    merged_away: set[int] = set()
    for new_legs, contact_ids in components.values():
        target = min(contact_ids) if contact_ids else None
        if len(contact_ids) > 1:
            _merge_contacts(target, sorted(contact_ids - {target}))
            merged_away.update(contact_ids - {target})
        if target is not None:
            touched.add(target)
        for record in new_legs:
            target_of_leg[record.uuid] = target

    # the complete leg sets of the contacts to (re)compute
    legs_of: dict[int | str, list[LegRecord]] = {}
    for contact_id, data in bulk.select_in(Leg, ["contact", "data"], "contact", sorted(touched)):
        legs_of.setdefault(contact_id, []).append(LegRecord.from_json(data))
    for root, (new_legs, contact_ids) in components.items():
        slot: int | str = min(contact_ids) if contact_ids else f"new:{root}"
        legs_of.setdefault(slot, []).extend(new_legs)
    summaries = {slot: cdr.summarize_contact(legs, short_abandon_s=short_abandon_s) for slot, legs in legs_of.items()}
    customer_of = _resolve_customers(list(summaries.values()))

    # new contacts in one insert, then their ids by key
    new_slots = [slot for slot in summaries if isinstance(slot, str)]
    bulk.insert_rows(Contact, [_contact_row(summaries[slot], customer_of) for slot in new_slots])
    id_by_key: dict[str, int] = {}
    id_by_key.update(bulk.select_in(Contact, ["key", "id"], "key", [summaries[slot].key for slot in new_slots]))
    bulk.update_rows(Contact, "id", [{**_contact_row(summaries[slot], customer_of), "id": slot}
                                     for slot in summaries if not isinstance(slot, str)])
    contact_id_of_slot = {slot: (id_by_key[summaries[slot].key] if isinstance(slot, str) else slot) for slot in summaries}
    for root, (new_legs, contact_ids) in components.items():
        slot = min(contact_ids) if contact_ids else f"new:{root}"
        for record in new_legs:
            target_of_leg[record.uuid] = contact_id_of_slot[slot]

    bulk.insert_rows(Leg, [_leg_row(r, target_of_leg[r.uuid]) for r in new], ignore_conflicts=True)
    bulk.insert_rows(LegLink, [{"leg": r.uuid, "target": t} for r in new for t in r.links], ignore_conflicts=True)

    # a stored contact that gained legs may now name another caller (a contact seen with only
    # some of its legs): the customer it named before may have lost its last contact
    new_customer_of_contact = {contact_id_of_slot[slot]: customer_of.get(s.key) for slot, s in summaries.items()}
    _forget_unused_customers({c for contact_id, c in old_customer.items()
                              if new_customer_of_contact.get(contact_id) != c})
    summary_of_contact = {contact_id_of_slot[slot]: s for slot, s in summaries.items()}
    _record_recordings(new, target_of_leg, summary_of_contact)
    _record_work_orders(summary_of_contact, customer_of)
    return BatchResult(len(new), duplicates, frozenset(contact_id_of_slot.values()), frozenset(merged_away))


def _merge_contacts(target: int, others: list[int]) -> None:
    logger.info("merging contacts %s into %s", others, target)
    Leg.update(contact=target).where(Leg.contact.in_(others)).execute()
    Recording.update(contact=target).where(Recording.contact.in_(others)).execute()
    WorkOrder.update(contact=target).where(WorkOrder.contact.in_(others)).execute()
    Contact.delete().where(Contact.id.in_(others)).execute()


def _contact_row(s: ContactSummary, customer_of: dict[str, str | None]) -> dict:
    return {
        "key": s.key, "tenant": s.tenant, "channel": s.channel, "direction": s.direction, "ani": s.ani,
        "dnis": s.dnis, "flow": s.flow, "flow_path": s.flow_path, "queue": s.queue, "agent": s.agent,
        "customer": customer_of.get(s.key), "tier": s.tier, "started_at": s.started_at, "answered_at": s.answered_at,
        "enqueued_at": s.enqueued_at, "agent_answered_at": s.agent_answered_at, "abandoned_at": s.abandoned_at,
        "ended_at": s.ended_at, "wrapup_end_at": s.wrapup_end_at, "wait_s": s.wait_s, "talk_s": s.talk_s,
        "hold_s": s.hold_s, "acw_s": s.acw_s, "outcome": s.outcome.value, "hangup_cause": s.hangup_cause,
        "disposition": s.disposition, "leg_count": s.leg_count,
    }


def _leg_row(r: LegRecord, contact_id: int | None) -> dict:
    return {
        "uuid": r.uuid, "contact": contact_id, "source": r.source.rsplit("/", 1)[-1], "direction": r.direction,
        "channel_name": r.channel_name, "caller_id_number": r.caller_id_number,
        "destination_number": r.destination_number, "started_at": r.start_us / 1e6,
        "answered_at": r.answer_us / 1e6 if r.answer_us else None, "ended_at": r.end_us / 1e6,
        "hangup_cause": r.hangup_cause, "data": r.to_json(),
    }


def _resolve_customers(summaries: list[ContactSummary]) -> dict[str, str | None]:
    """contact key -> customer_id: fscc's identification first, else the customer owning the
    number, else a new customer for the unknown number. Anonymous numbers get no customer."""
    wanted: dict[tuple[str, str], ContactSummary] = {}
    for s in summaries:
        if s.ani.lower() not in ANONYMOUS_NUMBERS:
            wanted.setdefault((s.tenant, s.ani), s)
    owner: dict[tuple[str, str], str] = {}
    numbers_of: dict[str, list[str]] = {}
    for tenant, number in sorted(wanted):
        numbers_of.setdefault(tenant, []).append(number)
    for tenant, numbers in numbers_of.items():  # (tenant, number) is the unique index
        for number, customer_id in bulk.select_in(CustomerPhone, ["number", "customer"], "number", numbers,
                                                  equal=("tenant", tenant)):
            owner[(tenant, number)] = customer_id
    new_customers: dict[str, dict] = {}
    new_phones: list[dict] = []
    for s in summaries:
        if s.customer_id:
            new_customers.setdefault(s.customer_id, {"customer_id": s.customer_id, "tenant": s.tenant,
                                                     "created_at": s.started_at, "auto": False})
    for (tenant, number), s in sorted(wanted.items()):
        if s.customer_id:
            if owner.get((tenant, number)) != s.customer_id:  # fscc identified the caller: the number is theirs
                CustomerPhone.delete().where((CustomerPhone.tenant == tenant) & (CustomerPhone.number == number)).execute()
                new_phones.append({"customer": s.customer_id, "tenant": tenant, "number": number, "learned": True})
                owner[(tenant, number)] = s.customer_id
            continue
        if (tenant, number) in owner:
            continue
        customer_id = auto_customer_id(tenant, number)
        owner[(tenant, number)] = customer_id
        new_customers.setdefault(customer_id, {"customer_id": customer_id, "tenant": tenant,
                                               "created_at": s.started_at, "auto": True})
        new_phones.append({"customer": customer_id, "tenant": tenant, "number": number, "learned": True})
    # what the calls taught us about each customer: first seen, current tier, last authentication
    learned: dict[str, dict] = {}
    for s in summaries:
        customer_id = s.customer_id or owner.get((s.tenant, s.ani))
        if not customer_id:
            continue
        facts = learned.setdefault(customer_id, {"created_at": s.started_at, "tier": None,
                                                 "last_contact_at": None, "authenticated_at": None})
        facts["created_at"] = min(facts["created_at"], s.started_at)
        if s.tier is not None and (facts["last_contact_at"] is None or s.ended_at >= facts["last_contact_at"]):
            facts["tier"], facts["last_contact_at"] = s.tier, s.ended_at
        if s.authenticated and (facts["authenticated_at"] is None or s.ended_at > facts["authenticated_at"]):
            facts["authenticated_at"] = s.ended_at
    existing: dict[str, tuple] = {}
    for row in bulk.select_in(Customer, ["customer_id", "created_at", "tier", "last_contact_at", "authenticated_at"],
                              "customer_id", sorted(learned)):
        existing[row[0]] = row[1:]
    rows = []
    for customer_id, base in sorted(new_customers.items()):
        if customer_id not in existing:
            rows.append({**base, **learned.get(customer_id, {})})
    bulk.insert_rows(Customer, rows)
    bulk.insert_rows(CustomerPhone, new_phones, ignore_conflicts=True)
    updates = []
    for customer_id, (created_at, tier, last_contact_at, authenticated_at) in sorted(existing.items()):
        facts = learned[customer_id]
        changes = {}
        if facts["created_at"] < created_at:
            changes["created_at"] = facts["created_at"]
        if facts["last_contact_at"] is not None and (last_contact_at is None or facts["last_contact_at"] >= last_contact_at) \
                and (tier, last_contact_at) != (facts["tier"], facts["last_contact_at"]):
            changes.update(tier=facts["tier"], last_contact_at=facts["last_contact_at"])
        if facts["authenticated_at"] is not None and (authenticated_at is None or facts["authenticated_at"] > authenticated_at):
            changes["authenticated_at"] = facts["authenticated_at"]
        if changes:
            updates.append({"created_at": created_at, "tier": tier, "last_contact_at": last_contact_at,
                            "authenticated_at": authenticated_at, **changes, "customer_id": customer_id})
    bulk.update_rows(Customer, "customer_id", updates)
    return {s.key: s.customer_id or owner.get((s.tenant, s.ani)) for s in summaries}


def _forget_unused_customers(customer_ids: set[str | None]) -> None:
    """A contact seen with only some of its legs may have named another caller number; once the
    contact is complete, numbers and auto-created customers no contact uses any more go, so the
    store depends only on the legs, never on how they were split into batches or runs."""
    ids = sorted(c for c in customer_ids if c)
    for part in chunks(ids, 200):
        used = Contact.select(Contact.id).where(
            (Contact.customer == CustomerPhone.customer) & (Contact.tenant == CustomerPhone.tenant)
            & (Contact.ani == CustomerPhone.number))
        CustomerPhone.delete().where(CustomerPhone.customer.in_(part) & CustomerPhone.learned
                                     & ~peewee.fn.EXISTS(used)).execute()
        has_contact = Contact.select(Contact.id).where(Contact.customer == Customer.customer_id)
        has_order = WorkOrder.select(WorkOrder.work_order_id).where(WorkOrder.customer == Customer.customer_id)
        Customer.delete().where(Customer.customer_id.in_(part) & Customer.auto & ~peewee.fn.EXISTS(has_contact)
                                & ~peewee.fn.EXISTS(has_order)).execute()


def _record_recordings(new: list[LegRecord], contact_of_leg: dict[str, int | None],
                       summary_of_contact: dict[int, ContactSummary]) -> None:
    rows = []
    for record in new:
        info = cdr.leg_recording(record)
        if info is None:
            continue
        contact_id = contact_of_leg[record.uuid]
        summary = summary_of_contact[contact_id]
        rows.append({"path": info.path, "tenant": summary.tenant, "contact": contact_id, "leg_uuid": info.leg_uuid,
                     "duration_ms": info.duration_ms, "size_bytes": info.size_bytes, "sha256": info.sha256,
                     "recorded_at": summary.started_at})
    bulk.insert_rows(Recording, rows, ignore_conflicts=True)


def _record_work_orders(summary_of_contact: dict[int, ContactSummary], customer_of: dict[str, str | None]) -> None:
    """A flow or an agent that opened a work order during the call named it in fscc_work_order_id."""
    for contact_id, s in summary_of_contact.items():
        if not s.work_order_id:
            continue
        WorkOrder.insert(
            work_order_id=s.work_order_id, tenant=s.tenant, customer=customer_of.get(s.key), contact=contact_id,
            status=WorkOrderStatus.OPEN.value, created_by=f"flow:{s.flow}" if s.flow else f"agent:{s.agent}",
            created_at=s.ended_at, updated_at=s.ended_at,
        ).on_conflict_ignore().execute()
        if not WorkOrderHistory.select().where(WorkOrderHistory.work_order == s.work_order_id).exists():
            WorkOrderHistory.insert(work_order=s.work_order_id, from_status=None, to_status=WorkOrderStatus.OPEN.value,
                                    changed_by="crm-sync", changed_at=s.ended_at).execute()
        WorkOrder.update(contact=contact_id).where(
            (WorkOrder.work_order_id == s.work_order_id) & WorkOrder.contact.is_null()).execute()


def dump(db: peewee.Database) -> dict[str, list[tuple]]:
    """The store's content without surrogate ids: what 'the same database' means in the crash test."""
    key_of = dict(Contact.select(Contact.id, Contact.key).tuples())
    contact_cols = [f for f in Contact._meta.sorted_fields if f.name != "id"]
    return {
        "contacts": sorted(tuple(str(getattr(c, f.name + "_id", None) if isinstance(f, peewee.ForeignKeyField)
                                     else getattr(c, f.name)) for f in contact_cols) for c in Contact.select()),
        "legs": sorted((leg.uuid, key_of[leg.contact_id], leg.data) for leg in Leg.select()),
        "links": sorted(LegLink.select(LegLink.leg, LegLink.target).tuples()),
        "customers": sorted(Customer.select(Customer.customer_id, Customer.tenant, Customer.tier, Customer.created_at,
                                            Customer.authenticated_at, Customer.auto).tuples()),
        "phones": sorted(CustomerPhone.select(CustomerPhone.customer, CustomerPhone.tenant, CustomerPhone.number).tuples()),
        "recordings": sorted((r.path, key_of.get(r.contact_id), r.leg_uuid, r.duration_ms, r.size_bytes, r.sha256)
                             for r in Recording.select()),
        "work_orders": sorted((w.work_order_id, key_of.get(w.contact_id), w.customer_id, w.status)
                              for w in WorkOrder.select()),
        "work_order_history": sorted((h.work_order_id, h.from_status, h.to_status) for h in WorkOrderHistory.select()),
    }

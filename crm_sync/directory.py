"""CustomerDirectory for the IVR (ivr_flows/ports.py): who is calling, from the CRM store.

The IVR asks by the caller's number on arrival (to greet a VIP by tier) and by account id after
authentication. Reads only; the store is written by `fscc crm-sync`. Each lookup binds the
models to this directory's database for its own duration, so the directory can live in a
process (`fscc serve`) that also talks to other databases.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import peewee

from crm_sync.errors import CrmDatabaseError
from crm_sync.models import MODELS, Customer, CustomerPhone

logger = logging.getLogger(__name__)

try:  # the IVR owns the record type; until it lands, the same shape here (the port is structural)
    from ivr_flows.ports import CustomerInfo
except ImportError:  # pragma: no cover - depends on the IVR area's progress

    @dataclass(frozen=True)
    class CustomerInfo:  # type: ignore[no-redef]
        customer_id: str
        name: str
        tier: int
        phones: tuple = ()
        attributes: dict[str, Any] = field(default_factory=dict)


DEFAULT_TIER = 7  # other network: what an unknown caller is treated as


class CrmCustomerDirectory:
    """`by_number(tenant, number)` and `by_account(tenant, account_id)` over the CRM store."""

    def __init__(self, database: peewee.Database) -> None:
        self.database = database

    def by_number(self, tenant: str, number: str) -> CustomerInfo | None:
        with self._bound():
            row = (Customer.select().join(CustomerPhone)
                   .where((CustomerPhone.tenant == tenant) & (CustomerPhone.number == number)).first())
            return self._info(row)

    def by_account(self, tenant: str, account_id: str) -> CustomerInfo | None:
        with self._bound():
            row = Customer.get_or_none((Customer.customer_id == account_id) & (Customer.tenant == tenant))
            return self._info(row)

    def _bound(self):
        return self.database.bind_ctx(MODELS)

    def _info(self, row: Customer | None) -> CustomerInfo | None:
        if row is None:
            return None
        try:
            phones = tuple(sorted(p.number for p in CustomerPhone.select(CustomerPhone.number)
                                  .where(CustomerPhone.customer == row.customer_id)))
        except peewee.PeeweeException as exc:
            raise CrmDatabaseError(f"customer {row.customer_id}: {exc}") from exc
        attributes: dict[str, Any] = {"tenant": row.tenant, "auto": bool(row.auto)}
        if row.authenticated_at is not None:
            attributes["authenticated_at"] = row.authenticated_at
        return CustomerInfo(customer_id=row.customer_id, name=row.name, tier=row.tier or DEFAULT_TIER,
                            phones=phones, attributes=attributes)

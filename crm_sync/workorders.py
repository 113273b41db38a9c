"""Work orders opened by flows and agents, and their status changes (with history).

Status changes follow `WORK_ORDER_TRANSITIONS`; an illegal one raises WorkOrderError naming
the work order and both statuses, and nothing is written. Call with the models bound.
"""

from __future__ import annotations

import logging

from crm_sync.errors import CrmSyncError
from crm_sync.models import WORK_ORDER_TRANSITIONS, WorkOrder, WorkOrderHistory, WorkOrderStatus

logger = logging.getLogger(__name__)


class WorkOrderError(CrmSyncError):
    code = "work-order"
    exit_code = 1


def open_work_order(work_order_id: str, *, tenant: str, title: str, created_by: str, now: float,
                    customer_id: str | None = None, contact_id: int | None = None) -> WorkOrder:
    if WorkOrder.get_or_none(WorkOrder.work_order_id == work_order_id) is not None:
        raise WorkOrderError(f"work order {work_order_id} already exists")
    order = WorkOrder.create(work_order_id=work_order_id, tenant=tenant, customer=customer_id, contact=contact_id,
                             title=title, status=WorkOrderStatus.OPEN.value, created_by=created_by,
                             created_at=now, updated_at=now)
    WorkOrderHistory.create(work_order=work_order_id, from_status=None, to_status=WorkOrderStatus.OPEN.value,
                            changed_by=created_by, changed_at=now)
    return order


def change_status(work_order_id: str, to_status: WorkOrderStatus, *, by: str, now: float, note: str = "") -> WorkOrder:
    order = WorkOrder.get_or_none(WorkOrder.work_order_id == work_order_id)
    if order is None:
        raise WorkOrderError(f"no work order {work_order_id}")
    current = WorkOrderStatus(order.status)
    if to_status not in WORK_ORDER_TRANSITIONS[current]:
        raise WorkOrderError(f"work order {work_order_id}: cannot go from {current.value} to {to_status.value}")
    with WorkOrder._meta.database.atomic():
        WorkOrder.update(status=to_status.value, updated_at=now).where(WorkOrder.work_order_id == work_order_id).execute()
        WorkOrderHistory.create(work_order=work_order_id, from_status=current.value, to_status=to_status.value,
                                changed_by=by, changed_at=now, note=note)
    logger.info("work order %s: %s -> %s by %s", work_order_id, current.value, to_status.value, by)
    return WorkOrder.get(WorkOrder.work_order_id == work_order_id)

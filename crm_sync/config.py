"""The `crm:` section of fscc.yaml: how `fscc crm-sync` moves the CDR spool into the CRM store."""

from __future__ import annotations

from dataclasses import dataclass, field

from fs_scripts.typed_config import check


@dataclass(frozen=True)
class CrmSettings:
    batch_size: int = field(default=500, metadata=check(lambda v: v > 0, "a positive number of legs per transaction"))

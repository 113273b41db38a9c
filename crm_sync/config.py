"""The `crm:` section of fscc.yaml: how `fscc crm-sync` moves the CDR spool into the CRM store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fs_scripts.typed_config import check


@dataclass(frozen=True)
class CrmSettings:
    # legs per transaction: each commit rewrites every index page the batch touched (random
    # UUID keys), so bigger batches write less; a crash redoes at most one batch
    batch_size: int = field(default=2000, metadata=check(lambda v: v > 0, "a positive number of legs per transaction"))
    # a caller who hangs up within this many seconds of queueing is short-abandoned (not counted against SL)
    short_abandon_s: float = field(default=5.0, metadata=check(lambda v: v >= 0, "zero or more seconds"))
    # files younger than this are left for the next run: mod_json_cdr may still be writing them
    settle_s: float = field(default=2.0, metadata=check(lambda v: v >= 0, "zero or more seconds"))
    # a spool with at least this many files is read and parsed by a helper process, one batch
    # ahead of the database writes (crm_sync/reader.py); 0: always
    parse_helper_min_files: int = field(default=2000, metadata=check(lambda v: v >= 0, "zero or more files"))
    # mod_json_cdr's encode-values setting (fscc renders json_cdr.conf with true)
    encoded_values: bool = True
    # empty: <spool_dir>/archive and <spool_dir>/quarantine
    archive_dir: Path | None = None
    quarantine_dir: Path | None = None

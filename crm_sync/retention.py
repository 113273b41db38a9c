"""Recording retention: delete recording files past their tenant's retention, mark them deleted
in the CRM store, and never touch one under legal hold.

Order per recording, and why it is safe against a crash or a concurrent legal hold:

1. one transaction claims the row: `UPDATE recording SET deleted_at = now WHERE id = ? AND
   deleted_at IS NULL AND NOT legal_hold`. A hold set before this statement wins (0 rows:
   the file is kept); a hold set after it waits for our commit (PostgreSQL row lock, SQLite's
   single writer), so a file is never deleted while its row says "on hold";
2. inside that transaction the file is unlinked; if that fails (permissions, I/O) the
   transaction rolls back and the row stays live, so the CRM never claims a deletion that did
   not happen;
3. commit. A crash after the unlink and before the commit leaves the row live and the file
   gone: the next run finds the file missing and marks it (counted as `missing`).

A recording path that resolves outside the recordings directory (a forged CDR, a symlink) is
refused, never deleted: prune only ever removes files it can prove are recordings.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import peewee

from crm_sync.errors import CrmDatabaseError, SyncConfigError
from crm_sync.models import MODELS, Recording, open_database

logger = logging.getLogger(__name__)

DAY_S = 86400.0
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*\Z")
_UNIT_S = {"": DAY_S, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY_S, "w": 7 * DAY_S}


def parse_age(text: str) -> float:
    """`90d`, `12h`, `2w`, `45m`, `3600s` (a bare number is days) -> seconds."""
    match = _AGE.match(text or "")
    if not match:
        raise SyncConfigError(f"--older-than {text!r}: expected a number with s, m, h, d or w (e.g. 90d)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True)
class PruneOptions:
    db_url: str
    recordings_dir: Path
    older_than_s: float = 0.0  # never delete anything younger, whatever the tenant's retention
    retention_days: Callable[[str], float] = field(default=lambda tenant: 90.0)  # per tenant
    dry_run: bool = False


@dataclass
class PruneReport:
    deleted: int = 0  # files removed and rows marked
    missing: int = 0  # rows marked whose file was already gone
    bytes_freed: int = 0
    held: int = 0  # past retention but on legal hold: kept
    refused: list[str] = field(default_factory=list)  # paths outside the recordings directory
    errors: list[str] = field(default_factory=list)  # files that could not be deleted
    would_delete: list[str] = field(default_factory=list)  # --dry-run
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.refused or self.errors else 0

    def line(self) -> str:
        if self.dry_run:
            return (f"would delete {len(self.would_delete)} recordings; {self.held} on legal hold kept, "
                    f"{len(self.refused)} refused (outside the recordings directory)")
        return (f"deleted {self.deleted} recordings ({self.bytes_freed / 1e6:.1f} MB), {self.missing} already gone, "
                f"{self.held} on legal hold kept, {len(self.refused)} refused, {len(self.errors)} errors")

    def as_dict(self) -> dict:
        return {"deleted": self.deleted, "missing": self.missing, "bytes_freed": self.bytes_freed,
                "held": self.held, "refused": self.refused, "errors": self.errors,
                "would_delete": self.would_delete, "dry_run": self.dry_run, "exit_code": self.exit_code}


def tenant_retention(retention_by_tenant: Mapping[str, float], default_days: float) -> Callable[[str], float]:
    return lambda tenant: retention_by_tenant.get(tenant, default_days)


def local_path(recordings_dir: Path, stored: str) -> Path:
    path = Path(stored)
    return path if path.is_absolute() else recordings_dir / path


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def prune(options: PruneOptions, now: float) -> PruneReport:
    """Delete what is past retention (see the module docstring). Raises CrmDatabaseError (exit 2)."""
    report = PruneReport(dry_run=options.dry_run)
    root = Path(options.recordings_dir)
    if not root.is_dir():
        raise SyncConfigError(f"the recordings directory {root} does not exist")
    db = open_database(options.db_url)
    try:
        with db.bind_ctx(MODELS):
            _prune(db, options, now, root, report)
    except peewee.PeeweeException as exc:
        raise CrmDatabaseError(f"pruning recordings: {exc}") from exc
    finally:
        db.close()
    logger.info("%s", report.line())
    return report


def _prune(db: peewee.Database, options: PruneOptions, now: float, root: Path, report: PruneReport) -> None:
    newest = now - options.older_than_s
    candidates = list(Recording.select(Recording.id, Recording.path, Recording.tenant, Recording.recorded_at,
                                       Recording.legal_hold)
                      .where(Recording.deleted_at.is_null() & (Recording.recorded_at < newest))
                      .order_by(Recording.recorded_at, Recording.id).tuples())
    for rec_id, stored, tenant, recorded_at, legal_hold in candidates:
        keep_s = max(options.older_than_s, options.retention_days(tenant) * DAY_S)
        if recorded_at >= now - keep_s:
            continue
        if legal_hold:
            report.held += 1
            continue
        path = local_path(root, stored)
        if not _inside(root, path):
            logger.warning("recording %s is outside %s: refused", stored, root)
            report.refused.append(stored)
            continue
        if options.dry_run:
            report.would_delete.append(stored)
            continue
        _delete_one(db, rec_id, stored, path, now, report)


def _delete_one(db: peewee.Database, rec_id: int, stored: str, path: Path, now: float, report: PruneReport) -> None:
    try:
        with db.atomic():
            claimed = (Recording.update(deleted_at=now)
                       .where((Recording.id == rec_id) & Recording.deleted_at.is_null() & ~Recording.legal_hold)
                       .execute())
            if not claimed:
                report.held += 1  # put on hold (or pruned by another run) since we looked
                return
            try:
                size = path.stat().st_size
                os.unlink(path)
            except FileNotFoundError:
                report.missing += 1
                return
            report.deleted += 1
            report.bytes_freed += size
    except OSError as exc:
        logger.error("cannot delete recording %s: %s", stored, exc)
        report.errors.append(f"{stored}: {exc.strerror or exc}")


def set_legal_hold(db_url: str, paths: list[str], hold: bool) -> tuple[int, list[str]]:
    """Set or lift the legal hold of recordings by their stored path. Returns (changed, unknown paths)."""
    db = open_database(db_url)
    try:
        with db.bind_ctx(MODELS), db.atomic():
            known = {p for (p,) in Recording.select(Recording.path).where(Recording.path.in_(paths)).tuples()}
            changed = Recording.update(legal_hold=hold).where(Recording.path.in_(sorted(known))).execute() if known else 0
    except peewee.PeeweeException as exc:
        raise CrmDatabaseError(f"setting legal hold: {exc}") from exc
    finally:
        db.close()
    return changed, [p for p in paths if p not in known]

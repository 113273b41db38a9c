"""`fscc crm-sync`: the CDR spool into the CRM store, exactly once, safe against kill -9.

Order of work per batch, and why it converges after a crash at any point:

1. read and parse the batch's files (pure; nothing changes). A large spool is read by a
   helper process one batch ahead (crm_sync/reader.py); it only reads, so where the parsing
   happens changes nothing below;
2. a file that cannot be parsed: write `<name>.reason` into quarantine/ (temp file + rename),
   then move the file there. A crash between the two leaves the file in the spool; the next
   run rewrites the same reason and moves it;
3. ONE transaction upserts the batch's legs (a leg is unique by UUID, so a leg already in the
   store is a duplicate and changes nothing) and recomputes their contacts from all their legs;
4. only after COMMIT are the files moved (atomic rename) to archive/YYYY-MM-DD/.

A crash before COMMIT rolls the transaction back and leaves the files in the spool: the next
run does the batch again. A crash after COMMIT but before (or during) the moves leaves some
files in the spool whose legs are already stored: the next run finds them as duplicates, the
store does not change, and it moves them. Moving first and committing second would lose
legs on a crash in between; committing first only ever repeats idempotent work. The archive
date comes from the leg's own end time (UTC), not from the clock, so a re-run files every
CDR in the same folder as a clean run would.

A lock file (flock, released by the kernel when the process dies, even on kill -9) keeps two
runs from interleaving; the second one exits 0 saying so.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import peewee

from crm_sync import store
from crm_sync.cdr import LegRecord
from crm_sync.errors import CrmDatabaseError, SyncConfigError
from crm_sync.models import MODELS, open_database
from crm_sync.reader import HELPER_MIN_FILES, BatchReader, ReadResult
from fs_scripts import cdr_vars

logger = logging.getLogger(__name__)

LOCK_NAME = ".crm-sync.lock"
CDR_GLOB = "*.cdr.json"


@dataclass(frozen=True)
class SyncOptions:
    spool_dir: Path
    db_url: str
    batch_size: int = 2000
    short_abandon_s: float = 5.0
    settle_s: float = 0.0
    encoded_values: bool = True
    archive_dir: Path | None = None
    quarantine_dir: Path | None = None
    # where recordings are: a recording the CDR names without its sha256 is hashed from here
    # (only files inside this directory are ever read); None: never read recordings
    recordings_dir: Path | None = None
    # a spool with at least this many files is read and parsed by a helper process while this
    # one writes the store (crm_sync/reader.py); None: always in this process
    parse_helper_min_files: int | None = HELPER_MIN_FILES

    @property
    def archive(self) -> Path:
        return self.archive_dir or self.spool_dir / "archive"

    @property
    def quarantine(self) -> Path:
        return self.quarantine_dir or self.spool_dir / "quarantine"


@dataclass
class SyncReport:
    legs: int = 0
    contacts: int = 0
    duplicates: int = 0
    quarantined: int = 0
    files: int = 0
    locked: bool = False
    seconds: float = 0.0
    quarantined_files: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.quarantined else 0

    def line(self) -> str:
        if self.locked:
            return "another crm-sync is running on this spool; nothing to do"
        return (f"synced {self.legs} legs in {self.contacts} contacts, {self.duplicates} duplicates, "
                f"{self.quarantined} quarantined")

    def as_dict(self) -> dict:
        return {"legs": self.legs, "contacts": self.contacts, "duplicates": self.duplicates,
                "quarantined": self.quarantined, "files": self.files, "locked": self.locked,
                "seconds": round(self.seconds, 3), "quarantined_files": self.quarantined_files,
                "exit_code": self.exit_code}


@contextmanager
def spool_lock(spool_dir: Path) -> Iterator[bool]:
    """Yield True holding the spool's lock, or False if another run holds it."""
    fd = os.open(spool_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)


def pending_files(spool_dir: Path, settle_s: float = 0.0, now: float | None = None) -> list[Path]:
    """The spool's CDR files in the order the switch finished them (modification time, then
    name), skipping ones still being written.

    Why that order: the switch writes a call's legs within moments of each other, so they land
    in the same batch and each contact is summarized and written once; by name (random UUIDs)
    most contacts would be split across batches and rewritten when their second leg arrives.
    The store's result does not depend on the order, only the work does."""
    return [Path(path) for path in _pending_paths(spool_dir, settle_s, now)]


def _pending_paths(spool_dir: Path, settle_s: float = 0.0, now: float | None = None) -> list[str]:
    """`pending_files` as plain strings: the sync handles tens of thousands of them and never
    needs more than open() and rename()."""
    now = time.time() if now is None else now
    files = []
    with os.scandir(spool_dir) as entries:
        for entry in entries:
            if not entry.name.endswith(".cdr.json") or not entry.is_file(follow_symlinks=False):
                continue
            mtime = entry.stat().st_mtime_ns
            if settle_s and now - mtime / 1e9 < settle_s:
                continue
            files.append((mtime, entry.name, entry.path))
    files.sort()
    return [path for _, _, path in files]


def run_sync(options: SyncOptions) -> SyncReport:
    """Sync the spool into the store. Raises SyncConfigError / CrmDatabaseError (exit 2) before
    moving anything when the spool or the database is unusable."""
    started = time.monotonic()
    spool = Path(options.spool_dir)
    if not spool.is_dir():
        raise SyncConfigError(f"the CDR spool {spool} is not a directory")
    for folder in (options.archive, options.quarantine):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SyncConfigError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    report = SyncReport()
    with spool_lock(spool) as held:
        if not held:
            report.locked = True
            return report
        files = _pending_paths(spool, options.settle_s)
        batches = [files[start:start + options.batch_size] for start in range(0, len(files), options.batch_size)]
        helper = options.parse_helper_min_files is not None and len(files) >= options.parse_helper_min_files \
            and _usable_cpus() > 1
        with BatchReader(batches, encoded_values=options.encoded_values, helper=helper) as reader:
            db = open_database(options.db_url)
            try:
                _tune_for_sync(db)
                with db.bind_ctx(MODELS):
                    contacts: set[int] = set()
                    for results in reader:
                        _sync_batch(db, results, options, report, contacts)
                    report.contacts = len(contacts)
            finally:
                db.close()
    report.seconds = time.monotonic() - started
    logger.info("%s in %.2fs", report.line(), report.seconds)
    return report


def _usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _tune_for_sync(db: peewee.Database) -> None:
    """SQLite settings of this connection only (reports and the IVR keep the store's defaults).

    synchronous=FULL: a batch's COMMIT is on disk (the WAL fsynced) before its files move to
    archive/, so exactly-once holds across a power cut or kernel crash too, not only across
    kill -9 (with NORMAL, the store's default, the last commits can roll back on power loss
    while their files are already archived). With batches of thousands of legs that is one
    fsync per batch: a few percent.

    wal_autocheckpoint=10000 pages (40 MB with 4 KB pages): leg and contact keys are random
    UUIDs, so every batch dirties index pages all over the file; checkpointing every 1,000
    pages (the default) copied the same pages back into the database file again and again and
    cost a third of the run. The WAL is still checkpointed (and truncated when the connection
    closes); journaling stays on."""
    if isinstance(db, peewee.SqliteDatabase):
        db.execute_sql("PRAGMA synchronous = FULL")
        db.execute_sql("PRAGMA wal_autocheckpoint = 10000")


def _sync_batch(db: peewee.Database, results: list[ReadResult], options: SyncOptions, report: SyncReport,
                contacts: set[int]) -> None:
    parsed: list[tuple[str, LegRecord]] = []
    for path, record, error in results:
        if record is not None:
            parsed.append((path, complete_recording(record, options.recordings_dir)))
        elif error is not None:
            _quarantine(path, error, options, report)
        # neither: the file is gone (a previous run's last moves took it)
    if not parsed:
        return
    try:
        with db.atomic():
            result = store.apply_batch([r for _, r in parsed], short_abandon_s=options.short_abandon_s)
    except peewee.PeeweeException as exc:
        raise CrmDatabaseError(f"writing a batch of {len(parsed)} legs ({os.path.basename(parsed[0][0])} ...): {exc}") from exc
    report.legs += result.new_legs
    report.duplicates += result.duplicates
    report.files += len(parsed)
    contacts.difference_update(result.merged_away)
    contacts.update(result.contacts)
    folders: dict[int, str] = {}  # UTC day number -> archive/YYYY-MM-DD
    for path, record in parsed:
        day = (record.end_us or record.start_us) // 86_400_000_000
        folder = folders.get(day)
        if folder is None:
            name = datetime.fromtimestamp(day * 86400, tz=timezone.utc).strftime("%Y-%m-%d")
            folder = folders[day] = os.path.join(options.archive, name)
            os.makedirs(folder, exist_ok=True)
        _move(path, folder)


def complete_recording(record: LegRecord, recordings_dir: Path | None) -> LegRecord:
    """Add the sha256 of the leg's recording when the CDR has none (the caller hung up before
    fscc's RECORD_STOP hook could set it) and the file is in `recordings_dir`. The same file
    gives the same hash, so a re-run after a crash stores the same leg data."""
    path_text = record.var(cdr_vars.RECORDING_PATH)
    if not path_text or record.var(cdr_vars.RECORDING_SHA256) or recordings_dir is None:
        return record
    root = Path(recordings_dir).resolve()
    path = Path(path_text) if Path(path_text).is_absolute() else root / path_text
    try:
        resolved = path.resolve()
        resolved.relative_to(root)
    except (ValueError, OSError):
        logger.warning("%s: recording %s is outside %s: not hashed", record.source, path_text, root)
        return record
    try:
        digest = file_sha256(resolved)
    except OSError as exc:
        logger.warning("%s: cannot read recording %s: %s", record.source, resolved, exc.strerror or exc)
        return record
    fscc = tuple(sorted(record.fscc + ((cdr_vars.RECORDING_SHA256, digest),)))
    return dataclasses.replace(record, fscc=fscc)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _move(path: Path, folder: Path | str) -> str:
    """Rename into `folder`; a different file already there under the same name is kept too."""
    name = os.path.basename(path)
    target = os.path.join(folder, name)
    if os.path.exists(target) and Path(target).read_bytes() != Path(path).read_bytes():
        n = 1
        while os.path.exists(os.path.join(folder, f"{name}.{n}")):
            n += 1
        target = os.path.join(folder, f"{name}.{n}")
    os.replace(path, target)
    return target


def _quarantine(path: Path | str, reason: str, options: SyncOptions, report: SyncReport) -> None:
    logger.warning("quarantined %s", reason)
    folder = options.quarantine
    name = os.path.basename(path)
    reason_file = folder / f"{name}.reason"
    temp = folder / f".{name}.reason.tmp"
    temp.write_text(reason + "\n", encoding="utf-8")
    os.replace(temp, reason_file)
    try:
        _move(path, folder)
    except FileNotFoundError:
        return
    report.quarantined += 1
    report.quarantined_files.append(name)

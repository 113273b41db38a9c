"""`fscc crm-sync` against SQLite and a real PostgreSQL (the db_url fixture runs each test on both)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from playhouse.test_utils import count_queries

from crm_sync.cli import crm_sync
from crm_sync.directory import CrmCustomerDirectory
from crm_sync.models import (
    MODELS,
    SCHEMA_VERSION,
    Contact,
    Customer,
    CustomerPhone,
    Leg,
    Recording,
    SchemaVersion,
    WorkOrder,
    WorkOrderHistory,
    WorkOrderStatus,
    open_database,
)
from crm_sync.sync import SyncOptions, run_sync, spool_lock
from crm_sync.workorders import WorkOrderError, change_status, open_work_order


def _sync(spool: Path, db_url: str, **kw) -> object:
    return run_sync(SyncOptions(spool_dir=spool, db_url=db_url, **kw))


def test_captures_land_as_contacts(spool: Path, db_url: str, captures_dir: Path, cdrs) -> None:
    files = cdrs.capture_to_spool(captures_dir, spool)
    report = _sync(spool, db_url)
    assert (report.legs, report.contacts, report.duplicates, report.quarantined) == (len(files), 22, 0, 0)
    assert not list(spool.glob("*.cdr.json"))
    assert len(list((spool / "archive" / "2026-11-22").glob("*.cdr.json"))) == len(files)
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        served = Contact.get(Contact.ani == "5551001")
        assert (served.outcome, served.queue, served.agent, served.leg_count) == ("answered", "support@default", "agent1@default", 3)
        assert {leg.uuid for leg in served.legs} == {"689f74e1-b2f2-48fd-a8e6-f503e20a2e10", "c4f2f6d3-8d94-467e-aa71-1bf451874cb5", "f982bb01-8ba0-402a-b84f-bc4c6f8907ad"}
        assert Contact.get(Contact.ani == "5551002").outcome == "short-abandoned"
        bridged = Contact.get(Contact.key == "3f3c33d7-c317-4541-9062-de1cbcb2a4b6")
        assert (bridged.leg_count, bridged.outcome, bridged.ani) == (4, "answered", "2001")
        unanswered = Leg.get_by_id("a3c0892a-70f8-431c-86ff-7e8fda95f15b").contact
        assert (unanswered.outcome, unanswered.hangup_cause) == ("failed", "NO_ANSWER")
        assert SchemaVersion.select().count() == SCHEMA_VERSION
    db.close()


def test_rerun_and_duplicate_files_add_nothing(spool: Path, db_url: str, captures_dir: Path, cdrs, store_dump) -> None:
    files = cdrs.capture_to_spool(captures_dir, spool, "callcenter")
    _sync(spool, db_url)
    before = store_dump(db_url)
    for f in (spool / "archive" / "2026-11-22").glob("*.cdr.json"):
        shutil.copy(f, spool / f.name)
        shutil.copy(f, spool / f"copy-{f.name}")
    report = _sync(spool, db_url)
    assert (report.legs, report.duplicates) == (0, 2 * len(files))
    assert store_dump(db_url) == before
    assert len(list((spool / "archive" / "2026-11-22").iterdir())) == 2 * len(files)  # kept, never deleted


def test_legs_arriving_in_any_split_give_the_same_store(tmp_path: Path, db_url: str, second_db_url: str,
                                                        captures_dir: Path, cdrs, store_dump) -> None:
    whole = tmp_path / "whole"
    whole.mkdir()
    cdrs.capture_to_spool(captures_dir, whole)
    _sync(whole, db_url)
    one_run = store_dump(db_url)
    # the same legs, one file per run in reverse order, on a second database of the same kind
    other_url = second_db_url
    split = tmp_path / "split"
    split.mkdir()
    for f in sorted((whole / "archive" / "2026-11-22").glob("*.json"), reverse=True):
        shutil.copy(f, split / f.name)
        _sync(split, other_url, batch_size=1)
    assert store_dump(other_url) == one_run


def test_batches_split_contacts_and_merge_them(spool: Path, db_url: str, captures_dir: Path, cdrs) -> None:
    cdrs.capture_to_spool(captures_dir, spool, "uuid_bridge_two_parked_legs")
    report = _sync(spool, db_url, batch_size=1)  # each leg alone; contacts merge as links appear
    assert report.legs == 4
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        assert Contact.select().count() == 1
        contact = Contact.get()
        assert contact.key == min(leg.uuid for leg in Leg.select()) and contact.leg_count == 4
        # customers created for the number a half-arrived contact showed were forgotten again
        assert [p.number for p in CustomerPhone.select()] == ["2001"]
    db.close()


def test_fscc_calls_customers_recordings_work_orders(spool: Path, db_url: str, cdrs) -> None:
    rec = {"path": "default/2026/11/22/a.wav", "size": 4242, "sha256": "ab" * 32}
    docs = (cdrs.fscc_call(ani="13900000001", recording=rec, work_order_id="WO-1", tier=3)
            + cdrs.fscc_call(ani="13900000001", start=cdrs.T0 + 500, outcome="abandoned", wait_s=40)
            + cdrs.fscc_call(ani="13900000002", customer_id="ACC-7", tier=1, start=cdrs.T0 + 900)
            + cdrs.fscc_call(ani="anonymous", outcome="self-service"))
    for d in docs:
        cdrs.write(spool, d)
    report = _sync(spool, db_url)
    assert (report.legs, report.contacts) == (len(docs), 4)
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        first = Contact.get(Contact.outcome == "answered", Contact.ani == "13900000001")
        again = Contact.get(Contact.outcome == "abandoned")
        assert first.customer_id == again.customer_id and first.customer_id.startswith("auto-")
        assert (first.wait_s, first.talk_s, first.queue, first.agent, first.flow) == (12.0, 60.0, "billing", "1001", "10086.j2")
        assert Customer.get_by_id(first.customer_id).tier == 3
        vip = Customer.get_by_id("ACC-7")
        assert vip.tier == 1 and vip.authenticated_at is not None and not vip.auto
        assert Contact.get(Contact.ani == "anonymous").customer_id is None
        recording = Recording.get()
        assert (recording.path, recording.size_bytes, recording.contact_id) == (rec["path"], 4242, first.id)
        order = WorkOrder.get_by_id("WO-1")
        assert (order.contact_id, order.customer_id, order.status) == (first.id, first.customer_id, "open")
        change_status("WO-1", WorkOrderStatus.IN_PROGRESS, by="agent:1001", now=cdrs.T0 + 100)
        change_status("WO-1", WorkOrderStatus.RESOLVED, by="agent:1001", now=cdrs.T0 + 200)
        with pytest.raises(WorkOrderError, match="WO-1: cannot go from resolved to waiting-customer"):
            change_status("WO-1", WorkOrderStatus.WAITING_CUSTOMER, by="agent:1001", now=cdrs.T0 + 300)
        history = [(h.from_status, h.to_status) for h in WorkOrderHistory.select().order_by(WorkOrderHistory.changed_at)]
        assert history == [(None, "open"), ("open", "in-progress"), ("in-progress", "resolved")]
        open_work_order("WO-2", tenant="default", title="refund", created_by="agent:1001", now=cdrs.T0,
                        customer_id="ACC-7")
        with pytest.raises(WorkOrderError, match="already exists"):
            open_work_order("WO-2", tenant="default", title="x", created_by="agent:1001", now=cdrs.T0)
    directory = CrmCustomerDirectory(db)
    info = directory.by_number("default", "13900000002")
    assert info is not None and (info.customer_id, info.tier, info.phones) == ("ACC-7", 1, ("13900000002",))
    assert directory.by_account("default", "ACC-7") == info
    assert directory.by_number("default", "10000") is None and directory.by_number("other", "13900000002") is None
    db.close()


def test_queries_per_batch_do_not_grow_with_its_size(tmp_path: Path, db_url: str, cdrs) -> None:
    """The batch is written with set-based statements: 5 or 45 calls (within one insert chunk), the same query count."""
    counts = []
    for n in (5, 45):
        spool = tmp_path / f"s{n}"
        spool.mkdir()
        for i in range(n):
            for d in cdrs.fscc_call(ani=f"1380000{i:04d}", start=cdrs.T0 + i):
                cdrs.write(spool, d)
        url = db_url.replace("crm.sqlite3", f"crm{n}.sqlite3")
        db = open_database(url if url.startswith("sqlite") else db_url)
        with db.bind_ctx(MODELS):
            from crm_sync.cdr import parse_cdr
            from crm_sync.store import apply_batch

            records = [parse_cdr(p.read_bytes(), p.name) for p in sorted(spool.glob("*.cdr.json"))]
            with count_queries() as counter, db.atomic():
                apply_batch(records)
            counts.append(counter.count)
        db.close()
    assert counts[0] == counts[1], counts


def test_quarantine_and_exit_codes(spool: Path, db_url: str, captures_dir: Path, cdrs) -> None:
    cdrs.capture_to_spool(captures_dir, spool, "dtmf")
    (spool / "broken.cdr.json").write_text('{"variables": {"uuid": "u1", "start_uepoch": "x"}}')
    (spool / "notes.txt").write_text("not a cdr")
    runner = CliRunner()
    result = runner.invoke(crm_sync, ["--spool", str(spool), "--db", db_url, "--json"], env={"FSCC_CRM__SETTLE_S": "0"})
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert (out["legs"], out["quarantined"], out["quarantined_files"]) == (2, 1, ["broken.cdr.json"])
    reason = (spool / "quarantine" / "broken.cdr.json.reason").read_text()
    assert reason == "broken.cdr.json: start_uepoch is not an integer: 'x'\n"
    assert (spool / "quarantine" / "broken.cdr.json").exists() and (spool / "notes.txt").exists()
    result = runner.invoke(crm_sync, ["--spool", str(spool), "--db", db_url], env={"FSCC_CRM__SETTLE_S": "0"})
    assert (result.exit_code, result.stdout) == (0, "synced 0 legs in 0 contacts, 0 duplicates, 0 quarantined\n")


def test_database_error_exits_2_and_moves_nothing(spool: Path, tmp_path: Path, captures_dir: Path, cdrs) -> None:
    files = cdrs.capture_to_spool(captures_dir, spool, "dtmf")
    blocker = tmp_path / "file"
    blocker.write_text("")
    for url in (f"sqlite:///{blocker}/crm.db", "postgresql://nobody:secret@127.0.0.1:1/none"):
        result = CliRunner().invoke(crm_sync, ["--spool", str(spool), "--db", url], env={"FSCC_CRM__SETTLE_S": "0"})
        assert result.exit_code == 2, result.output
        assert "crm-database" in result.output and "secret" not in result.output
        assert sorted(spool.glob("*.cdr.json")) == sorted(files)
    result = CliRunner().invoke(crm_sync, ["--spool", str(tmp_path / "nope"), "--db", "sqlite://"])
    assert result.exit_code == 2 and "is not a directory" in result.output
    bad_config = tmp_path / "fscc.yaml"
    bad_config.write_text("crm:\n  batch_size: 0\n")
    result = CliRunner().invoke(crm_sync, ["--config", str(bad_config), "--spool", str(spool)])
    assert result.exit_code == 2 and "crm.batch_size" in result.output


def test_second_run_while_one_runs_exits_0(spool: Path, db_url: str, captures_dir: Path, cdrs) -> None:
    cdrs.capture_to_spool(captures_dir, spool, "dtmf")
    env = dict(os.environ, FSCC_CRM__SETTLE_S="0")
    with spool_lock(spool) as held:
        assert held
        proc = subprocess.run([sys.executable, "-m", "crm_sync.cli", "--spool", str(spool), "--db", db_url],
                              capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "another crm-sync is running" in proc.stdout
    assert len(list(spool.glob("*.cdr.json"))) == 2  # untouched
    proc = subprocess.run([sys.executable, "-m", "crm_sync.cli", "--spool", str(spool), "--db", db_url],
                          capture_output=True, text=True, env=env, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "synced 2 legs in 1 contacts, 0 duplicates, 0 quarantined\n")


def test_settle_time_leaves_fresh_files(spool: Path, db_url: str, captures_dir: Path, cdrs) -> None:
    cdrs.capture_to_spool(captures_dir, spool, "dtmf")
    assert _sync(spool, db_url, settle_s=3600).files == 0
    assert _sync(spool, db_url, settle_s=0).files == 2


def test_database_url_from_fscc_db_url(spool: Path, db_url: str, captures_dir: Path, cdrs, tmp_path: Path,
                                       monkeypatch, store_dump) -> None:
    """PostgreSQL (or any URL) by FSCC_DB_URL, with no --db and no fscc.yaml."""
    monkeypatch.chdir(tmp_path)
    cdrs.capture_to_spool(captures_dir, spool, "dtmf")
    result = CliRunner().invoke(crm_sync, ["--spool", str(spool), "--json"],
                                env={"FSCC_DB_URL": db_url, "FSCC_CRM__SETTLE_S": "0"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["legs"] == 2
    assert len(store_dump(db_url)["legs"]) == 2
    assert not (tmp_path / "fscc-data" / "crm.sqlite3").exists()  # the embedded default was not used


def test_locked_run_reports_in_json(spool: Path, db_url: str, captures_dir: Path, cdrs) -> None:
    cdrs.capture_to_spool(captures_dir, spool, "dtmf")
    with spool_lock(spool) as held:
        assert held
        result = CliRunner().invoke(crm_sync, ["--spool", str(spool), "--db", db_url, "--json"],
                                    env={"FSCC_CRM__SETTLE_S": "0"})
    out = json.loads(result.stdout)
    assert (result.exit_code, out["locked"], out["legs"], out["exit_code"]) == (0, True, 0, 0)


def test_sync_connection_commits_to_disk_before_files_move(tmp_path: Path) -> None:
    """A batch's COMMIT must survive a power cut before its files go to archive/: the sync's own
    SQLite connection runs synchronous=FULL (fsync of the WAL per commit), journaling stays WAL."""
    from crm_sync.sync import _tune_for_sync

    db = open_database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    _tune_for_sync(db)
    pragma = lambda name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert (pragma("synchronous"), pragma("journal_mode"), pragma("wal_autocheckpoint")) == (2, "wal", 10000)
    db.close()

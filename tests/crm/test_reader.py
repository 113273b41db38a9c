"""The parse helper (crm_sync/reader.py): a large spool is read and parsed by a helper process
one batch ahead of the database writes. Same store, same files moved, as parsing in-process;
a dead or missing helper costs speed, never data; kill -9 of the sync frees the lock at once
and the helper goes away on its own."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from crm_sync.reader import BatchReader, read_batch
from crm_sync.sync import SyncOptions, run_sync, spool_lock


def _fill(spool: Path, cdrs, captures_dir: Path, calls: int = 60) -> None:
    rng = random.Random(3)
    for i in range(calls):
        outcome = rng.choice(["answered", "answered", "abandoned", "self-service"])
        rec = {"path": f"default/2026/11/22/{i}.wav", "size": 100 + i} if outcome == "answered" else None
        for doc in cdrs.fscc_call(ani=f"1390000{rng.randrange(30):04d}", start=cdrs.T0 + 40 * i, outcome=outcome,
                                  recording=rec, tier=rng.choice([None, 2, 7])):
            cdrs.write(spool, doc)
    cdrs.capture_to_spool(captures_dir, spool)
    (spool / "zz-broken.cdr.json").write_text('{"variables": {"uuid": "x"}}')
    (spool / "zz-not-json.cdr.json").write_text("{not json")


def test_helper_gives_the_same_store_and_moves_as_parsing_here(
        tmp_path: Path, db_url: str, second_db_url: str, cdrs, captures_dir: Path, spool_tree, store_dump) -> None:
    here, helped = tmp_path / "here", tmp_path / "helped"
    here.mkdir()
    _fill(here, cdrs, captures_dir)
    shutil.copytree(here, helped)
    plain = run_sync(SyncOptions(spool_dir=here, db_url=db_url, batch_size=7, parse_helper_min_files=None))
    fast = run_sync(SyncOptions(spool_dir=helped, db_url=second_db_url, batch_size=7, parse_helper_min_files=0))
    assert plain.as_dict() | {"seconds": 0} == fast.as_dict() | {"seconds": 0}
    assert (fast.quarantined, sorted(fast.quarantined_files)) == (2, ["zz-broken.cdr.json", "zz-not-json.cdr.json"])
    assert fast.legs > 100
    assert store_dump(second_db_url) == store_dump(db_url)
    assert spool_tree(helped) == spool_tree(here)
    assert (helped / "quarantine" / "zz-not-json.cdr.json.reason").read_text().startswith("zz-not-json.cdr.json: not valid JSON")


def _batches(spool: Path, size: int) -> list[list[str]]:
    paths = sorted(str(p) for p in spool.glob("*.cdr.json"))
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def test_a_helper_that_dies_midway_costs_nothing(spool: Path, cdrs, captures_dir: Path, caplog) -> None:
    _fill(spool, cdrs, captures_dir, calls=30)
    batches = _batches(spool, 5)
    expected = [read_batch(b) for b in batches]
    got = []
    with BatchReader(batches, helper=True) as reader:
        assert reader.used_helper and reader.proc is not None
        helper = reader.proc
        for results in reader:
            got.append(results)
            if len(got) == 2:
                helper.kill()  # the rest comes from whatever the pipe still held, then from this process
    assert helper.wait(timeout=10) is not None
    assert got == expected
    assert "parse helper failed after" in caplog.text


def test_a_helper_that_cannot_start_costs_nothing(spool: Path, cdrs, captures_dir: Path, monkeypatch) -> None:
    _fill(spool, cdrs, captures_dir, calls=10)
    batches = _batches(spool, 4)
    monkeypatch.setattr(sys, "executable", str(spool / "no-such-python"))
    with BatchReader(batches, helper=True) as reader:
        assert not reader.used_helper
        assert list(reader) == [read_batch(b) for b in batches]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_kill_9_of_the_sync_frees_the_lock_and_its_helper_goes(
        spool: Path, tmp_path: Path, cdrs, captures_dir: Path) -> None:
    _fill(spool, cdrs, captures_dir, calls=400)
    env = dict(os.environ, FSCC_CRM__SETTLE_S="0", FSCC_CRM__BATCH_SIZE="3", FSCC_CRM__PARSE_HELPER_MIN_FILES="0")
    proc = subprocess.Popen([sys.executable, "-m", "crm_sync.cli", "--spool", str(spool),
                             "--db", f"sqlite:///{tmp_path / 'crm.sqlite3'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    helpers: list[int] = []
    archive = spool / "archive"
    while time.monotonic() < deadline and proc.poll() is None:
        helpers = helpers or _children(proc.pid)
        if helpers and archive.is_dir() and any(archive.rglob("*.cdr.json")):  # writing batches now
            break
        time.sleep(0.005)
    assert proc.poll() is None and helpers, "the sync ended before the kill: make the spool bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    with spool_lock(spool) as held:
        assert held  # the kernel dropped the lock with the process: the helper never held it
    deadline = time.monotonic() + 20
    while not all(_gone(h) for h in helpers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(_gone(h) for h in helpers), f"helper {helpers} outlived the sync"

"""kill -9 `fscc crm-sync` at random moments, run it again: the store ends as after one clean run.

A real subprocess is killed with SIGKILL (no cleanup, no atexit, no rollback handler: the
database's own crash recovery and the sync's commit-then-move order are all that protect us).
Bounded: a fixed number of kills per backend, so the test stays well under a minute.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CALLS = 400
BATCH = 20


def _make_spool(spool: Path, cdrs, captures_dir: Path) -> None:
    rng = random.Random(7)
    outcomes = ["answered"] * 6 + ["abandoned", "self-service", "callback", "voicemail"]
    for i in range(CALLS):
        outcome = rng.choice(outcomes)
        number = f"1390000{rng.randrange(120):04d}"  # repeat callers: customers matched by number
        rec = {"path": f"default/2026/11/22/{i}.wav", "size": 1000 + i} if outcome == "answered" else None
        for doc in cdrs.fscc_call(ani=number, start=cdrs.T0 + 30 * i, outcome=outcome, wait_s=rng.uniform(1, 90),
                                  recording=rec, work_order_id=f"WO-{i}" if i % 25 == 0 else "",
                                  tier=rng.choice([None, 1, 4, 7])):
            cdrs.write(spool, doc)
    cdrs.capture_to_spool(captures_dir, spool)
    (spool / "zz-broken.cdr.json").write_text('{"variables": {"uuid": "x"}}')


def _run(spool: Path, db_url: str, helper: bool = False) -> subprocess.Popen:
    """`helper`: read and parse in the helper process (crm_sync/reader.py), as large spools are."""
    env = dict(os.environ, FSCC_CRM__SETTLE_S="0", FSCC_CRM__BATCH_SIZE=str(BATCH),
               FSCC_CRM__PARSE_HELPER_MIN_FILES="0" if helper else "1000000")
    return subprocess.Popen([sys.executable, "-m", "crm_sync.cli", "--spool", str(spool), "--db", db_url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_kill_9_at_random_points_then_rerun_equals_one_clean_run(
        tmp_path: Path, db_url: str, second_db_url: str, cdrs, captures_dir: Path, spool_tree, store_dump) -> None:
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    clean.mkdir()
    _make_spool(clean, cdrs, captures_dir)
    shutil.copytree(clean, crashed)

    t0 = time.monotonic()
    proc = _run(clean, db_url)
    out, err = proc.communicate(timeout=120)
    clean_run_s = time.monotonic() - t0
    assert proc.returncode == 1, err  # the broken file is quarantined
    assert b"1 quarantined" in out
    reference = store_dump(db_url)
    assert len(reference["legs"]) == len(list(crashed.glob("*.cdr.json"))) - 1

    rng = random.Random(int(os.environ.get("CRASH_SEED", "0")) or None)
    kills = 0
    deadline = time.monotonic() + 35
    max_kills = 14 if db_url.startswith("sqlite") else 8
    while kills < max_kills and time.monotonic() < deadline:
        left = len(list(crashed.glob("*.cdr.json")))
        if left <= 2 * BATCH:
            break
        proc = _run(crashed, second_db_url, helper=kills % 2 == 0)
        jitter = 0.0
        if rng.random() < 0.2:  # during start-up, connect or migration
            stop_at = time.monotonic() + rng.uniform(0.0, clean_run_s / 3)
            strike = lambda stop_at=stop_at: time.monotonic() >= stop_at  # noqa: E731
        else:  # while batches are being written: after a random number of files moved, plus jitter
            target = left - rng.randrange(1, min(left - BATCH, 2 * BATCH))
            jitter = rng.uniform(0.0, 0.005)  # a batch commits in a few ms now
            strike = lambda target=target: len(list(crashed.glob("*.cdr.json"))) <= target  # noqa: E731
        while proc.poll() is None and not strike():
            time.sleep(0.002)
        if proc.poll() is None:
            time.sleep(jitter)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        proc.stdout.close()
        proc.stderr.close()
    assert kills >= max_kills // 2, f"only {kills} kills landed"
    proc = _run(crashed, second_db_url, helper=True)
    proc.communicate(timeout=120)
    assert proc.returncode in (0, 1)
    assert store_dump(second_db_url) == reference
    assert spool_tree(crashed) == spool_tree(clean)  # every file archived or quarantined, same folders

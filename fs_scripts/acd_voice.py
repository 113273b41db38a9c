"""The voice side of the ACD: a caller waits in a queue while the router finds an agent.

Why here and not in `acd/`: `acd/` decides (pure rules + Lua in Redis); this module is the
I/O that carries a decision out on a switch: music on hold on the caller, the agent leg
originated with `bgapi originate` over the inbound Event Socket, the bridge, and the
reservation outcome reported back (`accept`, or `timeout` / `busy` / `reject` from the
originate's hangup cause). Every time point is written onto the caller's channel
(`fs_scripts/cdr_vars.py`) so the switch's CDR carries it to `crm_sync`.

Reservations are made by whichever node's Lua script matched, and pushed to the inbox of
the node that holds the call (a Redis list). `OfferInbox` reads this node's inbox and hands
each offer to the greenlet of the waiting call. An offer for a task no call waits for is a
callback or a voicemail (`create_task`): the agent is rung and, on answer, put through to the
customer (callback) or to the message (voicemail). Anything else is refused at once, so the
task goes back to the head of its place.

Caller-controlled values (caller-ID name and number) reach the agent's dial string only
through `commands.dial_string`, which escapes them for both of FreeSWITCH's passes.
"""

from __future__ import annotations

import json
import logging
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.event
import gevent.queue

from acd.errors import AcdError
from acd.model import ReservationState
from acd.router import Offer, Router
from fs_scripts import cdr_vars
from fs_scripts.clock import Clock
from fs_scripts.esl import commands
from fs_scripts.esl.errors import CallerHangup, CommandFailed, EslError
from ivr_flows.actions import CreateTask, Enqueue, QueueOutcome

logger = logging.getLogger(__name__)

#: originate failure cause -> how the reservation ends (anything else counts as a rejection)
REFUSAL_BY_CAUSE: dict[str, ReservationState] = {
    "NO_ANSWER": ReservationState.TIMEOUT,
    "NO_USER_RESPONSE": ReservationState.TIMEOUT,
    "ALLOTTED_TIMEOUT": ReservationState.TIMEOUT,
    "ORIGINATOR_CANCEL": ReservationState.TIMEOUT,
    "RECOVERY_ON_TIMER_EXPIRE": ReservationState.TIMEOUT,
    "USER_BUSY": ReservationState.BUSY,
    "USER_NOT_REGISTERED": ReservationState.BUSY,
    "SUBSCRIBER_ABSENT": ReservationState.BUSY,
    "CALL_REJECTED": ReservationState.REJECTED,
}

#: how often (wall seconds) a waiting call looks at its channel between offers
POLL_WALL_S = 0.2


def refusal_for(originate_reply: str) -> tuple[ReservationState, str]:
    """`-ERR NO_ANSWER\\n` -> (TIMEOUT, 'NO_ANSWER'). Pure, so the mapping is tested alone."""
    text = originate_reply.strip().removeprefix("-ERR").strip()
    cause = text.split()[0] if text else "UNKNOWN"
    return REFUSAL_BY_CAUSE.get(cause, ReservationState.REJECTED), cause


def expected_wait_s(position: int, staffed: int, recent_handle_s: float) -> float:
    """Expected wait of the caller at `position` (1 = next): the calls ahead are served by
    the staffed agents at the recent average handle time. A coarse estimate by design: it is
    spoken to the caller rounded to minutes, never used for routing."""
    if position <= 0:
        return 0.0
    return position * recent_handle_s / max(1, staffed)


class OfferInbox:
    """This node's reservations, routed from the Redis inbox to the calls waiting for them."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._mailboxes: dict[str, gevent.queue.Queue] = {}
        self._greenlet: gevent.Greenlet | None = None
        self.unclaimed_handler: Callable[[Offer], None] | None = None

    def open(self, task_id: str) -> gevent.queue.Queue:
        box: gevent.queue.Queue = gevent.queue.Queue()
        self._mailboxes[task_id] = box
        return box

    def close(self, task_id: str) -> None:
        self._mailboxes.pop(task_id, None)

    def mailbox(self, task_id: str) -> gevent.queue.Queue | None:
        return self._mailboxes.get(task_id)

    def deliver(self, offer: Offer) -> None:
        box = self._mailboxes.get(offer.task_id)
        if box is not None:
            box.put(("offer", offer))
        elif self.unclaimed_handler is not None:
            gevent.spawn(self.unclaimed_handler, offer)
        else:
            logger.warning("offer %s for task %s: no call waits for it here; refusing",
                           offer.reservation_id, offer.task_id)
            _quietly(self.router.reject, offer.reservation_id)

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _run(self) -> None:
        """BLPOP when redis-py's socket cooperates with gevent (`fscc serve` patches it);
        otherwise a short non-blocking poll, so an unpatched process (tests, an embedding
        application) never has its hub frozen for a BLPOP's second."""
        from gevent import monkey

        blocking = monkey.is_module_patched("socket")
        key = self.router.inbox_key()
        while True:
            try:
                if blocking:
                    item = self.router.client.blpop([key], timeout=1)
                    raw = [item[1]] if item else []
                else:
                    raw = self.router.client.lpop(key, 50) or []
                    if not raw:
                        gevent.sleep(0.01)
            except Exception:  # redis down: log, back off, keep the inbox alive
                logger.exception("reading the ACD inbox %s", key)
                gevent.sleep(1)
                continue
            for entry in raw:
                self.deliver(Offer.decode(entry))


class AgentLegTracker:
    """Hang-ups of the agent legs this node originated, from the inbound connection.

    Needed for legs no outbound session watches (callbacks, voicemail playback): the task
    completes, and the agent goes to wrap-up, when the agent's leg ends."""

    def __init__(self, inbound: Any) -> None:
        self._ended: dict[str, gevent.event.AsyncResult] = {}
        inbound.subscribe("CHANNEL_HANGUP_COMPLETE")
        inbound.on("CHANNEL_HANGUP_COMPLETE", self._on_hangup)

    def expect(self, uuid: str) -> gevent.event.AsyncResult:
        return self._ended.setdefault(uuid, gevent.event.AsyncResult())

    def forget(self, uuid: str) -> None:
        self._ended.pop(uuid, None)

    def _on_hangup(self, event: Any) -> None:
        result = self._ended.pop(event.unique_id or "", None)
        if result is not None:
            result.set(event.get("Hangup-Cause") or "")


@dataclass(frozen=True)
class VoiceQueueOptions:
    """How waiting sounds on this node (per-queue prompts come from the IVR queue node)."""

    moh: str = "tone_stream://%(400,200,400,450);loops=-1"
    outbound_context: str = "outbound"  # where a callback's customer number is routed
    originate_timeout_margin_s: float = 1.0  # ring the agent a little less than the reservation lasts
    callback_prompt: str = "callback_offer"  # prompt name: "press 1 to be called back"
    recent_handle_s: float = 240.0  # used for the expected wait until stats know better


@dataclass
class _Wait:
    """One caller's wait (kept per call: the gateway serves many calls at once)."""

    call: Any
    session: Any
    request: Enqueue
    task_id: str
    enqueued_at: float
    caller_number: str
    caller_name: str
    mailbox: gevent.queue.Queue
    moh: Any = None
    answered_at: float | None = None

    @property
    def uuid(self) -> str:
        """The caller's channel (the task id differs when the flow queues the call again)."""
        return self.session.uuid

    @property
    def resume_key(self) -> str:
        return f"{self.request.tenant}:{self.caller_number}" if self.caller_number else ""


class AcdQueueGateway:
    """The IVR `queue` node's QueueGateway on the ESL path, and the TaskSink for voicemail
    and callback tasks: enqueue, wait, offer, bridge."""

    def __init__(self, router: Router, inbox: OfferInbox, inbound: Any, clock: Clock,
                 options: VoiceQueueOptions | None = None, *, legs: AgentLegTracker | None = None,
                 stats: Any = None, resolve_prompt: Callable[[str, str], str] | None = None,
                 recorder: Any = None) -> None:
        self.router = router
        self.inbox = inbox
        self.inbound = inbound  # fs_scripts.esl.inbound.InboundConnection
        self.clock = clock
        self.options = options or VoiceQueueOptions()
        self.legs = legs
        self.stats = stats  # acd.stats.StatsRecorder or None
        self.resolve_prompt = resolve_prompt or (lambda name, language: name)
        self.recorder = recorder  # called (caller_uuid, agent_uuid, request) at bridge, or None

    # ------------------------------------------------------------------ QueueGateway
    def wait_in_queue(self, call: Any, request: Enqueue) -> QueueOutcome:
        session = call.session
        data = session.channel_data
        caller_number = (data.get("Caller-Caller-ID-Number") if data else "") or ""
        caller_name = (data.get("Caller-Caller-ID-Name") if data else "") or ""
        # a flow may queue the same call again (VIP queue overflowing to the general one):
        # each visit is its own task; the first keeps the call's uuid, so a resume finds it
        visits = getattr(call, "fscc_queue_visits", 0) + 1
        call.fscc_queue_visits = visits
        task_id = session.uuid if visits == 1 else f"{session.uuid}.{visits}"
        attributes = {
            "tier": int(request.tier), "language": request.language or "", "skills": dict(request.skills or {}),
            "customer_id": request.customer_id or "", "queue": request.queue, "caller": caller_number,
            **dict(request.attributes or {}),
        }
        mailbox = self.inbox.open(task_id)
        session.on("DTMF", lambda event: self._dtmf(task_id, event))
        try:
            enqueued = self.router.enqueue(task_id, attributes, channel="voice", queue=request.queue,
                                           resume_key=f"{request.tenant}:{caller_number}" if caller_number else "")
            wait = _Wait(call, session, request, task_id, enqueued.enqueued_at, caller_number, caller_name, mailbox)
            self._set_vars(wait, {
                # provisional: a caller who hangs up is gone before anything can be written on
                # the channel, so the CDR must already say it; any other ending overwrites it
                cdr_vars.CANCEL_REASON: "caller-hangup",
                cdr_vars.QUEUE: request.queue, cdr_vars.TASK_ID: task_id, cdr_vars.CHANNEL: "voice",
                cdr_vars.ENQUEUED_AT: cdr_vars.format_time(enqueued.enqueued_at),
                cdr_vars.TIER: str(int(request.tier)),
            })
            if enqueued.resumed:
                logger.info("call %s resumes its place in %s", task_id, request.queue)
            try:
                outcome, agent_id, exit_key = self._wait(wait)
            except (CallerHangup, _CallerGone):
                self._abandoned(wait)
                return QueueOutcome("abandoned", None, task_id, None, self.clock.now() - wait.enqueued_at,
                                    now=self.clock.now())
        finally:
            self.inbox.close(task_id)
        end = wait.answered_at if outcome == "answered" and wait.answered_at else self.clock.now()
        return QueueOutcome(outcome, agent_id, task_id, exit_key, max(0.0, end - wait.enqueued_at), now=self.clock.now())

    def _dtmf(self, task_id: str, event: Any) -> None:
        """Digits pressed while waiting go to the wait of that moment (exit keys); the handler
        stays registered on the session after the wait, so it looks the mailbox up each time."""
        box = self.inbox.mailbox(task_id)
        if box is not None:
            box.put(("dtmf", event.get("DTMF-Digit") or ""))

    # ------------------------------------------------------------------ TaskSink
    def create_task(self, call_uuid: str, task: CreateTask) -> str:
        """A voicemail or callback becomes a task in the queue; an agent is rung for it later."""
        task_id = f"{task.kind}-{call_uuid}"
        attributes = {"kind": task.kind, "queue": task.queue, **dict(task.attributes)}
        self.router.enqueue(task_id, attributes, channel="voice", queue=task.queue)
        logger.info("%s task %s queued in %s", task.kind, task_id, task.queue)
        return task_id

    def handle_unclaimed(self, offer: Offer) -> None:
        """An offer no waiting caller claims: a callback or voicemail task, else refused."""
        try:
            attrs = json.loads(self.router.task_state(offer.task_id).get("attrs") or "{}")
        except AcdError:
            attrs = {}
        kind = attrs.get("kind")
        route: dict[str, str] = {}
        if kind == "callback" and attrs.get("caller"):
            # the agent answers first, then the outbound rules reach the customer (as mod_callcenter does)
            destination, route = str(attrs["caller"]), {"dialplan": "XML", "context": self.options.outbound_context}
        elif kind == "voicemail" and attrs.get("path"):
            destination = f"&playback({attrs['path']})"
        else:
            logger.info("offer %s for task %s: no call waits for it here; refusing", offer.reservation_id, offer.task_id)
            _quietly(self.router.reject, offer.reservation_id)
            return
        agent_uuid = str(uuid_module.uuid4())
        ended = self.legs.expect(agent_uuid) if self.legs else None
        reply = self._originate(offer, agent_uuid, destination, {
            cdr_vars.CHANNEL: kind, cdr_vars.CALLBACK_NUMBER: attrs.get("caller", "") if kind == "callback" else "",
        }, **route)
        if not reply.startswith("+OK"):
            if self.legs:
                self.legs.forget(agent_uuid)
            self._refused(offer, reply)
            return
        try:
            self.router.accept(offer.reservation_id)
        except AcdError:
            self._kill(agent_uuid, "NORMAL_CLEARING")
            return
        if ended is not None:
            ended.wait()
        _quietly(self.router.complete, offer.task_id)

    # ------------------------------------------------------------------ waiting
    def _wait(self, w: _Wait) -> tuple[str, str | None, str | None]:
        request = w.request
        w.moh = self._start_moh(w)
        max_wait_s = float(request.max_wait_s or 0)
        every_s = float(request.announce_every_s or 0)
        callback_after_s = float(request.callback_offer_after_s or 0)
        next_announce = w.enqueued_at + every_s if every_s and request.announce_prompt else None
        while True:
            now = self.clock.now()
            if w.session.hung_up:
                raise _CallerGone()
            if max_wait_s and now - w.enqueued_at >= max_wait_s:
                self._stop_media(w)
                self._cancel(w, "max-wait")
                return "max-wait", None, None
            if callback_after_s and now - w.enqueued_at >= callback_after_s:
                callback_after_s = 0.0  # offered once
                if self._offer_callback(w):
                    return "callback", None, None
                w.moh = self._start_moh(w)
            if next_announce is not None and now >= next_announce:
                next_announce = now + every_s
                self._announce(w)
                w.moh = self._start_moh(w)
            try:
                kind, item = w.mailbox.get(timeout=POLL_WALL_S)
            except gevent.queue.Empty:
                continue
            if kind == "dtmf" and item in (request.exit_keys or ()):
                self._stop_media(w)
                self._cancel(w, "exit-key")
                return "exit-key", None, item
            if kind == "offer":
                offers = [item] + self._more_offers(w)
                agent_id = self._ring(w, offers)
                if agent_id is not None:
                    return "answered", agent_id, None

    def _more_offers(self, w: _Wait) -> list[Offer]:
        """Ring-all puts several reservations in the mailbox at once: ring them together."""
        more: list[Offer] = []
        keep: list[tuple[str, Any]] = []
        while not w.mailbox.empty():
            kind, item = w.mailbox.get_nowait()
            (more if kind == "offer" else keep).append(item if kind == "offer" else (kind, item))
        for entry in keep:
            w.mailbox.put(entry)
        return more

    def _start_moh(self, w: _Wait) -> Any:
        source = w.request.moh or self.options.moh
        if not source.startswith(("tone_stream://", "silence_stream://", "local_stream://", "/")):
            source = self.resolve_prompt(source, w.request.language)
        try:
            return w.session.execute_async("playback", commands.playback_arg(source), event_lock=False)
        except (CommandFailed, CallerHangup):
            logger.info("call %s: hold music %s not started", w.task_id, source)
            return None

    def _stop_media(self, w: _Wait) -> None:
        try:
            self._api(w, "uuid_break", w.uuid, "all")
        except (CommandFailed, EslError):
            pass  # nothing was playing, or the caller is gone

    def _announce(self, w: _Wait) -> None:
        """Position and expected wait, then back to the music.

        Queued on the channel (async execute) rather than waited for: the wait loop must keep
        reading its mailbox, or an offer arriving during the announcement would sit there
        while its reservation runs out, and the agent would be rung for the last second of it
        and charged a no-answer. The music is queued behind the announcement by the loop."""
        position = self._position(w.task_id)
        staffed, handle_s = self._staffing(w.request.queue)
        ewt_min = max(1, round(expected_wait_s(position, staffed, handle_s) / 60)) if position else 0
        self._stop_media(w)
        language = w.request.language or "en"
        steps = [("playback", commands.playback_arg(self.resolve_prompt(w.request.announce_prompt or "", language)))]
        if position:
            steps += [("say", commands.app_arg(language, "number", "pronounced", position)),
                      ("say", commands.app_arg(language, "number", "pronounced", ewt_min))]
        try:
            for app, arg in steps:
                w.session.execute_async(app, arg, event_lock=False)
        except CallerHangup as exc:
            raise _CallerGone() from exc
        except EslError as exc:
            logger.info("call %s: announcement failed: %s", w.task_id, exc)

    def _position(self, task_id: str) -> int:
        """1-based place among the waiting tasks of the task's routing queue; 0 if not waiting."""
        store = self.router.store
        fields = self.router.client.hmget(store.key("task", task_id), "queue", "channel")
        if not fields[0]:
            return 0
        rank = self.router.client.zrank(store.key("q", _s(fields[0]), "pending", _s(fields[1])), task_id)
        return 0 if rank is None else int(rank) + 1

    def _staffing(self, queue: str) -> tuple[int, float]:
        """(agents staffing the queue, recent handle time) for the expected-wait estimate."""
        if self.stats is not None:
            try:
                figures = self.stats.queue_stats(queue)
                staffed = sum(v for k, v in figures.agents_by_state.items()
                              if k in ("available", "reserved", "busy", "wrap-up"))
                handle = getattr(figures, "recent_handle_s", None) or self.options.recent_handle_s
                return staffed, float(handle)
            except Exception:
                logger.debug("queue stats for %s unavailable", queue, exc_info=True)
        return 1, self.options.recent_handle_s

    def _offer_callback(self, w: _Wait) -> bool:
        """Offer to call back: 1 keeps the caller's place (the callback task inherits the
        original enqueue time), anything else keeps them waiting."""
        if not w.caller_number:
            return False
        self._stop_media(w)
        prompt = self.resolve_prompt(self.options.callback_prompt, w.request.language or "en")
        try:
            digits = w.call.play_and_get_digits(prompt=prompt, invalid_prompt="silence_stream://250", min_digits=1,
                                                max_digits=1, tries=1, timeout_ms=5000, terminators="#", regex="\\d")
        except Exception as exc:
            if w.session.hung_up:
                raise _CallerGone() from exc
            raise
        if digits != "1":
            return False
        callback_id = f"callback-{w.task_id}"
        self.router.enqueue(callback_id, {"kind": "callback", "caller": w.caller_number, "queue": w.request.queue,
                                          "tier": int(w.request.tier), "callback_of": w.task_id},
                            channel="voice", queue=w.request.queue, inherit_task=w.task_id)
        self._cancel(w, "callback")
        self._set_vars(w, {cdr_vars.CALLBACK_NUMBER: w.caller_number})
        return True

    # ------------------------------------------------------------------ the offer
    def _ring(self, w: _Wait, offers: list[Offer]) -> str | None:
        """Ring the reserved agents together; the first to answer is accepted and bridged, the
        others are released. Returns the agent id, or None to keep waiting."""
        self._set_vars(w, {cdr_vars.OFFERED_AT: cdr_vars.format_time(self.clock.now())})
        legs = {offer.reservation_id: str(uuid_module.uuid4()) for offer in offers}
        jobs = {offer.reservation_id: gevent.spawn(self._originate, offer, legs[offer.reservation_id], "&park()",
                                                   self._agent_vars(w, offer))
                for offer in offers}
        winner: Offer | None = None
        pending = dict(jobs)
        while pending:
            gevent.wait(list(pending.values()), timeout=POLL_WALL_S, count=1)
            if w.session.hung_up:
                for rid in list(pending) + ([winner.reservation_id] if winner else []):
                    self._kill(legs[rid], "ORIGINATOR_CANCEL")
                gevent.joinall(list(pending.values()), timeout=5)
                raise _CallerGone()
            for offer in offers:
                job = pending.get(offer.reservation_id)
                if job is None or not job.ready():
                    continue
                del pending[offer.reservation_id]
                reply = job.value or "-ERR UNKNOWN"
                if not reply.startswith("+OK"):
                    if winner is None:  # a leg we released after another answered is no refusal
                        self._refused(offer, reply)
                        self._set_vars(w, {cdr_vars.RESERVATION_OUTCOME: refusal_for(reply)[0].value})
                elif winner is None and not w.session.hung_up and self._accept(offer, legs[offer.reservation_id]):
                    winner = offer  # accepting rescinds the other reservations in Redis first,
                    for rid in pending:  # so hanging up their legs cannot count against those agents
                        self._kill(legs[rid], "LOSE_RACE")
                elif winner is not None or w.session.hung_up:
                    self._kill(legs[offer.reservation_id], "LOSE_RACE")
        if winner is None:
            if w.session.hung_up:
                raise _CallerGone()
            return None
        if w.session.hung_up:
            self._kill(legs[winner.reservation_id], "ORIGINATOR_CANCEL")
            _quietly(self.router.complete, winner.task_id, 0.0)
            raise _CallerGone()
        return self._bridge(w, winner, legs[winner.reservation_id])

    def _accept(self, offer: Offer, agent_uuid: str) -> bool:
        try:
            self.router.accept(offer.reservation_id)
            return True
        except AcdError:
            logger.warning("reservation %s ended before %s answered; releasing the agent leg",
                           offer.reservation_id, offer.worker_id)
            self._kill(agent_uuid, "NORMAL_CLEARING")
            return False

    def _agent_vars(self, w: _Wait, offer: Offer) -> dict[str, str]:
        r = w.request
        return {
            "origination_caller_id_number": w.caller_number, "origination_caller_id_name": w.caller_name,
            cdr_vars.QUEUE: r.queue, cdr_vars.TASK_ID: offer.task_id, cdr_vars.AGENT: offer.worker_id,
            cdr_vars.CALLER_UUID: w.uuid,
            cdr_vars.TIER: str(int(r.tier)), cdr_vars.CUSTOMER_ID: r.customer_id or "", cdr_vars.TENANT: r.tenant,
        }

    def _originate(self, offer: Offer, agent_uuid: str, destination: str, extra: dict[str, str],
                   dialplan: str | None = None, context: str | None = None) -> str:
        """`bgapi originate` the agent's leg; returns the job's reply text (+OK uuid / -ERR CAUSE)."""
        try:
            reservation = self.router.reservation(offer.reservation_id)
        except AcdError:
            return "-ERR ORIGINATOR_CANCEL"
        ring_s = max(1, int(reservation.expires - self.clock.now() - self.options.originate_timeout_margin_s))
        extra = {cdr_vars.WRAPUP_S: self._wrapup_s(offer.task_id, reservation.queue), **extra}
        variables = {"origination_uuid": agent_uuid, "originate_timeout": str(ring_s),
                     "ignore_early_media": "true", **{k: v for k, v in extra.items() if v}}
        started = self.clock.now()
        try:
            dial = commands.dial_string(offer.contact, variables)
            reply = self.inbound.bgapi("originate", commands.originate(dial, destination, dialplan=dialplan,
                                                                       context=context),
                                       timeout_s=self.clock.wall_seconds(ring_s) + 30)
            logger.debug("originate %s for %s: %s after %.1f s", agent_uuid, offer.worker_id, reply.strip(),
                         self.clock.now() - started)
            return reply
        except CommandFailed as exc:
            return str(getattr(exc, "reply", "") or exc)
        except EslError as exc:
            logger.warning("originate for %s failed: %s", offer.worker_id, exc)
            return f"-ERR {type(exc).__name__}"

    def _wrapup_s(self, task_id: str, queue: str) -> str:
        """The after-call work the agent will get when this task's talk ends, for the agent
        leg's CDR: what complete.lua reads, the wrapup_s of the task's routing queue (the
        reservation's) in Redis. The switch writes the leg's CDR at its hangup, before any
        wrap-up ends, so the CDR carries the seconds and crm_sync adds them to the leg's end
        (fs_scripts/cdr_vars.py)."""
        if not queue:
            return ""
        try:
            seconds = self.router.client.hget(self.router.store.key("q", queue, "cfg"), "wrapup_s")
            return cdr_vars.format_time(max(0.0, float(seconds or 0)))
        except Exception as exc:  # Redis away for a moment: the CDR goes without it, the call goes on
            logger.warning("task %s: the queue's wrap-up time is unknown: %s", task_id, exc)
            return ""

    def _bridge(self, w: _Wait, offer: Offer, agent_uuid: str) -> str | None:
        w.answered_at = self.clock.now()
        self._stop_media(w)
        self._consent(w, offer, agent_uuid)
        wait_s = w.answered_at - w.enqueued_at
        self._set_vars(w, {
            cdr_vars.ANSWERED_AT: cdr_vars.format_time(w.answered_at), cdr_vars.AGENT: offer.worker_id,
            cdr_vars.RESERVATION_OUTCOME: "accepted", cdr_vars.WAIT_S: f"{wait_s:.3f}",
            # the flow learns the outcome only when the talk is over, usually after the caller
            # hung up and can no longer be written to: the CDR must say it now
            cdr_vars.OUTCOME: "answered",
        })
        try:  # no longer a candidate for abandonment (uuid_setvar without a value unsets)
            self._api(w, "uuid_setvar", w.uuid, cdr_vars.CANCEL_REASON)
        except EslError:
            logger.debug("call %s: could not clear %s", w.uuid, cdr_vars.CANCEL_REASON)
        try:
            self.inbound.api("uuid_bridge", w.uuid, agent_uuid)
        except (CommandFailed, EslError):
            logger.warning("bridge %s <-> %s failed", w.task_id, agent_uuid)
            self._kill(agent_uuid, "NORMAL_CLEARING")
            _quietly(self.router.complete, offer.task_id, 0.0)
            if w.session.hung_up:
                raise _CallerGone() from None
            return None
        if self.stats is not None:
            _quietly(self.stats.record_answered, w.request.queue, wait_s, offer.worker_id)
        if self.recorder is not None:
            try:
                self.recorder(w.uuid, agent_uuid, w.request)
            except Exception as exc:  # the call goes on unrecorded; say why, without a stack
                logger.warning("call %s: recording not started: %s", w.uuid, exc)
        try:  # the talk: until either side hangs up or the bridge is broken
            w.session.wait_event(lambda e: e.name in ("CHANNEL_UNBRIDGE", "CHANNEL_HANGUP"), timeout_s=24 * 3600)
        except (CallerHangup, EslError):
            pass
        _quietly(self.router.complete, offer.task_id)
        logger.info("task %s with %s completed", offer.task_id, offer.worker_id)
        return offer.worker_id

    def _consent(self, w: _Wait, offer: Offer, agent_uuid: str) -> None:
        """The queue's recording policy may ask for a consent prompt ("this call may be
        recorded"): the caller hears it just before the agent is put through (the agent, already
        answered, waits those seconds; the same order as mod_callcenter's announce)."""
        if self.recorder is None or not hasattr(self.recorder, "announcement"):
            return
        prompt = self.recorder.announcement(w.request.tenant, w.request.queue)
        if not prompt:
            return
        try:
            w.session.execute("playback", commands.playback_arg(self.resolve_prompt(prompt, w.request.language or "en")),
                              timeout_s=120)
        except CallerHangup as exc:  # gone before the agent was put through: release the agent
            self._kill(agent_uuid, "ORIGINATOR_CANCEL")
            _quietly(self.router.complete, offer.task_id, 0.0)
            raise _CallerGone() from exc
        except EslError as exc:
            logger.info("call %s: consent prompt not played: %s", w.uuid, exc)

    # ------------------------------------------------------------------ endings
    def _abandoned(self, w: _Wait) -> None:
        now = self.clock.now()
        self._cancel(w, "caller-hangup")
        self._set_vars(w, {cdr_vars.ABANDONED_AT: cdr_vars.format_time(now)})
        if self.stats is not None:
            _quietly(self.stats.record_abandoned, w.request.queue, now - w.enqueued_at)

    def _refused(self, offer: Offer, reply: str) -> None:
        outcome, cause = refusal_for(reply)
        logger.info("offer %s to %s: %s (%s)", offer.task_id, offer.worker_id, outcome.value, cause)
        if cause == "USER_NOT_REGISTERED":
            _quietly(self.router.set_registered, offer.worker_id, False)
        _quietly(self.router.refuse, offer.reservation_id, outcome)

    def _cancel(self, w: _Wait, reason: str) -> None:
        _quietly(self.router.cancel, w.task_id, reason, w.resume_key if reason == "caller-hangup" else "")
        self._set_vars(w, {cdr_vars.CANCEL_REASON: reason})

    def _kill(self, uuid: str, cause: str) -> None:
        try:
            self.inbound.api("uuid_kill", uuid, cause)
        except (CommandFailed, EslError):
            pass  # already gone

    def _set_vars(self, w: _Wait, values: dict[str, str]) -> None:
        """Written with one `uuid_setvar_multi` API call: an API call never queues behind the
        hold music the way the `set` application would."""
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            return
        if all(";" not in v and "=" not in v for v in values.values()):
            batches = [("uuid_setvar_multi", w.uuid, ";".join(f"{k}={v}" for k, v in values.items()))]
        else:  # uuid_setvar_multi has no escape for ';': such values go one by one
            batches = [("uuid_setvar", w.uuid, k, v) for k, v in values.items()]
        for command, *args in batches:
            try:
                self._api(w, command, *args)
            except (CommandFailed, EslError):
                logger.debug("call %s: could not set %s", w.task_id, ", ".join(values))

    def _api(self, w: _Wait, command: str, *args: str) -> str:
        """A per-call API command goes over the call's own outbound socket, so thousands of
        waiting callers do not queue behind one another on the shared inbound connection;
        once that socket is gone (the caller hung up and the linger ended), over the inbound one."""
        if not w.session.closed:
            try:
                return w.session.api(command, *args)
            except CommandFailed:
                raise
            except EslError:  # CallerHangup, connection lost: the call's socket is gone
                pass
        return self.inbound.api(command, *args)


class _CallerGone(Exception):
    """The waiting caller hung up (internal: becomes the `abandoned` outcome)."""


def _quietly(func: Callable[..., Any], *args: Any) -> Any:
    """Router calls whose failure only means the state already moved on (another node, a tick)."""
    try:
        return func(*args)
    except AcdError as exc:
        logger.info("%s%s: %s", getattr(func, "__name__", func), args, exc)
        return None


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""mod_python3 entry point: run an IVR flow inside the switch, in the channel's own thread.

    <action application="python" data="fs_scripts.modpython hotline_10086"/>

mod_python3 (src/mod/languages/mod_python3/mod_python3.c, eval_some_python) splits the
application data once on a space: the module to import (re-imported with
PyImport_ReloadModule on every call) and one argument string; it calls
`handler(session, args)` with `session` a `freeswitch.Session` (the SWIG wrapper of
`PYTHON::Session : CoreSession`, src/include/switch_cpp.h). `args` is the flow file name
(`hotline_10086` or `hotline_10086.yaml.j2`; empty: `ivr.default_flow`).

This module imports NO gevent, directly or through what it imports (tested in a subprocess):
it runs in a FreeSWITCH thread where gevent's hub would be a stranger. Hence no ACD here:
the ACD voice gateway lives on the outbound-socket side (`fscc serve`); under mod_python3 a
`queue` node bridges to `ivr.queue_extension` (FixedExtensionQueue), or fails over to the
flow's `on_failed` branch when none is configured. Webhooks use the stdlib socket (threads).

The CoreSession calls used, and what the switch does (switch_cpp.cpp):
- `answer()`, `streamFile(file)`, `sleep(ms)`, `recordFile(path, limit, thresh, hits)`,
  `say(text, module, type, method)`, `execute(app, data)` block the channel thread and return
  at once on a channel that is gone; `ready()` is switch_channel_ready (up, not hanging up).
- `playAndGetDigits(min, max, tries, timeout, terminators, file, bad_file, regex, var_name,
  digit_timeout)` returns the digits; with `var_name=None` switch_play_and_get_digits stores
  them in no channel variable, so a sensitive value never reaches the CDR. It calls the core
  directly, so "no terminator" is the empty string (the dialplan app's `none` is the app's).
- `getVariable(name)` falls back to the caller profile (`caller_id_number`...),
  `setVariable(name, val)` keeps working after a hang-up: the channel thread is ours until
  `handler` returns, so the CDR (written after) carries what we set last.
"""

from __future__ import annotations

import logging
from typing import Any

from fs_scripts import cdr_vars
from ivr_flows.actions import Enqueue, QueueOutcome
from ivr_flows.ports import CallControl, CallerHungUp, FixedExtensionQueue

logger = logging.getLogger(__name__)

#: variables a flow reads at start (mod_python has no "all variables" call)
START_VARIABLES = (
    "uuid", "caller_id_number", "caller_id_name", "destination_number", "ani", "network_addr",
    cdr_vars.TENANT, cdr_vars.TIER, cdr_vars.CUSTOMER_ID, cdr_vars.AUTHENTICATED, cdr_vars.LANGUAGE,
    cdr_vars.FLOW, cdr_vars.CALLBACK_NUMBER, cdr_vars.RECORDING_PATH,
)
ANY_KEYS = "^[0-9*#A-D]+$"
NO_PROMPT = "silence_stream://10"


class ModPythonCallControl(CallControl):
    """`ports.CallControl` over mod_python3's `session` (no gevent, blocking calls).

    A call that returns with the channel no longer ready raises `ports.CallerHungUp`
    carrying `session.hangupCause()`.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._bridge_prepared = False

    # ------------------------------------------------------------------ plumbing
    def _check(self) -> None:
        if not self.session.ready():
            raise CallerHungUp(self._cause())

    def _cause(self) -> str:
        try:
            return str(self.session.hangupCause() or "")
        except Exception:  # a stand-in without hangupCause, a destroyed session
            return ""

    # ------------------------------------------------------------------ CallControl
    @property
    def uuid(self) -> str:
        getter = getattr(self.session, "get_uuid", None)
        return str(getter() if getter else self.session.getVariable("uuid") or "")

    def variables(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in START_VARIABLES:
            value = self.session.getVariable(name)
            if value not in (None, ""):
                out[name] = str(value)
        return out

    def get_variable(self, name: str) -> str | None:
        value = self.session.getVariable(name)
        return None if value in (None, "", "_undef_") else str(value)

    def set_variable(self, name: str, value: str) -> None:
        # no ready() check: after a hang-up this still reaches the CDR (module docstring)
        self.session.setVariable(name, value)

    def answer(self) -> None:
        self._check()
        self.session.answer()
        self._check()

    def playback(self, source: str) -> None:
        self._check()
        self.session.streamFile(source)
        self._check()

    def say(self, language: str, kind: str, method: str, text: str) -> None:
        self._check()
        self.session.say(text, language, kind, method)
        self._check()

    def play_and_get_digits(self, *, prompt: str, invalid_prompt: str, min_digits: int, max_digits: int,
                            tries: int, timeout_ms: int, terminators: str, regex: str | None) -> str:
        self._check()
        digits = self.session.playAndGetDigits(
            int(min_digits), int(max_digits), max(1, int(tries)), int(timeout_ms), terminators or "",
            prompt or NO_PROMPT, invalid_prompt or NO_PROMPT, regex or ANY_KEYS, None, int(timeout_ms))
        self._check()
        return str(digits or "")

    def record(self, path: str, max_s: int, silence_threshold: int, silence_s: int) -> str:
        self._check()
        self.session.recordFile(path, int(max_s), int(silence_threshold), int(silence_s))
        self._check()
        return path

    def bridge(self, dial_string: str) -> str:
        self._check()
        if not self._bridge_prepared:
            self.session.setVariable("continue_on_fail", "true")
            self.session.setVariable("hangup_after_bridge", "false")
            self._bridge_prepared = True
        self.session.execute("bridge", dial_string)
        if self.session.getVariable("last_bridge_to") or self.session.getVariable("bridge_uuid"):
            return "SUCCESS"  # answered, even if the caller hung up while talking
        self._check()
        return str(self.session.getVariable("originate_disposition") or self.session.getVariable("DIALSTATUS")
                   or "NO_ANSWER")

    def transfer(self, destination: str, dialplan: str = "XML", context: str = "default") -> None:
        self._check()
        self.session.transfer(destination, dialplan, context)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self.session.ready():
            self.session.hangup(cause)

    def sleep(self, ms: int) -> None:
        self._check()
        self.session.sleep(int(ms))
        self._check()

    def mask_recording(self) -> None:
        path = self.get_variable(cdr_vars.RECORDING_PATH)
        if path:
            self._check()
            self.session.execute("record_session_mask", path)

    def unmask_recording(self) -> None:
        path = self.get_variable(cdr_vars.RECORDING_PATH)
        if path:
            self._check()
            self.session.execute("record_session_unmask", path)


class _NoQueue:
    """No `ivr.queue_extension`: a queue node ends `failed` (its on_failed branch runs)."""

    def wait_in_queue(self, call: CallControl, request: Enqueue) -> QueueOutcome:
        logger.error("call %s: queue %s asked for under mod_python3, but ivr.queue_extension is not set",
                     call.uuid, request.queue)
        return QueueOutcome("failed")


def run_call(session: Any, flow_name: str = "", *, settings: Any = None, queue: Any = None,
             directory: Any = None, tasks: Any = None, clock: Any = None) -> Any:
    """Load the flow and run it on `session`; returns the runner's RunResult."""
    from fs_scripts.clock import Clock
    from ivr_flows.loader import flows_dir, load_flow
    from ivr_flows.runner import FlowRunner

    if settings is None:
        from fs_scripts.settings import load_settings

        settings = load_settings()
    call = ModPythonCallControl(session)
    tenant = call.get_variable(cdr_vars.TENANT) or "default"
    name = flow_name.strip() or settings.ivr.default_flow
    if not name.endswith(".j2"):
        name += ".yaml.j2"
    flow = load_flow(flows_dir(settings) / name, settings, tenant)
    if queue is None:
        queue = FixedExtensionQueue(settings.ivr.queue_extension) if settings.ivr.queue_extension else _NoQueue()
    if directory is None:
        directory = _directory(settings)
    runner = FlowRunner(flow, call, queue=queue, directory=directory, tasks=tasks, clock=clock or Clock(),
                        settings=settings, tenant=tenant)
    return runner.run()


def _directory(settings: Any) -> Any:
    """The CRM directory over the configured database (no gevent: peewee over the stdlib)."""
    try:
        from crm_sync.directory import CrmCustomerDirectory
        from crm_sync.models import open_database
        from fs_scripts.embedded import db_url

        return CrmCustomerDirectory(open_database(db_url(settings)))
    except Exception:
        logger.exception("the CRM directory is not available; lookups will find no one")
        return None


def handler(session: Any, args: str) -> None:
    """mod_python3's entry point (see the module docstring)."""
    try:
        result = run_call(session, args or "")
        logger.info("call %s: flow %s ended %s (%s) at %s", ModPythonCallControl(session).uuid, result.flow,
                    result.outcome, result.reason, result.node)
    except Exception:
        logger.exception("mod_python3 flow %r failed", args)
        if session.ready():
            session.hangup("NORMAL_TEMPORARY_FAILURE")


__all__ = ["ModPythonCallControl", "handler", "run_call"]

"""The channel variables fscc sets on every call, so the switch's own CDR carries them.

This module is the one contract between the engine that sets them (IVR runner, ACD call
side, recording hooks) and `crm_sync`, which reads them back out of mod_json_cdr files.
Every name starts with `fscc_`. Times are simulated-clock epoch seconds with millisecond
decimals (`"1763817600.125"`), because mod_json_cdr's own stamps are per-leg and do not
say when a call entered a queue. Values are plain text; lists are joined with `>` (the
flow path) so that no `,` (FreeSWITCH's array separator) is ever needed.
"""

from __future__ import annotations

TENANT = "fscc_tenant"
CHANNEL = "fscc_channel"  # voice, chat, sms, email, callback, voicemail
FLOW = "fscc_flow"  # flow file name
PATH = "fscc_path"  # node ids joined with '>'; digits of sensitive nodes never appear
OUTCOME = "fscc_outcome"  # answered, abandoned, self-service, callback, voicemail, failed, transferred
TIER = "fscc_tier"  # 1 (global VIP) .. 7 (other network)
CUSTOMER_ID = "fscc_customer_id"
AUTHENTICATED = "fscc_authenticated"  # "true" once the caller passed authentication
LANGUAGE = "fscc_language"
FLOW_END = "fscc_flow_end"  # normal, caller-hangup, transferred, error: how the IVR flow ended
SURVEY = "fscc_survey"  # post-call survey answers: name=score joined with ';'

QUEUE = "fscc_queue"
AGENT = "fscc_agent"
TASK_ID = "fscc_task_id"
CALLER_UUID = "fscc_caller_uuid"  # on an agent leg: the caller's channel it was rung for (answered or not)
ENQUEUED_AT = "fscc_enqueued_at"
OFFERED_AT = "fscc_offered_at"
ANSWERED_AT = "fscc_answered_at"
ABANDONED_AT = "fscc_abandoned_at"
WRAPUP_END_AT = "fscc_wrapup_end_at"
# on an agent leg, set at origination: the after-call work the agent gets when the talk ends
# (the task's queue's wrapup_s, in seconds). The switch writes the leg's CDR at hangup, before
# the wrap-up ends, so crm_sync takes the wrap-up end as the leg's end + these seconds; an
# agent who is ready sooner ends it early, which only the agent activity log records.
WRAPUP_S = "fscc_wrapup_s"
WAIT_S = "fscc_wait_s"
RESERVATION_OUTCOME = "fscc_reservation_outcome"  # accepted, timeout, rejected, busy, rescinded
CANCEL_REASON = "fscc_cancel_reason"  # caller-hangup, max-wait, exit-key, callback, ...
DISPOSITION = "fscc_disposition"
WORK_ORDER_ID = "fscc_work_order_id"
CALLBACK_NUMBER = "fscc_callback_number"

RECORDING_CONSENT = "fscc_recording_consent"  # "yes" / "no": what the caller chose in the IVR
RECORDING_PATH = "fscc_recording_path"
RECORDING_DURATION_MS = "fscc_recording_duration_ms"
RECORDING_SIZE = "fscc_recording_size"
RECORDING_SHA256 = "fscc_recording_sha256"

# set by the rendered dialplan (fs_scripts/confgen): the trunk and number of an outbound call,
# the caller ID the engine asks for (kept only if the tenant owns it), and why a call went to
# its fallback instead of fscc serve
TRUNK = "fscc_trunk"
DIALED_E164 = "fscc_dialed_e164"
DIALED_NATIONAL = "fscc_dialed_national"
OUTBOUND_CALLER_ID = "fscc_outbound_caller_id"
FALLBACK = "fscc_fallback"  # serve-unavailable

PATH_SEPARATOR = ">"


def format_time(epoch_s: float) -> str:
    """The one format for fscc time points in channel variables."""
    return f"{epoch_s:.3f}"

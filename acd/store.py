"""Redis keys of the routing state and the Lua scripts that change it atomically.

Why Lua: two `fscc serve` processes on two FreeSWITCH boxes must never hand one agent two
calls or one call to two agents. Every state change that reads and then writes (match a
task, free a worker, accept, time out) runs as one script, so Redis serializes them; no
Python code reads state and writes it back. Each script lives in `acd/lua/<name>.lua` with
a header naming KEYS and ARGV (as redis-py's `lock.py` does); `lib.lua` holds the shared
functions and the transition tables are rendered from `acd/model.py`, so the rules are
written once (each script carries only the definitions it reaches: `used_definitions`).
Scripts are registered once per client (redis-py `Script`, which reloads on
NOSCRIPT after a server restart or SCRIPT FLUSH).

Time: every script gets `now` from `fs_scripts.clock.Clock` as ARGV[1], never Redis TIME.

Key layout (prefix `fscc:{<tenant>}:`, the hash tag keeps a tenant in one cluster slot):

    task:<id>                    hash  state, channel, queue, score, enqueued_at, worker, ...
    task:<id>:res                set   pending reservation ids of the task
    res:<id>                     hash  task, worker, state, node, created, expires
    w:<id>                       hash  activity, reason, registered, cap:<ch>, used:<ch>, idle:<ch>, ...
    w:<id>:queues / :tasks       set   eligible routing queues / live tasks holding capacity
    q:<rq>:pending:<ch>          zset  task -> order score (priority, then FIFO/LIFO time)
    q:<rq>:avail:<ch>            zset  worker -> strategy score (acd/selection.py)
    q:<rq>:cfg                   hash  strategy, order, timeouts, round-robin counter
    q:<rq>:since                 zset  task -> enqueued_at, for tasks not yet answered
    q:<queue>:sl / :aht          zset / list  last hour's answered+abandoned / last handle times
    deadlines escalations delayed wrapups nodes abandoned:exp   zsets of due times
    node:<id>:inbox              list  reservations for the node owning the contact (BLPOP)
    node:<id>:tasks / :res       set   what a node owns, for dead-node recovery
    counters                     hash  tasks:<state>, workers:<activity>, reservations:<outcome>
    activity                     stream every agent activity transition (worker, from, to, reason,
                                        at, seq), capped at activity:maxlen (string, default 100000)
    activity:seq                 string the last seq given
    activity:cursor:<node>       hash  id, seq, at: how far the node's ActivityFollower has read
                                       the stream (fs_scripts/activity_log.py)
"""

from __future__ import annotations

import functools
import logging
import re
from importlib import resources
from typing import Any

import redis

from acd.errors import AcdError, IllegalTransition, StoreError, UnknownEntity
from acd.model import lua_transition_tables

logger = logging.getLogger(__name__)

SCRIPT_NAMES = (
    "enqueue", "accept", "refuse", "cancel", "complete", "wrapup_done", "activity",
    "register", "worker", "queue", "tick", "heartbeat",
)
_TENANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ERROR_RE = re.compile(r"ACD (ILLEGAL|UNKNOWN|EXISTS|BAD) (\S+) ?(\S*) ?(\S*) ?(\S*)")


def tenant_prefix(tenant: str) -> str:
    if not _TENANT_RE.match(tenant):
        raise AcdError(f"bad tenant name {tenant!r}: letters, digits, '_', '.', '-' only")
    return f"fscc:{{{tenant}}}:"


@functools.cache
def script_source(name: str) -> str:
    """The full text sent to Redis: transition tables, the parts of lib.lua the script uses,
    then the script."""
    lua = resources.files("acd") / "lua"
    lib = (lua / "lib.lua").read_text(encoding="utf-8")
    body = (lua / f"{name}.lua").read_text(encoding="utf-8")
    prelude = lua_transition_tables() + lib
    return f"-- acd/lua/{name}.lua (with lib.lua)\n{used_definitions(prelude, body)}\n{body}\n"


_TOP_LOCAL = re.compile(r"^local (?:function )?([A-Za-z_]\w*)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_COMMENT = re.compile(r"--[^\n]*")


def used_definitions(prelude: str, body: str) -> str:
    """The top-level `local` definitions of `prelude` that `body` reaches, in their order.

    Why: Redis 6.2 runs a script's whole text on every call, so each `local function` of
    lib.lua becomes a new closure per call, garbage that Redis's Lua collector sweeps in one
    step every 50 scripts (LUA_GC_CYCLE_PERIOD in scripting.c), stalling whatever script
    it lands in. A script that creates only the closures it calls keeps that step short.
    A definition is a run of lines from a column-0 `local` (with the comment lines just
    above it) to the next one; what it references is read with comments removed.
    """
    chunks: list[tuple[str | None, list[str]]] = [(None, [])]
    comments: list[str] = []  # comment lines just above the next definition
    for line in prelude.splitlines(keepends=True):
        match = _TOP_LOCAL.match(line)
        if match:
            chunks.append((match.group(1), comments + [line]))
            comments = []
        elif line.startswith("--"):
            comments.append(line)
        else:
            chunks[-1][1].extend(comments + [line])
            comments = []
    defined = {name: i for i, (name, _) in enumerate(chunks) if name}
    keep: set[int] = set()
    todo = [_COMMENT.sub("", body)]
    while todo:
        for word in set(_NAME.findall(todo.pop())):
            i = defined.get(word)
            if i is not None and i not in keep:
                keep.add(i)
                todo.append(_COMMENT.sub("", "".join(chunks[i][1])))
    return "".join("".join(lines) for i, (name, lines) in enumerate(chunks) if name and i in keep)


def translate_error(exc: redis.ResponseError) -> AcdError:
    """A script's `die(...)` becomes our exception; anything else is a StoreError."""
    match = _ERROR_RE.search(str(exc))
    if not match:
        return StoreError(f"redis script failed: {exc}")
    kind, a, b, c, d = match.groups()
    if kind == "ILLEGAL":
        error: AcdError = IllegalTransition(a, b, c, d)
        logger.warning("illegal %s transition %s: %s -> %s", a, b, c, d)
        return error
    if kind == "UNKNOWN":
        return UnknownEntity(a, b)
    if kind == "EXISTS":
        err = AcdError(f"{a} {b} already exists")
        err.code = "exists"
        return err
    return AcdError(str(exc).split("ACD BAD ", 1)[-1])


class Store:
    """One tenant's routing state in one Redis: script calls and plain reads, nothing else."""

    def __init__(self, client: redis.Redis, tenant: str = "default") -> None:
        self.client = client
        self.tenant = tenant
        self.prefix = tenant_prefix(tenant)
        self._scripts = {name: client.register_script(script_source(name)) for name in SCRIPT_NAMES}

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def run(self, name: str, now: float, *args: Any) -> Any:
        """Run script `name` with ARGV = (now, *args); our errors come out as AcdError subclasses."""
        try:
            return self._scripts[name](keys=[self.prefix], args=_argv(now, args))
        except redis.ResponseError as exc:
            raise translate_error(exc) from exc
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable running {name}: {exc}") from exc

    def run_many(self, calls: list[tuple[str, float, tuple[Any, ...]]]) -> list[Any]:
        """Run several scripts in one pipeline (not a transaction: each script is atomic on its
        own). Returns each reply, or the AcdError its script raised, in order."""
        def send() -> list[Any]:
            # plain EVALSHA: redis-py's Script-on-pipeline would add a SCRIPT EXISTS round trip per batch
            pipe = self.client.pipeline(transaction=False)
            for name, now, args in calls:
                pipe.evalsha(self._scripts[name].sha, 1, self.prefix, *_argv(now, args))
            return pipe.execute(raise_on_error=False)

        try:
            replies = send()
            if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
                # Redis restarted or SCRIPT FLUSH: nothing ran for those; load and send them again
                for name in {name for (name, _, _), r in zip(calls, replies, strict=True)
                             if isinstance(r, redis.exceptions.NoScriptError)}:
                    self.client.script_load(self._scripts[name].script)
                again = [c for c, r in zip(calls, replies, strict=True) if isinstance(r, redis.exceptions.NoScriptError)]
                retried = iter(Store.run_many(self, again))
                replies = [next(retried) if isinstance(r, redis.exceptions.NoScriptError) else r for r in replies]
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable running a batch of {len(calls)}: {exc}") from exc
        return [translate_error(r) if isinstance(r, redis.ResponseError) else r for r in replies]

    # ------------------------------------------------------------------ reads
    def hash(self, *parts: str) -> dict[str, str]:
        try:
            raw = self.client.hgetall(self.key(*parts))
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable: {exc}") from exc
        return {_text(k): _text(v) for k, v in raw.items()}

    def members(self, *parts: str) -> list[str]:
        return sorted(_text(m) for m in self.client.smembers(self.key(*parts)))

    def zrange(self, *parts: str, start: int = 0, stop: int = -1, withscores: bool = False) -> list[Any]:
        items = self.client.zrange(self.key(*parts), start, stop, withscores=withscores)
        if withscores:
            return [(_text(m), float(s)) for m, s in items]
        return [_text(m) for m in items]


def _argv(now: float, args: tuple[Any, ...]) -> list[str]:
    return [repr(float(now))] + ["" if a is None else (repr(a) if isinstance(a, float) else str(a)) for a in args]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)

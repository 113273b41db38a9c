"""What each script carries of lib.lua: only the definitions it reaches, in lib.lua's order."""

from __future__ import annotations

import re
from importlib import resources

from acd.model import lua_transition_tables
from acd.store import SCRIPT_NAMES, script_source, used_definitions

_DEF = re.compile(r"^local (?:function )?([A-Za-z_]\w*)", re.M)


def _defined(source: str) -> list[str]:
    return _DEF.findall(source)


def test_a_script_gets_what_it_calls_and_what_that_calls() -> None:
    prelude = (
        "local P = KEYS[1]\n"
        "-- the comment of a\n"
        "local function a() return P end\n"
        "local function b() return a() end\n"
        "local function unused()\n"
        "  return 1\n"
        "end\n"
        "local C = {}\n"
    )
    out = used_definitions(prelude, "-- calls unused() in a comment only\nreturn b()\n")
    assert _defined(out) == ["P", "a", "b"]
    assert "-- the comment of a\nlocal function a()" in out
    assert "unused" not in out


def test_a_multi_line_function_is_kept_whole() -> None:
    prelude = "local function f(x)\n  if x then\n    return 1\n  end\n  return 2\nend\n\nlocal function g() end\n"
    out = used_definitions(prelude, "return f(true)")
    assert out == "local function f(x)\n  if x then\n    return 1\n  end\n  return 2\nend\n\n"


def test_the_real_scripts() -> None:
    heartbeat = _defined(script_source("heartbeat"))
    assert heartbeat == ["P", "NOW", "num", "K_NODES"]
    enqueue = _defined(script_source("enqueue"))
    # enqueue -> match_task -> reserve -> sync_avail -> worker_score: reached through calls
    for name in ("match_task", "reserve", "sync_avail", "worker_score", "offerable", "TASK_NEXT", "CREATED"):
        assert name in enqueue, name
    for name in ("refuse", "recover_node", "leave_avail", "WORKER_NEXT"):
        assert name not in enqueue, name
    # every lib definition is used by some script, and none is defined twice in one script
    everything = _defined(lua_transition_tables() + (resources.files("acd") / "lua" / "lib.lua").read_text())
    used = set()
    for name in SCRIPT_NAMES:
        names = _defined(script_source(name))
        assert len(names) == len(set(names)), name
        used.update(names)
    assert set(everything) <= used, set(everything) - used

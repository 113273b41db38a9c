"""fssim.dialplan against the real switch's dialplan and against mod_dialplan_xml's rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fssim.dialplan import (
    Dialplan,
    DialplanAction,
    DialplanError,
    compile_expression,
    expand,
    substitute_captures,
)


def _dp(body: str, context: str = "default") -> Dialplan:
    return Dialplan.from_string(f'<include><context name="{context}">{body}</context></include>', source="t.xml")


def _apps(actions: list[DialplanAction]) -> list[tuple[str, str]]:
    return [(a.application, a.data) for a in actions]


# --------------------------------------------------------------- the recording switch's dialplan


@pytest.fixture(scope="module")
def real(captures_dir) -> Dialplan:
    return Dialplan.from_file(captures_dir / "dialplan-default.xml")


# the table of extensions in fs-captures/README.md, each as the switch ran it
@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ("5900", [("park", "")]),
        ("5901", [("answer", ""), ("park", "")]),
        ("5902", [("answer", ""), ("endless_playback", "tone_stream://%(1000,500,440)")]),
        ("3000", [("socket", "127.0.0.1:8084 async full")]),
        ("3001", [("socket", "127.0.0.1:8085")]),
        ("7000", [("answer", ""), ("callcenter", "support@default")]),
        ("1009", [("bridge", "user/1009@${domain_name}")]),
        ("1019", [("bridge", "user/1019@${domain_name}")]),
    ],
)
def test_capture_dialplan_routes_like_the_switch(real: Dialplan, destination: str, expected: list) -> None:
    assert _apps(real.route("default", {"destination_number": destination})) == expected


def test_capture_dialplan_pagd_keeps_regex_and_variables_raw(real: Dialplan) -> None:
    actions = real.route("default", {"destination_number": "5903"})
    assert [a.application for a in actions] == ["answer", "play_and_get_digits", "log", "hangup"]
    # no parentheses in ^5903$: data is not substituted, `\d+` and `${...}` stay for the channel
    assert actions[1].data.endswith(r"pagd_digits \d+ 3000")
    assert "${pagd_digits}" in actions[2].data
    assert all(a.extension == "pagd_5903" for a in actions)


def test_capture_dialplan_no_route(real: Dialplan) -> None:
    assert real.route("default", {"destination_number": "99999"}) == []  # api_originate_no_route.json
    assert real.route("default", {"destination_number": "1020"}) == []
    assert real.route("public", {"destination_number": "5901"}) == []  # no such context, no global


def test_capture_bridge_data_expands_on_the_channel(real: Dialplan) -> None:
    (action,) = real.route("default", {"destination_number": "1001"})
    assert expand(action.data, {"domain_name": "127.0.0.1"}) == "user/1001@127.0.0.1"


# --------------------------------------------------------------- conditions


def test_first_matching_extension_wins_and_continue_goes_on() -> None:
    dp = _dp(
        """
        <extension name="tag" continue="true">
          <condition field="destination_number" expression="^1"><action application="set" data="a=1"/></condition>
        </extension>
        <extension name="one"><condition field="destination_number" expression="^10$"><action application="log" data="one"/></condition></extension>
        <extension name="two"><condition field="destination_number" expression="^10$"><action application="log" data="two"/></condition></extension>
        """
    )
    hunt = dp.hunt("default", {"destination_number": "10"})
    assert _apps(list(hunt.actions)) == [("set", "a=1"), ("log", "one")]
    assert hunt.matched == ("tag", "one")


def test_captures_substitute_dollar_n_and_braced_n_but_not_variables() -> None:
    dp = _dp(
        """<extension name="x"><condition field="destination_number" expression="^(\\d{2})(\\d+)$">
             <action application="bridge" data="sofia/gw/$2-${1}-${domain}-$9-$"/>
           </condition></extension>"""
    )
    assert _apps(dp.route("default", {"destination_number": "861234"})) == [("bridge", "sofia/gw/1234-86-${domain}--$")]


def test_no_parentheses_no_substitution() -> None:
    dp = _dp('<extension name="x"><condition field="destination_number" expression="^5$"><action application="log" data="$1 stays"/></condition></extension>')
    assert _apps(dp.route("default", {"destination_number": "5"})) == [("log", "$1 stays")]


def test_all_conditions_must_match_by_default() -> None:
    dp = _dp(
        """
        <extension name="vip">
          <condition field="caller_id_number" expression="^138"/>
          <condition field="destination_number" expression="^10086$"><action application="log" data="vip"/></condition>
        </extension>
        <extension name="any"><condition field="destination_number" expression="^10086$"><action application="log" data="any"/></condition></extension>
        """
    )
    assert _apps(dp.route("default", {"destination_number": "10086", "caller_id_number": "13800138000"})) == [("log", "vip")]
    assert _apps(dp.route("default", {"destination_number": "10086", "caller_id_number": "021555"})) == [("log", "any")]


def test_variable_field_and_expanded_expression() -> None:
    dp = _dp(
        """<extension name="t">
             <condition field="${fscc_tenant}" expression="^${wanted}$"><action application="log" data="ok"/></condition>
           </extension>"""
    )
    assert _apps(dp.route("default", {"destination_number": "1"}, {"fscc_tenant": "acme", "wanted": "acme"})) == [("log", "ok")]
    assert dp.route("default", {"destination_number": "1"}, {"fscc_tenant": "other", "wanted": "acme"}) == []
    # a variable falls back to the caller profile field of the same name, as in the switch
    dp2 = _dp('<extension name="t"><condition field="${destination_number}" expression="^7$"><action application="log"/></condition></extension>')
    assert _apps(dp2.route("default", {"destination_number": "7"})) == [("log", "")]


def test_anti_actions_run_on_mismatch_and_count_as_a_match() -> None:
    dp = _dp(
        """
        <extension name="intl">
          <condition field="destination_number" expression="^(\\d+)$">
            <action application="log" data="digits $1"/>
            <anti-action application="hangup" data="INVALID_NUMBER_FORMAT $1"/>
          </condition>
        </extension>
        <extension name="never-reached"><condition><action application="log" data="no"/></condition></extension>
        """
    )
    assert _apps(dp.route("default", {"destination_number": "12"})) == [("log", "digits 12")]
    # anti-action data is not substituted (the switch only substitutes actions)
    assert _apps(dp.route("default", {"destination_number": "+12"})) == [("hangup", "INVALID_NUMBER_FORMAT $1")]


def test_absolute_condition_without_field() -> None:
    dp = _dp('<extension name="catch"><condition><action application="hangup" data="UNALLOCATED_NUMBER"/></condition></extension>')
    assert _apps(dp.route("default", {"destination_number": "x"})) == [("hangup", "UNALLOCATED_NUMBER")]


@pytest.mark.parametrize(
    ("brk", "first_matches", "expected"),
    [
        ("on-false", False, [("log", "fallback")]),  # stops, next extension
        ("on-false", True, [("log", "first"), ("log", "second")]),
        ("on-true", True, [("log", "first")]),  # stops after a true condition; extension matched
        ("on-true", False, [("log", "second")]),  # a false condition goes on to the next one
        ("always", True, [("log", "first")]),
        ("always", False, [("log", "fallback")]),
        ("never", False, [("log", "second")]),
        ("never", True, [("log", "first"), ("log", "second")]),
    ],
)
def test_break_modes(brk: str, first_matches: bool, expected: list) -> None:
    dp = _dp(
        f"""
        <extension name="e">
          <condition field="caller_id_number" expression="^1$" break="{brk}"><action application="log" data="first"/></condition>
          <condition field="destination_number" expression="^2$"><action application="log" data="second"/></condition>
        </extension>
        <extension name="f"><condition field="destination_number" expression="^2$"><action application="log" data="fallback"/></condition></extension>
        """
    )
    fields = {"destination_number": "2", "caller_id_number": "1" if first_matches else "9"}
    assert _apps(dp.route("default", fields)) == expected


def test_actions_of_an_extension_that_fails_later_are_kept_like_the_switch() -> None:
    dp = _dp(
        """
        <extension name="half">
          <condition field="destination_number" expression="^5"><action application="set" data="leaked=yes"/></condition>
          <condition field="caller_id_number" expression="^nobody$"><action application="log" data="never"/></condition>
        </extension>
        <extension name="real"><condition field="destination_number" expression="^5$"><action application="answer"/></condition></extension>
        """
    )
    assert _apps(dp.route("default", {"destination_number": "5", "caller_id_number": "1"})) == [("set", "leaked=yes"), ("answer", "")]


def test_inline_set_is_seen_by_later_conditions() -> None:
    dp = _dp(
        """
        <extension name="classify" continue="true">
          <condition field="destination_number" expression="^00">
            <action application="set" data="is_intl=true" inline="true"/>
          </condition>
        </extension>
        <extension name="block">
          <condition field="${is_intl}" expression="^true$"><action application="hangup" data="OUTGOING_CALL_BARRED"/></condition>
        </extension>
        <extension name="ok"><condition><action application="log" data="ok"/></condition></extension>
        """
    )
    hunt = dp.hunt("default", {"destination_number": "0044207"})
    assert hunt.actions == (
        DialplanAction("set", "is_intl=true", inline=True, extension="classify"),
        DialplanAction("hangup", "OUTGOING_CALL_BARRED", inline=False, extension="block"),
    )
    assert hunt.variables["is_intl"] == "true"
    assert _apps(dp.route("default", {"destination_number": "010"})) == [("log", "ok")]


def test_inline_expands_its_data_and_refuses_non_routing_apps() -> None:
    dp = _dp(
        """<extension name="x">
             <condition field="destination_number" expression="^(\\d+)$">
               <action application="set" data="dialed=$1-${tag}" inline="true"/>
               <action application="bridge" data="user/1" inline="true"/>
               <action application="unset" data="tag" inline="true"/>
             </condition>
           </extension>"""
    )
    hunt = dp.hunt("default", {"destination_number": "42"}, {"tag": "T"})
    assert hunt.variables == {"dialed": "42-T", "DP_MATCH": "ARRAY::42|:42"}
    assert [a.application for a in hunt.actions] == ["set", "unset"]  # bridge cannot run inline


def test_nested_conditions() -> None:
    dp = _dp(
        """
        <extension name="n">
          <condition field="destination_number" expression="^1">
            <action application="log" data="outer"/>
            <condition field="caller_id_number" expression="^9$"><action application="log" data="inner"/></condition>
          </condition>
        </extension>
        <extension name="z"><condition><action application="log" data="z"/></condition></extension>
        """
    )
    assert _apps(dp.route("default", {"destination_number": "1", "caller_id_number": "9"})) == [("log", "outer"), ("log", "inner")]
    # the nested one fails: the extension does not match, but its outer actions stay
    assert _apps(dp.route("default", {"destination_number": "1", "caller_id_number": "8"})) == [("log", "outer"), ("log", "z")]


@pytest.mark.parametrize(
    ("rule", "cid", "dest", "matches"),
    [
        ("all", "1", "2", True), ("all", "1", "3", False),
        ("any", "0", "2", True), ("any", "0", "3", False),
        ("xor", "1", "3", True), ("xor", "1", "2", False), ("xor", "0", "3", False),
    ],
)
def test_regex_all_any_xor(rule: str, cid: str, dest: str, matches: bool) -> None:
    dp = _dp(
        f"""<extension name="r"><condition regex="{rule}">
              <regex field="caller_id_number" expression="^1$"/>
              <regex field="destination_number" expression="^2$"/>
              <action application="log" data="yes"/><anti-action application="log" data="no"/>
            </condition></extension>"""
    )
    assert _apps(dp.route("default", {"caller_id_number": cid, "destination_number": dest})) == [("log", "yes" if matches else "no")]


def test_regex_flags_and_asterisk_patterns() -> None:
    assert compile_expression("/^abc$/i").search("ABC")
    assert compile_expression("_NXXX").search("2345")
    assert not compile_expression("_NXXX").search("1345")
    assert compile_expression("_9.").search("95551212")
    assert compile_expression("^(?<area>\\d{3})").search("010").group("area") == "010"
    assert compile_expression("^[") is None  # does not compile: no match, like the switch


def test_expression_element_and_action_text_body() -> None:
    dp = _dp(
        """<extension name="x"><condition field="destination_number">
             <expression><![CDATA[^<(\\d)>$]]></expression>
             <action application="log">body $1</action>
           </condition></extension>"""
    )
    assert _apps(dp.route("default", {"destination_number": "<7>"})) == [("log", "body 7")]


def test_loop_attribute_repeats_an_action() -> None:
    dp = _dp('<extension name="x"><condition><action application="playback" data="beep" loop="3"/></condition></extension>')
    assert _apps(dp.route("default", {})) == [("playback", "beep")] * 3


def test_global_context_fallback_and_document_form() -> None:
    dp = Dialplan.from_string(
        """<document type="freeswitch/xml"><section name="dialplan">
             <context name="global"><extension name="g"><condition><action application="log" data="g"/></condition></extension></context>
           </section></document>"""
    )
    hunt = dp.hunt("anything", {"destination_number": "1"})
    assert hunt.context == "global" and _apps(list(hunt.actions)) == [("log", "g")]


def test_auto_hunt_starts_at_the_extension_named_like_the_destination() -> None:
    dp = _dp(
        """<extension name="first"><condition><action application="log" data="first"/></condition></extension>
           <extension name="500"><condition><action application="log" data="named"/></condition></extension>"""
    )
    assert _apps(dp.route("default", {"destination_number": "500"}, {"auto_hunt": "true"})) == [("log", "named")]
    assert _apps(dp.route("default", {"destination_number": "500"})) == [("log", "first")]


def test_preprocessor_globals_and_directory_loading(tmp_path) -> None:
    (tmp_path / "b.xml").write_text('<include><context name="b"><extension name="b"><condition><action application="log" data="$${domain}"/></condition></extension></context></include>')
    (tmp_path / "a.xml").write_text('<include><context name="a"><extension name="a"><condition><action application="log" data="a"/></condition></extension></context></include>')
    dp = Dialplan.from_file(tmp_path, globals_={"domain": "pbx.example"})
    assert dp.contexts == ("a", "b")
    assert _apps(dp.route("b", {})) == [("log", "pbx.example")]


def test_bad_xml_names_file_and_line() -> None:
    with pytest.raises(DialplanError, match=r"bad\.xml:3:"):
        Dialplan.from_string("<include>\n<context name='x'>\n<extension name='a'><condition></extension>\n</context></include>", source="bad.xml")


def test_time_conditions_are_refused_not_ignored() -> None:
    with pytest.raises(DialplanError, match="date/time conditions \\(wday\\)"):
        _dp('<extension name="x"><condition wday="2-6"><action application="log"/></condition></extension>')


# --------------------------------------------------------------- expansion


def test_expand_variables_substrings_escapes_and_functions() -> None:
    variables = {"a": "hello", "b": "a", "n": "13800138000"}
    assert expand("${a} ${${b}} [${missing}]", variables) == "hello hello []"
    assert expand("${n:0:3}-${n:3}-${n:-4}", variables) == "138-00138000-8000"
    assert expand("price \\$5 and \\\\ and ${a}", variables) == "price $5 and \\ and hello"
    assert expand("$ alone and $5", variables) == "$ alone and $5"
    assert expand("no vars \\\\ here", variables) == "no vars \\\\ here"  # no ${, no \$: untouched
    assert expand("${upper(${a})}", variables, {"upper": str.upper}) == "HELLO"
    assert expand("${nosuchapi(x)}", variables) == ""
    assert expand("${a}${a}", variables) == "hellohello"


def test_expand_never_re_expands_a_value() -> None:
    # a caller-controlled value holding ${...} stays text: the switch inserts values verbatim
    assert expand("name=${caller_id_name}", {"caller_id_name": "${system(rm -rf /)}"}) == "name=${system(rm -rf /)}"


def test_substitute_captures_edge_cases() -> None:
    match = compile_expression("^(\\d)(x)?").search("7")
    assert substitute_captures("$1|$2|$3|${1}|${x}|$", match) == "7|||7|${x}|$"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_escaped_dollars_survive_expansion(text: str) -> None:
    # the escaping rule confgen relies on: \\ for a backslash, \$ for a dollar
    escaped = text.replace("\\", "\\\\").replace("$", "\\$")
    if "\\$" in escaped or "${" in escaped:
        assert expand(escaped, {"x": "BAD"}) == text

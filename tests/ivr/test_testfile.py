"""Reading flow test files: bad files are refused with FILE:LINE:COL, digits split per prompt."""

from __future__ import annotations

import pytest

from ivr_flows.errors import FlowSyntaxError
from ivr_flows.testfile import load_case, parse_dtmf


@pytest.mark.parametrize(("text", "groups"), [
    ("", ()), ("1", ("1",)), ("1,2,0#", ("1", "2", "0#")), ("1,,9", ("1", "", "9")), (" 1 , 2 ", ("1", "2")),
])
def test_dtmf_groups(text, groups):
    assert parse_dtmf(text) == groups


def test_a_good_file(tmp_path):
    path = tmp_path / "x.ok.test.yaml"
    path.write_text('flow: x.yaml.j2\ncaller: "139"\nat: "2026-11-23 10:00"\ntimezone: UTC\ndtmf: "1,,2#"\n'
                    "customers:\n  - {id: C1, tier: global_vip, phones: ['139'], accounts: ['88']}\n"
                    "queue: {vip: 'exit-key:9'}\nexpect: {path: [a], outcome: answered}\n", encoding="utf-8")
    case = load_case(path)
    assert case.flow_file == tmp_path / "x.yaml.j2" and case.dtmf == ("1", "", "2#")
    assert case.start_epoch == 1795428000.0
    assert case.customers[0].tier == 1 and case.accounts == {"88": "C1"}
    assert case.call() == {"uuid": "flowtest-x.ok.test", "caller_id_number": "139", "caller_id_name": "",
                           "destination_number": "10086"}


def test_bad_files_name_every_problem_with_its_line(tmp_path):
    path = tmp_path / "bad.test.yaml"
    path.write_text('flow: x.yaml.j2\ncaller: "139"\nat: "23.11.2026"\ntimezone: Mars/Base\ncolour: red\n'
                    "queue: {vip: maybe}\nexpect: {path: [a], result: ok}\n", encoding="utf-8")
    with pytest.raises(FlowSyntaxError) as err:
        load_case(path)
    assert [str(p) for p in err.value.problems] == [
        f"{path}:3:1: at '23.11.2026': expected 'YYYY-MM-DD HH:MM'",
        f"{path}:4:1: unknown timezone 'Mars/Base'",
        f"{path}:5:1: unknown key 'colour' (known: at, caller, caller_name, channel, customers, destination, dtmf, "
        "expect, flow, hangup_at, name, queue, timezone, vars, webhooks)",
        f"{path}:6:1: queue vip: outcome 'maybe': expected one of answered, abandoned, max-wait, failed, callback or exit-key:<key>",
        f"{path}:7:1: expect: unknown key 'result' (known: channel, end, outcome, path, played, queue, tasks, transfer)",
        f"{path}:7:1: expect needs 'outcome'",
    ]


def test_yaml_error_and_missing_file(tmp_path):
    path = tmp_path / "y.test.yaml"
    path.write_text("flow: [x\ncaller: 1\n", encoding="utf-8")
    with pytest.raises(FlowSyntaxError) as err:
        load_case(path)
    assert str(err.value).startswith(f"{path}:2:7: YAML: ")
    with pytest.raises(FlowSyntaxError, match="cannot read"):
        load_case(tmp_path / "missing.test.yaml")


def test_wrong_shapes_are_problems_not_crashes(tmp_path):
    path = tmp_path / "s.test.yaml"
    path.write_text('flow: x.yaml.j2\ncaller: "1"\nat: "2026-11-23 10:00"\nvars: [1]\nqueue: nope\n'
                    "customers: [just-a-name]\nwebhooks: 3\nexpect: {path: a>b, outcome: x}\n", encoding="utf-8")
    with pytest.raises(FlowSyntaxError) as err:
        load_case(path)
    assert [str(p) for p in err.value.problems] == [
        f"{path}:4:1: 'vars' must be a mapping",
        f"{path}:5:1: 'queue' must be a mapping",
        f"{path}:6:1: customers[0]: expected a mapping with id, name, tier, phones, accounts",
        f"{path}:7:1: 'webhooks' must be a mapping",
        f"{path}:8:1: expect: 'path' must be a list of path entries",
    ]

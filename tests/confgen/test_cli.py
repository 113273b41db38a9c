"""`fscc conf render` / `fscc conf check`: exit codes and messages, through the real fscc command."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from fs_scripts.cli import cli

from .conftest import EXAMPLE, EXAMPLE_ENV, write_config


def _env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FSCC_")}
    return base | extra


def test_render_writes_the_tree_and_lists_it(tmp_path: Path) -> None:
    out = tmp_path / "conf"
    result = CliRunner().invoke(cli, ["conf", "render", "--config", str(EXAMPLE), "--out", str(out)], env=EXAMPLE_ENV)
    assert result.exit_code == 0, result.output
    listed = [line for line in result.stdout.splitlines() if line.startswith(str(out))]
    assert len(listed) == 12
    assert all(Path(p).is_file() for p in listed)
    ET.parse(out / "dialplan" / "fscc.xml")


def test_check_ok_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["conf", "check", "--config", str(EXAMPLE)], env=EXAMPLE_ENV)
    assert list(tmp_path.iterdir()) == []
    assert result.exit_code == 0, result.output
    assert "OK: 12 files would be rendered (3 DID routes, 3 agents, 2 trunks)" in result.stdout


def test_check_refuses_the_default_password_unless_allowed() -> None:
    env = {k: v for k, v in EXAMPLE_ENV.items() if k != "FSCC_ESL__PASSWORD"}
    refused = CliRunner().invoke(cli, ["conf", "check", "--config", str(EXAMPLE)], env=env)
    assert refused.exit_code == 2
    assert "esl.password: is FreeSWITCH's default 'ClueCon'" in refused.output
    allowed = CliRunner().invoke(cli, ["conf", "check", "--config", str(EXAMPLE), "--allow-default-password"], env=env)
    assert allowed.exit_code == 0, allowed.output


def test_fscc_conf_check_on_a_broken_config_names_line_key_path_and_problem(tmp_path: Path) -> None:
    config = write_config(tmp_path, """\
esl:
  password: a-long-esl-password
tenants:
  t1: {name: T1}
deploy:
  trunks:
    tr:
      proxy: 198.51.100.1
      ip_addresses: [198.51.100.1]
      max_cps: 0
      dids:
        - {number: "+861011112222", tenant: t1}
""")
    run = subprocess.run([sys.executable, "-m", "fs_scripts.cli", "conf", "check", "--config", str(config)],
                         capture_output=True, text=True, env=_env({}), timeout=60)
    assert run.returncode == 2
    assert "line 10: deploy.trunks.tr.max_cps: expected 1-10000 calls per second, got 0" in run.stderr


def test_fscc_conf_check_reports_cross_section_problems(tmp_path: Path) -> None:
    config = write_config(tmp_path, """\
esl: {password: a-long-esl-password}
tenants: {t1: {name: T1}}
deploy:
  outbound:
    t1:
      caller_id_number: "+861011112222"
      routes: [{trunk: missing, allow: ['^\\+86\\d+$']}]
""")
    run = subprocess.run([sys.executable, "-m", "fs_scripts.cli", "conf", "check", "--config", str(config)],
                         capture_output=True, text=True, env=_env({}), timeout=60)
    assert run.returncode == 2
    assert "deploy.outbound.t1.routes.0.trunk: unknown trunk 'missing' (deploy.trunks: none)" in run.stderr


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["conf", "check", "--config", str(tmp_path / "nope.yaml")], env=EXAMPLE_ENV)
    assert result.exit_code == 2
    assert "cannot read the file" in result.output

"""fscc.yaml + FSCC_* -> one frozen Settings, or errors naming line and key path."""

from __future__ import annotations

import dataclasses

import pytest

from fs_scripts.errors import SettingsError
from fs_scripts.settings import Settings, load_settings


def write(tmp_path, text: str):
    path = tmp_path / "fscc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.esl.port == 8021


def test_file_then_environment_override(tmp_path):
    path = write(tmp_path, "esl:\n  port: 8022\n  password: s3cret\nredis_url: redis://file\n")
    settings = load_settings(path, {"FSCC_REDIS_URL": "redis://env", "FSCC_ESL__PORT": "9000"})
    assert settings.esl.port == 9000  # environment wins over the file
    assert settings.esl.password == "s3cret"  # the file wins over the defaults
    assert settings.redis_url == "redis://env"


def test_settings_are_frozen(tmp_path):
    settings = load_settings(write(tmp_path, ""), {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.esl.port = 1  # type: ignore[misc]


def test_every_problem_named_with_line_and_key_path(tmp_path):
    path = write(tmp_path, "esl:\n  port: abc\n  pasword: x\nserve:\n  port: 70000\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    problems = caught.value.problems
    assert "line 2: esl.port: expected an integer, got 'abc'" in problems
    assert any(p.startswith("line 3: esl.pasword: unknown key") for p in problems)
    assert "line 5: serve.port: expected a TCP port 1-65535, got 70000" in problems
    assert str(path) in str(caught.value)


def test_duplicate_key_is_an_error(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, "log_level: INFO\nlog_level: DEBUG\n"), {})
    assert caught.value.problems == ["line 2: log_level: duplicate key"]


def test_broken_yaml_names_line(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, "esl:\n  port: [1,\n"), {})
    assert caught.value.problems[0].startswith("line ")


def test_unknown_environment_variable_is_an_error_but_secrets_are_not(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, ""), {"FSCC_ESL__PORTT": "1"})
    assert caught.value.problems == ["environment FSCC_ESL__PORTT: esl.portt is not a settings key"]
    load_settings(write(tmp_path, ""), {"FSCC_SECRET_AGENT_1001": "pw", "FSCC_CONFIG": "x"})


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, "esl:\n  host: 10.0.0.1\n")
    assert load_settings(None, {"FSCC_CONFIG": str(path)}).esl.host == "10.0.0.1"


def test_bad_environment_value_names_the_variable_key_path_and_expectation(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, ""), {"FSCC_ESL__PORT": "eighty"})
    (problem,) = caught.value.problems
    assert "FSCC_ESL__PORT" in problem and "esl.port" in problem and "integer" in problem

"""The `fscc` command itself, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

from fs_scripts import __version__


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fs_scripts.cli", *args], capture_output=True, text=True, timeout=60)


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fscc, version {__version__}"


def test_help_lists_usage():
    result = run("--help")
    assert result.returncode == 0
    assert "contact-center engine" in result.stdout


def test_unknown_command_fails():
    result = run("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr

"""How crm-sync completes a recording whose RECORD_STOP variables never reached the CDR."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from crm_sync.cdr import leg_recording, parse_cdr
from crm_sync.sync import complete_recording
from fs_scripts import cdr_vars


def _leg(cdrs, path: str, **extra: str):
    doc = cdrs.leg_cdr("aaaaaaaa-0000-0000-0000-000000000001", direction="inbound", cid="13800138000", dest="10086",
                       start=cdrs.T0, answer=cdrs.T0 + 1, end=cdrs.T0 + 60,
                       variables={cdr_vars.RECORDING_PATH: path, "record_ms": "59000", "record_file_size": "944044",
                                  **extra})
    return parse_cdr(json.dumps(doc), "x.cdr.json")


def test_switch_figures_fill_in_and_the_file_is_hashed(cdrs, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    wav = root / "acme" / "a.wav"
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF-and-some-audio")
    leg = _leg(cdrs, str(wav))
    info = leg_recording(leg)
    assert (info.duration_ms, info.size_bytes, info.sha256) == (59000, 944044, "")
    done = complete_recording(leg, root)
    assert leg_recording(done).sha256 == hashlib.sha256(b"RIFF-and-some-audio").hexdigest()
    assert complete_recording(done, root) == done
    # relative paths are below the recordings directory
    assert leg_recording(complete_recording(_leg(cdrs, "acme/a.wav"), root)).sha256 == leg_recording(done).sha256
    # fscc's own figures win over the switch's
    own = _leg(cdrs, str(wav), **{cdr_vars.RECORDING_DURATION_MS: "58000", cdr_vars.RECORDING_SIZE: "1000",
                                  cdr_vars.RECORDING_SHA256: "ab" * 32})
    assert complete_recording(own, root) == own
    assert (leg_recording(own).duration_ms, leg_recording(own).size_bytes) == (58000, 1000)


def test_files_outside_the_recordings_dir_or_missing_are_never_read(cdrs, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not hash me")
    for path in (str(secret), "../secret.txt", str(root / "missing.wav")):
        leg = _leg(cdrs, path)
        assert complete_recording(leg, root) == leg
    (root / "link.wav").symlink_to(secret)
    leg = _leg(cdrs, str(root / "link.wav"))
    assert complete_recording(leg, root) == leg
    assert complete_recording(_leg(cdrs, str(secret)), None).var(cdr_vars.RECORDING_SHA256) == ""

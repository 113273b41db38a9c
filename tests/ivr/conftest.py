"""Fixtures of the IVR runtime tests: fssim with a dialplan handing calls to an outbound server."""

from __future__ import annotations

import sys
from pathlib import Path

# runtime_flows.py beside this file (pytest runs with --import-mode=importlib)
sys.path.insert(0, str(Path(__file__).parent))

"""Collect the host-test module that matches WEBUI_DIR: Forge boots through its own backend
(test_webui_host.py), A1111 and reForge through webui.py's path (test_a1111_host.py).
Without WEBUI_DIR both are collected and skip."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # webui_hosts, for the test modules (importlib mode)

from webui_hosts import flavor  # noqa: E402

_flavor = flavor(os.environ.get("WEBUI_DIR"))
collect_ignore = []
if _flavor == "forge":
    collect_ignore.append("test_a1111_host.py")
elif _flavor in ("a1111", "reforge"):
    collect_ignore.append("test_webui_host.py")

"""The SD.Next suite boots its host in a subprocess the way the WebUI suites do: it shares their
probe runner (tests/webui/webui_hosts.py)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webui"))

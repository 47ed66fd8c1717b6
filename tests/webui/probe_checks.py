"""What the host probes share (tests/webui/host_probe.py, a1111_probe.py, tests/sdnext/sdnext_probe.py):
each probe step is a function decorated with @check(name), run at import; report() prints every
step's result as one JSON line, which webui_hosts.run_probe reads.

Not collected by pytest (no test_ prefix); the probes import it by name from this folder.
"""
from __future__ import annotations

import json
import sys
import time
import traceback

RESULTS: dict = {}


def check(name):
    def wrap(fn):
        started = time.monotonic()
        try:
            detail = fn()
            RESULTS[name] = {"ok": True, "detail": detail, "seconds": round(time.monotonic() - started, 1)}
        except BaseException:  # noqa: BLE001 - report everything to the test
            RESULTS[name] = {"ok": False, "detail": traceback.format_exc()[-6000:]}
        return fn
    return wrap


def report() -> None:
    """The last line of stdout: ERSDE_PROBE_RESULT {check name: {"ok", "detail", "seconds"}}."""
    print("\nERSDE_PROBE_RESULT " + json.dumps(RESULTS, default=repr), flush=True)
    sys.stdout.flush()

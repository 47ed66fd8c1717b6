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


class AutoChoices:
    """While active, records every call of the solver's auto policy (coefficients.auto_choice) in
    the copy of k_diffusion_ext the extension loaded: (guidance_scale, noise_shares, order) and
    what it chose, so a probe can show which cfg a host handed the policy."""

    def __init__(self, solver_module_name: str):
        self.coefficients = sys.modules[solver_module_name + ".coefficients"]
        self.calls: list[dict] = []

    def __enter__(self) -> "AutoChoices":
        self.original = original = self.coefficients.auto_choice

        def recording(guidance_scale, noise_shares, order, *plan):
            chosen = original(guidance_scale, noise_shares, order, *plan)
            self.calls.append({"guidance_scale": guidance_scale, "noise_shares": list(noise_shares),
                               "order": order, "plan": list(plan), "chosen": list(chosen)})
            return chosen

        self.coefficients.auto_choice = recording
        return self

    def __exit__(self, *exc) -> None:
        self.coefficients.auto_choice = self.original

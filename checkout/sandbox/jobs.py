"""The gateway's timed work, done by every worker (``flask --app wsgi webhooks
work``) before it sends what is due: each job finds its own due rows and
changes them with conditional UPDATEs, so any number of workers on any number
of hosts may run them at once.

A job is ``"module:function"`` taking ``now`` (ms) and answering how many
rows it changed; a job whose module is not there yet is skipped.
"""

from __future__ import annotations

import importlib
from typing import Callable

from ..clock import now_ms as clock_now_ms

JOBS = [
    # Refunds sent to asynchronous channels complete (issue 13).
    "checkout.sandbox.refunds:settle_due",
    # Bills whose bill_timeout (or QR lifetime) has passed are closed (issue 13).
    "checkout.sandbox.expiry:close_expired",
]


def _job(path: str) -> Callable[[int], int] | None:
    module_name, _, function = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        if missing.name != module_name:
            raise
        return None
    return getattr(module, function, None)


def run_due(*, now: Callable[[], int] = clock_now_ms) -> int:
    """Run every job once; the number of rows they changed."""
    changed = 0
    for path in JOBS:
        job = _job(path)
        if job is not None:
            changed += job(now())
    return changed

"""The gateway's timed work, done by every worker (``flask --app wsgi webhooks
work``) before it sends what is due: each job finds its own due rows and
changes them with conditional UPDATEs, so any number of workers on any number
of hosts may run them at once.

A job takes ``now`` (ms) and answers how many rows it changed.
"""

from __future__ import annotations

from typing import Callable

from .. import clock
from . import expiry, live_channels, refunds

JOBS: list[Callable[[int], int]] = [
    refunds.settle_due,       # refunds sent to asynchronous channels complete (issue 13)
    expiry.close_expired,     # bills past their bill_timeout / QR lifetime close (issue 13)
    live_channels.check_due,  # live bills asked at / closed at their provider (issue 14)
]


def run_due(*, now: Callable[[], int] | None = None) -> int:
    """Run every job once; the number of rows they changed. ``now`` defaults
    to ``checkout.clock.now_ms``, looked up at each call so tests can move it."""
    now = now or clock.now_ms
    return sum(job(now()) for job in JOBS)

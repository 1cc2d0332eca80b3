"""``flask --app wsgi webhooks work [--once]``: the gateway's worker.

It does the gateway's timed work (``checkout.sandbox.jobs``: refunds that
complete, bills that expire, live bills asked at their provider), the
simulators' when they are on (Alipay's notification retries), then sends the
webhooks due. Run one or many
(on one host or several): they share the tables and never send one event
twice at the same time (``checkout.sandbox.webhooks``).
"""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from .. import clock, simulators
from ..db import db
from ..sandbox import jobs, webhooks
from .db import require_migrated

group = AppGroup("webhooks", help="Deliver the sandbox's signed webhooks (seed 003 4.4).",
                 callback=require_migrated)

IDLE_POLL_SECONDS = 1.0  # how often an idle worker looks for due deliveries


@group.command("work")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
def work(once: bool) -> None:
    """Send due webhooks; retry at 2 s, 4 s, … 2^17 s after the payment."""
    if once:
        changed = jobs.run_due() + simulators.run_due(clock.now_ms())
        click.echo(f"{webhooks.work_once()} delivery attempt(s)"
                   + (f", {changed} refund(s) or bill(s) updated" if changed else ""))
        return
    click.echo("webhook worker started (Ctrl-C stops it)")
    try:
        while True:
            try:
                sent = (jobs.run_due() + simulators.run_due(clock.now_ms())
                        + webhooks.work_once())
            except Exception:  # a lost database connection must not end the worker
                db.session.rollback()
                db.session.remove()
                click.echo("webhook worker: database error, retrying", err=True)
                sent = 0
            if not sent:
                time.sleep(IDLE_POLL_SECONDS)
    except KeyboardInterrupt:
        click.echo("webhook worker stopped")

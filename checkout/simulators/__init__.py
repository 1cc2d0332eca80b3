"""Protocol-faithful stand-ins of the payment providers' own APIs (issue 14,
``../shared/docs/architecture.md`` "Channels: connectors and simulators").

A simulator knows only the wire: it never imports the gateway core
(``checkout.sandbox``, ``checkout.models``, ``checkout.gateway``, the
connectors …) and never reads its tables. It keeps its own keys and trades in
tables of its own, verifies every request's signature, signs its answers and
notifications as the provider does, and shows a SANDBOX-marked cashier.
Pointing a connector's base URL at a simulator runs the real connector code
end to end on one machine.

They are served only when the ``SIMULATORS`` setting is on (demo, tests,
development), never in production. Their tables always exist (the
migrations create them), so their models are imported here unconditionally.
"""

from __future__ import annotations

from typing import Callable

from flask import Flask, current_app

from .alipay import models as _alipay_models  # noqa: F401  (registers the alipay_sim_ tables)


def register(app: Flask) -> None:
    """Serve each simulator's blueprint, only when ``SIMULATORS`` is on."""
    if not app.config.get("SIMULATORS"):
        return
    from .alipay import views as alipay_views

    app.register_blueprint(alipay_views.bp)
    # Merchants' pages post their auto-submit forms to gateway.do from their
    # own origin, as to Alipay: no CSRF token can be there. The request's
    # RSA2 signature is what protects it.
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(alipay_views.gateway)


def run_due(now: int) -> int:
    """The simulators' own timed work (Alipay's notification retries), run by
    the worker (``flask --app wsgi webhooks work``) beside the gateway's jobs,
    only when ``SIMULATORS`` is on. Answers how many rows changed."""
    if not current_app.config.get("SIMULATORS"):
        return 0
    from .alipay import notify

    jobs: list[Callable[[int], int]] = [notify.send_due]
    return sum(job(now) for job in jobs)

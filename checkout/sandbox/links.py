"""Absolute links the sandbox hands out (cashier pages, QR contents).

They must work outside a request too (webhooks, CLI), so the base is the
``PUBLIC_URL`` setting, or else the current request's host URL."""

from __future__ import annotations

from flask import current_app, has_request_context, request


def base_url() -> str:
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://127.0.0.1:5000"


def cashier_url(cashier_token: str) -> str:
    """The simulated channel cashier for one bill (``checkout.sandbox.cashier``)."""
    return f"{base_url()}/sandbox/cashier/{cashier_token}"

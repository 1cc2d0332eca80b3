"""Absolute links to this service.

They must work outside a request too (webhooks, CLI, workers), so the base is
the ``PUBLIC_URL`` setting, or else the current request's host URL."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app, has_request_context, request
from werkzeug.sansio.utils import get_current_url


def base_url() -> str:
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return _host_url(request.scheme, request.host)
    return "http://127.0.0.1:5000"


@lru_cache(maxsize=64)
def _host_url(scheme: str, host: str) -> str:
    """``request.host_url`` without its slash, built once per (scheme, host):
    Werkzeug builds it afresh on every request, a measurable part of a new
    bill's answer (issue 16)."""
    return get_current_url(scheme, host).rstrip("/")

"""Absolute links to this service.

They must work outside a request too (webhooks, CLI, workers), so the base is
the ``PUBLIC_URL`` setting, or else the current request's host URL."""

from __future__ import annotations

from flask import current_app, has_request_context, request


def base_url() -> str:
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://127.0.0.1:5000"

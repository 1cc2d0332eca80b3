"""Absolute links the sandbox hands out (cashier pages, QR contents), on the
service's base URL (``checkout.links``)."""

from __future__ import annotations

from ..links import base_url


def cashier_url(cashier_token: str) -> str:
    """The simulated channel cashier for one bill (``checkout.sandbox.cashier``)."""
    return f"{base_url()}/sandbox/cashier/{cashier_token}"

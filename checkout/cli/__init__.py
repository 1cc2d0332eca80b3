"""The ``flask --app wsgi …`` command groups, one module each.

``init_app`` registers them; the app factory calls it once."""

from __future__ import annotations

import importlib

from flask import Flask

# Modules that expose a click group as ``group`` (``flask --app wsgi <name> …``).
GROUPS = [
    "checkout.cli.merchants",
    "checkout.cli.db",
    "checkout.cli.coupons",
    "checkout.cli.refunds",
    "checkout.cli.webhooks",
    "checkout.cli.demo",
]


def init_app(app: Flask) -> None:
    for path in GROUPS:
        app.cli.add_command(importlib.import_module(path).group)

"""``flask --app wsgi demo setup``: create the demo shop's merchant app once.

Prints the app id, its secrets (this is the operator's terminal, the only
place they are shown) and the storefront link. Running it again with another
``--url`` (``bin/run`` on another ``PORT``) points the merchant's webhook URL
there and adds the new return hosts, and says so in one line.
"""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import AppGroup

from .. import demo, merchants
from .db import require_migrated

group = AppGroup("demo", help="The demo storefront and its merchant app.",
                 callback=require_migrated)


def default_base_url() -> str:
    return (current_app.config.get("PUBLIC_URL")
            or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}").rstrip("/")


@group.command("setup")
@click.option("--url", "base_url", default=None,
              help="Where this app is reached (default: PUBLIC_URL or http://127.0.0.1:$PORT).")
@click.option("--host", "hosts", multiple=True, help="Another host the shop is opened on.")
def setup_command(base_url: str | None, hosts: tuple[str, ...]) -> None:
    base_url = base_url or default_base_url()
    try:
        done = demo.configure(base_url, hosts)
    except merchants.MerchantError as error:
        raise click.ClickException(str(error)) from None
    merchant = done.merchant
    view = merchants.credentials_view(merchant)
    if done.created:
        click.echo("Demo merchant created:")
    elif done.changes:
        click.echo("Demo merchant updated (" + "; ".join(done.changes) + "):")
    else:
        click.echo("Demo merchant already exists:")
    for key in ("app_id", "app_secret", "master_secret", "test_secret"):
        click.echo(f"  {key:14} {view[key]}")
    click.echo(f"  webhook_url    {merchant.webhook_url}")
    click.echo(f"Storefront: {base_url}/demo/shop")

"""``flask --app wsgi merchants …``: manage merchant apps from the terminal."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .. import merchants
from .db import require_migrated

group = AppGroup("merchants", help="Create and manage merchant apps.",
                 callback=require_migrated)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _echo(data: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for key, value in data.items():
            click.echo(f"{key:15} {value}")


def _load(app_id: str):
    merchant = merchants.get_merchant(app_id)
    if merchant is None:
        raise click.ClickException(f"no merchant with app_id {app_id}")
    return merchant


def _guard(callable_, *args, **kwargs):
    try:
        return callable_(*args, **kwargs)
    except merchants.MerchantError as error:
        raise click.ClickException(str(error)) from None


@group.command("create")
@click.argument("name")
@click.option("--channels", help="Comma-separated channel codes, in display order.")
@click.option("--webhook-url")
@click.option("--return-hosts", help="Comma-separated hosts return_url may point at.")
@click.option("--frame-origins", help="Comma-separated origins allowed to frame the checkout.")
@click.option("--wechat-appid")
@click.option("--wechat-secret")
@click.option("--currency", default="CNY", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the new credentials as JSON.")
def create(name, channels, webhook_url, return_hosts, frame_origins, wechat_appid,
           wechat_secret, currency, as_json):
    """Create a merchant app and print its credentials (shown only here)."""
    merchant = _guard(merchants.create_merchant, name, channels=_split(channels),
                      webhook_url=webhook_url, return_hosts=_split(return_hosts),
                      frame_origins=_split(frame_origins), wechat_appid=wechat_appid,
                      wechat_secret=wechat_secret, default_currency=currency)
    _echo(merchants.credentials_view(merchant), as_json)


@group.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json):
    """List merchant apps (no secrets)."""
    views = [merchants.public_view(m) for m in merchants.list_merchants()]
    if as_json:
        click.echo(json.dumps(views, ensure_ascii=False, indent=2))
    else:
        for view in views:
            click.echo(f"{view['app_id']}  {view['name']}  {','.join(view['channels'])}")


@group.command("show")
@click.argument("app_id")
@click.option("--secrets", "with_secrets", is_flag=True, help="Include the secrets.")
@click.option("--json", "as_json", is_flag=True)
def show(app_id, with_secrets, as_json):
    """Show one merchant app."""
    merchant = _load(app_id)
    view = merchants.credentials_view(merchant) if with_secrets else merchants.public_view(merchant)
    _echo(view, as_json)


@group.command("update")
@click.argument("app_id")
@click.option("--name")
@click.option("--channels", help="Comma-separated channel codes, in display order.")
@click.option("--webhook-url")
@click.option("--return-hosts")
@click.option("--frame-origins")
@click.option("--wechat-appid")
@click.option("--wechat-secret")
@click.option("--currency")
@click.option("--json", "as_json", is_flag=True)
def update(app_id, name, channels, webhook_url, return_hosts, frame_origins, wechat_appid,
           wechat_secret, currency, as_json):
    """Change a merchant's channels, URLs or sites."""
    merchant = _guard(merchants.update_merchant, _load(app_id), name=name,
                      channels=_split(channels), webhook_url=webhook_url,
                      return_hosts=_split(return_hosts), frame_origins=_split(frame_origins),
                      wechat_appid=wechat_appid, wechat_secret=wechat_secret,
                      default_currency=currency)
    _echo(merchants.public_view(merchant), as_json)


@group.command("rotate-secrets")
@click.argument("app_id")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(merchants.SECRET_KINDS),
              help="Which secret(s); default all three.")
@click.option("--json", "as_json", is_flag=True)
def rotate(app_id, kinds, as_json):
    """Replace a merchant's secrets and print the new ones."""
    merchant = _guard(merchants.rotate_secrets, _load(app_id), tuple(kinds) or merchants.SECRET_KINDS)
    _echo(merchants.credentials_view(merchant), as_json)

"""``flask --app wsgi merchants …``: manage merchant apps from the terminal."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from .. import credentials, merchants
from ..inputs import BadInput, parse_json
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


def _warn_if_live_without_credentials(merchant) -> None:
    """Live mode offers only channels whose provider has credentials (issue 14,
    Deliver 5): say so when there are none, rather than let the operator find
    an empty chooser."""
    if merchant.checkout_mode == "live" and not credentials.configured_providers(merchant.app_id):
        click.echo(f"note: app {merchant.app_id} has no channel credentials yet, so its live "
                   f"checkout offers no channel; set them with `flask --app wsgi merchants "
                   f"credentials {merchant.app_id} alipay --json-file FILE`", err=True)


def _guard(callable_, *args, **kwargs):
    try:
        return callable_(*args, **kwargs)
    except (merchants.MerchantError, credentials.CredentialsError) as error:
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
@click.option("--checkout-mode", type=click.Choice(merchants.CHECKOUT_MODES), default="test",
              show_default=True, help="live: the hosted checkout pays through the channels "
              "with the app's channel credentials; test: the simulated cashier.")
@click.option("--json", "as_json", is_flag=True, help="Print the new credentials as JSON.")
def create(name, channels, webhook_url, return_hosts, frame_origins, wechat_appid,
           wechat_secret, currency, checkout_mode, as_json):
    """Create a merchant app and print its credentials (shown only here)."""
    merchant = _guard(merchants.create_merchant, name, channels=_split(channels),
                      webhook_url=webhook_url, return_hosts=_split(return_hosts),
                      frame_origins=_split(frame_origins), wechat_appid=wechat_appid,
                      wechat_secret=wechat_secret, default_currency=currency,
                      checkout_mode=checkout_mode)
    _echo(merchants.credentials_view(merchant), as_json)
    _warn_if_live_without_credentials(merchant)


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
    """Show one merchant app (channel credentials as fingerprints only)."""
    merchant = _load(app_id)
    view = merchants.credentials_view(merchant) if with_secrets else merchants.public_view(merchant)
    # Channel credentials are never shown again once saved, not even with
    # --secrets (architecture.md, "Channels"): only what identifies them.
    summaries = credentials.summary(merchant.app_id)
    if as_json:
        _echo({**view, "channel_credentials": summaries}, True)
        return
    _echo(view, False)
    for provider, summary in summaries.items() or [("(none)", {})]:
        click.echo(f"{'credentials':15} {provider} "
                   + " ".join(f"{key}={value}" for key, value in summary.items()))


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
@click.option("--checkout-mode", type=click.Choice(merchants.CHECKOUT_MODES),
              help="live: the hosted checkout pays through the channels with the app's "
              "channel credentials; test: the simulated cashier.")
@click.option("--json", "as_json", is_flag=True)
def update(app_id, name, channels, webhook_url, return_hosts, frame_origins, wechat_appid,
           wechat_secret, currency, checkout_mode, as_json):
    """Change a merchant's channels, URLs, sites or checkout mode."""
    merchant = _guard(merchants.update_merchant, _load(app_id), name=name,
                      channels=_split(channels), webhook_url=webhook_url,
                      return_hosts=_split(return_hosts), frame_origins=_split(frame_origins),
                      wechat_appid=wechat_appid, wechat_secret=wechat_secret,
                      default_currency=currency, checkout_mode=checkout_mode)
    _echo(merchants.public_view(merchant), as_json)
    _warn_if_live_without_credentials(merchant)


@group.command("rotate-secrets")
@click.argument("app_id")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(merchants.SECRET_KINDS),
              help="Which secret(s); default all three.")
@click.option("--json", "as_json", is_flag=True)
def rotate(app_id, kinds, as_json):
    """Replace a merchant's secrets and print the new ones."""
    merchant = _guard(merchants.rotate_secrets, _load(app_id), tuple(kinds) or merchants.SECRET_KINDS)
    _echo(merchants.credentials_view(merchant), as_json)


# A credentials file is a few KB (two RSA keys); anything far larger is not one.
MAX_CREDENTIALS_FILE = 64 * 1024


def _read_values(handle) -> dict:
    """The JSON object in the credentials file, or a clear error that quotes
    nothing of it (it holds a private key)."""
    raw = handle.read(MAX_CREDENTIALS_FILE + 1)
    if len(raw) > MAX_CREDENTIALS_FILE:
        raise click.ClickException(f"the credentials file is larger than "
                                   f"{MAX_CREDENTIALS_FILE // 1024} KB: it is not one")
    try:
        values = parse_json(raw, "the credentials file")
    except BadInput as error:
        raise click.ClickException(str(error)) from None
    if not isinstance(values, dict):
        raise click.ClickException("the credentials file must hold a JSON object of fields")
    return values


@group.command("credentials")
@click.argument("app_id")
@click.argument("provider")
@click.option("--json-file", "json_file", type=click.File("rb"),
              help="A JSON file of the provider's fields (for alipay: app_id, app_private_key, "
              "alipay_public_key, gateway); - reads standard input.")
@click.option("--simulator", is_flag=True,
              help="Generate keys and register them with the built-in simulator.")
@click.option("--remove", is_flag=True, help="Forget the app's credentials for PROVIDER.")
@click.option("--json", "as_json", is_flag=True)
def credentials_(app_id, provider, json_file, simulator, remove, as_json):
    """Set an app's channel credentials (支付要素) for PROVIDER (alipay).

    They are checked, stored encrypted with CREDENTIALS_KEY and never shown
    again: this prints what identifies them (fingerprints), never a key."""
    chosen = [name for name, given in (("--json-file", json_file is not None),
                                       ("--simulator", simulator), ("--remove", remove)) if given]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --json-file FILE, --simulator or --remove"
                               + (f" (not {' and '.join(chosen)})" if chosen else ""))
    merchant = _load(app_id)
    if provider not in credentials.PROVIDERS:
        raise click.ClickException(f"unknown provider {provider!r}; supported: "
                                   f"{', '.join(credentials.PROVIDERS)}")
    if remove:
        if not _guard(credentials.remove, merchant.app_id, provider):
            raise click.ClickException(f"app {merchant.app_id} has no {provider} credentials")
        click.echo(f"removed the {provider} credentials of app {merchant.app_id}")
        return
    if simulator:
        if not current_app.config.get("SIMULATORS"):
            raise click.ClickException("the simulators are off (SIMULATORS is not set): "
                                       "--simulator is for the demo, tests and development")
        values = _guard(credentials.simulator_values, merchant.app_id)
    else:
        values = _read_values(json_file)
    summary = _guard(credentials.save, merchant, provider, values)
    if as_json:
        _echo({"app_id": merchant.app_id, "provider": provider, "credentials": summary}, True)
    else:
        click.echo(f"saved the {provider} credentials of app {merchant.app_id} (encrypted):")
        for key, value in summary.items():
            click.echo(f"  {key:26} {value}")
    name = getattr(json_file, "name", "-")  # standard input has no name, or "<stdin>"
    if json_file is not None and isinstance(name, str) and name not in ("-", "<stdin>"):
        click.echo(f"{name} still holds the private key: keep it safe or delete it.", err=True)


@group.command("rotate-credentials-key")
def rotate_credentials_key():
    """Re-encrypt every app's channel credentials with CREDENTIALS_KEY.

    Put the previous key in CREDENTIALS_OLD_KEYS and the new one in
    CREDENTIALS_KEY, run this, then drop the old key."""
    count = _guard(credentials.reencrypt_all)
    click.echo(f"re-encrypted {count} set(s) of channel credentials with CREDENTIALS_KEY; "
               "CREDENTIALS_OLD_KEYS can now be emptied")

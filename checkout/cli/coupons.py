"""``flask --app wsgi coupons …``: coupon templates and coupons from the terminal.

    coupons template-create APP_ID "10 off 100" --type 0 --discount 10 --limit-fee 10000
    coupons template-create APP_ID "10% off" --type 1 --discount 0.9 --valid-days 30
    coupons issue APP_ID TEMPLATE_ID alice@example.com
    coupons list APP_ID [--templates] [--user alice@example.com]
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click
from flask.cli import AppGroup

from .. import merchants
from ..models import CouponTemplate
from ..sandbox import coupons
from .db import require_migrated

group = AppGroup("coupons", help="Coupon templates and coupons of a merchant app (seed 003 4.6).",
                 callback=require_migrated)


def _merchant(app_id: str):
    merchant = merchants.get_merchant(app_id)
    if merchant is None:
        raise click.ClickException(f"no merchant with app_id {app_id}")
    return merchant


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


def _echo(data, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for row in data if isinstance(data, list) else [data]:
        click.echo("  ".join(f"{key}={value}" for key, value in row.items()
                             if not isinstance(value, dict)))


@group.command("template-create")
@click.argument("app_id")
@click.argument("name")
@click.option("--type", "kind", type=click.IntRange(0, 1), default=0, show_default=True,
              help="0 = amount off (discount in yuan), 1 = percentage (discount = ratio paid, 0.9 = 10% off)")
@click.option("--discount", required=True, help="yuan off for type 0 (e.g. 10), ratio paid for type 1 (e.g. 0.9)")
@click.option("--limit-fee", type=int, default=0, show_default=True, help="minimum bill in fen, 0 = none")
@click.option("--total-count", type=int, default=0, show_default=True, help="0 = unlimited")
@click.option("--max-per-user", type=int, default=0, show_default=True, help="0 = unlimited")
@click.option("--start", type=click.DateTime(), help="window start (UTC), expiry type 1")
@click.option("--end", type=click.DateTime(), help="window end (UTC), expiry type 1")
@click.option("--valid-days", type=int, help="valid N days after issue (expiry type 2)")
@click.option("--code", help="the coupon code shown to shoppers")
@click.option("--inactive", is_flag=True, help="create it not started (status 0)")
@click.option("--json", "as_json", is_flag=True)
def template_create(app_id, name, kind, discount, limit_fee, total_count, max_per_user, start, end,
                    valid_days, code, inactive, as_json):
    """Create a coupon template."""
    merchant = _merchant(app_id)
    try:
        template = coupons.create_template(
            merchant, name=name, type=kind, discount=discount, limit_fee=limit_fee,
            total_count=total_count, max_count_per_user=max_per_user,
            expiry_type=CouponTemplate.DAYS_AFTER_DELIVERY if valid_days is not None
            else CouponTemplate.WINDOW,
            start_time=_ms(start), end_time=_ms(end), delivery_valid_days=valid_days, code=code,
            status=CouponTemplate.NOT_STARTED if inactive else CouponTemplate.ACTIVE)
    except coupons.CouponRefused as refused:
        raise click.ClickException(refused.err_detail) from None
    _echo(coupons.template_to_wire(template), as_json)


@group.command("template-status")
@click.argument("app_id")
@click.argument("template_id")
@click.argument("status", type=click.Choice(["start", "stop"]))
def template_status(app_id, template_id, status):
    """Start or stop a template (a stopped template's coupons no longer apply)."""
    try:
        coupons.set_template_status(_merchant(app_id), template_id,
                                    CouponTemplate.ACTIVE if status == "start"
                                    else CouponTemplate.STOPPED)
    except coupons.CouponRefused as refused:
        raise click.ClickException(refused.err_detail) from None
    click.echo(f"template {template_id}: {status}")


@group.command("issue")
@click.argument("app_id")
@click.argument("template_id")
@click.argument("user_id")
@click.option("--json", "as_json", is_flag=True)
def issue(app_id, template_id, user_id, as_json):
    """Give one coupon of TEMPLATE_ID to USER_ID (the buyer_id of their bills)."""
    try:
        coupon = coupons.issue_coupon(_merchant(app_id), template_id, user_id)
    except coupons.CouponRefused as refused:
        raise click.ClickException(refused.err_detail) from None
    _echo(coupons.coupon_to_wire(coupon), as_json)


@group.command("list")
@click.argument("app_id")
@click.option("--templates", is_flag=True, help="list templates instead of coupons")
@click.option("--user", "user_id", help="only this user's coupons")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_command(app_id, templates, user_id, limit, as_json):
    """List the app's coupons (newest first), or its templates."""
    merchant = _merchant(app_id)
    try:
        if templates:
            rows = [coupons.template_to_wire(t)
                    for t in coupons.query_templates(merchant, {"limit": limit})]
        else:
            filters = {"limit": limit, "user_id": user_id} if user_id else {"limit": limit}
            rows = []
            for coupon in coupons.query_coupons(merchant, filters):
                wire = coupons.coupon_to_wire(coupon)
                wire["template_id"] = wire["template"]["id"]
                wire["template_name"] = wire["template"]["name"]
                rows.append(wire)
    except coupons.CouponRefused as refused:
        raise click.ClickException(refused.err_detail) from None
    _echo(rows, as_json)

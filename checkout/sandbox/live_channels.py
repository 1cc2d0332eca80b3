"""Live bills: where the gateway core meets a provider's connector.

A live bill (``test_mode`` false) for a channel whose provider has a connector
(``checkout.connectors``: Alipay today) is paid at the provider with the
merchant's own credentials (BeeCloud's 支付要素). This module is the only part
of the gateway core that calls connectors; it decides *what* a provider's word
does to a bill, always through settlement (first paid wins, coupon consumed,
webhook queued):

- ``connector_for``: the merchant's connector for a channel, or result 2
  ``PAY_FACTOR_NOT_SET`` (seed 001 §2, "支付要素在后台没有设置") when the
  provider has no credentials or no connector exists yet.
- ``start``: the hand-off fields of a new (or repeated) live bill.
- ``receive_notification``: a provider's asynchronous notification, believed
  only after the connector checked its signature and app, and we checked the
  trade number and the amount against the bill (architecture.md, "Channels").
- ``refresh``: ask the provider about one open bill (the shopper's result
  page, a REST query, the worker's schedule) — for the notification that is
  late or never comes.
- ``check_due``: the worker's job: open live bills asked on a schedule, and
  bills closed on our side (expired, paid in another channel, reverted)
  closed at the provider too, so nobody can pay them there any more.
- ``refund`` / ``refund_status``: the refund service's calls to the provider.

Provider calls are never made inside a database transaction that holds a
lock: a provider may take seconds to answer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, or_, update

from .. import channels as catalogue
from .. import connectors
from ..clock import now_ms
from ..db import db
from ..links import base_url
from ..models import Bill, Merchant
from . import bills as bill_service  # circular: used at call time only

log = logging.getLogger(__name__)

PAY_FACTOR_NOT_SET, CHANNEL_ERROR = 2, 7

# Channel family -> provider with a live connector (architecture.md's list).
PROVIDER_BY_FAMILY = {"ALI": "alipay"}
PROVIDER_NAMES = {"alipay": "Alipay"}
# What credentials name as "gateway" to mean this app's own simulator
# (``flask merchants credentials APP alipay --simulator``), resolved at each
# call, so the demo may move host or port.
SIMULATOR = "simulator"
SIMULATOR_PATHS = {"alipay": "/simulators/alipay/gateway.do"}

# The worker asks the provider about an open bill when it is 30 s old, then
# at doubling ages (1, 2, 4 … minutes), at least hourly: a missed
# notification is found within half the bill's age, for a few queries.
FIRST_CHECK_MS = 30_000
MAX_CHECK_GAP_MS = 3600_000
# A failed provider call (close, cancel) is tried again after this.
RETRY_MS = 60_000
CHECK_BATCH = 50
CHINA = ZoneInfo("Asia/Shanghai")  # Alipay's gmt_payment is Beijing time


def merchant_in_test_mode(merchant: Merchant) -> bool:
    """The merchant's own mode (``merchants … --checkout-mode``), for the
    calls that have no sandbox path of their own — the hosted checkout, the
    offline API (seed 000) and the international API (seed 002): a test-mode
    merchant's bills there are sandbox bills, paid at simulated cashiers; a
    live one's go to the providers it has credentials for. New merchants
    start in test mode, as a new BeeCloud app did."""
    return merchant.checkout_mode != "live"


def _reason(error: Exception) -> str:
    """What a refusal says, for the log: a connector's ``detail`` or a
    refusal's ``err_detail`` (neither holds a credential)."""
    return getattr(error, "detail", None) or getattr(error, "err_detail", "")


def provider_of(channel_code: str) -> str | None:
    channel = catalogue.CHANNELS.get(channel_code)
    return PROVIDER_BY_FAMILY.get(channel.family) if channel else None


def configured_providers(app_id: str) -> set[str]:
    from .. import credentials

    return credentials.configured_providers(app_id)


def live_channels(merchant: Merchant, codes: list[str]) -> list[str]:
    """Of ``codes``, those a live bill can be paid in for this merchant: the
    channel's provider has a connector and the merchant's credentials."""
    providers = configured_providers(merchant.app_id)
    return [code for code in codes if provider_of(code) in providers]


def _gateway_url(provider: str, values: dict) -> str:
    gateway = values.get("gateway") or ""
    if gateway != SIMULATOR:
        return gateway
    if not current_app.config.get("SIMULATORS"):
        raise bill_service.Refused(
            PAY_FACTOR_NOT_SET, f"the {PROVIDER_NAMES[provider]} credentials point at the "
            "built-in simulator, which this server does not run (SIMULATORS is off)")
    return base_url() + SIMULATOR_PATHS[provider]


def connector_for(app_id: str, channel_code: str) -> connectors.Connector:
    """The merchant's connector for a live bill in ``channel_code``; 2
    PAY_FACTOR_NOT_SET naming the provider when it cannot be paid live."""
    provider = provider_of(channel_code)
    if provider is None:
        family = channel_code.split("_")[0]
        raise bill_service.Refused(
            PAY_FACTOR_NOT_SET, f"{channel_code}: live payments in {family} channels are not "
            "available yet (no connector); use test mode (/2/rest/sandbox/…)")
    from .. import credentials

    name = PROVIDER_NAMES[provider]
    try:
        values = credentials.load(app_id, provider)
    except credentials.CredentialsError:
        # CREDENTIALS_KEY is not the one they were saved with; the operator's
        # log says which (checkout.credentials), the merchant sees no detail.
        log.error("app %s: its %s credentials cannot be decrypted", app_id, name)
        raise bill_service.Refused(PAY_FACTOR_NOT_SET, f"{channel_code}: the app's {name} "
                                   "credentials cannot be read on this server") from None
    if values is None:
        raise bill_service.Refused(PAY_FACTOR_NOT_SET,
                                   f"{channel_code}: the app has no {name} credentials "
                                   f"(flask merchants credentials APP_ID {provider} …)")
    from ..connectors.alipay import AlipayConnector

    try:
        return AlipayConnector(values, gateway_url=_gateway_url(provider, values))
    except connectors.ConnectorError as error:  # the detail never quotes a key
        raise bill_service.Refused(PAY_FACTOR_NOT_SET, f"{channel_code}: the app's {name} "
                                   f"credentials cannot be used: {error.detail}") from None


def _connector(bill: Bill) -> connectors.Connector:
    return connector_for(bill.app_id, bill.channel)


# --- starting a payment -------------------------------------------------------------------

def notify_url(provider: str, app_id: str) -> str:
    """Our endpoint for the provider's asynchronous notifications
    (``checkout.web.channel_notify``), per app so the right key checks it."""
    return f"{base_url()}/notify/{provider}/{app_id}"


def provider_ref(bill: Bill) -> str:
    """The bill's number at the provider (Alipay's ``out_trade_no``): its
    ``bill_no``, as the issue asks — except for a bill that re-opens an
    expired or failed one of the same channel, since a provider never takes
    one trade number twice; it gets ``bill_no_<8 hex of its id>`` (Alipay
    allows 64 letters, digits and underscores)."""
    earlier = db.session.execute(
        db.select(Bill.id).where(Bill.app_id == bill.app_id, Bill.test_mode.is_(False),
                                 Bill.provider_ref == bill.bill_no, Bill.id != bill.id)
        .limit(1)).first()
    return bill.bill_no if earlier is None else f"{bill.bill_no}_{bill.id[:8]}"


def _claim_for_provider(bill: Bill, provider: str, now: int) -> None:
    """Write the provider fields once (the first creation of this bill)."""
    if bill.provider is not None:
        return
    db.session.execute(
        update(Bill).where(Bill.id == bill.id, Bill.provider.is_(None))
        .values(provider=provider, provider_ref=provider_ref(bill),
                next_check_at=now + FIRST_CHECK_MS)
        .execution_options(synchronize_session=False))
    ended_here(bill.app_id, bill.bill_no, now)  # a bill this one re-opens: closed there too
    db.session.commit()
    db.session.refresh(bill)


def payment_of(bill: Bill) -> connectors.Payment:
    params = dict(bill.channel_params or {})
    return connectors.Payment(
        bill_no=bill.provider_ref or bill.bill_no, channel=bill.channel, title=bill.title,
        total_fee=bill.total_fee, notify_url=notify_url(bill.provider, bill.app_id),
        return_url=bill.return_url, timeout_seconds=bill.bill_timeout, params=params)


def start(bill: Bill, connector: connectors.Connector, *, params: dict | None = None) -> dict:
    """The hand-off fields of a live bill (seed 001 §2). A barcode channel
    pays at once: its result goes through settlement here. A provider's
    refusal answers 7 CHANNEL_ERROR with the provider's reason."""
    now = now_ms()
    _claim_for_provider(bill, connector.provider, now)
    payment = payment_of(bill)
    if params:
        payment = connectors.Payment(**{**payment.__dict__,
                                        "params": {**payment.params, **params}})
    try:
        started = connector.start(payment)
    except connectors.ConnectorError as error:
        raise bill_service.Refused(
            CHANNEL_ERROR, f"{PROVIDER_NAMES[connector.provider]}: {error.detail}") from None
    if started.status == connectors.PAID:
        _settle_paid(bill, connectors.Trade(
            bill_no=payment.bill_no, status=connectors.PAID, total_fee=bill.total_fee,
            trade_no=started.trade_no, message_detail=started.message_detail or {}), connector)
    return dict(started.fields)


# --- what the provider says ---------------------------------------------------------------

def _paid_at(detail: dict, now: int) -> int:
    """When the shopper paid, from the provider's ``gmt_payment`` (Beijing
    time): a payment made in time and reported late still counts."""
    text = detail.get("gmt_payment") if isinstance(detail, dict) else None
    try:
        moment = int(datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
                     .replace(tzinfo=CHINA).timestamp() * 1000)
    except (TypeError, ValueError):
        return now
    return min(moment, now)


def _settle_paid(bill: Bill, trade: connectors.Trade, connector: connectors.Connector) -> bool:
    """The provider took the shopper's money for ``bill``: pay it through
    settlement. When the order can no longer take it (paid in another channel
    first, closed) the money goes back at once (``cancel``: Alipay refunds a
    paid trade) — one order, one payment, never a shopper charged twice."""
    from . import settlement

    now = now_ms()
    if settlement.mark_paid(bill, trade_no=trade.trade_no,
                            now_ms=_paid_at(trade.message_detail, now),
                            message_detail=dict(trade.message_detail or {})):
        return True
    db.session.refresh(bill)
    if bill.status == Bill.PAID:
        return False  # a replay, or the query and the notification crossed
    log.warning("bill %s was paid at %s after it ended here (%s); giving the money back",
                bill.id, connector.provider, bill.status)
    try:
        connector.cancel(trade.bill_no)
    except connectors.ConnectorError as error:
        log.error("bill %s: could not give back a payment at %s: %s", bill.id,
                  connector.provider, error.detail)
    return False


def _apply(bill: Bill, trade: connectors.Trade, connector: connectors.Connector) -> bool:
    """Apply a trade the provider reported (checked already); True when the
    bill changed. The amount must be the bill's, to the fen."""
    if trade.status == connectors.PAID:
        if trade.total_fee != bill.total_fee:
            log.warning("bill %s: %s reports %s fen paid, the bill is %s fen; ignored",
                        bill.id, connector.provider, trade.total_fee, bill.total_fee)
            return False
        return _settle_paid(bill, trade, connector)
    if trade.status == connectors.CLOSED and bill.status in (Bill.OPEN, Bill.FAILED):
        from . import settlement

        # Closed at the provider (its own timeout, or closed there): nobody
        # can pay it any more; it is closed here too, nothing to tell back.
        db.session.execute(update(Bill).where(Bill.id == bill.id)
                           .values(provider_closed=True)
                           .execution_options(synchronize_session=False))
        return settlement.close_bill(bill)
    return False


def _bill_by_ref(app_id: str, provider: str, reference: str) -> Bill | None:
    return db.session.execute(
        db.select(Bill).where(Bill.app_id == app_id, Bill.test_mode.is_(False),
                              Bill.provider == provider, Bill.provider_ref == reference)
    ).scalar_one_or_none()


def receive_notification(provider: str, app_id: str, fields: dict) -> bool:
    """A provider's asynchronous notification for one of ``app_id``'s bills.
    True (answer the provider's "success") only for a believed payment of the
    right amount — which pays the bill once, however often it is replayed;
    everything else changes nothing and is answered as a failure (issue 14,
    Deliver 3)."""
    if provider not in PROVIDER_BY_FAMILY.values() or not isinstance(app_id, str):
        return False
    from .. import credentials

    try:
        if credentials.load(app_id, provider) is None:
            log.warning("%s notification for app %s, which has no credentials", provider, app_id)
            return False
        connector = connector_for(app_id, _any_channel(provider))
        trade = connector.parse_notification(fields)
    except (connectors.NotificationRejected, bill_service.Refused,
            credentials.CredentialsError) as why:
        log.warning("%s notification for app %s not believed: %s", provider, app_id,
                    getattr(why, "err_detail", why))
        return False
    bill = _bill_by_ref(app_id, provider, trade.bill_no)
    if bill is None:
        log.warning("%s notification for an unknown trade of app %s", provider, app_id)
        return False
    if trade.status != connectors.PAID:
        return False
    if trade.total_fee != bill.total_fee:
        log.warning("bill %s: %s notification says %s fen, the bill is %s fen; not believed",
                    bill.id, provider, trade.total_fee, bill.total_fee)
        return False
    _settle_paid(bill, trade, connector)
    db.session.refresh(bill)
    return bill.status != Bill.OPEN  # paid now, or before (a replay), or given back


def _any_channel(provider: str) -> str:
    family = next(f for f, p in PROVIDER_BY_FAMILY.items() if p == provider)
    return next(code for code, channel in catalogue.CHANNELS.items() if channel.family == family)


def is_live_bill(bill: Bill) -> bool:
    return bill.provider is not None and not bill.test_mode


def refresh(bill: Bill) -> None:
    """Ask the provider about one open live bill now (a shopper's result page
    or a REST query is asking); an unreachable provider changes nothing."""
    if not is_live_bill(bill) or bill.status not in (Bill.OPEN, Bill.FAILED):
        return
    try:
        connector = _connector(bill)
        trade = connector.query(bill.provider_ref)
    except (connectors.ConnectorError, bill_service.Refused) as error:
        log.info("bill %s: %s query failed: %s", bill.id, bill.provider,
                 _reason(error))
        return
    _apply(bill, trade, connector)
    db.session.commit()


# --- the worker's job ---------------------------------------------------------------------

def _next_check(bill: Bill, now: int) -> int:
    age = max(now - bill.create_time, FIRST_CHECK_MS)
    return now + min(age, MAX_CHECK_GAP_MS)


def _due(now: int) -> list[Bill]:
    return list(db.session.execute(
        db.select(Bill).where(
            Bill.provider.is_not(None), Bill.test_mode.is_(False),
            Bill.next_check_at.is_not(None), Bill.next_check_at <= now,
            or_(Bill.status.in_((Bill.OPEN, Bill.FAILED)),
                and_(Bill.status.in_((Bill.CLOSED, Bill.REVERTED)),
                     Bill.provider_closed.is_(False))))
        .order_by(Bill.next_check_at).limit(CHECK_BATCH)).scalars())


def _claim(bill: Bill, now: int, until: int | None) -> bool:
    """Claim a due bill for this worker: a conditional UPDATE moving its
    next check, so workers on several hosts never ask twice at once."""
    return db.session.execute(
        update(Bill).where(Bill.id == bill.id, Bill.next_check_at == bill.next_check_at)
        .values(next_check_at=until).execution_options(synchronize_session=False)
    ).rowcount == 1


def _close_at_provider(bill: Bill, now: int) -> bool:
    """A bill ended here (expired, paid in another channel, reverted): close
    (or, if the shopper managed to pay it, cancel = refund) it there too."""
    connector = _connector(bill)
    trade = connector.query(bill.provider_ref)
    if trade.status == connectors.PAID:
        if bill.status == Bill.REVERTED:
            connector.cancel(bill.provider_ref)  # a revert undoes a payment (seed 000 §4)
        else:
            _settle_paid(bill, trade, connector)  # paid in time, or else given back
    elif trade.status == connectors.OPEN:
        connector.close(bill.provider_ref)
    db.session.execute(update(Bill).where(Bill.id == bill.id).values(provider_closed=True)
                       .execution_options(synchronize_session=False))
    return True


def check_due(now: int) -> int:
    """The worker's job (``checkout.sandbox.jobs``): ask the provider about
    the live bills whose check is due; how many bills changed."""
    changed = 0
    for bill in _due(now):
        open_bill = bill.status in (Bill.OPEN, Bill.FAILED)
        if not _claim(bill, now, _next_check(bill, now) if open_bill else now + RETRY_MS):
            db.session.rollback()
            continue
        db.session.commit()
        try:
            if open_bill:
                connector = _connector(bill)
                changed += bool(_apply(bill, connector.query(bill.provider_ref), connector))
            else:
                changed += bool(_close_at_provider(bill, now))
        except (connectors.ConnectorError, bill_service.Refused) as error:
            log.info("bill %s: %s check failed: %s", bill.id, bill.provider,
                     _reason(error))
        db.session.commit()
    return changed


def ended_here(app_id: str, bill_no: str, now: int) -> None:
    """Bills of ``bill_no`` just ended here (paid elsewhere, reverted): have
    the worker close them at their provider at once, not at their next
    check. Inside the caller's transaction."""
    db.session.execute(
        update(Bill).where(Bill.app_id == app_id, Bill.test_mode.is_(False),
                           Bill.bill_no == bill_no, Bill.provider.is_not(None),
                           Bill.status.in_((Bill.CLOSED, Bill.REVERTED)),
                           Bill.provider_closed.is_(False))
        .values(next_check_at=now).execution_options(synchronize_session=False))


def cancel(bill: Bill | None) -> None:
    """A reverted live bill (seed 000 §4): cancelled at its provider now;
    if the provider cannot be reached, the worker's next check does it."""
    if bill is None or not is_live_bill(bill) or bill.provider_closed \
            or bill.status != Bill.REVERTED:
        return
    try:
        _connector(bill).cancel(bill.provider_ref)
    except (connectors.ConnectorError, bill_service.Refused) as error:
        log.info("bill %s: %s cancel failed, the worker tries again: %s", bill.id, bill.provider,
                 _reason(error))
        ended_here(bill.app_id, bill.bill_no, now_ms())
    else:
        db.session.execute(update(Bill).where(Bill.id == bill.id).values(provider_closed=True)
                           .execution_options(synchronize_session=False))
    db.session.commit()


# --- refunds ------------------------------------------------------------------------------

def refund(bill: Bill, refund_no: str, refund_fee: int) -> connectors.RefundResult:
    """Send a refund of a live bill to its provider. ``ConnectorError``: the
    provider refused it; ``ProviderUnreachable``: not known, ask again."""
    return _connector(bill).refund(bill.provider_ref, refund_no, refund_fee)


def refund_status(bill: Bill, refund_no: str) -> connectors.RefundResult:
    return _connector(bill).refund_query(bill.provider_ref, refund_no)

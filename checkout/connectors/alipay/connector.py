"""The Alipay connector: BeeCloud's ALI_* channels spoken as Alipay OpenAPI
(``gateway.do``, RSA2) with one merchant's own credentials (issue 14,
Deliver 2 and 4; architecture.md, "Channels: connectors and simulators").

Requests are built and signed by python-alipay-sdk (``.sdk``); every
server-to-server answer is believed only after the library has verified its
signature with the merchant's Alipay public key, and then only if it speaks
of our trade. Amounts cross in fen and are converted once, by
``checkout.money``.
"""

from __future__ import annotations

import hmac
import math
import re
from html import escape
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from Cryptodome.PublicKey import RSA

from ... import money
from .. import (CLOSED, OPEN, PAID, WAITING, Connector, ConnectorError, NotificationRejected,
                Payment, ProviderUnreachable, RefundResult, Started, Trade)
from . import sdk

DEFAULT_TIMEOUT_SECONDS = 10.0

# Alipay's trade_status values (alipay.trade.query / the async notify).
TRADE_STATUS = {
    "WAIT_BUYER_PAY": OPEN,
    "TRADE_SUCCESS": PAID,
    "TRADE_FINISHED": PAID,   # paid, and past the refund period
    "TRADE_CLOSED": CLOSED,   # never paid and closed, or paid and fully refunded
}

# Alipay's public result codes (the common answer's ``code``).
SUCCESS = "10000"
BUYER_PAYING = "10003"        # alipay.trade.pay: waiting for the buyer's password
UNKNOWN_OUTCOME = "20000"     # service unavailable: the outcome is unknown, ask again
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
SYSTEM_ERROR = "ACQ.SYSTEM_ERROR"   # "请使用相同的参数再次调用": the outcome is unknown

# timeout_express: whole minutes, 1m to 15d (Alipay: "取值范围：1m～15d …
# 该参数数值不接受小数点").
MAX_TIMEOUT_MINUTES = 15 * 24 * 60

# qr_pay_mode of alipay.trade.page.pay: 0/1/3 are BeeCloud's ALI_QRCODE modes
# (seed 001, ALI_QRCODE notes), 2 is Alipay's redirect mode and 4 its
# merchant-sized QR code, which needs qrcode_width.
QR_PAY_MODES = {"0", "1", "2", "3", "4"}

# total_amount / refund_amount as Alipay writes them: yuan, at most two
# decimals, [0.01, 100000000].
AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,2})?")
MAX_FEE = 100_000_000 * 100
AUTH_CODE = re.compile(r"[0-9]{10,64}")       # the buyer's payment code (付款码): digits
SAFE_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
FORM_ID = "alipaysubmit"


def timeout_express(seconds: int) -> str:
    """A bill timeout as Alipay's ``timeout_express``: whole minutes, rounded
    up (a bill never closes at Alipay before it closes here), at least 1m. More
    than Alipay's 15 days is sent as 15d, which is also what Alipay does when
    the field is absent; the gateway still closes the bill at its own expiry."""
    minutes = max(1, math.ceil(int(seconds) / 60))
    return "15d" if minutes >= MAX_TIMEOUT_MINUTES else f"{minutes}m"


def amount_to_fen(value: object) -> int:
    """Alipay's yuan amount as fen, strictly: ``"12.30"`` -> 1230. Anything
    that is not a plain decimal with at most two places raises ValueError."""
    if not isinstance(value, str) or not AMOUNT.fullmatch(value):
        raise ValueError("not an Alipay amount")
    return money.decimal_to_minor(value, "CNY")


def auto_submit_form(action: str, fields: list[tuple[str, str]]) -> str:
    """The page-pay hand-off: a form POSTing the signed parameters to the
    gateway, submitted by one inline script (the checkout lets exactly that
    script run by its hash, ``web.security.inline_script_hashes``). The submit
    button is ``hidden`` (an attribute): checkout pages allow no inline style."""
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}"/>'
                     for k, v in fields)
    return (f'<form id="{FORM_ID}" name="{FORM_ID}" action="{escape(action)}" method="post" '
            f'accept-charset="utf-8">{inputs}<input type="submit" value="OK" hidden/></form>'
            f"<script>document.forms['{FORM_ID}'].submit();</script>")


def _safe(value: object, limit: int = 200) -> str:
    """Text from a verified Alipay answer, fit for a merchant-facing detail."""
    text = value if isinstance(value, str) else ""
    return " ".join(text.split())[:limit]


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class AlipayConnector(Connector):
    """One merchant's Alipay app.

    ``credentials``: ``{"app_id", "app_private_key" (PEM), "alipay_public_key"
    (PEM), "gateway"}`` as the credentials module decrypts them (``gateway`` is
    the caller's business: it resolves ``gateway_url``, Alipay's
    ``https://openapi.alipay.com/gateway.do`` or the built-in simulator's).
    ``timeout``: seconds one server-to-server call may take.
    Bad credentials raise ``ConnectorError`` (code ``CREDENTIALS``) whose
    detail holds no key material."""

    provider = "alipay"

    def __init__(self, credentials: Mapping[str, Any], *, gateway_url: str,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS):
        app_id = credentials.get("app_id")
        if not isinstance(app_id, str) or not SAFE_TOKEN.fullmatch(app_id):
            raise ConnectorError("the Alipay credentials have no valid app_id", code="CREDENTIALS")
        if not isinstance(gateway_url, str) or \
                not gateway_url.startswith(("https://", "http://")) or "?" in gateway_url:
            raise ConnectorError("the Alipay gateway URL must be an http(s) URL without a query",
                                 code="CREDENTIALS")
        if not timeout or timeout <= 0:
            raise ConnectorError("the Alipay timeout must be positive", code="CREDENTIALS")
        private_pem = credentials.get("app_private_key")
        public_pem = credentials.get("alipay_public_key")
        _check_key(private_pem, "app_private_key", private=True)
        _check_key(public_pem, "alipay_public_key", private=False)
        self.app_id = app_id
        self.gateway_url = gateway_url
        self.timeout = float(timeout)
        self._client = sdk.Client(app_id, private_pem, public_pem,
                                  gateway_url=gateway_url, timeout=self.timeout)

    # --- starting a payment -----------------------------------------------------

    def start(self, payment: Payment) -> Started:
        _check_payment(payment)
        channel = payment.channel
        if channel == "ALI_WEB":
            return self._page_pay(payment, {})
        if channel == "ALI_QRCODE":
            return self._page_pay(payment, _qr_fields(payment.params))
        if channel == "ALI_WAP":
            return self._wap_pay(payment)
        if channel == "ALI_OFFLINE_QRCODE":
            return self._precreate(payment)
        if channel == "ALI_SCAN":
            return self._barcode_pay(payment)
        raise ConnectorError(f"{channel} is not a channel the Alipay connector starts",
                             code="CHANNEL")

    def _common(self, payment: Payment) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if payment.timeout_seconds:
            fields["timeout_express"] = timeout_express(payment.timeout_seconds)
        return fields

    def _handoff(self, signed: str) -> Started:
        """``html`` and ``url`` for one signed query string: the same
        parameters, POSTed by a form or sent as a GET link."""
        fields = parse_qsl(signed, keep_blank_values=True, strict_parsing=True)
        gateway = self._client.gateway
        return Started(fields={"html": auto_submit_form(gateway + "?charset=utf-8", fields),
                               "url": gateway + "?" + signed})

    def _page_pay(self, payment: Payment, extra: dict[str, Any]) -> Started:
        # alipay.trade.page.pay, product_code FAST_INSTANT_TRADE_PAY (the
        # library's default for this method).
        signed = self._client.api_alipay_trade_page_pay(
            payment.title, payment.bill_no, money.fen_to_yuan(payment.total_fee),
            return_url=payment.return_url, notify_url=payment.notify_url,
            **self._common(payment), **extra)
        return self._handoff(signed)

    def _wap_pay(self, payment: Payment) -> Started:
        use_app = payment.params.get("use_app", True)
        if not isinstance(use_app, bool):
            raise ConnectorError("use_app must be true or false", code="PARAM")
        # Seed 003 (ALI_WAP, use_app: "是否尝试掉起支付宝APP原生支付", default
        # true). With alipay.trade.wap.pay, waking the Alipay app is Alipay's
        # default whenever it is installed (Alipay open docs 203/107091 "手机网站
        # 支付唤起支付宝app"); the app_pay=Y switch BeeCloud-era integrations
        # sent belongs to the retired alipay.wap.create.direct.pay.by.user, and
        # the same document says no way to forbid it is offered. So true is
        # exactly Alipay's behaviour and false cannot be expressed to Alipay.
        extra: dict[str, Any] = {"product_code": "QUICK_WAP_WAY"}  # the library says QUICK_WAP_PAY
        if payment.return_url:
            # Where a shopper who leaves the cashier half-way goes: the same
            # page as after paying, which asks the gateway how the bill stands.
            extra["quit_url"] = payment.return_url
        signed = self._client.api_alipay_trade_wap_pay(
            payment.title, payment.bill_no, money.fen_to_yuan(payment.total_fee),
            return_url=payment.return_url, notify_url=payment.notify_url,
            **self._common(payment), **extra)
        return self._handoff(signed)

    def _precreate(self, payment: Payment) -> Started:
        answer = self._server(
            "alipay.trade.precreate", lambda: self._client.api_alipay_trade_precreate(
                payment.title, payment.bill_no, money.fen_to_yuan(payment.total_fee),
                notify_url=payment.notify_url, **self._common(payment)))
        if answer.get("code") != SUCCESS:
            raise _refused("alipay.trade.precreate", answer)
        _same_trade(answer, payment.bill_no, "alipay.trade.precreate")
        qr_code = answer.get("qr_code")
        if not isinstance(qr_code, str) or not qr_code.startswith(("https://", "http://")):
            raise ProviderUnreachable("Alipay's precreate answer has no qr_code")
        return Started(fields={"code_url": qr_code}, message_detail=answer)

    def _barcode_pay(self, payment: Payment) -> Started:
        auth_code = payment.params.get("auth_code")
        if not isinstance(auth_code, str) or not AUTH_CODE.fullmatch(auth_code):
            raise ConnectorError("auth_code (the buyer's payment code) must be digits",
                                 code="PARAM")
        answer = self._server("alipay.trade.pay", lambda: self._client.api_alipay_trade_pay(
            payment.bill_no, "bar_code", auth_code, payment.title,
            notify_url=payment.notify_url,
            total_amount=money.fen_to_yuan(payment.total_fee), **self._common(payment)))
        code = answer.get("code")
        if code not in (SUCCESS, BUYER_PAYING):
            raise _refused("alipay.trade.pay", answer)
        _same_trade(answer, payment.bill_no, "alipay.trade.pay")
        trade_no = answer.get("trade_no") if isinstance(answer.get("trade_no"), str) else None
        if code == BUYER_PAYING:
            # The buyer must enter a password on the phone: ask again with
            # alipay.trade.query (cancel if it never completes).
            return Started(fields={}, status=WAITING, trade_no=trade_no, message_detail=answer)
        if _answer_fee(answer, "total_amount", "alipay.trade.pay") != payment.total_fee:
            raise ProviderUnreachable("Alipay's pay answer states another amount")
        return Started(fields={}, status=PAID, trade_no=trade_no, message_detail=answer)

    # --- asking, closing, cancelling --------------------------------------------

    def query(self, bill_no: str) -> Trade:
        answer = self._server("alipay.trade.query",
                              lambda: self._client.api_alipay_trade_query(out_trade_no=bill_no))
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == TRADE_NOT_EXIST:
                # A page-pay trade exists at Alipay only once the buyer has
                # opened the cashier (logged in): until then the bill is open.
                return Trade(bill_no=bill_no, status=OPEN, message_detail=answer,
                             provider_app_id=self.app_id)
            raise _refused("alipay.trade.query", answer)
        _same_trade(answer, bill_no, "alipay.trade.query")
        status = TRADE_STATUS.get(answer.get("trade_status"))
        if status is None:
            raise ProviderUnreachable("Alipay's query answer has no known trade_status")
        trade_no = answer.get("trade_no") if isinstance(answer.get("trade_no"), str) else None
        return Trade(bill_no=bill_no, status=status,
                     total_fee=_answer_fee(answer, "total_amount", "alipay.trade.query"),
                     trade_no=trade_no, message_detail=answer, provider_app_id=self.app_id)

    def close(self, bill_no: str) -> None:
        answer = self._server("alipay.trade.close",
                              lambda: self._client.api_alipay_trade_close(out_trade_no=bill_no))
        if answer.get("code") == SUCCESS or answer.get("sub_code") == TRADE_NOT_EXIST:
            # A trade Alipay never created (the buyer never opened the
            # cashier) is as closed as it gets.
            return
        raise _refused("alipay.trade.close", answer)

    def cancel(self, bill_no: str) -> None:
        answer = self._server("alipay.trade.cancel",
                              lambda: self._client.api_alipay_trade_cancel(out_trade_no=bill_no))
        if answer.get("code") == SUCCESS or answer.get("sub_code") == TRADE_NOT_EXIST:
            return
        if answer.get("retry_flag") == "Y":
            # Alipay: "retry_flag … Y 需要重试": the cancel has not happened yet.
            raise ProviderUnreachable("Alipay asks for the cancel to be retried")
        raise _refused("alipay.trade.cancel", answer)

    # --- refunds ------------------------------------------------------------------

    def refund(self, bill_no: str, refund_no: str, refund_fee: int,
               reason: str = "") -> RefundResult:
        if isinstance(refund_fee, bool) or not isinstance(refund_fee, int) \
                or not 0 < refund_fee <= MAX_FEE:
            raise ConnectorError("refund_fee must be a positive number of fen", code="PARAM")
        extra = {"out_request_no": refund_no}
        if reason:
            extra["refund_reason"] = reason
        answer = self._server("alipay.trade.refund", lambda: self._client.api_alipay_trade_refund(
            money.fen_to_yuan(refund_fee), out_trade_no=bill_no, **extra))
        if answer.get("code") != SUCCESS:
            raise _refused("alipay.trade.refund", answer)
        _same_trade(answer, bill_no, "alipay.trade.refund")
        # Code 10000 is a refund done (fund_change N means an earlier call with
        # the same out_request_no already moved the money). The answer's
        # refund_fee is the trade's refunded total, not this refund's amount.
        return RefundResult(refund_no=refund_no, done=True, refund_fee=refund_fee,
                            message_detail=answer)

    def refund_query(self, bill_no: str, refund_no: str) -> RefundResult:
        answer = self._server(
            "alipay.trade.fastpay.refund.query",
            lambda: self._client.api_alipay_trade_fastpay_refund_query(
                refund_no, out_trade_no=bill_no))
        if answer.get("code") != SUCCESS:
            raise _refused("alipay.trade.fastpay.refund.query", answer)
        request_no = answer.get("out_request_no")
        if isinstance(request_no, str) and request_no and not _same(request_no, refund_no):
            raise ProviderUnreachable("Alipay's refund query answer is about another refund")
        # Alipay: a refund is done when the query finds it (refund_amount
        # present) and refund_status is absent or REFUND_SUCCESS; found
        # nothing means the refund has not succeeded.
        status = answer.get("refund_status")
        if "refund_amount" in answer and status in (None, "", "REFUND_SUCCESS"):
            return RefundResult(
                refund_no=refund_no, done=True,
                refund_fee=_answer_fee(answer, "refund_amount",
                                       "alipay.trade.fastpay.refund.query"),
                message_detail=answer)
        return RefundResult(refund_no=refund_no, done=False, message_detail=answer)

    # --- the asynchronous notification ---------------------------------------------

    def parse_notification(self, fields: Mapping[str, str]) -> Trade:
        """Alipay's async notify, verified by Alipay's rule: ``sign`` and
        ``sign_type`` removed, the rest sorted ``k=v&…``, RSA2 with the
        merchant's Alipay public key (the library's ``verify``)."""
        try:
            data = dict(fields.items())
        except (AttributeError, TypeError):
            raise NotificationRejected("the notification is not a set of fields") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise NotificationRejected("the notification's fields are not text")
        sign = data.pop("sign", None)
        if not sign:
            raise NotificationRejected("the notification has no sign")
        if data.get("sign_type") != "RSA2":
            raise NotificationRejected("the notification's sign_type is not RSA2")
        try:
            # verify() removes sign_type itself (and refuses any other type).
            good = self._client.verify(dict(data), sign)
        except Exception:  # noqa: BLE001 - bad base64, odd values: all mean "not believed"
            good = False
        if not good:
            raise NotificationRejected("the notification's signature does not verify with "
                                       "the merchant's Alipay public key")
        app_id = data.get("app_id")
        if not app_id or not _same(app_id, self.app_id):
            raise NotificationRejected("the notification is for another Alipay app")
        bill_no = data.get("out_trade_no")
        if not bill_no:
            raise NotificationRejected("the notification has no out_trade_no")
        status = TRADE_STATUS.get(data.get("trade_status", ""))
        if status is None:
            raise NotificationRejected("the notification has no known trade_status")
        try:
            total_fee = amount_to_fen(data.get("total_amount"))
        except ValueError:
            raise NotificationRejected("the notification's total_amount is not an amount "
                                       "in yuan with at most two decimals") from None
        return Trade(bill_no=bill_no, status=status, total_fee=total_fee,
                     trade_no=data.get("trade_no") or None, message_detail=data,
                     provider_app_id=app_id)

    # --- the server-to-server call ---------------------------------------------------

    def _server(self, method: str, call: Callable[[], Any]) -> dict:
        """One signed call; the verified ``*_response`` object, or
        ``ProviderUnreachable``: no exception of the network or the library
        escapes."""
        try:
            answer = call()
        except (ProviderUnreachable, ConnectorError):
            raise
        except Exception:  # noqa: BLE001 - anything else from the library: not believed
            raise ProviderUnreachable(f"Alipay's answer to {method} could not be read") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("code"), str):
            raise ProviderUnreachable(f"Alipay's answer to {method} has no result code")
        return answer


def _check_key(pem: object, name: str, *, private: bool) -> None:
    if not isinstance(pem, str) or not pem.strip():
        raise ConnectorError(f"the Alipay credentials have no {name}", code="CREDENTIALS")
    try:
        key = RSA.importKey(pem)
    except (ValueError, IndexError, TypeError):
        raise ConnectorError(f"the Alipay credentials' {name} is not an RSA key",
                             code="CREDENTIALS") from None
    if private and not key.has_private():
        raise ConnectorError(f"the Alipay credentials' {name} is not a private key",
                             code="CREDENTIALS")


def _check_payment(payment: Payment) -> None:
    fee = payment.total_fee
    if isinstance(fee, bool) or not isinstance(fee, int) or not 0 < fee <= MAX_FEE:
        raise ConnectorError("total_fee must be between 1 fen and 100000000 yuan", code="PARAM")
    if not payment.bill_no or not payment.title:
        raise ConnectorError("bill_no and title are required", code="PARAM")


def _qr_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    mode = params.get("qr_pay_mode")
    mode = None if isinstance(mode, bool) or mode is None else str(mode)
    if mode not in QR_PAY_MODES:
        raise ConnectorError("qr_pay_mode must be 0, 1, 2, 3 or 4", code="PARAM")
    fields: dict[str, Any] = {"qr_pay_mode": mode}
    if mode == "4":
        width = params.get("qrcode_width")
        if isinstance(width, bool) or not isinstance(width, int) or not 0 < width <= 10000:
            raise ConnectorError("qrcode_width (pixels) is required for qr_pay_mode 4",
                                 code="PARAM")
        fields["qrcode_width"] = width
    return fields


def _same_trade(answer: dict, bill_no: str, method: str) -> None:
    """A verified answer is still only believed about the trade we asked for."""
    out_trade_no = answer.get("out_trade_no")
    if out_trade_no is not None and \
            (not isinstance(out_trade_no, str) or not _same(out_trade_no, bill_no)):
        raise ProviderUnreachable(f"Alipay's answer to {method} is about another trade")


def _answer_fee(answer: dict, name: str, method: str) -> int:
    try:
        return amount_to_fen(answer.get(name))
    except ValueError:
        raise ProviderUnreachable(f"Alipay's answer to {method} has no valid {name}") from None


def _refused(method: str, answer: dict) -> ConnectorError:
    """The exception for a verified answer that is not a success: the outcome
    unknown (20000, ACQ.SYSTEM_ERROR: "call again with the same parameters")
    is ``ProviderUnreachable``, a business refusal ``ConnectorError``."""
    code = answer.get("code") if isinstance(answer.get("code"), str) else ""
    sub_code = answer.get("sub_code") if isinstance(answer.get("sub_code"), str) else ""
    if code == UNKNOWN_OUTCOME or sub_code == SYSTEM_ERROR:
        return ProviderUnreachable(f"Alipay could not say how {method} went ({code} {sub_code})",
                                   code=sub_code or code)
    reason = _safe(answer.get("sub_msg")) or _safe(answer.get("msg"))
    return ConnectorError(f"Alipay refused {method}: {sub_code or code} {reason}".strip(),
                          code=sub_code or code)

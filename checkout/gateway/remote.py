"""The remote gateway: an HTTP client for any BeeCloud-REST endpoint.

The remote side knows the same merchant apps we do (same ``app_id`` and
secrets), so every call is signed per merchant with
``app_sign = md5(app_id + timestamp + app_secret)`` (seed 001, section 2,
line 43; the test-mode paths sign with the test secret, seeds/README.md).

Wire (seed 001):

- ``create_bill``  → ``POST /2/rest/bill``, JSON body (section 2, line 31);
- ``get_bill``     → ``GET /2/rest/bill/{id}?para=<URL-encoded JSON>`` (section 11, line 631);
- ``query_bills``  → ``GET /2/rest/bills?para=…`` (line 334);
- ``refund`` / ``review_refunds`` → ``POST`` / ``PUT /2/rest/refund`` (§3, §4;
  signed with the master secret);
- ``query_refunds`` → ``GET /2/rest/refunds?para=…`` (§7);
- ``get_refund``   → ``GET /2/rest/refund/{id}?para=…`` (§10).

Failure rules, so the checkout can tell the shopper something true:

- the network failing, a timeout, HTTP 5xx, a redirect, an answer that is not
  JSON or not a BeeCloud result → ``GatewayUnavailable`` with a message safe to
  show (never a secret, a signature or the gateway's URL);
- a BeeCloud result code other than 0 → ``GatewayError`` (``checked``).

Retries: creating a bill is not idempotent in general, but the gateway is
idempotent per ``(app, bill_no, channel)`` with the same fee and title (issue 2,
"one order, one payment"), so sending the *same body* again is safe. We do it
at most once, and only when the connection was refused or reset while opening
(``httpx.ConnectError``: the request never left us). A connect timeout has
already cost the shopper the whole connect timeout and is not retried; a
timeout after sending is never retried either: the bill may exist;
the shopper's next click repeats the same bill_no and gets the same bill.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable
from urllib.parse import quote

import httpx

from .. import http_log
from ..clock import now_ms
from ..models import Merchant
from ..signing import app_sign
from . import Gateway, GatewayUnavailable, checked

log = logging.getLogger(__name__)

# Larger answers are not BeeCloud answers (a query returns at most 50 bills).
MAX_ANSWER_BYTES = 2 * 1024 * 1024

UNREACHABLE = "the payment gateway cannot be reached right now"
TOO_SLOW = "the payment gateway did not answer in time"
NONSENSE = "the payment gateway gave an answer we cannot read"


class RemoteGateway(Gateway):
    """Bills live in a BeeCloud-REST endpoint at ``base_url``."""

    def __init__(self, base_url: str, *, connect_timeout: float = 3.0,
                 read_timeout: float = 10.0, test_mode: bool = False,
                 transport: httpx.BaseTransport | None = None):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError("GATEWAY_URL must be an http(s) URL when GATEWAY=remote")
        self.base_url = base_url.rstrip("/")
        self.test_mode = test_mode
        self.timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout,
                                     write=read_timeout, pool=connect_timeout)
        self._transport = transport
        self._client: httpx.Client | None = None
        http_log.install()

    @classmethod
    def from_config(cls, config: Any, *, test_mode: bool = False) -> "RemoteGateway":
        return cls(config.get("GATEWAY_URL", ""),
                   connect_timeout=float(config.get("GATEWAY_CONNECT_TIMEOUT", 3.0)),
                   read_timeout=float(config.get("GATEWAY_READ_TIMEOUT", 10.0)),
                   test_mode=test_mode)

    @property
    def client(self) -> httpx.Client:
        # Made on first use, i.e. inside each gunicorn worker after the fork;
        # httpx.Client is safe to share between a worker's threads.
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout,
                                        follow_redirects=False, transport=self._transport,
                                        headers={"User-Agent": "checkout-remote-gateway"})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the Gateway interface ------------------------------------------------

    def create_bill(self, merchant: Merchant, request: dict) -> dict:
        body = json.dumps({**request, **self._signature(merchant)},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        path = "/2/rest/sandbox/bill" if self.test_mode else "/2/rest/bill"
        answer = checked(self._call("POST", path, lambda: self.client.build_request(
            "POST", path, content=body,
            headers={"Content-Type": "application/json; charset=utf-8"})))
        if not isinstance(answer.get("id"), str):
            raise GatewayUnavailable(NONSENSE)
        return answer

    def get_bill(self, merchant: Merchant, bill_id: str) -> dict:
        # The id goes into the path: quote everything so it stays one segment.
        path = ("/2/rest/sandbox/bill/" if self.test_mode else "/2/rest/bill/") \
            + quote(str(bill_id), safe="")
        pay = checked(self._get(merchant, path, {})).get("pay")
        if not isinstance(pay, dict):
            raise GatewayUnavailable(NONSENSE)
        return pay

    def query_bills(self, merchant: Merchant, filters: dict) -> list[dict]:
        path = "/2/rest/sandbox/bills" if self.test_mode else "/2/rest/bills"
        found = checked(self._get(merchant, path, filters)).get("bills")
        if not isinstance(found, list) or not all(isinstance(b, dict) for b in found):
            raise GatewayUnavailable(NONSENSE)
        return found

    # --- refunds (seed 001 §3, §4, §7, §10) ----------------------------------------
    # Creating and reviewing refunds sign with the MASTER secret (seed 001 §3:
    # "app_sign … md5(app_id+timestamp+master_secret)"); test mode signs with
    # the test secret on the /2/rest/sandbox/ twin, as bills do. Refunds are
    # never retried after a timeout, like bills: the same refund_no sent again
    # is answered by the gateway, not charged twice.

    def _refund_path(self, rest: str = "") -> str:
        return ("/2/rest/sandbox/refund" if self.test_mode else "/2/rest/refund") + rest

    def refund(self, merchant: Merchant, request: dict) -> dict:
        answer = checked(self._send_json(merchant, "POST", self._refund_path(), request,
                                         master=True))
        if not isinstance(answer.get("id"), str):
            raise GatewayUnavailable(NONSENSE)
        return answer

    def review_refunds(self, merchant: Merchant, request: dict) -> dict:
        return checked(self._send_json(merchant, "PUT", self._refund_path(), request,
                                       master=True))

    def query_refunds(self, merchant: Merchant, filters: dict) -> list[dict]:
        path = "/2/rest/sandbox/refunds" if self.test_mode else "/2/rest/refunds"
        found = checked(self._get(merchant, path, filters)).get("refunds")
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            raise GatewayUnavailable(NONSENSE)
        return found

    def get_refund(self, merchant: Merchant, refund_id: str) -> dict:
        # The id goes into the path: quote everything so it stays one segment.
        path = self._refund_path("/" + quote(str(refund_id), safe=""))
        refund = checked(self._get(merchant, path, {})).get("refund")
        if not isinstance(refund, dict):
            raise GatewayUnavailable(NONSENSE)
        return refund

    # --- wire -------------------------------------------------------------------

    def _send_json(self, merchant: Merchant, method: str, path: str, request: dict, *,
                   master: bool = False) -> Any:
        body = json.dumps({**request, **self._signature(merchant, master=master)},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._call(method, path, lambda: self.client.build_request(
            method, path, content=body,
            headers={"Content-Type": "application/json; charset=utf-8"}))

    def _signature(self, merchant: Merchant, *, master: bool = False) -> dict:
        if self.test_mode:
            secret = merchant.test_secret
        else:
            secret = merchant.master_secret if master else merchant.app_secret
        timestamp = now_ms()
        return {"app_id": merchant.app_id, "timestamp": timestamp,
                "app_sign": app_sign(merchant.app_id, timestamp, secret)}

    def _get(self, merchant: Merchant, path: str, fields: dict) -> Any:
        # ``para`` is the URL-encoded JSON of the fields (seed 001 line 339);
        # httpx does the URL encoding of the query value.
        para = json.dumps({**fields, **self._signature(merchant)},
                          ensure_ascii=False, separators=(",", ":"))
        return self._call("GET", path, lambda: self.client.build_request(
            "GET", path, params={"para": para}))

    def _call(self, method: str, path: str, build: Callable[[], httpx.Request]) -> Any:
        """Send once (twice if the first connection could not be opened) and
        return the decoded JSON answer, or raise ``GatewayUnavailable``."""
        for attempt in (1, 2):
            try:
                return self._send(build())
            except httpx.ConnectError:
                # Never sent: the same request again is safe (see module docstring).
                log.warning("gateway %s %s: connection failed (attempt %d)", method, path, attempt)
                if attempt == 2:
                    raise GatewayUnavailable(UNREACHABLE) from None
            except httpx.TimeoutException as error:
                log.warning("gateway %s %s: %s", method, path, type(error).__name__)
                raise GatewayUnavailable(TOO_SLOW) from None
            except httpx.HTTPError as error:
                # Reset, truncated body, protocol garbage: the message names the
                # class only, httpx's texts may carry the URL with its para=.
                log.warning("gateway %s %s: %s", method, path, type(error).__name__)
                raise GatewayUnavailable(UNREACHABLE) from None
        raise AssertionError("unreachable")

    def _send(self, request: httpx.Request) -> Any:
        response = self.client.send(request, stream=True)
        try:
            raw = bytearray()
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > MAX_ANSWER_BYTES:
                    log.warning("gateway %s %s: answer larger than %d bytes", request.method,
                                request.url.path, MAX_ANSWER_BYTES)
                    raise GatewayUnavailable(NONSENSE)
        finally:
            response.close()
        status = response.status_code
        if status >= 500:
            log.warning("gateway %s %s: HTTP %d", request.method, request.url.path, status)
            raise GatewayUnavailable(f"{UNREACHABLE} (HTTP {status})")
        try:
            answer = json.loads(bytes(raw))
        except (ValueError, RecursionError):
            log.warning("gateway %s %s: HTTP %d, answer is not JSON", request.method,
                        request.url.path, status)
            raise GatewayUnavailable(NONSENSE) from None
        if status != 200 and not (isinstance(answer, dict)
                                  and isinstance(answer.get("result_code"), int)):
            # BeeCloud answers business errors as HTTP 200 with a result code;
            # a 3xx/4xx without one means we are not talking to a BeeCloud API.
            log.warning("gateway %s %s: HTTP %d", request.method, request.url.path, status)
            raise GatewayUnavailable(NONSENSE)
        return answer
